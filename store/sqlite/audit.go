package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
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
	"github.com/obhub/obhub/internal/privfile"
)

var (
	_ audit.Store            = (*AuditStore)(nil)
	_ audit.BufferedAppender = (*AuditStore)(nil)
)

// AuditStore is an audit.Store on its own SQLite file (<data>/audit.db),
// apart from the configuration store so that the two never contend for
// SQLite's single write lock.
//
// Each group commit's records are one block (audit_blocks.go): a row of
// audit_blocks holding the records packed in Seq order, and rows of
// audit_keys naming the blocks that hold each request id, bank, API,
// partner, client, category, status and decision, which Find reads by.
// Schema 4 moved the older ledgers' row per record into blocks. Appends
// are one IMMEDIATE transaction per batch in WAL mode. The writer connection runs with
// synchronous=NORMAL — a commit reaches the operating system, so it
// survives the process being killed, but is not flushed to the disk —
// and Sync flushes the write-ahead log with one fsync: Append is
// AppendBuffered then Sync, so when it returns the batch survives a power
// cut too. In async mode the audit Writer calls the two apart, so that
// the next batch is written while the previous one is flushed
// (audit.BufferedAppender); in strict mode an audit.Journal in front
// makes records durable, appends them here in larger groups behind the
// responses, and calls Sync about once a second and before it reuses a
// journal file.
// Checkpoints are rows of audit_checkpoints. A purged record keeps seq,
// time, category, digest and hash, so the chain still verifies.
//
// A read-only AuditStore (ReadOnly) takes no lock and never writes: the
// CLI reads a running node's ledger with it.
type AuditStore struct {
	path     string
	readOnly bool
	log      *slog.Logger

	mu    sync.Mutex
	state state
	conns
	abs string // the database file's absolute path

	// The writer's statements, prepared once on its connection: parsing
	// them for every batch cost as much as inserting a small batch.
	bw         *blockWriter
	restartDue atomic.Bool  // the log is over walRestartFrames: restartLog soon
	appends    atomic.Int64 // appends while restartDue, to space restartLog's attempts

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

// AuditLogger logs what Open does that takes long: repacking an older
// ledger into blocks.
func AuditLogger(l *slog.Logger) AuditOption { return func(s *AuditStore) { s.log = l } }

// migrate brings the schema up to date, saying so when it repacks an
// older ledger's rows into blocks: that takes about ten seconds per
// million records, and the node is not ready meanwhile.
func (s *AuditStore) migrate(ctx context.Context) error {
	var version int
	if err := s.wdb.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return err
	}
	repack := version > 0 && version < 4 && s.log != nil // a row ledger: auditMoves[3]
	if repack {
		s.log.Info("audit: packing the ledger's records into blocks, once; the node is ready when it is done", "path", s.path)
	}
	began := time.Now()
	if err := migrateAudit(ctx, s.wdb); err != nil {
		return err
	}
	if repack {
		s.log.Info("audit: ledger packed into blocks", "took", time.Since(began).Round(time.Millisecond))
	}
	return nil
}

// NewAudit returns an audit store for the file at path. It does no I/O.
func NewAudit(path string, opts ...AuditOption) *AuditStore {
	s := &AuditStore{path: path}
	for _, o := range opts {
		o(s)
	}
	return s
}

const auditSchemaVersion = 4

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
	// 4: records packed in blocks, one per group commit (audit_blocks.go);
	// blocksFromRows moves the rows there.
	3: auditBlocksSchema,
}

// auditMoves[v] runs after auditSteps[v], in the same transaction.
var auditMoves = map[int]func(context.Context, *sql.Tx) error{3: blocksFromRows}

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
		if err = privateFiles(abs); err != nil {
			return err
		}
		if s.wdb, err = sql.Open("sqlite", auditDSN(abs, false, busyWait)); err != nil {
			return err
		}
		s.wdb.SetMaxOpenConns(1)
		s.wdb.SetMaxIdleConns(1)
		if err := s.migrate(ctx); err != nil {
			return err
		}
		if s.bw, err = prepareBlockWriter(ctx, s.wdb); err != nil {
			return err
		}
		if err := s.bw.recoverKeys(ctx, s.wdb); err != nil {
			return fmt.Errorf("write the keys of the last blocks: %w", err)
		}
	}
	if s.rdb, err = sql.Open("sqlite", auditDSN(abs, true, busyWait)); err != nil {
		return err
	}
	s.rdb.SetMaxOpenConns(4)
	s.rdb.SetMaxIdleConns(4)
	if s.readOnly {
		var n, version int
		if err := s.rdb.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE name IN ('audit_blocks', 'audit_records')").Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return obhub.Errorf(obhub.ENOTFOUND, "no audit log in %s", s.path)
		}
		if err := s.rdb.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
			return err
		}
		if version < auditSchemaVersion {
			// Only a writer migrates: the node does at its next start.
			return obhub.Errorf(obhub.ECONFLICT, "the audit log in %s has schema version %d, older than this obhub's %d: start the node once with this version to upgrade it", s.path, version, auditSchemaVersion)
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
		// 64 MiB of page cache: the pages appends touch stay in memory
		// instead of being read back (with a row and index entries per
		// record, a benchmark of 51 200 appended records made 42% fewer
		// system calls with it).
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
		if move := auditMoves[v]; move != nil {
			if err := move(ctx, tx); err != nil {
				return fmt.Errorf("migrate audit schema to version %d: %w", v+1, err)
			}
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
	wasOpen := s.state == stateOpen
	s.state = stateClosed
	if s.stopCP != nil {
		close(s.stopCP)
		<-s.cpDone
	}
	var keysErr error
	if wasOpen && s.bw != nil {
		// The next Open would write them too (recoverKeys).
		keysErr = s.bw.flushKeys(context.Background(), s.wdb)
	}
	err := errors.Join(keysErr, s.releaseAll()) // the last connection copies the log into the file and syncs it
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
	if s.bw != nil {
		s.bw.close()
		s.bw = nil
	}
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
	h, err := blocksHead(ctx, r)
	if err != nil {
		return audit.Head{}, fmt.Errorf("audit head: %w", err)
	}
	return h, nil
}

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
		if err := privfile.SyncDir(filepath.Dir(path)); err != nil {
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

// AppendBuffered implements audit.BufferedAppender: Append without the
// flush. The records are stored and visible, and survive the process
// being killed; they survive a power cut after the next Sync.
func (s *AuditStore) AppendBuffered(ctx context.Context, recs []audit.Record) error {
	if len(recs) == 0 {
		return nil
	}
	s.mu.Lock()
	w, bw := s.wdb, s.bw
	open := s.state == stateOpen
	s.mu.Unlock()
	if !open {
		return errAuditNotOpen
	}
	if w == nil {
		return obhub.Errorf(obhub.EINVALID, "audit store opened read-only")
	}
	if err := bw.appendBlock(ctx, w, recs); err != nil {
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
	return callerErr("audit scan", fn, func(fn func(*audit.Record) error) error { return scanRange(ctx, r, from, to, fn) })
}

var _ audit.RangeScanner = (*AuditStore)(nil)

// Find implements audit.Store.
func (s *AuditStore) Find(ctx context.Context, f audit.Filter, fn func(*audit.Record) error) error {
	r, _, err := s.dbs(false)
	if err != nil {
		return err
	}
	return callerErr("audit find", fn, func(fn func(*audit.Record) error) error { return findBlocks(ctx, r, f, fn) })
}

// callerErr runs op with fn, and returns an error of fn's own as it is
// (it stopped the reading) and any other wrapped with what.
func callerErr(what string, fn func(*audit.Record) error, op func(func(*audit.Record) error) error) error {
	var fnErr error
	err := op(func(r *audit.Record) error {
		fnErr = fn(r)
		return fnErr
	})
	if err == nil || (fnErr != nil && err == fnErr) {
		return err
	}
	return fmt.Errorf("%s: %w", what, err)
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
	s.mu.Lock()
	bw := s.bw
	s.mu.Unlock()
	if err := bw.flushKeys(ctx, w); err != nil { // the blocks to purge are found by their keys
		return 0, fmt.Errorf("audit purge: %w", err)
	}
	n, err := bw.purgeBlocks(ctx, w, category, before)
	if err != nil {
		return 0, fmt.Errorf("audit purge: %w", err)
	}
	return n, s.Sync(ctx)
}
