package portal_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/obhub/obhub/internal/browsertest"
	"github.com/obhub/obhub/internal/mail"
)

// headless is a real headless Chromium on one tab, with the steps the
// tests take.
type headless struct {
	t   *testing.T
	ctx context.Context
}

// startChromium starts a headless Chromium (internal/browsertest;
// skipping the test where there is none), stopped at the end of the test.
func startChromium(t *testing.T) *headless {
	t.Helper()
	return &headless{t: t, ctx: browsertest.Start(t, 1100, 820, 90*time.Second)}
}

func (h *headless) do(steps ...chromedp.Action[chromedp.Void]) {
	h.t.Helper()
	if err := chromedp.Do(h.ctx, steps...); err != nil {
		h.t.Fatalf("browser: %v", err)
	}
}

func (h *headless) text(sel chromedp.CSS) string {
	h.t.Helper()
	s, err := chromedp.Run(h.ctx, chromedp.Text(sel))
	if err != nil {
		h.t.Fatalf("browser: text of %s: %v", sel, err)
	}
	return s
}

func (h *headless) eval(js string) string {
	h.t.Helper()
	s, err := chromedp.Run(h.ctx, chromedp.Evaluate[string](js))
	if err != nil {
		h.t.Fatalf("browser: %s: %v", js, err)
	}
	return s
}

// shot writes docs/screenshots/<name>.png with -screenshots.
func (h *headless) shot(name string) {
	h.t.Helper()
	if !*screenshots {
		return
	}
	png, err := chromedp.Run(h.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		h.t.Fatalf("browser: screenshot: %v", err)
	}
	if err := os.WriteFile(filepath.Join("..", "docs", "screenshots", name+".png"), png, 0o644); err != nil {
		h.t.Fatal(err)
	}
}

// TestBrowserResetAndInvite drives a real headless Chromium through a
// forgotten password — the mailed link's token goes from the URL
// fragment into the form by script, and out of the address bar — and
// then through inviting a colleague, who joins from the invitation link.
func TestBrowserResetAndInvite(t *testing.T) {
	b := startChromium(t)
	e := newEnv(t)
	e.browser().signup("Acme Pay", "li@acme.example")
	base := e.srv.URL

	// Forgot the password: the link is on the sign-in page.
	b.do(chromedp.Navigate(base+"/portal/signin?lang=en"),
		chromedp.Click(chromedp.CSS("#forgot")),
		chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), "li@acme.example"),
		chromedp.Submit(chromedp.CSS("#email")),
		chromedp.WaitVisible(chromedp.CSS("#message")),
	)
	if msg := b.text("#message"); !strings.Contains(msg, "If an account exists for li@acme.example") {
		t.Errorf("after asking for a reset: %q", msg)
	}
	link, tok := e.lastLink("li@acme.example", mail.KindReset)
	b.do(chromedp.Navigate(strings.Replace(link, "http://hub.example", base, 1)+"#token="+tok),
		chromedp.WaitVisible(chromedp.CSS("#password")))
	if got := b.eval(`document.getElementById("token").value`); got != tok {
		t.Errorf("the token field holds %q, want the link's token", got)
	}
	if hash := b.eval(`location.hash`); hash != "" {
		t.Errorf("the token stays in the address bar: %q", hash)
	}
	b.do(chromedp.SendKeys(chromedp.CSS("#password"), "a much better passphrase"))
	b.shot("portal-reset")
	b.do(chromedp.Submit(chromedp.CSS("#password")), chromedp.WaitVisible(chromedp.CSS("#sandbox-name")))
	if who := b.text(".account"); who != "Signed in as Li Ming (Acme Pay)" {
		t.Errorf("after the reset: %q", who)
	}

	// Following the reset link verified the address: the owner invites.
	b.do(chromedp.Click(chromedp.CSS(`a[href="/portal/team"]`)),
		chromedp.WaitVisible(chromedp.CSS("#invite-email")),
		chromedp.SendKeys(chromedp.CSS("#invite-email"), "wang@acme.example"),
		chromedp.Submit(chromedp.CSS("#invite-email")),
		chromedp.WaitVisible(chromedp.CSS("#team-message")),
	)
	if msg, pending := b.text("#team-message"), b.text("#invitation-list"); msg != "Invitation sent to wang@acme.example." ||
		!strings.Contains(pending, "wang@acme.example") {
		t.Errorf("after inviting: %q; pending %q", msg, pending)
	}
	b.shot("portal-team")

	// The invitee opens the link (in this browser: accepting signs it in
	// as the invitee) and chooses a name and password.
	link, tok = e.lastLink("wang@acme.example", mail.KindInvite)
	b.do(chromedp.Navigate(strings.Replace(link, "http://hub.example", base, 1)+"#token="+tok),
		chromedp.WaitVisible(chromedp.CSS("#name")),
		chromedp.SendKeys(chromedp.CSS("#name"), "Wang Fang"),
		chromedp.SendKeys(chromedp.CSS("#password"), "developer passphrase"),
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS("#sandbox-name")),
	)
	if who := b.text(".account"); who != "Signed in as Wang Fang (Acme Pay)" {
		t.Errorf("after accepting: %q", who)
	}
	b.do(chromedp.Navigate(base + "/portal/team?lang=zh"))
	team := b.text("main")
	for _, want := range []string{"团队", "Wang Fang（您）", "Li Ming", "开发者", "所有者"} {
		if !strings.Contains(team, want) {
			t.Errorf("the Chinese team page lacks %q:\n%s", want, team)
		}
	}
	if b.eval(`String(document.getElementById("invite-email") !== null)`) != "false" {
		t.Error("a developer is offered the invitation form")
	}
}
