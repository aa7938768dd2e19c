package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/obhub/obhub/demo"
	"github.com/obhub/obhub/internal/browsertest"
	"github.com/obhub/obhub/internal/mail"
)

// createOperator makes a console operator through the setup form with
// the admin token, over plain HTTP.
func createOperator(t *testing.T, m *Main, name, email, role, bank string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.Get(m.AdminURL + "/console/setup")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	mm := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindSubmatch(body)
	if mm == nil {
		t.Fatal("no CSRF token on the setup form")
	}
	resp, err = c.PostForm(m.AdminURL+"/console/setup", url.Values{
		"csrf_token": {string(mm[1])}, "admin_token": {testAdminToken},
		"name": {name}, "email": {email}, "password": {flowPassword}, "role": {role}, "bank": {bank},
	})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("setup of operator %s: %d", email, resp.StatusCode)
	}
}

const flowPassword = "correct horse battery"

// mailedToken returns the token of the newest link mailed to address,
// read from the node's outbox.
func mailedToken(t *testing.T, m *Main, address string) string {
	t.Helper()
	msgs, err := m.portalStore.ListMail(context.Background(), mail.Query{To: address, Limit: 1})
	if err != nil || len(msgs) == 0 {
		t.Fatalf("no mail to %s in the outbox (%v)", address, err)
	}
	mm := regexp.MustCompile(`#token=([A-Za-z0-9_-]+)`).FindStringSubmatch(msgs[0].Text)
	if mm == nil {
		t.Fatalf("the mail to %s has no link:\n%s", address, msgs[0].Text)
	}
	return mm[1]
}

// TestBrowserProductionAccessFlow drives both listeners of one real node
// with a real Chromium: a fintech developer signs up in the portal and
// finds production access waiting for approval; an alliance admin
// approves the partner in the console's approvals queue; the developer
// creates a production app and sees its credentials once, and they work
// at the token endpoint. The admin then finds the production app on the
// console's apps page, suspends it (the gateway refuses its calls, with
// the token it already has) and reactivates it (they go through again).
func TestBrowserProductionAccessFlow(t *testing.T) {
	b := browsertest.Open(t, 1100, 820, 2*time.Minute)
	m := runMain(t, withDemo())
	h := newHub(t, m, testAdminToken)
	createOperator(t, m, "Wang Fang", "wang@alliance.example", "alliance-admin", "")

	// The developer signs up: a new partner, pending.
	b.Do(chromedp.Navigate(m.PublicURL+"/portal/signup?lang=en"),
		chromedp.SendKeys(chromedp.CSS("#org"), "Terraced Fields Credit"),
		chromedp.SendKeys(chromedp.CSS("#name"), "Zhao Lei"),
		chromedp.SendKeys(chromedp.CSS("#email"), "zhao@terraced.example"),
		chromedp.SendKeys(chromedp.CSS("#password"), flowPassword),
		chromedp.Submit(chromedp.CSS("#password")))
	b.WaitFor("#message") // check your mailbox: no session yet
	b.WaitLoaded()
	// The address is confirmed with the link the portal mailed (kept in
	// the node's outbox), which signs the browser in.
	b.Do(chromedp.Navigate(m.PublicURL + "/portal/verify#token=" + mailedToken(t, m, "zhao@terraced.example")))
	b.WaitFor("#token")
	b.Do(chromedp.Submit(chromedp.CSS("#token")))
	b.WaitFor("#message")
	b.WaitLoaded()
	b.Do(chromedp.Navigate(m.PublicURL + "/portal/apps?lang=en"))
	b.WaitFor("#prod-pending")
	if n := b.Count("#prod-name"); n != 0 {
		t.Fatal("a pending partner is offered a production app")
	}
	var list struct {
		Items []struct{ ID, Name, Status string }
	}
	h.adminCall(t, http.MethodGet, "/partners?limit=500", nil, http.StatusOK, &list)
	partner := ""
	for _, p := range list.Items {
		if p.Name == "Terraced Fields Credit" {
			partner = p.ID
			if p.Status != "pending" {
				t.Errorf("a new partner is %s, want pending", p.Status)
			}
		}
	}
	if partner == "" {
		t.Fatalf("the new partner is not in the admin API: %+v", list.Items)
	}

	// The alliance admin approves it in the console.
	b.Do(chromedp.Navigate(m.AdminURL+"/console/signin?lang=en"),
		chromedp.SendKeys(chromedp.CSS("#email"), "wang@alliance.example"),
		chromedp.SendKeys(chromedp.CSS("#password"), flowPassword),
		chromedp.Submit(chromedp.CSS("#password")))
	b.WaitFor("#partner-" + partner)
	b.WaitLoaded()
	if row := b.Text("#partner-" + partner); !strings.Contains(row, "Terraced Fields Credit") {
		t.Errorf("the approvals queue row: %q", row)
	}
	b.Do(chromedp.Click(chromedp.CSS("#partner-" + partner + " button.primary")))
	b.WaitFor("#flash")
	b.WaitLoaded()
	if flash := b.Text("#flash"); !strings.Contains(flash, "Terraced Fields Credit is approved") {
		t.Errorf("after approval the console says %q", flash)
	}
	if n := b.Count("#partner-" + partner); n != 0 {
		t.Error("the approved partner is still in the queue")
	}

	// The developer creates a production app: its secret is shown once.
	b.Do(chromedp.Navigate(m.PublicURL + "/portal/apps?lang=en"))
	b.WaitFor("#prod-name")
	b.Do(chromedp.SendKeys(chromedp.CSS("#prod-name"), "Terraced payments"),
		chromedp.Click(chromedp.CSS(`form[aria-labelledby="new-prod"] button`)))
	b.WaitFor("#new-client-secret")
	b.WaitLoaded()
	clientID, secret := b.Text("#new-client-id"), b.Text("#new-client-secret")
	if !strings.HasPrefix(clientID, "app_") || len(secret) < 20 {
		t.Fatalf("production credentials shown: %q / %q", clientID, secret)
	}
	if list := b.Text("#app-list"); !strings.Contains(list, "Terraced payments") || !strings.Contains(list, "production") {
		t.Errorf("the apps list after creation:\n%s", list)
	}
	b.Do(chromedp.Reload())
	b.WaitFor("#app-list")
	if n := b.Count("#new-client-secret"); n != 0 {
		t.Error("the client secret is shown again after a reload")
	}
	if strings.Contains(b.Text("body"), secret) {
		t.Error("the client secret appears on the page after a reload")
	}
	// The credentials are real: the token endpoint issues a token.
	if tok := h.token(t, clientID, secret, ""); tok == "" {
		t.Error("no token for the production app")
	}

	// The alliance admin sees the production app in the console.
	b.Do(chromedp.Navigate(m.AdminURL + "/console/apps?lang=en"))
	b.WaitFor("#app-" + clientID)
	if row := b.Text("#app-" + clientID); !strings.Contains(row, "production") || !strings.Contains(row, "Terraced Fields Credit") {
		t.Errorf("console apps row: %q", row)
	}

	// Suspension from the console stops the app's calls at the gateway,
	// with the token it already holds, and reactivation lets them through.
	var sub struct{ Status string }
	h.adminCall(t, http.MethodPost, "/apps/"+clientID+"/subscriptions", map[string]string{"product": demo.StarterProduct}, http.StatusCreated, &sub)
	if sub.Status != "active" {
		t.Fatalf("subscription to %s: %s", demo.StarterProduct, sub.Status)
	}
	accounts := "/" + demo.Qingshan + demo.AccountsBasePath + "/accounts"
	tok := h.token(t, clientID, secret, "")
	callStatus := func(want int) func() string {
		return func() string {
			if r := h.call(t, http.MethodGet, accounts, tok, nil); r.status != want {
				return fmt.Sprintf("GET %s answers %s, want %d", accounts, r, want)
			}
			return ""
		}
	}
	eventually(t, 5*time.Second, callStatus(http.StatusOK))
	b.Do(chromedp.Click(chromedp.CSS("#app-" + clientID + " a")))
	b.WaitFor("#suspend")
	b.WaitLoaded()
	// A production app: the console asks first, saying what stops.
	b.Do(chromedp.Click(chromedp.CSS("#suspend")))
	b.WaitFor("#confirm")
	b.WaitLoaded()
	if what := b.Text("#confirm-what"); !strings.Contains(what, "production app") {
		t.Errorf("the suspension's confirmation says %q", what)
	}
	b.Do(chromedp.Click(chromedp.CSS("#confirm")))
	b.WaitFor("#reactivate")
	b.WaitLoaded()
	if flash := b.Text("#flash"); !strings.Contains(flash, "is suspended") {
		t.Errorf("after suspension the console says %q", flash)
	}
	eventually(t, 5*time.Second, callStatus(http.StatusForbidden))
	wantProblem(t, h.call(t, http.MethodGet, accounts, tok, nil), http.StatusForbidden, "forbidden")
	b.Do(chromedp.Click(chromedp.CSS("#reactivate")))
	b.WaitFor("#suspend")
	eventually(t, 5*time.Second, callStatus(http.StatusOK))
}
