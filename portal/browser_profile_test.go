package portal_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/obhub/obhub/internal/browsertest"
)

// TestBrowserOrganisationProfile drives a real headless Chromium through
// an owner's onboarding details — a mistyped credit code refused and
// named, then saved — and a password change.
func TestBrowserOrganisationProfile(t *testing.T) {
	b := browsertest.Open(t, 1100, 900, 90*time.Second)
	e := newEnv(t)
	owner := e.teamOf("Acme Pay", "li@acme.example")
	// Mounted as on the public listener, where the portal sees /portal/
	// only: otherwise the browser's /favicon.ico reaches the portal,
	// which answers it with a fresh pre-session CSRF cookie that races
	// with the sign-in form's.
	mux := http.NewServeMux()
	mux.Handle("/portal/", e.srv.Config.Handler)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	base := srv.URL
	// A second browser signs in as the owner.
	b.Do(chromedp.Navigate(base+"/portal/signin?lang=en"), chromedp.WaitVisible(chromedp.CSS("#email")))
	b.WaitLoaded()
	b.Do(chromedp.SendKeys(chromedp.CSS("#email"), "li@acme.example"),
		chromedp.SendKeys(chromedp.CSS("#password"), "correct horse battery"),
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS("#sandbox-name")))
	b.WaitLoaded()

	b.Do(chromedp.Click(chromedp.CSS(`a[href="/portal/organisation"]`)), chromedp.WaitVisible(chromedp.CSS("#org-legalName")))
	b.WaitLoaded()
	if st := b.Text("#org-status"); st != "Pending approval" {
		t.Errorf("status %q", st)
	}
	if p := b.Text("#org-pending"); !strings.Contains(p, "You can use the sandbox now") {
		t.Errorf("pending notice %q", p)
	}
	b.Do(chromedp.SendKeys(chromedp.CSS("#org-legalName"), "杭州艾克姆支付科技有限公司"),
		chromedp.SendKeys(chromedp.CSS("#org-creditCode"), wrongCheckDigit),
		chromedp.SendKeys(chromedp.CSS("#org-contactName"), "李明"),
		chromedp.SendKeys(chromedp.CSS("#org-contactPhone"), "138 1234 5678"),
		chromedp.SendKeys(chromedp.CSS("#org-purpose"), "Account information for small merchants."),
		chromedp.Submit(chromedp.CSS("#org-purpose")),
		chromedp.WaitVisible(chromedp.CSS(`[role="alert"]`)))
	b.WaitLoaded()
	if msg := b.Text(`[role="alert"]`); !strings.Contains(msg, "Unified social credit code: the check character (the 18th) does not match") {
		t.Errorf("after a wrong check character: %q", msg)
	}
	if got := b.Eval(`document.getElementById("org-contactName").value`); got != "李明" {
		t.Errorf("the form lost what was typed: contact %q", got)
	}
	b.Do(chromedp.Clear(chromedp.CSS("#org-creditCode")),
		chromedp.SendKeys(chromedp.CSS("#org-creditCode"), goodCreditCode),
		chromedp.Submit(chromedp.CSS("#org-creditCode")),
		chromedp.WaitVisible(chromedp.CSS("#org-message")))
	b.WaitLoaded()
	if msg := b.Text("#org-message"); !strings.HasPrefix(msg, "The details are saved") {
		t.Errorf("after saving: %q", msg)
	}
	b.Shot("portal-organisation")

	// Change the password: the other browser (the owner's first session)
	// is signed out, this one stays.
	b.Do(chromedp.Click(chromedp.CSS(`a[href="/portal/account"]`)), chromedp.WaitVisible(chromedp.CSS("#password-current")))
	b.WaitLoaded()
	b.Do(chromedp.SendKeys(chromedp.CSS("#password-current"), "correct horse battery"),
		chromedp.SendKeys(chromedp.CSS("#password-new"), "a much better passphrase"),
		chromedp.Submit(chromedp.CSS("#password-new")),
		chromedp.WaitVisible(chromedp.CSS("#account-message")))
	b.WaitLoaded()
	if msg := b.Text("#account-message"); !strings.Contains(msg, "Every other session of your account has ended") {
		t.Errorf("after the change: %q", msg)
	}
	if p := owner.get("/portal/apps"); p.url != "/portal/signin" {
		t.Errorf("the other session is at %s after the change", p.url)
	}
	b.Do(chromedp.Navigate(base + "/portal/organisation?lang=zh"))
	if st := b.Text("#org-status"); st != "待审批" {
		t.Errorf("Chinese status %q (still signed in?)", st)
	}
}
