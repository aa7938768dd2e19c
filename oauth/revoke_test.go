package oauth_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/obhub/obhub/oauth"
)

func (f *fixture) revoke(t *testing.T, token, id string) response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+oauth.PathRevoke, strings.NewReader(form("token", token).Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, f.secrets[id])
	return do(t, req)
}

func TestRevocation(t *testing.T) {
	f := newFlowFixture(t, false)
	res, _ := f.exchange(f.code(t), verifier43)
	at := res.body["access_token"].(string)
	list := oauth.NewRevocationList(f.store, nil, nil)

	if r := f.revoke(t, at, appBasic); r.status != 400 || r.body["error"] != "unauthorized_client" {
		t.Errorf("another client's token: %d %s", r.status, r.raw)
	}
	if r := f.revoke(t, "not-a-token", appFlow); r.status != 200 {
		t.Errorf("unknown token: %d, want 200 (RFC 7009)", r.status)
	}
	if r := f.revoke(t, res.body["refresh_token"].(string), appFlow); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.raw)
	}
	if err := list.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !list.Revoked(decodeClaims(t, at)["jti"].(string)) {
		t.Error("revoking the refresh token did not put the grant's access token on the revocation list")
	}
	if in := f.introspect(t, at, appFlow); in.body["active"] != false {
		t.Errorf("revoked token introspects %v", in.body)
	}

	// A store that fails: 5xx, never 200 (CVE-2020-15223).
	_ = f.store.Close()
	if r := f.revoke(t, at, appFlow); r.status < 500 {
		t.Errorf("revocation with the store down: %d %s, want 5xx", r.status, r.raw)
	}
	_ = time.Second
}
