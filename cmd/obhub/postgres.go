package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/obhub/obhub/audit"
	"github.com/obhub/obhub/config"
	"github.com/obhub/obhub/oauth"
	"github.com/obhub/obhub/store/postgres"
)

// With --db postgres://…, OAuth state, the audit ledger and the developer
// portal's accounts, sessions, mailed-link tokens and mail outbox
// (portal.go) live in PostgreSQL, shared by every node (docs/cluster.md).
// Each node writes its
// own audit chain, named by its node id (<data>/node-id, made at first
// start); verification covers every chain.

// oauthStore is the OAuth state store Main closes.
type oauthStore interface {
	oauth.Store
	Close() error
}

// auditStore is the ledger Main writes, pings and closes.
type auditStore interface {
	audit.Store
	Ping(ctx context.Context) error
	Close() error
}

// nodeIDFile keeps the node's id in the data folder.
const nodeIDFile = "node-id"

// openDB connects to PostgreSQL (and migrates) once; later calls reuse
// the connection.
func (m *Main) openDB(ctx context.Context) (*postgres.DB, error) {
	if m.pg != nil {
		return m.pg, nil
	}
	if !strings.HasPrefix(m.Config.DB, "postgres://") && !strings.HasPrefix(m.Config.DB, "postgresql://") {
		return nil, fmt.Errorf("--db %q: want a postgres:// URL", "(redacted)")
	}
	db := postgres.New(m.Config.DB)
	if err := db.Open(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("database %s: %w", db.Redacted(), err)
	}
	m.pg = db
	m.Logger.Info("shared state in PostgreSQL", "db", db.Redacted())
	return db, nil
}

// nodeID returns the node's id, made once and kept in the data folder.
func (m *Main) nodeID() (string, error) {
	path := filepath.Join(m.Config.Data, nodeIDFile)
	b, err := os.ReadFile(path)
	if err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("node id: %w", err)
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "node"
	}
	r := make([]byte, 4)
	rand.Read(r)
	id := host + "-" + hex.EncodeToString(r)
	if err := os.WriteFile(path, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("node id: %w", err)
	}
	return id, nil
}

// pgAudit is one node's chain of the shared ledger; the DB is closed by
// Main, not by the ledger.
type pgAudit struct{ *postgres.AuditStore }

func (pgAudit) Close() error { return nil }

// openPostgresAudit returns the node's chain of the shared ledger.
func (m *Main) openPostgresAudit(ctx context.Context) (auditStore, error) {
	db, err := m.openDB(ctx)
	if err != nil {
		return nil, err
	}
	id, err := m.nodeID()
	if err != nil {
		return nil, err
	}
	return pgAudit{db.Audit(id)}, nil
}

// verifyLedger verifies the ledger: the node's SQLite file, or with --db
// every node's chain, summed into one result whose FirstBad names the
// first bad chain.
func (m *Main) verifyLedger(ctx context.Context, keys *audit.KeyRing) (audit.Result, error) {
	if m.pg == nil {
		return audit.Verify(ctx, m.auditLog.store, audit.VerifyOptions{Keys: keys})
	}
	chains, ok, err := m.pg.VerifyAll(ctx, audit.VerifyOptions{Keys: keys})
	if err != nil {
		return audit.Result{}, err
	}
	res := audit.Result{OK: ok}
	for _, c := range chains {
		res.Records += c.Records
		res.Purged += c.Purged
		res.Checkpoints += c.Checkpoints
		if c.FirstBad != nil && res.FirstBad == nil {
			bad := *c.FirstBad
			bad.Problem = "chain " + c.Chain + ": " + bad.Problem
			res.FirstBad = &bad
		}
	}
	return res, nil
}

// closeDB closes PostgreSQL, last.
func (m *Main) closeDB() error {
	if m.pg == nil {
		return nil
	}
	return m.pg.Close()
}

// auditCheckpointKeyKey holds the cluster's audit checkpoint key in etcd,
// sealed like the OAuth signing key (config.SigningKeyKey).
const auditCheckpointKeyKey = config.Root + "secrets/audit-checkpoint-key"

// loadAuditSigner returns the checkpoint signer of <data>/keys. With --db
// and --etcd every node signs with the cluster's key, shared sealed in
// etcd, so that any node verifies every node's chain; the public key file
// is rewritten to match.
func (m *Main) loadAuditSigner(ctx context.Context) (*audit.Signer, error) {
	dir := filepath.Join(m.Config.Data, "keys")
	if m.Config.DB == "" || m.Config.Etcd == "" {
		return audit.LoadOrCreateSigner(dir)
	}
	kek, err := config.ParseKeyEncryptionKey(m.Config.KeyEncryptionKey)
	if err != nil {
		return nil, err
	}
	if err := m.shareKeyFile(ctx, kek, dir, audit.KeyFile, auditCheckpointKeyKey, func(dir string) error {
		_, err := audit.LoadOrCreateSigner(dir)
		return err
	}); err != nil {
		return nil, err
	}
	s, err := audit.LoadOrCreateSigner(dir)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(dir, audit.KeyFile))
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b) // LoadOrCreateSigner checked it
	pubKey := ed25519.NewKeyFromSeed(blk.Bytes).Public().(ed25519.PublicKey)
	pub := pem.EncodeToMemory(&pem.Block{Type: "OBHUB AUDIT CHECKPOINT PUBLIC KEY", Bytes: pubKey})
	if err := os.WriteFile(filepath.Join(dir, audit.PublicKeyFile), pub, 0o644); err != nil {
		return nil, fmt.Errorf("audit checkpoint public key: %w", err)
	}
	return s, nil
}

// auditReader is what the admin API reads: the node's ledger, or with
// --db every node's chain.
func (m *Main) auditReader() audit.Store {
	if m.pg != nil {
		return m.pg.AllChains()
	}
	return m.auditLog.store
}

// pgOAuth is the shared OAuth store; the DB is closed by Main.
type pgOAuth struct{ *postgres.OAuthStore }

func (pgOAuth) Close() error { return nil }
