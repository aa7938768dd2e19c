package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/config"
)

// Get returns the value at key, or an ENOTFOUND error.
func (k *KV) Get(ctx context.Context, key string) (config.KeyValue, error) {
	r, _, err := k.dbs()
	if err != nil {
		return config.KeyValue{}, fmt.Errorf("sqlite kv: get: %w", err)
	}
	kv := config.KeyValue{Key: key}
	err = r.QueryRowContext(ctx, "SELECT create_rev, mod_rev, value FROM kv WHERE key = ?", key).
		Scan(&kv.CreateRevision, &kv.ModRevision, &kv.Value)
	if errors.Is(err, sql.ErrNoRows) {
		return config.KeyValue{}, fmt.Errorf("sqlite kv: get: %w", obhub.Errorf(obhub.ENOTFOUND, "key %q not found", key))
	}
	if err != nil {
		return config.KeyValue{}, fmt.Errorf("sqlite kv: get %q: %w", key, err)
	}
	return kv, nil
}

// List returns every key with the prefix, in key order, and the revision
// of the snapshot it read.
func (k *KV) List(ctx context.Context, prefix string) (config.Listing, error) {
	r, _, err := k.dbs()
	if err != nil {
		return config.Listing{}, fmt.Errorf("sqlite kv: list: %w", err)
	}
	l, err := list(ctx, r, prefix)
	if err != nil {
		return config.Listing{}, fmt.Errorf("sqlite kv: list %q: %w", prefix, err)
	}
	return l, nil
}

func list(ctx context.Context, r *sql.DB, prefix string) (config.Listing, error) {
	// One read transaction: the revision and the rows come from one
	// snapshot of the WAL.
	tx, err := r.BeginTx(ctx, nil)
	if err != nil {
		return config.Listing{}, err
	}
	defer tx.Rollback()
	var l config.Listing
	if err := tx.QueryRowContext(ctx, "SELECT rev FROM meta WHERE id = 1").Scan(&l.Revision); err != nil {
		return config.Listing{}, err
	}
	where, args := rangeSQL(prefix)
	rows, err := tx.QueryContext(ctx, "SELECT key, create_rev, mod_rev, value FROM kv WHERE "+where+" ORDER BY key", args...)
	if err != nil {
		return config.Listing{}, err
	}
	defer rows.Close()
	for rows.Next() {
		var kv config.KeyValue
		if err := rows.Scan(&kv.Key, &kv.CreateRevision, &kv.ModRevision, &kv.Value); err != nil {
			return config.Listing{}, err
		}
		l.KVs = append(l.KVs, kv)
	}
	return l, rows.Err()
}

// Txn applies ops atomically in one SQLite transaction. See config.KV.
func (k *KV) Txn(ctx context.Context, ops ...config.Op) (int64, error) {
	if err := validate(ops); err != nil {
		return 0, fmt.Errorf("sqlite kv: txn: %w", err)
	}
	_, w, err := k.dbs()
	if err != nil {
		return 0, fmt.Errorf("sqlite kv: txn: %w", err)
	}
	if err := k.acquire(ctx); err != nil {
		return 0, fmt.Errorf("sqlite kv: txn: %w", err)
	}
	defer k.releaseWrite()

	rev, err := k.apply(ctx, w, ops)
	if err != nil {
		if obhub.ErrorCode(err) == obhub.EINTERNAL {
			// A failed commit may still have reached the file; make sure
			// the watchers learn of it.
			k.resync(w)
		}
		return 0, fmt.Errorf("sqlite kv: txn: %w", err)
	}
	k.publish(rev)
	return rev, nil
}

// validate rejects ops that no store state could make valid.
func validate(ops []config.Op) error {
	seen := make(map[string]bool, len(ops))
	for _, op := range ops {
		switch {
		case op.Key == "":
			return obhub.Errorf(obhub.EINVALID, "empty key")
		case seen[op.Key]:
			return obhub.Errorf(obhub.EINVALID, "key %q appears twice in one transaction", op.Key)
		case op.Expect < config.Any:
			return obhub.Errorf(obhub.EINVALID, "key %q: invalid expectation %d", op.Key, op.Expect)
		}
		seen[op.Key] = true
	}
	return nil
}

// change is one op that changes the store, with the key's CreateRevision
// after it (0 for a delete).
type change struct {
	op     config.Op
	create int64
}

// apply runs ops in one write transaction and returns the store revision
// after it: a new one if anything changed, else the current one.
func (k *KV) apply(ctx context.Context, w *sql.DB, ops []config.Op) (int64, error) {
	tx, err := w.BeginTx(ctx, nil) // BEGIN IMMEDIATE (see dsn)
	if err != nil {
		return 0, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()

	var cur, compactRev int64
	if err := tx.QueryRowContext(ctx, "SELECT rev, compact_rev FROM meta WHERE id = 1").Scan(&cur, &compactRev); err != nil {
		return 0, fmt.Errorf("read revision: %w", err)
	}
	rev := cur + 1

	// Check every expectation against the state before the Txn.
	changes := make([]change, 0, len(ops))
	for _, op := range ops {
		var create, mod int64
		err := tx.QueryRowContext(ctx, "SELECT create_rev, mod_rev FROM kv WHERE key = ?", op.Key).Scan(&create, &mod)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return 0, fmt.Errorf("read %q: %w", op.Key, err)
		}
		if err := expect(op, mod); err != nil {
			return 0, err
		}
		switch {
		case op.Delete && mod == 0:
			// Deleting a missing key changes nothing.
		case op.Delete:
			changes = append(changes, change{op: op})
		case mod == 0:
			changes = append(changes, change{op: op, create: rev})
		default:
			changes = append(changes, change{op: op, create: create})
		}
	}
	if len(changes) == 0 {
		return cur, nil
	}

	for seq, c := range changes {
		if err := write(ctx, tx, rev, seq, c); err != nil {
			return 0, fmt.Errorf("write %q: %w", c.op.Key, err)
		}
	}
	if k.history > 0 && rev-compactRev+1 > k.history+k.history/8 {
		// Compact in batches of about an eighth of the history, not at
		// every write.
		compactRev = rev - k.history + 1
		if _, err := tx.ExecContext(ctx, "DELETE FROM kv_log WHERE rev < ?", compactRev); err != nil {
			return 0, fmt.Errorf("compact: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, "UPDATE meta SET rev = ?, compact_rev = ? WHERE id = 1", rev, compactRev); err != nil {
		return 0, fmt.Errorf("write revision: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("commit: %w", err)
	}
	return rev, nil
}

// expect checks op's expectation against its key's ModRevision (0 for a
// missing key).
func expect(op config.Op, mod int64) error {
	switch {
	case op.Expect == config.Any:
		return nil
	case op.Expect == config.Absent && mod != 0:
		return obhub.Errorf(obhub.ECONFLICT, "key %q exists (revision %d)", op.Key, mod)
	case op.Expect != config.Absent && mod == 0:
		return obhub.Errorf(obhub.ECONFLICT, "key %q does not exist, expected revision %d", op.Key, op.Expect)
	case op.Expect != mod:
		return obhub.Errorf(obhub.ECONFLICT, "key %q is at revision %d, expected %d", op.Key, mod, op.Expect)
	}
	return nil
}

// write applies one change at revision rev and logs it.
func write(ctx context.Context, tx *sql.Tx, rev int64, seq int, c change) error {
	if c.op.Delete {
		if _, err := tx.ExecContext(ctx, "DELETE FROM kv WHERE key = ?", c.op.Key); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx,
			"INSERT INTO kv_log (rev, seq, key, deleted, create_rev, value) VALUES (?, ?, ?, 1, 0, NULL)",
			rev, seq, c.op.Key)
		return err
	}
	value := c.op.Value
	if value == nil {
		value = []byte{} // NOT NULL; reads give back an empty value
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO kv (key, create_rev, mod_rev, value) VALUES (?, ?, ?, ?)
		 ON CONFLICT (key) DO UPDATE SET mod_rev = excluded.mod_rev, value = excluded.value`,
		c.op.Key, c.create, rev, value); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx,
		"INSERT INTO kv_log (rev, seq, key, deleted, create_rev, value) VALUES (?, ?, ?, 0, ?, ?)",
		rev, seq, c.op.Key, c.create, value)
	return err
}

// resync publishes the revision on file, after a write whose outcome is
// unknown. The caller holds the write semaphore.
func (k *KV) resync(w *sql.DB) {
	ctx, cancel := context.WithTimeout(context.Background(), k.busyTimeout)
	defer cancel()
	var rev int64
	if err := w.QueryRowContext(ctx, "SELECT rev FROM meta WHERE id = 1").Scan(&rev); err == nil {
		k.publish(rev)
	}
}

// Compact forgets the history before revision rev: a watch from an older
// revision gets a Compacted response. Compacting to a revision at or
// before the current compaction revision does nothing; compacting past
// the store revision is EINVALID. It implements configtest.Compactor.
func (k *KV) Compact(ctx context.Context, rev int64) error {
	_, w, err := k.dbs()
	if err != nil {
		return fmt.Errorf("sqlite kv: compact: %w", err)
	}
	if err := k.acquire(ctx); err != nil {
		return fmt.Errorf("sqlite kv: compact: %w", err)
	}
	defer k.releaseWrite()
	if err := compact(ctx, w, rev); err != nil {
		return fmt.Errorf("sqlite kv: compact to %d: %w", rev, err)
	}
	return nil
}

func compact(ctx context.Context, w *sql.DB, rev int64) error {
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var cur, compactRev int64
	if err := tx.QueryRowContext(ctx, "SELECT rev, compact_rev FROM meta WHERE id = 1").Scan(&cur, &compactRev); err != nil {
		return err
	}
	switch {
	case rev > cur:
		return obhub.Errorf(obhub.EINVALID, "revision %d is in the future (the store is at %d)", rev, cur)
	case rev <= compactRev:
		return nil
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM kv_log WHERE rev < ?", rev); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "UPDATE meta SET compact_rev = ? WHERE id = 1", rev); err != nil {
		return err
	}
	return tx.Commit()
}
