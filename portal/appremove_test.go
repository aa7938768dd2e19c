package portal_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/audit"
	"github.com/obhub/obhub/portal"
)

// recorded is a portal whose change records are kept for the test.
func recorded(t *testing.T) (*env, func() []audit.Record) {
	t.Helper()
	var mu sync.Mutex
	var recs []audit.Record
	e := newEnv(t, func(c *portal.Config) {
		c.Record = func(r audit.Record) error {
			mu.Lock()
			defer mu.Unlock()
			recs = append(recs, r)
			return nil
		}
	})
	return e, func() []audit.Record {
		mu.Lock()
		defer mu.Unlock()
		return append([]audit.Record(nil), recs...)
	}
}

// lastRecord fails unless the newest change record is verb on object.
func lastRecord(t *testing.T, recs []audit.Record, verb, object string) audit.Record {
	t.Helper()
	if len(recs) == 0 {
		t.Fatalf("no change record, want %s of %s", verb, object)
	}
	r := recs[len(recs)-1]
	if r.Reason != verb || r.Object != object || !strings.HasPrefix(r.Actor, "portal:") || r.Before == "" {
		t.Fatalf("last record = %+v, want %s of %s with the state before", r, verb, object)
	}
	return r
}

func (e *env) subscribed(t testing.TB, clientID, product string) bool {
	t.Helper()
	_, err := e.store.Subscription(context.Background(), clientID, product)
	if err != nil && obhub.ErrorCode(err) != obhub.ENOTFOUND {
		t.Fatal(err)
	}
	return err == nil
}

// TestCancelSubscription: the app page links each subscription to a
// confirmation saying the calls stop at once; confirming (POST with the
// CSRF token) deletes it, records "unsubscribe" with the subscription
// before, and redirects to the app page, which names the product. Another
// partner gets 404; without the CSRF token 403; nothing is cancelled by
// a GET or by a forged outcome in the URL.
func TestCancelSubscription(t *testing.T) {
	e, recs := recorded(t)
	alpha, beta, id, path := twoPartners(t, e)
	for _, product := range []string{"accounts", "accounts-premium"} {
		if p := alpha.post(path+"/subscriptions", url.Values{"csrf_token": {alpha.csrf(path)}, "product": {product}}); p.status != http.StatusOK {
			t.Fatalf("subscribe %s: %d", product, p.status)
		}
	}
	cancel := path + "/subscriptions/accounts/cancel"
	mustContain(t, alpha.get(path), `href="`+cancel+`"`, "Cancel subscription")

	p := alpha.get(cancel)
	if p.status != http.StatusOK {
		t.Fatalf("confirmation: %d", p.status)
	}
	mustContain(t, p, "Cancel the subscription to Accounts of Alpha web?", "stop at once", `action="`+cancel+`"`, `name="csrf_token"`)
	if !e.subscribed(t, id, "accounts") {
		t.Fatal("the confirmation page cancelled the subscription")
	}
	if p := alpha.post(cancel, url.Values{"csrf_token": {"forged"}}); p.status != http.StatusForbidden || !e.subscribed(t, id, "accounts") {
		t.Fatalf("without the CSRF token: %d", p.status)
	}
	for _, p := range []page{beta.get(cancel), beta.post(cancel, url.Values{"csrf_token": {beta.csrf("/portal/apps")}})} {
		if p.status != http.StatusNotFound {
			t.Errorf("another partner: %d, want 404", p.status)
		}
	}
	if p := alpha.get(path + "/subscriptions/payments/cancel"); p.status != http.StatusNotFound {
		t.Errorf("a product not subscribed: %d, want 404", p.status)
	}

	p = alpha.post(cancel, url.Values{"csrf_token": {alpha.csrf(cancel)}})
	if p.status != http.StatusOK || p.url != path {
		t.Fatalf("cancel: %d at %s", p.status, p.url)
	}
	mustContain(t, p, "The subscription to Accounts is cancelled")
	if e.subscribed(t, id, "accounts") || !e.subscribed(t, id, "accounts-premium") {
		t.Error("the wrong subscriptions are left")
	}
	lastRecord(t, recs(), "unsubscribe", "apps/"+id+"/subscriptions/accounts")
	if p := alpha.post(cancel, url.Values{"csrf_token": {alpha.csrf(path)}}); p.status != http.StatusNotFound {
		t.Errorf("cancelled twice: %d, want 404", p.status)
	}
	// The outcome shows only what the store says: not for a product still
	// subscribed, nor for free text.
	mustNotContain(t, alpha.get(path+"?done=unsubscribed&product=accounts-premium"), "is cancelled")
	mustNotContain(t, alpha.get(path+"?done=unsubscribed&product=%3Cb%3Ehi"), "is cancelled", "<b>hi")
	if zh := alpha.get(path + "?done=unsubscribed&product=accounts&lang=zh"); !strings.Contains(zh.body, "已取消 Accounts 的订阅") {
		t.Error("the Chinese outcome is missing")
	}
}

// TestProductionSubscriptionCancelIsForOwners: cancelling follows the
// rule for subscribing: on a production app a developer gets 403 and sees
// no link; the owner cancels.
func TestProductionSubscriptionCancelIsForOwners(t *testing.T) {
	e := newEnv(t)
	owner := e.teamOf("Alpha Pay", "owner@alpha.example")
	if _, err := e.store.ApprovePartner(context.Background(), e.partnerOf("owner@alpha.example")); err != nil {
		t.Fatal(err)
	}
	id, _ := owner.createAppIn("Live", "production")
	path := "/portal/apps/" + id
	if p := owner.post(path+"/subscriptions", url.Values{"csrf_token": {owner.csrf(path)}, "product": {"accounts"}}); p.status != http.StatusOK {
		t.Fatalf("subscribe: %d", p.status)
	}
	dev := e.invite(owner, "dev@alpha.example")
	cancel := path + "/subscriptions/accounts/cancel"
	mustNotContain(t, dev.get(path), cancel, "delete-link")
	for _, p := range []page{dev.get(cancel), dev.post(cancel, url.Values{"csrf_token": {dev.csrf(path)}})} {
		if p.status != http.StatusForbidden {
			t.Errorf("developer: %d, want 403", p.status)
		}
	}
	if !e.subscribed(t, id, "accounts") {
		t.Fatal("a developer cancelled a production subscription")
	}
	if p := owner.post(cancel, url.Values{"csrf_token": {owner.csrf(path)}}); p.status != http.StatusOK || e.subscribed(t, id, "accounts") {
		t.Fatalf("owner cancelling: %d", p.status)
	}
}

// TestDeleteApp: an owner deletes an app after a confirmation that names
// its subscriptions and says its credentials stop at once (a production
// app's says so too); the app and its subscriptions are gone, "delete" is
// recorded with both, and the apps page says it. A developer gets 403
// even on a sandbox app, another partner 404, a POST without the CSRF
// token 403.
func TestDeleteApp(t *testing.T) {
	e, recs := recorded(t)
	owner := e.teamOf("Alpha Pay", "owner@alpha.example")
	id, _ := owner.createApp("Alpha web")
	path := "/portal/apps/" + id
	if p := owner.post(path+"/subscriptions", url.Values{"csrf_token": {owner.csrf(path)}, "product": {"accounts"}}); p.status != http.StatusOK {
		t.Fatalf("subscribe: %d", p.status)
	}
	del := path + "/delete"
	mustContain(t, owner.get(path), `id="delete-link"`, `href="`+del+`"`)
	p := owner.get(del)
	if p.status != http.StatusOK {
		t.Fatalf("confirmation: %d", p.status)
	}
	mustContain(t, p, "Delete the app Alpha web?", "stop working at once", "Accounts (active)", `action="`+del+`"`)
	mustNotContain(t, p, "production app")

	dev := e.invite(owner, "dev@alpha.example")
	mustNotContain(t, dev.get(path), "delete-link")
	other := e.teamOf("Beta Loans", "ops@beta.example")
	for name, p := range map[string]page{
		"developer GET":  dev.get(del),
		"developer POST": dev.post(del, url.Values{"csrf_token": {dev.csrf(path)}}),
		"other partner":  other.post(del, url.Values{"csrf_token": {other.csrf("/portal/apps")}}),
		"no CSRF token":  owner.post(del, url.Values{"csrf_token": {"forged"}}),
	} {
		want := http.StatusForbidden
		if name == "other partner" {
			want = http.StatusNotFound
		}
		if p.status != want {
			t.Errorf("%s: %d, want %d", name, p.status, want)
		}
	}
	if _, err := e.store.App(context.Background(), id); err != nil {
		t.Fatalf("the app went before the owner confirmed: %v", err)
	}

	p = owner.post(del, url.Values{"csrf_token": {owner.csrf(del)}})
	if p.status != http.StatusOK || p.url != "/portal/apps" {
		t.Fatalf("delete: %d at %s", p.status, p.url)
	}
	mustContain(t, p, "The app is deleted")
	mustNotContain(t, p, path)
	if _, err := e.store.App(context.Background(), id); obhub.ErrorCode(err) != obhub.ENOTFOUND {
		t.Errorf("the app is still stored: %v", err)
	}
	if e.subscribed(t, id, "accounts") {
		t.Error("its subscription is still stored")
	}
	r := lastRecord(t, recs(), "delete", "apps/"+id)
	if !strings.Contains(r.Before, `"accounts"`) || !strings.Contains(r.Before, "Alpha web") || r.ClientID != id {
		t.Errorf("the record lacks the app and its subscriptions: %+v", r)
	}
	if p := owner.post(del, url.Values{"csrf_token": {owner.csrf("/portal/apps")}}); p.status != http.StatusNotFound {
		t.Errorf("deleted twice: %d, want 404", p.status)
	}

	// A production app may be deleted by its owner; the confirmation says
	// what that stops.
	if _, err := e.store.ApprovePartner(context.Background(), e.partnerOf("owner@alpha.example")); err != nil {
		t.Fatal(err)
	}
	liveID, _ := owner.createAppIn("Live", "production")
	live := "/portal/apps/" + liveID + "/delete"
	mustContain(t, owner.get(live), "This is a production app", "It has no subscriptions.")
	if zh := owner.get(live + "?lang=zh"); !strings.Contains(zh.body, "这是生产应用") {
		t.Error("the Chinese confirmation is missing")
	}
	if p := owner.post(live, url.Values{"csrf_token": {owner.csrf(live)}}); p.status != http.StatusOK || p.url != "/portal/apps" {
		t.Fatalf("delete the production app: %d at %s", p.status, p.url)
	}
}

// TestSuspendedAppShown: an app the alliance suspended says so on its
// page and in the apps list, in English and Chinese (calls and token
// requests refused, contact the alliance), and is not deleted from the
// portal (409).
func TestSuspendedAppShown(t *testing.T) {
	e := newEnv(t)
	owner := e.teamOf("Alpha Pay", "owner@alpha.example")
	id, _ := owner.createApp("Alpha web")
	path := "/portal/apps/" + id
	mustNotContain(t, owner.get(path), `id="suspended"`)
	mustNotContain(t, owner.get("/portal/apps"), `id="suspended"`)
	if _, err := e.store.SetAppSuspended(context.Background(), id, true); err != nil {
		t.Fatal(err)
	}
	mustContain(t, owner.get(path), `id="suspended"`, "suspended by the alliance", "refuses its calls", "token requests", "Contact the alliance")
	mustContain(t, owner.get("/portal/apps"), `id="suspended"`, "Suspended</span>", "Contact the alliance")
	mustContain(t, owner.get(path+"?lang=zh"), "此应用已被联盟暂停", "请联系联盟")
	mustContain(t, owner.get("/portal/apps?lang=zh"), "已暂停</span>", "请联系联盟")
	for _, p := range []page{owner.get(path + "/delete"), owner.post(path+"/delete", url.Values{"csrf_token": {owner.csrf(path)}})} {
		if p.status != http.StatusConflict {
			t.Errorf("deleting a suspended app: %d, want 409", p.status)
		}
	}
	if _, err := e.store.App(context.Background(), id); err != nil {
		t.Fatalf("the suspended app was deleted: %v", err)
	}
}
