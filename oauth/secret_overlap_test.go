package oauth_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/obhub/obhub/partners"
)

// TestPreviousSecretDuringOverlap: after a rotation with an overlap, the
// token endpoint accepts the new secret and, until its expiry on the
// server's clock, the previous one; after that the previous secret is
// invalid_client like any wrong secret.
func TestPreviousSecretDuringOverlap(t *testing.T) {
	f := newFixture(t) // clock fixed at testNow
	const (
		inOverlap = "app-overlap"
		expired   = "app-expired"
		atExpiry  = "app-at-expiry"
	)
	oldSecrets := map[string]string{}
	for id, expires := range map[string]time.Time{
		inOverlap: testNow.Add(time.Hour),
		expired:   testNow.Add(-time.Second),
		atExpiry:  testNow, // expiry is exclusive
	} {
		old, oldHash, err := partners.NewSecret()
		if err != nil {
			t.Fatal(err)
		}
		oldSecrets[id] = old
		f.addApp(t, &partners.App{ClientID: id, Partner: "acme", Environment: partners.Sandbox,
			GrantTypes: []string{partners.GrantClientCredentials}, Scopes: []string{"accounts:read"},
			TokenEndpointAuthMethod: partners.AuthSecretBasic,
			PreviousSecretHash:      oldHash, PreviousSecretExpiresAt: expires})
	}
	form := url.Values{"grant_type": {"client_credentials"}}
	for _, tc := range []struct {
		name, id, secret string
		ok               bool
	}{
		{"new secret during the overlap", inOverlap, f.secrets[inOverlap], true},
		{"old secret during the overlap", inOverlap, oldSecrets[inOverlap], true},
		{"new secret after the overlap", expired, f.secrets[expired], true},
		{"old secret after the overlap", expired, oldSecrets[expired], false},
		{"old secret at the expiry instant", atExpiry, oldSecrets[atExpiry], false},
		{"another app's old secret", inOverlap, oldSecrets[expired], false},
		{"empty secret", inOverlap, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := f.postToken(t, form, auth{basic: true, id: tc.id, secret: tc.secret})
			switch {
			case tc.ok && res.status != http.StatusOK:
				t.Errorf("%d %s, want a token", res.status, res.raw)
			case !tc.ok:
				checkOAuthError(t, res, http.StatusUnauthorized, "invalid_client")
			}
		})
	}
}
