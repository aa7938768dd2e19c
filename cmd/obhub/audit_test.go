package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/obhub/obhub/audit"
	"github.com/obhub/obhub/store/sqlite/sqlitetest"
)

// auditCall is one request of the mixed load and the status it must get.
type auditCall struct {
	method, path, token, body string
	headers                   []string
	raw                       string // a raw request written on its own connection instead
	want                      int
	orWant                    int // another acceptable status (0: none)
}

// readLedger returns every record of a stopped node's ledger, oldest
// first, as the CLI reads it.
func readLedger(t testing.TB, data string) []audit.Record {
	t.Helper()
	s, err := openLedger(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	return readStore(t, s)
}

// readStore returns every record of s, oldest first.
func readStore(t testing.TB, s audit.Store) []audit.Record {
	t.Helper()
	var out []audit.Record
	if err := s.Find(context.Background(), audit.Filter{OldestFirst: true}, func(r *audit.Record) error {
		out = append(out, *r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// send performs one call; it never fails the test (it runs in
// goroutines) but returns what went wrong.
func (h *hub) send(c auditCall, id string) (int, error) {
	if c.raw != "" {
		u, _ := url.Parse(h.public)
		conn, err := net.Dial("tcp", u.Host)
		if err != nil {
			return 0, err
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(waitLimit))
		if _, err := io.WriteString(conn, strings.ReplaceAll(c.raw, "{id}", id)); err != nil {
			return 0, err
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequest(c.method, h.public+c.path, body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("X-Request-Id", id)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for i := 0; i+1 < len(c.headers); i += 2 {
		req.Header.Set(c.headers[i], c.headers[i+1])
	}
	resp, err := h.c.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if got := resp.Header.Get("X-Request-Id"); got != id {
		return resp.StatusCode, fmt.Errorf("X-Request-Id %q, sent %q", got, id)
	}
	return resp.StatusCode, nil
}

// A thousand mixed requests — successes and every kind of refusal — leave
// exactly one audit record each, with the status the client saw, masked
// personal data, and a ledger that verifies; administrative changes are
// recorded with their secrets redacted; the admin API and the CLI read
// the ledger.
func TestAuditOneRecordPerRequest(t *testing.T) {
	m := runMain(t, withMaxBody(1024))
	h := newHub(t, m, testAdminToken)
	core := newCoreSystem(t)
	a := setupAlliance(t, h, core)
	web := h.token(t, a.web.ClientID, a.web.ClientSecret, "")
	other := h.token(t, a.other.ClientID, a.other.ClientSecret, "")
	sbx := h.token(t, a.sandbox.ClientID, a.sandbox.ClientSecret, "")
	bank := "/" + a.bank
	big := strings.Repeat("x", 4096)

	calls := []auditCall{
		{method: "GET", path: bank + farmBase + "/accounts", token: web, want: 200},
		{method: "GET", path: bank + farmBase + "/accounts?phone=13812345678&amount=3860.00", token: web, want: 200},
		{method: "GET", path: bank + farmBase + "/accounts", want: 401},
		{method: "GET", path: bank + farmBase + "/accounts", token: "not.a.token", want: 401},
		{method: "GET", path: bank + farmBase + "/accounts", token: other, want: 403},
		{method: "GET", path: bank + farmBase + "/accounts", token: sbx, want: 403},
		{method: "GET", path: bank + farmBase + "/nothing/4111111111111111", token: web, want: 404},
		{method: "GET", path: "/no-such-bank/x", want: 404},
		{method: "DELETE", path: bank + farmBase + "/accounts", token: web, want: 405},
		{method: "POST", path: bank + farmBase + "/payments", token: web, body: big, headers: []string{"Content-Type", "application/json"}, want: 413},
		{method: "GET", path: bank + downBase + "/accounts", token: web, want: 502, orWant: 503}, // 503 once the breaker opens
		{method: "GET", path: bank + retiredBase + "/accounts", token: web, want: 404},
		{method: "POST", path: "/oauth2/token", body: "grant_type=client_credentials", headers: []string{"Content-Type", "application/x-www-form-urlencoded", "Authorization", "Basic bm9ib2R5Om5vdGhpbmc="}, want: 401},
		{method: "GET", path: "/.well-known/oauth-authorization-server", want: 200},
		{method: "GET", path: "/healthz", want: 200},
		{raw: "GET " + bank + farmBase + "/accounts HTTP/1.1\r\nHost: x\r\nX-Request-Id: {id}\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", want: 400},
		{raw: "GET /../etc/passwd HTTP/1.1\r\nHost: x\r\nX-Request-Id: {id}\r\n\r\n", want: 400},
		{method: "POST", path: "/oauth2/token", body: "grant_type=client_credentials", headers: []string{"Content-Type", "application/x-www-form-urlencoded",
			"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(a.web.ClientID)+":wrong-secret"))}, want: 401},
	}
	const n = 1000
	type sent struct {
		id     string
		status int
	}
	results := make([]sent, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	work := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				c := calls[i%len(calls)]
				id := fmt.Sprintf("t1k-%04d", i)
				status, err := h.send(c, id)
				if err == nil && status != c.want && status != c.orWant {
					err = fmt.Errorf("%s %s%s: status %d, want %d", c.method, c.path, c.raw, status, c.want)
				}
				if err != nil {
					errs <- fmt.Errorf("request %s: %w", id, err)
				}
				results[i] = sent{id, status}
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}

	// Written mode (the default): every record is in the journal once its
	// response arrived, and the ledger's searches find it (audit.Journal
	// waits for the store).
	recs := readStore(t, m.auditLog.store)
	if r := h.get(t, h.admin+"/metrics"); !strings.Contains(string(r.body), "\nobhub_audit_journal_depth 0\n") {
		t.Errorf("after a search the journal should have nothing SQLite lacks: /metrics = %s", r)
	}
	byID := map[string][]audit.Record{}
	for _, r := range recs {
		if strings.HasPrefix(r.RequestID, "t1k-") {
			byID[r.RequestID] = append(byID[r.RequestID], r)
		}
	}
	if len(byID) != n {
		t.Errorf("%d request ids have records, want %d", len(byID), n)
	}
	for i, s := range results {
		got := byID[s.id]
		if len(got) != 1 {
			t.Errorf("request %s (%s) has %d records, want exactly 1", s.id, calls[i%len(calls)].path, len(got))
			continue
		}
		if got[0].Status != s.status {
			t.Errorf("request %s: record status %d, the client got %d", s.id, got[0].Status, s.status)
		}
	}
	for _, r := range recs {
		for _, secret := range []string{"13812345678", "4111111111111111", a.web.ClientSecret, a.other.ClientSecret, a.sandbox.ClientSecret, web} {
			if strings.Contains(r.Path+r.Query+r.Before+r.After+r.Reason, secret) {
				t.Fatalf("record %d holds %q unmasked: %+v", r.Seq, secret, r)
			}
		}
	}
	masked := byID["t1k-0001"][0]
	if masked.Query != "phone=138****5678&amount=3860.00" || masked.Partner != a.partner || masked.ClientID != a.web.ClientID ||
		masked.API != "hill-farm" || masked.Bank != a.bank || masked.Decision != "allow" || masked.Revision == 0 {
		t.Errorf("record of an allowed call: %+v", masked)
	}
	if r := byID["t1k-0002"][0]; r.Decision != "deny" || r.Reason == "" {
		t.Errorf("record of a call without token: %+v", r)
	}
	// A client that fails to authenticate at the token endpoint is a
	// denial, of the partner whose client id it gave when that client
	// exists; the endpoint's other answers are the hub's own.
	if r := byID["t1k-0012"][0]; r.Decision != "deny" || r.Reason != "invalid_client" || r.ClientID != "nobody" || r.Partner != "" {
		t.Errorf("record of an unknown client at the token endpoint: %+v", r)
	}
	if r := byID["t1k-0017"][0]; r.Decision != "deny" || r.Reason != "invalid_client" || r.ClientID != a.web.ClientID || r.Partner != a.partner || r.Environment != "production" {
		t.Errorf("record of a wrong client secret: %+v", r)
	}
	if r := byID["t1k-0013"][0]; r.Decision != "local" {
		t.Errorf("record of the metadata: %+v", r)
	}

	// Administrative changes: who, what, before and after, no secrets.
	var created, published *audit.Record
	for i := range recs {
		r := &recs[i]
		if r.Category != audit.CategoryAdmin {
			continue
		}
		if r.Actor != "operator" {
			t.Errorf("admin record by %q: %+v", r.Actor, r)
		}
		switch {
		case r.Method == "POST" && r.Object == "partners/"+a.partner+"/apps/"+a.web.ClientID:
			created = r
		case r.Object == "apis/hill-farm" && strings.HasSuffix(r.Path, "/publish"):
			published = r
		}
	}
	if created == nil || !strings.Contains(created.After, `"client_secret":"[redacted]"`) {
		t.Errorf("app creation record: %+v", created)
	}
	if published == nil || !strings.Contains(published.Before, `"status":"draft"`) || !strings.Contains(published.After, `"status":"published"`) {
		t.Errorf("publish record: %+v", published)
	}

	// The admin API: pages newest first, verify, reports.
	var page struct {
		Items []struct {
			Seq       int64   `json:"seq"`
			RequestID string  `json:"requestId"`
			Bank      string  `json:"bank"`
			LatencyMS float64 `json:"latencyMs"`
			Hash      string  `json:"hash"`
		} `json:"items"`
		NextCursor string `json:"next_cursor"`
	}
	h.adminCall(t, "GET", "/audit?bank="+a.bank+"&limit=7", nil, 200, &page)
	if len(page.Items) != 7 || page.NextCursor == "" || page.Items[0].Seq <= page.Items[6].Seq || page.Items[0].Bank != a.bank || len(page.Items[0].Hash) != 64 {
		t.Fatalf("first page: %+v", page)
	}
	last := page.Items[6].Seq
	h.adminCall(t, "GET", "/audit?bank="+a.bank+"&limit=7&cursor="+page.NextCursor, nil, 200, &page)
	if len(page.Items) != 7 || page.Items[0].Seq >= last {
		t.Fatalf("second page after seq %d: %+v", last, page)
	}
	h.adminCall(t, "GET", "/audit?request_id=t1k-0004&status=403", nil, 200, &page)
	if len(page.Items) != 1 {
		t.Fatalf("by request id and status: %+v", page)
	}
	// A request id the client chose, holding a mobile number, is kept
	// masked and found when searched for as the client sent it; a date
	// bounds a period as the command line's --from does.
	if _, err := h.send(calls[0], "cust-13812345678"); err != nil {
		t.Fatal(err)
	}
	h.adminCall(t, "GET", "/audit?request_id=cust-13812345678&from="+time.Now().UTC().Format("2006-01-02"), nil, 200, &page)
	if len(page.Items) != 1 || page.Items[0].RequestID != "cust-138****5678" {
		t.Fatalf("by the request id as sent: %+v", page)
	}
	h.adminCall(t, "GET", "/audit?from=yesterday", nil, 422, nil)
	// A filter spelt as its JSON field (requestId) is refused, naming it,
	// rather than ignored with every record listed.
	if r := h.adminCall(t, "GET", "/audit?requestId=t1k-0004", nil, 422, nil); !strings.Contains(string(r.body), "requestId") || !strings.Contains(string(r.body), "request_id") {
		t.Fatalf("an unknown filter: %s", r.body)
	}
	h.adminCall(t, "GET", "/reports/usage?by=bank&format=csv&bank="+a.bank, nil, 200, nil)
	h.adminCall(t, "GET", "/reports/usage?group=bank", nil, 422, nil)

	var v audit.Result
	h.adminCall(t, "GET", "/audit/verify", nil, 200, &v)
	if !v.OK || v.Records < n {
		t.Fatalf("verify: %+v", v)
	}
	var u audit.Usage
	h.adminCall(t, "GET", "/reports/usage?by=api&bank="+a.bank, nil, 200, &u)
	found := false
	for _, row := range u.Rows {
		if row.Key == "hill-farm" {
			found = true
			if row.Calls == 0 || row.Denials == 0 || row.DenialsByReason["not_subscribed"] == 0 || row.P95 < row.P50 {
				t.Errorf("hill-farm usage: %+v", row)
			}
		}
	}
	if !found {
		t.Errorf("no hill-farm row in %+v", u.Rows)
	}
	// An open period has no "from" or "to" in the JSON, not the year 1;
	// an asked one is given back.
	r := h.adminCall(t, "GET", "/reports/usage?by=bank", nil, 200, nil)
	if bytes.Contains(r.body, []byte(`"from"`)) || bytes.Contains(r.body, []byte(`"to"`)) {
		t.Errorf("usage report over the whole ledger: %s", r.body)
	}
	r = h.adminCall(t, "GET", "/reports/usage?by=bank&from=2026-01-01T00:00:00Z", nil, 200, nil)
	if !bytes.Contains(r.body, []byte(`"from":"2026-01-01T00:00:00Z"`)) || bytes.Contains(r.body, []byte(`"to"`)) {
		t.Errorf("usage report from 2026-01-01: %s", r.body)
	}
	r = h.adminCall(t, "GET", "/reports/usage?by=partner&format=csv", nil, 200, nil)
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") || !bytes.HasPrefix(r.body, []byte("partner,calls,errors,denials")) {
		t.Errorf("CSV report: %s\n%s", ct, r.body)
	}
	r = h.adminCall(t, "GET", "/reports/partners/"+a.partner+"/statement?format=html", nil, 200, nil)
	if !bytes.Contains(r.body, []byte("Activity statement of partner "+a.partner)) ||
		!bytes.Contains(r.body, []byte("All records up to ")) || !bytes.Contains(r.body, []byte("Produced ")) || bytes.Contains(r.body, []byte("—")) {
		t.Errorf("HTML statement: %s", r.body)
	}
	// No such partner, and no record of one: not found, not a statement
	// of zeros. A partner deleted since, whose records the ledger holds,
	// keeps its statement (here: a record of an id that is no partner).
	r = h.adminCall(t, "GET", "/reports/partners/no-such-partner/statement", nil, 404, nil)
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Errorf("statement of no partner: %s\n%s", ct, r.body)
	}
	if err := m.auditLog.writer.Write(audit.Record{Time: time.Now(), Category: audit.CategoryAccess, RequestID: "gone-1",
		Partner: "gone-partner", Method: "GET", Path: "/x", Status: 200, Decision: "allow"}); err != nil {
		t.Fatal(err)
	}
	var gone audit.Statement
	if h.adminCall(t, "GET", "/reports/partners/gone-partner/statement", nil, 200, &gone); gone.Total.Calls != 1 || gone.Produced.IsZero() {
		t.Errorf("statement of a deleted partner: %+v", gone)
	}
	for _, tc := range []struct {
		partner string
		code    int
	}{{"no-such-partner", 1}, {"gone-partner", 0}} {
		code, stdout, stderr := runCLI(t, nil, "audit", "report", "--data", m.Config.Data, "--statement", tc.partner)
		if code != tc.code || (code != 0 && !strings.Contains(stderr, `no record of partner "no-such-partner"`)) {
			t.Errorf("obhub audit report --statement %s: %d\n%s%s", tc.partner, code, stdout, stderr)
		}
	}

	// The CLI reads the ledger of a running node.
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"audit", "verify", "--data", m.Config.Data}, &out, &errOut, noEnv); code != 0 || !strings.HasPrefix(out.String(), "ok: ") {
		t.Fatalf("obhub audit verify: %d\n%s%s", code, out.String(), errOut.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"audit", "export", "--data", m.Config.Data, "--format", "jsonl", "--bank", a.bank}, &out, &errOut, noEnv); code != 0 {
		t.Fatalf("obhub audit export: %d %s", code, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var first map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil || first["bank"] != a.bank {
		t.Fatalf("export line %q: %v", lines[0], err)
	}
	out.Reset()
	if code := run(context.Background(), []string{"audit", "report", "--data", m.Config.Data, "--by", "bank", "--format", "csv"}, &out, &errOut, noEnv); code != 0 || !strings.Contains(out.String(), a.bank+",") {
		t.Fatalf("obhub audit report: %d\n%s%s", code, out.String(), errOut.String())
	}

	// The node checked its ledger at start.
	eventually(t, 10*time.Second, func() string {
		if r := h.get(t, h.admin+"/metrics"); !strings.Contains(string(r.body), "\nobhub_audit_ledger_verified 1\n") {
			return "the node does not report its ledger verified in /metrics"
		}
		return ""
	})

	// Tampering with the file is reported by the CLI, naming the record.
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	target := byID["t1k-0004"][0].Seq
	sqlitetest.EditAuditLedger(t, filepath.Join(m.Config.Data, auditFile), func(recs []audit.Record) []audit.Record {
		r := &recs[target-1]
		r.Status, r.Decision = 200, "allow"
		return recs
	})
	out.Reset()
	if code := run(context.Background(), []string{"audit", "verify", "--data", m.Config.Data}, &out, &errOut, noEnv); code != 1 ||
		!strings.Contains(out.String(), fmt.Sprintf("BAD: record %d (request t1k-0004)", target)) {
		t.Fatalf("verify after an edit: %d\n%s", code, out.String())
	}
	// A node started on the edited ledger checks it, and says so.
	m2 := runMain(t, withData(m.Config.Data))
	h2 := newHub(t, m2, testAdminToken)
	eventually(t, 10*time.Second, func() string {
		if r := h2.get(t, h2.admin+"/metrics"); !strings.Contains(string(r.body), "\nobhub_audit_ledger_verified 0\n") {
			return "the node started on an edited ledger does not report it in /metrics"
		}
		return ""
	})
}

func noEnv(string) string { return "" }
