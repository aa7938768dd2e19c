package admin_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/obhub/obhub/admin"
)

// An API's category is set by the admin from the fixed vocabulary, or
// derived from the document's tags when absent; a bad value is 422 at
// /category and changes nothing.
func TestAPICategory(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	if a := e.call("GET", "/admin/v1/apis/accounts", nil).want(t, 200).obj(t); a["category"] != "other" {
		t.Errorf("category of a document without tags: %v", a["category"])
	}
	// The first tag naming a category decides (Chinese too).
	tagged := strings.Replace(readFile(t, "accounts.yaml"), "paths:", "tags:\n  - name: Open data\n  - name: 银行卡\npaths:", 1)
	if a := e.call("POST", "/admin/v1/apis", map[string]any{
		"id": "tagged", "bank": "alpha", "spec": tagged, "upstream": "https://core.alpha.example", "basePath": "/tagged",
	}).want(t, 201).obj(t); a["category"] != "cards" {
		t.Errorf("category from the document's tags: %v", a["category"])
	}
	p := e.call("POST", "/admin/v1/apis", map[string]any{
		"id": "cards", "bank": "alpha", "spec": readFile(t, "accounts.yaml"), "upstream": "https://core.alpha.example",
		"basePath": "/cards", "category": "credit-cards",
	}).want(t, 422).problem(t)
	if !slices.Equal(p.locations(), []string{"/category"}) {
		t.Errorf("problems: %+v", p.Errors)
	}
	e.call("GET", "/admin/v1/apis/cards", nil).want(t, 404)
	if a := e.call("POST", "/admin/v1/apis", map[string]any{
		"id": "cards", "bank": "alpha", "spec": readFile(t, "accounts.yaml"), "upstream": "https://core.alpha.example",
		"basePath": "/cards", "category": "cards",
	}).want(t, 201).obj(t); a["category"] != "cards" {
		t.Errorf("category given at create: %v", a["category"])
	}

	// PATCH changes it; a bad value is refused and the old one kept.
	if a := e.call("PATCH", "/admin/v1/apis/tagged", map[string]any{"category": "payments"}).want(t, 200).obj(t); a["category"] != "payments" {
		t.Errorf("PATCH: %v", a["category"])
	}
	p = e.call("PATCH", "/admin/v1/apis/tagged", map[string]any{"category": "Payments"}).want(t, 422).problem(t)
	if !slices.Equal(p.locations(), []string{"/category"}) {
		t.Errorf("problems: %+v", p.Errors)
	}
	if a := e.call("PATCH", "/admin/v1/apis/tagged", map[string]any{"name": "Tagged"}).want(t, 200).obj(t); a["category"] != "payments" {
		t.Errorf("PATCH of another field: %v", a["category"])
	}
	// PATCH removing it: the document's again.
	if a := e.call("PATCH", "/admin/v1/apis/tagged", map[string]any{"category": nil}).want(t, 200).obj(t); a["category"] != "cards" {
		t.Errorf("PATCH removing the category: %v", a["category"])
	}
	e.call("PATCH", "/admin/v1/apis/tagged", map[string]any{"category": "loans"}).want(t, 200)
	// PUT is a full replacement: without a category, the document's again.
	if a := e.call("PUT", "/admin/v1/apis/tagged", map[string]any{
		"upstream": "https://core.alpha.example", "name": "Tagged", "basePath": "/tagged",
	}).want(t, 200).obj(t); a["category"] != "cards" {
		t.Errorf("PUT without category: %v", a["category"])
	}
}

// obhub apply sets the declared category, leaves it alone when applied
// again, and goes back to the document's when the declaration drops it.
func TestApplyCategory(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	d, err := admin.LoadDeclaration(filepath.Join("testdata", "alliance.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(d.APIs, func(a admin.APIDecl) bool { return a.ID == "alpha-payments" })
	d.APIs[i].Category = "payments"
	c := e.client(e.token)
	apply := func(what string) []string {
		t.Helper()
		rep, err := admin.Apply(ctx, c, d)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return changed(rep)
	}
	category := func() any {
		return e.call("GET", "/admin/v1/apis/alpha-payments", nil).want(t, 200).obj(t)["category"]
	}
	apply("first apply")
	if got := category(); got != "payments" {
		t.Errorf("declared category: %v", got)
	}
	if got := apply("second apply"); len(got) > 0 {
		t.Errorf("second apply changed %q", got)
	}
	d.APIs[i].Category = "cards"
	if got := apply("new category"); !slices.Equal(got, []string{"api alpha-payments updated"}) {
		t.Errorf("new category changed %q", got)
	}
	if got := category(); got != "cards" {
		t.Errorf("changed category: %v", got)
	}
	d.APIs[i].Category = ""
	if got := apply("no category"); !slices.Equal(got, []string{"api alpha-payments updated"}) {
		t.Errorf("dropping the category changed %q", got)
	}
	if got := category(); got != "other" {
		t.Errorf("category from a document without tags: %v", got)
	}
	if got := apply("again"); len(got) > 0 {
		t.Errorf("applying again changed %q", got)
	}
	d.APIs[i].Category = "mortgages"
	if _, err := admin.Apply(ctx, c, d); err == nil || !strings.Contains(err.Error(), "/category") {
		t.Errorf("bad category: %v", err)
	}
}
