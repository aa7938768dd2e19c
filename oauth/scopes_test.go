package oauth_test

import (
	"context"
	"net/http"
	"testing"

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
