package gateway

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/obhub/obhub/catalog"
	"github.com/obhub/obhub/partners"
	"github.com/obhub/obhub/policies"
)

// resetUpstream accepts connections, reads one request's headers, notes
// its request line, and resets the connection (RST) without answering.
type resetUpstream struct {
	ln    net.Listener
	mu    sync.Mutex
	lines []string
	done  chan struct{}
}

func newResetUpstream(t testing.TB) *resetUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &resetUpstream{ln: ln, done: make(chan struct{})}
	go u.serve()
	t.Cleanup(func() {
		ln.Close()
		<-u.done
	})
	return u
}

func (u *resetUpstream) serve() {
	defer close(u.done)
	for {
		c, err := u.ln.Accept()
		if err != nil {
			return
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		if err == nil {
			u.mu.Lock()
			u.lines = append(u.lines, strings.TrimSpace(line))
			u.mu.Unlock()
		}
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0) // close with RST
		}
		c.Close()
	}
}

// take returns and forgets the request lines received so far.
func (u *resetUpstream) take() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	l := u.lines
	u.lines = nil
	return l
}

// A bank that resets the connection: POST and PATCH reach it exactly
// once (never retried, with or without a body); a GET is retried once.
func TestNonIdempotentNeverRetried(t *testing.T) {
	f := newFixture(t)
	up := newResetUpstream(t)
	ops := []catalog.Operation{
		{ID: "createPayment", Method: "POST", Path: "/payments"},
		{ID: "amend", Method: "PATCH", Path: "/payments/{id}"},
		{ID: "listAccounts", Method: "GET", Path: "/accounts"},
	}
	f.holder.Swap(f.snapshot(2, func(a *alliance) {
		a.apis = append(a.apis, catalog.API{
			ID: "reset", Bank: "bank1", Name: "reset", BasePath: "/reset", Upstream: "http://" + up.ln.Addr().String(),
			Visibility: catalog.VisibilityPublic, Status: catalog.StatusPublished, Operations: ops,
		})
		a.products[0].APIs = append(a.products[0].APIs, "reset")
	}))
	tok := f.tokenFor(appProd, partners.Production, "")

	for _, tc := range []struct {
		method, path, body string
		attempts           int
	}{
		{"POST", "/payments", `{"amount":"10.00"}`, 1},
		{"POST", "/payments", "", 1},
		{"PATCH", "/payments/p1", `{"memo":"x"}`, 1},
		{"GET", "/accounts", "", 2},
	} {
		name := tc.method + " " + tc.path + " without a body"
		if tc.body != "" {
			name = tc.method + " " + tc.path + " with a body"
		}
		t.Run(name, func(t *testing.T) {
			var body io.Reader
			hdr := []string{}
			if tc.body != "" {
				body = strings.NewReader(tc.body)
				hdr = append(hdr, "Content-Type", "application/json")
			}
			r := f.do(tc.method, "/bank1/reset"+tc.path, tok, body, hdr...)
			if r.StatusCode != http.StatusBadGateway {
				t.Fatalf("status %d, want 502; body %s", r.StatusCode, r.body)
			}
			got := up.take()
			if len(got) != tc.attempts {
				t.Fatalf("the bank received %d requests %q, want %d", len(got), got, tc.attempts)
			}
			for _, l := range got {
				if !strings.HasPrefix(l, tc.method+" ") {
					t.Errorf("request line %q", l)
				}
			}
		})
	}
}

// The retry budget bounds retries; non-idempotent methods never spend it.
func TestRetryable(t *testing.T) {
	req := func(method string) *fasthttp.Request {
		r := new(fasthttp.Request)
		r.Header.SetMethod(method)
		return r
	}
	budget := &policies.RetryBudget{MinPerSecond: 2, Ratio: 0.01}
	for _, m := range []string{"POST", "PATCH", "PUT", "DELETE"} {
		if retryable(req(m), budget) {
			t.Errorf("%s retryable", m)
		}
	}
	budget.Call()
	granted := 0
	for range 100 {
		if retryable(req("GET"), budget) {
			granted++
		}
	}
	// Two per second: a loop that straddles a second boundary may get
	// two windows' worth.
	if granted < 2 || granted > 4 {
		t.Errorf("%d of 100 retries granted, want the budget's 2 per second", granted)
	}
	if !retryable(req("HEAD"), &policies.RetryBudget{}) {
		t.Error("HEAD within the budget not retryable")
	}
}
