package demo

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/obhub/obhub/admin"
	"github.com/obhub/obhub/openapi"
)

const testUpstream = "http://127.0.0.1:38291"

// loadDeclaration writes the demo alliance to a folder and reads it back
// with the loader of `obhub apply -f`.
func loadDeclaration(tb testing.TB) *admin.Declaration {
	tb.Helper()
	dir := tb.TempDir()
	if err := WriteDir(dir, testUpstream+"/"); err != nil {
		tb.Fatal(err)
	}
	d, err := admin.LoadDeclaration(filepath.Join(dir, "alliance.yaml"))
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

func TestDeclaration(t *testing.T) {
	d := loadDeclaration(t)

	if got := len(d.Banks); got != 2 || d.Banks[0].ID != Qingshan || d.Banks[1].ID != Hexi {
		t.Errorf("banks = %+v", d.Banks)
	}
	apis := map[string]admin.APIDecl{}
	var files []string
	for _, a := range d.APIs {
		apis[a.ID] = a
		files = append(files, strings.TrimPrefix(a.SpecFile, "specs/"))
		if want := testUpstream + "/" + a.Bank; a.Upstream != want {
			t.Errorf("%s: upstream %q; want %q", a.ID, a.Upstream, want)
		}
		if a.Status != "published" || !strings.HasPrefix(a.ID, strings.Split(a.Bank, "-")[0]+"-") {
			t.Errorf("%s: status %q, bank %q", a.ID, a.Status, a.Bank)
		}
		if want, _ := Spec(strings.TrimPrefix(a.SpecFile, "specs/")); !bytes.Equal(a.Spec, want) {
			t.Errorf("%s: the loader read another document than %s", a.ID, a.SpecFile)
		}
	}
	slices.Sort(files)
	if !slices.Equal(files, specNames(t)) {
		t.Errorf("declared documents %v; want every one of %v", files, specNames(t))
	}

	products := map[string]admin.ProductDecl{}
	for _, p := range d.Products {
		products[p.ID] = p
		for _, id := range p.APIs {
			if _, ok := apis[id]; !ok {
				t.Errorf("product %s: no API %s", p.ID, id)
			}
		}
	}
	starter, payments := products[StarterProduct], products[PaymentsProduct]
	if starter.Approval != "auto" || starter.Plan.Rate.Limit != 50 || starter.Plan.Rate.Period.D() != time.Second ||
		starter.Plan.Quota.Limit != 100000 || starter.Plan.Quota.Period.D() != 24*time.Hour {
		t.Errorf("starter = %+v", starter)
	}
	if payments.Approval != "manual" || payments.Plan.Rate.Limit != 5 || !slices.Equal(payments.APIs, []string{"qingshan-payments"}) {
		t.Errorf("payments = %+v", payments)
	}

	partners := map[string]admin.PartnerDecl{}
	for _, p := range d.Partners {
		partners[p.ID] = p
	}
	if p := partners[Partner]; p.Kind != "fintech" || !p.Approved {
		t.Errorf("partner %s = %+v", Partner, p)
	}
	if p := partners[BankPartner]; p.Kind != "bank" || p.Bank != Qingshan {
		t.Errorf("partner %s = %+v", BankPartner, p)
	}

	// Every app may use every scope of the APIs its products hold.
	for _, app := range d.Apps {
		if app.Partner != Partner || app.TokenEndpointAuthMethod != "client_secret_basic" ||
			!slices.Equal(app.GrantTypes, []string{"client_credentials"}) {
			t.Errorf("app %s = %+v", app.Name, app)
		}
		for _, product := range app.Subscriptions {
			for _, id := range products[product].APIs {
				doc, err := openapi.Import(context.Background(), apis[id].Spec)
				if err != nil {
					t.Fatal(err)
				}
				for _, op := range doc.Operations {
					for _, s := range op.Scopes {
						if !slices.Contains(app.Scopes, s) {
							t.Errorf("app %s: no scope %s for %s %s of %s", app.Name, s, op.Method, op.Path, id)
						}
					}
				}
			}
		}
	}
	subs := map[string][]string{}
	for _, app := range d.Apps {
		subs[app.Name+" "+app.Environment] = app.Subscriptions
	}
	if !slices.Equal(subs[SandboxApp+" sandbox"], []string{StarterProduct, PaymentsProduct}) ||
		!slices.Equal(subs[ProductionApp+" production"], []string{StarterProduct}) {
		t.Errorf("apps and subscriptions = %v", subs)
	}
}

// TestDeclarationReachesTheUpstream follows each declared API's upstream
// and base path to the demo handler: every GET without path parameters
// must answer 200 there, as it will behind the gateway.
func TestDeclarationReachesTheUpstream(t *testing.T) {
	h := NewUpstream(func() time.Time { return t0 })
	for _, a := range loadDeclaration(t).APIs {
		doc, err := openapi.Import(context.Background(), a.Spec)
		if err != nil {
			t.Fatal(err)
		}
		for _, op := range doc.Operations {
			if op.Method != http.MethodGet || strings.Contains(op.Path, "{") {
				continue
			}
			path := strings.TrimPrefix(a.Upstream, testUpstream) + doc.BasePath + op.Path
			if rec := do(t, h, "GET", path, ""); rec.Code != http.StatusOK {
				t.Errorf("%s: GET %s = %d", a.ID, path, rec.Code)
			}
		}
	}
}

func TestDeclarationUpstream(t *testing.T) {
	for _, bad := range []string{"", "/", "http://127.0.0.1:1 /x", "http://h/\"x"} {
		if _, err := Declaration(bad); err == nil {
			t.Errorf("Declaration(%q) succeeded", bad)
		}
	}
	b, err := Declaration("http://10.0.0.5:9000")
	if err != nil || bytes.Contains(b, []byte(upstreamPlaceholder)) || !bytes.Contains(b, []byte(`"http://10.0.0.5:9000/hexi-rcc"`)) {
		t.Errorf("Declaration = %v\n%s", err, b)
	}
}

func TestWriteDirFailsOnAFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteDir(file, testUpstream); err == nil {
		t.Error("WriteDir into a file succeeded")
	}
}
