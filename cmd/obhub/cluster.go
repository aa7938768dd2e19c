package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/config"
	"github.com/obhub/obhub/internal/privfile"
	"github.com/obhub/obhub/oauth"
	"github.com/obhub/obhub/store/etcd"
	"github.com/obhub/obhub/store/sqlite"
)

// etcdStartTimeout bounds the first listing from etcd at start; after it
// the node starts from its last-known-good copy.
const etcdStartTimeout = 5 * time.Second

// openConfig opens the configuration store — SQLite in the data folder,
// or etcd with --etcd — and publishes the first snapshot.
//
// With etcd the node keeps a last-known-good copy of the configuration
// (<data>/config-snapshot.json, written after every snapshot built from
// etcd). When etcd does not answer at start, the node starts from that
// copy and follows etcd once it is back; without a usable copy it refuses
// to start.
func (m *Main) openConfig(ctx context.Context) error {
	if m.Config.Etcd == "" {
		kv := sqlite.New(filepath.Join(m.Config.Data, "obhub.db"))
		m.kv = kv
		if err := kv.Open(ctx); err != nil {
			return err
		}
		m.watcher = config.NewWatcher(kv, &m.holder, m.Logger)
		return m.watcher.Load(ctx)
	}

	kv := etcd.New(etcd.ParseEndpoints(m.Config.Etcd), etcd.Options{Logger: m.Logger})
	lk := config.NewLastKnown(filepath.Join(m.Config.Data, config.LastKnownFile))
	// While etcd is unreachable, reads of configuration objects and API
	// documents (request validation, sandbox) come from the node's copies.
	if err := kv.Open(ctx); err != nil {
		kv.Close()
		return err
	}
	m.watcher = config.NewWatcher(kv, &m.holder, m.Logger)
	m.watcher.KeepLastKnown(lk)
	m.kv = config.LastKnownKV{KV: kv, LastKnown: lk, Watcher: m.watcher}
	lctx, cancel := context.WithTimeout(ctx, etcdStartTimeout)
	err := m.watcher.Load(lctx)
	if err == nil {
		_, merr := kv.Get(lctx, importMarkerKey) // import.go
		cancel()
		if merr == nil {
			return errors.New("etcd holds an unfinished `obhub cluster import`: run it again to finish it before starting nodes")
		}
		return nil
	}
	cancel()
	rev, lerr := m.watcher.LoadLastKnown()
	if lerr != nil {
		if obhub.ErrorCode(lerr) == obhub.EINVALID {
			m.Logger.Error("the last-known-good configuration is damaged; ignored", "err", lerr)
		}
		return fmt.Errorf("%w; and no usable last-known-good configuration: %s", err, obhub.ErrorMessage(lerr))
	}
	m.etcdDownAtStart = true
	m.Logger.Warn("etcd unreachable at start: serving the last-known-good configuration until it answers",
		"revision", rev, "err", err)
	return nil
}

// ensureAdminToken settles the admin token (see config.Store). A node that
// started while etcd was down skips it: the token's hash is in etcd, and
// admin calls answer 503 until etcd is back.
func (m *Main) ensureAdminToken(ctx context.Context) (string, error) {
	if m.etcdDownAtStart && m.Config.AdminToken == "" {
		m.Logger.Warn("etcd unreachable: the admin token is checked once etcd answers")
		return "", nil
	}
	token, err := m.store.EnsureAdminToken(ctx, m.Config.AdminToken)
	if err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	return token, nil
}

// loadSigningKeys returns the OAuth signing keys of <data>/keys. With
// etcd, the key and the OAuth HMAC secret are first made the same on
// every node (see shareKeyFile), so that a token one node issues is valid
// on all of them.
func (m *Main) loadSigningKeys(ctx context.Context) (*oauth.Keys, error) {
	dir := filepath.Join(m.Config.Data, "keys")
	if m.Config.Etcd != "" {
		kek, err := config.ParseKeyEncryptionKey(m.Config.KeyEncryptionKey)
		if err != nil {
			return nil, err
		}
		shared := []struct {
			file, key string
			create    func(dir string) error
		}{
			{oauth.KeyFile, config.SigningKeyKey, func(dir string) error { _, err := m.openKeyFolder(dir); return err }}, // keys.go
			{oauth.SecretFile, config.HMACSecretKey, func(dir string) error { _, err := m.openHMACSecret(dir); return err }},
		}
		for _, s := range shared {
			if err := m.shareKeyFile(ctx, kek, dir, s.file, s.key, s.create); err != nil {
				return nil, err
			}
		}
	}
	return m.openSigningKeys(ctx, dir) // keys.go: encrypted at rest with a key-encryption key
}

// shareKeyFile makes the file name of the key folder the same on every
// node: sealed with the key-encryption key at key in etcd. The first node
// of a cluster offers its own file (creating it with create if needed), so
// a single node turned into a cluster keeps its key; every other node
// replaces its file with etcd's. The file is the node's copy for starts
// while etcd is unreachable.
func (m *Main) shareKeyFile(ctx context.Context, kek []byte, dir, name, key string, create func(dir string) error) error {
	path := filepath.Join(dir, name)
	_, statErr := os.Stat(path)
	haveCopy := statErr == nil
	if m.etcdDownAtStart {
		if !haveCopy {
			return fmt.Errorf("etcd is unreachable and this node has no copy of the cluster's %s yet", name)
		}
		m.Logger.Warn("etcd unreachable: using this node's copy of a cluster secret", "file", path)
		return nil
	}
	sealed := config.SealedSecret{KV: m.kv, Key: key, KEK: kek}
	secret, err := sealed.Ensure(ctx, func() ([]byte, error) {
		cerr := create(dir)
		b, err := os.ReadFile(path) // what create left is what counts
		if err != nil {
			return nil, errors.Join(cerr, err)
		}
		return b, nil
	})
	if err != nil {
		if obhub.ErrorCode(err) == obhub.EUNAVAILABLE && haveCopy {
			m.Logger.Warn("etcd unreachable: using this node's copy of a cluster secret", "file", path)
			return nil
		}
		return fmt.Errorf("cluster secret %s: %w", name, err)
	}
	if cur, err := os.ReadFile(path); err == nil && bytes.Equal(cur, secret) {
		return nil
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cluster secret %s: %w", name, err)
	}
	if haveCopy {
		m.Logger.Info("replacing this node's key with the cluster's", "file", path)
	}
	return writePrivateFile(path, secret)
}

// writePrivateFile replaces path with b (mode 0600) atomically.
func writePrivateFile(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	if err := privfile.Write(path, b); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
