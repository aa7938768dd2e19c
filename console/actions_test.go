package console_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/obhub/obhub/audit"
	"github.com/obhub/obhub/catalog"
	"github.com/obhub/obhub/console"
	"github.com/obhub/obhub/partners"
)

// postNoFollow posts form and returns the answer's status and Location,
// without following a redirect.
func (b *browser) postNoFollow(path string, form url.Values) (int, string) {
	b.e.t.Helper()
	c := *b.c
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.PostForm(b.e.srv.URL+path, form)
	if err != nil {
		b.e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location")
}

// A change the store refuses is shown on the page the action came from,
// in the page's language, with the store's detail and the field it
// names; the sunset date offers tomorrow at the earliest.
func TestRefusedActionShownOnItsPage(t *testing.T) {
	e := newEnv(t)
	admin := e.operator("admin@alliance.example", console.RoleAllianceAdmin, "")
	tomorrow := time.Now().UTC().AddDate(0, 0, 1).Format("2006-01-02")
	mustContain(t, admin.get("/console/apis"), `name="sunset" type="date" min="`+tomorrow+`"`)
	yesterday := time.Now().UTC().AddDate(0, 0, -1).Format("2006-01-02")
	for _, tt := range []struct {
		lang, sunset string
		want         []string
	}{
		{"en", yesterday, []string{"Sunset date: must be in the future", "Please correct the following:"}},
		{"zh", yesterday, []string{"停用日期：须为将来的日期", "请更正以下内容："}},
		{"en", "30/06/2027", []string{"Sunset date: must be a date written YYYY-MM-DD"}},
	} {
		admin.get("/console/apis?lang=" + tt.lang)
		p := admin.post("/console/apis/hexi-loans/deprecate", url.Values{"csrf_token": {admin.csrf("/console/apis")}, "sunset": {tt.sunset}})
		if p.status != http.StatusUnprocessableEntity {
			t.Errorf("%s %s: %d, want 422", tt.lang, tt.sunset, p.status)
		}
		mustContain(t, p, tt.want...)
		mustContain(t, p, `id="api-list"`, `id="api-hexi-loans"`)
		mustNotContain(t, p, "Something went wrong", "出错了", "invalid sunset")
	}
	admin.get("/console/apis?lang=en")
	if a, _ := e.store.API(context.Background(), "hexi-loans"); a.Status != catalog.StatusPublished {
		t.Errorf("a refused deprecation changed the API: %s", a.Status)
	}
	// A conflict: 409 on the same page, with the store's reason.
	p := admin.post("/console/apis/hexi-loans/publish", url.Values{"csrf_token": {admin.csrf("/console/apis")}})
	if p.status != http.StatusConflict {
		t.Errorf("publishing a published API: %d", p.status)
	}
	mustContain(t, p, `id="api-list"`, "cannot publish API")
	tok := admin.csrf("/console/approvals")
	admin.post("/console/partners/green-valley/approve", url.Values{"csrf_token": {tok}})
	p = admin.post("/console/partners/green-valley/reject", url.Values{"csrf_token": {tok}, "confirm": {"yes"}})
	if p.status != http.StatusConflict {
		t.Errorf("rejecting an approved partner: %d", p.status)
	}
	mustContain(t, p, "Partners waiting for approval", "only a pending partner can be rejected")
	if n := len(e.recorded()); n != 1 {
		t.Errorf("refused actions recorded: %d changes, want only the approval", n)
	}
}

// A change that succeeds is answered with 303 to the object's page, whose
// query names the outcome by a fixed key: reloading it posts nothing, and
// the page writes the message with the object's name as it knows it.
func TestChangesRedirectAfterPost(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	admin := e.operator("admin@alliance.example", console.RoleAllianceAdmin, "")
	tok := admin.csrf("/console/approvals")
	for _, tt := range []struct {
		path     string
		form     url.Values
		location string
		flash    string
	}{
		{"/console/partners/green-valley/approve", nil, "/console/approvals?done=approved&partner=green-valley", "Green Valley Fintech is approved"},
		{"/console/subscriptions/approve", url.Values{"client_id": {e.greenApp}, "product": {"qingshan-premium"}},
			"/console/approvals?client_id=" + e.greenApp + "&done=sub-approved&product=qingshan-premium", "The subscription of Green Valley Fintech sandbox to Qingshan Premium is active."},
		{"/console/subscriptions/reject", url.Values{"client_id": {e.riverApp}, "product": {"hexi-premium"}},
			"/console/approvals?client_id=" + e.riverApp + "&done=sub-rejected&product=hexi-premium", "The subscription of River Pay sandbox to Hexi Premium was rejected."},
		{"/console/apis/hexi-loans/deprecate", url.Values{"sunset": {"2099-06-30"}}, "/console/apis?api=hexi-loans&done=deprecate", "is deprecated."},
		{"/console/apps/" + e.greenApp + "/suspend", nil, "/console/apps/" + e.greenApp + "?done=suspend", "is suspended"},
		{"/console/products/new", url.Values{"id": {"basic"}, "name": {"Basic"}, "apis": {"hexi-accounts"}, "approval": {"auto"}},
			"/console/products?done=saved&product=basic", "Basic is saved"},
		{"/console/operators", url.Values{"name": {"Li Na"}, "email": {"li@qingshan.example"}, "password": {password}, "role": {console.RoleAuditor}},
			"", "Operator li@qingshan.example created."},
	} {
		form := url.Values{"csrf_token": {tok}}
		for k, v := range tt.form {
			form[k] = v
		}
		status, loc := admin.postNoFollow(tt.path, form)
		if status != http.StatusSeeOther || tt.location != "" && loc != tt.location {
			t.Errorf("POST %s: %d to %q, want 303 to %q", tt.path, status, loc, tt.location)
			continue
		}
		n := len(e.recorded())
		p := admin.get(loc)
		if p.status != http.StatusOK {
			t.Errorf("GET %s: %d", loc, p.status)
		}
		mustContain(t, p, `id="flash"`, tt.flash)
		admin.get(loc) // a reload changes nothing
		if len(e.recorded()) != n {
			t.Errorf("reloading %s recorded a change", loc)
		}
	}
	if got, _ := e.store.Partner(ctx, "green-valley"); got.Status != partners.PartnerApproved {
		t.Errorf("partner after approval: %s", got.Status)
	}
	// The message is the console's own: a query names no text, and an
	// object outside the page shows none.
	for _, path := range []string{"/console/apis?done=%3Cb%3Eevil&api=hexi-loans", "/console/apis?done=publish&api=evil",
		"/console/approvals?done=approved&partner=%3Cb%3E", "/console/products?done=saved&product=evil"} {
		p := admin.get(path)
		mustNotContain(t, p, `id="flash"`, "evil", "<b>")
	}
	// The setup page says an operator was made, never whom.
	anon := e.browser()
	status, loc := anon.postNoFollow("/console/setup", url.Values{"csrf_token": {anon.csrf("/console/setup")}, "admin_token": {adminToken},
		"name": {"Zhao"}, "email": {"zhao@alliance.example"}, "password": {password}, "role": {console.RoleAllianceAdmin}})
	if status != http.StatusSeeOther || loc != "/console/setup?done=created" {
		t.Errorf("setup: %d to %q", status, loc)
	}
	p := anon.get(loc)
	mustContain(t, p, "The operator is created.")
	mustNotContain(t, p, "zhao@alliance.example")
}

// Rejecting a partner, retiring an API and suspending a production app
// ask first, on a page saying what goes with it; the operator's reason
// is kept in the change's audit record.
func TestDestructiveActionsAskFirst(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	admin := e.operator("admin@alliance.example", console.RoleAllianceAdmin, "")
	tok := admin.csrf("/console/approvals")
	last := func() audit.Record {
		recs := e.recorded()
		return recs[len(recs)-1]
	}

	// Reject: the apps that go with the organisation.
	mustNotContain(t, admin.get("/console/approvals"), `action="/console/partners/river-pay/reject"`)
	if status, loc := admin.postNoFollow("/console/partners/river-pay/reject", url.Values{"csrf_token": {tok}}); status != http.StatusSeeOther || loc != "/console/partners/river-pay/reject" {
		t.Errorf("reject without confirmation: %d to %q", status, loc)
	}
	if _, err := e.store.Partner(ctx, "river-pay"); err != nil {
		t.Fatal("a reject without confirmation removed the partner")
	}
	p := admin.get("/console/partners/river-pay/reject")
	mustContain(t, p, "Reject River Pay?", "River Pay sandbox (sandbox, "+e.riverApp+")", "cannot be undone", `name="confirm" value="yes"`, `name="reason"`)
	mustContain(t, admin.get("/console/partners/river-pay/reject?lang=zh"), "拒绝 River Pay？", "River Pay sandbox（沙箱，"+e.riverApp+"）")
	admin.get("/console/approvals?lang=en")
	p = admin.post("/console/partners/river-pay/reject", url.Values{"csrf_token": {tok}, "confirm": {"yes"}, "reason": {"signed up twice"}})
	mustContain(t, p, "rejected and removed")
	if r := last(); r.Object != "partners/river-pay" || r.Reason != "reject" || !strings.Contains(r.After, `"reason":"signed up twice"`) || !strings.Contains(r.Before, e.riverApp) {
		t.Errorf("the rejection's record: %+v", r)
	}
	// A bank admin has no reject page.
	qs := e.operator("staff@qingshan.example", console.RoleBankAdmin, "qingshan-rcb")
	if p := qs.get("/console/partners/green-valley/reject"); p.status != http.StatusNotFound {
		t.Errorf("a bank admin's reject page: %d", p.status)
	}

	// Retire: the products holding the API and their active subscriptions.
	admin.post("/console/subscriptions/approve", url.Values{"csrf_token": {tok}, "client_id": {e.greenApp}, "product": {"qingshan-premium"}})
	if status, _ := admin.postNoFollow("/console/apis/qingshan-accounts/retire", url.Values{"csrf_token": {tok}}); status != http.StatusSeeOther {
		t.Errorf("retire without confirmation: %d", status)
	}
	if a, _ := e.store.API(ctx, "qingshan-accounts"); a.Status != catalog.StatusPublished {
		t.Fatalf("a retire without confirmation: %s", a.Status)
	}
	p = admin.get("/console/apis/qingshan-accounts/retire")
	mustContain(t, p, "Retire Qingshan", "Qingshan Premium (qingshan-premium)", "Active subscriptions to these products: 1.")
	mustNotContain(t, p, "Hexi Premium")
	admin.post("/console/apis/qingshan-accounts/retire", url.Values{"csrf_token": {tok}, "confirm": {"yes"}, "reason": {"replaced by v2"}})
	if a, _ := e.store.API(ctx, "qingshan-accounts"); a.Status != catalog.StatusRetired {
		t.Errorf("after a confirmed retire: %s", a.Status)
	}
	if r := last(); r.Object != "apis/qingshan-accounts" || !strings.Contains(r.Before, `"status":"published"`) ||
		!strings.Contains(r.After, `"status":"retired"`) || !strings.Contains(r.After, `"reason":"replaced by v2"`) {
		t.Errorf("the retirement's record: %+v", r)
	}

	// Suspend: a production app asks first; a sandbox app does not.
	if _, err := e.store.ApprovePartner(ctx, "green-valley"); err != nil {
		t.Fatal(err)
	}
	prod, _, err := e.store.CreateApp(ctx, partners.App{Partner: "green-valley", Name: "Green Valley live", Environment: partners.Production,
		GrantTypes: []string{partners.GrantClientCredentials}, TokenEndpointAuthMethod: partners.AuthSecretBasic})
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, admin.get("/console/apps/"+prod.ClientID), `href="/console/apps/`+prod.ClientID+`/suspend"`)
	mustNotContain(t, admin.get("/console/apps/"+e.greenApp), `href="/console/apps/`+e.greenApp+`/suspend"`)
	if status, _ := admin.postNoFollow("/console/apps/"+prod.ClientID+"/suspend", url.Values{"csrf_token": {tok}}); status != http.StatusSeeOther {
		t.Errorf("suspend without confirmation: %d", status)
	}
	if a, _ := e.store.App(ctx, prod.ClientID); a.Suspended {
		t.Fatal("a production app was suspended without confirmation")
	}
	mustContain(t, admin.get("/console/apps/"+prod.ClientID+"/suspend"), "Suspend Green Valley live?", "is a production app", "403")
	p = admin.post("/console/apps/"+prod.ClientID+"/suspend", url.Values{"csrf_token": {tok}, "confirm": {"yes"}})
	mustContain(t, p, "is suspended")
	if a, _ := e.store.App(ctx, prod.ClientID); !a.Suspended {
		t.Error("a confirmed suspension did not suspend")
	}
}

// The smaller findings of the review: an app's date is its creation, the
// partners page names products, the approvals queue says each waiting
// app's environment, an empty date range is said to be one, and the
// operator forms choose the bank from the banks.
func TestPagesSayWhatTheyMean(t *testing.T) {
	e := newEnv(t)
	admin := e.operator("admin@alliance.example", console.RoleAllianceAdmin, "")
	p := admin.get("/console/apps")
	mustContain(t, p, `<th scope="col">Created</th>`)
	mustNotContain(t, p, "Signed up")
	mustContain(t, admin.get("/console/apps/"+e.greenApp), "<dt>Created</dt>")
	mustContain(t, admin.get("/console/partners"), "<td>Qingshan Premium</td>", "<td>Hexi Premium</td>")
	mustContain(t, admin.get("/console/approvals"), `<th scope="col">Environment</th>`, `<span class="tag sandbox">sandbox</span>`)

	for _, path := range []string{"/console/audit", "/console/reports", "/console/history"} {
		p := admin.get(path + "?from=2026-03-02&to=2026-03-01")
		if p.status != http.StatusUnprocessableEntity {
			t.Errorf("%s from after to: %d", path, p.status)
		}
		mustContain(t, p, "The date range is empty: From is after To.")
		if p := admin.get(path + "?from=2026-03-01&to=2026-03-01"); p.status != http.StatusOK {
			t.Errorf("%s on one day: %d", path, p.status)
		}
	}

	for _, path := range []string{"/console/setup", "/console/operators"} {
		mustContain(t, admin.get(path), `<select id="bank" name="bank"`, `<option value="qingshan-rcb">Qingshan Rural Commercial Bank (qingshan-rcb)</option>`)
	}
	p = admin.post("/console/operators", url.Values{"csrf_token": {admin.csrf("/console/operators")}, "name": {"Li"}, "email": {"li@example.com"},
		"password": {password}, "role": {console.RoleBankAdmin}, "bank": {"no-such-bank"}})
	mustContain(t, p, "There is no bank with this id. Choose one of: ", "hexi-bank", "qingshan-rcb")
}
