package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/config"
	"github.com/obhub/obhub/oauth"
	"github.com/obhub/obhub/store/etcd"
)

// keysCommand runs `obhub keys rotate|list` on a node's data folder.
//
// Rotation writes the new key set to <data>/keys/signing-key.pem; a
// running node re-reads that file every oauth.KeyReloadInterval
// (watchKeys), so no restart and no admin route is needed, and the
// private keys never travel over the network.
//
// With --etcd (env OBHUB_ETCD) the command works on the cluster's shared
// key set in etcd instead, sealed with OBHUB_KEY_ENCRYPTION_KEY; every
// node copies it to its data folder within the same interval.
func keysCommand(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 || (args[0] != "rotate" && args[0] != "list") {
		fmt.Fprint(stderr, "usage: obhub keys rotate [--data DIR] [--prepublish 10m] [--token-lifetime 10m]\n       obhub keys list [--data DIR]\n")
		return errors.New("keys: want rotate or list")
	}
	fs := flag.NewFlagSet("keys "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := getenv("OBHUB_DATA")
	if data == "" {
		data = "./obhub-data"
	}
	fs.StringVar(&data, "data", data, "data folder of the node (env OBHUB_DATA)")
	etcdEndpoints := getenv("OBHUB_ETCD")
	fs.StringVar(&etcdEndpoints, "etcd", etcdEndpoints, "the cluster's etcd endpoints, comma separated (env OBHUB_ETCD)")
	var opts oauth.RotateOptions
	if args[0] == "rotate" {
		fs.DurationVar(&opts.Prepublish, "prepublish", oauth.DefaultPrepublish,
			"how long the new key is in the JWKS before it signs (at least the JWKS cache time, 5m)")
		fs.DurationVar(&opts.TokenLifetime, "token-lifetime", 10*time.Minute,
			"longest access-token lifetime: the old key stays published this long (+1m) after the new one signs")
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("keys %s: unexpected argument %q", args[0], fs.Arg(0))
	}
	dir := filepath.Join(data, "keys")
	if args[0] == "rotate" {
		if opts.Prepublish < oauth.KeyReloadInterval {
			return fmt.Errorf("keys rotate: --prepublish %s is shorter than the nodes' key reload interval %s", opts.Prepublish, oauth.KeyReloadInterval)
		}
		var (
			rot oauth.Rotation
			err error
		)
		if etcdEndpoints != "" {
			err = withClusterKeys(ctx, etcdEndpoints, getenv, func(s config.SealedSecret) error {
				return s.Update(ctx, func(cur []byte) ([]byte, error) {
					out, r, err := oauth.RotateKeyFile(cur, time.Now(), opts)
					rot = r
					return out, err
				})
			})
		} else {
			rot, err = oauth.RotateKeys(dir, time.Now(), opts)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "new key %s: published now, signs from %s\n", rot.NewKeyID, rot.ActivateAt.Format(time.RFC3339))
		if rot.OldKeyID != "" {
			fmt.Fprintf(stdout, "old key %s: signs until then, published until %s\n", rot.OldKeyID, rot.RetireAt.Format(time.RFC3339))
		}
		return nil
	}
	if etcdEndpoints != "" { // list the cluster's keys: copy them to a private temporary folder
		tmp, err := os.MkdirTemp("", "obhub-keys-*")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
		err = withClusterKeys(ctx, etcdEndpoints, getenv, func(s config.SealedSecret) error {
			b, err := s.Get(ctx)
			if err != nil {
				return err
			}
			return writePrivateFile(filepath.Join(dir, oauth.KeyFile), b)
		})
		if err != nil {
			return err
		}
	}
	keys, err := oauth.LoadOrCreateKeys(dir)
	if err != nil {
		return err
	}
	for _, k := range keys.Describe() {
		state := "published"
		if k.Active {
			state = "active"
		}
		line := fmt.Sprintf("%s %s %s", k.KeyID, k.Algorithm, state)
		if !k.ActivateAt.IsZero() {
			line += " signs-from=" + k.ActivateAt.Format(time.RFC3339)
		}
		if !k.RetireAt.IsZero() {
			line += " retires=" + k.RetireAt.Format(time.RFC3339)
		}
		fmt.Fprintln(stdout, line)
	}
	return nil
}

// withClusterKeys runs fn on the cluster's sealed signing key set in etcd.
func withClusterKeys(ctx context.Context, endpoints string, getenv func(string) string, fn func(config.SealedSecret) error) error {
	kek, err := config.ParseKeyEncryptionKey(getenv(config.KeyEncryptionKeyEnv))
	if err != nil {
		return fmt.Errorf("keys: %s: %w", config.KeyEncryptionKeyEnv, err)
	}
	kv := etcd.New(etcd.ParseEndpoints(endpoints), etcd.Options{})
	defer kv.Close()
	if err := kv.Open(ctx); err != nil {
		return fmt.Errorf("keys: etcd: %w", err)
	}
	if err := fn(config.SealedSecret{KV: kv, Key: config.SigningKeyKey, KEK: kek}); err != nil {
		if obhub.ErrorCode(err) == obhub.ENOTFOUND {
			return errors.New("keys: the cluster has no signing key yet: start a node first")
		}
		return fmt.Errorf("keys: %w", err)
	}
	return nil
}

// syncClusterKeys copies the cluster's key set from etcd to this node's
// key file when it changed there (obhub keys rotate --etcd). While etcd
// is unreachable the node keeps its copy.
func (m *Main) syncClusterKeys(ctx context.Context, kek []byte) {
	s := config.SealedSecret{KV: m.kv, Key: config.SigningKeyKey, KEK: kek}
	b, err := s.Get(ctx)
	if err != nil {
		m.Logger.Debug("signing keys: etcd not read; keeping this node's copy", "err", err)
		return
	}
	path := filepath.Join(m.Config.Data, "keys", oauth.KeyFile)
	if cur, err := os.ReadFile(path); err == nil && bytes.Equal(cur, b) {
		return
	}
	if err := writePrivateFile(path, b); err != nil {
		m.Logger.Error("signing keys: cannot store the cluster's keys", "err", err)
	}
}

// watchKeys re-reads the signing key file every interval until ctx ends,
// so that `obhub keys rotate` takes effect on a running node. A bad file
// is logged and the keys in use stay.
func (m *Main) watchKeys(ctx context.Context, keys *oauth.Keys, interval time.Duration) {
	if interval <= 0 {
		interval = oauth.KeyReloadInterval
	}
	var kek []byte
	if m.Config.Etcd != "" {
		kek, _ = config.ParseKeyEncryptionKey(m.Config.KeyEncryptionKey) // checked at start
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if kek != nil {
			m.syncClusterKeys(ctx, kek)
		}
		changed, err := keys.Reload()
		switch {
		case err != nil:
			m.Logger.Error("signing keys: reload failed; keeping the keys in use", "err", err)
		case changed:
			m.Logger.Info("signing keys reloaded", "keys", keys)
		}
	}
}
