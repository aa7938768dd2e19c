package admin_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/obhub/obhub/admin"
)

// An mTLS app declared with the admin API's field names survives a round
// trip: applying twice changes nothing, and changing its certificate's
// subject DN is one update.
func TestApplyMTLSApp(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	file := filepath.Join(t.TempDir(), "mtls.yaml")
	decl := `
partners:
  - id: fin
    name: Fin
    kind: fintech
    approved: true
apps:
  - partner: fin
    name: teller
    environment: production
    grant_types: [client_credentials]
    token_endpoint_auth_method: tls_client_auth
    tls_client_auth_subject_dn: CN=teller,O=Fin
    tls_client_certificate_bound_access_tokens: true
`
	if err := os.WriteFile(file, []byte(decl), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := admin.LoadDeclaration(file)
	if err != nil {
		t.Fatal(err)
	}
	c := e.client(e.token)
	rep, err := admin.Apply(ctx, c, d)
	if err != nil {
		t.Fatalf("apply: %v\nreport so far: %q", err, actions(rep))
	}
	want := "partner fin created,partner fin approved,app fin/teller created"
	if got := strings.Join(actions(rep), ","); got != want {
		t.Fatalf("first apply: %s\nwant %s", got, want)
	}
	var clientID string
	for _, ch := range rep.Changes {
		if ch.Kind == "app" {
			clientID = ch.ClientID
			if ch.ClientSecret != "" {
				t.Errorf("a tls_client_auth app got a secret: %+v", ch)
			}
		}
	}
	app := e.call("GET", "/admin/v1/apps/"+clientID, nil).want(t, 200).obj(t)
	if app["token_endpoint_auth_method"] != "tls_client_auth" || app["tls_client_auth_subject_dn"] != "CN=teller,O=Fin" ||
		app["tls_client_certificate_bound_access_tokens"] != true {
		t.Fatalf("app as held: %v", app)
	}

	rep, err = admin.Apply(ctx, c, d)
	if err != nil {
		t.Fatal(err)
	}
	if got := changed(rep); len(got) > 0 || rep.Changed() {
		t.Fatalf("second apply changed %q", got)
	}

	d.Apps[0].TLSClientAuthSubjectDN = "CN=teller-2026,O=Fin"
	rep, err = admin.Apply(ctx, c, d)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(changed(rep), ","); got != "app fin/teller updated" {
		t.Fatalf("after changing the subject DN: %q", got)
	}
	app = e.call("GET", "/admin/v1/apps/"+clientID, nil).want(t, 200).obj(t)
	if app["tls_client_auth_subject_dn"] != "CN=teller-2026,O=Fin" || app["tls_client_certificate_bound_access_tokens"] != true {
		t.Fatalf("app after update: %v", app)
	}

	// Switching to a SAN and dropping the binding is one update too, and
	// leaves no subject DN behind.
	d.Apps[0].TLSClientAuthSubjectDN, d.Apps[0].TLSClientAuthSANDNS, d.Apps[0].TLSBound = "", "teller.fin.example", false
	rep, err = admin.Apply(ctx, c, d)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(changed(rep), ","); got != "app fin/teller updated" {
		t.Fatalf("after switching to a SAN: %q", got)
	}
	app = e.call("GET", "/admin/v1/apps/"+clientID, nil).want(t, 200).obj(t)
	if app["tls_client_auth_san_dns"] != "teller.fin.example" || app["tls_client_auth_subject_dn"] != nil ||
		app["tls_client_certificate_bound_access_tokens"] != nil {
		t.Fatalf("app after switching to a SAN: %v", app)
	}
	if rep, err = admin.Apply(ctx, c, d); err != nil || rep.Changed() {
		t.Fatalf("apply after the switch: %v, changed %q", err, changed(rep))
	}
}
