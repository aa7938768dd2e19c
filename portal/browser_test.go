package portal_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/obhub/obhub/internal/browsertest"
	"github.com/obhub/obhub/internal/mail"
)

// TestBrowserFirstDay drives a real headless Chromium through a
// developer's first minutes: sign up, follow the mailed link (signed in),
// create a sandbox app, see its credentials once, and find the app listed.
func TestBrowserFirstDay(t *testing.T) {
	b := browsertest.Open(t, 1100, 820, 90*time.Second)
	e := newEnv(t)
	base := e.srv.URL

	// Home, in English; the first Tab reaches the skip link.
	b.Do(chromedp.Navigate(base + "/portal/?lang=en"))
	title := b.Text("h1")
	b.Do(chromedp.KeyEvent("\t"))
	focused := b.Eval(`document.activeElement.textContent`)
	b.Shot("portal-home")
	if title != "Build on the rural banks' open APIs" || focused != "Skip to main content" {
		t.Errorf("home: h1 %q, first Tab on %q", title, focused)
	}

	// Sign up.
	b.Do(chromedp.Navigate(base+"/portal/signup"),
		chromedp.SendKeys(chromedp.CSS("#org"), "Green Valley Fintech"),
		chromedp.SendKeys(chromedp.CSS("#name"), "Li Ming"),
		chromedp.SendKeys(chromedp.CSS("#email"), "li@greenvalley.example"),
		chromedp.SendKeys(chromedp.CSS("#password"), "correct horse battery"),
	)
	b.Shot("portal-signup")
	// The answer is the same for a new and a taken address: check the
	// mailbox, not signed in yet.
	b.Do(chromedp.Submit(chromedp.CSS("#password")), chromedp.WaitVisible(chromedp.CSS("#message")))
	b.WaitLoaded()
	if sent := b.Text("main"); !strings.Contains(sent, "Check your mailbox") || strings.Contains(b.Text("header"), "Signed in as") {
		t.Errorf("after sign-up:\n%s", sent)
	}
	// The mailed link (its token in the fragment, moved into the form by
	// script) confirms the address and signs this browser in.
	_, tok := e.lastLink("li@greenvalley.example", mail.KindVerify)
	b.Do(chromedp.Navigate(base+"/portal/verify#token="+tok), chromedp.WaitVisible(chromedp.CSS("#token")))
	b.WaitLoaded()
	b.Do(chromedp.Submit(chromedp.CSS("#token")), chromedp.WaitVisible(chromedp.CSS("#message")))
	b.WaitLoaded()
	if done := b.Text("main"); !strings.Contains(done, "is verified") {
		t.Errorf("after following the link:\n%s", done)
	}
	b.Do(chromedp.Navigate(base+"/portal/apps"), chromedp.WaitVisible(chromedp.CSS("#sandbox-name")))
	b.WaitLoaded()
	if who := b.Text("header"); !strings.Contains(who, "Signed in as Li Ming") {
		t.Errorf("not signed in after the link: %q", who)
	}
	appsText := b.Text("main")
	for _, want := range []string{"My apps", "You have no app yet.", "Production apps are available once an alliance operator approves Green Valley Fintech"} {
		if !strings.Contains(appsText, want) {
			t.Errorf("after sign-up the page does not show %q:\n%s", want, appsText)
		}
	}

	// Create a sandbox app: the credentials are shown, once.
	b.Do(chromedp.SendKeys(chromedp.CSS("#sandbox-name"), "Farm ledger"),
		chromedp.Click(chromedp.CSS(`form[aria-labelledby="new-sandbox"] button`)),
		chromedp.WaitVisible(chromedp.CSS("#new-client-secret")),
	)
	b.WaitLoaded()
	clientID, secret := b.Text("#new-client-id"), b.Text("#new-client-secret")
	notice, list := b.Text(".secret .alert"), b.Text("#app-list")
	b.Shot("portal-app-credentials")
	if !strings.HasPrefix(clientID, "app_") || !strings.HasPrefix(secret, "obs_") {
		t.Errorf("credentials shown: client id %q, secret %q", clientID, secret)
	}
	if !strings.Contains(notice, "shown only this once") {
		t.Errorf("no shown-once warning: %q", notice)
	}
	if !strings.Contains(list, "Farm ledger") || !strings.Contains(list, clientID) {
		t.Errorf("the app list does not show the new app: %q", list)
	}

	// Back on the list later: the app is there, the secret is not.
	b.Do(chromedp.Navigate(base + "/portal/apps"))
	later := b.Text("main")
	shown := b.Eval(`String(document.getElementById("new-client-secret") !== null)`)
	b.Shot("portal-apps")
	if shown != "false" || strings.Contains(later, secret) {
		t.Error("the client secret is shown again")
	}
	if !strings.Contains(later, "Farm ledger") {
		t.Errorf("the app is not listed later:\n%s", later)
	}

	// The app's page: subscribe to the auto-approved product.
	b.Do(chromedp.Click(chromedp.CSS(`#app-list a`)), chromedp.WaitVisible(chromedp.CSS(`input[value="accounts"]`)))
	b.WaitLoaded()
	b.Do(chromedp.Click(chromedp.CSS(`input[value="accounts"]`)),
		chromedp.Submit(chromedp.CSS(`input[value="accounts"]`)),
		chromedp.WaitVisible(chromedp.CSS("#subscriptions")),
	)
	b.WaitLoaded()
	subs := b.Text("#subscriptions")
	b.Shot("portal-app")
	if !strings.Contains(subs, "Accounts") || !strings.Contains(subs, "active") {
		t.Errorf("subscriptions shown: %q", subs)
	}

	// Catalog and reference, then the same in Chinese.
	b.Do(chromedp.Navigate(base + "/portal/apis"))
	catalog := b.Text("main")
	b.Shot("portal-catalog")
	b.Do(chromedp.Navigate(base + "/portal/apis/qingshan-accounts"))
	ref := b.Text("main") // its screenshot is TestBrowserReference's
	b.Do(chromedp.Navigate(base + "/portal/apps?lang=zh"))
	zh := b.Text("main")
	b.Shot("portal-apps-zh")
	if !strings.Contains(catalog, "Qingshan Rural Commercial Bank") {
		t.Errorf("catalog:\n%s", catalog)
	}
	if !strings.Contains(ref, "/sandbox/qingshan-rcb/open-banking/accounts/v1") || !strings.Contains(ref, "Responses") {
		t.Errorf("reference:\n%.2000s", ref)
	}
	if !strings.Contains(zh, "我的应用") || !strings.Contains(zh, "Farm ledger") {
		t.Errorf("Chinese apps page:\n%s", zh)
	}
}
