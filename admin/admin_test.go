package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/obhub/obhub/admin"
	"github.com/obhub/obhub/config"
	"github.com/obhub/obhub/partners"
	"github.com/obhub/obhub/store/sqlite"
)

// env is an admin API on a real SQLite KV behind an httptest server.
type env struct {
	t     testing.TB
	srv   *httptest.Server
	kv    *sqlite.KV
	store *config.Store
	token string
}

func newEnv(t testing.TB, opts ...admin.Option) *env {
	t.Helper()
	kv := sqlite.New(filepath.Join(t.TempDir(), "hub.db"))
	if err := kv.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kv.Close() })
	store := config.NewStore(kv, nil)
	token, err := store.EnsureAdminToken(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(admin.New(store, nil, opts...))
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, kv: kv, store: store, token: token}
}

// resp is one answer, already read.
type resp struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the answer into v.
func (r *resp) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// obj decodes the answer as a JSON object.
func (r *resp) obj(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	r.json(t, &m)
	return m
}

type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Location string `json:"location"`
		Message  string `json:"message"`
	} `json:"errors"`
}

func (r *resp) problem(t testing.TB) problem {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json; body %s", ct, r.body)
	}
	var p problem
	r.json(t, &p)
	return p
}

// locations returns the location of every problem listed.
func (p problem) locations() []string {
	var locs []string
	for _, e := range p.Errors {
		locs = append(locs, e.Location)
	}
	return locs
}

// call sends a request with the admin token. body is sent as JSON unless
// it is a string (sent as is) or nil. Every answer is checked never to
// hold a secret hash.
func (e *env) call(method, path string, body any, hdr ...string) *resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	if holdsHash(data) {
		e.t.Fatalf("%s %s: the answer holds a secret hash: %s", method, path, data)
	}
	return &resp{status: res.StatusCode, header: res.Header, body: data}
}

// holdsHash reports whether an answer holds a secret hash: a secret_hash
// member, or a value in the hash format ("sha256:<hex>"). (Problems may
// name the field, as the location of a refused read-only field.)
func holdsHash(body []byte) bool {
	return bytes.Contains(body, []byte(`"secret_hash":`)) || bytes.Contains(body, []byte("sha256:"))
}

// hashCheck is a RoundTripper that checks every answer for secret hashes,
// for the tests that call the API through admin.Client.
type hashCheck struct {
	t    testing.TB
	next http.RoundTripper
}

func (c hashCheck) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if holdsHash(data) {
		c.t.Errorf("%s %s: the answer holds a secret hash: %s", r.Method, r.URL.Path, data)
	}
	resp.Body = io.NopCloser(bytes.NewReader(data))
	return resp, nil
}

// client returns an admin.Client for the test server, checking answers.
func (e *env) client(token string) *admin.Client {
	return &admin.Client{BaseURL: e.srv.URL, Token: token, HTTP: &http.Client{Transport: hashCheck{e.t, e.srv.Client().Transport}}}
}

// want fails unless the answer has the status.
func (r *resp) want(t testing.TB, status int) *resp {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	return r
}

func readFile(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAuthentication(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name, auth string
	}{
		{"no header", ""},
		{"wrong token", "Bearer oba_wrong"},
		{"empty bearer", "Bearer "},
		{"other scheme", "Basic " + e.token},
		{"token without scheme", e.token},
		{"huge header", "Bearer " + strings.Repeat("a", 4000)},
	}
	for _, tt := range tests {
		for _, path := range []string{"/admin/v1/banks", "/admin/v1/openapi.json", "/admin/v1/nowhere"} {
			t.Run(tt.name+path, func(t *testing.T) {
				r := e.call("GET", path, nil, "Authorization", tt.auth)
				r.want(t, http.StatusUnauthorized)
				if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("WWW-Authenticate = %q", r.header.Get("WWW-Authenticate"))
				}
				r.problem(t)
			})
		}
	}
	// Writes are refused too, and change nothing.
	e.call("POST", "/admin/v1/banks", map[string]any{"id": "alpha", "name": "A"}, "Authorization", "Bearer nope").want(t, 401)
	e.call("GET", "/admin/v1/banks/alpha", nil).want(t, 404)

	e.call("GET", "/admin/v1/banks", nil, "Authorization", "bearer "+e.token).want(t, 200)
	e.call("GET", "/admin/v1/nowhere", nil).want(t, 404).problem(t)
	r := e.call("DELETE", "/admin/v1/banks", nil).want(t, 405)
	if allow := r.header.Get("Allow"); !strings.Contains(allow, "GET") || !strings.Contains(allow, "POST") {
		t.Errorf("Allow = %q", allow)
	}
	r.problem(t)
}

func TestOpenAPIServed(t *testing.T) {
	e := newEnv(t)
	r := e.call("GET", "/admin/v1/openapi.json", nil).want(t, 200)
	doc := r.obj(t)
	if doc["openapi"] != "3.1.0" || doc["paths"] == nil {
		t.Fatalf("not an OpenAPI 3.1 document: %.200s", r.body)
	}
}

func TestBanksCRUD(t *testing.T) {
	e := newEnv(t)
	r := e.call("POST", "/admin/v1/banks", map[string]any{"id": "alpha", "name": "Alpha Rural Bank"}).want(t, 201)
	if r.header.Get("Location") != "/admin/v1/banks/alpha" {
		t.Errorf("Location = %q", r.header.Get("Location"))
	}
	if b := r.obj(t); b["id"] != "alpha" || b["name"] != "Alpha Rural Bank" || b["createdAt"] == nil {
		t.Errorf("created: %v", b)
	}
	e.call("POST", "/admin/v1/banks", map[string]any{"id": "alpha", "name": "Again"}).want(t, 409).problem(t)
	e.call("GET", "/admin/v1/banks/alpha", nil).want(t, 200)
	var l struct {
		Items      []map[string]any `json:"items"`
		NextCursor *string          `json:"next_cursor"`
	}
	e.call("GET", "/admin/v1/banks", nil).want(t, 200).json(t, &l)
	if len(l.Items) != 1 || l.NextCursor != nil {
		t.Errorf("list: %+v", l)
	}
	if b := e.call("PUT", "/admin/v1/banks/alpha", map[string]any{"name": "Alpha Bank"}).want(t, 200).obj(t); b["name"] != "Alpha Bank" {
		t.Errorf("PUT: %v", b)
	}
	// PUT may repeat the id, not change it.
	e.call("PUT", "/admin/v1/banks/alpha", map[string]any{"id": "alpha", "name": "Alpha Bank"}).want(t, 200)
	p := e.call("PUT", "/admin/v1/banks/alpha", map[string]any{"id": "beta", "name": "x"}).want(t, 422).problem(t)
	if !slices.Equal(p.locations(), []string{"/id"}) {
		t.Errorf("problems: %+v", p.Errors)
	}
	if b := e.call("PATCH", "/admin/v1/banks/alpha", map[string]any{"name": "Alpha Cooperative"}, "Content-Type", "application/merge-patch+json").want(t, 200).obj(t); b["name"] != "Alpha Cooperative" {
		t.Errorf("PATCH: %v", b)
	}
	p = e.call("PATCH", "/admin/v1/banks/alpha", map[string]any{"name": nil}).want(t, 422).problem(t)
	if !slices.Equal(p.locations(), []string{"/name"}) {
		t.Errorf("removing the name: %+v", p.Errors)
	}
	e.call("DELETE", "/admin/v1/banks/alpha", nil).want(t, 204)
	e.call("GET", "/admin/v1/banks/alpha", nil).want(t, 404).problem(t)
	e.call("DELETE", "/admin/v1/banks/alpha", nil).want(t, 404)
	e.call("PUT", "/admin/v1/banks/alpha", map[string]any{"name": "x"}).want(t, 404)
}

// seed creates bank alpha with API accounts (from testdata/accounts.yaml).
func (e *env) seed(t testing.TB) {
	t.Helper()
	e.call("POST", "/admin/v1/banks", map[string]any{"id": "alpha", "name": "Alpha"}).want(t, 201)
	e.call("POST", "/admin/v1/apis", map[string]any{
		"id": "accounts", "bank": "alpha", "spec": readFile(t, "accounts.yaml"), "upstream": "http://10.0.0.5:8080/core",
	}).want(t, 201)
}

func TestAPIsCRUD(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	a := e.call("GET", "/admin/v1/apis/accounts", nil).want(t, 200).obj(t)
	if a["name"] != "Accounts" || a["basePath"] != "/accounts/v1" || a["operations"] != 2.0 || a["status"] != "draft" ||
		a["visibility"] != "public" || a["version"] != "1.0" || a["specDigest"] == "" {
		t.Errorf("API from a YAML string: %v", a)
	}
	spec := e.call("GET", "/admin/v1/apis/accounts/spec", nil).want(t, 200)
	if doc := spec.obj(t); doc["openapi"] != "3.0.3" || doc["paths"] == nil {
		t.Errorf("spec: %.200s", spec.body)
	}

	// spec as a JSON object; basePath and name given override the document.
	var payments map[string]any
	if err := json.Unmarshal([]byte(readFile(t, "payments.json")), &payments); err != nil {
		t.Fatal(err)
	}
	r := e.call("POST", "/admin/v1/apis", map[string]any{
		"id": "payments", "bank": "alpha", "spec": payments, "upstream": "https://core.alpha.example",
		"basePath": "/pay/v2", "name": "Transfers", "visibility": "alliance",
	}).want(t, 201)
	if r.header.Get("Location") != "/admin/v1/apis/payments" {
		t.Errorf("Location = %q", r.header.Get("Location"))
	}
	if a := r.obj(t); a["name"] != "Transfers" || a["basePath"] != "/pay/v2" || a["operations"] != 1.0 || a["visibility"] != "alliance" {
		t.Errorf("API from a JSON object: %v", a)
	}
	// Same id: 409; same base path on the bank: 409.
	e.call("POST", "/admin/v1/apis", map[string]any{"id": "payments", "bank": "alpha", "spec": payments, "upstream": "https://x.example", "basePath": "/other"}).want(t, 409)
	p := e.call("POST", "/admin/v1/apis", map[string]any{"id": "payments2", "bank": "alpha", "spec": payments, "upstream": "https://x.example", "basePath": "/pay/v2"}).want(t, 409).problem(t)
	if !strings.Contains(p.Detail, "base path") {
		t.Errorf("detail %q", p.Detail)
	}
	// Unknown bank: 409.
	e.call("POST", "/admin/v1/apis", map[string]any{"id": "x", "bank": "nobank", "spec": payments, "upstream": "https://x.example"}).want(t, 409)

	// PUT: full replacement; omitted name and basePath take the document's.
	a = e.call("PUT", "/admin/v1/apis/payments", map[string]any{"upstream": "https://core2.alpha.example"}).want(t, 200).obj(t)
	if a["upstream"] != "https://core2.alpha.example" || a["name"] != "Payments" || a["basePath"] != "/payments" || a["visibility"] != "public" {
		t.Errorf("PUT: %v", a)
	}
	// PATCH: only what is sent.
	a = e.call("PATCH", "/admin/v1/apis/payments", map[string]any{"name": "Payments API", "upstreamTimeout": "5s"}).want(t, 200).obj(t)
	if a["name"] != "Payments API" || a["upstream"] != "https://core2.alpha.example" || a["upstreamTimeout"] != "5s" {
		t.Errorf("PATCH: %v", a)
	}
	// PATCH with a new document replaces it.
	digest := a["specDigest"]
	a = e.call("PATCH", "/admin/v1/apis/payments", map[string]any{"spec": readFile(t, "accounts.yaml"), "basePath": "/acc2"}).want(t, 200).obj(t)
	if a["specDigest"] == digest || a["operations"] != 2.0 || a["name"] != "Payments API" {
		t.Errorf("PATCH with spec: %v", a)
	}
	p = e.call("PATCH", "/admin/v1/apis/payments", map[string]any{"bank": "beta", "status": "published"}).want(t, 422).problem(t)
	if !slices.Equal(p.locations(), []string{"/bank", "/status"}) {
		t.Errorf("problems: %+v", p.Errors)
	}

	// Lifecycle.
	e.call("POST", "/admin/v1/apis/payments/deprecate", nil).want(t, 409)
	if a := e.call("POST", "/admin/v1/apis/payments/publish", nil).want(t, 200).obj(t); a["status"] != "published" {
		t.Errorf("publish: %v", a)
	}
	e.call("POST", "/admin/v1/apis/payments/publish", nil).want(t, 409)
	e.call("POST", "/admin/v1/apis/payments/deprecate", map[string]any{"sunset": "yesterday"}).want(t, 422)
	a = e.call("POST", "/admin/v1/apis/payments/deprecate", map[string]any{"sunset": "2099-01-01T00:00:00Z"}).want(t, 200).obj(t)
	if a["status"] != "deprecated" || a["sunset"] != "2099-01-01T00:00:00Z" || a["deprecatedAt"] == nil {
		t.Errorf("deprecate: %v", a)
	}
	e.call("POST", "/admin/v1/apis/payments/retire", map[string]any{"extra": 1}).want(t, 422)
	if a := e.call("POST", "/admin/v1/apis/payments/retire", nil).want(t, 200).obj(t); a["status"] != "retired" {
		t.Errorf("retire: %v", a)
	}
	e.call("POST", "/admin/v1/apis/payments/publish", nil).want(t, 409)
	e.call("POST", "/admin/v1/apis/nope/publish", nil).want(t, 404)

	e.call("DELETE", "/admin/v1/apis/payments", nil).want(t, 204)
	e.call("GET", "/admin/v1/apis/payments", nil).want(t, 404)
	e.call("GET", "/admin/v1/apis/payments/spec", nil).want(t, 404)
}

func TestInvalidDocument(t *testing.T) {
	e := newEnv(t)
	e.call("POST", "/admin/v1/banks", map[string]any{"id": "alpha", "name": "Alpha"}).want(t, 201)
	p := e.call("POST", "/admin/v1/apis", map[string]any{
		"id": "broken", "bank": "alpha", "spec": readFile(t, "invalid.yaml"), "upstream": "ftp://core",
	}).want(t, 422).problem(t)
	locs := p.locations()
	for _, want := range []string{"paths.b", "paths./a/{id}.get.responses", "/upstream"} {
		if !slices.Contains(locs, want) {
			t.Errorf("no finding at %s; got %v", want, locs)
		}
	}
	p = e.call("POST", "/admin/v1/apis", map[string]any{"id": "x", "bank": "alpha", "spec": 42, "upstream": "https://x.example"}).want(t, 422).problem(t)
	if !slices.Contains(p.locations(), "/spec") {
		t.Errorf("spec 42: %v", p.locations())
	}
	p = e.call("POST", "/admin/v1/apis", map[string]any{"id": "x", "bank": "alpha", "upstream": "https://x.example"}).want(t, 422).problem(t)
	if !slices.Equal(p.locations(), []string{"/spec"}) {
		t.Errorf("no spec: %v", p.Errors)
	}
}

func TestProductsCRUD(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	prod := map[string]any{
		"id": "basic", "name": "Basic", "apis": []string{"accounts"}, "approval": "auto",
		"plan": map[string]any{"rate": map[string]any{"limit": 10, "period": "1s"}, "quota": map[string]any{"limit": 10000, "period": "24h"}},
	}
	r := e.call("POST", "/admin/v1/products", prod).want(t, 201)
	if r.header.Get("Location") != "/admin/v1/products/basic" {
		t.Errorf("Location %q", r.header.Get("Location"))
	}
	e.call("POST", "/admin/v1/products", prod).want(t, 409)
	bad := map[string]any{"id": "bad", "name": "Bad", "apis": []string{"nope"}, "approval": "auto"}
	e.call("POST", "/admin/v1/products", bad).want(t, 409)
	p := e.call("POST", "/admin/v1/products", map[string]any{
		"id": "bad", "name": "Bad", "apis": []string{"accounts"}, "approval": "sometimes",
		"plan": map[string]any{"rate": map[string]any{"limt": 10, "period": "soon"}},
	}).want(t, 422).problem(t)
	if !slices.Equal(p.locations(), []string{"/approval", "/plan/rate/limit", "/plan/rate/limt", "/plan/rate/period"}) {
		t.Errorf("problems: %+v", p.Errors)
	}
	g := e.call("GET", "/admin/v1/products/basic", nil).want(t, 200).obj(t)
	if g["plan"].(map[string]any)["quota"].(map[string]any)["period"] != "24h" {
		t.Errorf("GET: %v", g)
	}
	g = e.call("PATCH", "/admin/v1/products/basic", map[string]any{"plan": map[string]any{"quota": nil}, "approval": "manual"}).want(t, 200).obj(t)
	if plan := g["plan"].(map[string]any); plan["quota"] != nil || plan["rate"] == nil || g["approval"] != "manual" {
		t.Errorf("PATCH: %v", g)
	}
	g = e.call("PUT", "/admin/v1/products/basic", map[string]any{"name": "Basic 2", "apis": []string{"accounts"}, "approval": "auto"}).want(t, 200).obj(t)
	if g["name"] != "Basic 2" || g["plan"].(map[string]any)["rate"] != nil {
		t.Errorf("PUT: %v", g)
	}
	// The API is in use by the product now.
	p = e.call("DELETE", "/admin/v1/apis/accounts", nil).want(t, 409).problem(t)
	if !strings.Contains(p.Detail, "in use by product") {
		t.Errorf("detail %q", p.Detail)
	}
	e.call("DELETE", "/admin/v1/products/basic", nil).want(t, 204)
	e.call("DELETE", "/admin/v1/apis/accounts", nil).want(t, 204)
	e.call("GET", "/admin/v1/products/basic", nil).want(t, 404)
}

func TestPartnersAppsSubscriptions(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	e.call("POST", "/admin/v1/products", map[string]any{"id": "open", "name": "Open", "apis": []string{"accounts"}, "approval": "auto"}).want(t, 201)
	e.call("POST", "/admin/v1/products", map[string]any{"id": "premium", "name": "Premium", "apis": []string{"accounts"}, "approval": "manual"}).want(t, 201)

	// Partners.
	r := e.call("POST", "/admin/v1/partners", map[string]any{"id": "acme", "name": "Acme Pay", "kind": "fintech"}).want(t, 201)
	if p := r.obj(t); p["status"] != "pending" || r.header.Get("Location") != "/admin/v1/partners/acme" {
		t.Errorf("partner: %v", p)
	}
	e.call("POST", "/admin/v1/partners", map[string]any{"id": "acme", "name": "Acme", "kind": "fintech"}).want(t, 409)
	e.call("POST", "/admin/v1/partners", map[string]any{"id": "alpha-p", "name": "Alpha", "kind": "bank", "bank": "nobank"}).want(t, 409)
	e.call("POST", "/admin/v1/partners", map[string]any{"id": "x", "name": "X", "kind": "fintech", "status": "approved"}).want(t, 422)
	e.call("PATCH", "/admin/v1/partners/acme", map[string]any{"name": "Acme Payments"}).want(t, 200)
	e.call("PUT", "/admin/v1/partners/acme", map[string]any{"name": "Acme Payments Ltd", "kind": "fintech"}).want(t, 200)

	// A pending partner may have sandbox apps, not production ones.
	app := map[string]any{"name": "web", "environment": "production", "grant_types": []string{"client_credentials"}}
	e.call("POST", "/admin/v1/partners/acme/apps", app).want(t, 409)
	e.call("POST", "/admin/v1/partners/nobody/apps", app).want(t, 404)
	if p := e.call("POST", "/admin/v1/partners/acme/approve", nil).want(t, 200).obj(t); p["status"] != "approved" || p["approvedAt"] == nil {
		t.Errorf("approve: %v", p)
	}
	e.call("POST", "/admin/v1/partners/acme/approve", nil).want(t, 409)

	// The secret is in the create answer only.
	r = e.call("POST", "/admin/v1/partners/acme/apps", app).want(t, 201)
	var created struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
		HasSecret    bool   `json:"has_secret"`
		Method       string `json:"token_endpoint_auth_method"`
	}
	r.json(t, &created)
	if !strings.HasPrefix(created.ClientID, "app_") || !strings.HasPrefix(created.ClientSecret, "obs_") || !created.HasSecret || created.Method != "client_secret_basic" {
		t.Fatalf("created app: %s", r.body)
	}
	if r.header.Get("Location") != "/admin/v1/apps/"+created.ClientID {
		t.Errorf("Location %q", r.header.Get("Location"))
	}
	appPath := "/admin/v1/apps/" + created.ClientID
	verify := func(secret string) bool {
		kv, err := e.kv.Get(context.Background(), config.AppsPrefix+created.ClientID)
		if err != nil {
			t.Fatal(err)
		}
		var stored partners.App
		if err := json.Unmarshal(kv.Value, &stored); err != nil {
			t.Fatal(err)
		}
		return partners.VerifySecret(stored.SecretHash, secret)
	}
	if !verify(created.ClientSecret) {
		t.Fatal("the secret shown does not verify against the stored hash")
	}
	noSecret := func(r *resp) {
		t.Helper()
		if bytes.Contains(r.body, []byte("client_secret\"")) {
			t.Errorf("a client secret in %s", r.body)
		}
	}
	noSecret(e.call("GET", appPath, nil).want(t, 200))
	noSecret(e.call("GET", "/admin/v1/partners/acme/apps", nil).want(t, 200))
	noSecret(e.call("GET", "/admin/v1/apps?partner=acme", nil).want(t, 200))
	e.call("GET", "/admin/v1/apps?partner=nobody", nil).want(t, 404)
	e.call("GET", "/admin/v1/partners/nobody/apps", nil).want(t, 404)

	// Updates.
	u := e.call("PATCH", appPath, map[string]any{"scopes": []string{"accounts:read"}}).want(t, 200)
	noSecret(u)
	if a := u.obj(t); a["name"] != "web" || fmt.Sprint(a["scopes"]) != "[accounts:read]" {
		t.Errorf("PATCH app: %v", a)
	}
	u = e.call("PUT", appPath, map[string]any{"name": "web2", "grant_types": []string{"client_credentials"}}).want(t, 200)
	if a := u.obj(t); a["name"] != "web2" || a["scopes"] != nil || a["environment"] != "production" {
		t.Errorf("PUT app: %v", a)
	}
	p := e.call("PATCH", appPath, map[string]any{"environment": "sandbox", "client_secret": "mine", "secret_hash": "x", "client_id": "app_x"}).want(t, 422).problem(t)
	if !slices.Equal(p.locations(), []string{"/client_id", "/client_secret", "/environment", "/secret_hash"}) {
		t.Errorf("problems: %v", p.locations())
	}

	// Rotation: a new secret, once; the old one stops working.
	var rotated struct {
		ClientSecret string `json:"client_secret"`
	}
	e.call("POST", appPath+"/secret", nil).want(t, 200).json(t, &rotated)
	if rotated.ClientSecret == "" || rotated.ClientSecret == created.ClientSecret || !verify(rotated.ClientSecret) || verify(created.ClientSecret) {
		t.Fatal("rotation did not replace the secret")
	}
	noSecret(e.call("GET", appPath, nil).want(t, 200))

	// Subscriptions.
	r = e.call("POST", appPath+"/subscriptions", map[string]any{"product": "open"}).want(t, 201)
	if s := r.obj(t); s["status"] != "active" || r.header.Get("Location") != appPath+"/subscriptions/open" {
		t.Errorf("subscribe open: %v %q", s, r.header.Get("Location"))
	}
	if s := e.call("POST", appPath+"/subscriptions", map[string]any{"product": "premium"}).want(t, 201).obj(t); s["status"] != "pending" {
		t.Errorf("subscribe premium: %v", s)
	}
	e.call("POST", appPath+"/subscriptions", map[string]any{"product": "open"}).want(t, 409)
	e.call("POST", appPath+"/subscriptions", map[string]any{"product": "nope"}).want(t, 409)
	e.call("POST", appPath+"/subscriptions", map[string]any{"product": "open", "status": "active"}).want(t, 422)
	e.call("POST", "/admin/v1/apps/app_nope/subscriptions", map[string]any{"product": "open"}).want(t, 404)
	e.call("POST", appPath+"/subscriptions/open/approve", nil).want(t, 409)
	if s := e.call("POST", appPath+"/subscriptions/premium/approve", nil).want(t, 200).obj(t); s["status"] != "active" {
		t.Errorf("approve: %v", s)
	}
	var subs struct {
		Items []partners.Subscription `json:"items"`
	}
	e.call("GET", appPath+"/subscriptions", nil).want(t, 200).json(t, &subs)
	if len(subs.Items) != 2 {
		t.Errorf("subscriptions: %+v", subs)
	}
	e.call("GET", appPath+"/subscriptions/open", nil).want(t, 200)
	e.call("DELETE", appPath+"/subscriptions/open", nil).want(t, 204)
	e.call("GET", appPath+"/subscriptions/open", nil).want(t, 404)
	e.call("POST", appPath+"/subscriptions/premium/reject", nil).want(t, 409)

	// In use: the product by the app, the partner by its app.
	e.call("DELETE", "/admin/v1/products/premium", nil).want(t, 409)
	e.call("DELETE", "/admin/v1/partners/acme", nil).want(t, 409)
	// Deleting the app deletes its subscriptions, which frees both.
	e.call("DELETE", appPath, nil).want(t, 204)
	e.call("GET", appPath, nil).want(t, 404)
	e.call("GET", appPath+"/subscriptions", nil).want(t, 404)
	e.call("DELETE", "/admin/v1/products/premium", nil).want(t, 204)
	e.call("DELETE", "/admin/v1/partners/acme", nil).want(t, 204)
}

func TestRequestBodies(t *testing.T) {
	e := newEnv(t, admin.WithMaxBody(4096))
	tests := []struct {
		name     string
		body     string
		ctype    string
		status   int
		problems []string // locations, in order
	}{
		{"two problems at once", `{"id":"Not An Id","name":""}`, "application/json", 422, []string{"/id", "/name"}},
		{"unknown field", `{"id":"alpha","name":"A","colour":"green"}`, "application/json", 422, []string{"/colour"}},
		{"unknown and read-only fields and bad values", `{"id":"Alpha","name":7,"createdAt":"2020-01-01T00:00:00Z","x":1}`, "application/json", 422, []string{"/createdAt", "/id", "/name", "/x"}},
		{"not an object", `["alpha"]`, "application/json", 422, []string{""}},
		{"two JSON values", `{"id":"alpha","name":"A"} {"id":"beta","name":"B"}`, "application/json", 422, nil},
		{"malformed JSON", `{"id":"alpha",`, "application/json", 422, nil},
		{"empty body", ``, "application/json", 422, nil},
		{"no content type", `{"id":"alpha","name":"A"}`, "", 415, nil},
		{"text/plain", `{"id":"alpha","name":"A"}`, "text/plain", 415, nil},
		{"merge patch type on POST", `{"id":"alpha","name":"A"}`, "application/merge-patch+json", 415, nil},
		{"charset is fine", `{"id":"alpha","name":"A"}`, "application/json; charset=utf-8", 201, nil},
		{"too large", `{"id":"alpha2","name":"` + strings.Repeat("a", 5000) + `"}`, "application/json", 413, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.call("POST", "/admin/v1/banks", tt.body, "Content-Type", tt.ctype).want(t, tt.status)
			if tt.status < 400 {
				return
			}
			p := r.problem(t)
			if tt.problems != nil && !slices.Equal(p.locations(), tt.problems) {
				t.Errorf("problem locations %q, want %q (%+v)", p.locations(), tt.problems, p.Errors)
			}
		})
	}

	// Read-only fields of every collection are refused, each listed.
	e.call("POST", "/admin/v1/partners", map[string]any{"id": "p", "name": "P", "kind": "fintech"}).want(t, 201)
	readOnly := []struct {
		path   string
		body   map[string]any
		fields []string
	}{
		{"/admin/v1/apis", map[string]any{"status": "published", "operations": 3, "specDigest": "x", "updatedAt": "x"}, []string{"/operations", "/specDigest", "/status", "/updatedAt"}},
		{"/admin/v1/partners", map[string]any{"status": "approved", "approvedAt": "x"}, []string{"/approvedAt", "/status"}},
		{"/admin/v1/partners/p/apps", map[string]any{"client_id": "x", "client_secret": "x", "secret_hash": "x", "partner": "q", "has_secret": true}, []string{"/client_id", "/client_secret", "/has_secret", "/partner", "/secret_hash"}},
	}
	for _, tt := range readOnly {
		p := e.call("POST", tt.path, tt.body).want(t, 422).problem(t)
		locs := p.locations()
		for _, f := range tt.fields {
			if !slices.Contains(locs, f) {
				t.Errorf("POST %s: %s not reported as read-only: %+v", tt.path, f, p.Errors)
			}
		}
	}
}

func TestPagination(t *testing.T) {
	e := newEnv(t)
	for i := range 120 {
		e.call("POST", "/admin/v1/banks", map[string]any{"id": fmt.Sprintf("bank-%03d", i), "name": "B"}).want(t, 201)
	}
	type page struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
		NextCursor string `json:"next_cursor"`
	}
	walk := func(limit string) (ids []string, sizes []int) {
		cursor := ""
		for {
			q := url.Values{}
			if limit != "" {
				q.Set("limit", limit)
			}
			if cursor != "" {
				q.Set("cursor", cursor)
			}
			var p page
			r := e.call("GET", "/admin/v1/banks?"+q.Encode(), nil).want(t, 200)
			r.json(t, &p)
			if p.NextCursor == "" && bytes.Contains(r.body, []byte("next_cursor")) {
				t.Error("next_cursor present on the last page")
			}
			sizes = append(sizes, len(p.Items))
			for _, it := range p.Items {
				ids = append(ids, it.ID)
			}
			if p.NextCursor == "" {
				return ids, sizes
			}
			cursor = p.NextCursor
		}
	}
	for _, tt := range []struct {
		limit string
		sizes []int
	}{
		{"", []int{50, 50, 20}},
		{"50", []int{50, 50, 20}},
		{"7", nil},
		{"120", []int{120}},
		{"500", []int{120}},
	} {
		ids, sizes := walk(tt.limit)
		if len(ids) != 120 || !slices.IsSorted(ids) || len(slices.Compact(slices.Clone(ids))) != 120 {
			t.Errorf("limit %q: %d ids, sorted %v", tt.limit, len(ids), slices.IsSorted(ids))
		}
		if tt.sizes != nil && !slices.Equal(sizes, tt.sizes) {
			t.Errorf("limit %q: page sizes %v, want %v", tt.limit, sizes, tt.sizes)
		}
	}
	for _, q := range []string{"limit=0", "limit=501", "limit=ten", "cursor=!!!", "cursor=zzz", "cursor=" + url.QueryEscape("a/b")} {
		p := e.call("GET", "/admin/v1/banks?"+q, nil).want(t, 422).problem(t)
		if len(p.Errors) != 1 {
			t.Errorf("%s: %+v", q, p.Errors)
		}
	}
}

func TestUnknownIDs(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{
		"/admin/v1/banks/nope", "/admin/v1/apis/nope", "/admin/v1/apis/nope/spec", "/admin/v1/products/nope",
		"/admin/v1/partners/nope", "/admin/v1/apps/app_nope", "/admin/v1/apps/app_nope/subscriptions",
		"/admin/v1/apps/app_nope/subscriptions/nope", "/admin/v1/banks/..%2F..%2Fadmin",
	} {
		e.call("GET", path, nil).want(t, 404).problem(t)
	}
	for _, path := range []string{"/admin/v1/banks/nope", "/admin/v1/apis/nope", "/admin/v1/products/nope", "/admin/v1/partners/nope", "/admin/v1/apps/app_nope"} {
		e.call("DELETE", path, nil).want(t, 404).problem(t)
	}
}

func TestStoreUnavailable(t *testing.T) {
	e := newEnv(t)
	e.kv.Close()
	e.call("GET", "/admin/v1/banks", nil).want(t, 503).problem(t)
	e.call("POST", "/admin/v1/banks", map[string]any{"id": "alpha", "name": "A"}).want(t, 503).problem(t)
}
