// Package audittest is the conformance suite every audit.Store runs, and
// helpers to fill a store with chained records.
package audittest

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/audit"
)

// Factory returns a new, empty, open store; the suite closes nothing, so
// register cleanup in the factory.
type Factory func(t testing.TB) audit.Store

// Base is the time of the first generated record.
var Base = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

// Generate returns n records as the gateway would make them, one second
// apart from start, across two banks, three partners and mixed outcomes.
func Generate(n int, start time.Time) []audit.Record {
	banks := []string{"qingshan-rcb", "hexi-rcc"}
	partnersList := []string{"agrifin", "farmpay", "ruralcredit"}
	out := make([]audit.Record, n)
	for i := range out {
		status, decision, reason := 200, "allow", ""
		switch i % 10 {
		case 3:
			status, decision, reason = 401, "deny", "token_missing"
		case 6:
			status, decision, reason = 403, "deny", "not_subscribed"
		case 9:
			status, decision, reason = 404, "reject", "no_such_route"
		}
		cat, method := audit.CategoryAccess, "GET"
		if i%7 == 5 && decision == "allow" {
			cat, method = audit.CategoryPayment, "POST"
		}
		bank := banks[i%len(banks)]
		out[i] = audit.Record{
			Time:        start.Add(time.Duration(i) * time.Second),
			Category:    cat,
			RequestID:   fmt.Sprintf("req-%07d", i),
			Bank:        bank,
			API:         bank + "-accounts",
			Operation:   "listAccounts",
			Method:      method,
			Path:        "/" + bank + "/open-banking/accounts/v1/accounts",
			Query:       "page=1",
			ClientID:    fmt.Sprintf("client-%d", i%5),
			Partner:     partnersList[i%len(partnersList)],
			Environment: "production",
			Status:      status,
			Latency:     time.Duration(1+i%50) * time.Millisecond,
			Decision:    decision,
			Reason:      reason,
			Revision:    int64(1 + i/100),
		}
	}
	return out
}

// Fill writes recs through a strict Writer and returns after they are
// durable.
func Fill(t testing.TB, s audit.Store, signer *audit.Signer, recs []audit.Record) {
	t.Helper()
	w, err := audit.NewWriter(s, audit.WriterConfig{Signer: signer, CheckpointEvery: 100})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// NewSigner returns a throwaway checkpoint signer.
func NewSigner(t testing.TB) *audit.Signer {
	t.Helper()
	_, k, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return audit.NewSigner(k)
}

// Run runs the conformance suite against stores from newStore.
func Run(t *testing.T, newStore Factory) {
	ctx := context.Background()

	t.Run("EmptyHead", func(t *testing.T) {
		s := newStore(t)
		h, err := s.Head(ctx)
		if err != nil || h.Seq != 0 || len(h.Hash) != 0 {
			t.Fatalf("Head of an empty store = %+v, %v; want zero", h, err)
		}
		res, err := audit.Verify(ctx, s, audit.VerifyOptions{})
		if err != nil || !res.OK || res.Records != 0 {
			t.Fatalf("Verify of an empty store = %+v, %v", res, err)
		}
	})

	t.Run("RoundTripAndVerify", func(t *testing.T) {
		s := newStore(t)
		signer := NewSigner(t)
		recs := Generate(250, Base)
		recs[7].Query = "phone=13812345678&amount=3860.00"
		recs[8].Category, recs[8].Actor, recs[8].Object = audit.CategoryAdmin, "operator", "banks/x"
		recs[8].Before, recs[8].After = `{"id":"x","name":"X"}`, `{"id":"x","name":"Y"}`
		recs[9].Environment = "sandbox"
		recs[9].RequestBody, recs[9].ResponseBody = `{"amount":"3860.00","card":"6228480402564890018"}`, `{"paymentId":"p-1"}`
		Fill(t, s, signer, recs)
		h, err := s.Head(ctx)
		if err != nil || h.Seq != 250 {
			t.Fatalf("Head = %+v, %v; want seq 250", h, err)
		}
		var got []audit.Record
		err = s.Scan(ctx, 1, func(r *audit.Record) error {
			c := *r
			got = append(got, c)
			return nil
		})
		if err != nil || len(got) != 250 {
			t.Fatalf("Scan: %d records, %v", len(got), err)
		}
		for i := range got {
			if got[i].Seq != int64(i+1) || got[i].RequestID != recs[i].RequestID {
				t.Fatalf("record %d = seq %d %q, want seq %d %q", i, got[i].Seq, got[i].RequestID, i+1, recs[i].RequestID)
			}
			want := recs[i]
			want.Time = want.Time.UTC()
			g := got[i]
			g.Seq, g.Digest, g.Hash = 0, nil, nil
			switch i {
			case 7:
				want.Query = "phone=138****5678&amount=3860.00"
			case 9:
				want.RequestBody = `{"amount":"3860.00","card":"622848*********0018"}`
			}
			if !reflect.DeepEqual(g, want) {
				t.Fatalf("record %d read back as\n%+v\nwant\n%+v", i+1, g, want)
			}
		}
		res, err := audit.Verify(ctx, s, audit.VerifyOptions{Keys: signer.Public()})
		if err != nil || !res.OK || res.Records != 250 || res.Checkpoints < 2 {
			t.Fatalf("Verify = %+v, %v; want ok over 250 records with checkpoints", res, err)
		}
		// From the middle.
		n := 0
		if err := s.Scan(ctx, 200, func(r *audit.Record) error { n++; return nil }); err != nil || n != 51 {
			t.Fatalf("Scan from 200: %d records, %v; want 51", n, err)
		}
	})

	t.Run("AppendRefusesGapsAndReplays", func(t *testing.T) {
		s := newStore(t)
		Fill(t, s, nil, Generate(3, Base))
		for _, seq := range []int64{3, 5} {
			err := s.Append(ctx, []audit.Record{{Seq: seq, Time: Base, Category: audit.CategoryAccess, Digest: []byte{1}, Hash: []byte{1}}})
			if obhub.ErrorCode(err) != obhub.ECONFLICT {
				t.Errorf("Append of seq %d after head 3: %v; want ECONFLICT", seq, err)
			}
		}
		if h, _ := s.Head(ctx); h.Seq != 3 {
			t.Errorf("head moved to %d", h.Seq)
		}
	})

	t.Run("Find", func(t *testing.T) {
		s := newStore(t)
		Fill(t, s, nil, Generate(100, Base))
		count := func(f audit.Filter) (n int, first int64) {
			t.Helper()
			err := s.Find(ctx, f, func(r *audit.Record) error {
				if n == 0 {
					first = r.Seq
				}
				n++
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			return n, first
		}
		cases := []struct {
			name  string
			f     audit.Filter
			n     int
			first int64
		}{
			{"all newest first", audit.Filter{}, 100, 100},
			{"oldest first", audit.Filter{OldestFirst: true}, 100, 1},
			{"limit", audit.Filter{Limit: 10}, 10, 100},
			{"cursor", audit.Filter{BeforeSeq: 51, Limit: 10}, 10, 50},
			{"time range", audit.Filter{From: Base.Add(10 * time.Second), To: Base.Add(20 * time.Second)}, 10, 20},
			{"bank", audit.Filter{Bank: "hexi-rcc"}, 50, 100},
			{"partner", audit.Filter{Partner: "agrifin"}, 34, 100},
			{"client", audit.Filter{ClientID: "client-0"}, 20, 96},
			{"api", audit.Filter{API: "qingshan-rcb-accounts"}, 50, 99},
			{"status", audit.Filter{Status: 401}, 10, 94},
			{"decision", audit.Filter{Decision: "deny"}, 20, 97},
			{"request id", audit.Filter{RequestID: "req-0000042"}, 1, 43},
			{"bank and status", audit.Filter{Bank: "qingshan-rcb", Status: 404}, 0, 0},
			{"category", audit.Filter{Category: audit.CategoryPayment}, 9, 83},
		}
		for _, c := range cases {
			n, first := count(c.f)
			if n != c.n || first != c.first {
				t.Errorf("%s: %d records, first seq %d; want %d, %d", c.name, n, first, c.n, c.first)
			}
		}
	})

	t.Run("PurgeKeepsTheChainVerifiable", func(t *testing.T) {
		s := newStore(t)
		signer := NewSigner(t)
		Fill(t, s, signer, Generate(300, Base))
		cut := Base.Add(150 * time.Second)
		n, err := s.Purge(ctx, audit.CategoryAccess, cut)
		if err != nil {
			t.Fatal(err)
		}
		var access int64
		for _, r := range Generate(150, Base) {
			if r.Category == audit.CategoryAccess {
				access++
			}
		}
		if n != access {
			t.Errorf("Purge removed %d records, want %d", n, access)
		}
		res, err := audit.Verify(ctx, s, audit.VerifyOptions{Keys: signer.Public()})
		if err != nil || !res.OK || res.Records != 300 || res.Purged != access {
			t.Fatalf("Verify after purge = %+v, %v", res, err)
		}
		// Purged records are no longer found; payments before the cut are.
		found := 0
		_ = s.Find(ctx, audit.Filter{To: cut}, func(r *audit.Record) error {
			found++
			if r.Category != audit.CategoryPayment {
				t.Errorf("found purged record %d (%s)", r.Seq, r.Category)
			}
			return nil
		})
		if int64(found) != 150-access {
			t.Errorf("found %d records before the cut, want %d", found, 150-access)
		}
	})

	for _, mode := range []audit.Mode{audit.Strict, audit.Written} {
		t.Run("ConcurrentWriters/"+string(mode), func(t *testing.T) {
			concurrentWriters(t, newStore(t), mode)
		})
	}

	t.Run("StrictWaitsForTheFlush", func(t *testing.T) {
		s := newStore(t)
		b, ok := s.(audit.BufferedAppender)
		if !ok {
			t.Skip("the store has no buffered appends")
		}
		strictWaitsForTheFlush(t, &syncWatch{Store: s, b: b})
	})

	t.Run("WrittenFlushesBehind", func(t *testing.T) {
		s := newStore(t)
		b, ok := s.(audit.BufferedAppender)
		if !ok {
			t.Skip("the store has no buffered appends")
		}
		writtenFlushesBehind(t, &syncWatch{Store: s, b: b, gate: make(chan struct{})})
	})

	t.Run("CheckpointsRoundTrip", func(t *testing.T) {
		s := newStore(t)
		signer := NewSigner(t)
		cp := audit.Checkpoint{Seq: 0, Hash: nil, Time: Base, Algorithm: "sha256"}
		signer.Sign(&cp)
		if err := s.AddCheckpoint(ctx, cp); err != nil {
			t.Fatal(err)
		}
		got, err := s.Checkpoints(ctx)
		if err != nil || len(got) != 1 || !signer.Public().Verify(&got[0]) {
			t.Fatalf("Checkpoints = %+v, %v; want the signed one back", got, err)
		}
	})
}

// syncWatch is a BufferedAppender store, watched: it remembers the last
// Seq appended and the last Seq a Sync covered. A Sync waits for gate to
// close, when there is one.
type syncWatch struct {
	audit.Store
	b                audit.BufferedAppender
	appended, synced atomic.Int64
	syncs            atomic.Int64
	gate             chan struct{}
}

func (s *syncWatch) AppendBuffered(ctx context.Context, recs []audit.Record) error {
	if err := s.b.AppendBuffered(ctx, recs); err != nil {
		return err
	}
	s.appended.Store(recs[len(recs)-1].Seq)
	return nil
}

func (s *syncWatch) Sync(ctx context.Context) error {
	upTo := s.appended.Load() // what this flush covers: appended before it started
	if s.gate != nil {
		<-s.gate
	}
	if err := s.b.Sync(ctx); err != nil {
		return err
	}
	s.syncs.Add(1)
	s.synced.Store(upTo)
	return nil
}

// strictWaitsForTheFlush: in strict mode a request's Write returns only
// once a flush has covered its record, although the writer appends the
// next batch while the previous one is flushed; flushes are shared by
// many records.
func strictWaitsForTheFlush(t *testing.T, s *syncWatch) {
	ctx := context.Background()
	w := startWriter(t, s, audit.Strict)
	recs := Generate(600, Base)
	var wg sync.WaitGroup
	errs := make(chan error, len(recs))
	for g := range 30 {
		wg.Go(func() {
			for i := g; i < len(recs); i += 30 {
				if err := w.Write(recs[i]); err != nil {
					errs <- err
					return
				}
				var seq int64
				if err := s.Find(ctx, audit.Filter{RequestID: recs[i].RequestID}, func(r *audit.Record) error { seq = r.Seq; return nil }); err != nil || seq == 0 {
					errs <- fmt.Errorf("record %s not found after Write: %v", recs[i].RequestID, err)
					return
				}
				if synced := s.synced.Load(); synced < seq {
					errs <- fmt.Errorf("Write of record %d returned before a flush covered it (flushed through %d)", seq, synced)
					return
				}
			}
		})
	}
	closeAfter(t, w, &wg, errs)
	if st := w.Stats(); st.Written != 600 || s.syncs.Load() >= 600 {
		t.Errorf("written %d with %d flushes; want 600 records sharing flushes", st.Written, s.syncs.Load())
	}
	res, err := audit.Verify(ctx, s, audit.VerifyOptions{})
	if err != nil || !res.OK || res.Records != 600 {
		t.Fatalf("Verify = %+v, %v", res, err)
	}
}

// writtenFlushesBehind: in written mode a Write returns once its record
// is appended, while no flush has completed (the disk stalls); the
// flushes then catch up behind, shared by many records, and Close
// returns only once every record is flushed.
func writtenFlushesBehind(t *testing.T, s *syncWatch) {
	ctx := context.Background()
	w := startWriter(t, s, audit.Written)
	recs := Generate(200, Base)
	wrote := make(chan error, 1)
	go func() {
		for i, r := range recs {
			if err := w.Write(r); err != nil {
				wrote <- err
				return
			}
			if got := s.appended.Load(); got != int64(i+1) {
				wrote <- fmt.Errorf("Write %d returned with %d records appended", i+1, got)
				return
			}
		}
		wrote <- nil
	}()
	select {
	case err := <-wrote:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		close(s.gate)
		t.Fatalf("Writes wait for a flush: %d of 200 records appended", s.appended.Load())
	}
	if n := s.syncs.Load(); n != 0 {
		t.Fatalf("%d flushes completed while the disk stalled", n)
	}
	if st := w.Stats(); st.Waits != 200 || st.Written != 0 {
		t.Errorf("before any flush: %d waits, %d written; want 200 waits, 0 written (durable)", st.Waits, st.Written)
	}
	close(s.gate) // the disk answers again
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := s.synced.Load(); got != 200 {
		t.Errorf("after Close, flushed through %d, want 200", got)
	}
	if st := w.Stats(); st.Written != 200 || st.Flushes >= 200 {
		t.Errorf("written %d with %d flushes; want 200 records sharing flushes", st.Written, st.Flushes)
	}
	res, err := audit.Verify(ctx, s, audit.VerifyOptions{})
	if err != nil || !res.OK || res.Records != 200 {
		t.Fatalf("Verify = %+v, %v", res, err)
	}
}

// concurrentWriters: many Writes at once (strict or written mode) each
// find their record in the store when they return, and the chain verifies.
func concurrentWriters(t *testing.T, s audit.Store, mode audit.Mode) {
	ctx := context.Background()
	w := startWriter(t, s, mode)
	recs := Generate(400, Base)
	var wg sync.WaitGroup
	errs := make(chan error, len(recs))
	for i := range recs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.Write(recs[i]); err != nil {
				errs <- err
				return
			}
			// Stored when Write returns (durable, or written): the store
			// already has it.
			found := false
			err := s.Find(ctx, audit.Filter{RequestID: recs[i].RequestID}, func(*audit.Record) error { found = true; return nil })
			if err != nil || !found {
				errs <- fmt.Errorf("record %s not in the store after Write returned (%v)", recs[i].RequestID, err)
			}
		}()
	}
	closeAfter(t, w, &wg, errs)
	st := w.Stats()
	if st.Written != 400 || st.Batches >= 400 {
		t.Logf("stats %+v", st)
	}
	if st.Written != 400 {
		t.Errorf("written %d, want 400", st.Written)
	}
	res, err := audit.Verify(ctx, s, audit.VerifyOptions{})
	if err != nil || !res.OK || res.Records != 400 {
		t.Fatalf("Verify = %+v, %v", res, err)
	}
}

// closeAfter waits for a test's writing goroutines, reports every error
// they sent, then closes w.
func closeAfter(t *testing.T, w *audit.Writer, wg *sync.WaitGroup, errs chan error) {
	t.Helper()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// startWriter starts a writer in mode on s.
func startWriter(t *testing.T, s audit.Store, mode audit.Mode) *audit.Writer {
	t.Helper()
	w, err := audit.NewWriter(s, audit.WriterConfig{Mode: mode})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return w
}
