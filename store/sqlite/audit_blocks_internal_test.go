package sqlite

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/obhub/obhub/audit"
	"github.com/obhub/obhub/audit/audittest"
)

// A request id the gateway made (UUIDv7, carrying the request's time) is
// found without a key row of its own; a client's id, and a UUIDv7 whose
// time is far from its record's, are keyed and found too.
func TestAuditFindsRequestIDs(t *testing.T) {
	ctx := context.Background()
	s := NewAudit(filepath.Join(t.TempDir(), "audit.db"))
	if err := s.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now().UTC()
	recs := audittest.Generate(600, now.Add(-10*time.Minute))
	made := make([]string, len(recs))
	for i := range recs {
		// As the gateway makes them: an id of the request's own time.
		recs[i].Time = now.Add(time.Duration(i-len(recs)) * time.Second)
		made[i] = uuidAt(t, recs[i].Time)
		recs[i].RequestID = made[i]
	}
	recs[100].RequestID = "client-chosen-id-42"
	stale := uuidAt(t, now.Add(-24*time.Hour)) // a client's UUIDv7 of another day
	recs[200].RequestID = stale
	audittest.Fill(t, s, nil, recs)

	var keyed int
	if err := s.rdb.QueryRowContext(ctx, "SELECT count(*) FROM audit_keys WHERE field = ?", keyRequest).Scan(&keyed); err != nil {
		t.Fatal(err)
	}
	if keyed != 2 {
		t.Errorf("%d request ids keyed, want 2 (the client's two)", keyed)
	}
	for _, c := range []struct {
		id  string
		seq int64
	}{{made[0], 1}, {made[350], 351}, {made[599], 600}, {"client-chosen-id-42", 101}, {stale, 201}} {
		var got []int64
		if err := s.Find(ctx, audit.Filter{RequestID: c.id}, func(r *audit.Record) error { got = append(got, r.Seq); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0] != c.seq {
			t.Errorf("Find(request id %s) = %v, want [%d]", c.id, got, c.seq)
		}
	}
	var none int
	if err := s.Find(ctx, audit.Filter{RequestID: uuidAt(t, now.Add(-5*time.Minute))}, func(*audit.Record) error { none++; return nil }); err != nil || none != 0 {
		t.Errorf("an id nobody used found %d records (%v)", none, err)
	}

	// Purging the access records removes their keys too: a purged
	// record's request id is content.
	// (One record per block here: the purge takes several batches.)
	access := 0
	for _, r := range recs {
		if r.Category == audit.CategoryAccess {
			access++
		}
	}
	if n, err := s.Purge(ctx, audit.CategoryAccess, now.Add(time.Hour)); err != nil || n != int64(access) || access <= 2*purgeBatch {
		t.Fatalf("Purge = %d, %v; want %d (over %d blocks)", n, err, access, 2*purgeBatch)
	}
	if err := s.rdb.QueryRowContext(ctx, "SELECT count(*) FROM audit_keys WHERE field = ?", keyRequest).Scan(&keyed); err != nil || keyed != 0 {
		t.Errorf("%d request id keys left after the purge (%v), want 0", keyed, err)
	}
	var decisions int
	if err := s.rdb.QueryRowContext(ctx, "SELECT count(*) FROM audit_keys WHERE field = ? AND value = ?", keyDecision, audit.DecisionDeny).Scan(&decisions); err != nil || decisions != 0 {
		t.Errorf("%d blocks still keyed by a decision only purged records had (%v)", decisions, err)
	}
}

// uuidAt returns a UUIDv7 carrying t.
func uuidAt(t *testing.T, at time.Time) string {
	t.Helper()
	u := uuid.Must(uuid.NewV7())
	ms := at.UnixMilli()
	for i := range 6 {
		u[i] = byte(ms >> (40 - 8*i))
	}
	return u.String()
}

// Searches by time range over two and a half days of records give exactly
// what a scan of every record gives, and read the blocks of the range's
// hours only: the query never scans the whole ledger.
func TestAuditFindsTimeRanges(t *testing.T) {
	ctx := context.Background()
	s := NewAudit(filepath.Join(t.TempDir(), "audit.db"))
	if err := s.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	base := time.Date(2026, 11, 25, 22, 30, 0, 0, time.UTC)
	recs := audittest.Generate(2000, base)
	for i := range recs {
		recs[i].Time = base.Add(time.Duration(i) * 97 * time.Second)
	}
	// Blocks of a few records, as a strict writer at low load makes them.
	for i := 0; i < len(recs); i += 7 {
		audittest.Fill(t, s, nil, recs[i:min(i+7, len(recs))])
	}
	all := map[int64]audit.Record{}
	if err := s.Scan(ctx, 1, func(r *audit.Record) error { all[r.Seq] = *r; return nil }); err != nil {
		t.Fatal(err)
	}
	for _, c := range []audit.Filter{
		{From: base.Add(3 * time.Hour), To: base.Add(5*time.Hour + 17*time.Minute)},
		{From: base.Add(25 * time.Hour)},
		{To: base.Add(90 * time.Minute)},
		{From: base.Add(40 * time.Hour), To: base.Add(41 * time.Hour), Partner: "agrifin"},
		{From: base.Add(10 * time.Hour), To: base.Add(30 * time.Hour), Status: 404, OldestFirst: true, Limit: 25},
	} {
		var want []int64
		for seq := int64(1); seq <= int64(len(all)); seq++ {
			r := all[seq]
			if selects(&c, &r) {
				want = append(want, seq)
			}
		}
		if !c.OldestFirst {
			slices.Reverse(want)
		}
		if c.Limit > 0 && len(want) > c.Limit {
			want = want[:c.Limit]
		}
		var got []int64
		if err := s.Find(ctx, c, func(r *audit.Record) error { got = append(got, r.Seq); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(want) == 0 || !slices.Equal(got, want) {
			t.Errorf("Find(%+v) = %d records %v…, want %d %v…", c, len(got), head(got), len(want), head(want))
		}
		q, args := findQuery(c)
		rows, err := s.rdb.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, args...)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(detail, "SCAN audit_blocks") {
				t.Errorf("Find(%+v) scans every block: %s", c, detail)
			}
		}
		rows.Close()
	}
}

func head(s []int64) []int64 { return s[:min(5, len(s))] }

// The keys of the latest blocks are written in groups; until then Find
// still selects from those blocks, and a node that stopped before writing
// them writes them when it opens the ledger again.
func TestAuditKeysOfTheLatestBlocks(t *testing.T) {
	defer func(lag time.Duration) { keysLag = lag }(keysLag)
	keysLag = time.Hour // however slow the machine, the ten blocks stay unkeyed
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	s := NewAudit(path)
	if err := s.Open(ctx); err != nil {
		t.Fatal(err)
	}
	recs := audittest.Generate(10, audittest.Base) // ten blocks of one record
	audittest.Fill(t, s, nil, recs)
	count := func(s *AuditStore, q string) (n int64) {
		t.Helper()
		if err := s.rdb.QueryRowContext(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	partner := func(s *AuditStore) (n int) {
		t.Helper()
		if err := s.Find(ctx, audit.Filter{Partner: "farmpay", From: audittest.Base}, func(*audit.Record) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(s, "SELECT count(*) FROM audit_keys"); n != 0 {
		t.Fatalf("%d keys written for 10 new blocks, want none yet", n)
	}
	if n := partner(s); n != 3 {
		t.Fatalf("Find by partner before the keys are written: %d records, want 3", n)
	}
	// The node dies before it writes them.
	s.bw.keysWritten()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = NewAudit(path)
	if err := s.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n := count(s, "SELECT count(*) FROM audit_keys WHERE field = 'partner'"); n != 10 {
		t.Errorf("%d partner keys after reopening, want 10", n)
	}
	if n := count(s, "SELECT value FROM audit_state WHERE name = 'keys_through'"); n != 10 {
		t.Errorf("keys_through = %d, want 10", n)
	}
	if n := partner(s); n != 3 {
		t.Errorf("Find by partner after reopening: %d records, want 3", n)
	}
}
