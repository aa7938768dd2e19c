package main

import (
	"net/http"
	"testing"
)

// TestOAuthUnknownRoutesAreProblems: through the public listener, an
// unknown path under /oauth2/ or /.well-known/, or a wrong method, is a
// problem document with the request id (CONTRACT section 3), not Go's
// plain-text default.
func TestOAuthUnknownRoutesAreProblems(t *testing.T) {
	h := newHub(t, runMain(t), testAdminToken)

	wantProblem(t, h.get(t, h.public+"/oauth2/tokens"), http.StatusNotFound, "not-found")
	wantProblem(t, h.get(t, h.public+"/.well-known/nothing-here"), http.StatusNotFound, "not-found")

	r := h.do(t, newRequest(t, http.MethodPost, h.public+"/oauth2/jwks", nil))
	wantProblem(t, r, http.StatusMethodNotAllowed, "method-not-allowed")
	if got := r.header.Get("Allow"); got != "GET, HEAD" {
		t.Errorf("Allow = %q, want GET, HEAD", got)
	}
}
