package audit_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/obhub/obhub/audit"
	"github.com/obhub/obhub/audit/audittest"
)

// While the store is down, strict writes succeed once the records are in
// the local spool; when the store is back they are drained in order,
// nothing lost or duplicated, and the chain verifies.
func TestSpoolWhileStoreDown(t *testing.T) {
	s := &memStore{}
	sp := audit.NewSpool(filepath.Join(t.TempDir(), "audit-spool.jsonl"))
	signer := audittest.NewSigner(t)
	w, err := audit.NewWriter(s, audit.WriterConfig{Spool: sp, Signer: signer, DrainEvery: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	recs := audittest.Generate(30, audittest.Base)
	for _, r := range recs[:5] {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	s.setDown(true)
	for _, r := range recs[5:25] {
		if err := w.Write(r); err != nil {
			t.Fatalf("strict write while the store is down: %v", err)
		}
	}
	if st := w.Stats(); st.Pending != 20 || st.Spooled != 20 || s.len() != 5 {
		t.Fatalf("while down: stats %+v, store has %d", st, s.len())
	}
	s.setDown(false)
	for _, r := range recs[25:] {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if s.len() != 30 {
		t.Fatalf("store has %d records, want 30", s.len())
	}
	for i, r := range s.recs {
		if r.Seq != int64(i+1) || r.RequestID != recs[i].RequestID {
			t.Fatalf("record %d: seq %d request %q, want %q", i, r.Seq, r.RequestID, recs[i].RequestID)
		}
	}
	res, err := audit.Verify(context.Background(), s, audit.VerifyOptions{Keys: signer.Public()})
	if err != nil || !res.OK || res.Records != 30 || res.Checkpoints == 0 {
		t.Fatalf("verify: %+v %v", res, err)
	}
	if st := w.Stats(); st.Pending != 0 || st.Drained != st.Spooled || st.Written+st.Drained != 30 || st.Failed != 0 {
		t.Errorf("stats after recovery %+v", w.Stats())
	}
}

// A node stopped during the outage keeps its spool; the next start
// drains it once, and a record the store took before the crash (its Seq
// already there) is not written twice. A torn last line is cut off.
func TestSpoolSurvivesRestart(t *testing.T) {
	s := &memStore{}
	path := filepath.Join(t.TempDir(), "audit-spool.jsonl")
	w, _ := audit.NewWriter(s, audit.WriterConfig{Spool: audit.NewSpool(path)})
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	recs := audittest.Generate(12, audittest.Base)
	for _, r := range recs[:2] {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	s.setDown(true)
	for _, r := range recs[2:8] {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// The store took the first spooled record after all (ambiguous commit).
	s.setDown(false)
	var first audit.Record
	sp := audit.NewSpool(path)
	if err := sp.Open(); err != nil {
		t.Fatal(err)
	}
	if _, err := sp.Drain(context.Background(), &peek{fn: func(r audit.Record) { first = r }}, 1); err == nil {
		t.Fatal("peek drained")
	}
	sp.Close()
	if err := s.Append(context.Background(), []audit.Record{first}); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"r":{"seq":9,"ti`) // a crash in the middle of a line
	f.Close()

	w2, _ := audit.NewWriter(s, audit.WriterConfig{Spool: audit.NewSpool(path)})
	if err := w2.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, r := range recs[8:] {
		if err := w2.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w2.Close(); err != nil {
		t.Fatal(err)
	}
	if s.len() != 12 {
		t.Fatalf("store has %d records, want 12", s.len())
	}
	if res, err := audit.Verify(context.Background(), s, audit.VerifyOptions{}); err != nil || !res.OK || res.Records != 12 {
		t.Fatalf("verify: %+v %v", res, err)
	}
}

// peek is a store that shows Drain's first record and refuses it.
type peek struct {
	memStore
	fn func(audit.Record)
}

func (p *peek) Append(_ context.Context, recs []audit.Record) error {
	p.fn(recs[0])
	return context.Canceled
}
