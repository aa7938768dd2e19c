package audit

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// framesFile writes frames of recs, cut into groups of the given sizes,
// to a new file and returns it and each frame's end offset.
func framesFile(t *testing.T, recs []Record, groups ...int) (*os.File, []int) {
	t.Helper()
	var b []byte
	var ends []int
	for _, n := range groups {
		b = appendFrame(b, recs[:n])
		recs = recs[n:]
		ends = append(ends, len(b))
	}
	return writeJournalFile(t, b), ends
}

func writeJournalFile(t *testing.T, b []byte) *os.File {
	t.Helper()
	path := filepath.Join(t.TempDir(), "journal")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func sealed(n int) []Record {
	recs := make([]Record, n)
	for i := range recs {
		recs[i] = Record{Time: time.Date(2026, 11, 27, 8, 0, i, 0, time.UTC), Category: CategoryAccess,
			RequestID: "req-" + string(rune('a'+i%26)), Bank: "qingshan-rcb", Method: "GET", Path: "/x", Status: 200,
			Latency: time.Duration(i) * time.Millisecond, Decision: DecisionAllow}
	}
	SealAfter(recs, Head{}, DefaultHash)
	return recs
}

// readJournal gives back every whole frame in order, and stops, without
// an error, at the first one that is torn, damaged or left from an
// earlier use of the file: what a crash or a power cut leaves at the end
// of the journal.
func TestReadJournal(t *testing.T) {
	recs := sealed(10)
	seqs := func(t *testing.T, f *os.File) []int64 {
		t.Helper()
		got, err := readJournal(f, 0)
		if err != nil {
			t.Fatal(err)
		}
		var s []int64
		for _, r := range got {
			s = append(s, r.Seq)
		}
		return s
	}
	want := func(t *testing.T, got []int64, n int) {
		t.Helper()
		if len(got) != n {
			t.Fatalf("read records %v, want the first %d", got, n)
		}
		for i, s := range got {
			if s != int64(i+1) {
				t.Fatalf("read records %v, want 1..%d", got, n)
			}
		}
	}

	t.Run("whole", func(t *testing.T) {
		f, _ := framesFile(t, recs, 3, 1, 6)
		got, err := readJournal(f, 0)
		if err != nil {
			t.Fatal(err)
		}
		want(t, seqs(t, f), 10)
		for i := range got { // every field back, so the chain still links
			if got[i].RequestID != recs[i].RequestID || got[i].Latency != recs[i].Latency || string(got[i].Hash) != string(recs[i].Hash) {
				t.Fatalf("record %d read back as %+v, want %+v", i+1, got[i], recs[i])
			}
		}
	})
	t.Run("empty", func(t *testing.T) {
		want(t, seqs(t, writeJournalFile(t, nil)), 0)
	})
	t.Run("torn at every byte", func(t *testing.T) {
		_, ends := framesFile(t, recs, 3, 1, 6)
		whole, _ := framesFile(t, recs, 3, 1, 6)
		b := make([]byte, ends[2])
		if _, err := whole.ReadAt(b, 0); err != nil {
			t.Fatal(err)
		}
		for cut := range len(b) {
			n := 0
			for i, end := range ends {
				if end <= cut {
					n = []int{3, 4, 10}[i]
				}
			}
			want(t, seqs(t, writeJournalFile(t, b[:cut])), n)
		}
	})
	t.Run("damaged", func(t *testing.T) {
		whole, ends := framesFile(t, recs, 3, 1, 6)
		b := make([]byte, ends[2])
		whole.ReadAt(b, 0)
		for _, at := range []int{ends[0] + 1, ends[0] + 6, ends[0] + journalHeader + 2, ends[1] - 1} {
			d := append([]byte(nil), b...)
			d[at] ^= 0x40
			want(t, seqs(t, writeJournalFile(t, d)), 3)
		}
	})
	t.Run("after a Seq", func(t *testing.T) {
		// A reader at a start wants only what the store lacks: the
		// records after its head, a frame cut where the head falls.
		f, _ := framesFile(t, recs, 3, 1, 6)
		for _, c := range []struct {
			after int64
			want  []int64
		}{
			{0, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
			{2, []int64{3, 4, 5, 6, 7, 8, 9, 10}},
			{4, []int64{5, 6, 7, 8, 9, 10}},
			{9, []int64{10}},
			{10, nil},
		} {
			got, err := readJournal(f, c.after)
			if err != nil {
				t.Fatal(err)
			}
			var s []int64
			for _, r := range got {
				s = append(s, r.Seq)
			}
			if !slices.Equal(s, c.want) {
				t.Errorf("records after %d: %v, want %v", c.after, s, c.want)
			}
			if len(got) > 0 && got[0].RequestID != recs[got[0].Seq-1].RequestID {
				t.Errorf("record %d read back as %+v", got[0].Seq, got[0])
			}
		}
		// A frame that does not follow still ends the file, though the
		// records before it are not returned.
		b := appendFrame(nil, recs[:3])
		b = appendFrame(b, recs[3:4])
		b = appendFrame(b, recs[:2]) // an old frame
		b = appendFrame(b, recs[4:]) // not read: it follows no frame read
		got, err := readJournal(writeJournalFile(t, b), 3)
		if err != nil || len(got) != 1 || got[0].Seq != 4 {
			t.Fatalf("records after 3 of a file with an old frame = %d records, %v; want record 4 alone", len(got), err)
		}
	})
	t.Run("left from an earlier use", func(t *testing.T) {
		// Records 5..10 were written first; the file was then rewritten
		// from its start with 1..4 (in the journal, later Seqs overwrite
		// earlier ones; the order does not matter to the check).
		old := appendFrame(nil, recs[4:])
		b := appendFrame(nil, recs[:3])
		b = appendFrame(b, recs[3:4])
		stale := appendFrame(nil, recs[:2]) // a whole old frame that does not follow
		b = append(b, stale...)
		want(t, seqs(t, writeJournalFile(t, b)), 4)
		// The old file's frames alone still read.
		want6 := seqs(t, writeJournalFile(t, old))
		if len(want6) != 6 || want6[0] != 5 {
			t.Fatalf("old frames read as %v", want6)
		}
	})
}

// memLedger is the store behind a journal in this package's tests (the
// real one, SQLite, imports this package): records in memory.
type memLedger struct {
	mu   sync.Mutex
	recs []Record
	cps  []Checkpoint
}

func (m *memLedger) Head(context.Context) (Head, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.recs) == 0 {
		return Head{}, nil
	}
	r := m.recs[len(m.recs)-1]
	return Head{Seq: r.Seq, Hash: r.Hash}, nil
}
func (m *memLedger) AppendBuffered(_ context.Context, recs []Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.recs = append(m.recs, recs...)
	return nil
}
func (m *memLedger) Append(ctx context.Context, recs []Record) error {
	return m.AppendBuffered(ctx, recs)
}
func (m *memLedger) Sync(context.Context) error { return nil }
func (m *memLedger) Scan(context.Context, int64, func(*Record) error) error {
	return nil
}
func (m *memLedger) ScanRange(context.Context, int64, int64, func(*Record) error) error {
	return nil
}
func (m *memLedger) Find(context.Context, Filter, func(*Record) error) error { return nil }
func (m *memLedger) AddCheckpoint(_ context.Context, c Checkpoint) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cps = append(m.cps, c)
	return nil
}
func (m *memLedger) Checkpoints(context.Context) ([]Checkpoint, error)       { return nil, nil }
func (m *memLedger) Purge(context.Context, string, time.Time) (int64, error) { return 0, nil }
func (m *memLedger) ChainHash(context.Context) (string, error)               { return "", nil }
func (m *memLedger) SetChainHash(context.Context, string) error              { return nil }
func (m *memLedger) Ping(context.Context) error                              { return nil }
func (m *memLedger) Close() error                                            { return nil }

// A strict Write through a journal returns the journal's flush: when the
// fdatasync fails, the caller hears of it (its response must not say the
// record is safe), and a Write after the flush works again succeeds.
func TestStrictWriteWaitsForTheJournalsFlush(t *testing.T) {
	j, err := NewJournal(&memLedger{}, JournalConfig{Path: filepath.Join(t.TempDir(), "audit.journal")})
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	w, err := NewWriter(j, WriterConfig{Mode: Strict})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	rec := Record{Time: time.Now(), Category: CategoryAccess, Method: "GET", Path: "/x", Status: 200}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	// The file Sync flushes, closed: fdatasync fails (EBADF).
	good := j.curF.Load().(*os.File)
	bad, err := os.Open(good.Name())
	if err != nil {
		t.Fatal(err)
	}
	bad.Close()
	j.curF.Store(bad)
	if err := w.Write(rec); err == nil || !strings.Contains(err.Error(), "flush") {
		t.Fatalf("Write with the flush failing = %v, want the flush's error", err)
	}
	if st := w.Stats(); st.Failed != 1 || st.Written != 1 {
		t.Fatalf("stats %+v: want 1 written, 1 failed", st)
	}
	j.curF.Store(good)
	if err := w.Write(rec); err != nil {
		t.Fatalf("Write once the flush works again: %v", err)
	}
}

// A journal takes its files' room when it opens, and its frames then
// overwrite that room rather than grow the files: a full disk stops the
// node's start instead of a response, and a flush writes no file size.
// The files of an older obhub, which ended at their last frame, are
// extended and their records still move in.
func TestJournalReservesItsRoom(t *testing.T) {
	const segment = 64 << 10
	sizes := func(t *testing.T, path string) [2]int64 {
		t.Helper()
		var got [2]int64
		for i := range got {
			fi, err := os.Stat(journalFile(path, i))
			if err != nil {
				t.Fatal(err)
			}
			got[i] = fi.Size()
		}
		return got
	}
	open := func(t *testing.T, l *memLedger, path string) *Journal {
		t.Helper()
		j, err := NewJournal(l, JournalConfig{Path: path, SegmentSize: segment})
		if err != nil {
			t.Fatal(err)
		}
		if err := j.Open(t.Context()); err != nil {
			t.Fatal(err)
		}
		return j
	}

	t.Run("new", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "audit.journal")
		j := open(t, &memLedger{}, path)
		if got := sizes(t, path); got != [2]int64{segment, segment} {
			t.Fatalf("a new journal's files are %v bytes long, want %d each", got, segment)
		}
		recs := sealed(10)
		for i := range recs {
			if err := j.AppendBuffered(t.Context(), recs[i:i+1]); err != nil {
				t.Fatal(err)
			}
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
		if got := sizes(t, path); got != [2]int64{segment, segment} {
			t.Fatalf("after 10 records the files are %v bytes long, want still %d each", got, segment)
		}
		// The records are read back before the zeros: an empty ledger
		// gets all ten from the next Open.
		l := &memLedger{}
		open(t, l, path).Close()
		if len(l.recs) != 10 || l.recs[9].Seq != 10 {
			t.Fatalf("the next Open moved %d records into an empty ledger, want the 10 journaled", len(l.recs))
		}
	})
	t.Run("from an older obhub", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "audit.journal")
		frames := appendFrame(nil, sealed(10))
		if err := os.WriteFile(journalFile(path, 0), frames, 0o600); err != nil {
			t.Fatal(err)
		}
		l := &memLedger{}
		j := open(t, l, path)
		defer j.Close()
		if len(l.recs) != 10 || l.recs[9].Seq != 10 {
			t.Fatalf("Open moved %d records into the ledger, want the 10 journaled", len(l.recs))
		}
		if got := sizes(t, path); got != [2]int64{segment, segment} {
			t.Fatalf("the older journal's files are now %v bytes long, want %d each", got, segment)
		}
	})
}

// TestJournalWithoutRoomDoesNotOpen runs this test binary again as a
// process that may write no file past 1 MiB (RLIMIT_FSIZE; Go ignores
// SIGXFSZ, so the write fails as on a full disk) and opens a journal of
// 16 MiB files: Open fails, naming the file, before any record could
// be acknowledged.
func TestJournalWithoutRoomDoesNotOpen(t *testing.T) {
	if dir := os.Getenv("OBHUB_AUDIT_TEST_NO_ROOM"); dir != "" {
		if err := unix.Setrlimit(unix.RLIMIT_FSIZE, &unix.Rlimit{Cur: 1 << 20, Max: 1 << 20}); err != nil {
			fmt.Printf("setrlimit: %v\n", err)
			return
		}
		j, err := NewJournal(&memLedger{}, JournalConfig{Path: filepath.Join(dir, "audit.journal")})
		if err == nil {
			err = j.Open(t.Context())
		}
		fmt.Printf("open error: %v\n", err)
		return
	}
	dir := t.TempDir()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestJournalWithoutRoomDoesNotOpen$")
	cmd.Env = append(os.Environ(), "OBHUB_AUDIT_TEST_NO_ROOM="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child process: %v\n%s", err, out)
	}
	want := "open error: audit journal: reserve 16777216 bytes for " + filepath.Join(dir, "audit.journal.0")
	if !strings.Contains(string(out), want) {
		t.Fatalf("child process output:\n%s\nwant %q", out, want)
	}
}

// tailLedger keeps only its last record: a store that costs next to
// nothing, to measure the journal's own cost.
type tailLedger struct{ memLedger }

func (m *tailLedger) AppendBuffered(_ context.Context, recs []Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.recs = append(m.recs[:0], recs[len(recs)-1])
	return nil
}

func (m *tailLedger) Append(ctx context.Context, recs []Record) error {
	return m.AppendBuffered(ctx, recs)
}

// BenchmarkWrittenJournal is what a record costs in written mode through
// the journal, the default on a single node; its bytes per operation
// show whether the journal's hand-off to the store reuses its arrays
// (about 1 KB per record more when it did not).
func BenchmarkWrittenJournal(b *testing.B) {
	ctx := context.Background()
	j, err := NewJournal(&tailLedger{}, JournalConfig{Path: filepath.Join(b.TempDir(), "audit.journal")})
	if err != nil {
		b.Fatal(err)
	}
	if err := j.Open(ctx); err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	w, err := NewWriter(j, WriterConfig{Mode: Written})
	if err != nil {
		b.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	rec := Record{Time: time.Now(), Category: CategoryAccess, Method: "GET", Path: "/bank/v1/accounts", Status: 200, ClientID: "app_bench", Partner: "bench"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := w.Write(rec); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
