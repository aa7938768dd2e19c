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
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/obhub/obhub/internal/mail/mailtest"
)

// withRelay makes a node deliver its mails to the SMTP relay at addr
// (smtp+plain: a relay on this machine).
func withRelay(addr string) func(*Main) {
	return func(m *Main) {
		m.Config.SMTPURL = "smtp+plain://" + addr
		m.Config.MailFrom = "Qingshan alliance <noreply@alliance.example>"
	}
}

// With --smtp-url, the portal's mails reach the relay (here a real SMTP
// server on this machine, smtp+plain) and stay in the outbox as well; the
// link in the delivered mail verifies the address.
func TestPortalMailThroughRelay(t *testing.T) {
	relay := mailtest.Start(t, nil)
	m := runMain(t, withRelay(relay.Addr))
	h := newHub(t, m, testAdminToken)
	const email = "wang.fang@hemupay.example"
	b := newConsoleBrowser(t)
	b.signUp(m.PublicURL, "Hemu Pay", "Wang Fang", email, "correct horse battery staple")

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

// A mail the relay refuses is failed in the outbox, with the reply's code
// and never its text; once the relay accepts mail, the operator's retry
// on the admin API delivers it, the outbox says sent, and the audit
// ledger records the retry as an admin change without the address.
func TestPortalMailRetriedAfterRefusal(t *testing.T) {
	relay := mailtest.Start(t, nil)
	relay.Refuse(550)
	m := runMain(t, withRelay(relay.Addr))
	h := newHub(t, m, testAdminToken)
	const email = "zhou.min@hemupay.example"
	b := newConsoleBrowser(t)
	b.signUp(m.PublicURL, "Hemu Pay", "Zhou Min", email, "correct horse battery staple")

	type item struct {
		Seq                int64
		Kind, To, Delivery string
		Attempts           int
		SentAt             time.Time
		LastError          string
	}
	wait := func(delivery string) item {
		t.Helper()
		deadline := time.Now().Add(waitLimit)
		for {
			var page struct{ Items []item }
			h.adminCall(t, "GET", "/outbox?delivery="+delivery+"&to="+url.QueryEscape(email), nil, http.StatusOK, &page)
			if len(page.Items) == 1 {
				return page.Items[0]
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %s mail to %s in the outbox", delivery, email)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	failed := wait("failed")
	if failed.Kind != "verify" || failed.Attempts != 1 || failed.LastError != "smtp 550 (permanent)" {
		t.Fatalf("failed mail %+v, want the verification refused with smtp 550", failed)
	}

	relay.Refuse(0)
	seq := strconv.FormatInt(failed.Seq, 10)
	h.adminCall(t, "POST", "/outbox/"+seq+"/retry", nil, http.StatusAccepted, nil)
	if d := relay.Next(t); d.To != email {
		t.Fatalf("delivered to %q", d.To)
	}
	if sent := wait("sent"); sent.Attempts != 2 || sent.SentAt.IsZero() || sent.LastError != "" {
		t.Errorf("sent mail %+v, want 2 attempts, a time sent, no error", sent)
	}

	var audit struct {
		Items []struct{ Method, Path, Object, Actor, After string }
	}
	r := h.adminCall(t, "GET", "/audit?category=admin", nil, http.StatusOK, &audit)
	found := false
	for _, it := range audit.Items {
		if it.Object != "outbox/"+seq {
			continue
		}
		found = true
		if it.Method != "POST" || it.Actor != "operator" || !strings.Contains(it.After, `"delivery":"pending"`) {
			t.Errorf("retry record %+v", it)
		}
		if strings.Contains(it.Path+it.After, "zhou.min") {
			t.Errorf("the retry record holds the mail's address: %+v", it)
		}
	}
	if !found {
		t.Errorf("no admin record of the retry in %s", r.body)
	}
}
