package main

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"testing"
	"time"
)

// TestPortalAppRemovalEndToEnd: on a real node, cancelling a
// subscription in the portal makes the gateway refuse the app's calls to
// the product's APIs, and deleting the app makes the token endpoint refuse
// its credentials and the gateway refuse the token it already holds.
func TestPortalAppRemovalEndToEnd(t *testing.T) {
	m := runMain(t, withDemo())
	h := newHub(t, m, testAdminToken)
	u := newPortalUser(t, m)
	const email = "li.ming@tiller.example"
	app := onboard(t, m, h, u, "Tiller Farm Apps", email) // approved, a sandbox app subscribed to "starter"
	if st, _ := u.post("/portal/verify", "/portal/verify", url.Values{"token": {mailedToken(t, m, email)}}); st != http.StatusOK {
		t.Fatalf("verify: %d", st)
	}
	path := "/portal/apps/" + app
	st, body := u.post(path, path+"/secret", url.Values{"overlap": {"0s"}})
	sec := regexp.MustCompile(`id="rotated-client-secret">(obs_[A-Za-z0-9_-]+)<`).FindStringSubmatch(body)
	if st != http.StatusOK || sec == nil {
		t.Fatalf("rotate the secret: %d", st)
	}
	token := h.token(t, app, sec[1], "")
	const accounts = "/sandbox/qingshan-rcb/open-banking/accounts/v1/accounts"
	callIs := func(want int) func() string {
		return func() string {
			if r := h.call(t, "GET", accounts, token, nil); r.status != want {
				return fmt.Sprintf("GET %s: %s, want %d", accounts, r, want)
			}
			return ""
		}
	}
	eventually(t, 10*time.Second, callIs(http.StatusOK))

	cancel := path + "/subscriptions/starter/cancel"
	if st, body := u.post(cancel, cancel, url.Values{}); st != http.StatusOK {
		t.Fatalf("cancel the subscription: %d\n%.2000s", st, body)
	}
	eventually(t, 10*time.Second, callIs(http.StatusForbidden))

	del := path + "/delete"
	if st, body := u.post(del, del, url.Values{}); st != http.StatusOK {
		t.Fatalf("delete the app: %d\n%.2000s", st, body)
	}
	eventually(t, 10*time.Second, callIs(http.StatusUnauthorized))
	if st, code := h.tokenStatus(t, app, sec[1]); st != http.StatusUnauthorized || code != "invalid_client" {
		t.Errorf("token for the deleted app: %d %s, want 401 invalid_client", st, code)
	}
}
