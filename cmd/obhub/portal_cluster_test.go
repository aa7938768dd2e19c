package main

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/obhub/obhub/store/etcd/etcdtest"
)

// With --db the portal's accounts, sessions, mailed-link tokens and
// outbox are in PostgreSQL (and, with --etcd, the partners in etcd): a
// developer who signs up on node 1 goes on on node 2 with the same
// cookie, a mail sent by node 1 is in the outbox node 2's admin API
// lists, its link works on node 2, and a password reset on node 2 ends
// the sessions made on node 1.
func TestPortalAcrossNodesOnPostgres(t *testing.T) {
	dsn, _, _ := pgThroughProxy(t)
	srv := etcdtest.Start(t)
	kek := newKEK()
	m1 := runMain(t, withEtcd(srv.Endpoint(), kek), withDB(dsn))
	m2 := runMain(t, withEtcd(srv.Endpoint(), kek), withDB(dsn), withData(t.TempDir()))
	h2 := newHub(t, m2, testAdminToken)

	const email, password = "li.ming@greenvalley.example", "correct horse battery staple"
	b := newConsoleBrowser(t) // one browser: Go's cookie jar ignores ports, as a load balancer would
	b.signUp(m1.PublicURL, "Green Valley Fintech", "Li Ming", email, password)
	code, body, at := b.get(m2.PublicURL + "/portal/apps")
	if code != http.StatusOK || at != "/portal/apps" || !strings.Contains(body, "Signed in as Li Ming (Green Valley Fintech)") {
		t.Fatalf("node 2 with node 1's session cookie: %d at %s\n%s", code, at, body)
	}

	// The verification mail node 1 sent is in the outbox node 2 reads,
	// and its link works on node 2, once.
	link := func(kind string) string {
		var page struct {
			Items []struct{ Kind, Text string }
		}
		h2.adminCall(t, "GET", "/outbox?to="+url.QueryEscape(email), nil, http.StatusOK, &page)
		for _, m := range page.Items {
			if m.Kind == kind {
				if tok := regexp.MustCompile(`#token=([A-Za-z0-9_-]{43})`).FindStringSubmatch(m.Text); tok != nil {
					return tok[1]
				}
			}
		}
		t.Fatalf("no %s mail to %s in node 2's outbox: %+v", kind, email, page.Items)
		return ""
	}
	tok := link("verify")
	verify := func() int {
		code, _, _ := b.post(m2.PublicURL+"/portal/verify", m2.PublicURL+"/portal/verify", url.Values{"token": {tok}})
		return code
	}
	if code := verify(); code != http.StatusOK {
		t.Fatalf("verify on node 2: %d", code)
	}
	if code := verify(); code != http.StatusBadRequest {
		t.Errorf("the verification link used again: %d, want 400", code)
	}
	if _, body, _ := b.get(m1.PublicURL + "/portal/apps"); strings.Contains(body, "Confirm your e-mail address") {
		t.Error("node 1 still asks to verify the address verified on node 2")
	}

	// A second browser signed in on node 1; a reset asked on node 1 and
	// done on node 2 ends it.
	other := newConsoleBrowser(t)
	if code, _, at := other.post(m1.PublicURL+"/portal/signin", m1.PublicURL+"/portal/signin",
		url.Values{"email": {email}, "password": {password}}); code != http.StatusOK || at != "/portal/apps" {
		t.Fatalf("second sign-in on node 1: %d at %s", code, at)
	}
	anon := newConsoleBrowser(t)
	if code, _, _ := anon.post(m1.PublicURL+"/portal/reset", m1.PublicURL+"/portal/reset", url.Values{"email": {email}}); code != http.StatusOK {
		t.Fatalf("reset request on node 1: %d", code)
	}
	tok = link("reset")
	code, _, at = anon.post(m2.PublicURL+"/portal/reset/new", m2.PublicURL+"/portal/reset/new",
		url.Values{"token": {tok}, "password": {"a new and longer passphrase"}})
	if code != http.StatusOK || at != "/portal/apps" {
		t.Fatalf("reset on node 2: %d at %s", code, at)
	}
	for name, br := range map[string]*consoleBrowser{"first": b, "second": other} {
		if _, _, at := br.get(m1.PublicURL + "/portal/apps"); at != "/portal/signin" {
			t.Errorf("the %s browser's session still works on node 1 after the reset on node 2: at %s", name, at)
		}
	}
}

// With --db, a PostgreSQL outage makes the portal answer 503 — never
// "wrong password", never a signed-out page for a signed-in developer —
// and once PostgreSQL is back the developer goes on.
func TestPortalPostgresOutage(t *testing.T) {
	dsn, proxy, _ := pgThroughProxy(t)
	m := runMain(t, withDB(dsn))
	b := newConsoleBrowser(t)
	const email, password = "zhao.lei@terraced.example", "correct horse battery staple"
	b.signUp(m.PublicURL, "Terraced Fields Credit", "Zhao Lei", email, password)
	other := newConsoleBrowser(t)
	csrf := other.csrf(m.PublicURL + "/portal/signin")
	proxy.setDown(true)
	if code, _, at := b.get(m.PublicURL + "/portal/apps"); code != http.StatusServiceUnavailable || at != "/portal/apps" {
		t.Errorf("a signed-in page while PostgreSQL is down: %d at %s, want 503 (not the sign-in page)", code, at)
	}
	resp, err := other.c.PostForm(m.PublicURL+"/portal/signin", url.Values{"csrf_token": {csrf}, "email": {email}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("sign-in while PostgreSQL is down: %d, want 503", resp.StatusCode)
	}
	proxy.setDown(false)
	eventually(t, 10*time.Second, func() string {
		if code, _, at := b.get(m.PublicURL + "/portal/apps"); code != http.StatusOK || at != "/portal/apps" {
			return fmt.Sprintf("the session after the outage: %d at %s", code, at)
		}
		return ""
	})
}
