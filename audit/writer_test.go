package audit_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/obhub/obhub/audit"
	"github.com/obhub/obhub/audit/audittest"
)

// memStore is an in-memory audit.Store whose Append can be held or made
// to fail.
type memStore struct {
	mu    sync.Mutex
	recs  []audit.Record
	cps   []audit.Checkpoint
	hold  chan struct{} // when set, Append waits for it to close
	fails int           // Append fails this many more times
	down  bool          // Head and Append fail (the database is down)
}

func (m *memStore) setDown(down bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.down = down
}

func (m *memStore) Head(context.Context) (audit.Head, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return audit.Head{}, errors.New("connection refused")
	}
	if len(m.recs) == 0 {
		return audit.Head{}, nil
	}
	r := m.recs[len(m.recs)-1]
	return audit.Head{Seq: r.Seq, Hash: r.Hash}, nil
}

func (m *memStore) Append(_ context.Context, recs []audit.Record) error {
	m.mu.Lock()
	hold := m.hold
	m.mu.Unlock()
	if hold != nil {
		<-hold
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return errors.New("connection refused")
	}
	if m.fails > 0 {
		m.fails--
		return errors.New("disk full")
	}
	if recs[0].Seq != int64(len(m.recs))+1 {
		return errors.New("gap")
	}
	m.recs = append(m.recs, recs...)
	return nil
}

func (m *memStore) Scan(_ context.Context, from int64, fn func(*audit.Record) error) error {
	m.mu.Lock()
	recs := append([]audit.Record(nil), m.recs...)
	m.mu.Unlock()
	for i := range recs {
		if recs[i].Seq >= from {
			if err := fn(&recs[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *memStore) Find(ctx context.Context, f audit.Filter, fn func(*audit.Record) error) error {
	return m.Scan(ctx, 1, func(r *audit.Record) error {
		if f.RequestID != "" && r.RequestID != f.RequestID {
			return nil
		}
		return fn(r)
	})
}

func (m *memStore) AddCheckpoint(_ context.Context, c audit.Checkpoint) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cps = append(m.cps, c)
	return nil
}

func (m *memStore) Checkpoints(context.Context) ([]audit.Checkpoint, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]audit.Checkpoint(nil), m.cps...), nil
}

func (m *memStore) Purge(context.Context, string, time.Time) (int64, error) { return 0, nil }

func (m *memStore) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.recs)
}

// In async mode a full queue never blocks the caller: the record is
// dropped, counted and logged; Close writes what was queued.
func TestAsyncDropsWhenFull(t *testing.T) {
	hold := make(chan struct{})
	s := &memStore{hold: hold}
	var logs bytes.Buffer
	w, err := audit.NewWriter(s, audit.WriterConfig{Mode: audit.Async, Queue: 4, MaxBatch: 1,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	recs := audittest.Generate(20, audittest.Base)
	for _, r := range recs {
		if err := w.Write(r); err != nil { // returns at once although the store is held
			t.Fatal(err)
		}
	}
	st := w.Stats()
	// One record is in the held Append, four are queued, the rest dropped.
	if st.Dropped < 20-4-1 || st.Dropped > 20-4 {
		t.Errorf("dropped %d, want 15 or 16", st.Dropped)
	}
	if !strings.Contains(logs.String(), "record dropped") {
		t.Errorf("drops not logged: %s", logs.String())
	}
	close(hold)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := int64(s.len()); got != 20-w.Stats().Dropped {
		t.Errorf("%d records written, want %d", got, 20-w.Stats().Dropped)
	}
	res, err := audit.Verify(context.Background(), s, audit.VerifyOptions{})
	if err != nil || !res.OK {
		t.Fatalf("verify: %+v %v", res, err)
	}
	if err := w.Write(recs[0]); !errors.Is(err, audit.ErrClosed) {
		t.Errorf("Write after Close: %v", err)
	}
}

// In strict mode Write returns only once the record is stored; a
// transient store failure is retried without gaps or duplicates.
func TestStrictWaitsAndRetries(t *testing.T) {
	s := &memStore{fails: 2}
	w, err := audit.NewWriter(s, audit.WriterConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i, r := range audittest.Generate(5, audittest.Base) {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
		if s.len() != i+1 {
			t.Fatalf("after Write %d the store has %d records", i+1, s.len())
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if res, err := audit.Verify(context.Background(), s, audit.VerifyOptions{}); err != nil || !res.OK || res.Records != 5 {
		t.Fatalf("verify: %+v %v", res, err)
	}
}

// A store that keeps failing: Write reports the error, nothing hangs.
func TestStrictReportsAFailedStore(t *testing.T) {
	s := &memStore{fails: 1000}
	w, _ := audit.NewWriter(s, audit.WriterConfig{})
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(audittest.Generate(1, audittest.Base)[0]); err == nil {
		t.Fatal("Write succeeded on a failing store")
	}
	if w.Stats().Failed != 1 {
		t.Errorf("stats %+v", w.Stats())
	}
	if err := w.Close(); err == nil {
		t.Error("Close did not report the lost record")
	}
}

// Close writes a final signed checkpoint.
func TestCloseCheckpoints(t *testing.T) {
	s := &memStore{}
	signer := audittest.NewSigner(t)
	audittest.Fill(t, s, signer, audittest.Generate(7, audittest.Base))
	cps, _ := s.Checkpoints(context.Background())
	if len(cps) != 1 || cps[0].Seq != 7 || !signer.Public().Verify(&cps[0]) {
		t.Fatalf("checkpoints %+v", cps)
	}
}

// In async mode the writer lingers after the first queued record, so
// records that arrive one by one are committed as one group rather than
// one transaction each; it leaves them queued meanwhile rather than
// wake for each; closing the queue ends the wait at once, and Strict
// mode never lingers.
func TestAsyncLingersForAGroup(t *testing.T) {
	for _, tc := range []struct {
		mode        audit.Mode
		wantBatches int64
	}{{audit.Async, 1}, {audit.Strict, 5}} {
		t.Run(string(tc.mode), func(t *testing.T) {
			s := &memStore{}
			w, err := audit.NewWriter(s, audit.WriterConfig{Mode: tc.mode, Linger: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			recs := audittest.Generate(5, audittest.Base)
			for _, r := range recs {
				if tc.mode == audit.Strict {
					// Each Write returns once its record is stored: five
					// commits.
					if err := w.Write(r); err != nil {
						t.Fatal(err)
					}
					continue
				}
				if err := w.Write(r); err != nil {
					t.Fatal(err)
				}
				if r.RequestID == recs[0].RequestID {
					// The writer takes the first record off the queue and
					// lingers: without lingering it would commit each
					// record alone.
					for w.Stats().Queued > 0 {
						runtime.Gosched()
					}
				}
			}
			if tc.mode == audit.Async {
				if q := w.Stats().Queued; q != 4 {
					t.Errorf("%d records queued during the linger, want the 4 after the first", q)
				}
			}
			closeQuickly(t, w)
			st := w.Stats()
			if st.Written != 5 || st.Batches != tc.wantBatches {
				t.Errorf("written %d in %d batches, want 5 in %d", st.Written, st.Batches, tc.wantBatches)
			}
			// Only strict writes wait, and their wait is measured.
			if wantWaits := map[audit.Mode]int64{audit.Strict: 5}[tc.mode]; st.Waits != wantWaits || (wantWaits > 0) != (st.WaitTime > 0) {
				t.Errorf("%d waits in %v, want %d", st.Waits, st.WaitTime, wantWaits)
			}
			if s.len() != 5 {
				t.Errorf("store holds %d records, want 5", s.len())
			}
		})
	}
}

// A full batch ends the async writer's linger: records that come
// faster than a linger's worth are written without waiting it out.
func TestAsyncFullBatchEndsTheLinger(t *testing.T) {
	s := &memStore{}
	w, err := audit.NewWriter(s, audit.WriterConfig{Mode: audit.Async, Linger: time.Hour, MaxBatch: 4})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer w.Close() // once more if the test stops early: Close is idempotent
	for i, r := range audittest.Generate(9, audittest.Base) {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
		for i == 0 && w.Stats().Queued > 0 {
			runtime.Gosched() // until the writer holds the first, lingering
		}
	}
	// The first record began an hour's linger; the batch that filled
	// behind it ends it.
	deadline := time.Now().Add(10 * time.Second)
	for s.len() < 4 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := s.len(); n < 4 {
		t.Fatalf("store holds %d records 10 s after 9 were written with batches of 4, want at least 4", n)
	}
	// Closing writes the rest at once, however many batches they fill.
	closeQuickly(t, w)
	if n := s.len(); n != 9 {
		t.Errorf("store holds %d records after Close, want 9", n)
	}
}

// closeQuickly closes w, and fails the test if that took more than 30 s:
// the tests linger an hour, and closing the queue must end the linger.
func closeQuickly(t *testing.T, w *audit.Writer) {
	t.Helper()
	start := time.Now()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("Close waited %v: closing the queue must end the linger", d)
	}
}

// A request id the gateway made reaches the ledger as the client got it,
// even when its hex groups read like a mobile number (as 0.6% of UUIDv7
// ids do); a client's own id holding a mobile number is masked.
func TestWriteKeepsUUIDRequestIDs(t *testing.T) {
	m := &memStore{}
	w, err := audit.NewWriter(m, audit.WriterConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ids := []string{"01a21e17-4294-7002-8e68-326a93e0bc45", "13812345678"}
	for _, id := range ids {
		if audit.Mask(id) == id {
			t.Fatalf("Mask(%q) changes nothing: the case tests nothing", id)
		}
		if err := w.Write(audit.Record{Time: audittest.Base, Category: audit.CategoryAccess, RequestID: id}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := m.recs[0].RequestID; got != ids[0] {
		t.Errorf("the gateway's id was stored as %q", got)
	}
	if got := m.recs[1].RequestID; got != audit.Mask(ids[1]) {
		t.Errorf("a client's id holding a mobile number was stored as %q", got)
	}
}

// slowSync is a memStore whose flushes can be made slow.
type slowSync struct {
	*memStore
	mu   sync.Mutex
	slow time.Duration // the next Sync takes this long
}

func (s *slowSync) AppendBuffered(ctx context.Context, recs []audit.Record) error {
	return s.Append(ctx, recs)
}

func (s *slowSync) Sync(context.Context) error {
	s.mu.Lock()
	d := s.slow
	s.slow = 0
	s.mu.Unlock()
	time.Sleep(d) // a disk that stalls once
	return nil
}

// The writer's latency histograms count every flush and every strict
// wait, and show the one flush that stalled where an average would hide
// it among the quick ones.
func TestWriterLatencyHistograms(t *testing.T) {
	s := &slowSync{memStore: &memStore{}}
	w, err := audit.NewWriter(s, audit.WriterConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	write := func(n int) {
		for range n {
			if err := w.Write(audit.Record{Time: audittest.Base, Category: audit.CategoryAccess}); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(20)
	s.mu.Lock()
	s.slow = 300 * time.Millisecond
	s.mu.Unlock()
	write(1)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	st := w.Stats()
	if st.WaitLatency.Count() != 21 || st.WaitLatency.Sum != st.WaitTime {
		t.Errorf("wait histogram: %d waits summing %v; want 21 summing %v", st.WaitLatency.Count(), st.WaitLatency.Sum, st.WaitTime)
	}
	if st.FlushLatency.Count() != st.Flushes || st.FlushLatency.Sum != st.FlushTime {
		t.Errorf("flush histogram: %d flushes summing %v; want %d summing %v", st.FlushLatency.Count(), st.FlushLatency.Sum, st.Flushes, st.FlushTime)
	}
	var over, waitsOver int64
	for i, c := range st.FlushLatency.Counts {
		if i > 0 && st.FlushLatency.Bounds()[i-1] >= 250*time.Millisecond {
			over += c
			waitsOver += st.WaitLatency.Counts[i]
		}
	}
	if over != 1 || waitsOver != 1 {
		t.Errorf("%d flushes and %d waits over 250 ms, want the one stalled flush and its one wait", over, waitsOver)
	}
}

// flakySync is a BufferedAppender over a memStore whose Sync fails while
// failing is set, as PostgreSQL's does during an outage.
type flakySync struct {
	*memStore
	failing atomic.Bool
	syncs   atomic.Int64
}

func (f *flakySync) AppendBuffered(ctx context.Context, recs []audit.Record) error {
	return f.Append(ctx, recs)
}

func (f *flakySync) Sync(context.Context) error {
	if f.failing.Load() {
		return errors.New("connection refused")
	}
	f.syncs.Add(1)
	return nil
}

// In written mode a flush that fails is retried with its records: the
// next one that succeeds makes them durable (a Sync covers every record
// appended before it), so none is counted as failed and Close is clean.
func TestWrittenRetriesAFailedFlush(t *testing.T) {
	s := &flakySync{memStore: &memStore{}}
	s.failing.Store(true)
	w, err := audit.NewWriter(s, audit.WriterConfig{Mode: audit.Written, FlushEvery: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, r := range audittest.Generate(20, audittest.Base) {
		if err := w.Write(r); err != nil {
			t.Fatalf("Write while the flush fails: %v (the record was written)", err)
		}
	}
	// Flushes are tried, and fail, while the store is down.
	for w.Stats().Flushes < 2 {
		runtime.Gosched()
	}
	if st := w.Stats(); st.Written != 0 || st.Failed != 0 {
		t.Fatalf("while the flush fails: %d durable, %d failed; want 0 and 0", st.Written, st.Failed)
	}
	s.failing.Store(false) // the store answers again; no new record comes
	for w.Stats().Written < 20 {
		runtime.Gosched()
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if st := w.Stats(); st.Written != 20 || st.Failed != 0 {
		t.Errorf("after recovery: %d durable, %d failed; want 20 and 0", st.Written, st.Failed)
	}
}

// A flush that still fails when the writer closes counts its records as
// failed, and Close says so.
func TestWrittenCloseReportsAnUnflushedGroup(t *testing.T) {
	s := &flakySync{memStore: &memStore{}}
	s.failing.Store(true)
	w, err := audit.NewWriter(s, audit.WriterConfig{Mode: audit.Written})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, r := range audittest.Generate(5, audittest.Base) {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err == nil || !strings.Contains(err.Error(), "5 records") {
		t.Errorf("Close = %v, want it to report the 5 records not flushed", err)
	}
}
