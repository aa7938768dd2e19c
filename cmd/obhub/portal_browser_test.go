package main

import (
	"flag"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

var screenshots = flag.Bool("screenshots", false, "write the portal's try-it and usage screenshots to docs/screenshots")

// TestBrowserTryIt drives a real headless Chromium against a real node
// (demo alliance): a developer signs up, an operator approves the
// organisation, the developer creates a sandbox app, sees its
// credentials once, subscribes it, opens the try-it console of the
// accounts API and sends a call — the page's script gets a token from
// the portal and calls the gateway's sandbox route with fetch — and sees
// status 200 and the sandbox's account in the response; then the usage
// page counts the call, and large text is switched on with the keyboard.
func TestBrowserTryIt(t *testing.T) {
	b := startChromium(t) // browser_flow_test.go
	m := runMain(t, withDemo())
	h := newHub(t, m, testAdminToken)
	ctx := b.ctx
	base := m.PublicURL
	do, text := b.do, func(sel chromedp.CSS) string { t.Helper(); return b.text(string(sel)) }
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
		if err := os.WriteFile(filepath.Join("..", "..", "docs", "screenshots", name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	do(chromedp.EmulateViewport(1100, 1750))

	// Sign up.
	do(chromedp.Navigate(base+"/portal/signup?lang=en"),
		chromedp.SendKeys(chromedp.CSS("#org"), "Green Valley Fintech"),
		chromedp.SendKeys(chromedp.CSS("#name"), "Li Ming"),
		chromedp.SendKeys(chromedp.CSS("#email"), "li@greenvalley.example"),
		chromedp.SendKeys(chromedp.CSS("#password"), "correct horse battery"),
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS("#sandbox-name")),
	)
	// An alliance operator approves the organisation (the gateway serves
	// approved partners only, in the sandbox too).
	var partners struct {
		Items []struct{ ID, Name string } `json:"items"`
	}
	h.adminCall(t, "GET", "/partners?limit=100", nil, 200, &partners)
	for _, p := range partners.Items {
		if p.Name == "Green Valley Fintech" {
			h.adminCall(t, "POST", "/partners/"+url.PathEscape(p.ID)+"/approve", nil, 200, nil)
		}
	}

	// A sandbox app: credentials shown once.
	do(chromedp.SendKeys(chromedp.CSS("#sandbox-name"), "Farm ledger"),
		chromedp.Click(chromedp.CSS(`form[aria-labelledby="new-sandbox"] button`)),
		chromedp.WaitVisible(chromedp.CSS("#new-client-secret")),
	)
	clientID, secret := text("#new-client-id"), text("#new-client-secret")
	if !strings.HasPrefix(clientID, "app_") || !strings.HasPrefix(secret, "obs_") {
		t.Fatalf("credentials shown: %q %q", clientID, secret)
	}

	// Subscribe it to the starter product.
	do(chromedp.Navigate(base+"/portal/apps/"+clientID),
		chromedp.WaitVisible(chromedp.CSS(`input[value="starter"]`)),
		chromedp.Click(chromedp.CSS(`input[value="starter"]`)),
		chromedp.Submit(chromedp.CSS(`input[value="starter"]`)),
		chromedp.WaitVisible(chromedp.CSS("#subscriptions")),
	)

	// From the reference page to the console, and a call.
	do(chromedp.Navigate(base+"/portal/apis/qingshan-accounts"),
		chromedp.Click(chromedp.CSS(`a[href="/portal/apis/qingshan-accounts/try?op=op-get--accounts--accountid-"]`)),
		chromedp.WaitVisible(chromedp.CSS("#try-form")),
	)
	if v := eval(`document.getElementById("f-p.path.accountId").value`); v != "qs-10001" {
		t.Errorf("accountId prefilled with %q, want the document's example qs-10001", v)
	}
	if sn := text("#snippet-go"); !strings.Contains(sn, clientID) || strings.Contains(sn, secret) || !strings.Contains(sn, `os.Getenv("CLIENT_SECRET")`) {
		t.Errorf("Go snippet: want the client id and CLIENT_SECRET, never the secret:\n%s", sn)
	}
	// send sets the account id, presses Send and waits for the answer.
	send := func(account string) {
		t.Helper()
		do(chromedp.SetValue(chromedp.CSS(`[id="f-p.path.accountId"]`), account),
			chromedp.Evaluate[chromedp.Void](`document.getElementById("try-status").textContent = ""`),
			chromedp.Click(chromedp.CSS("#try-send")))
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("try-status").textContent.length > 0`,
			chromedp.WithPollingTimeout(20*time.Second))); err != nil {
			t.Fatalf("no response shown: %v", err)
		}
	}
	// Two calls the sandbox answers with errors first (an unknown
	// account: 404; an id the document's pattern refuses: 400 from the
	// gateway's validation), for the usage page; then the real one.
	send("qs-99999")
	if s := text("#try-status"); !strings.HasPrefix(s, "404") {
		t.Errorf("unknown account: status %q, want 404", s)
	}
	send("Not An Id!")
	if s := text("#try-status"); !strings.HasPrefix(s, "400") {
		t.Errorf("invalid account id: status %q, want 400", s)
	}
	send("qs-10001")
	status, resBody, request := text("#try-status"), text("#try-body-out"), text("#try-request")
	if url := eval(`location.pathname`); url != "/portal/apis/qingshan-accounts/try" {
		t.Errorf("the page changed to %s: the script did not send the call", url)
	}
	do(chromedp.ScrollIntoView(chromedp.CSS("#try-op-h")))
	shot("portal-tryit")
	do(chromedp.ScrollIntoView(chromedp.CSS("#snippets-h")))
	shot("portal-snippets")
	if !strings.HasPrefix(status, "200") {
		t.Errorf("status shown %q, want 200", status)
	}
	if !strings.Contains(resBody, `"accountId": "qs-10001"`) || !strings.Contains(resBody, "holderName") {
		t.Errorf("response body shown:\n%s", resBody)
	}
	if !strings.Contains(request, "GET "+base+"/sandbox/qingshan-rcb/open-banking/accounts/v1/accounts/qs-10001") {
		t.Errorf("request shown %q", request)
	}

	// The usage page counts the call (the audit writer may lag a little).
	deadline := time.Now().Add(10 * time.Second)
	for {
		do(chromedp.Navigate(base + "/portal/apps/" + clientID + "/usage"))
		if text("#total-calls") == "3" || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := text("#total-calls"); n != "3" {
		t.Errorf("usage page: %s calls, want 3", n)
	}
	if title := eval(`document.querySelector("#calls-chart title").textContent`); title != "Calls" {
		t.Errorf("calls chart title %q", title)
	}
	if q := text("#quotas"); !strings.Contains(q, "99997") {
		t.Errorf("quota table: %q, want 99997 of 100000 left (the invalid call was counted before validation refused it)", q)
	}
	shot("portal-usage")

	// Large text, with the keyboard: focus the switch and press Enter.
	before := eval(`getComputedStyle(document.documentElement).fontSize`)
	do(chromedp.Focus(chromedp.CSS("a.ts-large")), chromedp.KeyEvent("\r"), chromedp.WaitVisible(chromedp.CSS("a.ts-normal")))
	after := eval(`getComputedStyle(document.documentElement).fontSize`)
	if before != "16px" || after != "20px" || eval(`location.pathname`) != "/portal/apps/"+clientID+"/usage" {
		t.Errorf("large text: font %s → %s at %s; want 16px → 20px on the same page", before, after, eval(`location.pathname`))
	}
	shot("portal-usage-large")
	do(chromedp.Click(chromedp.CSS("a.ts-normal")), chromedp.WaitVisible(chromedp.CSS("a.ts-large")))
	if f := eval(`getComputedStyle(document.documentElement).fontSize`); f != "16px" {
		t.Errorf("normal text again: %s", f)
	}
}
