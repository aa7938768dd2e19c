package main

import (
	"bytes"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/http"
	netmail "net/mail"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/obhub/obhub/internal/mail/mailtest"
)

// With --smtp-url, the portal's mails reach the relay (here a real SMTP
// server on this machine, smtp+plain) and stay in the outbox as well; the
// link in the delivered mail verifies the address.
func TestPortalMailThroughRelay(t *testing.T) {
	relay := mailtest.Start(t, nil)
	m := runMain(t, func(m *Main) {
		m.Config.SMTPURL = "smtp+plain://" + relay.Addr
		m.Config.MailFrom = "Qingshan alliance <noreply@alliance.example>"
	})
	h := newHub(t, m, testAdminToken)
	const email = "wang.fang@hemupay.example"
	b := newConsoleBrowser(t)
	code, body, at := b.post(m.PublicURL+"/portal/signup", m.PublicURL+"/portal/signup", url.Values{
		"org": {"Hemu Pay"}, "name": {"Wang Fang"}, "email": {email}, "password": {"correct horse battery staple"}})
	if code != http.StatusOK || at != "/portal/apps" {
		t.Fatalf("sign-up: %d at %s\n%s", code, at, body)
	}

	d := relay.Next(t)
	if d.From != "noreply@alliance.example" || d.To != email {
		t.Fatalf("envelope from %q to %q", d.From, d.To)
	}
	msg, err := netmail.ReadMessage(bytes.NewReader(d.Data))
	if err != nil {
		t.Fatal(err)
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	text, _ := io.ReadAll(quotedprintable.NewReader(msg.Body))
	tok := regexp.MustCompile(`#token=([A-Za-z0-9_-]{43})`).FindSubmatch(text)
	if subject == "" || tok == nil {
		t.Fatalf("delivered mail: subject %q, no link in\n%s", subject, text)
	}

	var page struct {
		Items []struct{ Kind, To, Text string }
	}
	h.adminCall(t, "GET", "/outbox?to="+url.QueryEscape(email), nil, http.StatusOK, &page)
	if len(page.Items) != 1 || page.Items[0].Kind != "verify" || !strings.Contains(page.Items[0].Text, string(tok[1])) {
		t.Fatalf("outbox %+v: want the same verification mail", page.Items)
	}
	if code, _, _ := b.post(m.PublicURL+"/portal/verify", m.PublicURL+"/portal/verify", url.Values{"token": {string(tok[1])}}); code != http.StatusOK {
		t.Fatalf("the delivered link: %d", code)
	}
}
