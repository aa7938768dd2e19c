package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/obhub/obhub/audit"
	"github.com/obhub/obhub/audit/audittest"
	"github.com/obhub/obhub/store/sqlite"
	"github.com/obhub/obhub/store/sqlite/sqlitetest"
)

func openAudit(t testing.TB, path string, opts ...sqlite.AuditOption) *sqlite.AuditStore {
	t.Helper()
	s := sqlite.NewAudit(path, opts...)
	if err := s.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestAuditStore(t *testing.T) {
	audittest.Run(t, func(t testing.TB) audit.Store {
		return openAudit(t, filepath.Join(t.TempDir(), "audit.db"))
	})
}

// A second writer on the same file is refused; readers are not.
func TestAuditStoreOneWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	openAudit(t, path)
	second := sqlite.NewAudit(path)
	defer second.Close()
	if err := second.Open(context.Background()); err == nil {
		t.Fatal("a second writer opened the audit store")
	}
	ro := openAudit(t, path, sqlite.ReadOnly())
	if _, err := ro.Head(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := ro.Append(context.Background(), []audit.Record{{Seq: 1}}); err == nil {
		t.Fatal("a read-only store appended")
	}
}

// Tampering with the file the way an intruder with write access would is
// caught by Verify, which names the first bad record; an untouched ledger
// verifies.
func TestAuditTamperingDetected(t *testing.T) {
	ctx := context.Background()
	signer := audittest.NewSigner(t)
	at := func(recs []audit.Record, seq int64) *audit.Record { return &recs[seq-1] }
	cases := []struct {
		name       string
		edit       func(recs []audit.Record) []audit.Record // what an intruder does to the records
		checkpoint string                                   // SQL run against the checkpoints
		wantSeq    int64
		want       string
	}{
		{name: "untouched"},
		{name: "edit", edit: func(recs []audit.Record) []audit.Record {
			at(recs, 57).Status = 200
			return recs
		}, wantSeq: 57, want: "edited"},
		{name: "edit captured body", edit: func(recs []audit.Record) []audit.Record {
			at(recs, 42).ResponseBody = "{}"
			return recs
		}, wantSeq: 42, want: "edited"},
		{name: "delete", edit: func(recs []audit.Record) []audit.Record {
			return slices.Delete(recs, 119, 120)
		}, wantSeq: 121, want: "deleted"},
		{name: "insert", edit: func(recs []audit.Record) []audit.Record {
			forged := *at(recs, 79)
			forged.Seq, forged.RequestID = 80, "forged"
			for i := 79; i < len(recs); i++ {
				recs[i].Seq++
			}
			return slices.Insert(recs, 79, forged)
		}, wantSeq: 80, want: "inserted"},
		{name: "reorder", edit: func(recs []audit.Record) []audit.Record {
			a, b := at(recs, 30), at(recs, 31)
			*a, *b = *b, *a
			a.Seq, b.Seq = 30, 31
			return recs
		}, wantSeq: 30, want: ""},
		{name: "truncate", edit: func(recs []audit.Record) []audit.Record {
			return recs[:250]
		}, wantSeq: 251, want: "truncated"},
		{name: "rebuild", edit: func(recs []audit.Record) []audit.Record {
			r := at(recs, 94)
			r.Status, r.Decision, r.Reason = 200, "allow", ""
			// The intruder knows the algorithm, not the checkpoint key.
			return audit.Reseal(recs, "sha256")
		}, wantSeq: 100, want: "rebuilt"},
		{name: "forged checkpoint", checkpoint: "UPDATE audit_checkpoints SET seq = seq + 1 WHERE seq = 100", wantSeq: 101, want: "signature"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.db")
			s := sqlite.NewAudit(path)
			if err := s.Open(ctx); err != nil {
				t.Fatal(err)
			}
			audittest.Fill(t, s, signer, audittest.Generate(300, audittest.Base))
			s.Close()

			if c.edit != nil {
				sqlitetest.EditAuditLedger(t, path, c.edit)
			}
			if c.checkpoint != "" {
				db, err := sql.Open("sqlite", path)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := db.Exec(c.checkpoint); err != nil {
					t.Fatalf("%s: %v", c.checkpoint, err)
				}
				db.Close()
			}

			ro := openAudit(t, path, sqlite.ReadOnly())
			res, err := audit.Verify(ctx, ro, audit.VerifyOptions{Keys: signer.Public()})
			if err != nil {
				t.Fatal(err)
			}
			if c.wantSeq == 0 {
				if !res.OK || res.Records != 300 || res.FirstBad != nil {
					t.Fatalf("untouched ledger: %+v", res)
				}
				return
			}
			if res.OK || res.FirstBad == nil {
				t.Fatalf("tampering not detected: %+v", res)
			}
			if res.FirstBad.Seq != c.wantSeq || !strings.Contains(res.FirstBad.Problem, c.want) {
				t.Fatalf("first bad = %+v; want record %d, problem mentioning %q", res.FirstBad, c.wantSeq, c.want)
			}
		})
	}
}

// Verify reads a million records in under ten seconds.
func TestAuditVerifyMillion(t *testing.T) {
	if testing.Short() {
		t.Skip("a million records: skipped with -short")
	}
	ctx := context.Background()
	s := openAudit(t, filepath.Join(t.TempDir(), "audit.db"))
	const n, batch = 1_000_000, 10_000
	base := audittest.Generate(batch, audittest.Base)
	recs := make([]audit.Record, batch)
	var head audit.Head
	for done := 0; done < n; done += batch {
		for i := range recs {
			recs[i] = base[i]
			recs[i].Time = base[i].Time.Add(time.Duration(done) * time.Second)
		}
		head = audit.SealAfter(recs, head, "sha256")
		if err := s.Append(ctx, recs); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	res, err := audit.Verify(ctx, s, audit.VerifyOptions{})
	took := time.Since(start)
	if err != nil || !res.OK || res.Records != n {
		t.Fatalf("Verify = %+v, %v", res, err)
	}
	t.Logf("verified %d records in %v", n, took)
	if took > 10*time.Second {
		t.Errorf("Verify of %d records took %v, want under 10s", n, took)
	}
}
