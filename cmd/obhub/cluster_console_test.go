package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// consoleBrowser is an operator's browser on the admin console: it keeps
// cookies (Go's cookie jar ignores ports, so one browser's cookies reach
// every node on 127.0.0.1/localhost, as they reach every node behind a
// load balancer) and reads the CSRF token the forms carry.
type consoleBrowser struct {
	t testing.TB
	c *http.Client
}

func newConsoleBrowser(t testing.TB) *consoleBrowser {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: waitLimit}
	t.Cleanup(c.CloseIdleConnections)
	return &consoleBrowser{t: t, c: c}
}

// get returns the status, the body and the path the browser ended at.
func (b *consoleBrowser) get(u string) (int, string, string) {
	b.t.Helper()
	resp, err := b.c.Get(u)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Request.URL.Path
}

// post submits a form, adding the CSRF token of the page at form.
func (b *consoleBrowser) post(form, action string, f url.Values) (int, string, string) {
	b.t.Helper()
	f.Set("csrf_token", b.csrf(form))
	resp, err := b.c.PostForm(action, f)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Request.URL.Path
}

// signUp signs a developer up on the portal at base (a node's public
// URL), which lands on the "check your mailbox" page, then signs in with
// the password, and fails the test unless that lands on their apps.
func (b *consoleBrowser) signUp(base, org, name, email, password string) {
	b.t.Helper()
	code, body, at := b.post(base+"/portal/signup", base+"/portal/signup", url.Values{
		"org": {org}, "name": {name}, "email": {email}, "password": {password}})
	if code != http.StatusOK || at != "/portal/signup/sent" {
		b.t.Fatalf("sign-up of %s at %s: %d at %s\n%s", email, base, code, at, body)
	}
	code, body, at = b.post(base+"/portal/signin", base+"/portal/signin", url.Values{"email": {email}, "password": {password}})
	if code != http.StatusOK || at != "/portal/apps" {
		b.t.Fatalf("sign-in of %s at %s: %d at %s\n%s", email, base, code, at, body)
	}
}

var csrfInput = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func (b *consoleBrowser) csrf(page string) string {
	b.t.Helper()
	_, body, _ := b.get(page)
	m := csrfInput.FindStringSubmatch(body)
	if m == nil {
		b.t.Fatalf("no CSRF token on %s", page)
	}
	return m[1]
}

// testConsoleAcrossNodes signs in to node 1's console and goes on on node
// 2's with the same cookie: with --db, operators and sessions are in
// PostgreSQL, and node 2's operators page lists them. Signing out on node
// 2 ends the session on node 1 too.
func testConsoleAcrossNodes(t *testing.T, m1, m2 *Main) {
	b := newConsoleBrowser(t)
	const email, password = "li.na@alliance.example", "correct horse battery staple"
	setup := url.Values{"admin_token": {testAdminToken}, "name": {"Li Na"}, "email": {email},
		"password": {password}, "role": {"alliance-admin"}}
	if code, body, _ := b.post(m1.AdminURL+"/console/setup", m1.AdminURL+"/console/setup", setup); code != http.StatusOK {
		t.Fatalf("setup on node 1: %d\n%s", code, body)
	}
	// The address is taken on every node.
	if code, _, _ := b.post(m2.AdminURL+"/console/setup", m2.AdminURL+"/console/setup", setup); code != http.StatusConflict {
		t.Errorf("the same operator set up on node 2: %d, want 409", code)
	}
	code, body, at := b.post(m1.AdminURL+"/console/signin", m1.AdminURL+"/console/signin",
		url.Values{"email": {email}, "password": {password}})
	if code != http.StatusOK || at == "/console/signin" || !strings.Contains(body, "Li Na") {
		t.Fatalf("sign-in on node 1: %d at %s\n%s", code, at, body)
	}
	code, body, at = b.get(m2.AdminURL + "/console/reports")
	if code != http.StatusOK || at != "/console/reports" || !strings.Contains(body, "Li Na") {
		t.Fatalf("node 2 with node 1's session cookie: %d at %s\n%s", code, at, body)
	}
	// The operators page (console.Directory) lists the shared operators.
	if code, body, _ := b.get(m2.AdminURL + "/console/operators"); code != http.StatusOK || !strings.Contains(body, email) {
		t.Errorf("node 2's operators page: %d, want 200 listing %s\n%s", code, email, body)
	}
	u1, _ := url.Parse(m1.AdminURL + "/console/")
	var session *http.Cookie
	for _, c := range b.c.Jar.Cookies(u1) {
		if c.Name == "obhub_console_session" {
			session = c
		}
	}
	if session == nil {
		t.Fatal("no console session cookie after sign-in")
	}
	if code, body, _ := b.post(m2.AdminURL+"/console/reports", m2.AdminURL+"/console/signout", url.Values{}); code != http.StatusOK {
		t.Fatalf("sign-out on node 2: %d\n%s", code, body)
	}
	// The old cookie, replayed on node 1, no longer signs anyone in.
	req, _ := http.NewRequest(http.MethodGet, m1.AdminURL+"/console/reports", nil)
	req.AddCookie(&http.Cookie{Name: session.Name, Value: session.Value})
	noFollow := &http.Client{Timeout: waitLimit, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	t.Cleanup(noFollow.CloseIdleConnections)
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/signin" {
		t.Errorf("node 1 with the cookie signed out on node 2: %d to %q, want 303 to /console/signin", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// With --db, a PostgreSQL outage makes the console answer 503 (never
// "wrong password", never a session made up), and once PostgreSQL is back
// the operator signs in again.
func TestConsolePostgresOutage(t *testing.T) {
	dsn, proxy, _ := pgThroughProxy(t)
	m := runMain(t, withDB(dsn))
	b := newConsoleBrowser(t)
	const email, password = "zhao.lei@alliance.example", "correct horse battery staple"
	if code, body, _ := b.post(m.AdminURL+"/console/setup", m.AdminURL+"/console/setup", url.Values{"admin_token": {testAdminToken},
		"name": {"Zhao Lei"}, "email": {email}, "password": {password}, "role": {"alliance-admin"}}); code != http.StatusOK {
		t.Fatalf("setup: %d\n%s", code, body)
	}
	signin := url.Values{"email": {email}, "password": {password}}
	csrf := b.csrf(m.AdminURL + "/console/signin")
	proxy.setDown(true)
	signin.Set("csrf_token", csrf)
	resp, err := b.c.PostForm(m.AdminURL+"/console/signin", signin)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("sign-in while PostgreSQL is down: %d, want 503", resp.StatusCode)
	}
	proxy.setDown(false)
	eventually(t, 10*time.Second, func() string {
		code, body, at := b.post(m.AdminURL+"/console/signin", m.AdminURL+"/console/signin", url.Values{"email": {email}, "password": {password}})
		if code != http.StatusOK || at == "/console/signin" || !strings.Contains(body, "Zhao Lei") {
			return fmt.Sprintf("sign-in after the outage: %d at %s", code, at)
		}
		return ""
	})
}
