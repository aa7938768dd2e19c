package oauth_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/obhub/obhub/oauth"
)

// TestFormEndpointsRefuseJSON: the token, PAR, introspection and
// revocation endpoints take application/x-www-form-urlencoded bodies; a
// JSON body (or none declared) is an RFC 6749 invalid_request that says
// so, not "The POST body can not be empty", an invalid_client or a 200.
func TestFormEndpointsRefuseJSON(t *testing.T) {
	f := newFlowFixture(t, false)
	bodies := map[string]string{
		oauth.PathToken:      `{"grant_type":"refresh_token","refresh_token":"x"}`,
		oauth.PathPAR:        `{"response_type":"code","client_id":"app-flow","redirect_uri":"https://acme.example/cb"}`,
		oauth.PathIntrospect: `{"token":"x"}`,
		oauth.PathRevoke:     `{"token":"x"}`,
	}
	for path, body := range bodies {
		for _, ct := range []string{"application/json", "text/plain", ""} {
			t.Run(path+" "+ct, func(t *testing.T) {
				req, _ := http.NewRequest(http.MethodPost, f.srv.URL+path, strings.NewReader(body))
				if ct != "" {
					req.Header.Set("Content-Type", ct)
				}
				req.SetBasicAuth(appFlow, f.secrets[appFlow])
				res := do(t, req)
				checkOAuthError(t, res, http.StatusBadRequest, "invalid_request")
				if d, _ := res.body["error_description"].(string); !strings.Contains(d, "application/x-www-form-urlencoded") {
					t.Errorf("error_description %q does not name the media type to send", d)
				}
			})
		}
	}
	// Forms still work, also with a charset parameter.
	res := f.postToken(t, form("grant_type", "client_credentials"), auth{basic: true, id: appBasic, secret: f.secrets[appBasic]})
	if res.status != http.StatusOK {
		t.Fatalf("form token request: %d %s", res.status, res.raw)
	}
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+oauth.PathIntrospect, strings.NewReader("token=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")
	req.SetBasicAuth(appFlow, f.secrets[appFlow])
	if res := do(t, req); res.status != http.StatusOK || res.body["active"] != false {
		t.Errorf("form with charset: %d %s", res.status, res.raw)
	}
}
