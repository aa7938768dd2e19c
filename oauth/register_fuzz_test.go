package oauth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/obhub/obhub/oauth"
)

// FuzzRegistration feeds arbitrary metadata documents to the
// registration endpoint with a valid initial access token of many uses:
// it must never panic or answer 5xx, answer every refusal as RFC 7591
// JSON, and create only sandbox clients that pass the app rules.
func FuzzRegistration(f *testing.F) {
	rf := newRegFixture(f)
	_, token, err := rf.tokens.Issue(context.Background(), "acme", oauth.MaxInitialTokenUses, time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		`{"grant_types":["client_credentials"]}`,
		`{"grant_types":["authorization_code"],"redirect_uris":["https://a.example/cb"],"response_types":["code"]}`,
		`{"redirect_uris":[1,2],"jwks":{"keys":"x"},"scope":7}`,
		`{"grant_types":["client_credentials"],"token_endpoint_auth_method":"private_key_jwt","jwks":{"keys":[]}}`,
		`{"software_statement":"x"}`, `[]`, `null`, `{"client_name":"` + strings.Repeat("x", 5000) + `"}`,
	} {
		f.Add(seed)
	}
	h := rf.srv.Config.Handler
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest(http.MethodPost, oauth.PathRegister, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		switch {
		case w.Code >= 500:
			t.Fatalf("%d for %q: %s", w.Code, body, w.Body)
		case w.Code == http.StatusCreated:
			if !strings.Contains(w.Body.String(), `"obhub_environment":"sandbox"`) {
				t.Fatalf("created a client that is not a sandbox app: %s", w.Body)
			}
		case w.Code == http.StatusUnauthorized:
			// the token's uses ran out
		case !strings.Contains(w.Body.String(), `"error":"invalid_`):
			t.Fatalf("%d for %q without an RFC 7591 error: %s", w.Code, body, w.Body)
		}
	})
}
