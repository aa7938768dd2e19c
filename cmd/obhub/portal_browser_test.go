package main

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/obhub/obhub/internal/browsertest"
)

// TestBrowserTryIt drives a real headless Chromium against a real node
// (demo alliance): a developer signs up, an operator approves the
// organisation, the developer creates a sandbox app, sees its
// credentials once, subscribes it, opens the try-it console of the
// accounts API and sends a call — the page's script gets a token from
// the portal and calls the gateway's sandbox route with fetch — and sees
// status 200 and the sandbox's account in the response; then the usage
// page counts the call, and large text is switched on with the keyboard.
func TestBrowserTryIt(t *testing.T) {
	b := browsertest.Open(t, 1100, 820, 2*time.Minute)
	m := runMain(t, withDemo())
	h := newHub(t, m, testAdminToken)
	base := m.PublicURL
	b.Do(chromedp.EmulateViewport(1100, 1750))

	// Sign up.
	b.Do(chromedp.Navigate(base+"/portal/signup?lang=en"),
		chromedp.SendKeys(chromedp.CSS("#org"), "Green Valley Fintech"),
		chromedp.SendKeys(chromedp.CSS("#name"), "Li Ming"),
		chromedp.SendKeys(chromedp.CSS("#email"), "li@greenvalley.example"),
		chromedp.SendKeys(chromedp.CSS("#password"), "correct horse battery"),
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS("#message")), // check your mailbox
	)
	b.WaitLoaded()
	// The mailed link confirms the address and signs the browser in.
	b.Do(chromedp.Navigate(base+"/portal/verify#token="+mailedToken(t, m, "li@greenvalley.example")),
		chromedp.WaitVisible(chromedp.CSS("#token")))
	b.WaitLoaded()
	b.Do(chromedp.Submit(chromedp.CSS("#token")), chromedp.WaitVisible(chromedp.CSS("#message")))
	b.WaitLoaded()
	b.Do(chromedp.Navigate(base+"/portal/apps?lang=en"), chromedp.WaitVisible(chromedp.CSS("#sandbox-name")))
	b.WaitLoaded()
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
	b.Do(chromedp.SendKeys(chromedp.CSS("#sandbox-name"), "Farm ledger"),
		chromedp.Click(chromedp.CSS(`form[aria-labelledby="new-sandbox"] button`)),
		chromedp.WaitVisible(chromedp.CSS("#new-client-secret")),
	)
	b.WaitLoaded()
	clientID, secret := b.Text("#new-client-id"), b.Text("#new-client-secret")
	if !strings.HasPrefix(clientID, "app_") || !strings.HasPrefix(secret, "obs_") {
		t.Fatalf("credentials shown: %q %q", clientID, secret)
	}

	// Subscribe it to the starter product.
	b.Do(chromedp.Navigate(base+"/portal/apps/"+clientID),
		chromedp.WaitVisible(chromedp.CSS(`input[value="starter"]`)),
		chromedp.Click(chromedp.CSS(`input[value="starter"]`)),
		chromedp.Submit(chromedp.CSS(`input[value="starter"]`)),
		chromedp.WaitVisible(chromedp.CSS("#subscriptions")),
	)
	b.WaitLoaded()

	// From the reference page to the console, and a call.
	b.Do(chromedp.Navigate(base+"/portal/apis/qingshan-accounts"),
		chromedp.Click(chromedp.CSS(`a[href="/portal/apis/qingshan-accounts/try?op=op-get--accounts--accountid-"]`)),
		chromedp.WaitVisible(chromedp.CSS("#try-form")),
	)
	if v := b.Eval(`document.getElementById("f-p.path.accountId").value`); v != "qs-10001" {
		t.Errorf("accountId prefilled with %q, want the document's example qs-10001", v)
	}
	if sn := b.Text("#snippet-go"); !strings.Contains(sn, clientID) || strings.Contains(sn, secret) || !strings.Contains(sn, `os.Getenv("CLIENT_SECRET")`) {
		t.Errorf("Go snippet: want the client id and CLIENT_SECRET, never the secret:\n%s", sn)
	}
	// send sets the account id, presses Send and waits for the answer.
	send := func(account string) {
		t.Helper()
		b.Do(chromedp.SetValue(chromedp.CSS(`[id="f-p.path.accountId"]`), account),
			chromedp.Evaluate[chromedp.Void](`document.getElementById("try-status").textContent = ""`),
			chromedp.Click(chromedp.CSS("#try-send")))
		b.WaitUntil(`document.getElementById("try-status").textContent.length > 0`) // the response is shown
	}
	// Two calls the sandbox answers with errors first (an unknown
	// account: 404; an id the document's pattern refuses: 400 from the
	// gateway's validation), for the usage page; then the real one.
	send("qs-99999")
	if s := b.Text("#try-status"); !strings.HasPrefix(s, "404") {
		t.Errorf("unknown account: status %q, want 404", s)
	}
	send("Not An Id!")
	if s := b.Text("#try-status"); !strings.HasPrefix(s, "400") {
		t.Errorf("invalid account id: status %q, want 400", s)
	}
	send("qs-10001")
	status, resBody, request := b.Text("#try-status"), b.Text("#try-body-out"), b.Text("#try-request")
	if url := b.Eval(`location.pathname`); url != "/portal/apis/qingshan-accounts/try" {
		t.Errorf("the page changed to %s: the script did not send the call", url)
	}
	b.Do(chromedp.ScrollIntoView(chromedp.CSS("#try-op-h")))
	b.Shot("portal-tryit")
	b.Do(chromedp.ScrollIntoView(chromedp.CSS("#snippets-h")))
	b.Shot("portal-snippets")
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
		b.Do(chromedp.Navigate(base + "/portal/apps/" + clientID + "/usage"))
		if b.Text("#total-calls") == "3" || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := b.Text("#total-calls"); n != "3" {
		t.Errorf("usage page: %s calls, want 3", n)
	}
	if title := b.Eval(`document.querySelector("#calls-chart title").textContent`); title != "Calls" {
		t.Errorf("calls chart title %q", title)
	}
	if q := b.Text("#quotas"); !strings.Contains(q, "99997") {
		t.Errorf("quota table: %q, want 99997 of 100000 left (the invalid call was counted before validation refused it)", q)
	}
	b.Shot("portal-usage")

	// Large text, with the keyboard: focus the switch and press Enter.
	before := b.Eval(`getComputedStyle(document.documentElement).fontSize`)
	b.Do(chromedp.Focus(chromedp.CSS("a.ts-large")), chromedp.KeyEvent("\r"), chromedp.WaitVisible(chromedp.CSS("a.ts-normal")))
	b.WaitLoaded()
	after := b.Eval(`getComputedStyle(document.documentElement).fontSize`)
	if before != "16px" || after != "20px" || b.Eval(`location.pathname`) != "/portal/apps/"+clientID+"/usage" {
		t.Errorf("large text: font %s → %s at %s; want 16px → 20px on the same page", before, after, b.Eval(`location.pathname`))
	}
	b.Shot("portal-usage-large")
	b.Do(chromedp.Click(chromedp.CSS("a.ts-normal")), chromedp.WaitVisible(chromedp.CSS("a.ts-large")))
	if f := b.Eval(`getComputedStyle(document.documentElement).fontSize`); f != "16px" {
		t.Errorf("normal text again: %s", f)
	}
}
