package console_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/obhub/obhub/audit"
	"github.com/obhub/obhub/audit/audittest"
	"github.com/obhub/obhub/console"
	"github.com/obhub/obhub/demo"
)

// TestBrowserConsolePages drives the apps, products, API upload and
// change history pages in a real Chromium: the alliance admin uploads a
// new version of an API, reads the operation diff and confirms it, then
// reads the change in the history; Qingshan's bank admin sees none of
// Hexi's partners, apps, products or changes, and Hexi's objects answer
// 404 when typed as URLs; the auditor reads the usage report and the
// history, with no admin page on offer.
func TestBrowserConsolePages(t *testing.T) {
	h := newChrome(t)
	e := newEnv(t)
	audittest.Fill(t, e.ledger, audittest.NewSigner(t), []audit.Record{
		{Time: e.now.Add(-30 * time.Minute), Category: audit.CategoryAdmin, Method: "PATCH", Path: "/admin/v1/apis/hexi-loans",
			Status: 200, Decision: "allow", Actor: "operator", Object: "apis/hexi-loans",
			Before: `{"id":"hexi-loans","bank":"hexi-bank","upstream":"http://core-old.hexi.internal","maxBody":1048576}`,
			After:  `{"id":"hexi-loans","bank":"hexi-bank","upstream":"http://core-new.hexi.internal","maxBody":1048576}`},
	})
	e.addOperator("admin@alliance.example", console.RoleAllianceAdmin, "")
	e.addOperator("staff@qingshan.example", console.RoleBankAdmin, "qingshan-rcb")
	e.addOperator("audit@alliance.example", console.RoleAuditor, "")
	orig, err := demo.Spec("qingshan-accounts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	next := strings.Replace(string(orig), "version: 1.2.0", "version: 1.3.0", 1)
	next = strings.Replace(next, "        - name: fromBookingDateTime\n          in: query\n", "        - name: fromBookingDateTime\n          in: query\n          required: true\n", 1)
	doc := filepath.Join(t.TempDir(), "qingshan-accounts-1.3.0.yaml")
	if err := os.WriteFile(doc, []byte(next), 0o600); err != nil {
		t.Fatal(err)
	}

	base := e.srv.URL
	signin := func(email string) {
		h.do(chromedp.Navigate(base+"/console/signin?lang=en"),
			chromedp.SendKeys(chromedp.CSS("#email"), email),
			chromedp.SendKeys(chromedp.CSS("#password"), password),
			chromedp.Submit(chromedp.CSS("#password")),
			chromedp.WaitVisible(chromedp.CSS("#who")))
		// The signed-in page must have finished loading: navigating away
		// from a page still loading is aborted (net::ERR_ABORTED).
		if _, err := chromedp.Run(h.ctx, chromedp.Poll[bool]("document.readyState === 'complete'")); err != nil {
			t.Fatalf("browser: page after sign-in: %v", err)
		}
	}
	signout := func() {
		h.do(chromedp.Click(chromedp.CSS(`header form button`)), chromedp.WaitVisible(chromedp.CSS("#email")))
	}
	status := func(path string) int64 {
		t.Helper()
		resp, err := chromedp.RunResponse(h.ctx, chromedp.Navigate(base+path))
		if err != nil {
			t.Fatalf("browser: navigate to %s: %v", path, err)
		}
		return resp.Status
	}
	contains := func(where, got string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("%s does not show %q:\n%s", where, w, got)
			}
		}
	}
	lacks := func(where, got string, bad ...string) {
		t.Helper()
		for _, b := range bad {
			if strings.Contains(got, b) {
				t.Errorf("%s shows %q:\n%s", where, b, got)
			}
		}
	}

	// The alliance admin.
	signin("admin@alliance.example")
	h.do(chromedp.Navigate(base + "/console/apps"))
	contains("apps page", h.text("#app-list"), "Green Valley Fintech sandbox", "River Pay sandbox", "client_secret_basic")
	h.shot("console-apps")
	h.do(chromedp.Click(chromedp.CSS(`#app-`+e.greenApp+` a`)), chromedp.WaitVisible(chromedp.CSS("#app-facts")))
	contains("app page", h.text("main"), e.greenApp, "client_credentials", "Qingshan Premium")
	h.shot("console-app")
	h.do(chromedp.Navigate(base + "/console/products"))
	contains("products page", h.text("#product-list"), "Qingshan Premium", "Hexi Premium")
	h.shot("console-products")
	h.do(chromedp.Click(chromedp.CSS(`#product-qingshan-premium a`)), chromedp.WaitVisible(chromedp.CSS("#product-form")),
		chromedp.SendKeys(chromedp.CSS("#rate-limit"), "10"),
		chromedp.SendKeys(chromedp.CSS("#rate-period"), "1s"),
		chromedp.SendKeys(chromedp.CSS("#overrides"), "qingshan-accounts listTransactions 2/1s"))
	h.do(chromedp.ScrollIntoView(chromedp.CSS("h1")))
	h.shot("console-product-form")
	h.do(chromedp.Submit(chromedp.CSS("#rate-limit")), chromedp.WaitVisible(chromedp.CSS("#flash")))
	contains("product saved", h.text("#product-qingshan-premium"), "10 / 1s", "listTransactions: 2 / 1s")

	h.do(chromedp.Navigate(base+"/console/apis/upload?api=qingshan-accounts"),
		chromedp.SetUploadFiles(chromedp.CSS("#u-doc"), []string{doc}),
		chromedp.Submit(chromedp.CSS("#u-doc")),
		chromedp.WaitVisible(chromedp.CSS("#diff")))
	contains("upload preview", h.text("#preview"), "version 1.2.0 → 1.3.0", "/accounts/{accountId}/transactions",
		"parameter query fromBookingDateTime is now required", "may break clients")
	h.shot("console-upload-diff")
	h.do(chromedp.Click(chromedp.CSS("#confirm")), chromedp.WaitVisible(chromedp.CSS("#flash")))
	contains("after confirmation", h.text("#flash"), "now has version 1.3.0")

	h.do(chromedp.Navigate(base + "/console/history"))
	contains("history", h.text("#history-rows"), "apis/hexi-loans", "operator")
	h.shot("console-history")
	hist, err := chromedp.Run(h.ctx, chromedp.OuterHTML(chromedp.CSS("#history-rows")))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`href="/console/history/(\d+)"`).FindStringSubmatch(hist)
	if m == nil {
		t.Fatalf("no change link in the history:\n%s", hist)
	}
	hexiChange := "/console/history/" + m[1]
	h.do(chromedp.Navigate(base+hexiChange), chromedp.WaitVisible(chromedp.CSS("#before-after")))
	contains("change page", h.text("#before-after"), "/upstream", "http://core-old.hexi.internal", "http://core-new.hexi.internal")
	h.shot("console-change")

	h.do(chromedp.Navigate(base+"/console/operators"), chromedp.WaitVisible(chromedp.CSS("#operator-list")))
	contains("operators page", h.text("#operator-list"), "staff@qingshan.example", "bank admin, qingshan-rcb", "audit@alliance.example")
	h.shot("console-operators")

	// Qingshan's bank admin: nothing of Hexi's, and Hexi's URLs are 404.
	signout()
	signin("staff@qingshan.example")
	for _, page := range []string{"/console/partners", "/console/apps", "/console/products", "/console/audit", "/console/history"} {
		h.do(chromedp.Navigate(base + page))
		lacks("bank admin's "+page, h.text("main"), "River Pay", e.riverApp, "Hexi Premium", "secret-loans-path", "hexi-loans")
	}
	h.shot("console-bank-admin-apps")
	for _, page := range []string{"/console/apps/" + e.riverApp, "/console/products/hexi-premium", hexiChange, "/console/apis/upload?api=hexi-loans"} {
		if got := status(page); got != 404 {
			t.Errorf("bank admin opens %s: %d, want 404", page, got)
		}
		lacks("bank admin's "+page, h.text("main"), "River Pay", "core-new", "Hexi Premium")
	}

	// The auditor: the report and the history, nothing to change.
	signout()
	signin("audit@alliance.example")
	h.do(chromedp.Navigate(base+"/console/reports?by=bank"), chromedp.WaitVisible(chromedp.CSS("#report")))
	contains("auditor's report", h.text("#report"), "qingshan-rcb", "hexi-bank")
	if got := h.text("#total-calls"); got != "3" {
		t.Errorf("auditor's report total: %q, want 3", got)
	}
	nav := h.text("header nav")
	contains("auditor's menu", nav, "Reports", "Changes")
	lacks("auditor's menu", nav, "Apps", "Products", "Approvals")
	if got := status("/console/products"); got != 404 {
		t.Errorf("auditor opens the products page: %d", got)
	}
}
