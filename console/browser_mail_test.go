package console_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/obhub/obhub/console"
	"github.com/obhub/obhub/internal/browsertest"
	"github.com/obhub/obhub/internal/mail"
	"github.com/obhub/obhub/internal/mail/mailtest"
)

// TestBrowserMail drives the Mail page in a real Chromium against a real
// SMTP relay: a password-reset mail fails (the relay refuses it for
// good); the relay is fixed; the alliance admin filters the outbox to
// the failed mails, presses "Send again", and sees the mail sent. The
// bank admin is offered no Mail page.
func TestBrowserMail(t *testing.T) {
	h := browsertest.Open(t, 1100, 820, 90*time.Second)
	ctx := context.Background()
	store := outbox(t)
	relay := mailtest.Start(t, nil)
	relay.Refuse(550)
	smtp, err := mail.NewSMTP(mail.SMTPConfig{URL: "smtp+plain://" + relay.Addr, From: "obhub <noreply@alliance.example>"},
		mail.NewOutbox(store, nil, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { smtp.Close() })
	smtp.Start()
	e := newEnv(t, func(c *console.Config) { c.Outbox, c.MailRetry = store, smtp })
	e.addOperator("admin@alliance.example", console.RoleAllianceAdmin, "")
	e.addOperator("staff@qingshan.example", console.RoleBankAdmin, "qingshan-rcb")
	addMail(t, store, mail.Message{Kind: mail.KindVerify, To: "li@greenvalley.example", Subject: "Verify your e-mail address",
		Text: "Open https://portal.example/portal/verify?token=vfy_live-token"}, mail.DeliverySent, "")
	addMail(t, store, mail.Message{Kind: mail.KindInvite, To: "chen@greenvalley.example", Subject: "Join Green Valley",
		Text: "Accept: https://portal.example/portal/invitations?token=inv_live-token"}, mail.DeliveryNone, "")
	if err := smtp.Send(ctx, mail.Message{Kind: mail.KindReset, To: "wang@riverpay.example", Subject: "Reset your password",
		Text: "Open " + resetLink + " within 30 minutes."}); err != nil {
		t.Fatal(err)
	}
	// The relay refuses it for good: failed, at once.
	var failed mail.Message
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		got, err := store.ListMail(ctx, mail.Query{To: "wang@riverpay.example", Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 1 && got[0].Delivery == mail.DeliveryFailed {
			failed = got[0]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the refused mail is not failed: %+v", got)
		}
	}
	relay.Refuse(0) // the relay is fixed
	row := "#mail-" + strconv.FormatInt(failed.Seq, 10)
	base := e.srv.URL

	signIn(t, h, base, "admin@alliance.example")
	if nav := h.Text("header nav"); !strings.Contains(nav, "Mail") {
		t.Errorf("the alliance admin's menu has no Mail page: %q", nav)
	}
	h.Do(chromedp.Navigate(base+"/console/mail"), chromedp.WaitVisible(chromedp.CSS("#mail-list")))
	all := h.Text("#mail-list")
	for _, want := range []string{"li@greenvalley.example", "chen@greenvalley.example", "wang@riverpay.example", "Password reset", "sent", "failed"} {
		if !strings.Contains(all, want) {
			t.Errorf("the mail list does not show %q:\n%s", want, all)
		}
	}
	// The filtered page is the one whose option is selected in the HTML
	// (setting the field changes no attribute).
	h.Do(chromedp.SetValue(chromedp.CSS("#m-delivery"), "failed"),
		chromedp.Submit(chromedp.CSS("#m-to")),
		chromedp.WaitReady(chromedp.CSS(`#m-delivery option[value="failed"][selected]`)))
	h.WaitLoaded()
	h.WaitFor(row)
	list := h.Text("#mail-list")
	if !strings.Contains(list, "wang@riverpay.example") || !strings.Contains(list, "smtp 550 (permanent)") || strings.Contains(list, "li@greenvalley.example") {
		t.Errorf("the failed mails:\n%s", list)
	}
	if page := h.Text("main"); strings.Contains(page, "rst_live") || !strings.Contains(page, "text is not shown here") {
		t.Errorf("the Mail page:\n%s", page)
	}
	h.Shot("console-mail")

	h.Do(chromedp.Click(chromedp.CSS(row+" button")), chromedp.WaitVisible(chromedp.CSS("#flash")))
	h.WaitLoaded()
	if flash := h.Text("#flash"); !strings.Contains(flash, "is pending again") {
		t.Errorf("after Send again the page says %q", flash)
	}
	if d := relay.Next(t); d.To != "wang@riverpay.example" || !strings.Contains(string(d.Data), "rst_live-single-use-token") {
		t.Errorf("the relay got a mail to %q:\n%s", d.To, d.Data)
	}
	// The delivery is recorded a moment after the relay took the mail.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		h.Do(chromedp.Navigate(base + "/console/mail?delivery=sent"))
		h.WaitLoaded()
		if h.Count(row) == 1 && strings.Contains(h.Text(row), "sent") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the mail sent again is not shown sent:\n%s", h.Text("main"))
		}
	}
	if got := h.Text(row); !strings.Contains(got, "Password reset") || strings.Contains(got, "smtp 550") {
		t.Errorf("the mail sent again: %q", got)
	}
	if recs := e.recorded(); len(recs) != 1 || recs[0].Object != "outbox/"+strconv.FormatInt(failed.Seq, 10) {
		t.Errorf("recorded changes: %+v", recs)
	}

	// Qingshan's bank admin is offered no Mail page.
	signOut(t, h)
	signIn(t, h, base, "staff@qingshan.example")
	if nav := h.Text("header nav"); strings.Contains(nav, "Mail") {
		t.Errorf("the bank admin is offered %q", nav)
	}
}
