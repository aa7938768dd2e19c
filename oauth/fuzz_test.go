package oauth_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/obhub/obhub/oauth"
)

// FuzzTokenEndpoint feeds arbitrary bodies, content types and Authorization
// headers to the token endpoint: it must never panic, never answer 5xx
// and only issue a token to a correctly authenticated client.
func FuzzTokenEndpoint(f *testing.F) {
	fx := newFixture(f)
	s := fx.srv.Config.Handler
	secret := fx.secrets[appBasic]
	f.Add("grant_type=client_credentials", "application/x-www-form-urlencoded", "Basic YXBwLWJhc2ljOng=")
	f.Add("grant_type=client_credentials&client_id=app-post&client_secret=x", "application/x-www-form-urlencoded", "")
	f.Add("grant_type=client_credentials&scope=accounts%20payments:write", "application/x-www-form-urlencoded", "Basic !!!")
	f.Add("grant_type=password&username=a&password=b", "application/x-www-form-urlencoded", "Bearer x")
	f.Add("--b\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\nclient_credentials\r\n--b--\r\n", "multipart/form-data; boundary=b", "")
	f.Add("client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=a.b.c&grant_type=client_credentials", "application/x-www-form-urlencoded", "")
	f.Fuzz(func(t *testing.T, body, contentType, authorization string) {
		req := httptest.NewRequest(http.MethodPost, oauth.PathToken, strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		_, password, _ := req.BasicAuth()
		if rec.Code == http.StatusOK && !strings.Contains(body, secret) && !strings.Contains(password, secret) {
			t.Fatalf("token issued without the secret: %s", rec.Body)
		}
	})
}
