package portal_test

import (
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/obhub/obhub/internal/browsertest"
)

// cspProbe records, in the page, every Content-Security-Policy violation.
const cspProbe = `window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + e.blockedURI);
});`

// TestBrowserReference opens an API page in a real Chromium: the vendored
// Swagger UI draws the API's operations from the portal's own copy of the
// document, under the portal's unchanged Content-Security-Policy, with no
// request leaving this machine, no "Try it out" or "Authorize" of its own,
// the hub's URLs as servers, and the plain tables one click away; the
// page around it is in English or Chinese.
func TestBrowserReference(t *testing.T) {
	b := browsertest.Open(t, 1100, 900, 90*time.Second)
	e := newEnv(t)
	ctx := b.Context()
	srv, err := url.Parse(e.srv.URL)
	if err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var requests []string
	if err := chromedp.Listen(ctx, func(ev any) {
		if r, ok := ev.(*network.EventRequestWillBeSent); ok {
			mu.Lock()
			requests = append(requests, r.Request.URL)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: cspProbe}); err != nil {
		t.Fatal(err)
	}

	b.Do(chromedp.Navigate(e.srv.URL + "/portal/apis/qingshan-accounts?lang=en"))
	b.WaitFor("#reference-ui .opblock")
	drawn := b.Text("#reference-ui")
	for _, want := range []string{"List accounts", "Get an account's balances", "/accounts/{accountId}/transactions", "Transactions"} {
		if !strings.Contains(drawn, want) {
			t.Errorf("the interactive reference does not show %q:\n%.1500s", want, drawn)
		}
	}
	if got := b.Eval(`String(document.getElementById("server-reference").hidden)`); got != "true" {
		t.Errorf("the plain tables are still shown beside the interactive reference (hidden=%s)", got)
	}
	servers := b.Eval(`Array.from(document.querySelectorAll("#reference-ui .servers option")).map(o => o.textContent).join("\n")`)
	for _, want := range []string{"http://hub.example/qingshan-rcb/open-banking/accounts/v1", "http://hub.example/sandbox/qingshan-rcb/open-banking/accounts/v1"} {
		if !strings.Contains(servers, want) {
			t.Errorf("servers offered:\n%s\nwant %s", servers, want)
		}
	}

	// Every operation is open, showing its parameters and responses,
	// with no way to send a call from here; the keyboard folds one.
	b.WaitFor("#reference-ui .opblock-body .responses-wrapper")
	if n := b.Count("#reference-ui .try-out__btn, #reference-ui .execute, #reference-ui .authorize, #reference-ui .authorization__btn"); n != 0 {
		t.Errorf("Swagger UI shows %d try-it or authorize controls", n)
	}
	if open, all := b.Count("#reference-ui .opblock.is-open"), b.Count("#reference-ui .opblock"); open != 4 || all != 4 {
		t.Errorf("%d of %d operations open, want 4 of 4", open, all)
	}
	if !strings.Contains(b.Text("#reference-ui .opblock.is-open"), "Responses") {
		t.Error("the first operation shows no responses")
	}
	b.Do(chromedp.Focus(chromedp.CSS("#reference-ui .opblock-summary-control")), chromedp.KeyEvent("\r"))
	b.WaitUntil(`document.querySelector("#reference-ui .opblock-summary-control").getAttribute("aria-expanded") === "false"`)
	b.Do(chromedp.KeyEvent("\r"))
	b.WaitUntil(`document.querySelector("#reference-ui .opblock-summary-control").getAttribute("aria-expanded") === "true"`)
	b.Eval(`document.getElementById("ref-h").scrollIntoView(), ""`)
	b.Shot("portal-reference")

	// The plain tables, and back.
	b.Do(chromedp.Click(chromedp.CSS("#reference-toggle")))
	b.WaitFor("#server-reference #op-get--accounts--accountid--balances")
	if got := b.Eval(`String(document.getElementById("reference-ui").hidden)`); got != "true" {
		t.Errorf("plain tables chosen, interactive reference hidden=%s", got)
	}
	b.Do(chromedp.Click(chromedp.CSS("#reference-toggle")))
	b.WaitFor("#reference-ui .opblock")

	// The page in Chinese: the chrome around the renderer is translated.
	b.Do(chromedp.Navigate(e.srv.URL + "/portal/apis/qingshan-accounts?lang=zh"))
	b.WaitFor("#reference-ui .opblock")
	zh := b.Text("main")
	for _, want := range []string{"参考文档", "下载 OpenAPI 文档（JSON）", "以纯表格显示", "操作", "List accounts"} {
		if !strings.Contains(zh, want) {
			t.Errorf("the Chinese page does not show %q:\n%.1500s", want, zh)
		}
	}

	if v := b.Eval(`window.__csp.join("\n")`); v != "" {
		t.Errorf("Content-Security-Policy violations:\n%s", v)
	}
	mu.Lock()
	defer mu.Unlock()
	seen := strings.Join(requests, "\n")
	for _, want := range []string{"/portal/static/vendor/swagger-ui/swagger-ui-bundle.js?v=", "/portal/apis/qingshan-accounts/openapi.json"} {
		if !strings.Contains(seen, want) {
			t.Errorf("no request for %s among:\n%s", want, seen)
		}
	}
	for _, r := range requests {
		u, err := url.Parse(r)
		if err != nil || (u.Scheme != "data" && u.Host != srv.Host) {
			t.Errorf("a request left the portal: %s", r)
		}
	}
}
