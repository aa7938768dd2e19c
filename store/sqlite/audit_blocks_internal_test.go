package sqlite

import (
	"context"
	"path/filepath"
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
	if _, err := s.Purge(ctx, audit.CategoryAccess, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
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
