package console_test

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
	"sync"
	"testing"
	"time"

	"github.com/obhub/obhub/audit"
	"github.com/obhub/obhub/audit/audittest"
	"github.com/obhub/obhub/catalog"
	"github.com/obhub/obhub/config"
	"github.com/obhub/obhub/console"
	"github.com/obhub/obhub/demo"
	"github.com/obhub/obhub/openapi"
	"github.com/obhub/obhub/partners"
	"github.com/obhub/obhub/store/sqlite"
)

const adminToken = "oba_console-test-admin-token-0123456789"

// env is a console on a real SQLite configuration store, console.db and
// audit ledger: two banks (Qingshan and Hexi), each with a public API in
// a manually approved product and a private API, and two pending
// partners, each waiting on one bank's product.
type env struct {
	t      testing.TB
	srv    *httptest.Server
	store  *config.Store
	ops    *sqlite.ConsoleStore
	ledger audit.Store
	now    time.Time
	// greenApp and riverApp are the sandbox apps waiting for Qingshan's
	// and Hexi's premium products.
	greenApp, riverApp string

	mu      sync.Mutex
	changes []audit.Record // what the console gave Config.Record
}

// recorded returns the changes the console recorded, except those of the
// setup page, which every test's operators are made through (see
// setupRecords).
func (e *env) recorded() []audit.Record {
	return e.changesWhere(func(r audit.Record) bool { return r.Path != "/console/setup" })
}

// setupRecords returns the setup page's records.
func (e *env) setupRecords() []audit.Record {
	return e.changesWhere(func(r audit.Record) bool { return r.Path == "/console/setup" })
}

func (e *env) changesWhere(keep func(audit.Record) bool) []audit.Record {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []audit.Record
	for _, r := range e.changes {
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}

// newEnv builds the console; opts change its configuration (the Mail
// page's outbox, say) before it is built.
func newEnv(t testing.TB, opts ...func(*console.Config)) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	kv := sqlite.New(filepath.Join(dir, "hub.db"))
	if err := kv.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kv.Close() })
	ops := sqlite.NewConsoleStore(filepath.Join(dir, "console.db"))
	if err := ops.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ops.Close() })
	ledger := sqlite.NewAudit(filepath.Join(dir, "audit.db"))
	if err := ledger.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ledger.Close() })
	store := config.NewStore(kv, nil)
	if _, err := store.EnsureAdminToken(ctx, adminToken); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, store: store, ops: ops, ledger: ledger, now: time.Now().UTC()}
	e.seed(ctx)
	audittest.Fill(t, ledger, audittest.NewSigner(t), []audit.Record{
		{Time: e.now.Add(-3 * time.Hour), Category: audit.CategoryAccess, Bank: "qingshan-rcb", API: "qingshan-accounts",
			Method: "GET", Path: "/qingshan-rcb/accounts-path-A", Partner: "green-valley", ClientID: e.greenApp, Status: 200, Decision: "allow", Latency: 12 * time.Millisecond},
		{Time: e.now.Add(-2 * time.Hour), Category: audit.CategoryAccess, Bank: "qingshan-rcb", API: "qingshan-accounts",
			Method: "GET", Path: "/qingshan-rcb/accounts-path-B", Partner: "green-valley", ClientID: e.greenApp, Status: 403, Decision: "deny", Reason: "scope", Latency: time.Millisecond},
		{Time: e.now.Add(-1 * time.Hour), Category: audit.CategoryAccess, Bank: "hexi-bank", API: "hexi-loans",
			Method: "GET", Path: "/hexi-bank/secret-loans-path", Partner: "river-pay", ClientID: e.riverApp, Status: 200, Decision: "allow", Latency: 30 * time.Millisecond},
	})
	cfg := console.Config{Catalog: store, Operators: ops, Directory: ops, Audit: ledger, Record: func(r audit.Record) error {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.changes = append(e.changes, r)
		return nil
	}}
	for _, opt := range opts {
		opt(&cfg)
	}
	h := console.New(cfg)
	// Mounted as on the admin listener: the console sees /console/ only.
	mux := http.NewServeMux()
	mux.Handle("/console/", h)
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) seed(ctx context.Context) {
	t, s := e.t, e.store
	t.Helper()
	for _, b := range []catalog.Bank{{ID: "qingshan-rcb", Name: "Qingshan Rural Commercial Bank"}, {ID: "hexi-bank", Name: "Hexi Village Bank"}} {
		if _, err := s.CreateBank(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	add := func(id, bank, file string, vis catalog.Visibility) {
		raw, err := demo.Spec(file)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := openapi.Import(ctx, raw)
		if err != nil {
			t.Fatal(err)
		}
		spec := doc.Spec()
		if _, err := s.CreateAPI(ctx, config.APIInput{ID: id, Bank: bank, Upstream: "http://127.0.0.1:9", Visibility: vis, Spec: spec}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.PublishAPI(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	add("qingshan-accounts", "qingshan-rcb", "qingshan-accounts.yaml", catalog.VisibilityPublic)
	add("qingshan-payments", "qingshan-rcb", "qingshan-payments.yaml", catalog.VisibilityPrivate)
	add("hexi-accounts", "hexi-bank", "hexi-accounts.yaml", catalog.VisibilityPublic)
	add("hexi-loans", "hexi-bank", "hexi-loans.yaml", catalog.VisibilityPrivate)
	for _, p := range []catalog.Product{
		{ID: "qingshan-premium", Name: "Qingshan Premium", APIs: []string{"qingshan-accounts"}, Approval: catalog.ApprovalManual},
		{ID: "hexi-premium", Name: "Hexi Premium", APIs: []string{"hexi-accounts"}, Approval: catalog.ApprovalManual},
	} {
		if _, err := s.CreateProduct(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	waiting := func(id, name, product string) string {
		if _, err := s.CreatePartner(ctx, partners.Partner{ID: id, Name: name, Kind: partners.KindFintech}); err != nil {
			t.Fatal(err)
		}
		app, _, err := s.CreateApp(ctx, partners.App{
			Partner: id, Name: name + " sandbox", Environment: partners.Sandbox,
			GrantTypes: []string{partners.GrantClientCredentials}, TokenEndpointAuthMethod: partners.AuthSecretBasic,
		})
		if err != nil {
			t.Fatal(err)
		}
		sub, err := s.Subscribe(ctx, app.ClientID, product)
		if err != nil || sub.Status != partners.SubscriptionPending {
			t.Fatalf("subscribe %s to %s: %+v %v", name, product, sub, err)
		}
		return app.ClientID
	}
	e.greenApp = waiting("green-valley", "Green Valley Fintech", "qingshan-premium")
	e.riverApp = waiting("river-pay", "River Pay", "hexi-premium")
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

func (b *browser) csrf(path string) string {
	b.e.t.Helper()
	m := csrfRE.FindStringSubmatch(b.get(path).body)
	if m == nil {
		b.e.t.Fatalf("no CSRF token on %s", path)
	}
	return m[1]
}

func (b *browser) cookie(name string) string {
	u, _ := url.Parse(b.e.srv.URL + "/console/")
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

const password = "correct horse battery"

// addOperator creates an operator through the setup form, with the
// admin token.
func (e *env) addOperator(email, role, bank string) {
	e.t.Helper()
	b := e.browser()
	p := b.post("/console/setup", url.Values{
		"csrf_token": {b.csrf("/console/setup")}, "admin_token": {adminToken},
		"name": {"Op " + role}, "email": {email}, "password": {password}, "role": {role}, "bank": {bank},
	})
	if p.status != http.StatusOK || p.url != "/console/setup" || !strings.Contains(p.body, "The operator is created.") {
		e.t.Fatalf("setup of %s: %d\n%s", email, p.status, p.body)
	}
}

func (b *browser) signin(email, pw string) page {
	b.e.t.Helper()
	return b.post("/console/signin", url.Values{"csrf_token": {b.csrf("/console/signin")}, "email": {email}, "password": {pw}})
}

// operator signs a new browser in as a new operator.
func (e *env) operator(email, role, bank string) *browser {
	e.t.Helper()
	e.addOperator(email, role, bank)
	b := e.browser()
	if p := b.signin(email, password); p.status != http.StatusOK {
		e.t.Fatalf("sign-in of %s: %d at %s\n%s", email, p.status, p.url, p.body)
	}
	return b
}

func mustContain(t testing.TB, p page, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if !strings.Contains(p.body, s) {
			t.Errorf("page %s (%d) does not show %q", p.url, p.status, s)
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

func TestSetupNeedsTheAdminToken(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	form := url.Values{"csrf_token": {b.csrf("/console/setup")}, "admin_token": {"oba_wrong"},
		"name": {"Mallory"}, "email": {"m@example.com"}, "password": {password}, "role": {console.RoleAllianceAdmin}}
	p := b.post("/console/setup", form)
	if p.status != http.StatusUnauthorized {
		t.Fatalf("setup with a wrong token: %d", p.status)
	}
	mustContain(t, p, "The admin token is not correct.")
	if p := b.signin("m@example.com", password); p.status != http.StatusUnauthorized {
		t.Errorf("an operator made with a wrong token signs in: %d", p.status)
	}
	// A bank admin needs an existing bank.
	form.Set("admin_token", adminToken)
	form.Set("role", console.RoleBankAdmin)
	form.Set("bank", "no-such-bank")
	if p := b.post("/console/setup", form); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "There is no bank with this id.") {
		t.Errorf("bank admin of an unknown bank: %d", p.status)
	}
	// The refusal and the operator made with the token are in the ledger,
	// as the admin API's calls are; the form's password never is.
	form.Set("bank", "qingshan-rcb")
	if p := b.post("/console/setup", form); p.status != http.StatusOK || !strings.Contains(p.body, "The operator is created.") {
		t.Fatalf("setup with the admin token: %d\n%s", p.status, p.body)
	}
	recs := e.setupRecords()
	if len(recs) != 2 {
		t.Fatalf("setup wrote %d audit records, want the refusal and the creation: %+v", len(recs), recs)
	}
	if r := recs[0]; r.Actor != "anonymous" || r.Decision != audit.DecisionDeny || r.Status != http.StatusUnauthorized || r.Object != "operators" {
		t.Errorf("refused setup recorded as %+v", r)
	}
	r := recs[1]
	if r.Actor != console.SetupActor || r.Decision != audit.DecisionAllow || !strings.HasPrefix(r.Object, "operators/") ||
		!strings.Contains(r.After, `"role":"bank-admin"`) || !strings.Contains(r.After, "m@example.com") {
		t.Errorf("setup recorded as %+v", r)
	}
	for _, r := range recs {
		if strings.Contains(r.After, password) || strings.Contains(r.After, adminToken) {
			t.Errorf("a setup record holds the form's secrets: %s", r.After)
		}
	}
}

func TestAllianceAdminApprovesPartnerAndSubscription(t *testing.T) {
	e := newEnv(t)
	b := e.operator("admin@alliance.example", console.RoleAllianceAdmin, "")
	p := b.get("/console/approvals")
	mustContain(t, p, "Green Valley Fintech", "River Pay", "Qingshan Premium", "Hexi Premium")
	p = b.post("/console/partners/green-valley/approve", url.Values{"csrf_token": {b.csrf("/console/approvals")}})
	mustContain(t, p, "Green Valley Fintech is approved")
	if got, _ := e.store.Partner(context.Background(), "green-valley"); got.Status != partners.PartnerApproved {
		t.Errorf("partner status after approval: %s", got.Status)
	}
	p = b.post("/console/subscriptions/reject", url.Values{"csrf_token": {b.csrf("/console/approvals")}, "client_id": {e.riverApp}, "product": {"hexi-premium"}})
	mustContain(t, p, "was rejected")
	if s, _ := e.store.Subscription(context.Background(), e.riverApp, "hexi-premium"); s.Status != partners.SubscriptionRejected {
		t.Errorf("subscription after rejection: %s", s.Status)
	}
	// Rejecting a pending partner removes it and its sandbox app.
	p = b.post("/console/partners/river-pay/reject", url.Values{"csrf_token": {b.csrf("/console/approvals")}, "confirm": {"yes"}})
	mustContain(t, p, "The organisation was rejected and removed, with its apps.")
	if _, err := e.store.Partner(context.Background(), "river-pay"); err == nil {
		t.Error("the rejected partner is still there")
	}
	if _, err := e.store.App(context.Background(), e.riverApp); err == nil {
		t.Error("the rejected partner's app is still there")
	}
	// An approved partner cannot be rejected.
	if p := b.post("/console/partners/green-valley/reject", url.Values{"csrf_token": {b.csrf("/console/approvals")}, "confirm": {"yes"}}); p.status != http.StatusConflict {
		t.Errorf("rejecting an approved partner: %d", p.status)
	}
	// Lifecycle: deprecate then retire an API.
	p = b.post("/console/apis/hexi-loans/deprecate", url.Values{"csrf_token": {b.csrf("/console/apis")}, "sunset": {"2027-06-30"}})
	mustContain(t, p, "is deprecated", "2027-06-30")
	p = b.post("/console/apis/hexi-loans/retire", url.Values{"csrf_token": {b.csrf("/console/apis")}, "confirm": {"yes"}})
	if a, _ := e.store.API(context.Background(), "hexi-loans"); a.Status != catalog.StatusRetired {
		t.Errorf("API after retire: %s\n%s", a.Status, p.body)
	}
	// Every change is in the audit log, with the operator as the actor.
	var got []string
	for _, r := range e.recorded() {
		got = append(got, r.Actor+" "+r.Reason+" "+r.Object+" "+r.Bank+" "+r.Category)
	}
	want := []string{
		"console:admin@alliance.example approve partners/green-valley  admin",
		"console:admin@alliance.example reject apps/" + e.riverApp + "/subscriptions/hexi-premium  admin",
		"console:admin@alliance.example reject partners/river-pay  admin",
		"console:admin@alliance.example deprecate apis/hexi-loans hexi-bank admin",
		"console:admin@alliance.example retire apis/hexi-loans hexi-bank admin",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("recorded changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A bank admin sees only its bank: another bank's partners, pending
// subscriptions, APIs and audit rows are not listed, and acting on them
// is 404 like an unknown id.
func TestBankAdminScope(t *testing.T) {
	e := newEnv(t)
	b := e.operator("staff@qingshan.example", console.RoleBankAdmin, "qingshan-rcb")

	p := b.get("/console/approvals")
	mustContain(t, p, "Green Valley Fintech", "Qingshan Premium")
	mustNotContain(t, p, "River Pay", "Hexi Premium")
	mustNotContain(t, p, `/console/partners/green-valley/reject`)
	p = b.get("/console/partners")
	mustContain(t, p, "Green Valley Fintech")
	mustNotContain(t, p, "River Pay")
	p = b.get("/console/apis")
	mustContain(t, p, "qingshan-accounts", "qingshan-payments")
	mustNotContain(t, p, "hexi-accounts", "hexi-loans")
	p = b.get("/console/audit?bank=hexi-bank")
	mustContain(t, p, "accounts-path-A", "accounts-path-B")
	mustNotContain(t, p, "secret-loans-path", "river-pay")
	p = b.get("/console/reports?by=partner")
	mustContain(t, p, "green-valley")
	mustNotContain(t, p, "river-pay")

	tok := b.csrf("/console/approvals")
	for _, c := range []struct {
		path string
		form url.Values
	}{
		{"/console/partners/river-pay/approve", url.Values{}},
		{"/console/partners/green-valley/reject", url.Values{}}, // alliance-wide: alliance admins only
		{"/console/partners/no-such-partner/approve", url.Values{}},
		{"/console/subscriptions/approve", url.Values{"client_id": {e.riverApp}, "product": {"hexi-premium"}}},
		{"/console/apis/hexi-loans/retire", url.Values{}},
		{"/console/apis/no-such-api/retire", url.Values{}},
	} {
		c.form.Set("csrf_token", tok)
		if p := b.post(c.path, c.form); p.status != http.StatusNotFound {
			t.Errorf("POST %s by Qingshan's admin: %d, want 404", c.path, p.status)
		}
	}
	ctx := context.Background()
	if got, _ := e.store.Partner(ctx, "river-pay"); got.Status != partners.PartnerPending {
		t.Error("Qingshan's admin approved Hexi's partner")
	}
	if s, _ := e.store.Subscription(ctx, e.riverApp, "hexi-premium"); s.Status != partners.SubscriptionPending {
		t.Error("Qingshan's admin approved a subscription to Hexi's product")
	}
	if a, _ := e.store.API(ctx, "hexi-loans"); a.Status != catalog.StatusPublished {
		t.Error("Qingshan's admin retired Hexi's API")
	}
	if n := len(e.recorded()); n != 0 {
		t.Errorf("refused actions recorded %d changes", n)
	}
	// Its own: approving works.
	p = b.post("/console/subscriptions/approve", url.Values{"csrf_token": {tok}, "client_id": {e.greenApp}, "product": {"qingshan-premium"}})
	mustContain(t, p, "is active")
}

// A compliance auditor reads audit and reports only; the admin pages are
// 404 and its bank scope holds.
func TestAuditorIsReadOnly(t *testing.T) {
	e := newEnv(t)
	b := e.operator("audit@hexi.example", console.RoleAuditor, "hexi-bank")
	if p := b.get("/console/"); p.url != "/console/reports" {
		t.Errorf("an auditor lands on %s", p.url)
	}
	p := b.get("/console/reports?by=api")
	mustContain(t, p, "Usage report", "hexi-loans")
	mustNotContain(t, p, "qingshan-accounts", `href="/console/approvals"`)
	p = b.get("/console/audit")
	mustContain(t, p, "secret-loans-path")
	mustNotContain(t, p, "accounts-path-A")
	for _, path := range []string{"/console/approvals", "/console/partners", "/console/apis"} {
		if p := b.get(path); p.status != http.StatusNotFound {
			t.Errorf("auditor GET %s: %d, want 404", path, p.status)
		}
	}
	// Whatever an auditor posts is refused as read-only (403), and
	// changes nothing.
	tok := b.csrf("/console/audit")
	for _, path := range []string{"/console/partners/river-pay/approve", "/console/products/new", "/console/products/hexi-premium", "/console/apis/upload/confirm"} {
		if p := b.post(path, url.Values{"csrf_token": {tok}, "id": {"x"}, "name": {"X"}, "apis": {"hexi-loans"}, "approval": {"auto"}}); p.status != http.StatusForbidden || !strings.Contains(p.body, "read-only") {
			t.Errorf("auditor POST %s: %d, want 403", path, p.status)
		}
	}
	if got, _ := e.store.Partner(context.Background(), "river-pay"); got.Status != partners.PartnerPending {
		t.Error("an auditor approved a partner")
	}
	if n := len(e.recorded()); n != 0 {
		t.Errorf("an auditor's refused posts recorded %d changes", n)
	}
	// An auditor of every bank sees both.
	all := e.operator("audit@alliance.example", console.RoleAuditor, "")
	p = all.get("/console/audit")
	mustContain(t, p, "secret-loans-path", "accounts-path-A")
}

func TestCSRF(t *testing.T) {
	e := newEnv(t)
	b := e.operator("admin@alliance.example", console.RoleAllianceAdmin, "")
	for _, tok := range []string{"", "forged-token", b.cookie("obhub_console_csrf")} {
		p := b.post("/console/partners/green-valley/approve", url.Values{"csrf_token": {tok}})
		if p.status != http.StatusForbidden {
			t.Errorf("approve with token %q: %d, want 403", tok, p.status)
		}
	}
	if got, _ := e.store.Partner(context.Background(), "green-valley"); got.Status != partners.PartnerPending {
		t.Error("a forged form approved the partner")
	}
	// The sign-in form itself needs the pre-session token.
	anon := e.browser()
	if p := anon.post("/console/signin", url.Values{"email": {"admin@alliance.example"}, "password": {password}}); p.status != http.StatusForbidden {
		t.Errorf("sign-in without a token: %d", p.status)
	}
	// A cross-site POST is refused by the browser headers too.
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/console/signout", strings.NewReader(""))
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

// A session id planted before sign-in is never the signed-in one.
func TestSessionFixation(t *testing.T) {
	e := newEnv(t)
	e.addOperator("admin@alliance.example", console.RoleAllianceAdmin, "")
	b := e.browser()
	u, _ := url.Parse(e.srv.URL + "/console/")
	planted := "planted-session-id-planted-session-id-12345"
	b.c.Jar.SetCookies(u, []*http.Cookie{{Name: "obhub_console_session", Value: planted, Path: "/console/"}})
	if p := b.signin("admin@alliance.example", password); p.url != "/console/approvals" {
		t.Fatalf("sign-in landed on %s", p.url)
	}
	got := b.cookie("obhub_console_session")
	if got == "" || got == planted {
		t.Fatalf("session cookie after sign-in: %q", got)
	}
	// The attacker holding the planted id is not signed in.
	att := e.browser()
	att.c.Jar.SetCookies(u, []*http.Cookie{{Name: "obhub_console_session", Value: planted, Path: "/console/"}})
	if p := att.get("/console/approvals"); p.url != "/console/signin" {
		t.Errorf("the planted session reaches %s", p.url)
	}
	// A second sign-in replaces the session again; the old id is dead.
	if p := b.signin("admin@alliance.example", password); p.status != http.StatusOK {
		t.Fatal(p.status)
	}
	att.c.Jar.SetCookies(u, []*http.Cookie{{Name: "obhub_console_session", Value: got, Path: "/console/"}})
	if p := att.get("/console/approvals"); p.url != "/console/signin" {
		t.Errorf("the session from before the second sign-in still works")
	}
	// Sign-out ends the session.
	if p := b.post("/console/signout", url.Values{"csrf_token": {b.csrf("/console/approvals")}}); p.url != "/console/signin" {
		t.Errorf("sign-out landed on %s", p.url)
	}
	if p := b.get("/console/approvals"); p.url != "/console/signin" {
		t.Errorf("after sign-out: %s", p.url)
	}
}

func TestLockout(t *testing.T) {
	e := newEnv(t)
	e.addOperator("admin@alliance.example", console.RoleAllianceAdmin, "")
	b := e.browser()
	for i := range 4 {
		p := b.signin("admin@alliance.example", "wrong password "+string(rune('a'+i)))
		if p.status != http.StatusUnauthorized || !strings.Contains(p.body, "is not correct") {
			t.Fatalf("failure %d: %d", i+1, p.status)
		}
	}
	p := b.signin("admin@alliance.example", "wrong password e")
	mustContain(t, p, "locked for 15 minutes")
	// Even the right password is refused now.
	p = b.signin("admin@alliance.example", password)
	if p.status != http.StatusUnauthorized || !strings.Contains(p.body, "locked") {
		t.Errorf("right password while locked: %d", p.status)
	}
	// An unknown address gives the same answer as a wrong password.
	p = b.signin("nobody@example.com", password)
	mustContain(t, p, "The e-mail address or password is not correct.")
}

func TestChineseAndHeaders(t *testing.T) {
	e := newEnv(t)
	b := e.operator("admin@alliance.example", console.RoleAllianceAdmin, "")
	p := b.get("/console/approvals?lang=zh")
	mustContain(t, p, `lang="zh-Hans"`, "待审批的合作方", "联盟管理员")
	mustNotContain(t, p, "approvals.", "err.", "nav.")
	resp, err := b.c.Get(e.srv.URL + "/console/apis")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP %q", csp)
	}
}

// The audit page filters by request id, app and category as the admin
// API does — the values masked as the ledger masks them — shows the
// request id, keeps the table within its scrolling box, and labels date
// fields without a format the browser's date picker contradicts. The
// reports page names the row of calls without a partner "(none)", as
// the command line's HTML report does.
func TestAuditPageFiltersAndReportNone(t *testing.T) {
	e := newEnv(t)
	audittest.Fill(t, e.ledger, audittest.NewSigner(t), []audit.Record{
		{Time: e.now.Add(-30 * time.Minute), Category: audit.CategoryPayment, RequestID: "req-13812345678", Bank: "qingshan-rcb",
			API: "qingshan-accounts", Method: "POST", Path: "/qingshan-rcb/pay-path-C", Partner: "green-valley", ClientID: "app-13912345678",
			Status: 201, Decision: "allow"},
		{Time: e.now.Add(-20 * time.Minute), Category: audit.CategoryAccess, RequestID: "req-anon", Bank: "qingshan-rcb",
			API: "qingshan-accounts", Method: "GET", Path: "/qingshan-rcb/no-token-path-D", Status: 401, Decision: "deny", Reason: "token_missing"},
	})
	aud := e.operator("audit@alliance.example", console.RoleAuditor, "")
	p := aud.get("/console/audit")
	mustContain(t, p, `name="request_id"`, `name="app"`, `name="category"`, `class="table-scroll"`, "Request id", "<code>req-anon</code>")
	mustNotContain(t, p, "YYYY-MM-DD")
	for _, tt := range []struct {
		query    string
		want     []string
		wantNone []string
	}{
		{"request_id=req-13812345678", []string{"pay-path-C"}, []string{"no-token-path-D", "accounts-path-A"}},
		{"app=app-13912345678", []string{"pay-path-C"}, []string{"no-token-path-D", "accounts-path-A"}},
		{"app=" + e.greenApp, []string{"accounts-path-A", "accounts-path-B"}, []string{"pay-path-C", "secret-loans-path"}},
		{"category=payment", []string{"pay-path-C"}, []string{"no-token-path-D", "accounts-path-A"}},
		{"category=access&bank=qingshan-rcb", []string{"no-token-path-D", "accounts-path-A"}, []string{"pay-path-C"}},
	} {
		p := aud.get("/console/audit?" + tt.query)
		if p.status != http.StatusOK {
			t.Errorf("%s: %d", tt.query, p.status)
		}
		mustContain(t, p, tt.want...)
		mustNotContain(t, p, tt.wantNone...)
	}
	if p := aud.get("/console/audit?category=secret"); p.status != http.StatusUnprocessableEntity {
		t.Errorf("an unknown category: %d", p.status)
	}
	mustNotContain(t, aud.get("/console/audit?lang=zh"), "YYYY-MM-DD")

	p = aud.get("/console/reports?by=partner&lang=en")
	mustContain(t, p, `<th scope="row">(none)</th>`)
	mustContain(t, aud.get("/console/reports?by=partner&lang=zh"), `<th scope="row">（无）</th>`)
}
