package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/audit"
)

var (
	_ audit.Store            = (*AuditStore)(nil)
	_ audit.BufferedAppender = (*AuditStore)(nil)
)

// AuditStore is an audit.Store on its own SQLite file (<data>/audit.db),
// apart from the configuration store so that the two never contend for
// SQLite's single write lock.
//
// Records are rows of audit_records keyed by their chain Seq, with
// indexes by time, request id, and partner, app, bank and API (each
// with time, for newest-first pages); status, decision and category are
// filtered within a time range (schema 3 dropped their indexes: every
// append paid for them). Appends are one IMMEDIATE
// transaction per batch in WAL mode. The writer connection runs with
// synchronous=NORMAL — a commit reaches the operating system, so it
// survives the process being killed, but is not flushed to the disk —
// and Sync flushes the write-ahead log with one fsync: Append is
// AppendBuffered then Sync, so when it returns the batch survives a power
// cut too. The audit Writer calls the two apart, so that the next batch
// is written while the previous one is flushed (audit.BufferedAppender).
// Checkpoints are rows
// of audit_checkpoints. A purged record keeps seq, time, category, digest
// and hash, so the chain still verifies.
//
// A read-only AuditStore (ReadOnly) takes no lock and never writes: the
// CLI reads a running node's ledger with it.
type AuditStore struct {
	path     string
	readOnly bool

	mu    sync.Mutex
	state state
	conns
	abs string // the database file's absolute path

	// The writer's two statements, prepared once on its connection:
	// parsing them for every batch cost as much as inserting a small
	// batch.
	insert, last *sql.Stmt
	restartDue   atomic.Bool  // the log is over walRestartFrames: restartLog soon
	appends      atomic.Int64 // appends while restartDue, to space restartLog's attempts

	walMu sync.Mutex // Sync: one fsync at a time, on the current log file
	wal   *os.File

	// The checkpointer copies the log into the database file every
	// checkpointEvery on a connection of its own; stopCP stops it and
	// cpDone closes when it has.
	stopCP, cpDone chan struct{}
}

// checkpointEvery is how often the log is copied into the database file
// (a variable for the tests).
var checkpointEvery = 500 * time.Millisecond

// walRestartFrames is how many frames (pages) the log may hold before
// the writer itself finishes a checkpoint between two appends (see
// restartLog): 32 MiB of 4 KiB pages. A variable for the tests.
var walRestartFrames int64 = 8192

// checkpointer runs PASSIVE checkpoints until stopCP closes: they never
// wait for the writer or the readers, and copy what they can.
func (s *AuditStore) checkpointer(db *sql.DB) {
	defer close(s.cpDone)
	defer db.Close()
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stopCP:
			return
		case <-t.C:
			s.checkpointRound(db)
		}
	}
}

// checkpointRound is one round of the checkpointer on its connection db:
// a passive checkpoint, and the flag for restartLog when the log holds
// more than walRestartFrames. A failure is retried on the next round.
func (s *AuditStore) checkpointRound(db *sql.DB) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var busy, frames, copied int64
	if err := db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied); err == nil && frames > walRestartFrames {
		s.restartDue.Store(true) // restartLog
	}
}

// AuditOption configures an AuditStore.
type AuditOption func(*AuditStore)

// ReadOnly opens the store for reading only, without the writer's lock.
func ReadOnly() AuditOption { return func(s *AuditStore) { s.readOnly = true } }

// NewAudit returns an audit store for the file at path. It does no I/O.
func NewAudit(path string, opts ...AuditOption) *AuditStore {
	s := &AuditStore{path: path}
	for _, o := range opts {
		o(s)
	}
	return s
}

const auditSchemaVersion = 3

const auditSchema = `
CREATE TABLE audit_records (
	seq         INTEGER PRIMARY KEY,
	time        INTEGER NOT NULL,
	category    TEXT NOT NULL,
	request_id  TEXT NOT NULL,
	bank        TEXT NOT NULL,
	api         TEXT NOT NULL,
	operation   TEXT NOT NULL,
	method      TEXT NOT NULL,
	path        TEXT NOT NULL,
	query       TEXT NOT NULL,
	client_id   TEXT NOT NULL,
	partner     TEXT NOT NULL,
	environment TEXT NOT NULL,
	status      INTEGER NOT NULL,
	latency_us  INTEGER NOT NULL,
	decision    TEXT NOT NULL,
	reason      TEXT NOT NULL,
	revision    INTEGER NOT NULL,
	actor       TEXT NOT NULL,
	object      TEXT NOT NULL,
	before      TEXT NOT NULL,
	after       TEXT NOT NULL,
	purged      INTEGER NOT NULL,
	digest      BLOB NOT NULL,
	hash        BLOB NOT NULL
);
CREATE INDEX audit_time ON audit_records (time);
CREATE INDEX audit_partner ON audit_records (partner, time);
CREATE INDEX audit_client ON audit_records (client_id, time);
CREATE INDEX audit_bank ON audit_records (bank, time);
CREATE INDEX audit_api ON audit_records (api, time);
CREATE INDEX audit_status ON audit_records (status, time);
CREATE INDEX audit_decision ON audit_records (decision, time);
CREATE INDEX audit_request ON audit_records (request_id);
CREATE INDEX audit_category ON audit_records (category, time);

CREATE TABLE audit_checkpoints (
	seq       INTEGER PRIMARY KEY,
	time      INTEGER NOT NULL,
	algorithm TEXT NOT NULL,
	key_id    TEXT NOT NULL,
	hash      BLOB NOT NULL,
	signature BLOB NOT NULL
);
`

// auditSteps[v] brings the schema from version v to v+1.
var auditSteps = [auditSchemaVersion]string{
	0: auditSchema,
	// 2: a sandbox call's captured bodies get columns of their own.
	1: `ALTER TABLE audit_records ADD COLUMN request_body TEXT NOT NULL DEFAULT '';
	ALTER TABLE audit_records ADD COLUMN response_body TEXT NOT NULL DEFAULT '';`,
	// 3: every append writes every index, and these three sort few
	// distinct values (a status, a decision, a category): a query filters
	// them within its time range instead (audit_time), so appends do
	// a third less index work.
	2: `DROP INDEX IF EXISTS audit_status;
	DROP INDEX IF EXISTS audit_decision;
	DROP INDEX IF EXISTS audit_category;`,
}

// Open creates or opens the file. After a failed Open, Close is safe.
func (s *AuditStore) Open(ctx context.Context) (err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.state {
	case stateOpen:
		return fmt.Errorf("sqlite audit: open %s: already open", s.path)
	case stateClosed:
		return fmt.Errorf("sqlite audit: open %s: closed", s.path)
	}
	defer func() {
		if err != nil {
			s.releaseAll()
			err = fmt.Errorf("sqlite audit: open %s: %w", s.path, err)
		}
	}()
	abs, err := filepath.Abs(s.path)
	if err != nil {
		return err
	}
	s.abs = abs
	if !s.readOnly {
		if s.unlock, err = lockFile(abs + ".lock"); err != nil {
			return err
		}
		if s.wdb, err = sql.Open("sqlite", auditDSN(abs, false, busyWait)); err != nil {
			return err
		}
		s.wdb.SetMaxOpenConns(1)
		s.wdb.SetMaxIdleConns(1)
		if err := migrateAudit(ctx, s.wdb); err != nil {
			return err
		}
		if s.insert, err = s.wdb.PrepareContext(ctx, "INSERT INTO audit_records ("+recordColumns+") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"); err != nil {
			return err
		}
		if s.last, err = s.wdb.PrepareContext(ctx, "SELECT coalesce(max(seq), 0) FROM audit_records"); err != nil {
			return err
		}
	}
	if s.rdb, err = sql.Open("sqlite", auditDSN(abs, true, busyWait)); err != nil {
		return err
	}
	s.rdb.SetMaxOpenConns(4)
	s.rdb.SetMaxIdleConns(4)
	if s.readOnly {
		var n int
		if err := s.rdb.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE name = 'audit_records'").Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return obhub.Errorf(obhub.ENOTFOUND, "no audit log in %s", s.path)
		}
	} else if err := s.rdb.PingContext(ctx); err != nil {
		return err
	}
	if !s.readOnly {
		cp, err := sql.Open("sqlite", auditDSN(abs, false, busyWait))
		if err != nil {
			return err
		}
		cp.SetMaxOpenConns(1)
		s.stopCP, s.cpDone = make(chan struct{}), make(chan struct{})
		go s.checkpointer(cp)
	}
	s.state = stateOpen
	return nil
}

// busyWait is how long a connection waits for a lock.
const busyWait = 5 * time.Second

func auditDSN(abs string, reader bool, busy time.Duration) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	if reader {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(NORMAL)") // Sync flushes (see AuditStore)
		q.Add("_pragma", "journal_size_limit(67108864)")
		// 64 MiB of page cache: the nine indexes' pages stay in memory
		// instead of being read back on every append (a benchmark of 51 200
		// appended records made 42% fewer system calls with it).
		q.Add("_pragma", "cache_size(-65536)")
		// Appends never checkpoint: copying the log into the database
		// file (reads, writes and two fsyncs) is done by the
		// checkpointer's own connection, off the commit path.
		q.Add("_pragma", "wal_autocheckpoint(0)")
		q.Set("_txlock", "immediate")
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	return u.String()
}

func migrateAudit(ctx context.Context, db *sql.DB) error {
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("read journal mode: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal mode is %q, want wal", mode)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return err
	}
	if version > auditSchemaVersion {
		return fmt.Errorf("audit schema version %d is newer than this obhub knows (%d)", version, auditSchemaVersion)
	}
	if version == auditSchemaVersion {
		return nil
	}
	for v := version; v < auditSchemaVersion; v++ {
		if _, err := tx.ExecContext(ctx, auditSteps[v]); err != nil {
			return fmt.Errorf("migrate audit schema to version %d: %w", v+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", auditSchemaVersion)); err != nil {
		return err
	}
	return tx.Commit()
}

// Close closes the connections and releases the lock. Idempotent.
func (s *AuditStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == stateClosed {
		return nil
	}
	s.state = stateClosed
	if s.stopCP != nil {
		close(s.stopCP)
		<-s.cpDone
	}
	err := s.releaseAll() // the last connection copies the log into the file and syncs it
	s.walMu.Lock()
	if s.wal != nil {
		s.wal.Close()
		s.wal = nil
	}
	s.walMu.Unlock()
	if err != nil {
		return fmt.Errorf("sqlite audit: close %s: %w", s.path, err)
	}
	return nil
}

// releaseAll closes the writer's statements, then what Open opened.
func (s *AuditStore) releaseAll() error {
	for _, st := range []*sql.Stmt{s.insert, s.last} {
		if st != nil {
			st.Close()
		}
	}
	s.insert, s.last = nil, nil
	return s.release()
}

var errAuditNotOpen = obhub.Errorf(obhub.EUNAVAILABLE, "audit store not open")

func (s *AuditStore) dbs(write bool) (r, w *sql.DB, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != stateOpen {
		return nil, nil, errAuditNotOpen
	}
	if write && s.wdb == nil {
		return nil, nil, obhub.Errorf(obhub.EINVALID, "audit store opened read-only")
	}
	return s.rdb, s.wdb, nil
}

// Ping checks that the store answers (readiness).
func (s *AuditStore) Ping(ctx context.Context) error {
	r, _, err := s.dbs(false)
	if err != nil {
		return err
	}
	return r.PingContext(ctx)
}

// Head implements audit.Store.
func (s *AuditStore) Head(ctx context.Context) (audit.Head, error) {
	r, w, err := s.dbs(false)
	if err != nil {
		return audit.Head{}, err
	}
	if w != nil {
		r = w // the writer sees its own last commit at once
	}
	var h audit.Head
	err = r.QueryRowContext(ctx, "SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1").Scan(&h.Seq, &h.Hash)
	if errors.Is(err, sql.ErrNoRows) {
		return audit.Head{}, nil
	}
	if err != nil {
		return audit.Head{}, fmt.Errorf("audit head: %w", err)
	}
	return h, nil
}

const recordColumns = `seq, time, category, request_id, bank, api, operation, method, path, query, client_id, partner, environment,
	status, latency_us, decision, reason, revision, actor, object, before, after, purged, digest, hash,
	request_body, response_body`

// Append implements audit.Store: AppendBuffered, then Sync.
func (s *AuditStore) Append(ctx context.Context, recs []audit.Record) error {
	if err := s.AppendBuffered(ctx, recs); err != nil {
		return err
	}
	return s.Sync(ctx)
}

// Sync implements audit.BufferedAppender: one fsync of the write-ahead
// log makes every transaction committed before it durable. With no log
// file there is nothing to flush: SQLite removes the log only after
// copying it into the database file and syncing that.
func (s *AuditStore) Sync(ctx context.Context) error {
	if _, _, err := s.dbs(true); err != nil {
		return err
	}
	s.walMu.Lock()
	defer s.walMu.Unlock()
	path := s.abs + "-wal"
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("audit sync: %w", err)
	}
	if s.wal != nil {
		if cur, err := s.wal.Stat(); err != nil || !os.SameFile(cur, fi) {
			s.wal.Close() // the log was removed and made anew
			s.wal = nil
		}
	}
	if s.wal == nil {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("audit sync: %w", err)
		}
		// A new log file's name must be durable too.
		if err := syncDir(filepath.Dir(path)); err != nil {
			f.Close()
			return fmt.Errorf("audit sync: %w", err)
		}
		s.wal = f
	}
	if err := s.wal.Sync(); err != nil {
		return fmt.Errorf("audit sync: %w", err)
	}
	return nil
}

// syncDir flushes a directory's entries.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// AppendBuffered implements audit.BufferedAppender: Append without the
// flush. The records are stored and visible, and survive the process
// being killed; they survive a power cut after the next Sync.
func (s *AuditStore) AppendBuffered(ctx context.Context, recs []audit.Record) (err error) {
	if len(recs) == 0 {
		return nil
	}
	s.mu.Lock()
	w, insert, lastSeq := s.wdb, s.insert, s.last
	open := s.state == stateOpen
	s.mu.Unlock()
	if !open {
		return errAuditNotOpen
	}
	if w == nil {
		return obhub.Errorf(obhub.EINVALID, "audit store opened read-only")
	}
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("audit append: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	var last int64
	if err := tx.StmtContext(ctx, lastSeq).QueryRowContext(ctx).Scan(&last); err != nil {
		return fmt.Errorf("audit append: %w", err)
	}
	for i := range recs {
		if recs[i].Seq != last+1+int64(i) {
			return obhub.Errorf(obhub.ECONFLICT, "audit append: record %d does not follow the head %d", recs[i].Seq, last)
		}
	}
	stmt := tx.StmtContext(ctx, insert)
	for i := range recs {
		r := &recs[i]
		if _, err := stmt.ExecContext(ctx, r.Seq, r.Time.UnixNano(), r.Category, r.RequestID, r.Bank, r.API, r.Operation, r.Method,
			r.Path, r.Query, r.ClientID, r.Partner, r.Environment, r.Status, r.Latency.Microseconds(), r.Decision, r.Reason,
			r.Revision, r.Actor, r.Object, r.Before, r.After, r.Purged, r.Digest, r.Hash, r.RequestBody, r.ResponseBody); err != nil {
			return fmt.Errorf("audit append: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("audit append: %w", err)
	}
	// Every 8th append while due: a long report holding an old snapshot
	// keeps the checkpoint from finishing, and trying after every append
	// would only slow appends until it ends.
	if s.restartDue.Load() && s.appends.Add(1)%8 == 0 {
		s.restartLog(ctx, w)
	}
	return nil
}

// restartLog keeps the log from growing without end under a steady
// stream of appends. SQLite starts the log over only when a checkpoint has
// copied all of it before the next append begins, and the checkpointer's
// passive checkpoints, running beside the writer, never catch the last
// append: the log grew to 1.5 GB in half a minute of load, and every
// lookup in it slowed until appends stalled for hundreds of milliseconds.
// So once the checkpointer has seen more than walRestartFrames in the
// log (restartDue), the writer runs a passive checkpoint itself, between
// two appends: with no append in progress it copies the rest (little: the
// checkpointer copied the bulk), and the next append starts the log over,
// writing the same file from its start. (A truncating checkpoint from the
// checkpointer's connection did the same but stalled appends for ~35 ms
// each time, the writer sleeping in SQLite's busy handler.)
func (s *AuditStore) restartLog(ctx context.Context, w *sql.DB) {
	var busy, frames, copied int64
	if err := w.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied); err != nil {
		return // tried again after the next append
	}
	if busy == 0 && frames == copied {
		s.restartDue.Store(false)
	}
}

// scanRecord reads one row of recordColumns into r.
func scanRecord(rows *sql.Rows, r *audit.Record) error {
	var t, lat int64
	if err := rows.Scan(&r.Seq, &t, &r.Category, &r.RequestID, &r.Bank, &r.API, &r.Operation, &r.Method, &r.Path, &r.Query,
		&r.ClientID, &r.Partner, &r.Environment, &r.Status, &lat, &r.Decision, &r.Reason, &r.Revision, &r.Actor, &r.Object,
		&r.Before, &r.After, &r.Purged, &r.Digest, &r.Hash, &r.RequestBody, &r.ResponseBody); err != nil {
		return err
	}
	r.Time = time.Unix(0, t).UTC()
	r.Latency = time.Duration(lat) * time.Microsecond
	return nil
}

// scanBatch is how many rows Scan reads per query: short read
// transactions, so that the WAL can be checkpointed during a long scan.
const scanBatch = 20000

// Scan implements audit.Store.
func (s *AuditStore) Scan(ctx context.Context, from int64, fn func(*audit.Record) error) error {
	return s.ScanRange(ctx, from, math.MaxInt64, fn)
}

// ScanRange implements audit.RangeScanner: Verify reads with several
// connections at once.
func (s *AuditStore) ScanRange(ctx context.Context, from, to int64, fn func(*audit.Record) error) error {
	r, _, err := s.dbs(false)
	if err != nil {
		return err
	}
	var rec audit.Record
	for {
		rows, err := r.QueryContext(ctx, "SELECT "+recordColumns+" FROM audit_records WHERE seq >= ? AND seq < ? ORDER BY seq LIMIT ?", from, to, scanBatch)
		if err != nil {
			return fmt.Errorf("audit scan: %w", err)
		}
		n := 0
		for rows.Next() {
			if err := scanRecord(rows, &rec); err != nil {
				rows.Close()
				return fmt.Errorf("audit scan: %w", err)
			}
			n++
			if err := fn(&rec); err != nil {
				rows.Close()
				return err
			}
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("audit scan: %w", err)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("audit scan: %w", err)
		}
		if n < scanBatch || rec.Seq == math.MaxInt64 {
			return nil
		}
		from = rec.Seq + 1
	}
}

var _ audit.RangeScanner = (*AuditStore)(nil)

// Find implements audit.Store.
func (s *AuditStore) Find(ctx context.Context, f audit.Filter, fn func(*audit.Record) error) error {
	r, _, err := s.dbs(false)
	if err != nil {
		return err
	}
	where := []string{"purged = 0"}
	var args []any
	add := func(cond string, v any) {
		where = append(where, cond)
		args = append(args, v)
	}
	if !f.From.IsZero() {
		add("time >= ?", f.From.UnixNano())
	}
	if !f.To.IsZero() {
		add("time < ?", f.To.UnixNano())
	}
	for _, c := range []struct{ col, v string }{
		{"category", f.Category}, {"partner", f.Partner}, {"client_id", f.ClientID}, {"bank", f.Bank},
		{"api", f.API}, {"decision", f.Decision}, {"request_id", f.RequestID},
	} {
		if c.v != "" {
			add(c.col+" = ?", c.v)
		}
	}
	if f.Status != 0 {
		add("status = ?", f.Status)
	}
	if f.BeforeSeq > 0 {
		add("seq < ?", f.BeforeSeq)
	}
	q := "SELECT " + recordColumns + " FROM audit_records WHERE " + strings.Join(where, " AND ")
	if f.OldestFirst {
		q += " ORDER BY seq"
	} else {
		q += " ORDER BY seq DESC"
	}
	if f.Limit > 0 {
		q += " LIMIT ?"
		args = append(args, f.Limit)
	}
	rows, err := r.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("audit find: %w", err)
	}
	defer rows.Close()
	var rec audit.Record
	for rows.Next() {
		if err := scanRecord(rows, &rec); err != nil {
			return fmt.Errorf("audit find: %w", err)
		}
		if err := fn(&rec); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("audit find: %w", err)
	}
	return nil
}

// AddCheckpoint implements audit.Store.
func (s *AuditStore) AddCheckpoint(ctx context.Context, c audit.Checkpoint) error {
	_, w, err := s.dbs(true)
	if err != nil {
		return err
	}
	if c.Hash == nil {
		c.Hash = []byte{}
	}
	_, err = w.ExecContext(ctx, "INSERT OR REPLACE INTO audit_checkpoints (seq, time, algorithm, key_id, hash, signature) VALUES (?,?,?,?,?,?)",
		c.Seq, c.Time.UnixNano(), c.Algorithm, c.KeyID, c.Hash, c.Signature)
	if err != nil {
		return fmt.Errorf("audit checkpoint: %w", err)
	}
	return s.Sync(ctx)
}

// Checkpoints implements audit.Store.
func (s *AuditStore) Checkpoints(ctx context.Context) ([]audit.Checkpoint, error) {
	r, _, err := s.dbs(false)
	if err != nil {
		return nil, err
	}
	rows, err := r.QueryContext(ctx, "SELECT seq, time, algorithm, key_id, hash, signature FROM audit_checkpoints ORDER BY seq")
	if err != nil {
		return nil, fmt.Errorf("audit checkpoints: %w", err)
	}
	defer rows.Close()
	var out []audit.Checkpoint
	for rows.Next() {
		var c audit.Checkpoint
		var t int64
		if err := rows.Scan(&c.Seq, &t, &c.Algorithm, &c.KeyID, &c.Hash, &c.Signature); err != nil {
			return nil, fmt.Errorf("audit checkpoints: %w", err)
		}
		c.Time = time.Unix(0, t).UTC()
		out = append(out, c)
	}
	return out, rows.Err()
}

// Purge implements audit.Store.
func (s *AuditStore) Purge(ctx context.Context, category string, before time.Time) (int64, error) {
	_, w, err := s.dbs(true)
	if err != nil {
		return 0, err
	}
	res, err := w.ExecContext(ctx, `UPDATE audit_records SET request_id = '', bank = '', api = '', operation = '', method = '',
		path = '', query = '', client_id = '', partner = '', environment = '', status = 0, latency_us = 0, decision = '',
		reason = '', revision = 0, actor = '', object = '', before = '', after = '',
		request_body = '', response_body = '', purged = 1
		WHERE category = ? AND time < ? AND purged = 0`, category, before.UnixNano())
	if err != nil {
		return 0, fmt.Errorf("audit purge: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("audit purge: %w", err)
	}
	return n, s.Sync(ctx)
}
