package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/obhub/obhub/audit"
	"github.com/obhub/obhub/audit/audittest"
	"github.com/obhub/obhub/store/sqlite"
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

// A ledger written before captured bodies had columns of their own (schema
// version 1) opens, gains the columns, still verifies against its signed
// checkpoints, and takes new records with bodies.
func TestAuditSchemaV1Migrates(t *testing.T) {
	ctx := context.Background()
	signer := audittest.NewSigner(t)
	path := filepath.Join(t.TempDir(), "audit.db")
	s := openAudit(t, path)
	audittest.Fill(t, s, signer, audittest.Generate(120, audittest.Base))
	s.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"ALTER TABLE audit_records DROP COLUMN request_body",
		"ALTER TABLE audit_records DROP COLUMN response_body",
		"PRAGMA user_version = 1",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	s = openAudit(t, path)
	more := audittest.Generate(1, audittest.Base.Add(time.Hour))
	more[0].RequestBody, more[0].ResponseBody = `{"amount":"1.00"}`, `{"ok":true}`
	audittest.Fill(t, s, signer, more)
	res, err := audit.Verify(ctx, s, audit.VerifyOptions{Keys: signer.Public()})
	if err != nil || !res.OK || res.Records != 121 {
		t.Fatalf("Verify after migration = %+v, %v; want 121 good records", res, err)
	}
	var got audit.Record
	if err := s.Scan(ctx, 121, func(r *audit.Record) error { got = *r; return nil }); err != nil {
		t.Fatal(err)
	}
	if got.RequestBody != `{"amount":"1.00"}` || got.ResponseBody != `{"ok":true}` {
		t.Fatalf("record 121 bodies = %q, %q", got.RequestBody, got.ResponseBody)
	}
}

// Tampering with the file the way an intruder with write access would is
// caught by Verify, which names the first bad record; an untouched ledger
// verifies.
func TestAuditTamperingDetected(t *testing.T) {
	ctx := context.Background()
	signer := audittest.NewSigner(t)
	cases := []struct {
		name    string
		tamper  []string // SQL run against the file
		rebuild bool     // rewrite the chain consistently after the SQL
		wantSeq int64
		want    string
	}{
		{name: "untouched"},
		{name: "edit", tamper: []string{"UPDATE audit_records SET status = 200 WHERE seq = 57"}, wantSeq: 57, want: "edited"},
		{name: "edit captured body", tamper: []string{"UPDATE audit_records SET response_body = '{}' WHERE seq = 42"}, wantSeq: 42, want: "edited"},
		{name: "delete", tamper: []string{"DELETE FROM audit_records WHERE seq = 120"}, wantSeq: 121, want: "deleted"},
		{name: "insert", tamper: []string{
			"UPDATE audit_records SET seq = seq + 1000000 WHERE seq >= 80",
			"UPDATE audit_records SET seq = seq - 1000000 + 1 WHERE seq >= 1000000",
			"INSERT INTO audit_records SELECT 80, time, category, 'forged', bank, api, operation, method, path, query, client_id, partner, environment, 200, latency_us, decision, reason, revision, actor, object, before, after, purged, digest, hash, request_body, response_body FROM audit_records WHERE seq = 79",
		}, wantSeq: 80, want: "inserted"},
		{name: "reorder", tamper: []string{
			"UPDATE audit_records SET seq = -1 WHERE seq = 30",
			"UPDATE audit_records SET seq = 30 WHERE seq = 31",
			"UPDATE audit_records SET seq = 31 WHERE seq = -1",
		}, wantSeq: 30, want: ""},
		{name: "truncate", tamper: []string{"DELETE FROM audit_records WHERE seq > 250"}, wantSeq: 251, want: "truncated"},
		{name: "rebuild", tamper: []string{"UPDATE audit_records SET status = 200, decision = 'allow', reason = '' WHERE seq = 94"}, rebuild: true, wantSeq: 100, want: "rebuilt"},
		{name: "forged checkpoint", tamper: []string{"UPDATE audit_checkpoints SET seq = seq + 1 WHERE seq = 100"}, wantSeq: 101, want: "signature"},
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

			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range c.tamper {
				if _, err := db.Exec(q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			if c.rebuild {
				rebuildChain(t, db)
			}
			db.Close()

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

// rebuildChain recomputes every digest and hash, as an intruder who knows
// the algorithm (but not the checkpoint key) would after an edit.
func rebuildChain(t testing.TB, db *sql.DB) {
	t.Helper()
	ctx := context.Background()
	path := ""
	if err := db.QueryRow("SELECT file FROM pragma_database_list WHERE name = 'main'").Scan(&path); err != nil {
		t.Fatal(err)
	}
	ro := sqlite.NewAudit(path, sqlite.ReadOnly())
	if err := ro.Open(ctx); err != nil {
		t.Fatal(err)
	}
	var recs []audit.Record
	if err := ro.Scan(ctx, 1, func(r *audit.Record) error { recs = append(recs, *r); return nil }); err != nil {
		t.Fatal(err)
	}
	ro.Close()
	resealed := audit.Reseal(recs, "sha256")
	for _, r := range resealed {
		if _, err := db.Exec("UPDATE audit_records SET digest = ?, hash = ? WHERE seq = ?", r.Digest, r.Hash, r.Seq); err != nil {
			t.Fatal(err)
		}
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
