package oauth_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/oauth"
)

// fakeScopes is a ScopeCatalog; err, when set, is returned instead.
type fakeScopes struct {
	scopes []oauth.Scope
	err    error
}

func (f *fakeScopes) Scopes(context.Context) ([]oauth.Scope, error) { return f.scopes, f.err }

// catalogScopes are the scopes of a small catalog: two public APIs
// (accounts:read is required by both) and an alliance API.
func catalogScopes() *fakeScopes {
	return &fakeScopes{scopes: []oauth.Scope{
		{Name: "transactions:read", Advertised: true},
		{Name: "accounts:read", Advertised: true},
		{Name: "accounts:read", Advertised: true},
		{Name: "interbank:settle", Advertised: false},
	}}
}

// TestMetadataScopesSupported: the metadata lists the scopes of the
// catalog's published public APIs, at both metadata paths, and never
// pretends the hub is an OpenID provider.
func TestMetadataScopesSupported(t *testing.T) {
	scopes := catalogScopes()
	f := newFixture(t, func(c *oauth.Config) { c.Scopes = scopes })
	var docs []string
	for _, path := range []string{oauth.PathMetadata, oauth.PathOpenIDConfig} {
		res := do(t, mustRequest(t, http.MethodGet, f.srv.URL+path))
		if res.status != http.StatusOK {
			t.Fatalf("%s: %d %s", path, res.status, res.raw)
		}
		if !equalJSON(res.body["scopes_supported"], []any{"accounts:read", "transactions:read"}) {
			t.Errorf("%s: scopes_supported = %v, want the advertised scopes, sorted, once each", path, res.body["scopes_supported"])
		}
		// obhub issues no ID tokens: none of OpenID Connect Discovery's
		// provider members, and no "openid" scope.
		for _, m := range []string{"subject_types_supported", "id_token_signing_alg_values_supported", "userinfo_endpoint"} {
			if _, ok := res.body[m]; ok {
				t.Errorf("%s: %s present, but obhub is not an OpenID provider", path, m)
			}
		}
		docs = append(docs, res.raw)
	}
	if docs[0] != docs[1] {
		t.Errorf("the two metadata documents differ:\n%s\n%s", docs[0], docs[1])
	}

	// The catalog changes: so does the metadata. Not loaded: no member.
	scopes.scopes = append(scopes.scopes, oauth.Scope{Name: "loans:read", Advertised: true})
	res := do(t, mustRequest(t, http.MethodGet, f.srv.URL+oauth.PathMetadata))
	if !equalJSON(res.body["scopes_supported"], []any{"accounts:read", "loans:read", "transactions:read"}) {
		t.Errorf("after a catalog change: scopes_supported = %v", res.body["scopes_supported"])
	}
	scopes.err = obhub.Errorf(obhub.EUNAVAILABLE, "configuration not loaded")
	res = do(t, mustRequest(t, http.MethodGet, f.srv.URL+oauth.PathMetadata))
	if _, ok := res.body["scopes_supported"]; ok || res.status != http.StatusOK {
		t.Errorf("catalog not loaded: %d, scopes_supported %v, want 200 without the member", res.status, res.body["scopes_supported"])
	}
}

// TestRegistrationRefusals: a registration that sends a server-set member
// such as obhub_environment, or asks for a scope no API of the catalog
// defines, is refused with invalid_client_metadata naming it, and costs
// no use of the initial access token.
func TestRegistrationRefusals(t *testing.T) {
	scopes := catalogScopes()
	rf := newRegFixture(t, func(c *oauth.Config) { c.Scopes = scopes })
	ctx := context.Background()
	_, token, err := rf.tokens.Issue(ctx, "acme", 10, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cc := func(kv ...any) map[string]any {
		m := map[string]any{"grant_types": []string{"client_credentials"}}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	refused := func(t *testing.T, r response, names ...string) {
		t.Helper()
		wantRegError(t, r, http.StatusBadRequest, "invalid_client_metadata")
		d, _ := r.body["error_description"].(string)
		for _, n := range names {
			if !strings.Contains(d, n) {
				t.Errorf("error_description %q does not name %q", d, n)
			}
		}
	}

	for name, tc := range map[string]struct {
		body  map[string]any
		names []string
	}{
		"environment production": {cc("obhub_environment", "production"), []string{"obhub_environment"}},
		"environment sandbox":    {cc("obhub_environment", "sandbox"), []string{"obhub_environment"}},
		"unknown scope":          {cc("scope", "admin accounts:read"), []string{"admin"}},
		"two unknown scopes":     {cc("scope", "admin accounts:read root"), []string{"admin", "root"}},
	} {
		t.Run(name, func(t *testing.T) {
			r := rf.send(t, "POST", oauth.PathRegister, token, tc.body)
			refused(t, r, tc.names...)
			if d, _ := r.body["error_description"].(string); strings.Contains(d, "accounts:read") {
				t.Errorf("error_description %q names a defined scope", d)
			}
		})
	}
	if got, _ := rf.tokens.List(ctx, "acme"); got[0].UsesLeft != 10 {
		t.Errorf("refused registrations used the token: %d uses left", got[0].UsesLeft)
	}

	// Scopes of any API in the catalog register, advertised or not.
	r := rf.send(t, "POST", oauth.PathRegister, token, cc("scope", "accounts:read interbank:settle"))
	if r.status != http.StatusCreated {
		t.Fatalf("defined scopes: %d %s", r.status, r.raw)
	}
	uri := oauth.PathRegister + "/" + r.body["client_id"].(string)
	rat := r.body["registration_access_token"].(string)
	update := cc("client_id", r.body["client_id"], "scope", "accounts:read")

	// PUT: the same rules; echoing what a GET returned is no change.
	update["obhub_environment"] = "sandbox"
	if r := rf.send(t, "PUT", uri, rat, update); r.status != http.StatusOK {
		t.Errorf("PUT echoing obhub_environment sandbox: %d %s", r.status, r.raw)
	}
	update["obhub_environment"] = "production"
	refused(t, rf.send(t, "PUT", uri, rat, update), "obhub_environment")
	delete(update, "obhub_environment")
	update["scope"] = "accounts:read admin"
	refused(t, rf.send(t, "PUT", uri, rat, update), "admin")

	// No catalog loaded: try again later, not a refusal.
	scopes.err = obhub.Errorf(obhub.EUNAVAILABLE, "configuration not loaded")
	wantRegError(t, rf.send(t, "POST", oauth.PathRegister, token, cc("scope", "accounts:read")), http.StatusServiceUnavailable, "temporarily_unavailable")
}
