package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/obhub/obhub/audit"
)

var _ audit.HashRecorder = (*AuditStore)(nil)

// The chain's hash function is kept in a table of its own, created on
// first use, so that ledgers from before it open unchanged.
const auditMetaSchema = `CREATE TABLE IF NOT EXISTS audit_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`

// ChainHash returns the hash function the ledger's chain is built with;
// "" when none is recorded.
func (s *AuditStore) ChainHash(ctx context.Context) (string, error) {
	r, _, err := s.dbs(false)
	if err != nil {
		return "", err
	}
	var n int
	if err := r.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE name = 'audit_meta'").Scan(&n); err != nil {
		return "", fmt.Errorf("sqlite audit: chain hash: %w", err)
	}
	if n == 0 {
		return "", nil
	}
	var name string
	err = r.QueryRowContext(ctx, "SELECT value FROM audit_meta WHERE key = 'chain_hash'").Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("sqlite audit: chain hash: %w", err)
	}
	return name, nil
}

// SetChainHash records the hash function of the chain.
func (s *AuditStore) SetChainHash(ctx context.Context, name string) error {
	_, w, err := s.dbs(true)
	if err != nil {
		return err
	}
	if _, err := w.ExecContext(ctx, auditMetaSchema); err != nil {
		return fmt.Errorf("sqlite audit: record chain hash: %w", err)
	}
	if _, err := w.ExecContext(ctx, "INSERT INTO audit_meta (key, value) VALUES ('chain_hash', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", name); err != nil {
		return fmt.Errorf("sqlite audit: record chain hash: %w", err)
	}
	return nil
}
