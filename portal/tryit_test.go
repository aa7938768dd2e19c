package portal_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/audit"
	"github.com/obhub/obhub/audit/audittest"
	"github.com/obhub/obhub/catalog"
	"github.com/obhub/obhub/config"
	"github.com/obhub/obhub/demo"
	"github.com/obhub/obhub/openapi"
	"github.com/obhub/obhub/partners"
	"github.com/obhub/obhub/portal"
	"github.com/obhub/obhub/store/sqlite"
)

// The try-it console's collaborators at the portal's edge: a token
// issuer that records what it was asked, and a gateway that checks the
// token and answers like the sandbox. The real pair (oauth.Server and the
// gateway) is exercised end to end in cmd/obhub (TestPortalTryItEndToEnd)
// and in the browser test.

type issued struct {
	client   string
	scopes   []string
	lifetime time.Duration
	customer string // bank:login, or "" for the app's own token
}

type fakeIssuer struct {
	mu    sync.Mutex
	calls []issued
}

func (f *fakeIssuer) SandboxToken(_ context.Context, clientID string, scopes []string, lifetime time.Duration) (string, time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, issued{clientID, scopes, lifetime, ""})
	return "tok-" + clientID, time.Now().Add(lifetime), nil
}

func (f *fakeIssuer) SandboxCustomers(_ context.Context, bank string) ([]portal.SandboxCustomer, error) {
	return []portal.SandboxCustomer{{Login: "zhangsan", Name: "张三 (Zhang San)", Accounts: []string{"qs-10001", "qs-10002"}},
		{Login: "lisi", Name: "李四 (Li Si)", Accounts: []string{"qs-10003"}}}, nil
}

func (f *fakeIssuer) SandboxCustomerToken(_ context.Context, clientID, bank, login string, scopes []string, lifetime time.Duration) (string, time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, issued{clientID, scopes, lifetime, bank + ":" + login})
	return "tok-" + clientID + "-" + login, time.Now().Add(lifetime), nil
}

func (f *fakeIssuer) issued() []issued {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]issued(nil), f.calls...)
}

type seenCall struct {
	method, path, auth, body, ctype string
}

type fakeGateway struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen []seenCall
}

func newFakeGateway(t *testing.T) *fakeGateway {
	g := &fakeGateway{}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		g.mu.Lock()
		g.seen = append(g.seen, seenCall{r.Method, r.URL.EscapedPath(), r.Header.Get("Authorization"), string(b), r.Header.Get("Content-Type")})
		g.mu.Unlock()
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer tok-") {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Request-Id", "req-try-1")
		_, _ = io.WriteString(w, `{"data":{"accountId":"qs-10001","holderName":"王建国"}}`)
	}))
	t.Cleanup(g.srv.Close)
	return g
}

func (g *fakeGateway) calls() []seenCall {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]seenCall(nil), g.seen...)
}

// getAccount is the anchor of GET /accounts/{accountId}.
const getAccount = "op-get--accounts--accountid-"

func tryEnv(t *testing.T, opts ...func(*portal.Config)) (*env, *fakeIssuer, *fakeGateway) {
	iss, gw := &fakeIssuer{}, newFakeGateway(t)
	e := newEnv(t, append([]func(*portal.Config){func(c *portal.Config) {
		c.TryIt, c.Gateway, c.GatewayURL = iss, gw.srv.Client(), gw.srv.URL
	}}, opts...)...)
	return e, iss, gw
}

// partnerOf returns the id of the partner named name.
func partnerOf(t *testing.T, e *env, name string) string {
	t.Helper()
	ps, _, err := e.store.ListPartners(context.Background(), config.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if p.Name == name {
			return p.ID
		}
	}
	t.Fatalf("no partner %q", name)
	return ""
}

func TestTryIt(t *testing.T) {
	e, iss, gw := tryEnv(t)
	a := e.browser()
	a.signup("Green Valley", "li@greenvalley.example")
	app, _ := a.createApp("Farm ledger")
	other, _ := a.createApp("Not subscribed")
	if p := a.post("/portal/apps/"+app+"/subscriptions", url.Values{"csrf_token": {a.csrf("/portal/apps/" + app)}, "product": {"accounts"}}); p.status != http.StatusOK {
		t.Fatalf("subscribe: %d", p.status)
	}
	// A production app of the same partner (approved by an operator).
	ctx := context.Background()
	pid := partnerOf(t, e, "Green Valley")
	if _, err := e.store.ApprovePartner(ctx, pid); err != nil {
		t.Fatal(err)
	}
	prod, _, err := e.store.CreateApp(ctx, partners.App{Partner: pid, Name: "Live ledger", Environment: partners.Production,
		GrantTypes: []string{partners.GrantClientCredentials}, Scopes: []string{"accounts:read"}, TokenEndpointAuthMethod: partners.AuthSecretBasic})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Subscribe(ctx, prod.ClientID, "accounts"); err != nil {
		t.Fatal(err)
	}
	tryPath := "/portal/apis/qingshan-accounts/try"

	t.Run("reference links to the console", func(t *testing.T) {
		mustContain(t, a.get("/portal/apis/qingshan-accounts"), `href="/portal/apis/qingshan-accounts/try?op=`+getAccount+`"`)
	})

	t.Run("form prefilled, sandbox apps only, snippets", func(t *testing.T) {
		p := a.get(tryPath + "?op=" + getAccount + "&app=" + app)
		if p.status != http.StatusOK {
			t.Fatalf("%d\n%s", p.status, p.body)
		}
		mustContain(t, p, `name="p.path.accountId" value="qs-10001"`, app, "Farm ledger", "Not subscribed (not subscribed to this API)",
			"Getting started", "CLIENT_SECRET", `http://hub.example/sandbox/qingshan-rcb/open-banking/accounts/v1/accounts/qs-10001`)
		mustNotContain(t, p, prod.ClientID, "Live ledger")
		mustContain(t, p, "grant_type=client_credentials") // no customer chosen: the app's own token
		mustNotContain(t, p, "REDIRECT_URI")
	})

	t.Run("send: the server makes the call with a short token", func(t *testing.T) {
		p := a.post(tryPath, url.Values{"csrf_token": {a.csrf(tryPath)}, "op": {getAccount}, "app": {app}, "p.path.accountId": {"qs-10001"}})
		if p.status != http.StatusOK {
			t.Fatalf("%d\n%s", p.status, p.body)
		}
		mustContain(t, p, `id="try-status" class="code">200 OK<`, "X-Request-Id: req-try-1", "王建国")
		calls := gw.calls()
		last := calls[len(calls)-1]
		if last.method != "GET" || last.path != "/sandbox/qingshan-rcb/open-banking/accounts/v1/accounts/qs-10001" || last.auth != "Bearer tok-"+app {
			t.Errorf("gateway saw %+v", last)
		}
		is := iss.issued()
		got := is[len(is)-1]
		if got.client != app || strings.Join(got.scopes, " ") != "accounts:read" || got.lifetime <= 0 || got.lifetime > 5*time.Minute {
			t.Errorf("token asked for %+v: want the app, the operation's scope, at most 5 minutes", got)
		}
	})

	t.Run("a path value stays in its segment", func(t *testing.T) {
		a.post(tryPath, url.Values{"csrf_token": {a.csrf(tryPath)}, "op": {getAccount}, "app": {app}, "p.path.accountId": {"../../../portal/apps"}})
		calls := gw.calls()
		if got := calls[len(calls)-1].path; got != "/sandbox/qingshan-rcb/open-banking/accounts/v1/accounts/..%2F..%2F..%2Fportal%2Fapps" {
			t.Errorf("gateway saw path %q", got)
		}
	})

	t.Run("prepare: the call for the browser's fetch", func(t *testing.T) {
		resp, err := a.c.PostForm(e.srv.URL+tryPath+"/prepare", url.Values{"csrf_token": {a.csrf(tryPath)}, "op": {getAccount}, "app": {app}, "p.path.accountId": {"qs-10002"}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var got struct {
			Method, URL string
			Headers     map[string]string
		}
		if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%d %v", resp.StatusCode, err)
		}
		if got.Method != "GET" || got.URL != "/sandbox/qingshan-rcb/open-banking/accounts/v1/accounts/qs-10002" || got.Headers["Authorization"] != "Bearer tok-"+app {
			t.Errorf("prepared %+v", got)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q on a response holding a token", cc)
		}
	})

	refused := []struct {
		name   string
		app    string
		status int
		text   string
	}{
		{"production app", prod.ClientID, http.StatusNotFound, "Page not found"},
		{"unknown app", "app_nobody000000000", http.StatusNotFound, "Page not found"},
		{"app not subscribed", other, http.StatusUnprocessableEntity, "Not subscribed is not subscribed to a product holding this API"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			before := len(iss.issued())
			p := a.post(tryPath, url.Values{"csrf_token": {a.csrf(tryPath)}, "op": {getAccount}, "app": {tt.app}, "p.path.accountId": {"qs-10001"}})
			if p.status != tt.status {
				t.Errorf("status %d, want %d", p.status, tt.status)
			}
			mustContain(t, p, tt.text)
			if len(iss.issued()) != before {
				t.Error("a token was issued")
			}
		})
	}

	t.Run("missing required parameter", func(t *testing.T) {
		p := a.post(tryPath, url.Values{"csrf_token": {a.csrf(tryPath)}, "op": {getAccount}, "app": {app}})
		if p.status != http.StatusUnprocessableEntity {
			t.Errorf("status %d", p.status)
		}
		mustContain(t, p, "accountId")
	})

	t.Run("no CSRF token", func(t *testing.T) {
		before := len(iss.issued())
		if p := a.post(tryPath, url.Values{"op": {getAccount}, "app": {app}}); p.status != http.StatusForbidden {
			t.Errorf("status %d, want 403", p.status)
		}
		if len(iss.issued()) != before {
			t.Error("a token was issued")
		}
	})

	t.Run("another partner cannot use the app", func(t *testing.T) {
		b := e.browser()
		b.signup("Beta Loans", "ops@beta.example")
		before := len(iss.issued())
		p := b.post(tryPath, url.Values{"csrf_token": {b.csrf(tryPath)}, "op": {getAccount}, "app": {app}, "p.path.accountId": {"qs-10001"}})
		if p.status != http.StatusNotFound {
			t.Errorf("status %d, want 404", p.status)
		}
		if len(iss.issued()) != before {
			t.Error("a token was issued for another partner's app")
		}
		mustNotContain(t, b.get(tryPath), app, "Farm ledger")
	})

	t.Run("in Chinese", func(t *testing.T) {
		mustContain(t, a.get(tryPath+"?lang=zh"), "试用 Qingshan RCB Accounts API", "快速入门", "发送", "大字号")
	})

	t.Run("consent operation: the bank's sandbox customers are offered", func(t *testing.T) {
		p := a.get(tryPath + "?op=" + getAccount + "&app=" + app + "&lang=en")
		mustContain(t, p, `<label for="try-customer">Sandbox customer</label>`, `<select id="try-customer" name="customer"`,
			`<option value="" selected>None — the app itself (client credentials)</option>`,
			`<option value="zhangsan" data-accounts="qs-10001 qs-10002">张三 (Zhang San) — accounts qs-10001, qs-10002</option>`, "authorization code grant")
		mustContain(t, a.get(tryPath+"?op="+getAccount+"&app="+app+"&lang=zh"), "沙箱客户", "授权码模式")
	})

	t.Run("the chosen customer's account is prefilled", func(t *testing.T) {
		// The document's example (qs-10001) is 张三's: for 李四 the form
		// holds 李四's account, whose call the sandbox answers.
		p := a.get(tryPath + "?op=" + getAccount + "&app=" + app + "&customer=lisi&lang=en")
		mustContain(t, p, `<option value="lisi" selected data-accounts="qs-10003">`, `name="p.path.accountId" value="qs-10003"`)
		mustContain(t, a.get(tryPath+"?op="+getAccount+"&app="+app+"&customer=zhangsan"), `name="p.path.accountId" value="qs-10001"`)
	})

	t.Run("operation needing no customer: no customer list", func(t *testing.T) {
		raw, err := demo.Spec("qingshan-loans.yaml")
		if err != nil {
			t.Fatal(err)
		}
		doc, err := openapi.Import(ctx, raw)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.store.CreateAPI(ctx, config.APIInput{ID: "qingshan-loans", Bank: "qingshan-rcb", Upstream: "http://127.0.0.1:9", Visibility: catalog.VisibilityPublic, Spec: doc.Spec()}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.store.PublishAPI(ctx, "qingshan-loans"); err != nil {
			t.Fatal(err)
		}
		p := a.get("/portal/apis/qingshan-loans/try?app=" + app + "&lang=en")
		if p.status != http.StatusOK {
			t.Fatalf("%d", p.status)
		}
		mustContain(t, p, "This operation needs no customer")
		mustNotContain(t, p, `id="try-customer"`, "Zhang San")
	})

	t.Run("send as a sandbox customer", func(t *testing.T) {
		send := func() page {
			t.Helper()
			p := a.post(tryPath, url.Values{"csrf_token": {a.csrf(tryPath)}, "op": {getAccount}, "app": {app}, "customer": {"lisi"}, "p.path.accountId": {"qs-10003"}})
			if p.status != http.StatusOK {
				t.Fatalf("%d\n%s", p.status, p.body)
			}
			return p
		}
		// A portal app has client_credentials only: the call works, and
		// instead of a snippet that would fail at PAR the page says what
		// the app lacks.
		p := send()
		mustContain(t, p, `id="try-no-code-grant"`, "authorization_code grant")
		mustNotContain(t, p, "http://hub.example/oauth2/par", "REDIRECT_URI")
		mustContain(t, a.get("/portal/apps/"+app), `id="redirect-unused"`)
		mustContain(t, p, `href="/portal/apps/`+app+`#code-grant"`)
		// With a redirect URI and customer consent turned on from the
		// app's page, the customer-flow snippets.
		appPath := "/portal/apps/" + app
		if p := a.post(appPath+"/redirect-uris", url.Values{"csrf_token": {a.csrf(appPath)}, "redirect_uris": {"https://app.example/cb"}}); p.status != http.StatusOK {
			t.Fatalf("redirect URI: %d", p.status)
		}
		if p := a.post(appPath+"/code-grant", url.Values{"csrf_token": {a.csrf(appPath)}, "authorization_code": {"on"}}); p.status != http.StatusOK {
			t.Fatalf("customer consent on: %d", p.status)
		}
		p = send()
		mustNotContain(t, p, `id="try-no-code-grant"`)
		mustNotContain(t, a.get("/portal/apps/"+app), `id="redirect-unused"`)
		mustContain(t, p, `<option value="lisi" selected data-accounts="qs-10003">李四 (Li Si) — accounts qs-10003</option>`,
			// The snippets get the customer's token by the authorization code flow.
			"REDIRECT_URI", "http://hub.example/oauth2/par", "http://hub.example/oauth2/authorize", "grant_type=authorization_code")
		mustNotContain(t, p, "client_credentials")
		calls := gw.calls()
		if last := calls[len(calls)-1]; last.auth != "Bearer tok-"+app+"-lisi" {
			t.Errorf("gateway saw %+v, want the customer's token", last)
		}
		is := iss.issued()
		if got := is[len(is)-1]; got.client != app || got.customer != "qingshan-rcb:lisi" || strings.Join(got.scopes, " ") != "accounts:read" || got.lifetime > 5*time.Minute {
			t.Errorf("token asked for %+v: want the app on behalf of qingshan-rcb:lisi", got)
		}
	})

	t.Run("prepare as a sandbox customer", func(t *testing.T) {
		p := a.post(tryPath+"/prepare", url.Values{"csrf_token": {a.csrf(tryPath)}, "op": {getAccount}, "app": {app}, "customer": {"zhangsan"}, "p.path.accountId": {"qs-10001"}})
		if p.status != http.StatusOK {
			t.Fatalf("%d\n%s", p.status, p.body)
		}
		mustContain(t, p, `"Authorization":"Bearer tok-`+app+`-zhangsan"`)
	})

	customerRefused := []struct {
		name, app, customer string
		status              int
		text                string
	}{
		{"unknown customer", app, "nobody", http.StatusUnprocessableEntity, "Choose one of this bank&#39;s sandbox customers."},
		{"another bank's customer", app, "hexi-rcc:zhangsan", http.StatusUnprocessableEntity, "Choose one of this bank&#39;s sandbox customers."},
		{"production app", prod.ClientID, "zhangsan", http.StatusNotFound, ""},
	}
	for _, tt := range customerRefused {
		t.Run("refused: "+tt.name, func(t *testing.T) {
			before := len(iss.issued())
			p := a.post(tryPath, url.Values{"csrf_token": {a.csrf(tryPath)}, "op": {getAccount}, "app": {tt.app}, "customer": {tt.customer}, "p.path.accountId": {"qs-10001"}})
			if p.status != tt.status {
				t.Errorf("status %d, want %d", p.status, tt.status)
			}
			mustContain(t, p, tt.text)
			if len(iss.issued()) != before {
				t.Error("a token was issued")
			}
		})
	}

	t.Run("signed out: sign in first", func(t *testing.T) {
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Get(e.srv.URL + tryPath)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/portal/signin") {
			t.Errorf("%d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
}

func TestTryItOff(t *testing.T) {
	e := newEnv(t)
	a := e.browser()
	a.signup("Green Valley", "li@greenvalley.example")
	if p := a.get("/portal/apis/qingshan-accounts/try"); p.status != http.StatusNotFound {
		t.Errorf("console without a token issuer: %d, want 404", p.status)
	}
	mustNotContain(t, a.get("/portal/apis/qingshan-accounts"), `/try"`)
}

func TestUsage(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 30, 0, 0, time.UTC)
	led := sqlite.NewAudit(filepath.Join(t.TempDir(), "audit.db"))
	if err := led.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { led.Close() })
	e, _, _ := tryEnv(t, func(c *portal.Config) {
		c.Usage = led
		c.Clock = func() time.Time { return now }
	})
	a, b := e.browser(), e.browser()
	a.signup("Green Valley", "li@greenvalley.example")
	b.signup("Beta Loans", "ops@beta.example")
	appA, _ := a.createApp("Farm ledger")
	appB, _ := b.createApp("Beta secret app")
	ctx := context.Background()
	if _, err := e.store.CreateProduct(ctx, catalog.Product{ID: "metered", Name: "Metered accounts", APIs: []string{"qingshan-accounts"},
		Approval: catalog.ApprovalAuto, Plan: catalog.Plan{Quota: &catalog.Limit{Limit: 100, Period: obhub.Duration(24 * time.Hour)}}}); err != nil {
		t.Fatal(err)
	}
	if p := a.post("/portal/apps/"+appA+"/subscriptions", url.Values{"csrf_token": {a.csrf("/portal/apps/" + appA)}, "product": {"metered"}}); p.status != http.StatusOK {
		t.Fatalf("subscribe: %d", p.status)
	}

	// A's app: 5 calls two hours ago (one denied, one 502), 2 calls in
	// the current hour; B's app: 7 calls. Written through the real writer.
	rec := func(client, partner string, ago time.Duration, status int, decision string, lat time.Duration) audit.Record {
		return audit.Record{Time: now.Add(-ago), Category: audit.CategoryAccess, RequestID: "r", Bank: "qingshan-rcb",
			API: "qingshan-accounts", Operation: "getAccount", Method: "GET", Path: "/sandbox/qingshan-rcb/x",
			ClientID: client, Partner: partner, Environment: "sandbox", Status: status, Decision: decision, Latency: lat}
	}
	pa, pb := partnerOf(t, e, "Green Valley"), partnerOf(t, e, "Beta Loans")
	recs := []audit.Record{
		rec(appA, pa, 2*time.Hour+10*time.Minute, 200, "allow", 10*time.Millisecond),
		rec(appA, pa, 2*time.Hour+9*time.Minute, 200, "allow", 20*time.Millisecond),
		rec(appA, pa, 2*time.Hour+8*time.Minute, 200, "allow", 30*time.Millisecond),
		rec(appA, pa, 2*time.Hour+7*time.Minute, 403, "deny", time.Millisecond),
		rec(appA, pa, 2*time.Hour+6*time.Minute, 502, "allow", 90*time.Millisecond),
		rec(appA, pa, 20*time.Minute, 200, "allow", 12*time.Millisecond),
		rec(appA, pa, 10*time.Minute, 200, "allow", 14*time.Millisecond),
		rec(appA, pa, 26*time.Hour, 200, "allow", 14*time.Millisecond), // outside 24 h, inside 30 days
	}
	for range 7 {
		recs = append(recs, rec(appB, pb, time.Hour, 200, "allow", 5*time.Millisecond))
	}
	audittest.Fill(t, led, audittest.NewSigner(t), recs)

	p := a.get("/portal/apps/" + appA + "/usage")
	if p.status != http.StatusOK {
		t.Fatalf("%d\n%s", p.status, p.body)
	}
	mustContain(t, p, `<span id="total-calls">7</span>`, `role="img"`, `<title id="calls-title">Calls</title>`,
		`<th scope="row">11-27 08:00</th><td>5</td><td>1</td><td>1</td>`, // the data table
		`<th scope="row">11-27 10:00</th><td>2</td><td>0</td><td>0</td>`)
	// Quota: the calls let through in the last 24 h (decision allow,
	// the 502 included, the denial not): 6 of 100.
	mustContain(t, p, `<th scope="row">Metered accounts</th><td>100</td><td>24h</td><td>6</td>`, `<strong>94</strong>`)
	month := a.get("/portal/apps/" + appA + "/usage?range=30d")
	mustContain(t, month, `<span id="total-calls">8</span>`, `<th scope="row">2026-11-26</th><td>1</td>`)
	mustContain(t, a.get("/portal/apps/"+appA), `href="/portal/apps/`+appA+`/usage"`)

	t.Run("another partner's usage is 404", func(t *testing.T) {
		for _, path := range []string{"/portal/apps/" + appB + "/usage", "/portal/apps/app_nobody000000000/usage"} {
			p := a.get(path)
			if p.status != http.StatusNotFound {
				t.Errorf("%s: %d, want 404", path, p.status)
			}
			mustNotContain(t, p, "Beta secret app", "total-calls")
		}
		mustContain(t, b.get("/portal/apps/"+appB+"/usage"), `<span id="total-calls">7</span>`)
	})
}
