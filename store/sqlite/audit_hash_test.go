package sqlite_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/obhub/obhub/audit"
	"github.com/obhub/obhub/audit/audittest"
	"github.com/obhub/obhub/store/sqlite"
	"github.com/obhub/obhub/store/sqlite/sqlitetest"
)

// TestAuditSM3: a ledger chained with SM3 records it, verifies without
// being told (and with a SHA-256 writer refused), and still detects an
// edited record.
func TestAuditSM3(t *testing.T) {
	ctx := context.Background()
	signer := audittest.NewSigner(t)
	path := filepath.Join(t.TempDir(), "audit.db")
	s := sqlite.NewAudit(path)
	if err := s.Open(ctx); err != nil {
		t.Fatal(err)
	}
	w, err := audit.NewWriter(s, audit.WriterConfig{Hash: "sm3", Signer: signer, CheckpointEvery: 50})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for _, r := range audittest.Generate(120, audittest.Base) {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if name, err := s.ChainHash(ctx); err != nil || name != "sm3" {
		t.Fatalf("recorded chain hash %q, %v; want sm3", name, err)
	}
	// A writer with another hash function would break the chain.
	w2, err := audit.NewWriter(s, audit.WriterConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w2.Start(ctx); err == nil || !strings.Contains(err.Error(), "--audit-hash sm3") {
		t.Errorf("a sha256 writer on an sm3 ledger started: %v", err)
		w2.Close()
	}
	s.Close()

	ro := openAudit(t, path, sqlite.ReadOnly())
	res, err := audit.Verify(ctx, ro, audit.VerifyOptions{Keys: signer.Public()})
	if err != nil || !res.OK || res.Records != 120 {
		t.Fatalf("verify the sm3 ledger: %+v, %v", res, err)
	}
	if res, err := audit.Verify(ctx, ro, audit.VerifyOptions{Hash: "sha256"}); err != nil || res.OK {
		t.Errorf("the sm3 chain verifies as sha256: %+v, %v", res, err)
	}
	ro.Close()

	sqlitetest.EditAuditLedger(t, path, func(recs []audit.Record) []audit.Record {
		recs[76].Status = 200 // record 77
		return recs
	})
	ro = openAudit(t, path, sqlite.ReadOnly())
	res, err = audit.Verify(ctx, ro, audit.VerifyOptions{Keys: signer.Public()})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK || res.FirstBad == nil || res.FirstBad.Seq != 77 || !strings.Contains(res.FirstBad.Problem, "edited") {
		t.Errorf("an edit of record 77 in the sm3 ledger: %+v", res.FirstBad)
	}
}
