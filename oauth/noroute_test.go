package oauth_test

import (
	"net/http"
	"testing"

	"github.com/obhub/obhub/oauth"
)

// TestUnknownRoutesAreProblems: a path under /oauth2/ or /.well-known/
// that no endpoint serves, or a method an endpoint does not take, is a
// problem document with a stable type (docs/errors.md), never net/http's
// plain text; 405 says in Allow what the path takes.
func TestUnknownRoutesAreProblems(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		method, path string
		status       int
		slug, allow  string
	}{
		{http.MethodGet, "/oauth2/tokens", http.StatusNotFound, "not-found", ""},
		{http.MethodGet, "/.well-known/nothing-here", http.StatusNotFound, "not-found", ""},
		{http.MethodGet, oauth.PathRPJWKS, http.StatusNotFound, "not-found", ""}, // no relying-party keys configured
		{http.MethodPost, oauth.PathJWKS, http.StatusMethodNotAllowed, "method-not-allowed", "GET, HEAD"},
		{http.MethodDelete, oauth.PathMetadata, http.StatusMethodNotAllowed, "method-not-allowed", "GET, HEAD"},
		{http.MethodPut, oauth.PathAuthorize, http.StatusMethodNotAllowed, "method-not-allowed", "GET, HEAD, POST"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, f.srv.URL+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-Request-Id", "req-42")
			res := do(t, req)
			if res.status != tc.status {
				t.Fatalf("status %d %s, want %d", res.status, res.raw, tc.status)
			}
			if ct := res.header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q, want application/problem+json (body %q)", ct, res.raw)
			}
			if got := res.header.Get("Allow"); got != tc.allow {
				t.Errorf("Allow %q, want %q", got, tc.allow)
			}
			if res.body["type"] != "https://obhub.dev/problems/"+tc.slug || res.body["title"] == "" ||
				res.body["status"] != float64(tc.status) || res.body["request_id"] != "req-42" {
				t.Errorf("problem %s", res.raw)
			}
		})
	}
}
