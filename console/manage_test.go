package console_test

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/audit"
	"github.com/obhub/obhub/audit/audittest"
	"github.com/obhub/obhub/catalog"
	"github.com/obhub/obhub/console"
	"github.com/obhub/obhub/demo"
)

// The apps page lists every app in the operator's scope with its
// environment, grants, client authentication and subscriptions; another
// bank's partner's app is neither listed nor reachable.
func TestAppsPage(t *testing.T) {
	e := newEnv(t)
	admin := e.operator("admin@alliance.example", console.RoleAllianceAdmin, "")
	p := admin.get("/console/apps")
	mustContain(t, p, "Green Valley Fintech sandbox", "River Pay sandbox", "client_secret_basic", "client_credentials", "Qingshan Premium", "pending")

	p = admin.get("/console/apps/" + e.greenApp)
	if p.status != http.StatusOK {
		t.Fatalf("app page: %d", p.status)
	}
	mustContain(t, p, e.greenApp, "Green Valley Fintech", "sandbox", "client_secret_basic", "client secret set", "Qingshan Premium")
	mustNotContain(t, p, "SecretHash", "$argon2")

	qs := e.operator("staff@qingshan.example", console.RoleBankAdmin, "qingshan-rcb")
	p = qs.get("/console/apps")
	mustContain(t, p, "Green Valley Fintech sandbox", e.greenApp)
	mustNotContain(t, p, "River Pay", e.riverApp, "Hexi Premium")
	for _, id := range []string{e.riverApp, "app_nosuchapp"} {
		if p := qs.get("/console/apps/" + id); p.status != http.StatusNotFound || strings.Contains(p.body, "River Pay") {
			t.Errorf("Qingshan's admin GET /console/apps/%s: %d, want 404", id, p.status)
		}
	}
	aud := e.operator("audit@alliance.example", console.RoleAuditor, "")
	if p := aud.get("/console/apps"); p.status != http.StatusNotFound {
		t.Errorf("auditor GET /console/apps: %d, want 404", p.status)
	}

	// Suspension: Qingshan's admin suspends the app in its scope, not
	// Hexi's partner's.
	ctx := context.Background()
	tok := qs.csrf("/console/apps")
	p = qs.post("/console/apps/"+e.greenApp+"/suspend", url.Values{"csrf_token": {tok}})
	mustContain(t, p, "is suspended", `id="reactivate"`)
	if a, _ := e.store.App(ctx, e.greenApp); !a.Suspended {
		t.Error("the app is not suspended in the store")
	}
	mustContain(t, admin.get("/console/apps"), "suspended")
	if p := qs.post("/console/apps/"+e.riverApp+"/suspend", url.Values{"csrf_token": {tok}}); p.status != http.StatusNotFound {
		t.Errorf("Qingshan's admin suspends Hexi's partner's app: %d", p.status)
	}
	if a, _ := e.store.App(ctx, e.riverApp); a.Suspended {
		t.Error("another bank's app was suspended")
	}
	p = qs.post("/console/apps/"+e.greenApp+"/reactivate", url.Values{"csrf_token": {tok}})
	mustContain(t, p, "is reactivated", `id="suspend"`)
	if a, _ := e.store.App(ctx, e.greenApp); a.Suspended {
		t.Error("the app is still suspended")
	}
	var states []string
	for _, r := range e.recorded() {
		if r.Object == "apps/"+e.greenApp {
			states = append(states, r.Reason+" "+r.Bank+" "+r.Before+" → "+r.After)
		}
	}
	if len(states) != 2 || !strings.Contains(states[0], `suspend qingshan-rcb {`) || !strings.Contains(states[0], `"suspended":false} → {`) ||
		!strings.Contains(states[0], `"suspended":true}`) || !strings.HasPrefix(states[1], "reactivate") {
		t.Errorf("recorded suspension changes:\n%s", strings.Join(states, "\n"))
	}
}

// A product and its plan are created and changed through forms, with the
// same validation as the admin API, every finding shown with its
// location; a bank admin changes only its own bank's products.
func TestProductForms(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	admin := e.operator("admin@alliance.example", console.RoleAllianceAdmin, "")
	tok := admin.csrf("/console/products/new")
	form := url.Values{
		"csrf_token": {tok}, "id": {"village-bundle"}, "name": {"Village bundle"}, "description": {"Both banks' accounts"},
		"apis": {"qingshan-accounts", "hexi-accounts"}, "approval": {"manual"},
		"rate_limit": {"20"}, "rate_period": {"1s"}, "quota_period": {"24h"},
		"overrides": {"qingshan-accounts listAccounts 2/soon\nhexi-accounts x"}, "quota_limit": {"many"},
	}
	p := admin.post("/console/products/new", form)
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("product with a bad override: %d", p.status)
	}
	mustContain(t, p, "Operation overrides, line 2: must read", "Operation overrides, line 1: must be a duration", "Quota, requests: must be a whole number")
	form.Set("overrides", "qingshan-accounts nosuchOperation 2/1s")
	form.Set("quota_limit", "5000")
	p = admin.post("/console/products/new", form)
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("product with an unknown operation: %d", p.status)
	}
	mustContain(t, p, "Operation overrides, line 1: ", "nosuchOperation")
	if _, err := e.store.Product(ctx, "village-bundle"); err == nil {
		t.Fatal("an invalid product was stored")
	}

	form.Set("overrides", "qingshan-accounts listTransactions 2/1s")
	p = admin.post("/console/products/new", form)
	if p.status != http.StatusOK {
		t.Fatalf("create product: %d\n%s", p.status, p.body)
	}
	mustContain(t, p, "Village bundle is saved", "20 / 1s", "5000 / 24h", "listTransactions: 2 / 1s")
	got, err := e.store.Product(ctx, "village-bundle")
	if err != nil {
		t.Fatal(err)
	}
	if got.Plan.Rate.Limit != 20 || got.Plan.Rate.Period.D() != time.Second || got.Plan.Quota.Limit != 5000 ||
		len(got.Plan.Operations) != 1 || got.Plan.Operations[0].Operation != "listTransactions" || got.Approval != catalog.ApprovalManual {
		t.Errorf("stored product %+v", got)
	}
	// A duplicate id is refused on the form.
	if p := admin.post("/console/products/new", form); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "already exists") {
		t.Errorf("duplicate product: %d", p.status)
	}

	// Change the plan: the form shows the current values; no quota now.
	p = admin.get("/console/products/village-bundle")
	mustContain(t, p, `value="20"`, `value="5000"`, "qingshan-accounts listTransactions 2/1s")
	edit := url.Values{"csrf_token": {tok}, "name": {"Village bundle"}, "apis": {"qingshan-accounts", "hexi-accounts"},
		"approval": {"auto"}, "rate_limit": {"50"}, "rate_period": {"1s"}}
	if p := admin.post("/console/products/village-bundle", edit); p.status != http.StatusOK {
		t.Fatalf("edit product: %d\n%s", p.status, p.body)
	}
	got, _ = e.store.Product(ctx, "village-bundle")
	if got.Plan.Rate.Limit != 50 || got.Plan.Quota != nil || len(got.Plan.Operations) != 0 || got.Approval != catalog.ApprovalAuto {
		t.Errorf("edited product %+v", got)
	}
	var rec *audit.Record
	for _, r := range e.recorded() {
		if r.Object == "products/village-bundle" && r.Reason == "update" {
			rec = &r
		}
	}
	if rec == nil || !strings.Contains(rec.Before, `"limit":20`) || !strings.Contains(rec.After, `"limit":50`) {
		t.Errorf("the edit's audit record: %+v", rec)
	}

	// A bank admin: its own bank's products only.
	qs := e.operator("staff@qingshan.example", console.RoleBankAdmin, "qingshan-rcb")
	p = qs.get("/console/products")
	mustContain(t, p, "Qingshan Premium", "Village bundle", "only an alliance admin may change it")
	mustNotContain(t, p, "Hexi Premium", `href="/console/products/village-bundle"`)
	qtok := qs.csrf("/console/products")
	for _, path := range []string{"/console/products/hexi-premium", "/console/products/village-bundle"} {
		if p := qs.get(path); p.status != http.StatusNotFound {
			t.Errorf("Qingshan's admin GET %s: %d, want 404", path, p.status)
		}
		if p := qs.post(path, url.Values{"csrf_token": {qtok}, "name": {"Mine now"}, "apis": {"qingshan-accounts"}, "approval": {"auto"}}); p.status != http.StatusNotFound {
			t.Errorf("Qingshan's admin POST %s: %d, want 404", path, p.status)
		}
	}
	p = qs.post("/console/products/new", url.Values{"csrf_token": {qtok}, "id": {"qs-hexi"}, "name": {"Sneaky"},
		"apis": {"qingshan-accounts", "hexi-loans"}, "approval": {"auto"}})
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "APIs: is not an API you may put in a product") {
		t.Errorf("Qingshan's admin puts Hexi's API in a product: %d", p.status)
	}
	p = qs.post("/console/products/new", url.Values{"csrf_token": {qtok}, "id": {"qs-basic"}, "name": {"Qingshan basic"},
		"apis": {"qingshan-accounts"}, "approval": {"auto"}, "rate_limit": {"5"}, "rate_period": {"1s"}})
	if p.status != http.StatusOK {
		t.Errorf("Qingshan's admin creates its own product: %d\n%s", p.status, p.body)
	}
	if h, _ := e.store.Product(ctx, "hexi-premium"); h.Name != "Hexi Premium" {
		t.Error("Qingshan's admin changed Hexi's product")
	}
}

// upload posts a document file through the upload form.
func (b *browser) upload(fields map[string]string, doc []byte) page {
	b.e.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fields["csrf_token"] = b.csrf("/console/apis/upload")
	for k, v := range fields {
		_ = mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile("document", "openapi.yaml")
	_, _ = fw.Write(doc)
	_ = mw.Close()
	resp, err := b.c.Post(b.e.srv.URL+"/console/apis/upload", mw.FormDataContentType(), &body)
	if err != nil {
		b.e.t.Fatal(err)
	}
	return read(b.e.t, resp)
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="(api|base|spec|id|bank|upstream|visibility|category)" value="([^"]*)">`)

// confirmForm returns the confirmation form's fields of a preview page.
func confirmForm(t testing.TB, p page) url.Values {
	t.Helper()
	f := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(p.body, -1) {
		f.Set(m[1], htmlUnescape(m[2]))
	}
	if f.Get("spec") == "" {
		t.Fatalf("no confirmation form on the preview (%d):\n%s", p.status, p.body)
	}
	return f
}

func htmlUnescape(s string) string {
	r := strings.NewReplacer("&#34;", `"`, "&quot;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">", "&#43;", "+", "&amp;", "&")
	return r.Replace(s)
}

// A new version of an API's document is compared with the current one,
// operation by operation, and stored only when confirmed; an invalid
// document shows every finding with its location.
func TestUploadShowsDiffBeforeSaving(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	qs := e.operator("staff@qingshan.example", console.RoleBankAdmin, "qingshan-rcb")
	orig, err := demo.Spec("qingshan-accounts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	next := strings.Replace(string(orig), "version: 1.2.0", "version: 1.3.0", 1)
	next = strings.Replace(next, "        - name: fromBookingDateTime\n          in: query\n", "        - name: fromBookingDateTime\n          in: query\n          required: true\n", 1)
	next = strings.Replace(next, "        '400':\n          $ref: '#/components/responses/BadRequest'\n  /accounts/{accountId}:\n", "  /accounts/{accountId}:\n", 1)

	p := qs.upload(map[string]string{"api": "qingshan-accounts"}, []byte(next))
	if p.status != http.StatusOK {
		t.Fatalf("upload: %d\n%s", p.status, p.body)
	}
	mustContain(t, p, "version 1.2.0 → 1.3.0", "response 400 removed", "parameter query fromBookingDateTime is now required",
		"Operations whose change may break existing clients: 2.")
	if a, _ := e.store.API(ctx, "qingshan-accounts"); a.Version != "1.2.0" {
		t.Fatalf("the upload was stored before confirmation: version %s", a.Version)
	}
	form := confirmForm(t, p)
	form.Set("csrf_token", qs.csrf("/console/apis"))

	// Someone changes the API between preview and confirmation: the
	// confirmation shows the comparison again instead of saving.
	stale := url.Values{}
	for k, v := range form {
		stale[k] = v
	}
	stale.Set("base", "0000")
	if p := qs.post("/console/apis/upload/confirm", stale); p.status != http.StatusConflict || !strings.Contains(p.body, "changed after you checked") {
		t.Errorf("stale confirmation: %d", p.status)
	}

	p = qs.post("/console/apis/upload/confirm", form)
	if p.status != http.StatusOK {
		t.Fatalf("confirm: %d\n%s", p.status, p.body)
	}
	mustContain(t, p, "now has version 1.3.0")
	a, _ := e.store.API(ctx, "qingshan-accounts")
	if a.Version != "1.3.0" || a.Status != catalog.StatusPublished {
		t.Errorf("after confirmation: version %s, status %s", a.Version, a.Status)
	}
	last := e.recorded()[len(e.recorded())-1]
	if last.Object != "apis/qingshan-accounts" || last.Reason != "update" || !strings.Contains(last.Before, `"version":"1.2.0"`) || !strings.Contains(last.After, `"version":"1.3.0"`) {
		t.Errorf("recorded %+v", last)
	}

	// An invalid document: every finding, with its location.
	bad := strings.Replace(next, "      operationId: getAccount\n", "      operationId: getAccount\n      responses: {}\n", 1)
	bad = strings.Replace(bad, "openapi: 3.0.3", "openapi: 3.0.3\nx-dup: 1\nx-dup: 2", 1)
	p = qs.upload(map[string]string{"api": "qingshan-accounts"}, []byte(bad))
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("invalid upload: %d", p.status)
	}
	mustContain(t, p, "x-dup", "paths./accounts/{accountId}.get")
	mustNotContain(t, p, `name="spec"`)

	// A new API of the bank, created as a draft.
	newDoc := strings.Replace(next, "url: /open-banking/accounts/v1", "url: /open-banking/accounts/v2", 1)
	// Its category is the operator's choice (the document's tags would
	// say accounts); one outside the list is refused with its location.
	p = qs.upload(map[string]string{"id": "qingshan-accounts-v2", "bank": "qingshan-rcb", "upstream": "http://127.0.0.1:9", "visibility": "public", "category": "payments"}, []byte(newDoc))
	mustContain(t, p, "new API, saved as a draft", "added")
	form = confirmForm(t, p)
	form.Set("csrf_token", qs.csrf("/console/apis"))
	wrongCat := url.Values{}
	for k, vs := range form {
		wrongCat[k] = vs
	}
	wrongCat.Set("category", "savings")
	if p := qs.post("/console/apis/upload/confirm", wrongCat); p.status == http.StatusOK && strings.Contains(p.body, "is created as a draft") || !strings.Contains(p.body, "Category: ") {
		t.Errorf("confirm with category savings: %d, finding at Category shown: %v", p.status, strings.Contains(p.body, "Category: "))
	}
	if p := qs.post("/console/apis/upload/confirm", form); p.status != http.StatusOK || !strings.Contains(p.body, "is created as a draft") {
		t.Fatalf("confirm new API: %d\n%s", p.status, p.body)
	}
	if a, err := e.store.API(ctx, "qingshan-accounts-v2"); err != nil || a.Status != catalog.StatusDraft || a.Bank != "qingshan-rcb" || a.Category != catalog.CategoryPayments {
		t.Errorf("new API: %+v %v", a, err)
	}

	// A document the import works around: the warnings are shown, with
	// their locations, and it can still be saved.
	warned := `{"openapi":"3.0.3","info":{"title":"Warned","version":"1"},"servers":[{"url":"/warned"}],"paths":{"/a":{"get":{
		"responses":{"200":{"description":"ok","content":{"application/json":{"schema":{"type":"integer"},"example":"x"}}}}}}}}`
	p = qs.upload(map[string]string{"id": "qingshan-warned", "bank": "qingshan-rcb", "upstream": "http://127.0.0.1:9", "visibility": "public"}, []byte(warned))
	if p.status != http.StatusOK {
		t.Fatalf("upload with warnings: %d\n%s", p.status, p.body)
	}
	mustContain(t, p, `id="warnings"`, "paths./a.get", "example does not match its schema", `id="confirm"`)

	// Another bank's API, or a new API for another bank: 404.
	if p := qs.upload(map[string]string{"api": "hexi-loans"}, []byte(next)); p.status != http.StatusNotFound {
		t.Errorf("upload for Hexi's API: %d", p.status)
	}
	if p := qs.upload(map[string]string{"id": "sneaky", "bank": "hexi-bank", "upstream": "http://127.0.0.1:9"}, []byte(newDoc)); p.status != http.StatusNotFound {
		t.Errorf("upload of a new API for Hexi: %d", p.status)
	}
	if _, err := e.store.API(ctx, "sneaky"); err == nil {
		t.Error("Qingshan's admin created an API for Hexi")
	}
}

// The change history lists administrative records with the object before
// and after, secrets redacted; a bank's staff see only the bank's objects.
func TestChangeHistory(t *testing.T) {
	e := newEnv(t)
	audittest.Fill(t, e.ledger, audittest.NewSigner(t), []audit.Record{
		{Time: e.now.Add(-50 * time.Minute), Category: audit.CategoryAdmin, Method: "PATCH", Path: "/admin/v1/apis/hexi-loans",
			Status: 200, Decision: "allow", Actor: "operator", Object: "apis/hexi-loans",
			Before: `{"id":"hexi-loans","bank":"hexi-bank","upstream":"http://core-old.hexi.internal"}`,
			After:  `{"id":"hexi-loans","bank":"hexi-bank","upstream":"http://core-new.hexi.internal"}`},
		{Time: e.now.Add(-40 * time.Minute), Category: audit.CategoryAdmin, Method: "PATCH", Path: "/admin/v1/apps/" + e.greenApp,
			Status: 200, Decision: "allow", Actor: "operator", Object: "apps/" + e.greenApp,
			Before: `{"client_id":"` + e.greenApp + `","name":"Green old","client_secret":"leaked-secret-value","token_endpoint_auth_method":"client_secret_basic"}`,
			After:  `{"client_id":"` + e.greenApp + `","name":"Green new","token_endpoint_auth_method":"client_secret_basic"}`},
	})
	aud := e.operator("audit@alliance.example", console.RoleAuditor, "")
	p := aud.get("/console/history")
	mustContain(t, p, "apis/hexi-loans", "apps/"+e.greenApp, "operator")
	seqs := regexp.MustCompile(`href="/console/history/(\d+)"`).FindAllStringSubmatch(p.body, -1)
	if len(seqs) != 2 {
		t.Fatalf("history rows: %d\n%s", len(seqs), p.body)
	}
	appChange, apiChange := seqs[0][1], seqs[1][1] // newest first
	p = aud.get("/console/history/" + apiChange)
	mustContain(t, p, "/upstream", "http://core-old.hexi.internal", "http://core-new.hexi.internal", `class="changed"`)
	p = aud.get("/console/history/" + appChange)
	mustContain(t, p, "Green old", "Green new", "/client_secret", "[redacted]", "client_secret_basic")
	mustNotContain(t, p, "leaked-secret-value")

	p = aud.get("/console/history?object=apis/")
	mustContain(t, p, "apis/hexi-loans")
	mustNotContain(t, p, "apps/"+e.greenApp)

	// Qingshan's admin: its partner's app, not Hexi's API.
	qs := e.operator("staff@qingshan.example", console.RoleBankAdmin, "qingshan-rcb")
	p = qs.get("/console/history")
	mustContain(t, p, "apps/"+e.greenApp)
	mustNotContain(t, p, "hexi-loans")
	if p := qs.get("/console/history/" + apiChange); p.status != http.StatusNotFound || strings.Contains(p.body, "core-new") {
		t.Errorf("Qingshan's admin reads Hexi's change: %d", p.status)
	}
	for _, path := range []string{"/console/history/999999", "/console/history/0", "/console/history/x"} {
		if p := qs.get(path); p.status != http.StatusNotFound {
			t.Errorf("GET %s: %d", path, p.status)
		}
	}
	// Hexi's auditor: the API, not Qingshan's partner's app.
	hx := e.operator("audit@hexi.example", console.RoleAuditor, "hexi-bank")
	p = hx.get("/console/history")
	mustContain(t, p, "apis/hexi-loans")
	mustNotContain(t, p, e.greenApp)
}

// An alliance admin adds operators, resets a password (ending the
// operator's sessions) and disables an account (it can no longer sign in,
// and its open session ends); other roles have no operators page.
func TestOperatorsPage(t *testing.T) {
	e := newEnv(t)
	admin := e.operator("admin@alliance.example", console.RoleAllianceAdmin, "")
	p := admin.get("/console/operators")
	mustContain(t, p, "admin@alliance.example", "Add an operator")
	self, _ := e.ops.OperatorByEmail(context.Background(), "admin@alliance.example")
	mustNotContain(t, p, "argon2", `action="/console/operators/`+self.ID+`/disable"`) // no hash; no disabling oneself
	tok := admin.csrf("/console/operators")

	p = admin.post("/console/operators", url.Values{"csrf_token": {tok}, "name": {"Li Na"}, "email": {"li@qingshan.example"},
		"password": {"short"}, "role": {console.RoleBankAdmin}, "bank": {"no-such-bank"}})
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("invalid operator: %d", p.status)
	}
	mustContain(t, p, "The password must be 10 to 128 characters long.")
	p = admin.post("/console/operators", url.Values{"csrf_token": {tok}, "name": {"Li Na"}, "email": {"li@qingshan.example"},
		"password": {password}, "role": {console.RoleBankAdmin}, "bank": {"qingshan-rcb"}})
	if p.status != http.StatusOK || p.url != "/console/operators" {
		t.Fatalf("add operator: %d\n%s", p.status, p.body)
	}
	mustContain(t, p, "li@qingshan.example", "bank admin, qingshan-rcb")
	li := e.browser()
	if p := li.signin("li@qingshan.example", password); p.url != "/console/approvals" {
		t.Fatalf("the new operator signs in at %s (%d)", p.url, p.status)
	}
	o, err := e.ops.OperatorByEmail(context.Background(), "li@qingshan.example")
	if err != nil {
		t.Fatal(err)
	}

	// Reset: the old password and the open session end.
	const fresh = "a brand new passphrase"
	p = admin.post("/console/operators/"+o.ID+"/password", url.Values{"csrf_token": {tok}, "password": {fresh}})
	mustContain(t, p, "password of li@qingshan.example is reset")
	if p := li.get("/console/approvals"); p.url != "/console/signin" {
		t.Errorf("after a reset the old session reaches %s", p.url)
	}
	if p := e.browser().signin("li@qingshan.example", password); p.status != http.StatusUnauthorized {
		t.Errorf("old password after reset: %d", p.status)
	}
	if p := li.signin("li@qingshan.example", fresh); p.url != "/console/approvals" {
		t.Fatalf("new password: %d at %s", p.status, p.url)
	}

	// Disable: the session ends and sign-in is refused; enable again.
	p = admin.post("/console/operators/"+o.ID+"/disable", url.Values{"csrf_token": {tok}})
	mustContain(t, p, "li@qingshan.example is disabled")
	if p := li.get("/console/approvals"); p.url != "/console/signin" {
		t.Errorf("a disabled operator's session reaches %s", p.url)
	}
	p = e.browser().signin("li@qingshan.example", fresh)
	if p.status != http.StatusUnauthorized || !strings.Contains(p.body, "This account is disabled.") {
		t.Errorf("disabled sign-in: %d", p.status)
	}
	admin.post("/console/operators/"+o.ID+"/enable", url.Values{"csrf_token": {tok}})
	if p := e.browser().signin("li@qingshan.example", fresh); p.url != "/console/approvals" {
		t.Errorf("enabled again: %d at %s", p.status, p.url)
	}
	// An admin cannot disable itself.
	if p := admin.post("/console/operators/"+self.ID+"/disable", url.Values{"csrf_token": {tok}}); p.status != http.StatusConflict {
		t.Errorf("disabling oneself: %d", p.status)
	}
	var verbs []string
	for _, r := range e.recorded() {
		if strings.HasPrefix(r.Object, "operators/") {
			verbs = append(verbs, r.Reason)
			if strings.Contains(r.Before+r.After, "argon2") {
				t.Errorf("a password hash in the audit record %+v", r)
			}
		}
	}
	if strings.Join(verbs, " ") != "create password disable enable" {
		t.Errorf("recorded operator changes: %v", verbs)
	}

	// Not for bank admins or auditors.
	for _, b := range []*browser{li, e.operator("audit@alliance.example", console.RoleAuditor, "")} {
		if p := b.get("/console/operators"); p.status != http.StatusNotFound {
			t.Errorf("GET /console/operators by another role: %d", p.status)
		}
		if p := b.post("/console/operators/"+self.ID+"/disable", url.Values{"csrf_token": {b.csrf("/console/reports")}}); p.status == http.StatusOK {
			t.Errorf("another role disables an admin: %d", p.status)
		}
	}
	if got, _ := e.ops.Operator(context.Background(), self.ID); got.LockedUntil.After(time.Now()) {
		t.Error("the alliance admin was disabled by another role")
	}
}

// The later pages speak Chinese too, with no text left untranslated.
func TestLaterPagesInChinese(t *testing.T) {
	e := newEnv(t)
	admin := e.operator("admin@alliance.example", console.RoleAllianceAdmin, "")
	admin.get("/console/apps?lang=zh")
	for path, want := range map[string]string{
		"/console/apps":               "应用",
		"/console/apps/" + e.greenApp: "客户端认证方式",
		"/console/products":           "产品与套餐",
		"/console/products/new":       "按操作覆盖",
		"/console/apis/upload":        "上传 OpenAPI 文档",
		"/console/history":            "配置变更记录",
		"/console/operators":          "添加运营人员",
	} {
		p := admin.get(path)
		if p.status != http.StatusOK {
			t.Errorf("GET %s: %d", path, p.status)
		}
		mustContain(t, p, `lang="zh-Hans"`, want)
		mustNotContain(t, p, "apps.", "products.", "upload.", "history.", "operators.", "col.", "field.", "action.", "approval.", "env.", "vis.")
	}
}

// The Changes page says what each change did — the verb of a console or
// portal change, the action or method of an admin API call — in both
// languages, never only the HTTP method.
func TestChangeHistoryVerbs(t *testing.T) {
	e := newEnv(t)
	audittest.Fill(t, e.ledger, audittest.NewSigner(t), []audit.Record{
		{Time: e.now.Add(-50 * time.Minute), Category: audit.CategoryAdmin, Method: "POST", Path: "/admin/v1/banks",
			Status: 409, Decision: "reject", Reason: "conflict", Actor: "operator", Object: "banks/hexi-bank"},
		{Time: e.now.Add(-40 * time.Minute), Category: audit.CategoryAdmin, Method: "POST", Path: "/admin/v1/apis/hexi-loans/publish",
			Status: 200, Decision: "allow", Actor: "operator", Object: "apis/hexi-loans"},
		{Time: e.now.Add(-30 * time.Minute), Category: audit.CategoryAdmin, Method: "POST", Path: "/console/partners/river-pay/approve",
			Status: 200, Decision: "allow", Reason: "approve", Actor: "console:ops@alliance.example", Object: "partners/river-pay"},
		{Time: e.now.Add(-20 * time.Minute), Category: audit.CategoryAdmin, Method: "POST", Path: "/portal/apps/" + e.riverApp + "/secret",
			Status: 200, Decision: "allow", Reason: "rotate_secret", Actor: "portal:dev@river.example", Object: "apps/" + e.riverApp},
	})
	aud := e.operator("audit@alliance.example", console.RoleAuditor, "")
	cells := func(body string) []string {
		var out []string
		for _, m := range regexp.MustCompile(`<td class="num">\d+</td>`).FindAllStringIndex(body, -1) {
			start := strings.LastIndex(body[:m[0]], "<td>")
			out = append(out, body[start+len("<td>"):strings.LastIndex(body[:m[0]], "</td>")])
		}
		return out
	}
	p := aud.get("/console/history")
	want := []string{"rotate secret", "approve", "publish", "create (conflict)"}
	if got := cells(p.body); !slices.Equal(got, want) {
		t.Errorf("changes: %q, want %q", got, want)
	}
	p = aud.get("/console/history?lang=zh")
	want = []string{"轮换密钥", "批准", "发布", "创建 (conflict)"}
	if got := cells(p.body); !slices.Equal(got, want) {
		t.Errorf("changes in Chinese: %q, want %q", got, want)
	}
	seq := regexp.MustCompile(`href="/console/history/(\d+)"`).FindStringSubmatch(aud.get("/console/history?lang=en").body)[1]
	mustContain(t, aud.get("/console/history/"+seq), "rotate secret · POST")
}

// A bank admin never sees another bank's private API: not in a shared
// product's list of APIs or limits, not in a change record of that
// product, on no page of the console — while the alliance admin sees it.
func TestBankAdminNeverSeesOtherBanksPrivateAPIs(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	bundle := catalog.Product{ID: "alliance-bundle", Name: "Alliance Bundle", APIs: []string{"qingshan-accounts", "hexi-loans", "hexi-accounts"},
		Approval: catalog.ApprovalManual, Plan: catalog.Plan{Operations: []catalog.OperationLimit{
			{API: "hexi-loans", Operation: "listLoanProducts", Rate: catalog.Limit{Limit: 5, Period: obhub.Duration(time.Second)}}}}}
	if _, err := e.store.CreateProduct(ctx, bundle); err != nil {
		t.Fatal(err)
	}
	audittest.Fill(t, e.ledger, audittest.NewSigner(t), []audit.Record{
		{Time: e.now.Add(-time.Minute), Category: audit.CategoryAdmin, Method: "PUT", Path: "/admin/v1/products/alliance-bundle",
			Status: 200, Decision: "allow", Actor: "operator", Object: "products/alliance-bundle",
			Before: `{"id":"alliance-bundle","name":"Alliance Bundle","apis":["qingshan-accounts"]}`,
			After:  `{"id":"alliance-bundle","name":"Alliance Bundle v2","apis":["qingshan-accounts","hexi-loans","hexi-accounts"],"plan":{"operations":[{"api":"hexi-loans","operation":"listLoanProducts","rate":{"limit":5,"period":"1s"}}]}}`},
	})
	admin := e.operator("admin@alliance.example", console.RoleAllianceAdmin, "")
	mustContain(t, admin.get("/console/products"), "hexi-loans", "listLoanProducts")

	qs := e.operator("staff@qingshan.example", console.RoleBankAdmin, "qingshan-rcb")
	p := qs.get("/console/products")
	mustContain(t, p, "Alliance Bundle", "qingshan-accounts", "hexi-accounts")
	mustNotContain(t, p, "hexi-loans", "listLoanProducts")
	if p := qs.get("/console/products/alliance-bundle"); p.status != http.StatusNotFound {
		t.Errorf("a shared product opens for editing: %d", p.status)
	}
	seq := regexp.MustCompile(`href="/console/history/(\d+)"`).FindStringSubmatch(qs.get("/console/history").body)
	if seq == nil {
		t.Fatal("the product's change is not in Qingshan's history")
	}
	p = qs.get("/console/history/" + seq[1])
	mustContain(t, p, "Alliance Bundle v2", "hexi-accounts")
	mustNotContain(t, p, "hexi-loans", "listLoanProducts")
	for _, path := range []string{"/console/approvals", "/console/partners", "/console/apis", "/console/apis/upload", "/console/apps",
		"/console/apps/" + e.greenApp, "/console/audit", "/console/reports?by=api", "/console/history", "/console/products/new"} {
		mustNotContain(t, qs.get(path), "hexi-loans")
	}
}

// The products page and form write periods as operators do ("24h",
// "1s"); an edit's findings name the form's fields, once each; an API
// retired since it was put in the product stays in it unless unticked.
func TestProductFormFieldsAndRetiredAPI(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	admin := e.operator("admin@alliance.example", console.RoleAllianceAdmin, "")
	tok := admin.csrf("/console/products/new")
	form := url.Values{"csrf_token": {tok}, "id": {"hexi-bundle"}, "name": {"Hexi bundle"}, "apis": {"hexi-accounts", "hexi-loans"},
		"approval": {"auto"}, "rate_limit": {"10"}, "rate_period": {"1s"}, "quota_limit": {"5000"}, "quota_period": {"24h"},
		"overrides": {"hexi-loans listLoanProducts 2/1m"}}
	if p := admin.post("/console/products/new", form); p.status != http.StatusOK {
		t.Fatalf("create: %d\n%s", p.status, p.body)
	}
	p := admin.get("/console/products")
	mustContain(t, p, "10 / 1s</td>", "5000 / 24h</td>", "listLoanProducts: 2 / 1m</td>")
	mustNotContain(t, p, "0m0s", "1m0s")
	p = admin.get("/console/products/hexi-bundle")
	mustContain(t, p, `value="1s"`, `value="24h"`, "hexi-loans listLoanProducts 2/1m")
	mustNotContain(t, p, "0m0s", "1m0s")

	bad := url.Values{"csrf_token": {tok}, "name": {"Hexi bundle"}, "apis": {"hexi-accounts"}, "approval": {"auto"},
		"rate_limit": {"10"}, "rate_period": {"soon"}, "overrides": {"\nhexi-accounts x"}}
	p = admin.post("/console/products/hexi-bundle", bad)
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("bad edit: %d", p.status)
	}
	mustContain(t, p, "Rate limit, period: must be a duration", "Operation overrides, line 2: must read")
	mustNotContain(t, p, "/plan/", "/overrides/")
	if n := strings.Count(p.body, "Rate limit, period:"); n != 1 {
		t.Errorf("the period's finding is listed %d times", n)
	}
	admin.get("/console/products/hexi-bundle?lang=zh")
	p = admin.post("/console/products/hexi-bundle", bad)
	mustContain(t, p, "速率限制，周期：须为时长", "按操作覆盖，第 2 行：")
	admin.get("/console/products?lang=en")

	// Retire hexi-loans: the form still shows it, ticked and marked.
	if _, err := e.store.RetireAPI(ctx, "hexi-loans"); err != nil {
		t.Fatal(err)
	}
	p = admin.get("/console/products/hexi-bundle")
	mustContain(t, p, `id="api-hexi-loans" value="hexi-loans" checked`, "retired: no longer routed")
	mustNotContain(t, admin.get("/console/products/new"), `id="api-hexi-loans"`)
	keep := url.Values{"csrf_token": {tok}, "name": {"Hexi bundle 2"}, "apis": {"hexi-accounts", "hexi-loans"}, "approval": {"auto"}}
	if p := admin.post("/console/products/hexi-bundle", keep); p.status != http.StatusOK {
		t.Fatalf("save with the retired API: %d\n%s", p.status, p.body)
	}
	if got, _ := e.store.Product(ctx, "hexi-bundle"); !slices.Contains(got.APIs, "hexi-loans") || got.Name != "Hexi bundle 2" {
		t.Errorf("after saving: %+v", got)
	}
	keep["apis"] = []string{"hexi-accounts"}
	admin.post("/console/products/hexi-bundle", keep)
	if got, _ := e.store.Product(ctx, "hexi-bundle"); slices.Contains(got.APIs, "hexi-loans") {
		t.Errorf("unticked, the retired API stays: %v", got.APIs)
	}
}

// The upload page keeps a new version and a new API apart: for a new
// version of an API there are no fields of a new API, and once a
// document is checked the page shows the check, not the forms again.
func TestUploadFormsApart(t *testing.T) {
	e := newEnv(t)
	admin := e.operator("admin@alliance.example", console.RoleAllianceAdmin, "")
	p := admin.get("/console/apis/upload?api=hexi-accounts")
	mustContain(t, p, `id="upload-form"`, `<option value="hexi-accounts" selected>`, `id="new-api-link"`)
	mustNotContain(t, p, `name="id"`, `name="bank"`, `name="visibility"`, `name="upstream"`, `id="new-api-form"`)
	p = admin.get("/console/apis/upload")
	mustContain(t, p, `id="upload-form"`, `id="new-api-form"`, `name="id"`, `name="visibility"`)
	mustNotContain(t, p, "fill in the fields below")

	doc, err := demo.Spec("hexi-accounts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p = admin.upload(map[string]string{"api": "hexi-accounts"}, doc)
	if p.status != http.StatusOK {
		t.Fatalf("upload: %d", p.status)
	}
	mustContain(t, p, `id="preview"`, `id="confirm"`, `href="/console/apis/upload?api=hexi-accounts" id="another"`)
	mustNotContain(t, p, `id="upload-form"`, `id="new-api-form"`, `name="document"`)
}
