package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/obhub/obhub/config"
)

// This file holds the harness of the end-to-end tests: a whole obhub node
// (Main) on loopback port 0 with a temporary data folder, a recording
// stand-in for a bank's core system, and small clients for the admin API,
// the token endpoint and the gateway.

// testAdminToken is the operator's token of the nodes tests run, as if set
// with OBHUB_ADMIN_TOKEN.
const testAdminToken = "oba_test-operator-token-0123456789"

// waitLimit bounds every wait of these tests; nothing should come near it.
const waitLimit = 15 * time.Second

// testClock is a clock the test can move: real time plus an offset.
type testClock struct{ offset atomic.Int64 }

func (c *testClock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *testClock) advance(d time.Duration) { c.offset.Add(int64(d)) }

// mainOption changes a node's settings before it runs.
type mainOption func(*Main)

// withData runs the node on an existing data folder.
func withData(dir string) mainOption { return func(m *Main) { m.Config.Data = dir } }

// withClock gives the node a clock the test moves.
func withClock(c *testClock) mainOption { return func(m *Main) { m.Clock = c.now } }

// withAdminToken sets the operator's token; "" lets the node generate one.
func withAdminToken(tok string) mainOption { return func(m *Main) { m.Config.AdminToken = tok } }

// withIssuer fixes the issuer, so that tokens outlive a restart on another
// port.
func withIssuer(iss string) mainOption { return func(m *Main) { m.Config.Issuer = iss } }

// withDemo seeds the demo alliance.
func withDemo() mainOption { return func(m *Main) { m.Config.Demo = true } }

// withStdout captures what the node prints at start.
func withStdout(w io.Writer) mainOption { return func(m *Main) { m.Stdout = w } }

// withMaxBody sets --max-body.
func withMaxBody(n int64) mainOption { return func(m *Main) { m.Config.MaxBody = config.ByteSize(n) } }

// withUpstreamTimeout sets --upstream-timeout.
func withUpstreamTimeout(d time.Duration) mainOption {
	return func(m *Main) { m.Config.UpstreamTimeout = d }
}

// newTestMain returns a node on loopback port 0 with a temporary data
// folder and the test operator token; it is not running yet.
//
// The admin listener is "localhost:0", not "127.0.0.1:0" like the public
// one: Static.Validate refuses two equal listen strings even when both
// ask for port 0 (see TestBothListenersOnPortZero).
func newTestMain(t testing.TB, opts ...mainOption) *Main {
	t.Helper()
	m := NewMain()
	m.Config.Listen = "127.0.0.1:0"
	m.Config.AdminListen = "localhost:0"
	m.Config.Data = t.TempDir()
	m.Config.AdminToken = testAdminToken
	for _, o := range opts {
		o(m)
	}
	return m
}

// runMain runs a node (see newTestMain) and closes it at the end of the
// test.
func runMain(t testing.TB, opts ...mainOption) *Main {
	t.Helper()
	m := newTestMain(t, opts...)
	if err := m.Run(context.Background()); err != nil {
		m.Close()
		t.Fatalf("Main.Run: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("Main.Close: %v", err)
		}
	})
	return m
}

// startErr starts a node that must refuse to start and returns why.
func startErr(t testing.TB, opts ...mainOption) error {
	t.Helper()
	m := newTestMain(t, opts...)
	err := m.Run(context.Background())
	m.Close()
	if err == nil {
		return errors.New("the node started")
	}
	return err
}

// hub talks to one node over HTTP.
type hub struct {
	public     string // http://host:port
	admin      string // http://host:port
	adminToken string
	c          *http.Client
}

// newHub returns a client of the node m that uses the admin token tok.
func newHub(t testing.TB, m *Main, tok string) *hub {
	return newHubAt(t, m.PublicURL, m.AdminURL, tok)
}

func newHubAt(t testing.TB, public, admin, tok string) *hub {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	c := &http.Client{Transport: tr, Timeout: waitLimit}
	// Registered after the node's own cleanup, so it runs first: no idle
	// connection keeps the node's shutdown waiting.
	t.Cleanup(c.CloseIdleConnections)
	return &hub{public: public, admin: admin, adminToken: tok, c: c}
}

// result is one answer, read whole.
type result struct {
	status int
	header http.Header
	body   []byte
}

func (r result) String() string {
	return fmt.Sprintf("%d %s", r.status, bytes.TrimSpace(r.body))
}

// do sends a request and reads the whole answer.
func (h *hub) do(t testing.TB, req *http.Request) result {
	t.Helper()
	resp, err := h.c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", req.Method, req.URL, err)
	}
	return result{status: resp.StatusCode, header: resp.Header, body: body}
}

func newRequest(t testing.TB, method, url string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// adminCall calls the admin API (path under /admin/v1) with a JSON body
// (nil for none), fails the test unless the status is want, and decodes
// the answer into out (when not nil).
func (h *hub) adminCall(t testing.TB, method, path string, body any, want int, out any) result {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req := newRequest(t, method, h.admin+"/admin/v1"+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+h.adminToken)
	r := h.do(t, req)
	if r.status != want {
		t.Fatalf("%s /admin/v1%s = %s, want %d", method, path, r, want)
	}
	if out != nil {
		if err := json.Unmarshal(r.body, out); err != nil {
			t.Fatalf("%s /admin/v1%s: decoding %s: %v", method, path, r.body, err)
		}
	}
	return r
}

// tokenResponse is the token endpoint's answer.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
	Scope       string `json:"scope"`
}

// token gets an access token with client_credentials and
// client_secret_basic; scope "" asks for every scope of the app.
func (h *hub) token(t testing.TB, clientID, secret, scope string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	if scope != "" {
		form.Set("scope", scope)
	}
	req := newRequest(t, http.MethodPost, h.public+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	r := h.do(t, req)
	if r.status != http.StatusOK {
		t.Fatalf("token for %s = %s, want 200", clientID, r)
	}
	var tr tokenResponse
	if err := json.Unmarshal(r.body, &tr); err != nil || tr.AccessToken == "" {
		t.Fatalf("token answer %s: %v", r.body, err)
	}
	if !strings.EqualFold(tr.TokenType, "Bearer") {
		t.Errorf("token_type = %q, want Bearer", tr.TokenType)
	}
	return tr.AccessToken
}

// call sends an API call to the public listener with the access token
// (none when empty) and extra headers ("Name: value").
func (h *hub) call(t testing.TB, method, path, token string, body io.Reader, headers ...string) result {
	t.Helper()
	req := newRequest(t, method, h.public+path, body)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for _, hv := range headers {
		k, v, _ := strings.Cut(hv, ":")
		req.Header.Set(k, strings.TrimSpace(v))
	}
	return h.do(t, req)
}

// get sends a plain GET to an absolute URL.
func (h *hub) get(t testing.TB, url string) result {
	t.Helper()
	return h.do(t, newRequest(t, http.MethodGet, url, nil))
}

// problemBase prefixes the stable problem type URIs that clients switch
// on (CONTRACT section 3).
const problemBase = "https://obhub.dev/problems/"

// problem is an RFC 9457 document as the gateway sends it.
type problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	RequestID string `json:"request_id"`
}

// wantProblem checks that r is a problem+json answer with the status and
// type, a title, and the request id of the X-Request-Id header.
func wantProblem(t testing.TB, r result, status int, slug string) problem {
	t.Helper()
	if r.status != status {
		t.Fatalf("answer %s, want %d %s", r, status, slug)
	}
	if mt, _, err := mime.ParseMediaType(r.header.Get("Content-Type")); err != nil || mt != "application/problem+json" {
		t.Errorf("Content-Type = %q, want application/problem+json", r.header.Get("Content-Type"))
	}
	var p problem
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("problem %s: %v", r.body, err)
	}
	if p.Type != problemBase+slug {
		t.Errorf("type = %q, want %q", p.Type, problemBase+slug)
	}
	if p.Title == "" {
		t.Error("the problem has no title")
	}
	if p.Status != status {
		t.Errorf("problem status = %d, want %d", p.Status, status)
	}
	id := r.header.Get("X-Request-Id")
	if id == "" || p.RequestID != id {
		t.Errorf("request_id = %q, X-Request-Id = %q: want the same, not empty", p.RequestID, id)
	}
	return p
}

// received is what the core system saw of one request.
type received struct {
	Method   string
	Path     string
	RawQuery string
	Header   http.Header
	Body     string
}

// coreSystem is a bank's core system: a real HTTP server that records
// every request and answers 200 with JSON. Requests to …/hold wait until
// the test releases them (or the client goes away), after signalling
// entered.
type coreSystem struct {
	srv     *httptest.Server
	entered chan string // the path of each …/hold request as it arrives
	hold    chan struct{}
	once    sync.Once
	mu      sync.Mutex
	reqs    []received
}

func newCoreSystem(t testing.TB) *coreSystem {
	t.Helper()
	cs := &coreSystem{entered: make(chan string, 16), hold: make(chan struct{})}
	cs.srv = httptest.NewServer(http.HandlerFunc(cs.serve))
	t.Cleanup(func() {
		cs.release()
		cs.srv.Close()
	})
	return cs
}

// release lets every held request answer.
func (cs *coreSystem) release() { cs.once.Do(func() { close(cs.hold) }) }

func (cs *coreSystem) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	cs.mu.Lock()
	cs.reqs = append(cs.reqs, received{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Body: string(body)})
	cs.mu.Unlock()
	if strings.HasSuffix(r.URL.Path, "/hold") {
		cs.entered <- r.URL.Path
		select {
		case <-cs.hold:
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Core", "hill")
	json.NewEncoder(w).Encode(map[string]string{"path": r.URL.Path, "query": r.URL.RawQuery, "from": "core"})
}

// last returns the latest request the core system received.
func (cs *coreSystem) last(t testing.TB) received {
	t.Helper()
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if len(cs.reqs) == 0 {
		t.Fatal("the core system received no request")
	}
	return cs.reqs[len(cs.reqs)-1]
}

func (cs *coreSystem) count() int {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return len(cs.reqs)
}

// closedPort returns the URL of a loopback port nothing listens on.
func closedPort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// farmSpec is the OpenAPI document of testdata/specs/farm.yaml.
func farmSpec(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "specs", "farm.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// app is an app's credentials.
type app struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	Environment  string `json:"environment"`
}

// alliance is what setupAlliance created.
type alliance struct {
	bank    string
	partner string
	product string
	web     app // production, subscribed to product
	other   app // production, subscribed to nothing
	sandbox app // sandbox, subscribed to product
}

// Base paths of the APIs setupAlliance imports; each is the farm
// document, behind a different upstream.
const (
	farmBase       = "/farm/v1"       // from the document's servers URL; upstream core/ with a prefix
	holdBase       = "/hold/v1"       // upstream answers only when released; the node's --upstream-timeout
	slowBase       = "/slow/v1"       // upstream answers only when released; upstreamTimeout 1s
	downBase       = "/down/v1"       // upstream port closed
	deprecatedBase = "/deprecated/v1" // deprecated with a sunset
	retiredBase    = "/retired/v1"    // retired
)

// sunset is the sunset of the deprecated API.
var sunset = time.Date(2099, 6, 30, 0, 0, 0, 0, time.UTC)

// setupAlliance creates, through the admin API only, a bank whose APIs
// are imported from testdata/specs/farm.yaml, a product holding them, an
// approved fintech partner and its apps.
func setupAlliance(t testing.TB, h *hub, core *coreSystem) alliance {
	t.Helper()
	a := alliance{bank: "hill-rcb", partner: "tiller", product: "hill-open"}
	spec := farmSpec(t)

	var bank map[string]any
	h.adminCall(t, "POST", "/banks", map[string]any{"id": a.bank, "name": "Hill Rural Commercial Bank (山丘农商银行)"}, http.StatusCreated, &bank)
	if bank["id"] != a.bank {
		t.Fatalf("created bank %v", bank)
	}

	type apiView struct {
		ID         string `json:"id"`
		Name       string `json:"name"`
		BasePath   string `json:"basePath"`
		Operations int    `json:"operations"`
		Status     string `json:"status"`
	}
	importAPI := func(id, basePath, upstream string, extra map[string]any) {
		t.Helper()
		body := map[string]any{"id": id, "bank": a.bank, "spec": spec, "upstream": upstream}
		if basePath != "" {
			body["basePath"] = basePath
		}
		for k, v := range extra {
			body[k] = v
		}
		var v apiView
		h.adminCall(t, "POST", "/apis", body, http.StatusCreated, &v)
		want := basePath
		if want == "" {
			want = farmBase
		}
		if v.BasePath != want || v.Operations != 4 || v.Name != "Farm Accounts" || v.Status != "draft" {
			t.Fatalf("imported API %+v; want base path %s, 4 operations, the document's title, draft", v, want)
		}
		h.adminCall(t, "POST", "/apis/"+id+"/publish", nil, http.StatusOK, &v)
		if v.Status != "published" {
			t.Fatalf("published API is %q", v.Status)
		}
	}
	importAPI("hill-farm", "", core.srv.URL+"/core", nil)
	importAPI("hill-hold", holdBase, core.srv.URL, nil)
	importAPI("hill-slow", slowBase, core.srv.URL, map[string]any{"upstreamTimeout": "1s"})
	importAPI("hill-down", downBase, closedPort(t), nil)
	importAPI("hill-deprecated", deprecatedBase, core.srv.URL, nil)
	importAPI("hill-retired", retiredBase, core.srv.URL, nil)

	var v apiView
	h.adminCall(t, "POST", "/apis/hill-deprecated/deprecate", map[string]any{"sunset": sunset.Format(time.RFC3339)}, http.StatusOK, &v)
	if v.Status != "deprecated" {
		t.Fatalf("deprecated API is %q", v.Status)
	}

	h.adminCall(t, "POST", "/products", map[string]any{
		"id": a.product, "name": "Hill open banking",
		"apis":     []string{"hill-farm", "hill-hold", "hill-slow", "hill-down", "hill-deprecated", "hill-retired"},
		"plan":     map[string]any{"rate": map[string]any{"limit": 1000, "period": "1s"}, "quota": map[string]any{"limit": 100000, "period": "24h"}},
		"approval": "auto",
	}, http.StatusCreated, nil)
	h.adminCall(t, "POST", "/apis/hill-retired/retire", nil, http.StatusOK, &v)
	if v.Status != "retired" {
		t.Fatalf("retired API is %q", v.Status)
	}

	var p struct{ Status string }
	h.adminCall(t, "POST", "/partners", map[string]any{"id": a.partner, "name": "Tiller Fintech", "kind": "fintech"}, http.StatusCreated, &p)
	h.adminCall(t, "POST", "/partners/"+a.partner+"/approve", nil, http.StatusOK, &p)
	if p.Status != "approved" {
		t.Fatalf("approved partner is %q", p.Status)
	}

	newApp := func(name, env string) app {
		t.Helper()
		var out app
		h.adminCall(t, "POST", "/partners/"+a.partner+"/apps", map[string]any{
			"name": name, "environment": env, "grant_types": []string{"client_credentials"},
			"scopes":                     []string{"accounts:read", "transactions:read", "payments:write"},
			"token_endpoint_auth_method": "client_secret_basic",
		}, http.StatusCreated, &out)
		if out.ClientID == "" || out.ClientSecret == "" || out.Environment != env {
			t.Fatalf("created app %+v", out)
		}
		return out
	}
	a.web = newApp("tiller-web", "production")
	a.other = newApp("tiller-batch", "production")
	a.sandbox = newApp("tiller-try", "sandbox")
	subscribe(t, h, a.web.ClientID, a.product)
	subscribe(t, h, a.sandbox.ClientID, a.product)
	return a
}

// subscribe subscribes an app to a product with auto approval.
func subscribe(t testing.TB, h *hub, clientID, product string) {
	t.Helper()
	var s struct{ Status string }
	h.adminCall(t, "POST", "/apps/"+url.PathEscape(clientID)+"/subscriptions", map[string]any{"product": product}, http.StatusCreated, &s)
	if s.Status != "active" {
		t.Fatalf("subscription is %q, want active", s.Status)
	}
}

// jwtParts decodes the header and claims of a compact JWS.
func jwtParts(t testing.TB, tok string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a compact JWS", tok)
	}
	dec := func(s string) map[string]any {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	return dec(parts[0]), dec(parts[1])
}

// jwksKIDs returns the key ids the node publishes.
func (h *hub) jwksKIDs(t testing.TB) []string {
	t.Helper()
	r := h.get(t, h.public+"/oauth2/jwks")
	if r.status != http.StatusOK {
		t.Fatalf("GET /oauth2/jwks = %s", r)
	}
	var set struct {
		Keys []struct {
			KID string `json:"kid"`
			D   string `json:"d"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(r.body, &set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		if k.D != "" {
			t.Error("the JWKS publishes a private key")
		}
		kids = append(kids, k.KID)
	}
	return kids
}
