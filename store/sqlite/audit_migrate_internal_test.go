package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/obhub/obhub/audit"
	"github.com/obhub/obhub/audit/audittest"
)

// A ledger of one row per record, as obhub wrote them before blocks
// (schema 3), or before captured bodies had columns (schema 1), opens:
// its records move into blocks, the chain still verifies against the
// signed checkpoints, Find selects as before, a read-only open before the
// upgrade says what to do, and new records follow the old ones.
func TestAuditRowLedgerMigrates(t *testing.T) {
	for _, version := range []int{1, 3} {
		t.Run(fmt.Sprintf("schema %d", version), func(t *testing.T) {
			ctx := context.Background()
			signer := audittest.NewSigner(t)
			path := filepath.Join(t.TempDir(), "audit.db")
			recs, cps := sealedLedger(t, signer, 1200)
			writeRowLedger(t, path, version, recs, cps)

			ro := NewAudit(path, ReadOnly())
			if err := ro.Open(ctx); err == nil {
				ro.Close()
				t.Fatal("a read-only open of the old schema succeeded")
			}

			var logged bytes.Buffer
			s := NewAudit(path, AuditLogger(slog.New(slog.NewTextHandler(&logged, nil))))
			if err := s.Open(ctx); err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			// The operator is told why the node takes long to be ready.
			if !strings.Contains(logged.String(), "packing the ledger's records into blocks") || !strings.Contains(logged.String(), "ledger packed into blocks") {
				t.Errorf("the repacking was not logged: %s", logged.String())
			}
			if h, err := s.Head(ctx); err != nil || h.Seq != 1200 {
				t.Fatalf("head after migration = %+v, %v", h, err)
			}
			n := 0
			if err := s.Find(ctx, audit.Filter{Partner: "agrifin", Status: 401}, func(r *audit.Record) error { n++; return nil }); err != nil || n != 40 {
				t.Fatalf("Find after migration: %d records, %v; want 40", n, err)
			}
			more := audittest.Generate(1, audittest.Base.Add(time.Hour))
			more[0].RequestBody, more[0].ResponseBody = `{"amount":"1.00"}`, `{"ok":true}`
			audittest.Fill(t, s, signer, more)
			res, err := audit.Verify(ctx, s, audit.VerifyOptions{Keys: signer.Public()})
			if err != nil || !res.OK || res.Records != 1201 || res.Checkpoints < 12 {
				t.Fatalf("Verify after migration = %+v, %v; want 1201 good records", res, err)
			}
			var got audit.Record
			if err := s.Scan(ctx, 1201, func(r *audit.Record) error { got = *r; return nil }); err != nil {
				t.Fatal(err)
			}
			if got.RequestBody != `{"amount":"1.00"}` || got.ResponseBody != `{"ok":true}` {
				t.Fatalf("record 1201 bodies = %q, %q", got.RequestBody, got.ResponseBody)
			}
			var rows int
			if err := s.rdb.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE name = 'audit_records'").Scan(&rows); err != nil || rows != 0 {
				t.Errorf("the row table is still there (%d, %v)", rows, err)
			}
		})
	}
}

// sealedLedger writes n generated records through a strict Writer with
// signed checkpoints and returns what was stored.
func sealedLedger(t *testing.T, signer *audit.Signer, n int) ([]audit.Record, []audit.Checkpoint) {
	ctx := context.Background()
	s := NewAudit(filepath.Join(t.TempDir(), "source.db"))
	if err := s.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	audittest.Fill(t, s, signer, audittest.Generate(n, audittest.Base))
	var recs []audit.Record
	if err := s.Scan(ctx, 1, func(r *audit.Record) error { recs = append(recs, *r); return nil }); err != nil {
		t.Fatal(err)
	}
	cps, err := s.Checkpoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return recs, cps
}

// writeRowLedger writes recs and cps at path in the row-per-record
// schema of version.
func writeRowLedger(t *testing.T, path string, version int, recs []audit.Record, cps []audit.Checkpoint) {
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for v := range version {
		if _, err := db.Exec(auditSteps[v]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(fmt.Sprintf("PRAGMA user_version = %d", version)); err != nil {
		t.Fatal(err)
	}
	cols, marks := "", ""
	if version >= 2 {
		cols, marks = ", request_body, response_body", ",?,?"
	}
	q := `INSERT INTO audit_records (seq, time, category, request_id, bank, api, operation, method, path, query, client_id,
		partner, environment, status, latency_us, decision, reason, revision, actor, object, before, after, purged, digest, hash` + cols +
		`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?` + marks + `)`
	for _, r := range recs {
		args := []any{r.Seq, r.Time.UnixNano(), r.Category, r.RequestID, r.Bank, r.API, r.Operation, r.Method, r.Path, r.Query,
			r.ClientID, r.Partner, r.Environment, r.Status, r.Latency.Microseconds(), r.Decision, r.Reason, r.Revision, r.Actor,
			r.Object, r.Before, r.After, r.Purged, r.Digest, r.Hash}
		if version >= 2 {
			args = append(args, r.RequestBody, r.ResponseBody)
		}
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range cps {
		if _, err := db.Exec("INSERT INTO audit_checkpoints (seq, time, algorithm, key_id, hash, signature) VALUES (?,?,?,?,?,?)",
			c.Seq, c.Time.UnixNano(), c.Algorithm, c.KeyID, c.Hash, c.Signature); err != nil {
			t.Fatal(err)
		}
	}
}
