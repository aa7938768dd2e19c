package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestRestart stops a node and starts another on the same data folder:
// everything the first one was told survives, its tokens stay valid, and
// the admin token generated at the first start is neither regenerated nor
// printed again.
func TestRestart(t *testing.T) {
	dir := t.TempDir()
	// The issuer defaults to http://<listen>, which changes with port 0:
	// fix it, as an operator behind a stable address would.
	const issuer = "http://obhub.hill.test"
	core := newCoreSystem(t)

	var out1 bytes.Buffer
	m1 := newTestMain(t, withData(dir), withAdminToken(""), withIssuer(issuer), withStdout(&out1))
	if err := m1.Run(context.Background()); err != nil {
		m1.Close()
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			m1.Close()
		}
	})
	adminToken := m1.AdminToken
	if !strings.HasPrefix(adminToken, "oba_") {
		t.Fatalf("the first start generated admin token %q", adminToken)
	}
	if !strings.Contains(out1.String(), adminToken) {
		t.Errorf("the generated admin token is not printed:\n%s", out1.String())
	}

	h1 := newHub(t, m1, adminToken)
	a := setupAlliance(t, h1, core)
	farm := "/" + a.bank + farmBase
	tok := h1.token(t, a.web.ClientID, a.web.ClientSecret, "")
	if r := h1.call(t, "GET", farm+"/accounts", tok, nil); r.status != http.StatusOK {
		t.Fatalf("first run: %s", r)
	}
	kids1 := h1.jwksKIDs(t)
	var apps1, apis1 listing
	h1.adminCall(t, "GET", "/apps?limit=500", nil, http.StatusOK, &apps1)
	h1.adminCall(t, "GET", "/apis?limit=500", nil, http.StatusOK, &apis1)

	h1.c.CloseIdleConnections()
	if err := m1.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	closed = true
	if err := m1.Close(); err != nil {
		t.Errorf("a second Close: %v", err)
	}

	var out2 bytes.Buffer
	m2 := runMain(t, withData(dir), withAdminToken(""), withIssuer(issuer), withStdout(&out2))
	if m2.AdminToken != "" {
		t.Errorf("the second start generated admin token %q again", m2.AdminToken)
	}
	if strings.Contains(out2.String(), adminToken) || strings.Contains(out2.String(), "oba_") {
		t.Errorf("the second start printed an admin token:\n%s", out2.String())
	}
	h2 := newHub(t, m2, adminToken)

	t.Run("the first admin token still works", func(t *testing.T) {
		h2.adminCall(t, "GET", "/banks/"+a.bank, nil, http.StatusOK, nil)
	})
	t.Run("objects are still there, once each", func(t *testing.T) {
		var apps2, apis2 listing
		h2.adminCall(t, "GET", "/apps?limit=500", nil, http.StatusOK, &apps2)
		h2.adminCall(t, "GET", "/apis?limit=500", nil, http.StatusOK, &apis2)
		if !slices.Equal(apps1.ids("client_id"), apps2.ids("client_id")) || !slices.Equal(apis1.ids("id"), apis2.ids("id")) {
			t.Errorf("apps %q → %q, APIs %q → %q", apps1.ids("client_id"), apps2.ids("client_id"), apis1.ids("id"), apis2.ids("id"))
		}
		var s struct{ Status string }
		h2.adminCall(t, "GET", "/apps/"+url.PathEscape(a.web.ClientID)+"/subscriptions/"+a.product, nil, http.StatusOK, &s)
		if s.Status != "active" {
			t.Errorf("subscription is %q", s.Status)
		}
	})
	t.Run("the same signing key", func(t *testing.T) {
		if kids2 := h2.jwksKIDs(t); !slices.Equal(kids1, kids2) {
			t.Errorf("JWKS key ids %q → %q", kids1, kids2)
		}
	})
	t.Run("a token of the first run is accepted", func(t *testing.T) {
		if r := h2.call(t, "GET", farm+"/accounts", tok, nil); r.status != http.StatusOK {
			t.Errorf("call with the first run's token = %s, want 200", r)
		}
	})
	t.Run("the client secret still works", func(t *testing.T) {
		tok2 := h2.token(t, a.web.ClientID, a.web.ClientSecret, "")
		if r := h2.call(t, "GET", farm+"/accounts", tok2, nil); r.status != http.StatusOK {
			t.Errorf("call = %s, want 200", r)
		}
	})
}

// TestFirstStartDoesNotStall: generating the admin token is one write to
// the configuration store, made before the configuration watcher runs.
// Admin writes wait (config.SyncKV, up to 2 s) until the watcher serves
// them, so that write must not: a first start takes well under a second.
func TestFirstStartDoesNotStall(t *testing.T) {
	m := newTestMain(t, withAdminToken(""))
	start := time.Now()
	err := m.Run(context.Background())
	took := time.Since(start)
	defer m.Close()
	if err != nil {
		t.Fatal(err)
	}
	if m.AdminToken == "" {
		t.Fatal("no admin token generated")
	}
	if took > 1500*time.Millisecond {
		t.Errorf("BUG: the first start took %s: cmd/obhub/serve.go calls Store.EnsureAdminToken through config.SyncKV before the watcher's Run goroutine starts, so its Txn waits the whole SyncKV.MaxWait (2 s) for a snapshot that cannot come", took.Round(time.Millisecond))
	}
}

// listing is one page of an admin collection.
type listing struct {
	Items []map[string]any `json:"items"`
}

func (l listing) ids(field string) []string {
	var ids []string
	for _, it := range l.Items {
		s, _ := it[field].(string)
		ids = append(ids, s)
	}
	slices.Sort(ids)
	return ids
}

// TestDataFolderInUse: a second node on the data folder of a running one
// is refused with a clear error, and the running one is not disturbed.
func TestDataFolderInUse(t *testing.T) {
	m1 := runMain(t)
	h := newHub(t, m1, testAdminToken)

	m2 := newTestMain(t, withData(m1.Config.Data))
	err := m2.Run(context.Background())
	if err == nil {
		m2.Close()
		t.Fatal("a second node on the same data folder started")
	}
	if !strings.Contains(err.Error(), "in use") {
		t.Errorf("error %q does not say the folder is in use", err)
	}
	if err := m2.Close(); err != nil {
		t.Errorf("Close after a failed Run: %v", err)
	}

	// The same through the command line.
	var stdout, stderr bytes.Buffer
	env := map[string]string{"OBHUB_ADMIN_TOKEN": testAdminToken}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	code := run(ctx, []string{"serve", "--listen", "127.0.0.1:0", "--admin-listen", "localhost:0", "--data", m1.Config.Data}, &stdout, &stderr, mapEnv(env))
	if code == 0 || !strings.Contains(stderr.String(), "in use") {
		t.Errorf("obhub serve on a folder in use: exit %d, stderr:\n%s", code, stderr.String())
	}

	h.adminCall(t, "POST", "/banks", map[string]any{"id": "still-up", "name": "Still up"}, http.StatusCreated, nil)
	if r := h.get(t, m1.PublicURL+"/readyz"); r.status != http.StatusOK {
		t.Errorf("the running node after the refused start: /readyz = %s", r)
	}
}

// TestBothListenersOnPortZero: port 0 asks the system for a free port, so
// two listeners on 127.0.0.1:0 never collide and must be allowed (STYLE
// habit 2 runs Main "on port 0").
func TestBothListenersOnPortZero(t *testing.T) {
	m := newTestMain(t)
	m.Config.AdminListen = "127.0.0.1:0"
	if err := m.Run(context.Background()); err != nil {
		m.Close()
		t.Fatalf("BUG: Run with --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0: %v (config/static.go Validate compares the two strings even for port 0)", err)
	}
	defer m.Close()
	if m.PublicURL == m.AdminURL {
		t.Errorf("both listeners on %s", m.PublicURL)
	}
}

// mapEnv is a getenv over a map.
func mapEnv(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

// TestFailedStartReleasesEverything: a node that cannot listen reports
// why, and after Close its data folder can be used at once.
func TestFailedStartReleasesEverything(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()

	m1 := newTestMain(t)
	m1.Config.Listen = busy.Addr().String()
	err = m1.Run(context.Background())
	if err == nil {
		m1.Close()
		t.Fatal("Run succeeded on a port in use")
	}
	if !strings.Contains(err.Error(), "public listener") {
		t.Errorf("error %q does not name the listener", err)
	}
	if err := m1.Close(); err != nil {
		t.Errorf("Close after a failed Run: %v", err)
	}
	if err := m1.Close(); err != nil {
		t.Errorf("a second Close: %v", err)
	}

	m2 := runMain(t, withData(m1.Config.Data))
	if r := newHub(t, m2, testAdminToken).get(t, m2.AdminURL+"/readyz"); r.status != http.StatusOK {
		t.Errorf("/readyz = %s", r)
	}
}
