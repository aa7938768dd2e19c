package main

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/obhub/obhub/internal/mail/mailtest"
)

// The console's Mail page reads the portal's outbox on a node with
// --smtp-url: a verification mail the relay refused is listed failed,
// without its link; once the relay accepts mail, the alliance admin's
// "Send again" delivers it, and the audit ledger records the retry as a
// console change, without the address.
func TestConsoleMailPageRetry(t *testing.T) {
	relay := mailtest.Start(t, nil)
	relay.Refuse(550)
	m := runMain(t, withRelay(relay.Addr))
	h := newHub(t, m, testAdminToken)
	const email = "sun.li@hemupay.example"
	dev := newConsoleBrowser(t)
	dev.signUp(m.PublicURL, "Hemu Pay", "Sun Li", email, "correct horse battery staple")

	op := newConsoleBrowser(t)
	if code, body, _ := op.post(m.AdminURL+"/console/setup", m.AdminURL+"/console/setup", url.Values{"admin_token": {testAdminToken},
		"name": {"Wang Fang"}, "email": {"wang@alliance.example"}, "password": {"correct horse battery"}, "role": {"alliance-admin"}}); code != http.StatusOK {
		t.Fatalf("setup: %d\n%s", code, body)
	}
	if code, body, at := op.post(m.AdminURL+"/console/signin", m.AdminURL+"/console/signin", url.Values{
		"email": {"wang@alliance.example"}, "password": {"correct horse battery"}}); code != http.StatusOK || at != "/console/approvals" {
		t.Fatalf("sign-in: %d at %s\n%s", code, at, body)
	}
	list := m.AdminURL + "/console/mail?delivery=failed&to=" + url.QueryEscape(email)
	var body string
	for deadline := time.Now().Add(waitLimit); ; time.Sleep(20 * time.Millisecond) {
		var code int
		code, body, _ = op.get(list)
		if code == http.StatusOK && strings.Contains(body, email) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no failed mail to %s on the Mail page: %d\n%s", email, code, body)
		}
	}
	if strings.Contains(body, "#token=") || !strings.Contains(body, "smtp 550 (permanent)") {
		t.Errorf("the Mail page:\n%s", body)
	}
	mm := regexp.MustCompile(`action="/console/mail/(\d+)/retry"`).FindStringSubmatch(body)
	if mm == nil {
		t.Fatalf("no Send again button:\n%s", body)
	}
	seq := mm[1]

	relay.Refuse(0)
	if code, body, _ := op.post(list, m.AdminURL+"/console/mail/"+seq+"/retry", url.Values{"delivery": {"failed"}}); code != http.StatusOK || !strings.Contains(body, "is pending again") {
		t.Fatalf("Send again: %d\n%s", code, body)
	}
	if d := relay.Next(t); d.To != email {
		t.Fatalf("delivered to %q", d.To)
	}

	var audit struct {
		Items []struct{ Object, Actor, Reason, After string }
	}
	for deadline := time.Now().Add(waitLimit); ; time.Sleep(20 * time.Millisecond) {
		h.adminCall(t, "GET", "/audit?category=admin", nil, http.StatusOK, &audit)
		found := false
		for _, it := range audit.Items {
			if it.Object != "outbox/"+seq || it.Actor != "console:wang@alliance.example" {
				continue
			}
			found = true
			if it.Reason != "retry" || !strings.Contains(it.After, `"delivery":"pending"`) || strings.Contains(it.After, "sun.li") {
				t.Errorf("the console's retry record: %+v", it)
			}
		}
		if found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no record of the console's retry in %+v", audit.Items)
		}
	}
}
