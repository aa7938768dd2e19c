package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// schemaVersion is stored in PRAGMA user_version. Raise it, and add a step
// to migrate, whenever the schema changes.
const schemaVersion = 1

// schema is version 1. In kv_log the value comes last so that filtering
// rows by key does not read the overflow pages of large values.
const schema = `
CREATE TABLE meta (
	id          INTEGER PRIMARY KEY CHECK (id = 1),
	rev         INTEGER NOT NULL,
	compact_rev INTEGER NOT NULL
);
INSERT INTO meta (id, rev, compact_rev) VALUES (1, 0, 0);

CREATE TABLE kv (
	key        TEXT PRIMARY KEY,
	create_rev INTEGER NOT NULL,
	mod_rev    INTEGER NOT NULL,
	value      BLOB NOT NULL
);

CREATE TABLE kv_log (
	rev        INTEGER NOT NULL,
	seq        INTEGER NOT NULL,
	key        TEXT NOT NULL,
	deleted    INTEGER NOT NULL,
	create_rev INTEGER NOT NULL,
	value      BLOB,
	PRIMARY KEY (rev, seq)
);
`

// migrate brings the database to schemaVersion on the writer, checks that
// it is in WAL mode, and returns the store revision.
func migrate(ctx context.Context, db *sql.DB) (int64, error) {
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return 0, fmt.Errorf("read journal mode: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return 0, fmt.Errorf("journal mode is %q, want wal (is the file on a network filesystem?)", mode)
	}

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()
	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	switch {
	case version == 0:
		if _, err := tx.ExecContext(ctx, schema); err != nil {
			return 0, fmt.Errorf("create schema: %w", err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion)); err != nil {
			return 0, fmt.Errorf("set schema version: %w", err)
		}
	case version > schemaVersion:
		return 0, fmt.Errorf("schema version %d is newer than this obhub knows (%d)", version, schemaVersion)
	}
	var rev int64
	if err := tx.QueryRowContext(ctx, "SELECT rev FROM meta WHERE id = 1").Scan(&rev); err != nil {
		return 0, fmt.Errorf("read revision: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	return rev, nil
}

// keyRange returns the bounds of the keys with prefix: lo <= key < hi, or
// no upper bound when hi is "" (prefix "" or only 0xff bytes).
func keyRange(prefix string) (lo, hi string) {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return prefix, string(b[:i+1])
		}
	}
	return prefix, ""
}

// rangeSQL returns the WHERE condition on column key for keyRange(prefix)
// and its arguments.
func rangeSQL(prefix string) (string, []any) {
	lo, hi := keyRange(prefix)
	if hi == "" {
		return "key >= ?", []any{lo}
	}
	return "key >= ? AND key < ?", []any{lo, hi}
}
