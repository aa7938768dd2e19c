package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/obhub/obhub/console"
	"github.com/obhub/obhub/internal/mail"
	"github.com/obhub/obhub/internal/mail/mailtest"
	"github.com/obhub/obhub/store/sqlite"
)

// resetLink is the live link a password-reset mail holds: the Mail page
// never shows it.
const resetLink = "https://portal.example/portal/reset?token=rst_live-single-use-token"

// outbox is the portal's real SQLite store, holding the mail outbox.
func outbox(t testing.TB) *sqlite.PortalStore {
	t.Helper()
	s := sqlite.NewPortalStore(filepath.Join(t.TempDir(), "portal.db"))
	if err := s.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// addMail stores m, created at m.CreatedAt (now when zero), in the
// delivery state, as the relay would have left it.
func addMail(t testing.TB, s mail.Store, m mail.Message, delivery, lastError string) int64 {
	t.Helper()
	ctx, now := context.Background(), time.Now().UTC()
	if m.CreatedAt.IsZero() {
		m.CreatedAt = now
	}
	m.Delivery = mail.DeliveryPending
	if delivery == mail.DeliveryNone {
		m.Delivery = mail.DeliveryNone
	}
	seq, err := s.AddMail(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if delivery == mail.DeliverySent || delivery == mail.DeliveryFailed {
		if _, ok, err := s.ClaimMail(ctx, seq, "test-claim", now, now.Add(time.Minute)); !ok || err != nil {
			t.Fatalf("claim mail %d: %v %v", seq, ok, err)
		}
		mk := mail.Mark{Delivery: delivery, Attempted: true, LastError: lastError}
		if delivery == mail.DeliverySent {
			mk.SentAt = now
		}
		if ok, err := s.MarkMail(ctx, seq, "test-claim", mk); !ok || err != nil {
			t.Fatalf("mark mail %d %s: %v %v", seq, delivery, ok, err)
		}
	}
	return seq
}

// mailOf reads the mail seq from the outbox.
func mailOf(t testing.TB, s mail.Store, seq int64) mail.Message {
	t.Helper()
	got, err := s.ListMail(context.Background(), mail.Query{BeforeSeq: seq + 1, Limit: 1})
	if err != nil || len(got) != 1 || got[0].Seq != seq {
		t.Fatalf("mail %d: %v %v", seq, got, err)
	}
	return got[0]
}

// relaySMTP is the node's mail relay on a real SMTP server, not started:
// a mail sent again stays pending for the test to see.
func relaySMTP(t testing.TB, s mail.Store) *mail.SMTP {
	t.Helper()
	relay := mailtest.Start(t, nil)
	m, err := mail.NewSMTP(mail.SMTPConfig{URL: "smtp+plain://" + relay.Addr, From: "obhub <noreply@alliance.example>"},
		mail.NewOutbox(s, nil, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func TestMailPage(t *testing.T) {
	store := outbox(t)
	e := newEnv(t, func(c *console.Config) { c.Outbox, c.MailRetry = store, relaySMTP(t, store) })
	// Older mails first: 50 to fill a page, then the four the tests look at.
	for i := range 50 {
		addMail(t, store, mail.Message{Kind: mail.KindVerify, To: fmt.Sprintf("bulk-%02d@example.com", i), Subject: "Bulk", Text: "bulk"}, mail.DeliveryNone, "")
	}
	sent := addMail(t, store, mail.Message{Kind: mail.KindVerify, To: "Li@GreenValley.example", Subject: "Verify your e-mail address",
		Text: "Open https://portal.example/portal/verify?token=vfy_live-token"}, mail.DeliverySent, "")
	failed := addMail(t, store, mail.Message{Kind: mail.KindReset, To: "wang@riverpay.example", Subject: "Reset your password",
		Text: "Open " + resetLink + " within 30 minutes."}, mail.DeliveryFailed, "smtp 550 (permanent)")
	invite := addMail(t, store, mail.Message{Kind: mail.KindInvite, To: "li@greenvalley.example", Subject: "Join Green Valley",
		Text: "Accept: https://portal.example/portal/invitations?token=inv_live-token"}, mail.DeliveryPending, "")
	expired := addMail(t, store, mail.Message{Kind: mail.KindVerify, To: "zhao@hexi.example", Subject: "Verify your e-mail address",
		Text: "old", CreatedAt: time.Now().UTC().Add(-48 * time.Hour)}, mail.DeliveryFailed, mail.ReasonExpired)

	admin := e.operator("admin@alliance.example", console.RoleAllianceAdmin, "")
	secrets := []string{resetLink, "rst_live", "vfy_live", "inv_live", "within 30 minutes"}

	t.Run("the list", func(t *testing.T) {
		p := admin.get("/console/mail")
		if p.status != http.StatusOK {
			t.Fatalf("GET /console/mail: %d", p.status)
		}
		mustContain(t, p, `href="/console/mail" aria-current="page"`, "li@greenvalley.example", "wang@riverpay.example",
			"Password reset", "Invitation", "Address verification", "Reset your password", "smtp 550 (permanent)",
			`<span class="tag failed">failed</span>`, `<span class="tag sent">sent</span>`, `<span class="tag pending">pending</span>`,
			"A mail&#39;s text is not shown here", "GET /admin/v1/outbox",
			`action="/console/mail/`+strconv.FormatInt(failed, 10)+`/retry"`)
		mustNotContain(t, p, secrets...)
		mustNotContain(t, p, "forwards them by hand", `action="/console/mail/`+strconv.FormatInt(sent, 10)+`/retry"`,
			`action="/console/mail/`+strconv.FormatInt(invite, 10)+`/retry"`)
		// Paged: the newest 50, then a link to the older ones.
		m := regexp.MustCompile(`href="([^"]+)" id="mail-older"`).FindStringSubmatch(p.body)
		if m == nil {
			t.Fatalf("no link to older mails:\n%s", p.body)
		}
		older := admin.get(htmlUnescape(m[1]))
		mustContain(t, older, "bulk-00@example.com", "bulk-03@example.com", `id="mail-newest"`)
		mustNotContain(t, older, "bulk-04@example.com", "wang@riverpay.example", `id="mail-older"`)
	})

	t.Run("filters", func(t *testing.T) {
		p := admin.get("/console/mail?delivery=failed")
		mustContain(t, p, "wang@riverpay.example", "zhao@hexi.example", `<option value="failed" selected>`)
		mustNotContain(t, p, "li@greenvalley.example", "bulk-")
		mustNotContain(t, p, secrets...)
		p = admin.get("/console/mail?to=" + url.QueryEscape("LI@greenvalley.EXAMPLE"))
		mustContain(t, p, "Join Green Valley", "Verify your e-mail address")
		mustNotContain(t, p, "wang@", "zhao@", "bulk-")
		mustNotContain(t, p, secrets...)
		p = admin.get("/console/mail?to=li@greenvalley.example&delivery=pending")
		mustContain(t, p, "Join Green Valley")
		mustNotContain(t, p, "Verify your e-mail address")
		p = admin.get("/console/mail?delivery=sent&to=nobody@example.com")
		mustContain(t, p, "No mail matches.")
		for _, q := range []string{"delivery=bogus", "to=not-an-address", "before=x"} {
			if p := admin.get("/console/mail?" + q); p.status != http.StatusUnprocessableEntity {
				t.Errorf("GET /console/mail?%s: %d, want 422", q, p.status)
			}
		}
		p = admin.get("/console/mail?lang=zh&delivery=failed")
		mustContain(t, p, "邮件", "发送失败", "密码重置", "重新发送", "收件人")
		mustNotContain(t, p, "mail.", "delivery.", "mailkind.", "col.")
	})

	path := "/console/mail/" + strconv.FormatInt(failed, 10) + "/retry"
	t.Run("others may not", func(t *testing.T) {
		bank := e.operator("staff@qingshan.example", console.RoleBankAdmin, "qingshan-rcb")
		aud := e.operator("audit@alliance.example", console.RoleAuditor, "")
		for who, b := range map[string]*browser{"bank admin": bank, "auditor": aud} {
			if p := b.get("/console/mail"); p.status != http.StatusNotFound {
				t.Errorf("%s GET /console/mail: %d, want 404", who, p.status)
			}
			if p := b.get("/console/audit"); strings.Contains(p.body, `href="/console/mail"`) {
				t.Errorf("%s is offered the Mail page", who)
			}
		}
		tok := bank.csrf("/console/audit")
		if p := bank.post(path, url.Values{"csrf_token": {tok}}); p.status != http.StatusNotFound {
			t.Errorf("bank admin's retry: %d, want 404", p.status)
		}
		if p := aud.post(path, url.Values{"csrf_token": {aud.csrf("/console/audit")}}); p.status != http.StatusForbidden {
			t.Errorf("auditor's retry: %d, want 403", p.status)
		}
		// A form without the session's token is refused.
		for _, tok := range []string{"", "forged-token"} {
			if p := admin.post(path, url.Values{"csrf_token": {tok}}); p.status != http.StatusForbidden {
				t.Errorf("retry with token %q: %d, want 403", tok, p.status)
			}
		}
		if got := mailOf(t, store, failed); got.Delivery != mail.DeliveryFailed {
			t.Errorf("refused retries left the mail %s", got.Delivery)
		}
		if n := len(e.recorded()); n != 0 {
			t.Errorf("refused retries recorded %d changes", n)
		}
	})

	t.Run("send again", func(t *testing.T) {
		// In English again (the filters' test chose Chinese).
		p := admin.post(path, url.Values{"csrf_token": {admin.csrf("/console/mail?lang=en")}, "delivery": {"failed"}})
		if p.status != http.StatusOK {
			t.Fatalf("retry: %d\n%s", p.status, p.body)
		}
		mustContain(t, p, `id="flash"`, fmt.Sprintf("Mail %d is pending again", failed), `<option value="failed" selected>`)
		mustNotContain(t, p, secrets...)
		if got := mailOf(t, store, failed); got.Delivery != mail.DeliveryPending {
			t.Errorf("after the retry the mail is %s, want pending", got.Delivery)
		}
		recs := e.recorded()
		if len(recs) != 1 {
			t.Fatalf("recorded %d changes, want 1", len(recs))
		}
		r := recs[0]
		if r.Actor != "console:admin@alliance.example" || r.Object != "outbox/"+strconv.FormatInt(failed, 10) || r.Reason != "retry" || r.Category != "admin" {
			t.Errorf("record: actor %q object %q verb %q category %q", r.Actor, r.Object, r.Reason, r.Category)
		}
		if !strings.Contains(r.After, `"delivery":"pending"`) || !strings.Contains(r.Before, `"delivery":"failed"`) {
			t.Errorf("record states: before %s after %s", r.Before, r.After)
		}
		for _, s := range append(secrets, "wang@", "riverpay", "Reset your password") {
			if strings.Contains(r.Before+r.After, s) {
				t.Errorf("the audit record holds %q: %s / %s", s, r.Before, r.After)
			}
		}

		// Refusals say why, on the list, and change nothing.
		tok := admin.csrf("/console/mail")
		p = admin.post(path, url.Values{"csrf_token": {tok}})
		if p.status != http.StatusConflict || !strings.Contains(p.body, "only a failed mail can be sent again") || !strings.Contains(p.body, `class="alert error"`) {
			t.Errorf("retry of a pending mail: %d\n%s", p.status, p.body)
		}
		p = admin.post("/console/mail/"+strconv.FormatInt(expired, 10)+"/retry", url.Values{"csrf_token": {tok}})
		if p.status != http.StatusConflict || !strings.Contains(p.body, "older than its link&#39;s lifetime") {
			t.Errorf("retry of an expired mail: %d\n%s", p.status, p.body)
		}
		if got := mailOf(t, store, expired); got.Delivery != mail.DeliveryFailed {
			t.Errorf("the expired mail is %s", got.Delivery)
		}
		if p := admin.post("/console/mail/999999/retry", url.Values{"csrf_token": {tok}}); p.status != http.StatusNotFound {
			t.Errorf("retry of an unknown mail: %d", p.status)
		}
		if n := len(e.recorded()); n != 1 {
			t.Errorf("refused retries recorded changes: %d in all", n)
		}
	})
}

// Without --smtp-url the page says mails are forwarded by hand and offers
// no retry; a retry posted anyway says why not.
func TestMailPageWithoutRelay(t *testing.T) {
	store := outbox(t)
	e := newEnv(t, func(c *console.Config) { c.Outbox = store })
	seq := addMail(t, store, mail.Message{Kind: mail.KindReset, To: "wang@riverpay.example", Subject: "Reset your password",
		Text: "Open " + resetLink}, mail.DeliveryNone, "")
	admin := e.operator("admin@alliance.example", console.RoleAllianceAdmin, "")
	p := admin.get("/console/mail")
	mustContain(t, p, "wang@riverpay.example", "forwards them by hand", "by hand (no relay)")
	mustNotContain(t, p, "Send again", "/retry", resetLink)
	p = admin.post("/console/mail/"+strconv.FormatInt(seq, 10)+"/retry", url.Values{"csrf_token": {admin.csrf("/console/mail")}})
	if p.status != http.StatusConflict || !strings.Contains(p.body, "forward the mail by hand") {
		t.Errorf("retry without a relay: %d\n%s", p.status, p.body)
	}
	if n := len(e.recorded()); n != 0 {
		t.Errorf("recorded %d changes", n)
	}
}

// A console without an outbox has no Mail page.
func TestNoMailPageWithoutOutbox(t *testing.T) {
	e := newEnv(t)
	admin := e.operator("admin@alliance.example", console.RoleAllianceAdmin, "")
	if p := admin.get("/console/mail"); p.status != http.StatusNotFound {
		t.Errorf("GET /console/mail: %d, want 404", p.status)
	}
	mustNotContain(t, admin.get("/console/approvals"), `href="/console/mail"`)
}
