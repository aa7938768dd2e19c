package portal_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/obhub/obhub/internal/browsertest"
	"github.com/obhub/obhub/internal/mail"
)

// TestBrowserResetAndInvite drives a real headless Chromium through a
// forgotten password — the mailed link's token goes from the URL
// fragment into the form by script, and out of the address bar — and
// then through inviting a colleague, who joins from the invitation link.
func TestBrowserResetAndInvite(t *testing.T) {
	b := browsertest.Open(t, 1100, 820, 90*time.Second)
	e := newEnv(t)
	e.browser().signup("Acme Pay", "li@acme.example")
	base := e.srv.URL

	// Forgot the password: the link is on the sign-in page.
	// The reset page's own field: the sign-in page has an #email too,
	// and waiting for that one let the test type into the page it was
	// leaving (a CI run failed on the form's token).
	const resetEmail = `form[action="/portal/reset"] #email`
	b.Do(chromedp.Navigate(base+"/portal/signin?lang=en"),
		chromedp.Click(chromedp.CSS("#forgot")),
		chromedp.WaitVisible(chromedp.CSS(resetEmail)))
	b.WaitLoaded()
	b.Do(chromedp.SendKeys(chromedp.CSS(resetEmail), "li@acme.example"),
		chromedp.Submit(chromedp.CSS(resetEmail)),
		chromedp.WaitVisible(chromedp.CSS("#message")),
	)
	b.WaitLoaded()
	if msg := b.Text("#message"); !strings.Contains(msg, "If an account exists for li@acme.example") {
		t.Errorf("after asking for a reset: %q", msg)
	}
	link, tok := e.lastLink("li@acme.example", mail.KindReset)
	b.Do(chromedp.Navigate(strings.Replace(link, "http://hub.example", base, 1)+"#token="+tok),
		chromedp.WaitVisible(chromedp.CSS("#password")))
	if got := b.Eval(`document.getElementById("token").value`); got != tok {
		t.Errorf("the token field holds %q, want the link's token", got)
	}
	if hash := b.Eval(`location.hash`); hash != "" {
		t.Errorf("the token stays in the address bar: %q", hash)
	}
	b.Do(chromedp.SendKeys(chromedp.CSS("#password"), "a much better passphrase"))
	b.Shot("portal-reset")
	b.Do(chromedp.Submit(chromedp.CSS("#password")), chromedp.WaitVisible(chromedp.CSS("#sandbox-name")))
	b.WaitLoaded()
	if who := b.Text(".account"); who != "Signed in as Li Ming (Acme Pay)" {
		t.Errorf("after the reset: %q", who)
	}

	// Following the reset link verified the address: the owner invites.
	b.Do(chromedp.Click(chromedp.CSS(`a[href="/portal/team"]`)), chromedp.WaitVisible(chromedp.CSS("#invite-email")))
	b.WaitLoaded()
	b.Do(chromedp.SendKeys(chromedp.CSS("#invite-email"), "wang@acme.example"),
		chromedp.Submit(chromedp.CSS("#invite-email")),
		chromedp.WaitVisible(chromedp.CSS("#team-message")),
	)
	b.WaitLoaded()
	if msg, pending := b.Text("#team-message"), b.Text("#invitation-list"); msg != "Invitation sent. It is listed under pending invitations until it is accepted." ||
		!strings.Contains(pending, "wang@acme.example") {
		t.Errorf("after inviting: %q; pending %q", msg, pending)
	}
	b.Shot("portal-team")

	// The invitee opens the link (in this browser: accepting signs it in
	// as the invitee) and chooses a name and password.
	link, tok = e.lastLink("wang@acme.example", mail.KindInvite)
	b.Do(chromedp.Navigate(strings.Replace(link, "http://hub.example", base, 1)+"#token="+tok),
		chromedp.WaitVisible(chromedp.CSS("#name")),
		chromedp.SendKeys(chromedp.CSS("#name"), "Wang Fang"),
		chromedp.SendKeys(chromedp.CSS("#password"), "developer passphrase"),
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS("#sandbox-name")),
	)
	b.WaitLoaded()
	if who := b.Text(".account"); who != "Signed in as Wang Fang (Acme Pay)" {
		t.Errorf("after accepting: %q", who)
	}
	b.Do(chromedp.Navigate(base + "/portal/team?lang=zh"))
	team := b.Text("main")
	for _, want := range []string{"团队", "Wang Fang（您）", "Li Ming", "开发者", "所有者"} {
		if !strings.Contains(team, want) {
			t.Errorf("the Chinese team page lacks %q:\n%s", want, team)
		}
	}
	if b.Eval(`String(document.getElementById("invite-email") !== null)`) != "false" {
		t.Error("a developer is offered the invitation form")
	}
}
