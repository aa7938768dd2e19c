package audit

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/obhub/obhub"
)

// Mode says when a request's response may leave: after its record is
// durable against a power cut (Strict), after it is written where it
// outlives the process (Written), or at once, the record queued (Async).
type Mode string

// Modes.
const (
	// Strict: a Write returns once its record is flushed to disk (with a
	// BufferedAppender, after the Sync that covers it).
	Strict Mode = "strict"
	// Written: a Write returns once its record is appended to the store
	// (AppendBuffered: the journal's file, or PostgreSQL's commit without
	// its log flush), where it outlives the process being killed; the
	// store is flushed behind, every FlushEvery at most, so a power cut
	// loses about FlushEvery's records. With a store that is not a
	// BufferedAppender, it is Strict.
	Written Mode = "written"
	Async   Mode = "async"
)

// ParseMode checks a mode name.
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case Strict, Written, Async:
		return Mode(s), nil
	}
	return "", fmt.Errorf("unknown audit mode %q: want written, strict or async", s)
}

// Writer defaults.
const (
	DefaultQueue              = 8192
	DefaultMaxBatch           = 512
	DefaultCheckpointEvery    = 10000
	DefaultCheckpointInterval = time.Minute
	DefaultLinger             = 10 * time.Millisecond
	DefaultFlushEvery         = 5 * time.Millisecond
	// commitAttempts bounds how often a batch is tried before its records
	// are given up (logged and counted as Failed).
	commitAttempts = 5
)

// WriterConfig configures a Writer.
type WriterConfig struct {
	Mode     Mode // Strict when ""
	Queue    int  // records waiting at most (Async drops beyond it); DefaultQueue
	MaxBatch int  // records per commit at most; DefaultMaxBatch
	Hash     string
	// Signer signs a checkpoint every CheckpointEvery records or
	// CheckpointInterval, whichever comes first, and at Close. nil: none.
	Signer             *Signer
	CheckpointEvery    int64
	CheckpointInterval time.Duration
	Clock              obhub.Clock
	Logger             *slog.Logger
	// Spool, when set, keeps the records the store would not take (the
	// shared database down) in a durable local file, drained in order
	// once the store answers again (spool.go). Nil: such records fail.
	Spool *Spool
	// DrainEvery is how often a non-empty spool is drained; 500 ms.
	DrainEvery time.Duration
	// Linger (Async mode only) is how long the writer waits, after the
	// first queued record, for more before it commits the group (less
	// once MaxBatch records wait): DefaultLinger. A commit has a fixed
	// cost (a transaction, the log frames of every index page it
	// touches, a flush), so a node at 20 000 requests/s spent about
	// twice the CPU per record committing the ~20 records that had
	// queued since the last commit as it does committing a few hundred.
	// Strict mode never lingers: its callers wait.
	Linger time.Duration
	// FlushEvery (Written mode only) is the least time between the starts
	// of two flushes of the records appended behind the responses:
	// DefaultFlushEvery. A power cut loses at most the records appended
	// since the last flush that completed began: about this long, more
	// while the disk is slow. Flushing back to back (1 ns) cost the node
	// about a fifth of its requests/s at saturation, in fdatasync calls
	// (docs/performance.md).
	FlushEvery time.Duration
}

// Stats counts what a Writer did.
type Stats struct {
	Written     int64 // records durable in the store
	Dropped     int64 // records refused because the queue was full (Async) or the writer closed
	Failed      int64 // records the store would not take after every retry
	Checkpoints int64
	Batches     int64 // group commits; Written / Batches is the mean group size
	// AppendTime is the time spent appending batches to the store, and
	// FlushTime the time spent making them durable (Flushes flushes, with a
	// store that appends and flushes separately): a strict response waits
	// for about one of each, a written one for an append.
	AppendTime time.Duration
	Flushes    int64
	FlushTime  time.Duration
	// WaitTime is the time Strict and Written Writes spent waiting for
	// their records (durable, or written), summed over the Waits that did:
	// the whole price such a response pays, queueing included.
	WaitTime time.Duration
	Waits    int64
	// FlushLatency and WaitLatency are the same as histograms: each flush,
	// and each waiting Write's wait.
	FlushLatency, WaitLatency Histogram
	Spooled                   int64 // records put in the spool because the store failed
	Drained                   int64 // spooled records appended to the store later
	Queued                    int64 // records waiting in the queue now
	Pending                   int64 // records waiting in the spool now
	// Lag is how long the oldest record not yet in the store has waited
	// (the oldest spooled record); 0 when none waits.
	Lag time.Duration
}

// Writer chains records and appends them to a Store in groups: one
// goroutine takes every record waiting (up to MaxBatch), seals them in
// order and commits them in one transaction, then releases the callers
// that wait for them (Strict). Build it with NewWriter, Start it, and
// Close it after the last Write: Close writes what is queued and a final
// checkpoint.
type Writer struct {
	store Store
	cfg   WriterConfig
	log   *slog.Logger
	hash  HashFunc

	// buf is the store when it is a BufferedAppender, and flushing says
	// who flushes its appends (NewWriter). Pipelined: flushes carries
	// each appended batch's waiters to syncer. Behind: unsynced counts
	// the records appended since flushBehind's last flush, and kick
	// (capacity 1) wakes it. Either closes synced when it has flushed the
	// last one.
	buf      BufferedAppender
	flushing flushing
	flushes  chan flush
	unsynced atomic.Int64
	kick     chan struct{}
	synced   chan struct{}

	mu     sync.RWMutex // Write holds it shared; Close exclusively to close queue
	closed bool
	queue  chan item
	done   chan struct{}
	// full (capacity 1, Async mode) ends the writer's linger early: Write
	// signals it when MaxBatch records wait, Close when the queue closes.
	// A signal left from a batch already taken ends the next linger
	// early, no more: draining it first could swallow Close's.
	full chan struct{}

	written, dropped, failed, checkpoints, batches atomic.Int64
	syncs, appendNanos, flushNanos                 atomic.Int64
	waits, waitNanos                               atomic.Int64
	flushHist, waitHist                            histogram
	spooled, drained                               atomic.Int64
	closeOnce                                      sync.Once
	closeErr                                       error
}

type item struct {
	rec  Record
	done chan error // nil in Async mode
}

// flushing is who makes a BufferedAppender store's appends durable.
type flushing int

const (
	// byAppend: the store is not a BufferedAppender; its Append is
	// durable.
	byAppend flushing = iota
	// pipelined: syncer flushes a batch while run writes the next one
	// (Strict and Async).
	pipelined
	// inTurn: run appends and flushes in turn (a Journal, Strict).
	inTurn
	// behind: flushBehind flushes, and callers are released at the
	// append (Written).
	behind
)

// flush is an appended batch waiting for the Sync that makes it durable.
type flush struct {
	records int
	waiters []chan error // Strict callers to release once flushed
}

// NewWriter returns a writer to store. It does no I/O.
func NewWriter(store Store, cfg WriterConfig) (*Writer, error) {
	if cfg.Mode == "" {
		cfg.Mode = Strict
	}
	if _, err := ParseMode(string(cfg.Mode)); err != nil {
		return nil, err
	}
	hf, err := LookupHash(cfg.Hash)
	if err != nil {
		return nil, err
	}
	cfg.Hash = hashName(cfg.Hash)
	if cfg.Queue <= 0 {
		cfg.Queue = DefaultQueue
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	if cfg.CheckpointEvery <= 0 {
		cfg.CheckpointEvery = DefaultCheckpointEvery
	}
	if cfg.CheckpointInterval <= 0 {
		cfg.CheckpointInterval = DefaultCheckpointInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.DrainEvery <= 0 {
		cfg.DrainEvery = 500 * time.Millisecond
	}
	if cfg.Linger <= 0 {
		cfg.Linger = DefaultLinger
	}
	if cfg.FlushEvery <= 0 {
		cfg.FlushEvery = DefaultFlushEvery
	}
	w := &Writer{store: store, cfg: cfg, log: cfg.Logger, hash: hf, queue: make(chan item, cfg.Queue), done: make(chan struct{})}
	if cfg.Mode == Async {
		w.full = make(chan struct{}, 1)
	}
	b, ok := store.(BufferedAppender)
	if !ok {
		return w, nil
	}
	w.buf = b
	_, journal := store.(*Journal)
	switch {
	case cfg.Mode == Written:
		// A caller waits for its record's append only; the flushes run
		// in their own goroutine, FlushEvery apart at most, each covering
		// every record appended before it began.
		w.flushing = behind
		w.kick = make(chan struct{}, 1)
		w.synced = make(chan struct{})
	case journal:
		// A Journal's append is one write to a file, and its flush one
		// fdatasync: run appends and flushes in turn, each group made of
		// every record that came during the last flush. Pipelined, a
		// record waited for the rest of one flush, then for the flush of
		// the group before its own, then for its own: two and a half
		// flushes instead of one and a half.
		w.flushing = inTurn
	default:
		w.flushing = pipelined
		// Unbuffered: one batch flushes while the next is written: an
		// append to SQLite or PostgreSQL costs as much per group as per
		// record, so groups must grow while the disk works.
		w.flushes = make(chan flush)
		w.synced = make(chan struct{})
	}
	return w, nil
}

// Mode returns the writer's mode.
func (w *Writer) Mode() Mode { return w.cfg.Mode }

// Start reads the chain's head and starts the writing goroutine.
func (w *Writer) Start(ctx context.Context) error {
	head, err := w.store.Head(ctx)
	if err != nil {
		return fmt.Errorf("audit writer: %w", err)
	}
	if err := agreeHash(ctx, w.store, w.cfg.Hash, head); err != nil { // hashrecord.go
		return err
	}
	if sp := w.cfg.Spool; sp != nil {
		if err := sp.Open(); err != nil {
			return err
		}
		if n, _ := sp.Pending(); n > 0 {
			// Records spooled before a restart: drain them now, or go on
			// from the spool's tail and drain them later.
			d, derr := sp.Drain(ctx, w.store, w.cfg.MaxBatch)
			w.drained.Add(d)
			if derr != nil {
				w.log.Warn("audit: spooled records not drained yet", "records", n-d, "err", derr)
				if t := sp.Tail(); t.Seq > head.Seq {
					head = t
				}
			} else if head, err = w.store.Head(ctx); err != nil {
				return fmt.Errorf("audit writer: %w", err)
			}
		}
	}
	switch w.flushing {
	case pipelined:
		go w.syncer()
	case behind:
		go w.flushBehind()
	}
	go w.run(head)
	return nil
}

// ErrClosed is returned by Write after Close.
var ErrClosed = obhub.Errorf(obhub.EUNAVAILABLE, "audit writer closed")

// Write masks r and records it. In Strict mode it returns once the record
// is durable, and in Written mode once it is written (see Written), or
// with the error that kept it from the store; in Async mode it returns at
// once, and a record that finds the queue full is dropped, counted and
// logged.
func (w *Writer) Write(r Record) error {
	maskRecord(&r)
	r.normalise()
	r.own()
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		w.dropped.Add(1)
		return ErrClosed
	}
	if w.cfg.Mode == Async {
		select {
		case w.queue <- item{rec: r}:
			w.mu.RUnlock()
			if len(w.queue) >= w.cfg.MaxBatch {
				signal(w.full) // a batch is ready: end the linger
			}
			return nil
		default:
			w.mu.RUnlock()
			if n := w.dropped.Add(1); n&(n-1) == 0 { // 1, 2, 4, 8, …: a trace, not a flood
				w.log.Error("audit: queue full, record dropped", "dropped_total", n, "request_id", r.RequestID)
			}
			return nil
		}
	}
	done := make(chan error, 1)
	began := time.Now()
	w.queue <- item{rec: r, done: done}
	w.mu.RUnlock()
	err := <-done
	waited := time.Since(began)
	w.waitNanos.Add(int64(waited))
	w.waits.Add(1)
	w.waitHist.observe(waited)
	return err
}

// own copies every string of r into memory of r's own, in one
// allocation. A caller's strings may share a buffer that is reused once
// its request is over (fasthttp's, through fiber's net/http adaptor), and
// the writer keeps records after Write returns: in Async mode, and in
// Strict mode through a Journal, whose store takes them behind.
func (r *Record) own() {
	fields := [...]*string{&r.Category, &r.RequestID, &r.Bank, &r.API, &r.Operation, &r.Method, &r.Path, &r.Query,
		&r.ClientID, &r.Partner, &r.Environment, &r.Decision, &r.Reason, &r.Actor, &r.Object, &r.Before, &r.After,
		&r.RequestBody, &r.ResponseBody, &r.Chain}
	n := 0
	for _, f := range fields {
		n += len(*f)
	}
	var b strings.Builder
	b.Grow(n)
	for _, f := range fields {
		b.WriteString(*f)
	}
	all := b.String()
	for _, f := range fields {
		*f, all = all[:len(*f)], all[len(*f):]
	}
}

// maskRecord masks every free-text field of r.
func maskRecord(r *Record) {
	r.Path = Mask(r.Path)
	r.Query = Mask(RedactQuery(decodeDigits(r.Query)))
	// A client id, a partner id and an actor's e-mail address are mostly
	// the hub's own identifiers, which Mask leaves as they are; but an
	// unauthenticated caller writes any client_id it likes, and a mobile
	// number is a common e-mail address.
	r.ClientID = Mask(r.ClientID)
	r.Partner = Mask(r.Partner)
	r.Actor = Mask(r.Actor)
	r.Reason = Mask(r.Reason)
	r.Object = Mask(r.Object)
	r.Before = Mask(r.Before)
	r.After = Mask(r.After)
	r.RequestBody = Mask(r.RequestBody)
	r.ResponseBody = Mask(r.ResponseBody)
	r.RequestID = maskRequestID(r.RequestID)
}

// MaskFilter masks the values of f that records keep masked — the request
// id, the app's client id and the partner — the way the writer masks
// them, so that a search for a value as the client sent it finds its
// records. The hub's own identifiers are left as they are.
func MaskFilter(f *Filter) {
	f.RequestID = maskRequestID(f.RequestID)
	f.ClientID = Mask(f.ClientID)
	f.Partner = Mask(f.Partner)
}

// decodeDigits returns the query string q with every percent escape of a
// digit, of 'X' or 'x' (a resident ID's check character) and of '-'
// decoded: a server decodes %31%33%38… to the digits of a mobile number,
// so the ledger must see them as digits to mask them. Other escapes are
// kept as sent.
func decodeDigits(q string) string {
	i := strings.IndexByte(q, '%')
	if i < 0 {
		return q
	}
	b := make([]byte, 0, len(q))
	b = append(b, q[:i]...)
	for ; i < len(q); i++ {
		if q[i] == '%' && i+2 < len(q) {
			if c, ok := digitEscape(q[i+1], q[i+2]); ok {
				b = append(b, c)
				i += 2
				continue
			}
		}
		b = append(b, q[i])
	}
	return string(b)
}

// digitEscape returns the character of the escape %hl if it is a digit,
// 'X', 'x' or '-'.
func digitEscape(h, l byte) (byte, bool) {
	switch {
	case h == '3' && isDigit(l):
		return l, true
	case h == '5' && l == '8':
		return 'X', true
	case h == '7' && l == '8':
		return 'x', true
	case h == '2' && (l == 'D' || l == 'd'):
		return '-', true
	}
	return 0, false
}

// maskRequestID masks a request id unless it is a UUID, such as every id
// the gateway makes: a UUID's hex groups can read as a mobile or card
// number (0.6% of UUIDv7 ids did), and masking one would leave the ledger
// without the id the client and the bank were given. A UUID holds no
// personal data; any other id a client sent is masked like free text.
func maskRequestID(id string) string {
	if isUUID(id) {
		return id
	}
	return Mask(id)
}

// isUUID reports whether s is a UUID in its canonical text form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := range len(s) {
		switch c := s[i]; {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case !isHex(c):
			return false
		}
	}
	return true
}

// Stats returns the writer's counters.
func (w *Writer) Stats() Stats {
	st := Stats{Written: w.written.Load(), Dropped: w.dropped.Load(), Failed: w.failed.Load(),
		Checkpoints: w.checkpoints.Load(), Batches: w.batches.Load(), Spooled: w.spooled.Load(),
		Drained: w.drained.Load(), Queued: int64(len(w.queue)),
		AppendTime: time.Duration(w.appendNanos.Load()), Flushes: w.syncs.Load(), FlushTime: time.Duration(w.flushNanos.Load()),
		WaitTime: time.Duration(w.waitNanos.Load()), Waits: w.waits.Load(),
		FlushLatency: w.flushHist.snapshot(), WaitLatency: w.waitHist.snapshot()}
	if sp := w.cfg.Spool; sp != nil {
		var oldest time.Time
		st.Pending, oldest = sp.Pending()
		if st.Pending > 0 {
			st.Lag = max(0, w.cfg.Clock.Now().Sub(oldest))
		}
	}
	return st
}

// Close stops taking records, writes every queued one and a final
// checkpoint, and returns. It is idempotent; safe without Start only if
// nothing was written.
func (w *Writer) Close() error {
	w.closeOnce.Do(func() {
		w.mu.Lock()
		w.closed = true
		close(w.queue)
		w.mu.Unlock()
		if w.full != nil {
			signal(w.full) // end the linger: what is queued is written now
		}
		<-w.done
		if n := w.dropped.Load(); n > 0 {
			w.log.Warn("audit: records dropped since start", "dropped", n)
		}
		if n := w.failed.Load(); n > 0 {
			w.closeErr = fmt.Errorf("audit writer: %d records could not be stored", n)
		}
		if sp := w.cfg.Spool; sp != nil {
			if n, _ := sp.Pending(); n > 0 {
				w.log.Warn("audit: records left in the spool, drained at the next start", "records", n)
			}
			if err := sp.Close(); err != nil && w.closeErr == nil {
				w.closeErr = err
			}
		}
	})
	return w.closeErr
}

// run is the writing goroutine.
func (w *Writer) run(head Head) {
	defer close(w.done)
	switch w.flushing {
	case pipelined:
		defer func() { close(w.flushes); <-w.synced }()
	case behind:
		defer func() { close(w.kick); <-w.synced }()
	}
	c := newChain(w.hash)
	ctx := context.Background()
	lastCP := head.Seq
	if cps, err := w.store.Checkpoints(ctx); err == nil && len(cps) > 0 {
		lastCP = cps[len(cps)-1].Seq
	}
	ticker := time.NewTicker(w.cfg.CheckpointInterval)
	defer ticker.Stop()
	var drainC <-chan time.Time
	if w.cfg.Spool != nil {
		dt := time.NewTicker(w.cfg.DrainEvery)
		defer dt.Stop()
		drainC = dt.C
	}
	batch := make([]item, 0, w.cfg.MaxBatch)
	recs := make([]Record, 0, w.cfg.MaxBatch)
	var linger *time.Timer
	if w.cfg.Mode == Async {
		linger = time.NewTimer(time.Hour)
		linger.Stop()
		defer linger.Stop()
	}
	for {
		var it item
		var ok bool
		select {
		case it, ok = <-w.queue:
		case <-ticker.C:
			if head.Seq > lastCP && w.drain(ctx) {
				lastCP = w.checkpoint(ctx, head, lastCP)
			}
			continue
		case <-drainC:
			if w.spoolPending() && w.drain(ctx) && head.Seq > lastCP {
				lastCP = w.checkpoint(ctx, head, lastCP)
			}
			continue
		}
		if !ok {
			dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			drained := w.drain(dctx)
			cancel()
			if head.Seq > lastCP && drained {
				w.checkpoint(ctx, head, lastCP)
			}
			return
		}
		var open bool
		batch, open = w.gather(append(batch[:0], it))
		if linger != nil && open && len(batch) < w.cfg.MaxBatch {
			// Sleep the linger out, then take what queued meanwhile.
			// Waiting on the queue instead would wake this goroutine for
			// every record, and with it, often, an idle thread of the
			// process (about 0.3 more threads scheduled per request at
			// 4 500 requests/s: docs/performance.md). Write ends the wait
			// early once a batch is full, Close at once.
			linger.Reset(w.cfg.Linger)
			select {
			case <-linger.C:
			case <-w.full:
				linger.Stop()
			}
			batch, _ = w.gather(batch)
		}
		head = w.commit(ctx, c, head, batch, recs[:0])
		if head.Seq-lastCP >= w.cfg.CheckpointEvery && !w.spoolPending() {
			lastCP = w.checkpoint(ctx, head, lastCP)
		}
	}
}

// gather adds the records queued now to batch, until it is full or the
// queue is empty; open is false once the queue is closed and empty (no
// more records will come: no linger).
func (w *Writer) gather(batch []item) (_ []item, open bool) {
	for len(batch) < w.cfg.MaxBatch {
		select {
		case it, ok := <-w.queue:
			if !ok {
				return batch, false
			}
			batch = append(batch, it)
		default:
			return batch, true
		}
	}
	return batch, true
}

// commit seals and appends one batch, retrying a failed append, and
// releases its waiters. It returns the new head.
func (w *Writer) commit(ctx context.Context, c *chain, head Head, batch []item, recs []Record) Head {
	if w.spoolPending() {
		// Records already wait in the spool: these go after them.
		return w.spool(c, head, batch, recs, nil)
	}
	attempts := commitAttempts
	if w.cfg.Spool != nil {
		attempts = 2 // then the spool, rather than keep callers waiting
	}
	var err error
	for attempt := range attempts {
		if attempt > 0 {
			time.Sleep(retryDelay(attempt))
		}
		recs = recs[:0]
		prev, seq := head.Hash, head.Seq
		for i := range batch {
			r := batch[i].rec
			seq++
			c.seal(&r, seq, prev)
			prev = r.Hash
			recs = append(recs, r)
		}
		began := time.Now()
		if w.buf != nil {
			err = w.buf.AppendBuffered(ctx, recs)
		} else {
			err = w.store.Append(ctx, recs)
		}
		w.appendNanos.Add(int64(time.Since(began)))
		if err != nil {
			// The store may have taken the batch before failing to answer.
			if h, herr := w.store.Head(ctx); herr == nil && h.Seq == seq && bytes.Equal(h.Hash, prev) {
				err = nil
			}
		}
		if err == nil {
			w.batches.Add(1)
			switch w.flushing {
			case behind:
				w.unsynced.Add(int64(len(recs)))
				signal(w.kick)
				w.release(batch, nil)
			case inTurn, pipelined:
				f := flush{records: len(recs)}
				for i := range batch {
					if batch[i].done != nil {
						f.waiters = append(f.waiters, batch[i].done)
					}
				}
				if w.flushing == inTurn {
					w.flush(ctx, []flush{f})
				} else {
					w.flushes <- f // the syncer releases them once durable
				}
			default:
				w.written.Add(int64(len(recs)))
				w.release(batch, nil)
			}
			return Head{Seq: seq, Hash: prev}
		}
		w.log.Warn("audit: append failed; retrying", "records", len(recs), "attempt", attempt+1, "err", err)
		if h, herr := w.store.Head(ctx); herr == nil {
			head = h
		}
	}
	if w.cfg.Spool != nil {
		return w.spool(c, head, batch, recs, err)
	}
	w.failed.Add(int64(len(batch)))
	w.log.Error("audit: records could not be stored", "records", len(batch), "first_request_id", batch[0].rec.RequestID, "err", err)
	w.release(batch, fmt.Errorf("audit: store records: %w", err))
	return head
}

// retryDelay is how long to wait before attempt (1, 2, …) of something
// that failed: 20 ms × attempt², at most a second.
func retryDelay(attempt int) time.Duration {
	return min(time.Duration(attempt*attempt)*20*time.Millisecond, time.Second)
}

// release answers the callers waiting for batch's records.
func (w *Writer) release(batch []item, err error) {
	for i := range batch {
		if batch[i].done != nil {
			batch[i].done <- err
		}
	}
}

// syncer flushes appended batches: one Sync for every batch appended
// while the previous Sync ran, then it releases their waiters. run writes
// the next batch meanwhile, so a flush and a write overlap.
func (w *Writer) syncer() {
	defer close(w.synced)
	ctx := context.Background()
	var group []flush
	for f := range w.flushes {
		group = append(group[:0], f)
	more:
		for {
			select {
			case f, ok := <-w.flushes:
				if !ok {
					break more
				}
				group = append(group, f)
			default:
				break more
			}
		}
		w.flush(ctx, group)
	}
}

// flushBehind, in Written mode, flushes the records run has appended,
// one Sync after another while records come (FlushEvery apart at most);
// run's callers were released at the append. A Sync makes durable every
// record appended before it, so a failed one is retried with its
// records, and the next that succeeds covers them (the store is down: the
// spool takes the next appends). Only when the writer closes are the
// records of a Sync that keeps failing counted as failed.
func (w *Writer) flushBehind() {
	defer close(w.synced)
	ctx := context.Background()
	var retry <-chan time.Time
	backoff := time.Duration(0)
	for open := true; open; {
		select {
		case _, open = <-w.kick:
		case <-retry:
		}
		retry = nil
		n := w.unsynced.Swap(0)
		if n == 0 {
			continue
		}
		began := time.Now()
		err := w.sync(ctx)
		for attempt := 1; err != nil && !open && attempt < commitAttempts; attempt++ {
			time.Sleep(retryDelay(attempt))
			err = w.sync(ctx)
		}
		switch {
		case err != nil && !open:
			w.failed.Add(n)
			w.log.Error("audit: records written but not flushed to disk", "records", n, "err", err)
		case err != nil:
			w.unsynced.Add(n)
			if backoff == 0 {
				w.log.Warn("audit: flush failed; retrying", "records", n, "err", err)
			}
			backoff = min(max(2*backoff, w.cfg.FlushEvery), time.Second)
			retry = time.After(backoff)
		default:
			if backoff != 0 {
				w.log.Info("audit: flushing again", "records", n)
				backoff = 0
			}
			w.written.Add(n)
			if d := w.cfg.FlushEvery - time.Since(began); d > 0 && open {
				time.Sleep(d) // the records of these d gather for the next flush
			}
		}
	}
}

// sync flushes the store once, timed.
func (w *Writer) sync(ctx context.Context) error {
	began := time.Now()
	err := w.buf.Sync(ctx)
	took := time.Since(began)
	w.flushNanos.Add(int64(took))
	w.flushHist.observe(took)
	w.syncs.Add(1)
	return err
}

// flush makes the group's appended records durable with one Sync, then
// releases their waiters.
func (w *Writer) flush(ctx context.Context, group []flush) {
	err := w.sync(ctx)
	var n int64
	for _, f := range group {
		n += int64(f.records)
	}
	if err != nil {
		w.failed.Add(n)
		w.log.Error("audit: records stored but not flushed to disk", "records", n, "err", err)
		err = fmt.Errorf("audit: flush records: %w", err)
	} else {
		w.written.Add(n)
	}
	for _, f := range group {
		for _, d := range f.waiters {
			d <- err
		}
	}
}

// checkpoint signs and stores a checkpoint of head; it returns the Seq of
// the last stored checkpoint.
func (w *Writer) checkpoint(ctx context.Context, head Head, last int64) int64 {
	if w.cfg.Signer == nil {
		return head.Seq
	}
	cp := newCheckpoint(head, w.cfg.Hash, w.cfg.Clock.Now())
	w.cfg.Signer.Sign(&cp)
	if err := w.store.AddCheckpoint(ctx, cp); err != nil {
		w.log.Error("audit: checkpoint not stored", "seq", cp.Seq, "err", err)
		return last
	}
	w.checkpoints.Add(1)
	// Logged too, so that a copy lives outside the store (log shipping).
	w.log.Info("audit checkpoint", "seq", cp.Seq, "hash", fmt.Sprintf("%x", cp.Hash), "key_id", cp.KeyID, "signature", fmt.Sprintf("%x", cp.Signature))
	return head.Seq
}

// spoolPending reports whether records wait in the spool.
func (w *Writer) spoolPending() bool {
	if w.cfg.Spool == nil {
		return false
	}
	n, _ := w.cfg.Spool.Pending()
	return n > 0
}

// spool seals batch on head and puts it in the spool, releasing its
// waiters once the spool file is synced. It returns the new head.
func (w *Writer) spool(c *chain, head Head, batch []item, recs []Record, cause error) Head {
	recs = recs[:0]
	prev, seq := head.Hash, head.Seq
	for i := range batch {
		r := batch[i].rec
		seq++
		c.seal(&r, seq, prev)
		prev = r.Hash
		recs = append(recs, r)
	}
	err := w.cfg.Spool.Put(recs)
	if err == nil {
		if w.spooled.Add(int64(len(recs))) == int64(len(recs)) || cause != nil {
			w.log.Warn("audit: store not answering; records spooled locally", "records", len(recs), "first_seq", recs[0].Seq, "err", cause)
		}
		for i := range batch {
			if batch[i].done != nil {
				batch[i].done <- nil
			}
		}
		return Head{Seq: seq, Hash: prev}
	}
	w.failed.Add(int64(len(batch)))
	w.log.Error("audit: records could not be stored nor spooled", "records", len(batch), "first_request_id", batch[0].rec.RequestID, "err", err)
	for i := range batch {
		if batch[i].done != nil {
			batch[i].done <- fmt.Errorf("audit: spool records: %w", err)
		}
	}
	return head
}

// drain appends the spooled records to the store; it reports whether the
// spool is empty afterwards (true without a spool).
func (w *Writer) drain(ctx context.Context) bool {
	if !w.spoolPending() {
		return true
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	n, err := w.cfg.Spool.Drain(ctx, w.store, w.cfg.MaxBatch)
	w.drained.Add(n)
	if err != nil {
		return false
	}
	w.log.Info("audit: spooled records drained to the store", "records", n)
	return true
}
