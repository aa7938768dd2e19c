package main

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/obhub/obhub/store/etcd/etcdtest"
)

// TestKeyRotationOnRunningNode: `obhub keys rotate` on the data folder of
// a running node takes effect without a restart — the next key is in the
// JWKS before it signs, then signs, and tokens of the old key keep working
// at the gateway until they expire, after which the old key leaves the
// JWKS.
func TestKeyRotationOnRunningNode(t *testing.T) {
	clock := &testClock{}
	m := runMain(t, withClock(clock), func(m *Main) { m.keyReload = 10 * time.Millisecond })
	h := newHub(t, m, testAdminToken)
	core := newCoreSystem(t)
	a := setupAlliance(t, h, core)
	farm := "/" + a.bank + farmBase
	kidOf := func(tok string) string {
		hdr, _ := jwtParts(t, tok)
		return hdr["kid"].(string)
	}
	callOK := func(name, tok string, want int) {
		t.Helper()
		if r := h.call(t, "GET", farm+"/accounts", tok, nil); r.status != want {
			t.Errorf("%s: call = %s, want %d", name, r, want)
		}
	}

	oldTok := h.token(t, a.web.ClientID, a.web.ClientSecret, "accounts:read")
	oldKID := kidOf(oldTok)

	code, out, errOut := runCLI(t, nil, "keys", "rotate", "--data", m.Config.Data, "--prepublish", "5m")
	if code != 0 {
		t.Fatalf("keys rotate: exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "new key ") || !strings.Contains(out, "old key "+oldKID) {
		t.Errorf("keys rotate printed %q", out)
	}
	var newKID string
	eventually(t, waitLimit, func() string {
		kids := h.jwksKIDs(t)
		if len(kids) != 2 {
			return "JWKS " + strings.Join(kids, " ")
		}
		for _, k := range kids {
			if k != oldKID {
				newKID = k
			}
		}
		return ""
	})
	if !strings.Contains(out, newKID) {
		t.Errorf("keys rotate printed %q, JWKS has new key %s", out, newKID)
	}

	// Before activation the old key still signs.
	if got := kidOf(h.token(t, a.web.ClientID, a.web.ClientSecret, "accounts:read")); got != oldKID {
		t.Errorf("before activation a token is signed by %s, want the old key %s", got, oldKID)
	}

	clock.advance(5*time.Minute + time.Second)
	newTok := h.token(t, a.web.ClientID, a.web.ClientSecret, "accounts:read")
	if got := kidOf(newTok); got != newKID {
		t.Errorf("after activation a token is signed by %s, want the new key %s", got, newKID)
	}
	callOK("token of the old key", oldTok, http.StatusOK)
	callOK("token of the new key", newTok, http.StatusOK)
	// The CLI runs on the real clock, 5 minutes behind the node's.
	code, out, _ = runCLI(t, nil, "keys", "list", "--data", m.Config.Data)
	if code != 0 || !strings.Contains(out, oldKID+" ES256 active retires=") || !strings.Contains(out, newKID+" ES256 published signs-from=") {
		t.Errorf("keys list: exit %d\n%s", code, out)
	}
	if code, _, errOut = runCLI(t, nil, "keys", "rotate", "--data", m.Config.Data); code == 0 || errOut == "" {
		// For the CLI the new key is still pending: refused.
		t.Errorf("a second rotation while one is pending succeeded")
	}

	// The old key's tokens have expired (10 min) a minute before it
	// leaves the JWKS.
	clock.advance(11 * time.Minute)
	if kids := h.jwksKIDs(t); !slices.Equal(kids, []string{newKID}) {
		t.Errorf("after retirement JWKS %v, want only %s", kids, newKID)
	}
	callOK("token of the retired key", oldTok, http.StatusUnauthorized)
	freshTok := h.token(t, a.web.ClientID, a.web.ClientSecret, "accounts:read")
	callOK("fresh token", freshTok, http.StatusOK)
}

// TestKeyWithdrawalOnRunningNode: `obhub keys withdraw` takes a leaked
// signing key out at once — out of the JWKS, its tokens refused at the
// gateway although they have not expired and were verified (and cached)
// before — while a new key signs from then on.
func TestKeyWithdrawalOnRunningNode(t *testing.T) {
	m := runMain(t, func(m *Main) { m.keyReload = 10 * time.Millisecond })
	h := newHub(t, m, testAdminToken)
	a := setupAlliance(t, h, newCoreSystem(t))
	farm := "/" + a.bank + farmBase
	kidOf := func(tok string) string {
		hdr, _ := jwtParts(t, tok)
		return hdr["kid"].(string)
	}
	leaked := h.token(t, a.web.ClientID, a.web.ClientSecret, "accounts:read")
	leakedKID := kidOf(leaked)
	if r := h.call(t, "GET", farm+"/accounts", leaked, nil); r.status != http.StatusOK {
		t.Fatalf("before: %s", r) // verified and cached
	}

	code, out, errOut := runCLI(t, nil, "keys", "withdraw", leakedKID, "--data", m.Config.Data)
	if code != 0 || !strings.Contains(out, "key "+leakedKID+" withdrawn") || !strings.Contains(out, "new key ") {
		t.Fatalf("keys withdraw: exit %d\n%s%s", code, out, errOut)
	}
	eventually(t, waitLimit, func() string {
		if kids := h.jwksKIDs(t); len(kids) != 1 || kids[0] == leakedKID {
			return "JWKS " + strings.Join(kids, " ")
		}
		return ""
	})
	if r := h.call(t, "GET", farm+"/accounts", leaked, nil); r.status != http.StatusUnauthorized {
		t.Errorf("a token of the withdrawn key: %s, want 401", r)
	}
	fresh := h.token(t, a.web.ClientID, a.web.ClientSecret, "accounts:read")
	if kidOf(fresh) == leakedKID {
		t.Fatal("the withdrawn key still signs")
	}
	if r := h.call(t, "GET", farm+"/accounts", fresh, nil); r.status != http.StatusOK {
		t.Errorf("a token of the new key: %s", r)
	}
	if code, _, errOut := runCLI(t, nil, "keys", "withdraw", "--data", m.Config.Data, leakedKID); code == 0 || !strings.Contains(errOut, "no published key") {
		t.Errorf("withdrawing it again: exit %d, %q", code, errOut)
	}
}

func TestKeysCommandErrors(t *testing.T) {
	data := t.TempDir()
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"no subcommand", nil, []string{"keys"}},
		{"unknown subcommand", nil, []string{"keys", "burn"}},
		{"delay shorter than the reload interval", nil, []string{"keys", "rotate", "--data", data, "--prepublish", "1s"}},
		{"cluster without key-encryption key", map[string]string{"OBHUB_ETCD": "http://127.0.0.1:2379"}, []string{"keys", "rotate", "--data", data}},
		{"withdraw without a key id", nil, []string{"keys", "withdraw", "--data", data}},
		{"withdraw two key ids", nil, []string{"keys", "withdraw", "a", "--data", data, "b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code, _, errOut := runCLI(t, tc.env, tc.args...); code == 0 || errOut == "" {
				t.Errorf("exit %d, stderr %q; want a failure", code, errOut)
			}
		})
	}
}

// TestKeyRotationInCluster: `obhub keys rotate --etcd` rotates the key set
// every node of a cluster shares; both nodes publish the next key, then
// sign with it, and accept each other's tokens throughout.
func TestKeyRotationInCluster(t *testing.T) {
	srv := etcdtest.Start(t)
	key := make([]byte, 32)
	rand.Read(key)
	kek := base64.StdEncoding.EncodeToString(key)
	const issuer = "http://obhub.cluster.test"
	clock := &testClock{}
	fast := func(m *Main) { m.keyReload = 10 * time.Millisecond }
	core := newCoreSystem(t)
	m1 := runMain(t, withEtcd(srv.Endpoint(), kek), withIssuer(issuer), withClock(clock), fast)
	m2 := runMain(t, withEtcd(srv.Endpoint(), kek), withIssuer(issuer), withClock(clock), fast, withData(t.TempDir()))
	h1, h2 := newHub(t, m1, testAdminToken), newHub(t, m2, testAdminToken)
	a := setupAlliance(t, h1, core)
	farm := "/" + a.bank + farmBase
	oldKID := h1.jwksKIDs(t)[0]
	oldTok := h1.token(t, a.web.ClientID, a.web.ClientSecret, "")

	env := map[string]string{"OBHUB_ETCD": srv.Endpoint(), "OBHUB_KEY_ENCRYPTION_KEY": kek}
	if code, out, errOut := runCLI(t, env, "keys", "rotate", "--prepublish", "1m"); code != 0 {
		t.Fatalf("keys rotate --etcd: exit %d\n%s%s", code, out, errOut)
	}
	for i, h := range []*hub{h1, h2} {
		eventually(t, waitLimit, func() string {
			if kids := h.jwksKIDs(t); len(kids) != 2 || kids[0] != oldKID {
				return "node " + string(rune('1'+i)) + " JWKS " + strings.Join(kids, " ")
			}
			return ""
		})
	}
	newKID := h1.jwksKIDs(t)[1]
	code, out, _ := runCLI(t, env, "keys", "list")
	if code != 0 || !strings.Contains(out, oldKID+" ES256 active") || !strings.Contains(out, newKID+" ES256 published signs-from=") {
		t.Errorf("keys list --etcd: exit %d\n%s", code, out)
	}

	clock.advance(time.Minute + time.Second)
	tok := h1.token(t, a.web.ClientID, a.web.ClientSecret, "")
	if hdr, _ := jwtParts(t, tok); hdr["kid"] != newKID {
		t.Errorf("node 1 signs with %v, want the new key %s", hdr["kid"], newKID)
	}
	eventually(t, waitLimit, func() string {
		if r := h2.call(t, "GET", farm+"/accounts", tok, nil); r.status != http.StatusOK {
			return "node 2 answers " + r.String()
		}
		return ""
	})

	// The relying-party keys rotate apart, in their own etcd key: both
	// nodes publish the new one at /oauth2/rp-jwks.
	code, out, _ = runCLI(t, env, "keys", "list", "--rp")
	rpOld := strings.Fields(out)
	if code != 0 || len(rpOld) < 3 || rpOld[1] != "ES256" || rpOld[2] != "active" || strings.Contains(out, oldKID) {
		t.Fatalf("keys list --rp --etcd: exit %d\n%s", code, out)
	}
	if code, out, errOut := runCLI(t, env, "keys", "rotate", "--rp", "--prepublish", "1m"); code != 0 || !strings.Contains(out, "old key "+rpOld[0]) {
		t.Fatalf("keys rotate --rp --etcd: exit %d\n%s%s", code, out, errOut)
	}
	for i, h := range []*hub{h1, h2} {
		eventually(t, waitLimit, func() string {
			r := h.call(t, "GET", "/oauth2/rp-jwks", "", nil)
			if n := strings.Count(string(r.body), `"kid"`); n != 2 || !strings.Contains(string(r.body), rpOld[0]) {
				return "node " + string(rune('1'+i)) + " rp-jwks " + string(r.body)
			}
			return ""
		})
	}
	if kids := h1.jwksKIDs(t); len(kids) != 2 {
		t.Errorf("the relying-party rotation changed the token JWKS: %v", kids)
	}

	// The old key leaks: withdrawn from the cluster's key set, it leaves
	// both nodes' JWKS and its tokens stop working on both.
	if r := h2.call(t, "GET", farm+"/accounts", oldTok, nil); r.status != http.StatusOK {
		t.Fatalf("the old key's token before the withdrawal: %s", r)
	}
	if code, out, errOut := runCLI(t, env, "keys", "withdraw", oldKID); code != 0 || !strings.Contains(out, oldKID+" withdrawn") {
		t.Fatalf("keys withdraw --etcd: exit %d\n%s%s", code, out, errOut)
	}
	for i, h := range []*hub{h1, h2} {
		eventually(t, waitLimit, func() string {
			if kids := h.jwksKIDs(t); slices.Contains(kids, oldKID) {
				return "node " + string(rune('1'+i)) + " JWKS " + strings.Join(kids, " ")
			}
			if r := h.call(t, "GET", farm+"/accounts", oldTok, nil); r.status != http.StatusUnauthorized {
				return "node " + string(rune('1'+i)) + " answers the withdrawn key's token with " + r.String()
			}
			return ""
		})
	}
}
