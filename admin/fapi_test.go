package admin_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/obhub/obhub/admin"
)

// FAPI apps (partners.App.FAPI) through the admin API: the profile's
// rules are checked at registration, and the flags read back.
func TestFAPIApps(t *testing.T) {
	e := newEnv(t)
	e.call("POST", "/admin/v1/partners", map[string]any{"id": "acme", "name": "Acme Pay", "kind": "fintech"}).want(t, 201)
	app := func(extra map[string]any) map[string]any {
		a := map[string]any{"name": "fapi", "environment": "sandbox", "grant_types": []string{"authorization_code"},
			"redirect_uris": []string{"https://acme.example/cb"}, "fapi": true}
		for k, v := range extra {
			a[k] = v
		}
		return a
	}

	// Without a binding, and with client_secret_post: both listed.
	p := e.call("POST", "/admin/v1/partners/acme/apps", app(map[string]any{"token_endpoint_auth_method": "client_secret_post"})).want(t, 422).problem(t)
	if got := strings.Join(p.locations(), ","); got != "/dpop_bound_access_tokens,/token_endpoint_auth_method" {
		t.Fatalf("problems at %s", got)
	}

	r := e.call("POST", "/admin/v1/partners/acme/apps", app(map[string]any{"dpop_bound_access_tokens": true})).want(t, 201).obj(t)
	if r["fapi"] != true || r["dpop_bound_access_tokens"] != true || r["token_endpoint_auth_method"] != "client_secret_basic" {
		t.Fatalf("created FAPI app: %v", r)
	}
	path := "/admin/v1/apps/" + r["client_id"].(string)
	if g := e.call("GET", path, nil).want(t, 200).obj(t); g["fapi"] != true || g["dpop_bound_access_tokens"] != true {
		t.Errorf("read back: %v", g)
	}
	// A change that breaks the profile is refused; leaving it is allowed.
	e.call("PATCH", path, map[string]any{"token_endpoint_auth_method": "client_secret_post"}).want(t, 422)
	e.call("PATCH", path, map[string]any{"dpop_bound_access_tokens": false}).want(t, 422)
	if g := e.call("PATCH", path, map[string]any{"fapi": false, "dpop_bound_access_tokens": false}).want(t, 200).obj(t); g["fapi"] != nil || g["dpop_bound_access_tokens"] != nil {
		t.Errorf("after leaving FAPI: %v", g)
	}
	e.call("POST", "/admin/v1/partners/acme/apps", map[string]any{"name": "x", "environment": "sandbox",
		"grant_types": []string{"client_credentials"}, "fapi": "yes"}).want(t, 422)
}

// obhub apply declares the FAPI flags, and applying twice changes nothing.
func TestApplyFAPIApp(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	decl := func(fapi string) *admin.Declaration {
		t.Helper()
		path := filepath.Join(t.TempDir(), "alliance.yaml")
		yml := `
partners:
  - {id: acme, name: Acme, kind: fintech, approved: true}
apps:
  - partner: acme
    name: fapi-web
    environment: sandbox
    grant_types: [authorization_code]
    redirect_uris: [https://acme.example/cb]
` + fapi
		if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
			t.Fatal(err)
		}
		d, err := admin.LoadDeclaration(path)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	c := e.client(e.token)
	fapi := decl("    fapi: true\n    dpop_bound_access_tokens: true\n")
	rep, err := admin.Apply(ctx, c, fapi)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(changed(rep), ","); got != "partner acme created,partner acme approved,app acme/fapi-web created" {
		t.Fatalf("first apply: %s", got)
	}
	if rep, err = admin.Apply(ctx, c, fapi); err != nil || rep.Changed() {
		t.Fatalf("second apply: %q, %v", changed(rep), err)
	}
	a := e.call("GET", "/admin/v1/apps", nil).want(t, 200).obj(t)["items"].([]any)[0].(map[string]any)
	if a["fapi"] != true || a["dpop_bound_access_tokens"] != true {
		t.Fatalf("applied app: %v", a)
	}
	// Dropping the flags is one update.
	if rep, err = admin.Apply(ctx, c, decl("")); err != nil || strings.Join(changed(rep), ",") != "app acme/fapi-web updated" {
		t.Fatalf("apply without fapi: %q, %v", changed(rep), err)
	}
	// A FAPI declaration without a binding fails with the admin API's problem.
	if _, err = admin.Apply(ctx, c, decl("    fapi: true\n")); err == nil || !strings.Contains(err.Error(), "dpop_bound_access_tokens") {
		t.Fatalf("FAPI without binding: %v", err)
	}
}
