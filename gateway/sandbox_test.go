package gateway

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/partners"
)

// fakeSandbox records what the gateway hands the sandbox.
type fakeSandbox struct {
	mu     sync.Mutex
	calls  []SandboxRequest
	resets []string
	err    error
}

func (s *fakeSandbox) Respond(_ context.Context, req SandboxRequest) (SandboxResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, req)
	if s.err != nil {
		return SandboxResponse{}, s.err
	}
	return SandboxResponse{Status: 201, Header: http.Header{"Content-Type": {"application/json"}, "X-Sandbox": {"yes"}}, Body: []byte(`{"ok":true}`)}, nil
}

func (s *fakeSandbox) Reset(_ context.Context, clientID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resets = append(s.resets, clientID)
	return nil
}

func TestSandboxStep(t *testing.T) {
	sb := &fakeSandbox{}
	f := newFixture(t, func(c *Config) { c.Sandbox = sb })
	tok := f.tokenFor(appSandbox, partners.Sandbox, "accounts:read")

	t.Run("an authorised sandbox call reaches the sandbox, not the upstream", func(t *testing.T) {
		r := f.do("GET", "/sandbox/bank1/v1/accounts/acc-7?x=1", tok, nil, "Cookie", "c=1", "Prefer", "code=404")
		if r.StatusCode != 201 || string(r.body) != `{"ok":true}` || r.Header.Get("X-Sandbox") != "yes" {
			t.Fatalf("answer %d %s", r.StatusCode, r.body)
		}
		if f.up.count() != 0 {
			t.Error("the upstream was called")
		}
		sb.mu.Lock()
		got := sb.calls[len(sb.calls)-1]
		sb.mu.Unlock()
		if got.ClientID != appSandbox || got.Path != "/v1/accounts/acc-7" || got.Query != "x=1" || got.PathParams["accountId"] != "acc-7" {
			t.Errorf("request %+v", got)
		}
		if got.Header.Get("Authorization") != "" || got.Header.Get("Cookie") != "" || got.Header.Get("Prefer") != "code=404" {
			t.Errorf("headers %v", got.Header)
		}
		o := f.takeOutcomes()
		if len(o) != 1 || o[0].Environment != "sandbox" || o[0].Decision != DecisionAllow || o[0].Status != 201 {
			t.Errorf("outcomes %+v", o)
		}
	})

	t.Run("sandbox errors become problems", func(t *testing.T) {
		sb.mu.Lock()
		sb.err = obhub.Errorf(obhub.EINVALID, "no documented 418")
		sb.mu.Unlock()
		defer func() { sb.mu.Lock(); sb.err = nil; sb.mu.Unlock() }()
		r := f.do("GET", "/sandbox/bank1/v1/accounts", tok, nil)
		if r.StatusCode != 400 || !strings.Contains(string(r.body), "no documented 418") {
			t.Errorf("answer %d %s", r.StatusCode, r.body)
		}
		f.takeOutcomes()
	})

	t.Run("POST /sandbox/reset resets the token's app", func(t *testing.T) {
		r := f.do("POST", "/sandbox/reset", tok, nil)
		if r.StatusCode != 200 {
			t.Fatalf("reset %d %s", r.StatusCode, r.body)
		}
		sb.mu.Lock()
		resets := append([]string(nil), sb.resets...)
		sb.mu.Unlock()
		if len(resets) != 1 || resets[0] != appSandbox {
			t.Errorf("resets %q", resets)
		}
		prod := f.tokenFor(appProd, partners.Production, "accounts:read")
		if r := f.do("POST", "/sandbox/reset", prod, nil); r.StatusCode != 403 {
			t.Errorf("production token: %d %s", r.StatusCode, r.body)
		}
		if r := f.do("POST", "/sandbox/reset", "", nil); r.StatusCode != 401 {
			t.Errorf("no token: %d", r.StatusCode)
		}
		if r := f.do("GET", "/sandbox/reset", tok, nil); r.StatusCode != 405 {
			t.Errorf("GET: %d", r.StatusCode)
		}
		for _, o := range f.takeOutcomes() {
			if o.Environment != "sandbox" {
				t.Errorf("reset outcome environment %q", o.Environment)
			}
		}
	})
}
