package console_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/obhub/obhub/console"
	"github.com/obhub/obhub/internal/browsertest"
)

var screenshots = flag.Bool("screenshots", false, "write the console's screenshots to docs/screenshots")

// TestBrowserOperators drives a real headless Chromium: an alliance
// admin signs in and approves a pending partner from the approvals queue;
// Qingshan's bank admin does not see Hexi's partner or private API; a
// compliance auditor opens the usage report.
func TestBrowserOperators(t *testing.T) {
	h := newChrome(t)
	e := newEnv(t)
	e.addOperator("admin@alliance.example", console.RoleAllianceAdmin, "")
	e.addOperator("staff@qingshan.example", console.RoleBankAdmin, "qingshan-rcb")
	e.addOperator("audit@alliance.example", console.RoleAuditor, "")

	base := e.srv.URL
	ctx := h.ctx
	// The operators take turns at one browser, signing out in between.
	signin := func(h chrome, email string) {
		h.do(chromedp.Navigate(base+"/console/signin?lang=en"),
			chromedp.SendKeys(chromedp.CSS("#email"), email),
			chromedp.SendKeys(chromedp.CSS("#password"), password),
			chromedp.Submit(chromedp.CSS("#password")),
		)
		wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if err := chromedp.Do(wctx, chromedp.WaitVisible(chromedp.CSS("#who"))); err != nil {
			t.Fatalf("sign-in of %s: %v; the page shows:\n%s", email, err, h.text("body"))
		}
	}
	signout := func() {
		h.do(chromedp.Click(chromedp.CSS(`header form button`)), chromedp.WaitVisible(chromedp.CSS("#email")))
	}

	// The alliance admin approves Green Valley Fintech.
	admin := h
	admin.do(chromedp.Navigate(base + "/console/signin?lang=en"))
	admin.shot("console-signin")
	signin(admin, "admin@alliance.example")
	queue := admin.text("main")
	admin.shot("console-approvals")
	for _, want := range []string{"Partners waiting for approval", "Green Valley Fintech", "River Pay", "Qingshan Premium"} {
		if !strings.Contains(queue, want) {
			t.Errorf("approvals queue does not show %q:\n%s", want, queue)
		}
	}
	admin.do(chromedp.Click(chromedp.CSS(`#partner-green-valley button.primary`)),
		chromedp.WaitVisible(chromedp.CSS("#flash")))
	flash, after := admin.text("#flash"), admin.text("main")
	pending := ""
	if strings.Contains(after, "No partner is waiting.") {
		pending = "none"
	} else {
		pending = admin.text("table[aria-labelledby=pending-partners]")
	}
	if !strings.Contains(flash, "Green Valley Fintech is approved") {
		t.Errorf("after approval the page says %q", flash)
	}
	if strings.Contains(pending, "Green Valley Fintech") || !strings.Contains(pending, "River Pay") {
		t.Errorf("pending partners after the approval:\n%s", pending)
	}
	admin.do(chromedp.Navigate(base + "/console/partners"))
	plist := admin.text("#partner-list")
	admin.shot("console-partners")
	if !strings.Contains(plist, "approved") {
		t.Errorf("partners list: %s", plist)
	}
	admin.do(chromedp.Navigate(base + "/console/apis"))
	admin.shot("console-apis")

	// Qingshan's bank admin sees only Qingshan.
	signout()
	bank := h
	signin(bank, "staff@qingshan.example")
	bank.do(chromedp.Navigate(base + "/console/apis"))
	apis := bank.text("main")
	bank.do(chromedp.Navigate(base + "/console/partners"))
	parts := bank.text("main")
	bank.shot("console-bank-admin-partners")
	if !strings.Contains(apis, "qingshan-payments") || strings.Contains(apis, "hexi-loans") {
		t.Errorf("bank admin's APIs:\n%s", apis)
	}
	if strings.Contains(parts, "River Pay") {
		t.Errorf("bank admin sees another bank's partner:\n%s", parts)
	}
	bank.do(chromedp.Navigate(base + "/console/audit"))
	rows := bank.text("main")
	if strings.Contains(rows, "secret-loans-path") || !strings.Contains(rows, "accounts-path-A") {
		t.Errorf("bank admin's audit:\n%s", rows)
	}

	// The compliance auditor opens the report page.
	signout()
	aud := h
	signin(aud, "audit@alliance.example")
	aud.do(chromedp.WaitVisible(chromedp.CSS("#report")))
	h1, report, total := aud.text("h1"), aud.text("#report"), aud.text("#total-calls")
	aud.shot("console-report")
	if h1 != "Usage report" || total != "3" || !strings.Contains(report, "green-valley") || !strings.Contains(report, "river-pay") {
		t.Errorf("report page: h1 %q, total %q\n%s", h1, total, report)
	}
	nav := aud.text("header nav")
	if strings.Contains(nav, "Approvals") {
		t.Errorf("the auditor is offered %q", nav)
	}
	aud.do(chromedp.Navigate(base + "/console/audit"))
	aud.shot("console-audit")
	aud.do(chromedp.Navigate(base + "/console/reports?lang=zh"))
	zh := aud.text("main")
	aud.shot("console-report-zh")
	if !strings.Contains(zh, "用量报表") {
		t.Errorf("Chinese report:\n%s", zh)
	}
}

// chrome is a headless Chromium driven by one test: do runs steps, text
// reads an element, shot writes a screenshot with -screenshots.
type chrome struct {
	ctx  context.Context
	do   func(...chromedp.Action[chromedp.Void])
	text func(chromedp.CSS) string
	shot func(string)
}

// newChrome starts a Chromium for the test (skipping it where there is
// none).
func newChrome(t *testing.T) chrome {
	t.Helper()
	ctx := browsertest.Start(t, 1100, 820, 90*time.Second)
	return chrome{
		ctx: ctx,
		do: func(steps ...chromedp.Action[chromedp.Void]) {
			t.Helper()
			for i, step := range steps {
				if err := chromedp.Do(ctx, step); err != nil {
					t.Fatalf("browser: step %d of %d: %v", i+1, len(steps), err)
				}
			}
		},
		text: func(sel chromedp.CSS) string {
			t.Helper()
			s, err := chromedp.Run(ctx, chromedp.Text(sel))
			if err != nil {
				t.Fatalf("browser: text of %s: %v", sel, err)
			}
			return s
		},
		shot: func(name string) {
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
		},
	}
}
