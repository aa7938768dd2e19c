package portal_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/obhub/obhub/catalog"
	"github.com/obhub/obhub/config"
	"github.com/obhub/obhub/demo"
	"github.com/obhub/obhub/openapi"
	"github.com/obhub/obhub/portal"
	"github.com/obhub/obhub/store/sqlite"
)

// env is a portal on a real SQLite configuration store and a real
// portal.db, with one bank, a public and a private API, and products.
type env struct {
	t     testing.TB
	srv   *httptest.Server
	store *config.Store
	// accounts is portal.db, outbox included (team_test.go reads mails).
	accounts *sqlite.PortalStore
}

// newEnv starts the portal; opts change its configuration (a clock, say).
func newEnv(t testing.TB, opts ...func(*portal.Config)) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	kv := sqlite.New(filepath.Join(dir, "hub.db"))
	if err := kv.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kv.Close() })
	accounts := sqlite.NewPortalStore(filepath.Join(dir, "portal.db"))
	if err := accounts.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { accounts.Close() })
	store := config.NewStore(kv, nil)
	seed(t, store)
	cfg := portal.Config{Catalog: store, Accounts: accounts, PublicURL: "http://hub.example"}
	for _, o := range opts {
		o(&cfg)
	}
	h := portal.New(cfg)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, store: store, accounts: accounts}
}

func seed(t testing.TB, s *config.Store) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.CreateBank(ctx, catalog.Bank{ID: "qingshan-rcb", Name: "Qingshan Rural Commercial Bank"}); err != nil {
		t.Fatal(err)
	}
	add := func(id, file string, vis catalog.Visibility) {
		raw, err := demo.Spec(file)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := openapi.Import(ctx, raw)
		if err != nil {
			t.Fatal(err)
		}
		spec := doc.Spec()
		if _, err := s.CreateAPI(ctx, config.APIInput{ID: id, Bank: "qingshan-rcb", Upstream: "http://127.0.0.1:9", Visibility: vis, Spec: spec}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.PublishAPI(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	add("qingshan-accounts", "qingshan-accounts.yaml", catalog.VisibilityPublic)
	add("qingshan-payments", "qingshan-payments.yaml", catalog.VisibilityPrivate)
	for _, p := range []catalog.Product{
		{ID: "accounts", Name: "Accounts", APIs: []string{"qingshan-accounts"}, Approval: catalog.ApprovalAuto},
		{ID: "accounts-premium", Name: "Accounts Premium", APIs: []string{"qingshan-accounts"}, Approval: catalog.ApprovalManual},
		{ID: "payments", Name: "Payments", APIs: []string{"qingshan-payments"}, Approval: catalog.ApprovalManual},
	} {
		if _, err := s.CreateProduct(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
}

// browser is one person's cookie jar.
type browser struct {
	e *env
	c *http.Client
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, c: &http.Client{Jar: jar}}
}

type page struct {
	status int
	body   string
	url    string
}

func (b *browser) get(path string) page {
	b.e.t.Helper()
	resp, err := b.c.Get(b.e.srv.URL + path)
	if err != nil {
		b.e.t.Fatal(err)
	}
	return read(b.e.t, resp)
}

func (b *browser) post(path string, form url.Values) page {
	b.e.t.Helper()
	resp, err := b.c.PostForm(b.e.srv.URL+path, form)
	if err != nil {
		b.e.t.Fatal(err)
	}
	return read(b.e.t, resp)
}

func read(t testing.TB, resp *http.Response) page {
	t.Helper()
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return page{status: resp.StatusCode, body: string(body), url: resp.Request.URL.Path}
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// csrf returns the token of the first form on the page at path.
func (b *browser) csrf(path string) string {
	b.e.t.Helper()
	m := csrfRE.FindStringSubmatch(b.get(path).body)
	if m == nil {
		b.e.t.Fatalf("no CSRF token on %s", path)
	}
	return m[1]
}

func (b *browser) cookie(name string) string {
	u, _ := url.Parse(b.e.srv.URL + "/portal/")
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// signup signs an organisation up, then signs in with the password: a
// sign-up lands on the "check your mailbox" page with no session (a new
// account and a taken address answer alike), and the account, not yet
// verified, signs in. It returns the apps page after sign-in.
func (b *browser) signup(org, email string) page {
	b.e.t.Helper()
	p := b.post("/portal/signup", url.Values{
		"csrf_token": {b.csrf("/portal/signup")}, "org": {org}, "name": {"Li Ming"},
		"email": {email}, "password": {"correct horse battery"},
	})
	if p.status != http.StatusOK || p.url != "/portal/signup/sent" || b.cookie("obhub_portal_session") != "" {
		b.e.t.Fatalf("sign-up: %d at %s, session %q\n%s", p.status, p.url, b.cookie("obhub_portal_session"), p.body)
	}
	p = signin(b, email, "correct horse battery")
	if p.status != http.StatusOK || p.url != "/portal/apps" {
		b.e.t.Fatalf("sign-in after sign-up: %d at %s\n%s", p.status, p.url, p.body)
	}
	return p
}

func (b *browser) createApp(name string) (clientID string, p page) {
	b.e.t.Helper()
	return b.createAppIn(name, "sandbox")
}

// createAppIn creates an app in environment (sandbox or production) and
// returns the client id the page shows once.
func (b *browser) createAppIn(name, environment string) (clientID string, p page) {
	b.e.t.Helper()
	p = b.post("/portal/apps", url.Values{"csrf_token": {b.csrf("/portal/apps")}, "name": {name}, "environment": {environment}})
	if p.status != http.StatusCreated {
		b.e.t.Fatalf("create app: %d\n%s", p.status, p.body)
	}
	m := regexp.MustCompile(`id="new-client-id">(app_[a-z0-9]+)<`).FindStringSubmatch(p.body)
	if m == nil {
		b.e.t.Fatalf("no client id shown:\n%s", p.body)
	}
	return m[1], p
}

func mustContain(t testing.TB, p page, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if !strings.Contains(p.body, s) {
			t.Errorf("page %s does not show %q", p.url, s)
		}
	}
}

func mustNotContain(t testing.TB, p page, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if strings.Contains(p.body, s) {
			t.Errorf("page %s shows %q", p.url, s)
		}
	}
}

func TestSignUpAndSandboxApp(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	p := b.signup("Green Valley Fintech", "li@greenvalley.example")
	mustContain(t, p, "My apps", "You have no app yet.", "Signed in as Li Ming (Green Valley Fintech)",
		"Production apps are available once an alliance operator approves Green Valley Fintech")

	id, p := b.createApp("Farm ledger")
	mustContain(t, p, "Copy the client secret now: it is shown only this once", "obs_", "Farm ledger")
	// Shown once: the list afterwards has the app, not the secret.
	list := b.get("/portal/apps")
	mustContain(t, list, id, "Farm ledger", "sandbox")
	mustNotContain(t, list, "obs_", "shown only this once")

	// The partner is pending and of kind fintech in the configuration.
	app, err := e.store.App(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	partner, err := e.store.Partner(context.Background(), app.Partner)
	if err != nil {
		t.Fatal(err)
	}
	if partner.Status != "pending" || partner.Kind != "fintech" || partner.Name != "Green Valley Fintech" {
		t.Errorf("partner = %+v", partner)
	}
	if len(app.Scopes) == 0 {
		t.Error("the sandbox app got no scopes")
	}

	// Subscribe: auto approval is active at once, manual is pending; the
	// private API's product is not offered to a fintech.
	// The form names each product's APIs and plan, says plainly which
	// need approval, and starts on the first one active at once.
	ap := b.get("/portal/apps/" + id)
	mustContain(t, ap, "Accounts Premium", "Not subscribed to any product yet",
		`value="accounts" required checked`, "active at once", "needs the alliance&#39;s approval", "<dd>Qingshan RCB Accounts API</dd>")
	mustNotContain(t, ap, "Payments", `value="accounts-premium" required checked`, "by an operator")
	tok := csrfRE.FindStringSubmatch(ap.body)[1]
	// A subscription answers with a redirect to the app page (a reload
	// does not post again), which says the outcome by product name:
	// done, or waiting for approval (not shown as a success).
	p = b.post("/portal/apps/"+id+"/subscriptions", url.Values{"csrf_token": {tok}, "product": {"accounts"}})
	if p.url != "/portal/apps/"+id || p.status != http.StatusOK {
		t.Errorf("after subscribing: %d at %s", p.status, p.url)
	}
	mustContain(t, p, `class="alert ok" role="status" id="outcome">Subscribed to Accounts: active at once`)
	p = b.post("/portal/apps/"+id+"/subscriptions", url.Values{"csrf_token": {tok}, "product": {"accounts-premium"}})
	mustContain(t, p, `class="alert warn" role="status" id="outcome">Your subscription to Accounts Premium is pending`)
	p = b.post("/portal/apps/"+id+"/subscriptions", url.Values{"csrf_token": {tok}, "product": {"payments"}})
	if p.status != http.StatusConflict {
		t.Errorf("subscribing a fintech to a private API's product: %d", p.status)
	}
	// The outcome comes from the store, never from the URL: an unknown
	// key or a product the app has no subscription to shows nothing.
	for _, q := range []string{"?done=%3Cscript%3E", "?done=subscribed&product=payments", "?done=app.title"} {
		mustNotContain(t, b.get("/portal/apps/"+id+q), `id="outcome"`, "<script>")
	}

	// Production waits for a verified address and approval; once both,
	// it is offered.
	e.verifyEmail(b, "li@greenvalley.example") // team_test.go
	// Following the link signed this browser in on a fresh session, with
	// its own form token.
	tok = b.csrf("/portal/apps")
	p = b.post("/portal/apps", url.Values{"csrf_token": {tok}, "name": {"Live"}, "environment": {"production"}})
	if p.status != http.StatusUnprocessableEntity {
		t.Errorf("production app of a pending partner: %d", p.status)
	}
	if _, err := e.store.ApprovePartner(context.Background(), partner.ID); err != nil {
		t.Fatal(err)
	}
	p = b.post("/portal/apps", url.Values{"csrf_token": {tok}, "name": {"Live"}, "environment": {"production"}})
	if p.status != http.StatusCreated {
		t.Fatalf("production app of an approved partner: %d\n%s", p.status, p.body)
	}
	mustContain(t, p, "production", "Live")
}

func TestCSRF(t *testing.T) {
	e := newEnv(t)
	anon := e.browser()
	p := anon.post("/portal/signup", url.Values{"org": {"X"}, "name": {"Y"}, "email": {"x@y.example"}, "password": {"0123456789ab"}})
	if p.status != http.StatusForbidden {
		t.Errorf("sign-up without a token: %d", p.status)
	}
	mustContain(t, p, "This form has expired")
	p = anon.post("/portal/signin", url.Values{"csrf_token": {"forged"}, "email": {"x@y.example"}, "password": {"0123456789ab"}})
	if p.status != http.StatusForbidden {
		t.Errorf("sign-in with a wrong token: %d", p.status)
	}

	b := e.browser()
	b.signup("Acme", "a@acme.example")
	before := len(e.apps(t, b))
	for name, tok := range map[string]string{"no token": "", "anonymous token": anon.csrf("/portal/signin")} {
		p := b.post("/portal/apps", url.Values{"csrf_token": {tok}, "name": {"Sneaky"}, "environment": {"sandbox"}})
		if p.status != http.StatusForbidden {
			t.Errorf("%s: create app answered %d", name, p.status)
		}
	}
	if after := len(e.apps(t, b)); after != before {
		t.Errorf("apps created without a valid token: %d → %d", before, after)
	}
	// A cross-site POST (the browser says so) is refused before any token check.
	req, _ := http.NewRequest("POST", e.srv.URL+"/portal/apps", strings.NewReader("name=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site POST: %d", resp.StatusCode)
	}
}

// apps lists the apps of the browser's partner straight from the store.
func (e *env) apps(t testing.TB, b *browser) []config.AppView {
	t.Helper()
	m := regexp.MustCompile(`Signed in as [^(]+\(([^)]+)\)`).FindStringSubmatch(b.get("/portal/apps").body)
	if m == nil {
		t.Fatal("not signed in")
	}
	ps, _, err := e.store.ListPartners(context.Background(), config.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if p.Name == m[1] {
			apps, _, err := e.store.ListApps(context.Background(), p.ID, config.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return apps
		}
	}
	t.Fatalf("partner %q not found", m[1])
	return nil
}

func signin(b *browser, email, password string) page {
	return b.post("/portal/signin", url.Values{"csrf_token": {b.csrf("/portal/signin")}, "email": {email}, "password": {password}})
}

func TestSessionFixation(t *testing.T) {
	e := newEnv(t)
	owner := e.browser()
	owner.signup("Acme", "a@acme.example")
	victim := e.browser()
	// An attacker plants a session id in the victim's browser before sign-in.
	u, _ := url.Parse(e.srv.URL + "/portal/")
	planted := "attacker-chosen-session-id"
	victim.c.Jar.SetCookies(u, []*http.Cookie{{Name: "obhub_portal_session", Value: planted, Path: "/portal/"}})
	p := signin(victim, "a@acme.example", "correct horse battery")
	if p.url != "/portal/apps" {
		t.Fatalf("sign-in failed: %d %s", p.status, p.url)
	}
	got := victim.cookie("obhub_portal_session")
	if got == "" || got == planted {
		t.Fatalf("session id after sign-in = %q, want a fresh one", got)
	}
	// Signing in again gives yet another id, and the old one is dead.
	old := got
	signin(victim, "a@acme.example", "correct horse battery")
	if victim.cookie("obhub_portal_session") == old {
		t.Error("session id not rotated at the second sign-in")
	}
	thief := e.browser()
	thief.c.Jar.SetCookies(u, []*http.Cookie{{Name: "obhub_portal_session", Value: old, Path: "/portal/"}})
	if p := thief.get("/portal/apps"); p.url != "/portal/signin" {
		t.Errorf("the replaced session still works: %s", p.url)
	}
	// Sign-out ends the session.
	tok := csrfRE.FindStringSubmatch(victim.get("/portal/apps").body)[1]
	victim.post("/portal/signout", url.Values{"csrf_token": {tok}})
	if p := victim.get("/portal/apps"); p.url != "/portal/signin" {
		t.Errorf("still signed in after sign-out: %s", p.url)
	}
}

func TestLockout(t *testing.T) {
	e := newEnv(t)
	e.browser().signup("Acme", "a@acme.example")
	b := e.browser()
	for i := range 4 {
		p := signin(b, "a@acme.example", "wrong password "+string(rune('a'+i)))
		if p.status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i+1, p.status)
		}
		mustContain(t, p, "The e-mail address or password is wrong.")
	}
	p := signin(b, "a@acme.example", "wrong password e")
	mustContain(t, p, "Too many failed attempts: this account is locked for 15 minutes.")
	// Locked: even the right password is refused.
	p = signin(b, "a@acme.example", "correct horse battery")
	if p.status != http.StatusUnauthorized || b.cookie("obhub_portal_session") != "" {
		t.Errorf("right password while locked: %d", p.status)
	}
	mustContain(t, p, "locked")
	// An unknown address gets the generic answer.
	mustContain(t, signin(b, "nobody@acme.example", "whatever123"), "The e-mail address or password is wrong.")
}

func TestPartnerIsolation(t *testing.T) {
	e := newEnv(t)
	a, bb := e.browser(), e.browser()
	a.signup("Alpha Pay", "ops@alpha.example")
	bb.signup("Beta Loans", "ops@beta.example")
	idB, _ := bb.createApp("Beta secret app")

	for _, path := range []string{"/portal/apps/" + idB, "/portal/apps/app_doesnotexist00000"} {
		p := a.get(path)
		if p.status != http.StatusNotFound {
			t.Errorf("A GET %s: %d, want 404", path, p.status)
		}
		mustContain(t, p, "Page not found")
		mustNotContain(t, p, "Beta secret app")
	}
	tok := a.csrf("/portal/apps")
	p := a.post("/portal/apps/"+idB+"/subscriptions", url.Values{"csrf_token": {tok}, "product": {"accounts"}})
	if p.status != http.StatusNotFound {
		t.Errorf("A subscribing B's app: %d, want 404", p.status)
	}
	if subs, _, _ := e.store.ListSubscriptions(context.Background(), idB, config.ListOptions{}); len(subs) != 0 {
		t.Errorf("B's app got subscriptions: %+v", subs)
	}
	mustNotContain(t, a.get("/portal/apps"), "Beta secret app", idB)
}

func TestCatalogAndReference(t *testing.T) {
	e := newEnv(t)
	anon := e.browser()
	p := anon.get("/portal/apis")
	mustContain(t, p, "API catalog", "Qingshan Rural Commercial Bank", `href="/portal/apis/qingshan-accounts"`)
	mustNotContain(t, p, "qingshan-payments")
	if p := anon.get("/portal/apis/qingshan-payments"); p.status != http.StatusNotFound {
		t.Errorf("private API page for a visitor: %d", p.status)
	}
	ref := anon.get("/portal/apis/qingshan-accounts")
	if ref.status != http.StatusOK {
		t.Fatalf("reference: %d", ref.status)
	}
	mustContain(t, ref, "http://hub.example/qingshan-rcb/open-banking/accounts/v1",
		"http://hub.example/sandbox/qingshan-rcb/open-banking/accounts/v1",
		"/accounts/{accountId}", "accountId", "Parameters", "Responses", `<code class="scope">accounts:<wbr>read</code>`)

	zh := anon.get("/portal/apis?lang=zh")
	mustContain(t, zh, `lang="zh-Hans"`, "API 目录", "English")
	// The choice sticks.
	mustContain(t, anon.get("/portal/"), "基于农村银行开放 API 构建服务")
	mustContain(t, anon.get("/portal/?lang=en"), "Build on the rural banks&#39; open APIs")
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	resp, err := http.Get(e.srv.URL + "/portal/signin")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for h, want := range map[string]string{
		"Cache-Control": "no-store", "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
	} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Errorf("CSP = %q", resp.Header.Get("Content-Security-Policy"))
	}
	for _, c := range resp.Cookies() {
		if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/portal/" {
			t.Errorf("cookie %s: HttpOnly=%v SameSite=%v Path=%s", c.Name, c.HttpOnly, c.SameSite, c.Path)
		}
	}
}

// TestSignInKeepsWhereYouWere: a page that needs sign-in sends the visitor
// to the sign-in page with its whole path and query in next, the page
// says why, and signing in returns there, query included; next is only
// ever a path of the portal.
func TestSignInKeepsWhereYouWere(t *testing.T) {
	e := newEnv(t)
	e.browser().signup("Acme", "a@acme.example")
	b := e.browser()
	const want = "/portal/apps?tab=x&op=getBalance"
	resp, err := b.c.Get(e.srv.URL + want)
	if err != nil {
		t.Fatal(err)
	}
	p := read(t, resp)
	if got := resp.Request.URL.Query().Get("next"); p.url != "/portal/signin" || got != want {
		t.Fatalf("sent to %s with next %q, want /portal/signin with %q", p.url, got, want)
	}
	mustContain(t, p, `id="signin-why"`, "needs you to be signed in", `name="next" value="/portal/apps?tab=x&amp;op=getBalance"`)
	mustNotContain(t, b.get("/portal/signin"), `id="signin-why"`)

	form := url.Values{"csrf_token": {b.csrf("/portal/signin")}, "email": {"a@acme.example"}, "password": {"correct horse battery"}, "next": {want}}
	resp, err = b.c.PostForm(e.srv.URL+"/portal/signin", form)
	if err != nil {
		t.Fatal(err)
	}
	read(t, resp)
	if got := resp.Request.URL.RequestURI(); got != want {
		t.Errorf("after sign-in at %s, want %s", got, want)
	}
	for _, next := range []string{"//evil.example/portal/", "https://evil.example/portal/", "/portal/\\evil"} {
		form.Set("next", next)
		c := e.browser()
		form.Set("csrf_token", c.csrf("/portal/signin"))
		if p := c.post("/portal/signin", form); p.url != "/portal/apps" {
			t.Errorf("next %q: landed on %s", next, p.url)
		}
	}
}

// TestChineseConsistency: one term each for e-mail address, redirect URI
// and client ID, the full-width colon in Chinese, and scopes that wrap
// only after their colon.
func TestChineseConsistency(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.signup("Acme", "a@acme.example")
	id, _ := b.createApp("Farm ledger")
	for _, path := range []string{"/portal/signin?lang=zh", "/portal/signup?lang=zh", "/portal/account?lang=zh", "/portal/apps/" + id + "?lang=zh",
		"/portal/apis/qingshan-accounts?lang=zh"} {
		p := b.get(path)
		mustNotContain(t, p, "电子邮箱", "回调地址", "权限范围: ")
	}
	mustContain(t, b.get("/portal/apis/qingshan-accounts?lang=zh"), "权限范围：")
	mustContain(t, b.get("/portal/apps/"+id), `<code class="scope">accounts:<wbr>read</code>`)
}
