package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// The console is served on the admin listener only: the first alliance
// admin is created there with the admin token and signs in, and the
// public listener does not serve it. The banner points at the setup page
// until an operator exists.
func TestConsoleOnAdminListener(t *testing.T) {
	dir := t.TempDir()
	var banner strings.Builder
	m := runMain(t, withData(dir), withStdout(&banner))
	if !strings.Contains(banner.String(), "(first operator: "+m.AdminURL+"/console/setup)") {
		t.Errorf("a node without operators does not point at the setup page:\n%s", banner.String())
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	get := func(u string) (int, string) {
		t.Helper()
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	post := func(u string, f url.Values) (int, string, string) {
		t.Helper()
		resp, err := c.PostForm(u, f)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Request.URL.Path
	}
	token := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	csrf := func(u string) string {
		t.Helper()
		_, body := get(u)
		mm := token.FindStringSubmatch(body)
		if mm == nil {
			t.Fatalf("no CSRF token on %s", u)
		}
		return mm[1]
	}
	if code, _ := get(m.PublicURL + "/console/signin"); code != http.StatusNotFound {
		t.Errorf("public listener serves the console: %d", code)
	}
	code, body, _ := post(m.AdminURL+"/console/setup", url.Values{
		"csrf_token": {csrf(m.AdminURL + "/console/setup")}, "admin_token": {testAdminToken},
		"name": {"Wang Fang"}, "email": {"wang@alliance.example"}, "password": {"correct horse battery"}, "role": {"alliance-admin"},
	})
	if code != http.StatusOK {
		t.Fatalf("setup: %d\n%s", code, body)
	}
	code, body, at := post(m.AdminURL+"/console/signin", url.Values{
		"csrf_token": {csrf(m.AdminURL + "/console/signin")}, "email": {"wang@alliance.example"}, "password": {"correct horse battery"},
	})
	if code != http.StatusOK || at != "/console/approvals" || !strings.Contains(body, "Wang Fang") {
		t.Fatalf("sign-in: %d at %s\n%s", code, at, body)
	}
	if code, body := get(m.AdminURL + "/console/reports"); code != http.StatusOK || !strings.Contains(body, "Usage report") {
		t.Errorf("reports: %d\n%s", code, body)
	}
	c.CloseIdleConnections()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	banner.Reset()
	m = runMain(t, withData(dir), withStdout(&banner))
	if out := banner.String(); !strings.Contains(out, "admin console:") || strings.Contains(out, "first operator") {
		t.Errorf("after a restart with an operator, the banner says:\n%s", out)
	}
}
