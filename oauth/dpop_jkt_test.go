package oauth_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/obhub/obhub/internal/dpop/dpoptest"
	"github.com/obhub/obhub/oauth"
)

// pushDPoP sends a PAR request with an optional DPoP proof.
func (f *fixture) pushDPoP(t *testing.T, p url.Values, proof string) response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+oauth.PathPAR, strings.NewReader(p.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(appFlow, f.secrets[appFlow])
	if proof != "" {
		req.Header.Set(oauth.HeaderDPoP, proof)
	}
	return do(t, req)
}

// exchangeDPoP redeems a code with an optional DPoP proof.
func (f *fixture) exchangeDPoP(t *testing.T, code, proof string) response {
	t.Helper()
	p := form("grant_type", "authorization_code", "code", code, "redirect_uri", flowRedir, "code_verifier", verifier43)
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+oauth.PathToken, strings.NewReader(p.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(appFlow, f.secrets[appFlow])
	if proof != "" {
		req.Header.Set(oauth.HeaderDPoP, proof)
	}
	return do(t, req)
}

// An authorization code bound to a DPoP key (RFC 9449 section 10) — by the
// dpop_jkt parameter or by a proof sent with the pushed request — is
// redeemed only with a proof made with that key: a stolen code is of no
// use without the client's private key.
func TestDPoPJKTBindsTheCode(t *testing.T) {
	f := newFlowFixture(t, true)
	mine, other := dpoptest.NewKey(t), dpoptest.NewKey(t)
	tokenURL, parURL := testIssuer+oauth.PathToken, testIssuer+oauth.PathPAR

	// A FAPI app's proofs need the server's nonce, at the PAR endpoint as
	// at the token endpoint: the first proof gets use_dpop_nonce and one.
	first := f.pushDPoP(t, authParams(), mine.Proof(t, "POST", parURL, ""))
	nonce := first.header.Get("DPoP-Nonce")
	if first.status != 400 || first.body["error"] != "use_dpop_nonce" || nonce == "" {
		t.Fatalf("PAR proof without a nonce: %d %s (DPoP-Nonce %q)", first.status, first.raw, nonce)
	}
	proof := func(k *dpoptest.Key, url string) string { return k.Proof(t, "POST", url, "", dpoptest.Nonce(nonce)) }

	codeFor := func(t *testing.T, p url.Values, proof string) string {
		t.Helper()
		res := f.pushDPoP(t, p, proof)
		if res.status != http.StatusCreated {
			t.Fatalf("PAR: %d %s", res.status, res.raw)
		}
		uri := res.body["request_uri"].(string)
		return codeFrom(t, f.signIn(t, form("client_id", appFlow, "request_uri", uri), "lisi", oauth.SandboxPassword))
	}
	bound := func(t *testing.T, code string) {
		t.Helper()
		for _, tt := range []struct{ name, proof string }{
			{"no proof", ""},
			{"another key's proof", proof(other, tokenURL)},
		} {
			if res := f.exchangeDPoP(t, code, tt.proof); res.status != 400 || res.body["error"] != "invalid_dpop_proof" {
				t.Errorf("%s: %d %s, want 400 invalid_dpop_proof", tt.name, res.status, res.raw)
			}
		}
		res := f.exchangeDPoP(t, code, proof(mine, tokenURL))
		if res.status != 200 || res.body["token_type"] != "DPoP" {
			t.Fatalf("with the bound key: %d %s", res.status, res.raw)
		}
		claims := decodeClaims(t, res.body["access_token"].(string))
		if cnf, _ := claims["cnf"].(map[string]any); cnf["jkt"] != mine.JKT {
			t.Errorf("cnf %v, want jkt %s", claims["cnf"], mine.JKT)
		}
		for k := range claims {
			if strings.Contains(k, "dpop_jkt") {
				t.Errorf("the token carries the code's binding as claim %q", k)
			}
		}
	}

	t.Run("dpop_jkt parameter", func(t *testing.T) {
		p := authParams()
		p.Set(oauth.ParamDPoPJKT, mine.JKT)
		bound(t, codeFor(t, p, ""))
	})
	t.Run("proof at the PAR endpoint", func(t *testing.T) {
		bound(t, codeFor(t, authParams(), proof(mine, parURL)))
	})
	t.Run("parameter and proof agree", func(t *testing.T) {
		p := authParams()
		p.Set(oauth.ParamDPoPJKT, mine.JKT)
		bound(t, codeFor(t, p, proof(mine, parURL)))
	})
	t.Run("an unbound code still takes any proof or none", func(t *testing.T) {
		if res := f.exchangeDPoP(t, codeFor(t, authParams(), ""), ""); res.status != 200 || res.body["token_type"] != "Bearer" {
			t.Fatalf("%d %s", res.status, res.raw)
		}
	})

	refused := []struct {
		name, jkt, proof, wantErr string
	}{
		{"parameter and proof disagree", other.JKT, proof(mine, parURL), "invalid_dpop_proof"},
		{"malformed dpop_jkt", "not-a-thumbprint", "", "invalid_request"},
		{"proof made for the token endpoint", "", proof(mine, tokenURL), "invalid_dpop_proof"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			p := authParams()
			if tt.jkt != "" {
				p.Set(oauth.ParamDPoPJKT, tt.jkt)
			}
			if res := f.pushDPoP(t, p, tt.proof); res.status != 400 || res.body["error"] != tt.wantErr {
				t.Errorf("PAR: %d %s, want 400 %s", res.status, res.raw, tt.wantErr)
			}
		})
	}
	t.Run("a PAR proof is used once", func(t *testing.T) {
		once := proof(mine, parURL)
		if res := f.pushDPoP(t, authParams(), once); res.status != http.StatusCreated {
			t.Fatalf("first: %d %s", res.status, res.raw)
		}
		if res := f.pushDPoP(t, authParams(), once); res.status != 400 || res.body["error"] != "invalid_dpop_proof" {
			t.Errorf("replayed: %d %s", res.status, res.raw)
		}
	})
}
