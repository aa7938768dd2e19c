package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/obhub/obhub/admin"
	"github.com/obhub/obhub/config"
	"github.com/obhub/obhub/partners"
)

// actions renders a report as "kind id action" lines.
func actions(r admin.Report) []string {
	var out []string
	for _, c := range r.Changes {
		out = append(out, c.Kind+" "+c.ID+" "+c.Action)
	}
	return out
}

func changed(r admin.Report) []string {
	var out []string
	for _, c := range r.Changes {
		if c.Action != "unchanged" {
			out = append(out, c.Kind+" "+c.ID+" "+c.Action)
		}
	}
	return out
}

func TestApplyAlliance(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	d, err := admin.LoadDeclaration(filepath.Join("testdata", "alliance.yaml"))
	if err != nil {
		t.Fatal(err)
	}

	// First apply, over HTTP.
	overHTTP := e.client(e.token)
	rep, err := admin.Apply(ctx, overHTTP, d)
	if err != nil {
		t.Fatalf("apply: %v\nreport so far: %q", err, actions(rep))
	}
	want := []string{
		"bank alpha created", "bank beta created",
		"partner acme created", "partner acme approved",
		"partner beta-p created", "partner beta-p approved",
		"partner newco created",
		"api alpha-accounts created", "api alpha-accounts published",
		"api alpha-payments created", "api alpha-payments published", "api alpha-payments deprecated",
		"api beta-accounts created",
		"product open-accounts created", "product interbank created",
		"app acme/acme-web created", "subscription acme/acme-web/open-accounts created",
		"app beta-p/teller created", "subscription beta-p/teller/open-accounts created", "subscription beta-p/teller/interbank created",
		"app newco/try-out created", "subscription newco/try-out/open-accounts created",
	}
	if got := actions(rep); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("first apply:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The credentials of the apps created, secrets for secret-based ones.
	for _, c := range rep.Changes {
		switch {
		case c.Kind == "app" && c.ID == "acme/acme-web":
			if !strings.HasPrefix(c.ClientID, "app_") || !strings.HasPrefix(c.ClientSecret, "obs_") {
				t.Errorf("acme-web credentials: %+v", c)
			}
			kv, err := e.kv.Get(ctx, config.AppsPrefix+c.ClientID)
			if err != nil {
				t.Fatal(err)
			}
			var stored partners.App
			if err := json.Unmarshal(kv.Value, &stored); err != nil {
				t.Fatal(err)
			}
			if !partners.VerifySecret(stored.SecretHash, c.ClientSecret) {
				t.Error("the reported secret does not verify")
			}
		case c.Kind == "app" && c.ID == "beta-p/teller":
			if c.ClientID == "" || c.ClientSecret != "" {
				t.Errorf("private_key_jwt app credentials: %+v", c)
			}
		case c.Kind == "subscription" && c.ID == "beta-p/teller/interbank":
			if c.Status != "pending" {
				t.Errorf("manual product subscription: %+v", c)
			}
		}
	}
	var printed bytes.Buffer
	if err := rep.Print(&printed); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(printed.String(), "client_secret=obs_") || strings.Count(printed.String(), "\n") != len(rep.Changes) {
		t.Errorf("printed report:\n%s", printed.String())
	}

	// What the hub holds.
	a := e.call("GET", "/admin/v1/apis/alpha-payments", nil).want(t, 200).obj(t)
	if a["status"] != "deprecated" || a["basePath"] != "/payments/v2" || a["visibility"] != "alliance" || a["sunset"] != "2099-06-30T00:00:00Z" || a["upstreamTimeout"] != "10s" {
		t.Errorf("alpha-payments: %v", a)
	}
	if a := e.call("GET", "/admin/v1/apis/beta-accounts", nil).want(t, 200).obj(t); a["name"] != "Beta accounts" || a["basePath"] != "/accounts" || a["operations"] != 1.0 {
		t.Errorf("beta-accounts (inline spec): %v", a)
	}

	// Second apply, in process: nothing changes.
	inProcess := &admin.Client{BaseURL: "http://admin.internal", Token: e.token, HTTP: &http.Client{
		Transport: hashCheck{t, admin.HandlerTransport{Handler: admin.New(e.store, nil)}},
	}}
	rep, err = admin.Apply(ctx, inProcess, d)
	if err != nil {
		t.Fatal(err)
	}
	if got := changed(rep); len(got) > 0 || rep.Changed() || len(rep.Changes) != 17 {
		t.Fatalf("second apply changed %q (%d steps)", got, len(rep.Changes))
	}
	for _, c := range rep.Changes {
		if c.ClientSecret != "" {
			t.Errorf("a secret reported again: %+v", c)
		}
	}

	// One product changes: one update.
	d.Products[0].Name = "Open accounts (2030)"
	d.Products[0].Plan.Rate.Limit = 20
	rep, err = admin.Apply(ctx, inProcess, d)
	if err != nil {
		t.Fatal(err)
	}
	if got := changed(rep); strings.Join(got, ",") != "product open-accounts updated" {
		t.Fatalf("after changing a product: %q", got)
	}
	if p := e.call("GET", "/admin/v1/products/open-accounts", nil).want(t, 200).obj(t); p["name"] != "Open accounts (2030)" {
		t.Errorf("product: %v", p)
	}

	// A new spec and a lifecycle step forward.
	d.APIs[0].Spec = mustRead(t, "payments.json")
	bp := "/accounts/v1"
	d.APIs[0].BasePath = &bp
	d.APIs[2].Status = "retired"
	rep, err = admin.Apply(ctx, inProcess, d)
	if err != nil {
		t.Fatal(err)
	}
	if got := changed(rep); strings.Join(got, ",") != "api alpha-accounts updated,api beta-accounts published,api beta-accounts retired" {
		t.Fatalf("after changing APIs: %q", got)
	}
	// Nothing goes back.
	d.APIs[2].Status = "published"
	_, err = admin.Apply(ctx, inProcess, d)
	if err == nil || !strings.Contains(err.Error(), "cannot go back") {
		t.Fatalf("moving a retired API back: %v", err)
	}
}

func mustRead(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestApplyReportsServerErrors(t *testing.T) {
	e := newEnv(t)
	c := e.client(e.token)
	d := &admin.Declaration{
		Banks:    []admin.BankDecl{{ID: "alpha", Name: "A"}},
		Partners: []admin.PartnerDecl{{ID: "fin", Name: "Fin", Kind: "fintech"}},
		Apps:     []admin.AppDecl{{Partner: "fin", Name: "web", Environment: "production", GrantTypes: []string{"client_credentials"}}},
	}
	rep, err := admin.Apply(context.Background(), c, d)
	if err == nil || !strings.Contains(err.Error(), "app fin/web") || !strings.Contains(err.Error(), "409") || !strings.Contains(err.Error(), "not approved") {
		t.Fatalf("error %v", err)
	}
	if len(rep.Changes) != 2 {
		t.Errorf("report so far: %q", actions(rep))
	}
	bad := e.client("wrong")
	if _, err := admin.Apply(context.Background(), bad, d); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("wrong token: %v", err)
	}
}

// A declaration naming objects that are neither declared nor on the hub
// is refused whole, every missing one named, before anything is written.
func TestApplyChecksReferencesFirst(t *testing.T) {
	e := newEnv(t)
	c := e.client(e.token)
	d := &admin.Declaration{
		Banks:    []admin.BankDecl{{ID: "zz-bank", Name: "ZZ"}},
		Products: []admin.ProductDecl{{ID: "loans", Name: "Loans", APIs: []string{"nope"}, Approval: "auto"}},
		Apps:     []admin.AppDecl{{Partner: "ghost", Name: "web", Environment: "sandbox", Subscriptions: []string{"loans", "nothing"}}},
	}
	rep, err := admin.Apply(context.Background(), c, d)
	if err == nil {
		t.Fatal("applied")
	}
	for _, want := range []string{"nothing applied", `API "nope" (named by product loans)`, `partner "ghost"`, `product "nothing"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), `product "loans"`) {
		t.Errorf("a declared product reported missing: %v", err)
	}
	if len(rep.Changes) != 0 {
		t.Errorf("changes made: %q", actions(rep))
	}
	e.call("GET", "/admin/v1/banks/zz-bank", nil).want(t, 404)
}

func TestLoadDeclarationErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ok.yaml"), mustRead(t, "accounts.yaml"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown field", "banks:\n  - id: alpha\n    nmae: Alpha\n", []string{"line 3", `unknown field "nmae"`}},
		{"wrong type", "banks:\n  - id: [alpha]\n", []string{"line 2", "cannot unmarshal"}},
		{"missing spec file", "apis:\n  - id: a\n    bank: alpha\n    specFile: nope.yaml\n", []string{"apis[0] (a)", "specFile", "nope.yaml"}},
		{"spec and specFile", "apis:\n  - id: a\n    bank: alpha\n    specFile: ok.yaml\n    spec: 'openapi: 3.0.3'\n", []string{"not both"}},
		{"no spec", "apis:\n  - id: a\n    bank: alpha\n", []string{"specFile (or spec) is required"}},
		{"bad status", "apis:\n  - id: a\n    bank: alpha\n    specFile: ok.yaml\n    status: live\n", []string{"status must be"}},
		{"duplicate ids", "banks:\n  - {id: a, name: A}\n  - {id: a, name: B}\n", []string{`banks[1]: bank "a" is declared twice`}},
		{"app without a name", "apps:\n  - partner: p\n", []string{"apps[0]", "partner and name are required"}},
		{"two documents", "banks: []\n---\nbanks: []\n", []string{"more than one YAML document"}},
		{"empty", "", []string{"empty"}},
		{"not YAML", "banks: [\n", []string{"line"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "alliance.yaml")
			if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := admin.LoadDeclaration(path)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), path+": ") {
				t.Errorf("error %q does not start with the file name", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
	// Spec files are relative to the declaration.
	path := filepath.Join(dir, "alliance.yaml")
	if err := os.WriteFile(path, []byte("apis:\n  - id: a\n    bank: alpha\n    specFile: ok.yaml\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := admin.LoadDeclaration(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(d.APIs[0].Spec, mustRead(t, "accounts.yaml")) {
		t.Error("specFile not read relative to the declaration")
	}
}
