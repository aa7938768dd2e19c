package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/obhub/obhub/demo"
)

// portalUser is one developer's browser without JavaScript: a cookie jar
// on the node's public listener.
type portalUser struct {
	t    testing.TB
	base string
	c    *http.Client
}

func newPortalUser(t testing.TB, m *Main) *portalUser {
	jar, _ := cookiejar.New(nil)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	c := &http.Client{Jar: jar, Transport: tr, Timeout: waitLimit}
	t.Cleanup(c.CloseIdleConnections)
	return &portalUser{t: t, base: m.PublicURL, c: c}
}

var portalCSRF = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// page gets a portal page and returns its status and body.
func (u *portalUser) page(path string) (int, string) {
	u.t.Helper()
	resp, err := u.c.Get(u.base + path)
	return u.read(resp, err)
}

// read reads a whole answer.
func (u *portalUser) read(resp *http.Response, err error) (int, string) {
	u.t.Helper()
	if err != nil {
		u.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		u.t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// post fills the form of the page at from (its CSRF token) and posts it
// to path.
func (u *portalUser) post(from, path string, form url.Values) (int, string) {
	u.t.Helper()
	_, body := u.page(from)
	m := portalCSRF.FindStringSubmatch(body)
	if m == nil {
		u.t.Fatalf("no form on %s", from)
	}
	form.Set("csrf_token", m[1])
	return u.read(u.c.PostForm(u.base+path, form))
}

// onboard signs a developer up and in, has the operator approve the
// organisation, and creates a sandbox app subscribed to the demo's
// starter product. It returns the app's client id.
func onboard(t testing.TB, m *Main, h *hub, u *portalUser, org, email string) string {
	t.Helper()
	if st, body := u.post("/portal/signup", "/portal/signup", url.Values{"org": {org}, "name": {"Li Ming"},
		"email": {email}, "password": {"correct horse battery"}}); st != http.StatusOK || !strings.Contains(body, "Check your mailbox") {
		t.Fatalf("sign-up: %d\n%.2000s", st, body)
	}
	// A sign-up starts no session: the developer signs in.
	if st, body := u.post("/portal/signin", "/portal/signin", url.Values{"email": {email}, "password": {"correct horse battery"}}); st != http.StatusOK || !strings.Contains(body, "Signed in as") {
		t.Fatalf("sign-in: %d\n%.2000s", st, body)
	}
	var partners struct {
		Items []struct{ ID, Name string } `json:"items"`
	}
	h.adminCall(t, "GET", "/partners?limit=100", nil, http.StatusOK, &partners)
	for _, p := range partners.Items {
		if p.Name == org {
			h.adminCall(t, "POST", "/partners/"+p.ID+"/approve", nil, http.StatusOK, nil)
		}
	}
	st, body := u.post("/portal/apps", "/portal/apps", url.Values{"name": {"Farm ledger"}, "environment": {"sandbox"}})
	id := regexp.MustCompile(`id="new-client-id">(app_[a-z0-9]+)<`).FindStringSubmatch(body)
	if st != http.StatusCreated || id == nil {
		t.Fatalf("create app: %d\n%.2000s", st, body)
	}
	if st, body := u.post("/portal/apps/"+id[1], "/portal/apps/"+id[1]+"/subscriptions", url.Values{"product": {"starter"}}); st != http.StatusOK {
		t.Fatalf("subscribe: %d\n%.2000s", st, body)
	}
	return id[1]
}

// getAccount is the reference anchor of GET /accounts/{accountId}.
const tryGetAccount = "op-get--accounts--accountid-"

// TestPortalTryItEndToEnd: the try-it console on a real node — the
// portal's token from the real authorization server, the call through
// the real gateway to the real sandbox, one audit record for it, and the
// app's usage page counting it.
func TestPortalTryItEndToEnd(t *testing.T) {
	m := runMain(t, withDemo())
	h := newHub(t, m, testAdminToken)
	u := newPortalUser(t, m)
	app := onboard(t, m, h, u, "Green Valley Fintech", "li@greenvalley.example")
	try := "/portal/apis/qingshan-accounts/try"

	// Without JavaScript: the form is posted and the server calls the
	// sandbox.
	st, body := u.post(try+"?op="+tryGetAccount, try, url.Values{"op": {tryGetAccount}, "app": {app}, "p.path.accountId": {"qs-10001"}})
	if st != http.StatusOK || !strings.Contains(body, `id="try-status" class="code">200 OK<`) || !strings.Contains(body, "qs-10001") {
		t.Fatalf("try-it form: %d\n%.3000s", st, body)
	}

	// With JavaScript: the portal prepares the call, the client sends it.
	_, page := u.page(try)
	tok := portalCSRF.FindStringSubmatch(page)[1]
	resp, err := u.c.PostForm(u.base+try+"/prepare", url.Values{"csrf_token": {tok}, "op": {tryGetAccount}, "app": {app}, "p.path.accountId": {"qs-10001"}})
	if err != nil {
		t.Fatal(err)
	}
	var prep struct {
		Method, URL string
		Headers     map[string]string
	}
	err = json.NewDecoder(resp.Body).Decode(&prep)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || !strings.HasPrefix(prep.URL, "/sandbox/qingshan-rcb/") {
		t.Fatalf("prepare: %d %v %+v", resp.StatusCode, err, prep)
	}
	bearer := strings.TrimPrefix(prep.Headers["Authorization"], "Bearer ")
	if r := h.call(t, prep.Method, prep.URL, bearer, nil); r.status != http.StatusOK || !strings.Contains(string(r.body), "qs-10001") {
		t.Errorf("sandbox call with the prepared token: %s", r)
	}
	// The token is a sandbox token: production paths refuse it.
	if r := h.call(t, "GET", "/qingshan-rcb/open-banking/accounts/v1/accounts/qs-10001", bearer, nil); r.status != http.StatusForbidden {
		t.Errorf("production call with a try-it token: %s, want 403", r)
	}

	// Both sandbox calls are ordinary audited gateway calls of the app.
	waitSandboxCalls(t, h, app, "/sandbox/qingshan-rcb/open-banking/accounts/v1/accounts/qs-10001", 2)

	// The usage page counts them and the refused production call (3
	// calls, 1 denied); the starter quota counts the 2 let through.
	eventually(t, 10*time.Second, func() string {
		st, body := u.page("/portal/apps/" + app + "/usage")
		if st != http.StatusOK || !strings.Contains(body, `<span id="total-calls">3</span> · denied 1 · errors 0`) ||
			!strings.Contains(body, "<td>100000</td><td>24h</td><td>2</td>") || !strings.Contains(body, "<strong>99998</strong>") {
			i := strings.Index(body, `id="quota-h"`)
			return fmt.Sprintf("usage page: %d\n%.1500s", st, body[max(0, i):])
		}
		return ""
	})

	// Production apps are never used by the console.
	var prod struct {
		ClientID string `json:"client_id"`
	}
	var partners struct {
		Items []struct{ ID, Name string } `json:"items"`
	}
	h.adminCall(t, "GET", "/partners?limit=100", nil, http.StatusOK, &partners)
	for _, p := range partners.Items {
		if p.Name == "Green Valley Fintech" {
			h.adminCall(t, "POST", "/partners/"+p.ID+"/apps", map[string]any{"name": "Live", "environment": "production",
				"grant_types": []string{"client_credentials"}, "scopes": []string{"accounts:read"},
				"token_endpoint_auth_method": "client_secret_basic"}, http.StatusCreated, &prod)
		}
	}
	h.adminCall(t, "POST", "/apps/"+prod.ClientID+"/subscriptions", map[string]any{"product": "starter"}, http.StatusCreated, nil)
	if st, _ := u.post(try, try, url.Values{"op": {tryGetAccount}, "app": {prod.ClientID}, "p.path.accountId": {"qs-10001"}}); st != http.StatusNotFound {
		t.Errorf("try-it with a production app: %d, want 404", st)
	}
	if _, body := u.page(try); strings.Contains(body, prod.ClientID) {
		t.Error("the console lists a production app")
	}
}

// TestLargeTextBothSites: the large-text switch of the portal (public
// listener) and of the console (admin listener) each set their own
// cookie and enlarge their own pages' base font.
func TestLargeTextBothSites(t *testing.T) {
	m := runMain(t)
	for _, site := range []struct{ base, home, page, cookie string }{
		{m.PublicURL, "/portal/", "/portal/apis", "obhub_portal_text"},
		{m.AdminURL, "/console/", "/console/signin", "obhub_console_text"},
	} {
		t.Run(site.home, func(t *testing.T) {
			jar, _ := cookiejar.New(nil)
			c := &http.Client{Jar: jar, Timeout: waitLimit}
			t.Cleanup(c.CloseIdleConnections)
			get := func(path, referer string) (*http.Response, string) {
				t.Helper()
				req, _ := http.NewRequest("GET", site.base+path, nil)
				if referer != "" {
					req.Header.Set("Referer", site.base+referer)
				}
				resp, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp, string(b)
			}
			_, page := get(site.page, "")
			if !strings.Contains(page, `href="`+site.home+`text-size.css"`) || !strings.Contains(page, `href="`+site.home+`text-size?size=large"`) {
				t.Fatalf("%s has no large-text switch:\n%.1500s", site.page, page)
			}
			if _, css := get(site.home+"text-size.css", ""); strings.Contains(css, "font-size") {
				t.Errorf("normal text by default, got %q", css)
			}
			resp, _ := get(site.home+"text-size?size=large", site.page)
			if resp.Request.URL.Path != site.page {
				t.Errorf("after the switch the browser is at %s, want back at %s", resp.Request.URL.Path, site.page)
			}
			if _, css := get(site.home+"text-size.css", ""); !strings.Contains(css, "html{font-size:125%}") {
				t.Errorf("large text: stylesheet %q", css)
			}
			u, _ := url.Parse(site.base + site.home)
			found := false
			for _, c := range jar.Cookies(u) {
				found = found || c.Name == site.cookie && c.Value == "large"
			}
			if !found {
				t.Errorf("cookies %v, want %s=large", jar.Cookies(u), site.cookie)
			}
		})
	}
}

// TestPortalTryItAsCustomer: an account-information operation tried as
// two different sandbox customers returns each one's own accounts,
// through the real authorization server, gateway and sandbox; each call
// is one audit record of the app.
func TestPortalTryItAsCustomer(t *testing.T) {
	m := runMain(t, withDemo())
	h := newHub(t, m, testAdminToken)
	u := newPortalUser(t, m)
	app := onboard(t, m, h, u, "Green Valley Fintech", "li@greenvalley.example")
	try := "/portal/apis/qingshan-accounts/try"
	const listAccounts = "op-get--accounts"

	_, form := u.page(try + "?op=" + listAccounts)
	if !strings.Contains(form, `<select id="try-customer" name="customer"`) || !strings.Contains(form, "李四 (Li Si)") {
		t.Fatalf("no customer choice on the form:\n%.3000s", form)
	}
	want := map[string][]string{ // the demo core's accounts of each customer
		"zhangsan": {"qs-10001", "qs-10002"},
		"lisi":     {"qs-10003"},
	}
	for login, own := range want {
		st, body := u.post(try+"?op="+listAccounts, try, url.Values{"op": {listAccounts}, "app": {app}, "customer": {login}})
		if st != http.StatusOK || !strings.Contains(body, `id="try-status" class="code">200 OK<`) {
			t.Fatalf("%s: %d\n%.3000s", login, st, body)
		}
		for _, id := range []string{"qs-10001", "qs-10002", "qs-10003", "qs-10004", "qs-10005"} {
			if got := strings.Contains(body, `&#34;accountId&#34;: &#34;`+id+`&#34;`); got != slices.Contains(own, id) {
				t.Errorf("%s: account %s shown %v, want %v", login, id, got, !got)
			}
		}
	}
	// Another customer's account is not found for this customer.
	st, body := u.post(try+"?op="+tryGetAccount, try, url.Values{"op": {tryGetAccount}, "app": {app}, "customer": {"lisi"}, "p.path.accountId": {"qs-10001"}})
	if st != http.StatusOK || !strings.Contains(body, `id="try-status" class="code">404 Not Found<`) {
		t.Errorf("lisi reading zhangsan's account: %d\n%.2000s", st, body)
	}

	// The two customers' calls are audited under the app.
	waitSandboxCalls(t, h, app, "/sandbox/qingshan-rcb/open-banking/accounts/v1/accounts", 2)

	// A portal app has client_credentials only: no customer-flow snippet.
	asZhang := url.Values{"op": {listAccounts}, "app": {app}, "customer": {"zhangsan"}}
	if _, body := u.post(try+"?op="+listAccounts, try, asZhang); !strings.Contains(body, `id="try-no-code-grant"`) {
		t.Fatalf("no notice of the missing grant:\n%.3000s", body)
	}
	// The developer saves a redirect URI and turns customer consent on
	// from the app's page, then takes a new secret there.
	const redirect = "http://127.0.0.1:9/callback" // never reached: the test reads the Location
	appPage := "/portal/apps/" + app
	if st, body := u.post(appPage, appPage+"/redirect-uris", url.Values{"redirect_uris": {redirect}}); st != http.StatusOK {
		t.Fatalf("redirect URI: %d\n%.2000s", st, body)
	}
	if st, body := u.post(appPage, appPage+"/code-grant", url.Values{"authorization_code": {"on"}}); st != http.StatusOK {
		t.Fatalf("customer consent on: %d\n%.2000s", st, body)
	}
	_, rotated := u.post(appPage, appPage+"/secret", url.Values{"overlap": {"0s"}})
	secret := regexp.MustCompile(`id="rotated-client-secret">(obs_[A-Za-z0-9_-]+)<`).FindStringSubmatch(rotated)
	if secret == nil {
		t.Fatalf("no new secret shown:\n%.2000s", rotated)
	}
	st, body = u.post(try+"?op="+listAccounts, try, asZhang)
	if st != http.StatusOK || strings.Contains(body, `id="try-no-code-grant"`) {
		t.Fatalf("try-it with the grant: %d\n%.3000s", st, body)
	}
	src := snippetOn(t, body, "curl")
	if !strings.Contains(src, "/oauth2/par") || !strings.Contains(src, "grant_type=authorization_code") {
		t.Fatalf("not the consent snippet:\n%s", src)
	}
	// The curl snippet runs the whole flow at the real authorization
	// server: PAR, the customer's sign-in and consent, the code, the call.
	sh, err := exec.LookPath("sh")
	if err != nil || !commands("curl", "openssl") {
		t.Skip("no sh, curl and openssl: the consent snippet is not run")
	}
	cmd := snippetRunner{file: "call.sh", args: []string{sh, "call.sh"}}.command(t, src, "CLIENT_SECRET="+secret[1], "REDIRECT_URI="+redirect)
	out := playCustomer(t, h, cmd, redirect, true)
	if !strings.Contains(out, "HTTP/1.1 200") || !strings.Contains(out, "qs-10001") || strings.Contains(out, "qs-10003") {
		t.Fatalf("the consent snippet, as zhangsan:\n%s", out)
	}
	// Two calls before, the try-it form's two calls, and the snippet's.
	waitSandboxCalls(t, h, app, "/sandbox/qingshan-rcb/open-banking/accounts/v1/accounts", 5)
}

// waitSandboxCalls waits until the audit ledger holds want allowed,
// answered (200) sandbox calls of app on path.
func waitSandboxCalls(t *testing.T, h *hub, app, path string, want int) {
	t.Helper()
	var ledger struct {
		Items []struct {
			ClientID    string `json:"clientId"`
			Environment string `json:"environment"`
			Path        string `json:"path"`
			Decision    string `json:"decision"`
		} `json:"items"`
	}
	eventually(t, 10*time.Second, func() string {
		h.adminCall(t, "GET", "/audit?app="+url.QueryEscape(app)+"&status=200", nil, http.StatusOK, &ledger)
		n := 0
		for _, it := range ledger.Items {
			if it.ClientID == app && it.Environment == "sandbox" && it.Decision == "allow" && it.Path == path {
				n++
			}
		}
		if n != want {
			return fmt.Sprintf("audit records of the app's sandbox calls on %s: %d, want %d", path, n, want)
		}
		return ""
	})
}

// TestTryItCustomersHoldTheirAccounts: the try-it console's sandbox
// customers come with the accounts the demo gives each at the bank, so
// that the form prefills an account of the chosen customer.
func TestTryItCustomersHoldTheirAccounts(t *testing.T) {
	cs, err := tryItTokens{}.SandboxCustomers(t.Context(), demo.Qingshan)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, c := range cs {
		got[c.Login] = c.Accounts
	}
	if !slices.Equal(got["lisi"], []string{"qs-10003"}) || !slices.Equal(got["zhangsan"], []string{"qs-10001", "qs-10002"}) {
		t.Errorf("accounts at %s: %v", demo.Qingshan, got)
	}
}
