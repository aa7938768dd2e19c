package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/obhub/obhub/audit"
	"github.com/obhub/obhub/store/postgres/pgtest"
)

// withDB runs the node with --db.
func withDB(dsn string) mainOption { return func(m *Main) { m.Config.DB = dsn } }

// pgProxy forwards TCP to PostgreSQL and can cut it, as a database outage
// looks to a node: new connections refused, open ones reset.
type pgProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  []net.Conn
}

func startPGProxy(t testing.TB, target string) *pgProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &pgProxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.setDown(true) })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			if p.down {
				p.mu.Unlock()
				c.Close()
				continue
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				p.mu.Unlock()
				c.Close()
				continue
			}
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { io.Copy(u, c); u.Close() }()
			go func() { io.Copy(c, u); c.Close() }()
		}
	}()
	return p
}

func (p *pgProxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}

// pgThroughProxy returns a DSN to the test server's fresh schema through a
// proxy that the test can cut.
func pgThroughProxy(t testing.TB) (dsn string, proxy *pgProxy, schema string) {
	t.Helper()
	base := pgtest.DSN(t)
	schema = pgtest.Schema(t, base)
	ctx := context.Background()
	c, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	c.Close(ctx)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	proxy = startPGProxy(t, u.Host)
	u.Host = proxy.ln.Addr().String()
	q := u.Query()
	q.Set("search_path", schema)
	q.Set("connect_timeout", "2")
	u.RawQuery = q.Encode()
	return u.String(), proxy, schema
}

// With --db, OAuth state and the audit ledger are in PostgreSQL. While
// PostgreSQL is down the token endpoint answers 503 and calls with valid
// tokens go on; once it is back, tokens are issued again and the ledger
// verifies.
func TestPostgresOutage(t *testing.T) {
	dsn, proxy, schema := pgThroughProxy(t)
	core := newCoreSystem(t)
	m := newTestMain(t, withDB(dsn))
	if err := m.Run(context.Background()); err != nil {
		m.Close()
		t.Fatalf("Main.Run: %v", err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			m.Close()
		}
	})
	h := newHub(t, m, testAdminToken)
	a := setupAlliance(t, h, core)
	farm := "/" + a.bank + farmBase
	tok := h.token(t, a.web.ClientID, a.web.ClientSecret, "")
	if r := h.call(t, "GET", farm+"/accounts", tok, nil); r.status != http.StatusOK {
		t.Fatalf("call before the outage: %s", r)
	}

	proxy.setDown(true)
	t.Run("token endpoint answers 503", func(t *testing.T) {
		form := url.Values{"grant_type": {"client_credentials"}}
		req := newRequest(t, http.MethodPost, h.public+"/oauth2/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(a.web.ClientID, a.web.ClientSecret)
		if r := h.do(t, req); r.status != http.StatusServiceUnavailable {
			t.Fatalf("token during the outage = %s, want 503", r)
		}
	})
	var during []string // request ids answered during the outage
	t.Run("calls with valid tokens go on", func(t *testing.T) {
		for i := range 12 {
			r := h.call(t, "GET", farm+"/accounts", tok, nil, fmt.Sprintf("X-Request-Id: outage-call-%c", 'a'+i))
			if r.status != http.StatusOK {
				t.Fatalf("call during the outage = %s, want 200", r)
			}
			during = append(during, r.header.Get("X-Request-Id"))
		}
	})
	if st := m.auditLog.writer.Stats(); st.Spooled == 0 || st.Failed != 0 {
		t.Errorf("audit during the outage: %+v, want records spooled, none failed", st)
	}
	t.Run("metrics show the outage", func(t *testing.T) {
		body := string(h.get(t, h.admin+"/metrics").body)
		for _, want := range []string{`obhub_store_health{store="postgres"} 0`, `obhub_store_health{store="config"} 1`} {
			if !strings.Contains(body, want) {
				t.Errorf("/metrics lacks %q", want)
			}
		}
		if strings.Contains(body, "obhub_audit_spool_depth 0\n") || !strings.Contains(body, "obhub_audit_spool_depth ") {
			t.Errorf("/metrics: spool depth not above 0 during the outage")
		}
	})
	proxy.setDown(false)
	t.Run("after the outage", func(t *testing.T) {
		tok2 := h.token(t, a.web.ClientID, a.web.ClientSecret, "")
		r := h.call(t, "GET", farm+"/accounts", tok2, nil)
		if r.status != http.StatusOK {
			t.Fatalf("call after the outage = %s", r)
		}
		// The spool drains while the node runs.
		deadline := time.Now().Add(10 * time.Second)
		for m.auditLog.writer.Stats().Pending > 0 && time.Now().Before(deadline) {
			runtime.Gosched()
			time.Sleep(50 * time.Millisecond) // polling a condition with a deadline
		}
		if st := m.auditLog.writer.Stats(); st.Pending != 0 || st.Drained != st.Spooled {
			t.Fatalf("spool not drained 10 s after the outage: %+v", st)
		}
	})
	m.Close()
	closed = true

	ctx := context.Background()
	db := pgtest.OpenSchema(t, pgtest.DSN(t), schema)
	res, ok, err := db.VerifyAll(ctx, audit.VerifyOptions{})
	if err != nil || !ok || len(res) != 1 || res[0].Records < int64(3+len(during)) {
		t.Fatalf("ledger in PostgreSQL: %+v, %v, %v", res, ok, err)
	}
	// The command line verifies the cluster's ledger too, chain by chain.
	var out, errs strings.Builder
	if err := auditCommand(ctx, []string{"verify", "--db", dsn, "--data", m.Config.Data}, &out, &errs, func(string) string { return "" }); err != nil ||
		!strings.Contains(out.String(), "chain "+res[0].Chain+": ok: "+strconv.FormatInt(res[0].Records, 10)+" records") {
		t.Errorf("obhub audit verify --db: %v\n%s%s", err, out.String(), errs.String())
	}
	for _, id := range during {
		n := 0
		if err := db.AllChains().Find(ctx, audit.Filter{RequestID: id}, func(*audit.Record) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("request %s answered during the outage has %d audit records, want exactly 1", id, n)
		}
	}
}

// /metrics on the admin listener counts the calls by bank, API and status.
func TestMetrics(t *testing.T) {
	core := newCoreSystem(t)
	m := runMain(t)
	h := newHub(t, m, testAdminToken)
	a := setupAlliance(t, h, core)
	farm := "/" + a.bank + farmBase
	tok := h.token(t, a.web.ClientID, a.web.ClientSecret, "")
	for range 3 {
		if r := h.call(t, "GET", farm+"/accounts", tok, nil); r.status != http.StatusOK {
			t.Fatal(r)
		}
	}
	h.call(t, "GET", farm+"/accounts", "", nil) // 401
	r := h.get(t, h.admin+"/metrics")
	if r.status != http.StatusOK {
		t.Fatalf("/metrics = %s", r)
	}
	body := string(r.body)
	for _, want := range []string{
		`obhub_requests_total{api="`, `status="200"} 3`, `status="401"} 1`,
		"obhub_request_duration_seconds_bucket", "obhub_limit_fallbacks_total 0",
		"obhub_audit_written_total", "obhub_config_revision", "obhub_store_up 1",
		"obhub_audit_queue_depth 0", "obhub_audit_spool_depth 0", "obhub_audit_lag_seconds 0",
		`obhub_store_health{store="config"} 1`, `obhub_store_health{store="audit"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// The audit pipeline's own counters: the calls above were committed in
	// at least one group and flushed at least once, in measured time.
	for _, re := range []string{`(?m)^obhub_audit_batches_total [1-9]`, `(?m)^obhub_audit_flushes_total [1-9]`,
		`(?m)^obhub_audit_append_seconds_total [0-9.e-]+$`, `(?m)^obhub_audit_flush_seconds_total [0-9.e-]+$`,
		`(?m)^obhub_audit_waits_total [1-9]`, `(?m)^obhub_audit_wait_seconds_total [0-9.e-]+$`,
		// The same as histograms, where a stalling disk shows.
		`(?m)^obhub_audit_flush_duration_seconds_bucket\{le="0.0005"\} [0-9]+$`, `(?m)^obhub_audit_flush_duration_seconds_count [1-9]`,
		`(?m)^obhub_audit_wait_duration_seconds_bucket\{le="\+Inf"\} [1-9]`,
		// Go's own: how long runnable goroutines waited for a processor,
		// and the collector's stop-the-world pauses (docs/performance.md).
		`(?m)^go_sched_latencies_seconds_count [1-9]`, `(?m)^go_sched_pauses_total_gc_seconds_bucket\{le="\+Inf"\} [0-9]+$`} {
		if !regexp.MustCompile(re).MatchString(body) {
			t.Errorf("/metrics lacks %s", re)
		}
	}
	if t.Failed() {
		t.Log(body[:min(len(body), 3000)])
	}
}
