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
	"github.com/obhub/obhub/internal/browsertest"
)

// TestBrowserConsolePages drives the apps, products, API upload and
// change history pages in a real Chromium: the alliance admin uploads a
// new version of an API, reads the operation diff and confirms it, then
// reads the change in the history; Qingshan's bank admin sees none of
// Hexi's partners, apps, products or changes, and Hexi's objects answer
// 404 when typed as URLs; the auditor reads the usage report and the
// history, with no admin page on offer.
func TestBrowserConsolePages(t *testing.T) {
	h := browsertest.Open(t, 1100, 820, 90*time.Second)
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
	status := func(path string) int64 {
		t.Helper()
		resp, err := chromedp.RunResponse(h.Context(), chromedp.Navigate(base+path))
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
	signIn(t, h, base, "admin@alliance.example")
	h.Do(chromedp.Navigate(base + "/console/apps"))
	contains("apps page", h.Text("#app-list"), "Green Valley Fintech sandbox", "River Pay sandbox", "client_secret_basic")
	h.Shot("console-apps")
	h.Do(chromedp.Click(chromedp.CSS(`#app-`+e.greenApp+` a`)), chromedp.WaitVisible(chromedp.CSS("#app-facts")))
	h.WaitLoaded()
	contains("app page", h.Text("main"), e.greenApp, "client_credentials", "Qingshan Premium")
	h.Shot("console-app")
	h.Do(chromedp.Navigate(base + "/console/products"))
	contains("products page", h.Text("#product-list"), "Qingshan Premium", "Hexi Premium")
	h.Shot("console-products")
	h.Do(chromedp.Click(chromedp.CSS(`#product-qingshan-premium a`)), chromedp.WaitVisible(chromedp.CSS("#product-form")))
	h.WaitLoaded()
	h.Do(chromedp.SendKeys(chromedp.CSS("#rate-limit"), "10"),
		chromedp.SendKeys(chromedp.CSS("#rate-period"), "1s"),
		chromedp.SendKeys(chromedp.CSS("#overrides"), "qingshan-accounts listTransactions 2/1s"))
	h.Do(chromedp.ScrollIntoView(chromedp.CSS("h1")))
	h.Shot("console-product-form")
	h.Do(chromedp.Submit(chromedp.CSS("#rate-limit")), chromedp.WaitVisible(chromedp.CSS("#flash")))
	h.WaitLoaded()
	contains("product saved", h.Text("#product-qingshan-premium"), "10 / 1s", "listTransactions: 2 / 1s")

	h.Do(chromedp.Navigate(base+"/console/apis/upload?api=qingshan-accounts"),
		chromedp.SetUploadFiles(chromedp.CSS("#u-doc"), []string{doc}),
		chromedp.Submit(chromedp.CSS("#u-doc")),
		chromedp.WaitVisible(chromedp.CSS("#diff")))
	h.WaitLoaded()
	contains("upload preview", h.Text("#preview"), "version 1.2.0 → 1.3.0", "/accounts/{accountId}/transactions",
		"parameter query fromBookingDateTime is now required", "may break clients")
	h.Shot("console-upload-diff")
	h.Do(chromedp.Click(chromedp.CSS("#confirm")), chromedp.WaitVisible(chromedp.CSS("#flash")))
	h.WaitLoaded()
	contains("after confirmation", h.Text("#flash"), "now has version 1.3.0")

	h.Do(chromedp.Navigate(base + "/console/history"))
	contains("history", h.Text("#history-rows"), "apis/hexi-loans", "operator")
	h.Shot("console-history")
	hist, err := chromedp.Run(h.Context(), chromedp.OuterHTML(chromedp.CSS("#history-rows")))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`href="/console/history/(\d+)"`).FindStringSubmatch(hist)
	if m == nil {
		t.Fatalf("no change link in the history:\n%s", hist)
	}
	hexiChange := "/console/history/" + m[1]
	h.Do(chromedp.Navigate(base+hexiChange), chromedp.WaitVisible(chromedp.CSS("#before-after")))
	contains("change page", h.Text("#before-after"), "/upstream", "http://core-old.hexi.internal", "http://core-new.hexi.internal")
	h.Shot("console-change")

	h.Do(chromedp.Navigate(base+"/console/operators"), chromedp.WaitVisible(chromedp.CSS("#operator-list")))
	contains("operators page", h.Text("#operator-list"), "staff@qingshan.example", "bank admin, qingshan-rcb", "audit@alliance.example")
	h.Shot("console-operators")

	// Qingshan's bank admin: nothing of Hexi's, and Hexi's URLs are 404.
	signOut(t, h)
	signIn(t, h, base, "staff@qingshan.example")
	for _, page := range []string{"/console/partners", "/console/apps", "/console/products", "/console/audit", "/console/history"} {
		h.Do(chromedp.Navigate(base + page))
		lacks("bank admin's "+page, h.Text("main"), "River Pay", e.riverApp, "Hexi Premium", "secret-loans-path", "hexi-loans")
	}
	h.Shot("console-bank-admin-apps")
	for _, page := range []string{"/console/apps/" + e.riverApp, "/console/products/hexi-premium", hexiChange, "/console/apis/upload?api=hexi-loans"} {
		if got := status(page); got != 404 {
			t.Errorf("bank admin opens %s: %d, want 404", page, got)
		}
		lacks("bank admin's "+page, h.Text("main"), "River Pay", "core-new", "Hexi Premium")
	}

	// The auditor: the report and the history, nothing to change.
	signOut(t, h)
	signIn(t, h, base, "audit@alliance.example")
	h.Do(chromedp.Navigate(base+"/console/reports?by=bank"), chromedp.WaitVisible(chromedp.CSS("#report")))
	contains("auditor's report", h.Text("#report"), "qingshan-rcb", "hexi-bank")
	if got := h.Text("#total-calls"); got != "3" {
		t.Errorf("auditor's report total: %q, want 3", got)
	}
	nav := h.Text("header nav")
	contains("auditor's menu", nav, "Reports", "Changes")
	lacks("auditor's menu", nav, "Apps", "Products", "Approvals")
	if got := status("/console/products"); got != 404 {
		t.Errorf("auditor opens the products page: %d", got)
	}
}
