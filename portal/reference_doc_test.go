package portal_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/obhub/obhub/catalog"
	"github.com/obhub/obhub/config"
	"github.com/obhub/obhub/internal/passwd"
	"github.com/obhub/obhub/openapi"
	"github.com/obhub/obhub/partners"
	"github.com/obhub/obhub/portal"
)

const vendorDir = "static/vendor/swagger-ui"

// fetch sends a GET with the headers and returns the response with its
// body read (not decompressed: the transport adds no Accept-Encoding of
// its own when the request sets one).
func fetch(t *testing.T, c *http.Client, url string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// TestVendoredRendererServed: the API page links Swagger UI's files, which
// the binary serves from its embedded copy with their media types, a
// year's cache under the versioned URL the page uses, and gzip.
func TestVendoredRendererServed(t *testing.T) {
	e := newEnv(t)
	page := e.browser().get("/portal/apis/qingshan-accounts")
	js := regexp.MustCompile(`<script src="(/portal/static/vendor/swagger-ui/swagger-ui-bundle\.js\?v=[0-9a-f]{16})" defer>`).FindStringSubmatch(page.body)
	css := regexp.MustCompile(`<link rel="stylesheet" href="(/portal/static/vendor/swagger-ui/swagger-ui\.css\?v=[0-9a-f]{16})">`).FindStringSubmatch(page.body)
	if js == nil || css == nil {
		t.Fatalf("the API page does not link the vendored renderer:\n%s", page.body)
	}
	mustContain(t, page, `<script src="/portal/static/reference.js" defer>`,
		`data-spec-url="/portal/apis/qingshan-accounts/openapi.json"`, `id="server-reference"`)

	c := &http.Client{}
	for _, tc := range []struct {
		url, file, ctype string
	}{
		{js[1], "swagger-ui-bundle.js", "text/javascript; charset=utf-8"},
		{css[1], "swagger-ui.css", "text/css; charset=utf-8"},
	} {
		want, err := os.ReadFile(filepath.Join(vendorDir, tc.file))
		if err != nil {
			t.Fatal(err)
		}
		resp, body := fetch(t, c, e.srv.URL+tc.url, map[string]string{"Accept-Encoding": "identity"})
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != tc.ctype ||
			resp.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" ||
			resp.Header.Get("Content-Encoding") != "" || !bytes.Equal(body, want) {
			t.Errorf("GET %s: %d, type %q, cache %q, encoding %q, %d bytes (want the %d of %s)", tc.url, resp.StatusCode,
				resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"), resp.Header.Get("Content-Encoding"), len(body), len(want), tc.file)
		}

		resp, body = fetch(t, c, e.srv.URL+tc.url, map[string]string{"Accept-Encoding": "br, gzip"})
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("GET %s gzip: %v", tc.url, err)
		}
		plain, err := io.ReadAll(zr)
		if err != nil || resp.Header.Get("Content-Encoding") != "gzip" || !bytes.Equal(plain, want) || len(body) > len(want)/3 {
			t.Errorf("GET %s gzip: encoding %q, %d bytes for %d, same content %v (%v)", tc.url,
				resp.Header.Get("Content-Encoding"), len(body), len(want), bytes.Equal(plain, want), err)
		}

		// Revalidation: a copy is not sent again, and the ETag tells
		// the gzip copy from the plain one.
		gzTag := resp.Header.Get("ETag")
		if resp, _ := fetch(t, c, e.srv.URL+tc.url, map[string]string{"Accept-Encoding": "gzip", "If-None-Match": gzTag}); resp.StatusCode != http.StatusNotModified {
			t.Errorf("GET %s gzip with its ETag: %d", tc.url, resp.StatusCode)
		}
		if resp, _ := fetch(t, c, e.srv.URL+tc.url, map[string]string{"Accept-Encoding": "identity", "If-None-Match": gzTag}); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s plain with the gzip ETag: %d, want the plain copy", tc.url, resp.StatusCode)
		}
	}

	// Without the page's version key, or with an old one: an hour only.
	resp, _ := fetch(t, c, e.srv.URL+"/portal/static/vendor/swagger-ui/swagger-ui-bundle.js?v=0000000000000000", nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "public, max-age=3600" {
		t.Errorf("old version key: %d, cache %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}

	resp, body := fetch(t, c, e.srv.URL+"/portal/static/vendor/swagger-ui/LICENSE", nil)
	if resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" || !bytes.Contains(body, []byte("Apache License")) {
		t.Errorf("LICENSE: type %q\n%.200s", resp.Header.Get("Content-Type"), body)
	}
	for _, path := range []string{"swagger-ui/swagger-ui-bundle.js.map", "swagger-ui/swagger-ui.css.map", "swagger-ui/nope.js", "", "swagger-ui/"} {
		if resp, _ := fetch(t, c, e.srv.URL+"/portal/static/vendor/"+path, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET vendor/%s: %d, want 404", path, resp.StatusCode)
		}
	}

	// The page's policy is unchanged by the renderer: no eval, no inline
	// script or style.
	p, err := http.Get(e.srv.URL + "/portal/apis/qingshan-accounts")
	if err != nil {
		t.Fatal(err)
	}
	p.Body.Close()
	if csp := p.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self';") ||
		!strings.Contains(csp, "style-src 'self';") || strings.Contains(csp, "unsafe") {
		t.Errorf("CSP of the API page: %q", csp)
	}
}

// TestVendoredRendererIsThePinnedRelease: the files in static/vendor are
// the ones scripts/vendor-renderer.sh copies from the version it pins (its
// VERSION record holds the SHA-256 of each), no source map is among them,
// and the bundle is minified.
func TestVendoredRendererIsThePinnedRelease(t *testing.T) {
	script, err := os.ReadFile(filepath.Join("..", "scripts", "vendor-renderer.sh"))
	if err != nil {
		t.Fatal(err)
	}
	pinned := regexp.MustCompile(`(?m)^VERSION=(\S+)$`).FindSubmatch(script)
	record, err := os.ReadFile(filepath.Join(vendorDir, "VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	if pinned == nil || !bytes.HasPrefix(record, []byte("swagger-ui-dist "+string(pinned[1])+"\n")) {
		t.Fatalf("VERSION record does not name the script's pinned version:\n%s", record)
	}
	listed := map[string]bool{"VERSION": true}
	sc := bufio.NewScanner(bytes.NewReader(record))
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok || len(sum) != 64 {
			continue
		}
		b, err := os.ReadFile(filepath.Join(vendorDir, name))
		if err != nil {
			t.Fatal(err)
		}
		got := sha256.Sum256(b)
		if hex.EncodeToString(got[:]) != sum {
			t.Errorf("%s was changed after vendoring (sha256 %x, recorded %s)", name, got, sum)
		}
		listed[name] = true
	}
	entries, err := os.ReadDir(vendorDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range entries {
		if !listed[en.Name()] || strings.HasSuffix(en.Name(), ".map") {
			t.Errorf("%s/%s is not a file the script copies", vendorDir, en.Name())
		}
	}
	for _, name := range []string{"swagger-ui-bundle.js", "swagger-ui.css", "LICENSE", "NOTICE"} {
		if !listed[name] {
			t.Errorf("%s missing from the vendored copy", name)
		}
	}
	bundle, err := os.ReadFile(filepath.Join(vendorDir, "swagger-ui-bundle.js"))
	if err != nil {
		t.Fatal(err)
	}
	if lines := bytes.Count(bundle, []byte("\n")); lines > 50 || len(bundle) > 3<<20 {
		t.Errorf("swagger-ui-bundle.js is not a minified bundle: %d lines, %d bytes", lines, len(bundle))
	}
}

// signInAs creates a verified portal account for an existing partner and
// signs a new browser in with it.
func (e *env) signInAs(partner, email string) *browser {
	e.t.Helper()
	ctx := context.Background()
	hash, err := passwd.NewHasher(1).Hash(ctx, "correct horse battery")
	if err != nil {
		e.t.Fatal(err)
	}
	now := time.Now()
	if err := e.accounts.CreateAccount(ctx, portal.Account{ID: "acc_" + partner, Email: email, Name: "Wang Fang",
		Partner: partner, Role: portal.RoleOwner, PasswordHash: hash, EmailVerifiedAt: now, CreatedAt: now}); err != nil {
		e.t.Fatal(err)
	}
	b := e.browser()
	p := b.post("/portal/signin", url.Values{"csrf_token": {b.csrf("/portal/signin")}, "email": {email}, "password": {"correct horse battery"}})
	if p.status != http.StatusOK || p.url == "/portal/signin" {
		e.t.Fatalf("sign-in of %s: %d at %s", email, p.status, p.url)
	}
	return b
}

// TestAPIDocumentVisibility: /portal/apis/{id}/openapi.json serves the
// document to exactly those who may see the API's page — a private API
// only to its own bank's members — with the hub's URLs as servers; to
// anyone else it is the same 404 as an unknown API.
func TestAPIDocumentVisibility(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, b := range []catalog.Bank{{ID: "hetian-rcb", Name: "Hetian Rural Bank"}} {
		if _, err := e.store.CreateBank(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []partners.Partner{
		{ID: "qingshan-staff", Name: "Qingshan RCB", Kind: partners.KindBank, Bank: "qingshan-rcb"},
		{ID: "hetian-staff", Name: "Hetian RCB", Kind: partners.KindBank, Bank: "hetian-rcb"},
	} {
		if _, err := e.store.CreatePartner(ctx, p); err != nil {
			t.Fatal(err)
		}
		if _, err := e.store.ApprovePartner(ctx, p.ID); err != nil {
			t.Fatal(err)
		}
	}
	anon := e.browser()
	fintech := e.browser()
	fintech.signup("Green Valley Fintech", "li@greenvalley.example")
	owner := e.signInAs("qingshan-staff", "dev@qingshan.example")
	other := e.signInAs("hetian-staff", "dev@hetian.example")

	unknown := anon.get("/portal/apis/no-such-api/openapi.json")
	for _, tc := range []struct {
		who  string
		b    *browser
		id   string
		want int
	}{
		{"visitor", anon, "qingshan-accounts", http.StatusOK},
		{"visitor", anon, "qingshan-payments", http.StatusNotFound},
		{"fintech", fintech, "qingshan-accounts", http.StatusOK},
		{"fintech", fintech, "qingshan-payments", http.StatusNotFound},
		{"another bank", other, "qingshan-payments", http.StatusNotFound},
		{"another bank", other, "qingshan-accounts", http.StatusOK},
		{"the owning bank", owner, "qingshan-payments", http.StatusOK},
	} {
		resp, err := tc.b.c.Get(e.srv.URL + "/portal/apis/" + tc.id + "/openapi.json")
		if err != nil {
			t.Fatal(err)
		}
		p := read(t, resp)
		if p.status != tc.want {
			t.Errorf("%s GET %s document: %d, want %d", tc.who, tc.id, p.status, tc.want)
			continue
		}
		if tc.want == http.StatusNotFound {
			if resp.Header.Get("Content-Type") != "application/problem+json" || p.body != unknown.body {
				t.Errorf("%s GET %s document: %s %q; an unknown API answers %q", tc.who, tc.id, resp.Header.Get("Content-Type"), p.body, unknown.body)
			}
			if strings.Contains(p.body, "payments") || strings.Contains(p.body, "Payments") {
				t.Errorf("the 404 names the API: %s", p.body)
			}
			continue
		}
		// The API page answers the same.
		if pg := tc.b.get("/portal/apis/" + tc.id); pg.status != http.StatusOK {
			t.Errorf("%s sees the document of %s but its page is %d", tc.who, tc.id, pg.status)
		}
		var doc struct {
			OpenAPI string `json:"openapi"`
			Info    struct{ Title string }
			Servers []struct{ URL, Description string }
			Paths   map[string]map[string]json.RawMessage
		}
		if ct, cd := resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"); ct != "application/json" || cd != "inline; filename="+tc.id+".openapi.json" {
			t.Errorf("document type %q, disposition %q", ct, cd)
		}
		if err := json.Unmarshal([]byte(p.body), &doc); err != nil {
			t.Fatalf("document: %v", err)
		}
		bank, base := "qingshan-rcb", "/open-banking/accounts/v1"
		if tc.id == "qingshan-payments" {
			a, err := e.store.API(ctx, tc.id)
			if err != nil {
				t.Fatal(err)
			}
			base = a.BasePath
		}
		if !strings.HasPrefix(doc.OpenAPI, "3.") || doc.Info.Title == "" || len(doc.Paths) == 0 || len(doc.Servers) != 2 ||
			doc.Servers[0].URL != "http://hub.example/"+bank+base || doc.Servers[1].URL != "http://hub.example/sandbox/"+bank+base {
			t.Errorf("%s document of %s: openapi %q, title %q, %d paths, servers %+v", tc.who, tc.id, doc.OpenAPI, doc.Info.Title, len(doc.Paths), doc.Servers)
		}
	}
}

// TestAPIDocumentHidesUpstreamServers: a bank's document naming its
// internal hosts — at the top, on a path or on an operation — reaches the
// partner with only the hub's URLs.
func TestAPIDocumentHidesUpstreamServers(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	raw := []byte(`openapi: 3.0.3
info: {title: Loans, version: "1"}
servers: [{url: "https://core.qingshan.internal/loans/v1"}]
paths:
  /zeta:
    servers: [{url: "https://10.1.2.3/loans/v1"}]
    get:
      summary: Last path
      responses: {"200": {description: ok}}
  /alpha:
    get:
      summary: First path
      servers: [{url: "http://loans-db.qingshan.internal:8443/loans/v1"}]
      responses: {"200": {description: ok}}
`)
	doc, err := openapi.Import(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.CreateAPI(ctx, config.APIInput{ID: "qingshan-loans", Bank: "qingshan-rcb", Upstream: "http://127.0.0.1:9",
		Spec: doc.Spec()}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.PublishAPI(ctx, "qingshan-loans"); err != nil {
		t.Fatal(err)
	}
	p := e.browser().get("/portal/apis/qingshan-loans/openapi.json")
	if p.status != http.StatusOK {
		t.Fatalf("document: %d %s", p.status, p.body)
	}
	for _, internal := range []string{"qingshan.internal", "10.1.2.3"} {
		if strings.Contains(p.body, internal) {
			t.Errorf("the document shows the upstream %q:\n%s", internal, p.body)
		}
	}
	if !strings.Contains(p.body, `"url":"http://hub.example/qingshan-rcb/loans/v1"`) {
		t.Errorf("the document lacks the hub's URL:\n%s", p.body)
	}
}

// The API page shows the descriptions' Markdown as Swagger UI does:
// inline code as code, never the backticks.
func TestReferenceRendersDescriptionMarkdown(t *testing.T) {
	e := newEnv(t)
	p := e.browser().get("/portal/apis/qingshan-accounts")
	mustContain(t, p, "<code>dateTime</code> is when the balance last changed", "<code>booked</code> 账面余额")
	mustNotContain(t, p, "`dateTime`", "`booked`")
}
