package console_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/obhub/obhub/console"
	"github.com/obhub/obhub/internal/browsertest"
)

// TestBrowserOperators drives a real headless Chromium: an alliance
// admin signs in and approves a pending partner from the approvals queue;
// Qingshan's bank admin does not see Hexi's partner or private API; a
// compliance auditor opens the usage report.
func TestBrowserOperators(t *testing.T) {
	h := browsertest.Open(t, 1100, 820, 90*time.Second)
	e := newEnv(t)
	e.addOperator("admin@alliance.example", console.RoleAllianceAdmin, "")
	e.addOperator("staff@qingshan.example", console.RoleBankAdmin, "qingshan-rcb")
	e.addOperator("audit@alliance.example", console.RoleAuditor, "")

	base := e.srv.URL
	// The operators take turns at one browser, signing out in between.

	// The alliance admin approves Green Valley Fintech.
	admin := h
	admin.Do(chromedp.Navigate(base + "/console/signin?lang=en"))
	admin.Shot("console-signin")
	signIn(t, admin, base, "admin@alliance.example")
	queue := admin.Text("main")
	admin.Shot("console-approvals")
	for _, want := range []string{"Partners waiting for approval", "Green Valley Fintech", "River Pay", "Qingshan Premium"} {
		if !strings.Contains(queue, want) {
			t.Errorf("approvals queue does not show %q:\n%s", want, queue)
		}
	}
	admin.Do(chromedp.Click(chromedp.CSS(`#partner-green-valley button.primary`)),
		chromedp.WaitVisible(chromedp.CSS("#flash")))
	admin.WaitLoaded()
	flash, after := admin.Text("#flash"), admin.Text("main")
	pending := ""
	if strings.Contains(after, "No partner is waiting.") {
		pending = "none"
	} else {
		pending = admin.Text("table[aria-labelledby=pending-partners]")
	}
	if !strings.Contains(flash, "Green Valley Fintech is approved") {
		t.Errorf("after approval the page says %q", flash)
	}
	if strings.Contains(pending, "Green Valley Fintech") || !strings.Contains(pending, "River Pay") {
		t.Errorf("pending partners after the approval:\n%s", pending)
	}
	admin.Do(chromedp.Navigate(base + "/console/partners"))
	plist := admin.Text("#partner-list")
	admin.Shot("console-partners")
	if !strings.Contains(plist, "approved") {
		t.Errorf("partners list: %s", plist)
	}
	admin.Do(chromedp.Navigate(base + "/console/apis"))
	admin.Shot("console-apis")

	// Qingshan's bank admin sees only Qingshan.
	signOut(t, h)
	bank := h
	signIn(t, bank, base, "staff@qingshan.example")
	bank.Do(chromedp.Navigate(base + "/console/apis"))
	apis := bank.Text("main")
	bank.Do(chromedp.Navigate(base + "/console/partners"))
	parts := bank.Text("main")
	bank.Shot("console-bank-admin-partners")
	if !strings.Contains(apis, "qingshan-payments") || strings.Contains(apis, "hexi-loans") {
		t.Errorf("bank admin's APIs:\n%s", apis)
	}
	if strings.Contains(parts, "River Pay") {
		t.Errorf("bank admin sees another bank's partner:\n%s", parts)
	}
	bank.Do(chromedp.Navigate(base + "/console/audit"))
	rows := bank.Text("main")
	if strings.Contains(rows, "secret-loans-path") || !strings.Contains(rows, "accounts-path-A") {
		t.Errorf("bank admin's audit:\n%s", rows)
	}

	// The compliance auditor opens the report page.
	signOut(t, h)
	aud := h
	signIn(t, aud, base, "audit@alliance.example")
	aud.Do(chromedp.WaitVisible(chromedp.CSS("#report")))
	h1, report, total := aud.Text("h1"), aud.Text("#report"), aud.Text("#total-calls")
	aud.Shot("console-report")
	if h1 != "Usage report" || total != "3" || !strings.Contains(report, "green-valley") || !strings.Contains(report, "river-pay") {
		t.Errorf("report page: h1 %q, total %q\n%s", h1, total, report)
	}
	nav := aud.Text("header nav")
	if strings.Contains(nav, "Approvals") {
		t.Errorf("the auditor is offered %q", nav)
	}
	aud.Do(chromedp.Navigate(base + "/console/audit"))
	aud.Shot("console-audit")
	aud.Do(chromedp.Navigate(base + "/console/reports?lang=zh"))
	zh := aud.Text("main")
	aud.Shot("console-report-zh")
	if !strings.Contains(zh, "用量报表") {
		t.Errorf("Chinese report:\n%s", zh)
	}
}

// signIn signs the operator email in at the console on base, in p, and
// waits until the signed-in page has finished loading: navigating away
// from a page still loading is aborted (net::ERR_ABORTED).
func signIn(t *testing.T, p *browsertest.Page, base, email string) {
	t.Helper()
	p.Do(chromedp.Navigate(base+"/console/signin?lang=en"),
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Submit(chromedp.CSS("#password")),
	)
	p.WaitFor("#who")
	p.WaitLoaded()
}

// signOut presses the header's sign-out button in p and waits for the
// sign-in page to have loaded. It waits for the sign-in form itself, not
// an #email field: the operators page has one too.
func signOut(t *testing.T, p *browsertest.Page) {
	t.Helper()
	p.Do(chromedp.Click(chromedp.CSS(`header form button`)))
	p.WaitFor(`form[action="/console/signin"]`)
	p.WaitLoaded()
}
