package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Spool is a durable local queue of chained records that the store would
// not take (the shared database down): an append-only file of JSON lines,
// synced before Put returns, read back in order by Drain. Records keep the
// Seq and Hash they were sealed with, so draining is idempotent: a record
// whose Seq the store already holds is skipped, never written twice.
//
// Only the Writer's goroutine uses a Spool; its methods are still safe for
// concurrent use so that Stats may read it.
type Spool struct {
	path string

	mu   sync.Mutex // held by Put, Drain and Open; Pending does not wait for it
	f    *os.File
	tail Head // last record in the file

	pending atomic.Int64 // records in the file
	oldest  atomic.Int64 // Time (Unix ns) of the first record in the file
}

// spoolLine is one line of the spool file: the record, with its latency
// (which Record's JSON leaves out).
type spoolLine struct {
	Rec       Record `json:"r"`
	LatencyUS int64  `json:"latencyUs"`
}

// NewSpool returns a spool kept in the file at path. It does no I/O.
func NewSpool(path string) *Spool { return &Spool{path: path} }

// Open opens (or creates, mode 0600) the spool file and reads what it
// holds. A torn last line (a crash while it was written, so never
// acknowledged) is cut off.
func (s *Spool) Open() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f != nil {
		return nil
	}
	f, err := os.OpenFile(s.path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("audit spool: %w", err)
	}
	good, n, oldest, tail, err := scanSpool(f, nil)
	if err != nil {
		f.Close()
		return fmt.Errorf("audit spool %s: %w", s.path, err)
	}
	if err := f.Truncate(good); err != nil {
		f.Close()
		return fmt.Errorf("audit spool: %w", err)
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return fmt.Errorf("audit spool: %w", err)
	}
	s.f, s.tail = f, tail
	s.pending.Store(n)
	s.oldest.Store(oldest.UnixNano())
	return nil
}

// scanSpool reads every complete line of f from its start, calling fn
// (when not nil) for each record. It returns the length of the complete
// lines, how many there are, the first one's Time and the last one's head.
func scanSpool(f *os.File, fn func(r Record) error) (good, n int64, oldest time.Time, tail Head, err error) {
	if _, err = f.Seek(0, io.SeekStart); err != nil {
		return
	}
	br := bufio.NewReaderSize(f, 1<<16)
	for {
		line, rerr := br.ReadBytes('\n')
		if rerr == io.EOF || (rerr == nil && len(bytes.TrimSpace(line)) == 0) {
			if rerr == io.EOF {
				return good, n, oldest, tail, nil // a torn last line is not counted
			}
			good += int64(len(line))
			continue
		}
		if rerr != nil {
			return good, n, oldest, tail, rerr
		}
		var l spoolLine
		if jerr := json.Unmarshal(line, &l); jerr != nil {
			// Only the last line may be torn; a bad line followed by more is damage.
			if _, perr := br.Peek(1); perr == io.EOF {
				return good, n, oldest, tail, nil
			}
			return good, n, oldest, tail, fmt.Errorf("line %d: %w", n+1, jerr)
		}
		r := l.Rec
		r.Latency = time.Duration(l.LatencyUS) * time.Microsecond
		r.Time = r.Time.UTC()
		if n == 0 {
			oldest = r.Time
		}
		n++
		tail = Head{Seq: r.Seq, Hash: r.Hash}
		good += int64(len(line))
		if fn != nil {
			if err = fn(r); err != nil {
				return
			}
		}
	}
}

// Put appends recs and syncs the file: when it returns nil they survive a
// crash.
func (s *Spool) Put(recs []Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return errors.New("audit spool: not open")
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for i := range recs {
		if err := enc.Encode(spoolLine{Rec: recs[i], LatencyUS: recs[i].Latency.Microseconds()}); err != nil {
			return fmt.Errorf("audit spool: %w", err)
		}
	}
	if _, err := s.f.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("audit spool: %w", err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("audit spool: %w", err)
	}
	if s.pending.Load() == 0 && len(recs) > 0 {
		s.oldest.Store(recs[0].Time.UnixNano())
	}
	s.pending.Add(int64(len(recs)))
	if len(recs) > 0 {
		s.tail = Head{Seq: recs[len(recs)-1].Seq, Hash: recs[len(recs)-1].Hash}
	}
	return nil
}

// Pending returns how many records wait in the spool, and the Time of the
// oldest.
func (s *Spool) Pending() (int64, time.Time) {
	n := s.pending.Load()
	if n == 0 {
		return 0, time.Time{}
	}
	return n, time.Unix(0, s.oldest.Load()).UTC()
}

// Tail returns the last spooled record's Seq and Hash (zero when empty).
func (s *Spool) Tail() Head {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tail
}

// Drain appends the spooled records to store in order, batch records at a
// time, skipping those whose Seq the store already holds, and empties the
// spool once all are in. It returns how many it appended; on an error the
// spool keeps every record (the ones appended are skipped next time).
func (s *Spool) Drain(ctx context.Context, store Store, batch int) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil || s.pending.Load() == 0 {
		return 0, nil
	}
	head, err := store.Head(ctx)
	if err != nil {
		return 0, err
	}
	var appended int64
	recs := make([]Record, 0, batch)
	flush := func() error {
		if len(recs) == 0 {
			return nil
		}
		err := store.Append(ctx, recs)
		if err != nil {
			// The store may have taken them before failing to answer.
			last := recs[len(recs)-1]
			if h, herr := store.Head(ctx); herr != nil || h.Seq != last.Seq || !bytes.Equal(h.Hash, last.Hash) {
				return err
			}
		}
		appended += int64(len(recs))
		head = Head{Seq: recs[len(recs)-1].Seq, Hash: recs[len(recs)-1].Hash}
		recs = recs[:0]
		return nil
	}
	_, _, _, _, err = scanSpool(s.f, func(r Record) error {
		if r.Seq <= head.Seq {
			if r.Seq == head.Seq && !bytes.Equal(r.Hash, head.Hash) {
				return fmt.Errorf("audit spool: record %d differs from the stored one; the spool is kept for inspection", r.Seq)
			}
			return nil // already stored
		}
		recs = append(recs, r)
		if len(recs) == batch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		_, _ = s.f.Seek(0, io.SeekEnd)
		return appended, err
	}
	if err := s.f.Truncate(0); err != nil {
		return appended, fmt.Errorf("audit spool: %w", err)
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return appended, fmt.Errorf("audit spool: %w", err)
	}
	if err := s.f.Sync(); err != nil {
		return appended, fmt.Errorf("audit spool: %w", err)
	}
	s.tail = Head{}
	s.pending.Store(0)
	return appended, nil
}

// Close closes the file. It is idempotent.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}
