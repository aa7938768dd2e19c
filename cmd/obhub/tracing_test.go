package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// otlpCollector receives OTLP/HTTP trace exports.
type otlpCollector struct {
	srv     *httptest.Server
	mu      sync.Mutex
	exports [][]byte
}

func newOTLPCollector(t testing.TB) *otlpCollector {
	c := &otlpCollector{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Method == http.MethodPost && r.URL.Path == "/v1/traces" {
			c.mu.Lock()
			c.exports = append(c.exports, b)
			c.mu.Unlock()
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *otlpCollector) received() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.exports...)
}

// With --otlp-endpoint the upstream receives a traceparent that continues
// the client's trace (same trace id, the gateway's span as parent), and
// the gateway's spans reach the collector.
func TestTracingPropagatesTraceparent(t *testing.T) {
	col := newOTLPCollector(t)
	core := newCoreSystem(t)
	m := newTestMain(t, func(m *Main) { m.Config.OTLPEndpoint = col.srv.URL })
	if err := m.Run(t.Context()); err != nil {
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

	const traceID, clientSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	r := h.call(t, "GET", farm+"/accounts", tok, nil, "traceparent: 00-"+traceID+"-"+clientSpan+"-01", "tracestate: vendor=abc")
	if r.status != http.StatusOK {
		t.Fatalf("call = %s", r)
	}
	got := core.last(t).Header.Get("Traceparent")
	parts := strings.Split(got, "-")
	if len(parts) != 4 || parts[0] != "00" || parts[1] != traceID || parts[2] == clientSpan || len(parts[2]) != 16 || parts[3] != "01" {
		t.Errorf("upstream traceparent = %q, want trace %s continued with the gateway's span as parent", got, traceID)
	}
	if ts := core.last(t).Header.Get("Tracestate"); ts != "vendor=abc" {
		t.Errorf("upstream tracestate = %q, want the client's", ts)
	}

	// Without a client trace the gateway starts one.
	if r := h.call(t, "GET", farm+"/accounts", tok, nil); r.status != http.StatusOK {
		t.Fatalf("call = %s", r)
	}
	if tp := core.last(t).Header.Get("Traceparent"); len(tp) != 55 || strings.Contains(tp, traceID) {
		t.Errorf("upstream traceparent of a new trace = %q", tp)
	}

	if err := m.Close(); err != nil { // flushes the batched spans
		t.Fatal(err)
	}
	closed = true
	exports := col.received()
	if len(exports) == 0 {
		t.Fatal("the collector received no spans")
	}
	var all []byte
	for _, e := range exports {
		all = append(all, e...)
	}
	if !strings.Contains(string(all), a.bank) || !strings.Contains(string(all), "obhub.request_id") {
		t.Errorf("exported spans lack the bank and request id (%d bytes)", len(all))
	}
}

// Tracing is off by default: the client's traceparent passes through
// untouched and no span is made.
func TestTracingOffByDefault(t *testing.T) {
	core := newCoreSystem(t)
	m := runMain(t)
	if m.tracing != nil {
		t.Fatal("tracing on without --otlp-endpoint")
	}
	h := newHub(t, m, testAdminToken)
	a := setupAlliance(t, h, core)
	tok := h.token(t, a.web.ClientID, a.web.ClientSecret, "")
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	if r := h.call(t, "GET", "/"+a.bank+farmBase+"/accounts", tok, nil, "traceparent: "+tp); r.status != http.StatusOK {
		t.Fatalf("call = %s", r)
	}
	if got := core.last(t).Header.Get("Traceparent"); got != tp {
		t.Errorf("upstream traceparent = %q, want the client's unchanged", got)
	}
}
