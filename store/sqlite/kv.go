// Package sqlite implements config.KV on one SQLite file, for a hub that
// runs as a single node. It uses modernc.org/sqlite (pure Go, no cgo).
//
// Tables. kv holds the current value of every key with the revision that
// created it and the one that last changed it. kv_log is append-only: one
// row per changed key per revision, in op order; it is what watches
// replay. The meta row holds the store revision and the compaction
// revision (the oldest revision kv_log still has in full).
//
// Writes. Each Txn is one SQLite transaction on the single writer
// connection, begun IMMEDIATE so it holds the write lock from its first
// read: its expectations cannot go stale before it commits, and Txns
// serialise. Reads use a separate pool of read-only connections; in WAL
// mode they never wait for the writer, and each List is one snapshot.
//
// Durability. WAL with synchronous=FULL: a Txn returns only after its
// commit is on disk. Configuration writes are rare, and an acknowledged
// change (an approved subscription, a revoked credential) must survive a
// power cut; NORMAL would save one fsync per write and could lose the
// last acknowledged ones.
//
// Watches. Every watch has its own goroutine that reads committed
// revisions from kv_log, a bounded batch at a time, and sends one
// WatchResponse per revision on a channel buffered for watchBuffer
// responses. A commit only wakes the watchers (it closes a channel);
// writers never wait for them. A consumer that falls behind delays its own
// goroutine only, which reads on from where it stopped, so no event is
// lost or reordered. A watcher that falls behind the retained history gets
// a Compacted response, whose Revision is the compaction revision.
//
// History. kv_log keeps at least the newest WithHistory revisions (10000
// by default); older rows go in batches inside the write transactions.
// Compact removes history on demand.
//
// One process. Open takes an exclusive lock on the file PATH.lock, so a
// second obhub process, or a second KV in this one, on the same database
// is refused with ErrLocked. SQLite's own locking would keep the data
// sound without it, but this process's watchers would not see the other's
// writes.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/config"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

var _ config.KV = (*KV)(nil)

// ErrLocked is returned by Open when another process (or another KV in
// this one) has the database open.
var ErrLocked = errors.New("data folder in use by another obhub process")

// Defaults.
const (
	DefaultHistory     = 10000
	DefaultBusyTimeout = 5 * time.Second
)

// KV is a config.KV on one SQLite file. Build it with New, then Open it.
type KV struct {
	path        string
	history     int64
	busyTimeout time.Duration

	write chan struct{} // a one-slot semaphore: one Txn or Compact at a time
	done  chan struct{} // closed by Close; ends the watchers

	mu    sync.Mutex
	state state
	conns
	rev     int64         // the last committed revision
	changed chan struct{} // closed and replaced at every new revision

	watchers sync.WaitGroup
}

type state int

const (
	stateNew state = iota
	stateOpen
	stateClosed
)

// Option configures a KV.
type Option func(*KV)

// WithHistory sets how many of the newest revisions kv_log keeps for
// watches to replay; n <= 0 keeps everything until Compact. The history
// costs disk: each revision keeps a copy of the values it wrote.
func WithHistory(n int64) Option {
	return func(k *KV) { k.history = n }
}

// WithBusyTimeout sets how long a statement waits for a lock held by
// another connection (a checkpoint, say) before it fails.
func WithBusyTimeout(d time.Duration) Option {
	return func(k *KV) { k.busyTimeout = d }
}

// New returns a KV for the database file at path. It does no I/O: Open
// creates or opens the file. The folder must exist.
func New(path string, opts ...Option) *KV {
	k := &KV{
		path:        path,
		history:     DefaultHistory,
		busyTimeout: DefaultBusyTimeout,
		write:       make(chan struct{}, 1),
		done:        make(chan struct{}),
		changed:     make(chan struct{}),
	}
	for _, opt := range opts {
		opt(k)
	}
	return k
}

// Open locks the database, creates or upgrades its schema and readies the
// connections. After a failed Open, Close is safe and Open may be retried.
func (k *KV) Open(ctx context.Context) (err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	switch k.state {
	case stateOpen:
		return fmt.Errorf("sqlite kv: open %s: already open", k.path)
	case stateClosed:
		return fmt.Errorf("sqlite kv: open %s: %w", k.path, errClosed)
	}
	defer func() {
		if err != nil {
			k.release()
			err = fmt.Errorf("sqlite kv: open %s: %w", k.path, err)
		}
	}()

	abs, err := filepath.Abs(k.path)
	if err != nil {
		return err
	}
	if k.unlock, err = lockFile(abs + ".lock"); err != nil {
		return err
	}
	if err = privateFiles(abs); err != nil {
		return err
	}

	// The writer: one connection, so Txns queue in Go, not on SQLITE_BUSY.
	if k.wdb, err = sql.Open("sqlite", k.dsn(abs, false)); err != nil {
		return err
	}
	k.wdb.SetMaxOpenConns(1)
	k.wdb.SetMaxIdleConns(1)
	if k.rev, err = migrate(ctx, k.wdb); err != nil {
		return err
	}

	// The readers, opened once the file is in WAL mode.
	if k.rdb, err = sql.Open("sqlite", k.dsn(abs, true)); err != nil {
		return err
	}
	n := max(4, runtime.GOMAXPROCS(0))
	k.rdb.SetMaxOpenConns(n)
	k.rdb.SetMaxIdleConns(n)
	if err := k.rdb.PingContext(ctx); err != nil {
		return err
	}
	k.state = stateOpen
	return nil
}

// dsn returns the data source name for the writer or a reader.
func (k *KV) dsn(abs string, reader bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", k.busyTimeout.Milliseconds()))
	if reader {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(FULL)")
		// Shrink the WAL back after a checkpoint that followed large
		// writes (OpenAPI documents of several MB).
		q.Add("_pragma", "journal_size_limit(67108864)")
		q.Set("_txlock", "immediate")
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	return u.String()
}

// Close stops the watches, closes the connections and releases the lock.
// It is idempotent and safe after a failed or no Open.
func (k *KV) Close() error {
	k.mu.Lock()
	if k.state == stateClosed {
		k.mu.Unlock()
		return nil
	}
	k.state = stateClosed
	close(k.done)
	k.mu.Unlock()

	k.watchers.Wait()
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.release(); err != nil {
		return fmt.Errorf("sqlite kv: close %s: %w", k.path, err)
	}
	return nil
}

var (
	errNotOpen = obhub.Errorf(obhub.EUNAVAILABLE, "config store not open")
	errClosed  = obhub.Errorf(obhub.EUNAVAILABLE, "config store closed")
)

// dbs returns the reader pool and the writer, or an EUNAVAILABLE error if
// the store is not open.
func (k *KV) dbs() (r, w *sql.DB, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	switch k.state {
	case stateNew:
		return nil, nil, errNotOpen
	case stateClosed:
		return nil, nil, errClosed
	}
	return k.rdb, k.wdb, nil
}

// publish records a committed revision and wakes the watchers.
func (k *KV) publish(rev int64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if rev > k.rev {
		k.rev = rev
		close(k.changed)
		k.changed = make(chan struct{})
	}
}

// acquire takes the write semaphore, or fails when ctx ends first.
func (k *KV) acquire(ctx context.Context) error {
	select {
	case k.write <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (k *KV) releaseWrite() { <-k.write }
