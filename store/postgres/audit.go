package postgres

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/audit"
)

var (
	_ audit.Store            = (*AuditStore)(nil)
	_ audit.RangeScanner     = (*AuditStore)(nil)
	_ audit.BufferedAppender = (*AuditStore)(nil)
)

// AuditStore implements audit.Store for one hash chain of the shared
// ledger. Every node writes its own chain (named by its node id), so
// nodes never contend for the head of a chain and each chain verifies on
// its own exactly like a single node's SQLite ledger; reports read every
// chain (AllChains). See docs/cluster.md, "Audit with several nodes".
type AuditStore struct {
	db    *DB
	chain string // "" with all: reads every chain, writes nothing
	all   bool
}

// Audit returns the store of the chain called chain (the node id).
func (d *DB) Audit(chain string) *AuditStore { return &AuditStore{db: d, chain: chain} }

// AllChains returns a read-only view of every chain, for reports (Find):
// records of several chains share Seq numbers, so Head, Scan and
// Checkpoints are per chain only and fail here.
func (d *DB) AllChains() *AuditStore { return &AuditStore{db: d, all: true} }

// Chain returns the chain's name.
func (s *AuditStore) Chain() string { return s.chain }

// Ping reports whether the database answers.
func (s *AuditStore) Ping(ctx context.Context) error { return s.db.Ping(ctx) }

func (s *AuditStore) one() error {
	if s.all {
		return obhub.Errorf(obhub.EINVALID, "audit: the all-chains view reads records only; open one chain")
	}
	return nil
}

const recordColumns = `seq, time, category, request_id, bank, api, operation, method, path, query, client_id, partner,
	environment, status, latency_us, decision, reason, revision, actor, object, before, after, purged, digest, hash,
	request_body, response_body`

// Head implements audit.Store.
func (s *AuditStore) Head(ctx context.Context) (audit.Head, error) {
	if err := s.one(); err != nil {
		return audit.Head{}, err
	}
	p, err := s.db.conn()
	if err != nil {
		return audit.Head{}, err
	}
	var h audit.Head
	// Planned for this chain (see append).
	err = p.QueryRow(ctx, "SELECT seq, hash FROM audit_records WHERE chain = $1 ORDER BY seq DESC LIMIT 1", pgx.QueryExecModeExec, s.chain).Scan(&h.Seq, &h.Hash)
	if err == pgx.ErrNoRows {
		return audit.Head{}, nil
	}
	return h, unavailable("audit head", err)
}

// Append implements audit.Store: one transaction checks that recs follow
// the chain's head and copies them in; a concurrent append to the same
// chain loses on the primary key (ECONFLICT). It returns once the
// server has flushed the commit (synchronous_commit as configured).
func (s *AuditStore) Append(ctx context.Context, recs []audit.Record) error {
	return s.append(ctx, recs, true)
}

// AppendBuffered implements audit.BufferedAppender: Append committed with
// synchronous_commit off, so it returns without waiting for the server's
// log flush; the records are visible at once and durable after the next
// Sync. The Writer writes its next batch while the previous one flushes.
func (s *AuditStore) AppendBuffered(ctx context.Context, recs []audit.Record) error {
	return s.append(ctx, recs, false)
}

// Sync implements audit.BufferedAppender: a small synchronous write
// transaction on the chain's row. Its commit waits for the server's
// write-ahead log to be flushed up to it, and the log is sequential, so
// every transaction this store committed before is durable too.
func (s *AuditStore) Sync(ctx context.Context) error {
	if err := s.one(); err != nil {
		return err
	}
	p, err := s.db.conn()
	if err != nil {
		return err
	}
	_, err = p.Exec(ctx, "UPDATE audit_chains SET created_at = created_at WHERE chain = $1", s.chain)
	return unavailable("audit sync", err)
}

func (s *AuditStore) append(ctx context.Context, recs []audit.Record, durable bool) error {
	if err := s.one(); err != nil {
		return err
	}
	if len(recs) == 0 {
		return nil
	}
	p, err := s.db.conn()
	if err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, p, func(tx pgx.Tx) error {
		if !durable {
			if _, err := tx.Exec(ctx, "SET LOCAL synchronous_commit = off"); err != nil {
				return err
			}
		}
		if recs[0].Seq == 1 {
			if _, err := tx.Exec(ctx, "INSERT INTO audit_chains (chain, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
				s.chain, time.Now().UnixNano()); err != nil {
				return err
			}
		}
		// Planned for this chain at each call (QueryExecModeExec), not
		// once for any chain: a generic plan made while the table's
		// statistics still said it was nearly empty scanned every record
		// on every group commit (~1 ms at 15 000 records, growing).
		var last int64
		if err := tx.QueryRow(ctx, "SELECT coalesce(max(seq), 0) FROM audit_records WHERE chain = $1", pgx.QueryExecModeExec, s.chain).Scan(&last); err != nil {
			return err
		}
		for i := range recs {
			if recs[i].Seq != last+1+int64(i) {
				return obhub.Errorf(obhub.ECONFLICT, "audit append: record %d does not follow the head %d", recs[i].Seq, last)
			}
		}
		cols := []string{"chain"}
		for _, c := range strings.Split(recordColumns, ",") {
			cols = append(cols, strings.TrimSpace(c))
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"audit_records"}, cols, pgx.CopyFromSlice(len(recs), func(i int) ([]any, error) {
			r := &recs[i]
			return []any{s.chain, r.Seq, r.Time.UnixNano(), r.Category, r.RequestID, r.Bank, r.API, r.Operation, r.Method,
				r.Path, r.Query, r.ClientID, r.Partner, r.Environment, int32(r.Status), r.Latency.Microseconds(), r.Decision, r.Reason,
				r.Revision, r.Actor, r.Object, r.Before, r.After, r.Purged, nonNil(r.Digest), nonNil(r.Hash),
				r.RequestBody, r.ResponseBody}, nil
		}))
		return err
	})
	switch {
	case err == nil:
		return nil
	case isUnique(err):
		return obhub.Errorf(obhub.ECONFLICT, "audit append: chain %s moved on concurrently", s.chain)
	}
	return unavailable("audit append", err)
}

// scanRecord reads recordColumns into r, then any columns selected after
// them into extra.
func scanRecord(rows pgx.Rows, r *audit.Record, extra ...any) error {
	var t, lat int64
	var status int32
	dest := append([]any{&r.Seq, &t, &r.Category, &r.RequestID, &r.Bank, &r.API, &r.Operation, &r.Method, &r.Path, &r.Query,
		&r.ClientID, &r.Partner, &r.Environment, &status, &lat, &r.Decision, &r.Reason, &r.Revision, &r.Actor, &r.Object,
		&r.Before, &r.After, &r.Purged, &r.Digest, &r.Hash, &r.RequestBody, &r.ResponseBody}, extra...)
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	r.Status = int(status)
	r.Time = time.Unix(0, t).UTC()
	r.Latency = time.Duration(lat) * time.Microsecond
	return nil
}

// scanBatch is how many rows one query of a scan reads.
const scanBatch = 20000

// Scan implements audit.Store.
func (s *AuditStore) Scan(ctx context.Context, from int64, fn func(*audit.Record) error) error {
	return s.ScanRange(ctx, from, math.MaxInt64, fn)
}

// ScanRange implements audit.RangeScanner.
func (s *AuditStore) ScanRange(ctx context.Context, from, to int64, fn func(*audit.Record) error) error {
	if err := s.one(); err != nil {
		return err
	}
	p, err := s.db.conn()
	if err != nil {
		return err
	}
	var rec audit.Record
	for {
		rows, err := p.Query(ctx, "SELECT "+recordColumns+" FROM audit_records WHERE chain = $1 AND seq >= $2 AND seq < $3 ORDER BY seq LIMIT $4",
			s.chain, from, to, scanBatch)
		if err != nil {
			return unavailable("audit scan", err)
		}
		n := 0
		for rows.Next() {
			if err := scanRecord(rows, &rec); err != nil {
				rows.Close()
				return unavailable("audit scan", err)
			}
			n++
			if err := fn(&rec); err != nil {
				rows.Close()
				return err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return unavailable("audit scan", err)
		}
		if n < scanBatch || rec.Seq == math.MaxInt64 {
			return nil
		}
		from = rec.Seq + 1
	}
}

// Find implements audit.Store. On the all-chains view, records of
// several chains come ordered by time (then chain and Seq), and
// f.BeforeSeq is not a usable cursor.
func (s *AuditStore) Find(ctx context.Context, f audit.Filter, fn func(*audit.Record) error) error {
	p, err := s.db.conn()
	if err != nil {
		return err
	}
	where := []string{"NOT purged"}
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if !s.all {
		add("chain = $%d", s.chain)
	}
	if !f.From.IsZero() {
		add("time >= $%d", f.From.UnixNano())
	}
	if !f.To.IsZero() {
		add("time < $%d", f.To.UnixNano())
	}
	for _, c := range []struct{ col, v string }{
		{"category", f.Category}, {"partner", f.Partner}, {"client_id", f.ClientID}, {"bank", f.Bank},
		{"api", f.API}, {"decision", f.Decision}, {"request_id", f.RequestID},
	} {
		if c.v != "" {
			add(c.col+" = $%d", c.v)
		}
	}
	if f.Status != 0 {
		add("status = $%d", f.Status)
	}
	switch {
	case s.all && f.Before != nil:
		// The order below, newest first: a row comparison keeps the
		// cursor exact across chains whose Seqs overlap.
		args = append(args, f.Before.Time.UnixNano(), f.Before.Chain, f.Before.Seq)
		where = append(where, fmt.Sprintf("(time, chain, seq) < ($%d, $%d, $%d)", len(args)-2, len(args)-1, len(args)))
	case f.BeforeSeq > 0:
		add("seq < $%d", f.BeforeSeq)
	}
	q := "SELECT " + recordColumns + ", chain FROM audit_records WHERE " + strings.Join(where, " AND ")
	order := "seq"
	if s.all {
		order = "time, chain, seq"
	}
	if f.OldestFirst {
		q += " ORDER BY " + order
	} else {
		q += " ORDER BY " + strings.ReplaceAll(order, ",", " DESC,") + " DESC"
	}
	if f.Limit > 0 {
		args = append(args, f.Limit)
		q += fmt.Sprintf(" LIMIT $%d", len(args))
	}
	rows, err := p.Query(ctx, q, args...)
	if err != nil {
		return unavailable("audit find", err)
	}
	defer rows.Close()
	var rec audit.Record
	for rows.Next() {
		if err := scanRecord(rows, &rec, &rec.Chain); err != nil {
			return unavailable("audit find", err)
		}
		if err := fn(&rec); err != nil {
			return err
		}
	}
	return unavailable("audit find", rows.Err())
}

// AddCheckpoint implements audit.Store.
func (s *AuditStore) AddCheckpoint(ctx context.Context, c audit.Checkpoint) error {
	if err := s.one(); err != nil {
		return err
	}
	p, err := s.db.conn()
	if err != nil {
		return err
	}
	_, err = p.Exec(ctx, `INSERT INTO audit_checkpoints (chain, seq, time, algorithm, key_id, hash, signature) VALUES ($1,$2,$3,$4,$5,$6,$7)
		ON CONFLICT (chain, seq) DO UPDATE SET time = excluded.time, algorithm = excluded.algorithm, key_id = excluded.key_id,
		hash = excluded.hash, signature = excluded.signature`,
		s.chain, c.Seq, c.Time.UnixNano(), c.Algorithm, c.KeyID, nonNil(c.Hash), nonNil(c.Signature))
	return unavailable("audit checkpoint", err)
}

// Checkpoints implements audit.Store.
func (s *AuditStore) Checkpoints(ctx context.Context) ([]audit.Checkpoint, error) {
	if err := s.one(); err != nil {
		return nil, err
	}
	p, err := s.db.conn()
	if err != nil {
		return nil, err
	}
	rows, err := p.Query(ctx, "SELECT seq, time, algorithm, key_id, hash, signature FROM audit_checkpoints WHERE chain = $1 ORDER BY seq", s.chain)
	if err != nil {
		return nil, unavailable("audit checkpoints", err)
	}
	defer rows.Close()
	var out []audit.Checkpoint
	for rows.Next() {
		var c audit.Checkpoint
		var t int64
		if err := rows.Scan(&c.Seq, &t, &c.Algorithm, &c.KeyID, &c.Hash, &c.Signature); err != nil {
			return nil, unavailable("audit checkpoints", err)
		}
		c.Time = time.Unix(0, t).UTC()
		out = append(out, c)
	}
	return out, unavailable("audit checkpoints", rows.Err())
}

// Purge implements audit.Store, on this chain (every chain on the
// all-chains view: retention is cluster-wide).
func (s *AuditStore) Purge(ctx context.Context, category string, before time.Time) (int64, error) {
	p, err := s.db.conn()
	if err != nil {
		return 0, err
	}
	q := `UPDATE audit_records SET request_id = '', bank = '', api = '', operation = '', method = '',
		path = '', query = '', client_id = '', partner = '', environment = '', status = 0, latency_us = 0, decision = '',
		reason = '', revision = 0, actor = '', object = '', before = '', after = '',
		request_body = '', response_body = '', purged = true
		WHERE category = $1 AND time < $2 AND NOT purged`
	args := []any{category, before.UnixNano()}
	if !s.all {
		q += " AND chain = $3"
		args = append(args, s.chain)
	}
	tag, err := p.Exec(ctx, q, args...)
	if err != nil {
		return 0, unavailable("audit purge", err)
	}
	return tag.RowsAffected(), nil
}

// Chains lists the chains of the ledger: every chain that was ever
// registered (a chain registers with its first record) or has records or
// checkpoints.
func (d *DB) Chains(ctx context.Context) ([]string, error) {
	p, err := d.conn()
	if err != nil {
		return nil, err
	}
	rows, err := p.Query(ctx, `SELECT chain FROM audit_chains UNION SELECT DISTINCT chain FROM audit_records
		UNION SELECT DISTINCT chain FROM audit_checkpoints ORDER BY 1`)
	if err != nil {
		return nil, unavailable("audit chains", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return out, unavailable("audit chains", err)
}

// ChainResult is the verification of one chain.
type ChainResult struct {
	Chain string `json:"chain"`
	audit.Result
}

// VerifyAll verifies every chain of the ledger with audit.Verify, and
// also fails a chain that is registered but has lost every record (a
// whole chain deleted). It returns one result per chain and whether all
// verified.
func (d *DB) VerifyAll(ctx context.Context, opt audit.VerifyOptions) ([]ChainResult, bool, error) {
	chains, err := d.Chains(ctx)
	if err != nil {
		return nil, false, err
	}
	ok := true
	out := make([]ChainResult, 0, len(chains))
	for _, c := range chains {
		res, err := audit.Verify(ctx, d.Audit(c), opt)
		if err != nil {
			return out, false, fmt.Errorf("audit verify chain %s: %w", c, err)
		}
		if res.OK && res.Records == 0 {
			res.OK = false
			res.FirstBad = &audit.Bad{Seq: 1, Problem: "chain registered but empty: its records were deleted"}
		}
		ok = ok && res.OK
		out = append(out, ChainResult{Chain: c, Result: res})
	}
	return out, ok, nil
}
