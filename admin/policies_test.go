package admin_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/obhub/obhub/admin"
)

// The policy fields of banks, APIs, products and apps: set, shown,
// changed, removed, and refused with every problem located.

func TestBankLimits(t *testing.T) {
	e := newEnv(t)
	b := e.call("POST", "/admin/v1/banks", map[string]any{
		"id": "alpha", "name": "Alpha",
		"limits": map[string]any{"rate": map[string]any{"limit": 200, "period": "1s"}, "maxInFlight": 20},
	}).want(t, 201).obj(t)
	lim, _ := b["limits"].(map[string]any)
	if lim == nil || lim["maxInFlight"] != 20.0 || lim["rate"].(map[string]any)["period"] != "1s" {
		t.Fatalf("created: %v", b)
	}
	if g := e.call("GET", "/admin/v1/banks/alpha", nil).want(t, 200).obj(t); g["limits"].(map[string]any)["maxInFlight"] != 20.0 {
		t.Errorf("GET: %v", g)
	}

	// PATCH one field; the rest stays.
	g := e.call("PATCH", "/admin/v1/banks/alpha", map[string]any{"limits": map[string]any{"maxInFlight": 5}}).want(t, 200).obj(t)
	if lim := g["limits"].(map[string]any); lim["maxInFlight"] != 5.0 || lim["rate"] == nil {
		t.Errorf("PATCH: %v", g)
	}
	// Bad values: every problem, located.
	p := e.call("PUT", "/admin/v1/banks/alpha", map[string]any{
		"name": "Alpha", "limits": map[string]any{"rate": map[string]any{"limit": 0, "period": "soon"}, "maxInFlight": -1, "burst": 3},
	}).want(t, 422).problem(t)
	if want := []string{"/limits/burst", "/limits/maxInFlight", "/limits/rate/limit", "/limits/rate/period"}; !slices.Equal(p.locations(), want) {
		t.Errorf("problems %v, want %v", p.Errors, want)
	}
	e.call("PUT", "/admin/v1/banks/alpha", map[string]any{"name": "Alpha", "limits": map[string]any{"rate": map[string]any{"limit": 1, "period": "-1s"}}}).
		want(t, 422)
	// PUT without limits removes them; an empty object is no limits.
	if g := e.call("PUT", "/admin/v1/banks/alpha", map[string]any{"name": "Alpha", "limits": map[string]any{}}).want(t, 200).obj(t); g["limits"] != nil {
		t.Errorf("empty limits kept: %v", g)
	}
}

func TestAPIPolicies(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	a := e.call("GET", "/admin/v1/apis/accounts", nil).want(t, 200).obj(t)
	if a["validation"] != "on" || a["cors"] != nil || a["ipRules"] != nil {
		t.Fatalf("defaults: %v", a)
	}
	a = e.call("PATCH", "/admin/v1/apis/accounts", map[string]any{
		"validation": "off",
		"cors": map[string]any{
			"allowOrigins": []string{"https://app.agrifin.example"}, "allowCredentials": true,
			"allowHeaders": []string{"Authorization", "Content-Type"}, "maxAge": "1h",
		},
		"ipRules": map[string]any{"allow": []string{"10.20.0.0/16", "203.0.113.7"}, "deny": []string{"10.20.9.0/24"}},
	}).want(t, 200).obj(t)
	cors, _ := a["cors"].(map[string]any)
	ip, _ := a["ipRules"].(map[string]any)
	if a["validation"] != "off" || cors == nil || cors["allowCredentials"] != true || cors["maxAge"] != "1h" || ip == nil || len(ip["deny"].([]any)) != 1 {
		t.Fatalf("PATCH: %v", a)
	}
	// Stored: GET shows the same.
	if g := e.call("GET", "/admin/v1/apis/accounts", nil).want(t, 200).obj(t); g["validation"] != "off" || g["cors"] == nil || g["ipRules"] == nil {
		t.Errorf("GET: %v", g)
	}
	// A PATCH of another field keeps the policies.
	if g := e.call("PATCH", "/admin/v1/apis/accounts", map[string]any{"maxBody": 4096}).want(t, 200).obj(t); g["cors"] == nil || g["validation"] != "off" {
		t.Errorf("policies lost by an unrelated PATCH: %v", g)
	}

	// Every problem at once, by JSON pointer.
	p := e.call("PATCH", "/admin/v1/apis/accounts", map[string]any{
		"validation": "maybe",
		"cors": map[string]any{
			"allowOrigins":     []string{"*", "https://App.example", "https://ok.example/path"},
			"allowCredentials": true,
			"allowHeaders":     []string{"Bad Header"},
			"maxAge":           "forever",
		},
		"ipRules": map[string]any{"allow": []string{"10.0.0.0/33", "10.1.2.3"}, "deny": []string{"not-an-ip"}},
	}).want(t, 422).problem(t)
	want := []string{
		"/cors/allowHeaders/0", "/cors/allowOrigins/0", "/cors/allowOrigins/1", "/cors/allowOrigins/2", "/cors/maxAge",
		"/ipRules/allow/0", "/ipRules/deny/0", "/validation",
	}
	if !slices.Equal(p.locations(), want) {
		t.Errorf("problems %v\nwant locations %v", p.Errors, want)
	}
	for _, d := range p.Errors {
		if d.Location == "/cors/allowOrigins/0" && !strings.Contains(d.Message, "allowCredentials") {
			t.Errorf("'*' with credentials: %q", d.Message)
		}
	}
	// "*" without credentials is fine; unknown fields are refused.
	e.call("PATCH", "/admin/v1/apis/accounts", map[string]any{"cors": map[string]any{"allowOrigins": []string{"*"}, "allowCredentials": false}}).want(t, 200)
	p = e.call("PATCH", "/admin/v1/apis/accounts", map[string]any{"cors": map[string]any{"allowOrigins": []string{"*"}, "origins": []string{"x"}}}).want(t, 422).problem(t)
	if !slices.Equal(p.locations(), []string{"/cors/origins"}) {
		t.Errorf("unknown field: %v", p.Errors)
	}

	// On create too; null removes.
	e.call("POST", "/admin/v1/apis", map[string]any{
		"id": "other", "bank": "alpha", "spec": readFile(t, "accounts.yaml"), "upstream": "http://10.0.0.6", "basePath": "/other",
		"ipRules": map[string]any{"deny": []string{"300.1.1.1"}},
	}).want(t, 422)
	a = e.call("POST", "/admin/v1/apis", map[string]any{
		"id": "other", "bank": "alpha", "spec": readFile(t, "accounts.yaml"), "upstream": "http://10.0.0.6", "basePath": "/other",
		"validation": "on", "ipRules": map[string]any{"deny": []string{"2001:db8::/32"}},
	}).want(t, 201).obj(t)
	if a["validation"] != "on" || a["ipRules"] == nil {
		t.Errorf("created: %v", a)
	}
	if g := e.call("PATCH", "/admin/v1/apis/other", map[string]any{"ipRules": nil}).want(t, 200).obj(t); g["ipRules"] != nil {
		t.Errorf("ipRules not removed: %v", g)
	}
}

func TestPlanOperationOverrides(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	prod := map[string]any{
		"id": "basic", "name": "Basic", "apis": []string{"accounts"}, "approval": "auto",
		"plan": map[string]any{
			"rate": map[string]any{"limit": 50, "period": "1s"},
			"operations": []any{
				map[string]any{"api": "accounts", "operation": "getAccount", "rate": map[string]any{"limit": 5, "period": "1s"}},
			},
		},
	}
	g := e.call("POST", "/admin/v1/products", prod).want(t, 201).obj(t)
	ops, _ := g["plan"].(map[string]any)["operations"].([]any)
	if len(ops) != 1 || ops[0].(map[string]any)["operation"] != "getAccount" {
		t.Fatalf("created: %v", g)
	}

	// Problems inside the array point at the element.
	p := e.call("PATCH", "/admin/v1/products/basic", map[string]any{"plan": map[string]any{"operations": []any{
		map[string]any{"api": "accounts", "operation": "getAccount", "rate": map[string]any{"limit": 5, "period": "1s"}},
		map[string]any{"api": "payments", "operation": "x", "rate": map[string]any{"limit": 0, "period": "bad"}},
		map[string]any{"api": "accounts", "operation": "getAccount", "rate": map[string]any{"limit": 1, "period": "1s"}, "burst": 2},
	}}}).want(t, 422).problem(t)
	want := []string{"/plan/operations/1/api", "/plan/operations/1/rate/limit", "/plan/operations/1/rate/period", "/plan/operations/2", "/plan/operations/2/burst"}
	if !slices.Equal(p.locations(), want) {
		t.Errorf("problems %v\nwant %v", p.Errors, want)
	}
	// An operation the API does not have.
	p = e.call("PATCH", "/admin/v1/products/basic", map[string]any{"plan": map[string]any{"operations": []any{
		map[string]any{"api": "accounts", "operation": "deleteEverything", "rate": map[string]any{"limit": 1, "period": "1s"}},
	}}}).want(t, 422).problem(t)
	if !slices.Equal(p.locations(), []string{"/plan/operations/0/operation"}) || !strings.Contains(p.Errors[0].Message, "deleteEverything") {
		t.Errorf("unknown operation: %v", p.Errors)
	}
	// "METHOD /path" names an operation too.
	e.call("PATCH", "/admin/v1/products/basic", map[string]any{"plan": map[string]any{"operations": []any{
		map[string]any{"api": "accounts", "operation": "listAccounts", "rate": map[string]any{"limit": 2, "period": "1m"}},
	}}}).want(t, 200)
	if g := e.call("GET", "/admin/v1/products/basic", nil).want(t, 200).obj(t); g["plan"].(map[string]any)["operations"].([]any)[0].(map[string]any)["operation"] != "listAccounts" {
		t.Errorf("GET: %v", g)
	}
}

func TestAppIPRules(t *testing.T) {
	e := newEnv(t)
	e.call("POST", "/admin/v1/partners", map[string]any{"id": "acme", "name": "Acme", "kind": "fintech"}).want(t, 201)
	app := map[string]any{
		"name": "web", "environment": "sandbox", "grant_types": []string{"client_credentials"},
		"ipRules": map[string]any{"allow": []string{"198.51.100.0/24"}},
	}
	a := e.call("POST", "/admin/v1/partners/acme/apps", app).want(t, 201).obj(t)
	id, _ := a["client_id"].(string)
	if ip, _ := a["ipRules"].(map[string]any); ip == nil || ip["allow"].([]any)[0] != "198.51.100.0/24" {
		t.Fatalf("created: %v", a)
	}
	if g := e.call("GET", "/admin/v1/apps/"+id, nil).want(t, 200).obj(t); g["ipRules"] == nil {
		t.Errorf("GET: %v", g)
	}
	p := e.call("PATCH", "/admin/v1/apps/"+id, map[string]any{"ipRules": map[string]any{"deny": []string{"10.0.0.0/8", "10.0.0.0/99", "fe80::1%eth0"}}}).
		want(t, 422).problem(t)
	if !slices.Equal(p.locations(), []string{"/ipRules/deny/1", "/ipRules/deny/2"}) {
		t.Errorf("problems: %v", p.Errors)
	}
	g := e.call("PATCH", "/admin/v1/apps/"+id, map[string]any{"ipRules": map[string]any{"allow": nil, "deny": []string{"10.0.0.0/8"}}}).want(t, 200).obj(t)
	if ip := g["ipRules"].(map[string]any); ip["allow"] != nil || len(ip["deny"].([]any)) != 1 {
		t.Errorf("PATCH: %v", g)
	}
	if g := e.call("PATCH", "/admin/v1/apps/"+id, map[string]any{"ipRules": map[string]any{"deny": []string{}}}).want(t, 200).obj(t); g["ipRules"] != nil {
		t.Errorf("empty rules kept: %v", g)
	}
}

// A declaration with every policy field applies, reads back, and applying
// it again changes nothing.
func TestApplyPolicies(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	dir := t.TempDir()
	for _, f := range []string{"accounts.yaml"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(readFile(t, f)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	decl := `
banks:
  - id: alpha
    name: Alpha
    limits:
      rate: {limit: 200, period: 1s}
      maxInFlight: 20
apis:
  - id: accounts
    bank: alpha
    specFile: accounts.yaml
    upstream: http://10.0.0.5:8080
    status: published
    validation: "off"
    cors:
      allowOrigins: [https://app.agrifin.example]
      allowCredentials: true
      exposeHeaders: [Location]
      maxAge: 10m
    ipRules:
      allow: [10.20.0.0/16]
      deny: [10.20.9.0/24]
partners:
  - id: acme
    name: Acme
    kind: fintech
    approved: true
products:
  - id: basic
    name: Basic
    apis: [accounts]
    approval: auto
    plan:
      rate: {limit: 50, period: 1s}
      quota: {limit: 100000, period: 720h}
      operations:
        - {api: accounts, operation: getAccount, rate: {limit: 5, period: 1s}}
apps:
  - partner: acme
    name: web
    environment: production
    grant_types: [client_credentials]
    ipRules:
      allow: [198.51.100.7]
    subscriptions: [basic]
`
	path := filepath.Join(dir, "alliance.yaml")
	if err := os.WriteFile(path, []byte(decl), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := admin.LoadDeclaration(path)
	if err != nil {
		t.Fatal(err)
	}
	c := e.client(e.token)
	if _, err := admin.Apply(ctx, c, d); err != nil {
		t.Fatal(err)
	}
	b := e.call("GET", "/admin/v1/banks/alpha", nil).want(t, 200).obj(t)
	if b["limits"].(map[string]any)["maxInFlight"] != 20.0 {
		t.Errorf("bank: %v", b)
	}
	a := e.call("GET", "/admin/v1/apis/accounts", nil).want(t, 200).obj(t)
	if a["validation"] != "off" || a["cors"].(map[string]any)["maxAge"] != "10m" || a["ipRules"].(map[string]any)["deny"].([]any)[0] != "10.20.9.0/24" {
		t.Errorf("api: %v", a)
	}
	p := e.call("GET", "/admin/v1/products/basic", nil).want(t, 200).obj(t)
	if ops := p["plan"].(map[string]any)["operations"].([]any); len(ops) != 1 {
		t.Errorf("product: %v", p)
	}
	apps := e.call("GET", "/admin/v1/partners/acme/apps", nil).want(t, 200).obj(t)["items"].([]any)
	if len(apps) != 1 || apps[0].(map[string]any)["ipRules"] == nil {
		t.Errorf("apps: %v", apps)
	}

	rep, err := admin.Apply(ctx, c, d)
	if err != nil {
		t.Fatal(err)
	}
	if got := changed(rep); len(got) > 0 {
		t.Fatalf("second apply changed %q", got)
	}

	// Each policy edited in the file: exactly that object is updated.
	d.Banks[0].Limits.MaxInFlight = 10
	d.APIs[0].CORS.AllowOrigins = append(d.APIs[0].CORS.AllowOrigins, "https://m.agrifin.example")
	d.APIs[0].Validation = ""
	d.Products[0].Plan.Operations[0].Rate.Limit = 3
	d.Apps[0].IPRules = nil
	rep, err = admin.Apply(ctx, c, d)
	if err != nil {
		t.Fatal(err)
	}
	want := "bank alpha updated,api accounts updated,product basic updated,app acme/web updated"
	if got := strings.Join(changed(rep), ","); got != want {
		t.Fatalf("after edits: %s\nwant %s", got, want)
	}
	if a := e.call("GET", "/admin/v1/apis/accounts", nil).want(t, 200).obj(t); a["validation"] != "on" || len(a["cors"].(map[string]any)["allowOrigins"].([]any)) != 2 {
		t.Errorf("api after edit: %v", a)
	}
	if rep, err = admin.Apply(ctx, c, d); err != nil || len(changed(rep)) > 0 {
		t.Fatalf("third apply: %v %q", err, changed(rep))
	}
}

func TestLoadDeclarationPolicyErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.yaml")
	decl := "apis:\n  - id: a\n    bank: b\n    spec: '{}'\n    upstream: http://x\n    validation: sometimes\n    cors: {origins: [x]}\n"
	if err := os.WriteFile(path, []byte(decl), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := admin.LoadDeclaration(path)
	if err == nil || !strings.Contains(err.Error(), `unknown field "origins"`) {
		t.Errorf("err = %v", err)
	}
	decl = "apis:\n  - id: a\n    bank: b\n    spec: '{}'\n    upstream: http://x\n    validation: sometimes\n"
	if err := os.WriteFile(path, []byte(decl), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.LoadDeclaration(path); err == nil || !strings.Contains(err.Error(), "validation must be on or off") {
		t.Errorf("err = %v", err)
	}
}
