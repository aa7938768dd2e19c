package postgres_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/obhub/obhub/audit"
	"github.com/obhub/obhub/audit/audittest"
	"github.com/obhub/obhub/store/postgres"
	"github.com/obhub/obhub/store/postgres/pgtest"
)

func TestAuditStoreConformance(t *testing.T) {
	audittest.Run(t, func(t testing.TB) audit.Store { return pgtest.Open(t).Audit("node-1") })
}

// Two nodes write their own chains into one database; each chain, and the
// ledger as a whole, verifies; reports see both nodes' records.
func TestAuditTwoNodes(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	schema := pgtest.Schema(t, dsn)
	signer := audittest.NewSigner(t)
	a := pgtest.OpenSchema(t, dsn, schema).Audit("node-a")
	b := pgtest.OpenSchema(t, dsn, schema).Audit("node-b")
	done := make(chan struct{})
	go func() {
		defer close(done)
		audittest.Fill(t, a, signer, audittest.Generate(150, audittest.Base))
	}()
	audittest.Fill(t, b, signer, audittest.Generate(120, audittest.Base))
	<-done

	db := pgtest.OpenSchema(t, dsn, schema)
	res, ok, err := db.VerifyAll(ctx, audit.VerifyOptions{Keys: signer.Public()})
	if err != nil || !ok || len(res) != 2 || res[0].Records != 150 || res[1].Records != 120 {
		t.Fatalf("VerifyAll = %+v, %v, %v", res, ok, err)
	}
	n := 0
	if err := db.AllChains().Find(ctx, audit.Filter{RequestID: "req-0000007"}, func(*audit.Record) error { n++; return nil }); err != nil || n != 2 {
		t.Fatalf("all-chains Find: %d records, %v; want one per node", n, err)
	}
	if _, err := db.AllChains().Head(ctx); err == nil {
		t.Fatal("Head on the all-chains view succeeded")
	}

	// Paging across the chains, whose Seqs overlap and whose records
	// share times, gives every record once: the cursor is the last
	// record's time, chain and Seq.
	seen := map[string]int{}
	var before *audit.Position
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatal("paging does not end")
		}
		var last *audit.Record
		n := 0
		err := db.AllChains().Find(ctx, audit.Filter{Limit: 17, Before: before}, func(r *audit.Record) error {
			n++
			seen[r.Chain+"/"+strconv.FormatInt(r.Seq, 10)]++
			c := *r
			last = &c
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		before = &audit.Position{Time: last.Time, Chain: last.Chain, Seq: last.Seq}
	}
	if len(seen) != 270 {
		t.Errorf("paging found %d distinct records, want 270", len(seen))
	}
	for k, n := range seen {
		if n != 1 || !strings.HasPrefix(k, "node-") {
			t.Errorf("record %s listed %d times", k, n)
		}
	}
}

// Every tampering class is caught on one chain of a shared ledger, and the
// other chain still verifies; so are classes that only exist with several
// chains (a record moved between chains, a whole chain deleted).
func TestAuditTamperingDetected(t *testing.T) {
	ctx := context.Background()
	signer := audittest.NewSigner(t)
	dsn := pgtest.DSN(t)
	const a = "chain = 'node-a'"
	cases := []struct {
		name    string
		tamper  []string
		rebuild bool
		chain   string // the chain reported bad
		wantSeq int64
		want    string
	}{
		{name: "untouched"},
		{name: "edit", tamper: []string{"UPDATE audit_records SET status = 200 WHERE " + a + " AND seq = 57"}, chain: "node-a", wantSeq: 57, want: "edited"},
		{name: "delete", tamper: []string{"DELETE FROM audit_records WHERE " + a + " AND seq = 120"}, chain: "node-a", wantSeq: 121, want: "deleted"},
		{name: "insert", tamper: []string{
			"UPDATE audit_records SET seq = seq + 1000000 WHERE " + a + " AND seq >= 80",
			"UPDATE audit_records SET seq = seq - 1000000 + 1 WHERE " + a + " AND seq >= 1000000",
			"INSERT INTO audit_records SELECT chain, 80, time, category, 'forged', bank, api, operation, method, path, query, client_id, partner, environment, 200, latency_us, decision, reason, revision, actor, object, before, after, purged, digest, hash FROM audit_records WHERE " + a + " AND seq = 79",
		}, chain: "node-a", wantSeq: 80, want: "inserted"},
		{name: "reorder", tamper: []string{
			"UPDATE audit_records SET seq = -1 WHERE " + a + " AND seq = 30",
			"UPDATE audit_records SET seq = 30 WHERE " + a + " AND seq = 31",
			"UPDATE audit_records SET seq = 31 WHERE " + a + " AND seq = -1",
		}, chain: "node-a", wantSeq: 30},
		{name: "truncate", tamper: []string{"DELETE FROM audit_records WHERE " + a + " AND seq > 250"}, chain: "node-a", wantSeq: 251, want: "truncated"},
		{name: "rebuild", tamper: []string{"UPDATE audit_records SET status = 200, decision = 'allow', reason = '' WHERE " + a + " AND seq = 94"}, rebuild: true, chain: "node-a", wantSeq: 100, want: "rebuilt"},
		{name: "forged checkpoint", tamper: []string{"UPDATE audit_checkpoints SET seq = seq + 1 WHERE " + a + " AND seq = 100"}, chain: "node-a", wantSeq: 101, want: "signature"},
		{name: "moved between chains", tamper: []string{
			"DELETE FROM audit_records WHERE chain = 'node-b' AND seq = 40",
			"UPDATE audit_records SET chain = 'node-b' WHERE " + a + " AND seq = 40",
		}, chain: "node-a", wantSeq: 41, want: "deleted"},
		{name: "whole chain deleted", tamper: []string{
			"DELETE FROM audit_records WHERE " + a, "DELETE FROM audit_checkpoints WHERE " + a,
		}, chain: "node-a", wantSeq: 1, want: "deleted"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			schema := pgtest.Schema(t, dsn)
			db := pgtest.OpenSchema(t, dsn, schema)
			audittest.Fill(t, db.Audit("node-a"), signer, audittest.Generate(300, audittest.Base))
			audittest.Fill(t, db.Audit("node-b"), signer, audittest.Generate(300, audittest.Base))

			conn, err := pgx.Connect(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)
			if _, err := conn.Exec(ctx, "SET search_path = "+schema); err != nil {
				t.Fatal(err)
			}
			for _, q := range c.tamper {
				if _, err := conn.Exec(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			if c.rebuild {
				rebuildChain(t, db, conn, "node-a")
			}
			results, ok, err := db.VerifyAll(ctx, audit.VerifyOptions{Keys: signer.Public()})
			if err != nil {
				t.Fatal(err)
			}
			if c.wantSeq == 0 {
				if !ok || len(results) != 2 {
					t.Fatalf("untouched ledger: %+v", results)
				}
				return
			}
			if ok {
				t.Fatalf("tampering not detected: %+v", results)
			}
			for _, r := range results {
				if r.Chain != c.chain {
					if !r.OK && c.name != "moved between chains" {
						t.Errorf("untouched chain %s reported bad: %+v", r.Chain, r.FirstBad)
					}
					continue
				}
				if r.OK || r.FirstBad == nil || r.FirstBad.Seq != c.wantSeq || !strings.Contains(r.FirstBad.Problem, c.want) {
					t.Fatalf("chain %s: %+v, first bad %+v; want record %d, problem mentioning %q", r.Chain, r.Result, r.FirstBad, c.wantSeq, c.want)
				}
			}
		})
	}
}

// rebuildChain recomputes a chain's digests and hashes, as an intruder
// who knows the algorithm (but not the checkpoint key) would.
func rebuildChain(t testing.TB, db *postgres.DB, conn *pgx.Conn, chain string) {
	t.Helper()
	ctx := context.Background()
	var recs []audit.Record
	if err := db.Audit(chain).Scan(ctx, 1, func(r *audit.Record) error { recs = append(recs, *r); return nil }); err != nil {
		t.Fatal(err)
	}
	for _, r := range audit.Reseal(recs, "sha256") {
		if _, err := conn.Exec(ctx, "UPDATE audit_records SET digest = $1, hash = $2 WHERE chain = $3 AND seq = $4", r.Digest, r.Hash, chain, r.Seq); err != nil {
			t.Fatal(err)
		}
	}
}
