package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/obhub/obhub/config"
	"github.com/obhub/obhub/store/etcd"
	"github.com/obhub/obhub/store/etcd/etcdtest"
)

// importRun runs `obhub cluster import` with args and the key-encryption
// key kek, and returns its exit status and output.
func importRun(t testing.TB, kek string, args ...string) (int, string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := func(k string) string {
		if k == config.KeyEncryptionKeyEnv {
			return kek
		}
		return ""
	}
	code := run(context.Background(), append([]string{"cluster", "import"}, args...), &out, &errb, env)
	return code, out.String() + errb.String()
}

// etcdKeys returns the number of keys under /obhub/ in the etcd at endpoint.
func etcdKeys(t testing.TB, endpoint string) int {
	t.Helper()
	kv := etcd.New(etcd.ParseEndpoints(endpoint), etcd.Options{})
	defer kv.Close()
	if err := kv.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	l, err := kv.List(context.Background(), config.Root)
	if err != nil {
		t.Fatal(err)
	}
	return len(l.KVs)
}

// TestClusterImport moves a single node that served an alliance, a
// developer and a customer into a cluster: after `obhub cluster import`,
// a cluster node with a fresh data folder issues tokens to the app's old
// client secret, accepts the access token the single node issued, signs
// the developer in with the old password, answers the old admin token and
// lists the same objects.
func TestClusterImport(t *testing.T) {
	dsn, _, _ := pgThroughProxy(t)
	srv := etcdtest.Start(t)
	kek := newKEK()
	core := newCoreSystem(t)
	dir := t.TempDir()

	// The single node.
	var out1 bytes.Buffer
	m1 := newTestMain(t, withData(dir), withAdminToken(""), withIssuer(clusterIssuer), withStdout(&out1))
	if err := m1.Run(context.Background()); err != nil {
		m1.Close()
		t.Fatal(err)
	}
	adminToken := m1.AdminToken
	h1, _ := hubBehindLB(t, m1, clusterIssuer)
	h1.adminToken = adminToken
	a := setupAlliance(t, h1, core)
	farm := "/" + a.bank + farmBase
	oldToken := h1.token(t, a.web.ClientID, a.web.ClientSecret, "")
	if r := h1.call(t, "GET", farm+"/accounts", oldToken, nil); r.status != http.StatusOK {
		t.Fatalf("call on the single node: %s", r)
	}
	const email, password = "wang.fang@riverside.example", "river side pass phrase 42"
	b := newConsoleBrowser(t)
	b.signUp(m1.PublicURL, "Riverside Fintech", "Wang Fang", email, password)
	var before struct{ Items []map[string]any }
	h1.adminCall(t, "GET", "/partners", nil, http.StatusOK, &before)
	rpJWKS := h1.get(t, m1.PublicURL+"/oauth2/rp-jwks") // the banks registered it for private_key_jwt
	if rpJWKS.status != http.StatusOK || !strings.Contains(string(rpJWKS.body), `"kid"`) {
		t.Fatalf("rp-jwks on the single node: %s", rpJWKS)
	}
	grants := customerGrants(t, h1, a)

	t.Run("a running node's folder is refused", func(t *testing.T) {
		code, out := importRun(t, kek, "--data", dir, "--etcd", srv.Endpoint(), "--db", dsn)
		if code != 1 || !strings.Contains(out, "stop the node first") {
			t.Fatalf("import of a running node's folder: exit %d\n%s", code, out)
		}
	})
	if err := m1.Close(); err != nil {
		t.Fatal(err)
	}

	t.Run("a dry run changes nothing", func(t *testing.T) {
		code, out := importRun(t, kek, "--data", dir, "--etcd", srv.Endpoint(), "--db", dsn, "--dry-run")
		if code != 0 || !strings.Contains(out, "dry run: nothing was written") || !strings.Contains(out, "apps") {
			t.Fatalf("dry run: exit %d\n%s", code, out)
		}
		if n := etcdKeys(t, srv.Endpoint()); n != 0 {
			t.Fatalf("after the dry run etcd holds %d keys", n)
		}
		if strings.Contains(out, adminToken) {
			t.Fatal("the output shows the admin token")
		}
		if !strings.Contains(out, "refresh tokens") || !strings.Contains(out, "registrations") {
			t.Fatalf("the dry run does not count the OAuth state:\n%s", out)
		}
	})

	code, out := importRun(t, kek, "--data", dir, "--etcd", srv.Endpoint(), "--db", dsn)
	if code != 0 {
		t.Fatalf("import: exit %d\n%s", code, out)
	}
	if !strings.Contains(out, "oauth: 4 refresh tokens") || grants.leaks(out) {
		t.Fatalf("import: the summary should count 4 refresh tokens (3 grants, one rotated) and show no token\n%s", out)
	}
	imported := etcdKeys(t, srv.Endpoint())

	t.Run("a second import refuses and changes nothing", func(t *testing.T) {
		code, out := importRun(t, kek, "--data", dir, "--etcd", srv.Endpoint(), "--db", dsn)
		if code != 1 || !strings.Contains(out, "already holds a configuration") {
			t.Fatalf("second import: exit %d\n%s", code, out)
		}
		if strings.Contains(out, "obhub: conflict") {
			t.Errorf("the refusal shows the error's internal code: %s", out)
		}
		if n := etcdKeys(t, srv.Endpoint()); n != imported {
			t.Fatalf("etcd holds %d keys after the refused import, want %d", n, imported)
		}
	})

	// A cluster node with a fresh data folder.
	m2 := runMain(t, withEtcd(srv.Endpoint(), kek), withDB(dsn), withIssuer(clusterIssuer), withAdminToken(""))
	h2, _ := hubBehindLB(t, m2, clusterIssuer)
	h2.adminToken = adminToken

	t.Run("the admin API shows the same objects to the old admin token", func(t *testing.T) {
		var after struct{ Items []map[string]any }
		h2.adminCall(t, "GET", "/partners", nil, http.StatusOK, &after)
		if len(after.Items) != len(before.Items) || len(after.Items) == 0 {
			t.Fatalf("partners after the move: %d, before: %d", len(after.Items), len(before.Items))
		}
		h2.adminCall(t, "GET", "/apps/"+a.web.ClientID, nil, http.StatusOK, nil)
		h2.adminCall(t, "GET", "/banks/"+a.bank, nil, http.StatusOK, nil)
	})
	t.Run("the relying-party keys the banks registered move too", func(t *testing.T) {
		if r := h2.get(t, m2.PublicURL+"/oauth2/rp-jwks"); r.status != http.StatusOK || string(r.body) != string(rpJWKS.body) {
			t.Fatalf("rp-jwks on the cluster node: %s\nwant the single node's: %s", r, rpJWKS.body)
		}
	})
	t.Run("the access token issued before the move is accepted", func(t *testing.T) {
		if r := h2.call(t, "GET", farm+"/accounts", oldToken, nil); r.status != http.StatusOK {
			t.Fatalf("old token at the cluster node: %s", r)
		}
	})
	t.Run("the app's old client secret gets a token", func(t *testing.T) {
		tok := h2.token(t, a.web.ClientID, a.web.ClientSecret, "")
		if r := h2.call(t, "GET", farm+"/accounts", tok, nil); r.status != http.StatusOK {
			t.Fatalf("new token at the cluster node: %s", r)
		}
	})
	t.Run("the customer's refresh token from before the move gets a token the gateway accepts", func(t *testing.T) {
		grants.checkOnCluster(t, h2, a)
	})
	t.Run("the developer signs in with the old password", func(t *testing.T) {
		b := newConsoleBrowser(t)
		code, body, at := b.post(m2.PublicURL+"/portal/signin", m2.PublicURL+"/portal/signin",
			url.Values{"email": {email}, "password": {password}})
		if code != http.StatusOK || at != "/portal/apps" || !strings.Contains(body, "Wang Fang") {
			t.Fatalf("sign-in at the cluster node: %d at %s\n%s", code, at, body)
		}
	})
}

// stoppedNodeWithBanks runs a single node on a new data folder, adds the
// banks, stops it and returns the folder.
func stoppedNodeWithBanks(t *testing.T, ids ...string) string {
	t.Helper()
	dir := t.TempDir()
	m := newTestMain(t, withData(dir))
	if err := m.Run(context.Background()); err != nil {
		m.Close()
		t.Fatal(err)
	}
	h := newHub(t, m, testAdminToken)
	for _, id := range ids {
		h.adminCall(t, "POST", "/banks", map[string]any{"id": id, "name": id}, http.StatusCreated, nil)
	}
	m.Close()
	return dir
}

// TestClusterImportRefusesNonEmptyEtcd: an etcd that a cluster already
// uses is refused before anything is written.
func TestClusterImportRefusesNonEmptyEtcd(t *testing.T) {
	srv := etcdtest.Start(t)
	kek := newKEK()
	dir := stoppedNodeWithBanks(t, "lake-rcb")

	runMain(t, withEtcd(srv.Endpoint(), kek)) // a cluster in use
	n := etcdKeys(t, srv.Endpoint())
	for _, args := range [][]string{{}, {"--dry-run"}} {
		code, out := importRun(t, kek, append([]string{"--data", dir, "--etcd", srv.Endpoint()}, args...)...)
		if code != 1 || !strings.Contains(out, "already holds a configuration") {
			t.Fatalf("import %v into a cluster in use: exit %d\n%s", args, code, out)
		}
	}
	if got := etcdKeys(t, srv.Endpoint()); got != n {
		t.Fatalf("etcd holds %d keys after the refused import, want %d", got, n)
	}
}

// TestClusterImportResumes: an import that stopped half-way leaves its
// marker in etcd; a node refuses to start on it, and running the import
// again finishes it.
func TestClusterImportResumes(t *testing.T) {
	srv := etcdtest.Start(t)
	kek := newKEK()
	dir := stoppedNodeWithBanks(t, "lake-rcb", "hill-rcb", "dale-rcb")
	if code, out := importRun(t, kek, "--data", dir, "--etcd", srv.Endpoint()); code != 0 {
		t.Fatalf("import: exit %d\n%s", code, out)
	}
	full := etcdKeys(t, srv.Endpoint())

	// Stopped half-way: the marker is there, two banks are not.
	ctx := context.Background()
	kv := etcd.New(etcd.ParseEndpoints(srv.Endpoint()), etcd.Options{})
	defer kv.Close()
	if err := kv.Open(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Txn(ctx, config.Put(importMarkerKey, []byte("{}"), config.Absent),
		config.Delete(config.BanksPrefix+"hill-rcb", config.Any), config.Delete(config.BanksPrefix+"lake-rcb", config.Any)); err != nil {
		t.Fatal(err)
	}
	if err := startErr(t, withEtcd(srv.Endpoint(), kek)); err == nil || !strings.Contains(err.Error(), "unfinished") {
		t.Fatalf("a node on a half-imported etcd: %v, want a refusal naming the unfinished import", err)
	}
	code, out := importRun(t, kek, "--data", dir, "--etcd", srv.Endpoint())
	if code != 0 || !strings.Contains(out, "unfinished import") {
		t.Fatalf("import run again: exit %d\n%s", code, out)
	}
	if n := etcdKeys(t, srv.Endpoint()); n != full {
		t.Fatalf("after the resumed import etcd holds %d keys, want %d", n, full)
	}
	m2 := runMain(t, withEtcd(srv.Endpoint(), kek))
	newHub(t, m2, testAdminToken).adminCall(t, "GET", "/banks/hill-rcb", nil, http.StatusOK, nil)
}

// grantsBeforeMove is OAuth state a single node made for a customer and a
// partner, to find again on the cluster after the import.
type grantsBeforeMove struct {
	conf             *oauth2.Config
	live             string // a refresh token never used
	revoked, rotated string // refresh tokens revoked, and already rotated, on the single node
	reg              registration
}

// customerGrants has a sandbox customer authorize an authorization-code
// app on the single node three times, revokes the second grant's refresh
// token and rotates the third's; and registers a client dynamically.
func customerGrants(t testing.TB, h *hub, a alliance) grantsBeforeMove {
	t.Helper()
	const redirect = "http://127.0.0.1:8400/callback"
	var web app
	h.adminCall(t, "POST", "/partners/"+a.partner+"/apps", map[string]any{"name": "web-moving", "environment": "sandbox",
		"scopes": []string{"accounts:read"}, "grant_types": []string{"authorization_code", "refresh_token"},
		"redirect_uris": []string{redirect}}, http.StatusCreated, &web)
	subscribe(t, h, web.ClientID, a.product)
	d := discover(t, h)
	g := grantsBeforeMove{conf: &oauth2.Config{ClientID: web.ClientID, ClientSecret: web.ClientSecret, RedirectURL: redirect,
		Scopes: []string{"accounts:read"}, Endpoint: oauth2.Endpoint{AuthURL: d.AuthorizationEndpoint, TokenURL: d.TokenEndpoint,
			AuthStyle: oauth2.AuthStyleInHeader}}}
	var toks [3]*oauth2.Token
	for i := range toks {
		if toks[i] = authorizeWithPAR(t, h, d, g.conf, h.c); toks[i].RefreshToken == "" {
			t.Fatal("no refresh token from the single node")
		}
	}
	g.live, g.revoked, g.rotated = toks[0].RefreshToken, toks[1].RefreshToken, toks[2].RefreshToken
	if r := postForm(t, h, d.RevocationEndpoint, g.conf, url.Values{"token": {g.revoked}, "token_type_hint": {"refresh_token"}}); r.status != http.StatusOK {
		t.Fatalf("revoke on the single node: %s", r)
	}
	if _, ok := refresh(t, h, g.conf, g.rotated); !ok {
		t.Fatal("refresh on the single node failed")
	}

	var iat struct{ Token string }
	h.adminCall(t, "POST", "/partners/"+a.partner+"/registration-tokens", map[string]any{"expiresIn": "1h"}, http.StatusCreated, &iat)
	r := h.sendJSON(t, "POST", h.public+"/oauth2/register", iat.Token, map[string]any{
		"client_name": "Tiller CLI", "grant_types": []string{"client_credentials"}, "scope": "accounts:read"})
	if r.status != http.StatusCreated || json.Unmarshal(r.body, &g.reg) != nil || g.reg.RegistrationAccessToken == "" {
		t.Fatalf("registration on the single node: %d", r.status)
	}
	return g
}

// refresh exchanges a refresh token at h and returns the access token,
// or false with the request refused as invalid_grant.
func refresh(t testing.TB, h *hub, conf *oauth2.Config, rt string) (string, bool) {
	t.Helper()
	r := postForm(t, h, conf.Endpoint.TokenURL, conf, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
	var answer struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
	}
	json.Unmarshal(r.body, &answer)
	switch {
	case r.status == http.StatusOK && answer.AccessToken != "":
		return answer.AccessToken, true
	case r.status == http.StatusBadRequest && answer.Error == "invalid_grant":
		return "", false
	}
	t.Fatalf("refresh: %d %s", r.status, answer.Error)
	return "", false
}

// checkOnCluster checks the grants at a cluster node after the import.
func (g grantsBeforeMove) checkOnCluster(t *testing.T, h *hub, a alliance) {
	at, ok := refresh(t, h, g.conf, g.live)
	if !ok {
		t.Fatal("the refresh token from before the move is refused")
	}
	if r := h.call(t, "GET", "/sandbox/"+a.bank+farmBase+"/accounts", at, nil); r.status != http.StatusOK {
		t.Fatalf("the refreshed access token at the gateway: %d", r.status)
	}
	if _, ok := refresh(t, h, g.conf, g.revoked); ok {
		t.Error("a refresh token revoked before the move is accepted")
	}
	if _, ok := refresh(t, h, g.conf, g.rotated); ok {
		t.Error("a refresh token rotated before the move is accepted again")
	}
	r := h.sendJSON(t, "GET", g.reg.RegistrationClientURI, g.reg.RegistrationAccessToken, nil)
	var got registration
	if r.status != http.StatusOK || json.Unmarshal(r.body, &got) != nil || got.ClientID != g.reg.ClientID {
		t.Errorf("RFC 7592 read of a client registered before the move: %d", r.status)
	}
}

// leaks reports whether out shows one of the grants' tokens.
func (g grantsBeforeMove) leaks(out string) bool {
	for _, s := range []string{g.live, g.revoked, g.rotated, g.reg.RegistrationAccessToken} {
		if strings.Contains(out, s) {
			return true
		}
	}
	return false
}
