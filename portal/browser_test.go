package portal_test

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

var screenshots = flag.Bool("screenshots", false, "write the portal's screenshots to docs/screenshots")

// chromium returns the path of a Chromium to drive, or skips the test.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("browser test skipped: no chromium on this machine (Debian: apt-get install chromium; .ci/run installs it)")
	return ""
}

// TestBrowserFirstDay drives a real headless Chromium through a
// developer's first minutes: sign up, create a sandbox app, see its
// credentials once, and find the app listed.
func TestBrowserFirstDay(t *testing.T) {
	path := chromium(t)
	e := newEnv(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.WindowSize(1100, 820),
	)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	// The first Do starts the browser, with no timeout on its context
	// (chromedp's rule); every step after it has a bound.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	base := e.srv.URL
	do := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("browser: %v", err)
		}
	}
	text := func(sel chromedp.CSS) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("browser: text of %s: %v", sel, err)
		}
		return s
	}
	eval := func(js string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("browser: %s: %v", js, err)
		}
		return s
	}
	shot := func(name string) {
		t.Helper()
		if !*screenshots {
			return
		}
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("browser: screenshot: %v", err)
		}
		if err := os.WriteFile(filepath.Join("..", "docs", "screenshots", name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// Home, in English; the first Tab reaches the skip link.
	do(chromedp.Navigate(base + "/portal/?lang=en"))
	title := text("h1")
	do(chromedp.KeyEvent("\t"))
	focused := eval(`document.activeElement.textContent`)
	shot("portal-home")
	if title != "Build on the rural banks' open APIs" || focused != "Skip to main content" {
		t.Errorf("home: h1 %q, first Tab on %q", title, focused)
	}

	// Sign up.
	do(chromedp.Navigate(base+"/portal/signup"),
		chromedp.SendKeys(chromedp.CSS("#org"), "Green Valley Fintech"),
		chromedp.SendKeys(chromedp.CSS("#name"), "Li Ming"),
		chromedp.SendKeys(chromedp.CSS("#email"), "li@greenvalley.example"),
		chromedp.SendKeys(chromedp.CSS("#password"), "correct horse battery"),
	)
	shot("portal-signup")
	do(chromedp.Submit(chromedp.CSS("#password")), chromedp.WaitVisible(chromedp.CSS("#sandbox-name")))
	appsText := text("main")
	for _, want := range []string{"My apps", "You have no app yet.", "Production apps are available once an alliance operator approves Green Valley Fintech"} {
		if !strings.Contains(appsText, want) {
			t.Errorf("after sign-up the page does not show %q:\n%s", want, appsText)
		}
	}

	// Create a sandbox app: the credentials are shown, once.
	do(chromedp.SendKeys(chromedp.CSS("#sandbox-name"), "Farm ledger"),
		chromedp.Click(chromedp.CSS(`form[aria-labelledby="new-sandbox"] button`)),
		chromedp.WaitVisible(chromedp.CSS("#new-client-secret")),
	)
	clientID, secret := text("#new-client-id"), text("#new-client-secret")
	notice, list := text(".secret .alert"), text("#app-list")
	shot("portal-app-credentials")
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
	do(chromedp.Navigate(base + "/portal/apps"))
	later := text("main")
	shown := eval(`String(document.getElementById("new-client-secret") !== null)`)
	shot("portal-apps")
	if shown != "false" || strings.Contains(later, secret) {
		t.Error("the client secret is shown again")
	}
	if !strings.Contains(later, "Farm ledger") {
		t.Errorf("the app is not listed later:\n%s", later)
	}

	// The app's page: subscribe to the auto-approved product.
	do(chromedp.Click(chromedp.CSS(`#app-list a`)),
		chromedp.WaitVisible(chromedp.CSS(`input[value="accounts"]`)),
		chromedp.Click(chromedp.CSS(`input[value="accounts"]`)),
		chromedp.Submit(chromedp.CSS(`input[value="accounts"]`)),
		chromedp.WaitVisible(chromedp.CSS("#subscriptions")),
	)
	subs := text("#subscriptions")
	shot("portal-app")
	if !strings.Contains(subs, "Accounts") || !strings.Contains(subs, "active") {
		t.Errorf("subscriptions shown: %q", subs)
	}

	// Catalog and reference, then the same in Chinese.
	do(chromedp.Navigate(base + "/portal/apis"))
	catalog := text("main")
	shot("portal-catalog")
	do(chromedp.Navigate(base + "/portal/apis/qingshan-accounts"))
	ref := text("main")
	shot("portal-reference")
	do(chromedp.Navigate(base + "/portal/apps?lang=zh"))
	zh := text("main")
	shot("portal-apps-zh")
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
