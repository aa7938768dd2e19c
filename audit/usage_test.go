package audit_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/obhub/obhub/audit"
	"github.com/obhub/obhub/audit/audittest"
	"github.com/obhub/obhub/store/postgres/pgtest"
	"github.com/obhub/obhub/store/sqlite"
)

// TestUsageSeries runs the per-app usage queries of the portal against
// every store implementation: they use only Store.Find, so each store's
// filtering by client, time range and decision is what is tested.
func TestUsageSeries(t *testing.T) {
	stores := map[string]func(t *testing.T) audit.Store{
		"sqlite": func(t *testing.T) audit.Store {
			s := sqlite.NewAudit(filepath.Join(t.TempDir(), "audit.db"))
			if err := s.Open(context.Background()); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
		"postgres": func(t *testing.T) audit.Store { return pgtest.Open(t).Audit("node-1") },
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) { testUsageSeries(t, open(t)) })
	}
}

func testUsageSeries(t *testing.T, s audit.Store) {
	ctx := context.Background()
	from := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	at := func(min int, client string, status int, decision string, ms int) audit.Record {
		return audit.Record{Time: from.Add(time.Duration(min) * time.Minute), Category: audit.CategoryAccess,
			RequestID: "r", API: "qingshan-accounts", Method: "GET", Path: "/sandbox/x", ClientID: client,
			Partner: "p", Environment: "sandbox", Status: status, Decision: decision, Latency: time.Duration(ms) * time.Millisecond}
	}
	recs := []audit.Record{
		at(-1, "app_a", 200, "allow", 1), // before From: not counted
		at(0, "app_a", 200, "allow", 10), // first step, at From exactly
		at(5, "app_a", 200, "allow", 20),
		at(30, "app_a", 429, "deny", 2),
		at(59, "app_a", 503, "allow", 100),
		at(60, "app_b", 200, "allow", 1), // another app
		at(125, "app_a", 404, "reject", 3),
		at(180, "app_a", 200, "allow", 5), // at To: not counted
	}
	admin := audit.Record{Time: from.Add(10 * time.Minute), Category: audit.CategoryAdmin, ClientID: "app_a", Actor: "op", Object: "apps/app_a", Decision: "allow"}
	audittest.Fill(t, s, audittest.NewSigner(t), append(recs, admin))

	ser, err := audit.UsageSeries(ctx, s, audit.Filter{ClientID: "app_a", From: from, To: from.Add(3 * time.Hour)}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(ser.Buckets) != 3 || !ser.Buckets[1].Start.Equal(from.Add(time.Hour)) {
		t.Fatalf("buckets %+v", ser.Buckets)
	}
	want := []struct {
		calls, errs, denials int64
		p50, p95             float64
	}{
		{4, 1, 1, 10, 100}, // 10, 20, 2, 100 ms
		{0, 0, 0, 0, 0},
		{1, 0, 1, 3, 3},
	}
	for i, w := range want {
		b := ser.Buckets[i]
		if b.Calls != w.calls || b.Errors != w.errs || b.Denials != w.denials || b.P50 != w.p50 || b.P95 != w.p95 {
			t.Errorf("step %d: %d calls, %d errors, %d denials, p50 %v, p95 %v; want %+v", i, b.Calls, b.Errors, b.Denials, b.P50, b.P95, w)
		}
	}
	if ser.Total.Calls != 5 || ser.Total.Denials != 2 || ser.Total.Errors != 1 {
		t.Errorf("total %+v", ser.Total)
	}

	n, err := audit.CountCalls(ctx, s, audit.Filter{ClientID: "app_a", Decision: audit.DecisionAllow, From: from, To: from.Add(3 * time.Hour)}, nil)
	if err != nil || n != 3 {
		t.Errorf("allowed calls of app_a: %d, %v; want 3", n, err)
	}
	n, err = audit.CountCalls(ctx, s, audit.Filter{ClientID: "app_a", From: from, To: from.Add(3 * time.Hour)},
		func(r *audit.Record) bool { return r.Status >= 400 })
	if err != nil || n != 3 {
		t.Errorf("refused or failed calls of app_a: %d, %v; want 3 (429, 503, 404)", n, err)
	}

	for _, bad := range []struct {
		f    audit.Filter
		step time.Duration
	}{
		{audit.Filter{From: from, To: from.Add(time.Hour)}, 0},
		{audit.Filter{From: from, To: from}, time.Hour},
		{audit.Filter{From: from, To: from.Add(2000 * time.Hour)}, time.Hour},
	} {
		if _, err := audit.UsageSeries(ctx, s, bad.f, bad.step); err == nil {
			t.Errorf("UsageSeries(%v, %s) accepted", bad.f, bad.step)
		}
	}
}

// A usage report's page says its period in words, an open one too, never
// "From — to —".
func TestUsageHTMLPeriod(t *testing.T) {
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		u    audit.Usage
		want string
	}{
		{audit.Usage{By: "api"}, "All records"},
		{audit.Usage{By: "api", From: from}, "Records from 2026-03-01 00:00:00 UTC"},
		{audit.Usage{By: "api", From: from, To: from.AddDate(0, 1, 0)}, "Records from 2026-03-01 00:00:00 UTC to 2026-04-01 00:00:00 UTC (excluded)"},
	} {
		var b strings.Builder
		if err := tt.u.WriteHTML(&b); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), tt.want) || strings.Contains(b.String(), "—") {
			t.Errorf("page of %+v does not say %q:\n%s", tt.u, tt.want, b.String())
		}
	}
}

// A usage report counts what partners' apps did and what reached the
// banks' APIs; portal pages, metadata and health checks, which name no API
// and no app, are counted apart.
func TestUsageReportLeavesOutUnattributedRequests(t *testing.T) {
	ctx := context.Background()
	s := sqlite.NewAudit(filepath.Join(t.TempDir(), "audit.db"))
	if err := s.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	at := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	audittest.Fill(t, s, audittest.NewSigner(t), []audit.Record{
		{Time: at, Category: audit.CategoryAccess, API: "qingshan-accounts", ClientID: "app_a", Partner: "agrifin", Method: "GET", Path: "/qingshan-rcb/x", Status: 200, Decision: "allow"},
		{Time: at, Category: audit.CategoryAccess, API: "qingshan-accounts", Method: "GET", Path: "/qingshan-rcb/x", Status: 401, Decision: "deny", Reason: "no_token"},
		{Time: at, Category: audit.CategoryAccess, ClientID: "app_a", Partner: "agrifin", Method: "POST", Path: "/oauth2/token", Status: 401, Decision: "deny", Reason: "invalid_client"},
		{Time: at, Category: audit.CategoryAccess, Method: "GET", Path: "/portal/", Status: 200, Decision: "local"},
		{Time: at, Category: audit.CategoryAccess, Method: "GET", Path: "/healthz", Status: 200, Decision: "local"},
	})
	u, err := audit.UsageReport(ctx, s, audit.Filter{}, "partner")
	if err != nil {
		t.Fatal(err)
	}
	if u.Total.Calls != 3 || u.Unattributed != 2 || u.Total.Denials != 2 {
		t.Errorf("total %d calls, %d denials, %d unattributed; want 3, 2, 2", u.Total.Calls, u.Total.Denials, u.Unattributed)
	}
	var b strings.Builder
	if err := u.WriteHTML(&b); err != nil || !strings.Contains(b.String(), "Not counted above: 2 requests") {
		t.Errorf("HTML does not say what it left out (%v):\n%s", err, b.String())
	}
}
