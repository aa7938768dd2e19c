package gateway

import (
	"bufio"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/catalog"
	"github.com/obhub/obhub/config"
	"github.com/obhub/obhub/partners"
)

const (
	testIssuer   = "https://hub.test"
	testAudience = "https://api.hub.test"
	testKID      = "k1"
)

// testKeys is a KeySet over in-memory keys.
type testKeys map[string]crypto.PublicKey

func (k testKeys) PublicKey(kid string) (crypto.PublicKey, bool) {
	pk, ok := k[kid]
	return pk, ok
}

// testClock is a settable clock.
type testClock struct{ ns atomic.Int64 }

func (c *testClock) Now() time.Time        { return time.Unix(0, c.ns.Load()) }
func (c *testClock) Set(t time.Time)       { c.ns.Store(t.UnixNano()) }
func (c *testClock) Add(d time.Duration)   { c.ns.Add(int64(d)) }
func newTestClock(t time.Time) *testClock  { c := &testClock{}; c.Set(t); return c }
func (c *testClock) clock() obhub.Clock    { return c.Now }
func (c *testClock) since(d int) time.Time { return c.Now().Add(time.Duration(d) * time.Second) }

// received is what the test upstream saw of one request.
type received struct {
	Method  string
	URI     string // request target as sent
	Host    string
	Header  http.Header
	Body    string
	BodyErr error
}

// testUpstream is a real HTTP server standing in for a bank's system. It
// records every request and answers by path.
type testUpstream struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []received
	// hold blocks requests to /hold until closed.
	hold chan struct{}
	// entered receives once per request to /hold when it arrives.
	entered chan struct{}
	// firstIn receives the first 5 bytes of a /stream-in body as soon as
	// they arrive; nextOut lets a /stream-out response finish.
	firstIn chan string
	nextOut chan struct{}
}

func newTestUpstream(t testing.TB) *testUpstream {
	t.Helper()
	u := &testUpstream{hold: make(chan struct{}), entered: make(chan struct{}, 16), firstIn: make(chan string, 1), nextOut: make(chan struct{})}
	u.srv = httptest.NewServer(http.HandlerFunc(u.serve))
	t.Cleanup(func() {
		u.release()
		u.srv.Close()
	})
	return u
}

func (u *testUpstream) release() {
	u.mu.Lock()
	defer u.mu.Unlock()
	select {
	case <-u.hold:
	default:
		close(u.hold)
	}
}

func (u *testUpstream) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasSuffix(r.URL.Path, "/stream-in"):
		// Signal the first bytes of the body, then read the rest.
		first := make([]byte, 5)
		if _, err := io.ReadFull(r.Body, first); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		u.firstIn <- string(first)
		rest, _ := io.ReadAll(r.Body)
		io.WriteString(w, string(first)+string(rest))
		return
	case strings.HasSuffix(r.URL.Path, "/stream-out"):
		// Send a first part, then wait before the rest.
		io.WriteString(w, "first;")
		w.(http.Flusher).Flush()
		select {
		case <-u.nextOut:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "second")
		return
	}
	body, err := io.ReadAll(r.Body)
	u.mu.Lock()
	u.reqs = append(u.reqs, received{Method: r.Method, URI: r.RequestURI, Host: r.Host, Header: r.Header.Clone(), Body: string(body), BodyErr: err})
	u.mu.Unlock()
	switch {
	case strings.HasSuffix(r.URL.Path, "/hold"):
		u.entered <- struct{}{}
		<-u.hold
	case strings.HasSuffix(r.URL.Path, "/chunked"):
		w.Header().Set("Content-Type", "text/plain")
		for i := range 3 {
			io.WriteString(w, strings.Repeat(string(rune('a'+i)), 1000))
			w.(http.Flusher).Flush()
		}
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Upstream", "yes")
	h.Set("Connection", "X-Hop-Secret")
	h.Set("X-Hop-Secret", "hop")
	h.Set("Keep-Alive", "timeout=5")
	h.Set("Proxy-Authenticate", "Basic")
	h.Set("Upgrade", "h2c")
	w.WriteHeader(http.StatusOK)
	json.NewEncoder(w).Encode(map[string]string{"path": r.URL.Path, "query": r.URL.RawQuery})
}

// last returns the most recent request the upstream received.
func (u *testUpstream) last(t testing.TB) received {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.reqs) == 0 {
		t.Fatal("the upstream received no request")
	}
	return u.reqs[len(u.reqs)-1]
}

func (u *testUpstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.reqs)
}

// fixture is a gateway serving on loopback in front of a test upstream,
// with a signing key and a snapshot of a small alliance.
type fixture struct {
	t        testing.TB
	gw       *Gateway
	base     string // http://127.0.0.1:port
	addr     string
	holder   *config.Holder
	key      *ecdsa.PrivateKey
	clock    *testClock
	up       *testUpstream
	client   *http.Client
	mu       sync.Mutex
	outcomes []*Outcome
	revoked  sync.Map // jti → true
}

type fixtureOption func(*Config)

func newFixture(t testing.TB, opts ...fixtureOption) *fixture {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{
		t:      t,
		holder: new(config.Holder),
		key:    key,
		clock:  newTestClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)),
		up:     newTestUpstream(t),
	}
	f.holder.Swap(f.snapshot(1, nil))
	cfg := Config{
		Issuer:   testIssuer,
		Audience: testAudience,
		Clock:    f.clock.clock(),
		OnDone: func(o *Outcome) {
			f.mu.Lock()
			f.outcomes = append(f.outcomes, o)
			f.mu.Unlock()
		},
		Revoked: func(jti string) bool { _, ok := f.revoked.Load(jti); return ok },
	}
	for _, o := range opts {
		o(&cfg)
	}
	f.gw = New(cfg, f.holder, testKeys{testKID: &key.PublicKey})
	f.gw.Mount("/oauth2/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		id, _ := r.Context().Value(obhub.RequestIDKey).(string)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"path": r.URL.Path, "body_len": len(body), "ctx_request_id": id, "hdr_request_id": r.Header.Get("X-Request-Id")})
	}))
	f.gw.Mount("/panic/", http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.addr = ln.Addr().String()
	f.base = "http://" + f.addr
	served := make(chan error, 1)
	go func() { served <- f.gw.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := f.gw.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	f.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	t.Cleanup(f.client.CloseIdleConnections)
	return f
}

// The test alliance: bank1 publishes APIs; partner fin (approved fintech)
// has a production and a sandbox app subscribed to product basic, and an
// app without subscription; partner pend is not approved.
const (
	appProd    = "app-prod"
	appSandbox = "app-sbx"
	appNoSub   = "app-nosub"
	appPending = "app-pend"
	appPendSbx = "app-pend-sbx" // partner pend's sandbox app
)

// snapshot builds the alliance's configuration; edit may change the
// objects before they are indexed.
func (f *fixture) snapshot(rev int64, edit func(*alliance)) *config.Snapshot {
	down := "http://" + closedAddr(f.t)
	ops := []catalog.Operation{
		{ID: "listAccounts", Method: "GET", Path: "/accounts", Scopes: []string{"accounts:read"}},
		{ID: "getAccount", Method: "GET", Path: "/accounts/{accountId}", Scopes: []string{"accounts:read"}},
		{ID: "createPayment", Method: "POST", Path: "/payments", Scopes: []string{"payments:write"}},
		{ID: "listStatements", Method: "GET", Path: "/statements", Scopes: []string{"accounts:read"}, CustomerOnly: true},
		{ID: "upload", Method: "PUT", Path: "/upload"},
		{ID: "hold", Method: "GET", Path: "/hold"},
		{ID: "chunked", Method: "GET", Path: "/chunked"},
		{ID: "streamIn", Method: "POST", Path: "/stream-in"},
		{ID: "streamOut", Method: "GET", Path: "/stream-out"},
	}
	api := func(id, base string, mod func(*catalog.API)) catalog.API {
		a := catalog.API{ID: id, Bank: "bank1", Name: id, BasePath: base, Upstream: f.up.srv.URL + "/core",
			Visibility: catalog.VisibilityPublic, Status: catalog.StatusPublished, Operations: ops}
		if mod != nil {
			mod(&a)
		}
		return a
	}
	a := &alliance{
		banks: []catalog.Bank{{ID: "bank1", Name: "Bank One"}, {ID: "bank2", Name: "Bank Two"}},
		apis: []catalog.API{
			api("accounts", "/v1", func(a *catalog.API) { a.MaxBody = 1024 }),
			api("legacy", "/legacy", func(a *catalog.API) {
				a.Status = catalog.StatusDeprecated
				a.DeprecatedAt = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
				a.Sunset = time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)
			}),
			api("old", "/old", func(a *catalog.API) { a.Status = catalog.StatusRetired }),
			api("draft", "/draft", func(a *catalog.API) { a.Status = catalog.StatusDraft }),
			api("private", "/private", func(a *catalog.API) { a.Visibility = catalog.VisibilityPrivate }),
			api("slow", "/slow", func(a *catalog.API) { a.UpstreamTimeout = obhub.Duration(100 * time.Millisecond) }),
			api("down", "/down", func(a *catalog.API) { a.Upstream = down }),
		},
		products: []catalog.Product{{ID: "basic", Name: "Basic", APIs: []string{"accounts", "legacy", "old", "draft", "private", "slow", "down"}, Approval: catalog.ApprovalAuto}},
		partners: []partners.Partner{
			{ID: "fin", Name: "Fin", Kind: partners.KindFintech, Status: partners.PartnerApproved},
			{ID: "pend", Name: "Pending", Kind: partners.KindFintech, Status: partners.PartnerPending},
		},
		apps: []partners.App{
			{ClientID: appProd, Partner: "fin", Name: "prod", Environment: partners.Production},
			{ClientID: appSandbox, Partner: "fin", Name: "sbx", Environment: partners.Sandbox},
			{ClientID: appNoSub, Partner: "fin", Name: "nosub", Environment: partners.Production},
			{ClientID: appPending, Partner: "pend", Name: "pend", Environment: partners.Production},
			{ClientID: appPendSbx, Partner: "pend", Name: "pend-sbx", Environment: partners.Sandbox},
		},
		subs: []partners.Subscription{
			{ClientID: appProd, Product: "basic", Status: partners.SubscriptionActive},
			{ClientID: appSandbox, Product: "basic", Status: partners.SubscriptionActive},
			{ClientID: appPending, Product: "basic", Status: partners.SubscriptionActive},
			{ClientID: appPendSbx, Product: "basic", Status: partners.SubscriptionActive},
		},
	}
	if edit != nil {
		edit(a)
	}
	return &config.Snapshot{
		Revision:  rev,
		Catalog:   catalog.New(a.banks, a.apis, a.products),
		Directory: partners.NewDirectory(a.partners, a.apps, a.subs, a.products),
	}
}

type alliance struct {
	banks    []catalog.Bank
	apis     []catalog.API
	products []catalog.Product
	partners []partners.Partner
	apps     []partners.App
	subs     []partners.Subscription
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// claims returns the claims of a valid production token of app-prod.
func (f *fixture) claims() jwt.MapClaims {
	now := f.clock.Now()
	return jwt.MapClaims{
		"iss":           testIssuer,
		"sub":           appProd,
		"aud":           []string{testAudience},
		"exp":           now.Add(5 * time.Minute).Unix(),
		"iat":           now.Unix(),
		"jti":           rand.Text(),
		"client_id":     appProd,
		"scope":         "accounts:read payments:write",
		"obhub_env":     "production",
		"obhub_partner": "fin",
	}
}

// sign signs claims with the test key under kid k1 and typ at+jwt, after
// edit changes the claims and the header.
func (f *fixture) sign(edit func(c jwt.MapClaims, h map[string]any)) string {
	f.t.Helper()
	c := f.claims()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, c)
	tok.Header["typ"] = "at+jwt"
	tok.Header["kid"] = testKID
	if edit != nil {
		edit(c, tok.Header)
	}
	s, err := tok.SignedString(f.key)
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

// tokenFor returns a valid token of the app in its environment.
func (f *fixture) tokenFor(clientID string, env partners.Environment, scope string) string {
	partner := "fin"
	if clientID == appPending || clientID == appPendSbx {
		partner = "pend"
	}
	return f.sign(func(c jwt.MapClaims, _ map[string]any) {
		c["client_id"], c["sub"], c["obhub_env"], c["obhub_partner"], c["scope"] = clientID, clientID, string(env), partner, scope
	})
}

// do sends a request through the gateway.
func (f *fixture) do(method, path, token string, body io.Reader, hdr ...string) *response {
	f.t.Helper()
	req, err := http.NewRequest(method, f.base+path, body)
	if err != nil {
		f.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := f.client.Do(req)
	if err != nil {
		f.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return &response{Response: resp, body: b}
}

// raw writes a request byte for byte on a new connection and reads the
// answer.
func (f *fixture) raw(request string) *response {
	f.t.Helper()
	conn, err := net.Dial("tcp", f.addr)
	if err != nil {
		f.t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, request); err != nil && !errors.Is(err, net.ErrClosed) {
		f.t.Logf("write: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		f.t.Fatalf("reading the answer to %q: %v", request[:min(len(request), 80)], err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return &response{Response: resp, body: b}
}

type response struct {
	*http.Response
	body []byte
}

// problem decodes a problem+json body.
func (r *response) problem(t testing.TB) map[string]any {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json; body %s", ct, r.body)
	}
	var p map[string]any
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("problem body %q: %v", r.body, err)
	}
	return p
}

// outcomes returns and forgets the outcomes reported so far.
func (f *fixture) takeOutcomes() []*Outcome {
	f.mu.Lock()
	defer f.mu.Unlock()
	o := f.outcomes
	f.outcomes = nil
	return o
}

// lastOutcome checks that exactly one outcome was reported since the last
// call and returns it.
func (f *fixture) oneOutcome(t testing.TB) *Outcome {
	t.Helper()
	os := f.takeOutcomes()
	if len(os) != 1 {
		t.Fatalf("%d outcomes reported, want exactly 1: %+v", len(os), os)
	}
	return os[0]
}
