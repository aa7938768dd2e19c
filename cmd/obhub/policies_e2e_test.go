package main

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

// TestPoliciesEndToEnd sets policies through the admin API of a running
// node and sees the gateway enforce them: a plan's rate answers 429 with
// Retry-After and the RateLimit headers after N calls, and a bank's
// ceilings (rate, calls in flight) answer 503 without reaching the bank.
func TestPoliciesEndToEnd(t *testing.T) {
	m := runMain(t)
	h := newHub(t, m, testAdminToken)
	core := newCoreSystem(t)
	a := setupAlliance(t, h, core)
	farm := "/" + a.bank + farmBase
	tok := h.token(t, a.web.ClientID, a.web.ClientSecret, "")

	t.Run("a plan set via the admin API answers 429 after N calls", func(t *testing.T) {
		const n = 3
		h.adminCall(t, "PATCH", "/products/"+a.product, map[string]any{
			"plan": map[string]any{"rate": map[string]any{"limit": n, "period": "1h"}},
		}, http.StatusOK, nil)
		before := core.count()
		for i := range n {
			r := h.call(t, "GET", farm+"/accounts", tok, nil)
			if r.status != http.StatusOK {
				t.Fatalf("call %d = %s, want 200", i+1, r)
			}
			if got := r.header.Get("RateLimit-Limit"); got != strconv.Itoa(n) {
				t.Errorf("call %d: RateLimit-Limit = %q, want %d", i+1, got, n)
			}
			if got, want := r.header.Get("RateLimit-Remaining"), strconv.Itoa(n-i-1); got != want {
				t.Errorf("call %d: RateLimit-Remaining = %q, want %s", i+1, got, want)
			}
			if reset, err := strconv.Atoi(r.header.Get("RateLimit-Reset")); err != nil || reset < 1 || reset > 3600 {
				t.Errorf("call %d: RateLimit-Reset = %q, want 1..3600 seconds", i+1, r.header.Get("RateLimit-Reset"))
			}
		}
		r := h.call(t, "GET", farm+"/accounts", tok, nil)
		wantProblem(t, r, http.StatusTooManyRequests, "rate-limited")
		if ra, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || ra < 1 || ra > 3600 {
			t.Errorf("Retry-After = %q, want 1..3600 seconds", r.header.Get("Retry-After"))
		}
		if r.header.Get("RateLimit-Limit") != strconv.Itoa(n) || r.header.Get("RateLimit-Remaining") != "0" {
			t.Errorf("RateLimit headers on the 429: limit %q remaining %q", r.header.Get("RateLimit-Limit"), r.header.Get("RateLimit-Remaining"))
		}
		if got := core.count() - before; got != n {
			t.Errorf("the bank received %d calls, want %d", got, n)
		}
		// Sandbox counters are separate: the sandbox app is not limited
		// by the production app's calls.
		stok := h.token(t, a.sandbox.ClientID, a.sandbox.ClientSecret, "")
		if r := h.call(t, "GET", "/sandbox"+farm+"/accounts", stok, nil); r.status != http.StatusOK || r.header.Get("RateLimit-Remaining") != strconv.Itoa(n-1) {
			t.Errorf("sandbox call = %s (RateLimit-Remaining %q), want 200 with its own counter", r, r.header.Get("RateLimit-Remaining"))
		}
	})

	// A generous plan again, so that only the bank's ceilings decide.
	h.adminCall(t, "PATCH", "/products/"+a.product, map[string]any{
		"plan": map[string]any{"rate": map[string]any{"limit": 1000, "period": "1s"}},
	}, http.StatusOK, nil)

	t.Run("a bank's rate ceiling answers 503 with Retry-After", func(t *testing.T) {
		h.adminCall(t, "PATCH", "/banks/"+a.bank, map[string]any{
			"limits": map[string]any{"rate": map[string]any{"limit": 2, "period": "1h"}},
		}, http.StatusOK, nil)
		t.Cleanup(func() {
			h.adminCall(t, "PATCH", "/banks/"+a.bank, map[string]any{"limits": nil}, http.StatusOK, nil)
		})
		before := core.count()
		for i := range 2 {
			if r := h.call(t, "GET", farm+"/accounts", tok, nil); r.status != http.StatusOK {
				t.Fatalf("call %d = %s, want 200", i+1, r)
			}
		}
		r := h.call(t, "GET", farm+"/accounts", tok, nil)
		wantProblem(t, r, http.StatusServiceUnavailable, "unavailable")
		if ra, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || ra < 1 {
			t.Errorf("Retry-After = %q, want a number of seconds", r.header.Get("Retry-After"))
		}
		if got := core.count() - before; got != 2 {
			t.Errorf("the bank received %d calls, want 2", got)
		}
	})

	t.Run("a bank's in-flight ceiling answers 503 while the bank is busy", func(t *testing.T) {
		h.adminCall(t, "PUT", "/banks/"+a.bank, map[string]any{
			"name": "Hill Rural Commercial Bank", "limits": map[string]any{"maxInFlight": 1},
		}, http.StatusOK, nil)
		held := make(chan result, 1)
		go func() {
			// No t.Fatal here: the answer is checked below.
			req, err := http.NewRequest("GET", h.public+"/"+a.bank+holdBase+"/hold", nil)
			if err != nil {
				held <- result{status: -1, body: []byte(err.Error())}
				return
			}
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := h.c.Do(req)
			if err != nil {
				held <- result{status: -1, body: []byte(err.Error())}
				return
			}
			resp.Body.Close()
			held <- result{status: resp.StatusCode}
		}()
		select {
		case <-core.entered:
		case r := <-held:
			t.Fatalf("the held call ended early: %s", r)
		case <-time.After(waitLimit):
			t.Fatal("the held call did not reach the bank")
		}
		r := h.call(t, "GET", farm+"/accounts", tok, nil)
		wantProblem(t, r, http.StatusServiceUnavailable, "unavailable")
		if r.header.Get("Retry-After") != "1" {
			t.Errorf("Retry-After = %q, want 1", r.header.Get("Retry-After"))
		}
		core.release()
		if r := <-held; r.status != http.StatusOK {
			t.Errorf("the held call = %s, want 200", r)
		}
		if r := h.call(t, "GET", farm+"/accounts", tok, nil); r.status != http.StatusOK {
			t.Errorf("after the bank answered: %s, want 200", r)
		}
	})
}
