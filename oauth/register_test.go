package oauth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/oauth"
	"github.com/obhub/obhub/partners"
)

// fakeApps is an oauth.RegisteredApps in memory.
type fakeApps struct {
	mu       sync.Mutex
	apps     map[string]*partners.App
	partners map[string]*partners.Partner
	n        int
}

func (f *fakeApps) Partner(_ context.Context, id string) (*partners.Partner, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := f.partners[id]; ok {
		return p, nil
	}
	return nil, obhub.Errorf(obhub.ENOTFOUND, "no partner")
}

func (f *fakeApps) App(_ context.Context, id string) (*partners.App, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if a, ok := f.apps[id]; ok {
		c := *a
		return &c, nil
	}
	return nil, obhub.Errorf(obhub.ENOTFOUND, "no app")
}

func (f *fakeApps) CreateApp(_ context.Context, a partners.App) (*partners.App, string, error) {
	if err := a.Validate(); err != nil {
		return nil, "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	a.ClientID = "app_" + strings.Repeat("x", f.n)
	a.CreatedAt = time.Now()
	f.apps[a.ClientID] = &a
	c := a
	return &c, "obs_secret", nil
}

func (f *fakeApps) UpdateApp(_ context.Context, id string, update func(*partners.App) error) (*partners.App, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.apps[id]
	if !ok {
		return nil, obhub.Errorf(obhub.ENOTFOUND, "no app")
	}
	c := *a
	if err := update(&c); err != nil {
		return nil, err
	}
	f.apps[id] = &c
	out := c
	return &out, nil
}

func (f *fakeApps) DeleteApp(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.apps[id]; !ok {
		return obhub.Errorf(obhub.ENOTFOUND, "no app")
	}
	delete(f.apps, id)
	return nil
}

// regFixture is an authorization server with registration on.
type regFixture struct {
	*fixture
	apps    *fakeApps
	tokens  *oauth.InitialTokens
	changes chan oauth.RegistrationChange
}

// send sends a registration request.
func (rf *regFixture) send(t *testing.T, method, path, token string, body any) response {
	t.Helper()
	var b []byte
	if body != nil {
		b, _ = json.Marshal(body)
	}
	req, _ := http.NewRequest(method, rf.srv.URL+path, bytes.NewReader(b))
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return do(t, req)
}

func wantRegError(t *testing.T, r response, status int, code string) {
	t.Helper()
	if r.status != status || r.body["error"] != code {
		t.Fatalf("got %d %s, want %d %s", r.status, r.raw, status, code)
	}
}

func TestRegistrationNeedsAStore(t *testing.T) {
	_, err := oauth.New(oauth.Config{Issuer: testIssuer, Store: newFixture(t).store, HMACSecret: []byte(strings.Repeat("k", 32)),
		Registration: &oauth.Registration{Apps: &fakeApps{}}}, &fakeClients{}, newFixture(t).keys)
	if err == nil {
		t.Fatal("registration without a store was accepted")
	}
}

func TestRegistrationEndpoint(t *testing.T) {
	f := newFixture(t) // registration off
	if r := do(t, mustRequest(t, "GET", f.srv.URL+oauth.PathMetadata)); strings.Contains(r.raw, "registration_endpoint") {
		t.Errorf("registration off, yet the metadata names an endpoint: %s", r.raw)
	}

	rf := newRegFixture(t)
	meta := do(t, mustRequest(t, "GET", rf.srv.URL+oauth.PathMetadata))
	if meta.body["registration_endpoint"] != testIssuer+oauth.PathRegister {
		t.Fatalf("registration_endpoint = %v", meta.body["registration_endpoint"])
	}
	ctx := context.Background()
	_, three, err := rf.tokens.Issue(ctx, "acme", 3, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	_, pending, _ := rf.tokens.Issue(ctx, "newco", 1, time.Hour)
	if _, _, err := rf.tokens.Issue(ctx, "acme", 101, time.Hour); obhub.ErrorCode(err) != obhub.EINVALID {
		t.Errorf("101 uses: %v, want EINVALID", err)
	}
	cc := map[string]any{"grant_types": []string{"client_credentials"}, "scope": "accounts:read"}

	t.Run("refused metadata", func(t *testing.T) {
		for name, tt := range map[string]struct {
			body   any
			status int
			code   string
		}{
			"not JSON":                 {"[1,2]", 400, "invalid_client_metadata"},
			"software statement":       {map[string]any{"software_statement": "eyJ..."}, 400, "invalid_software_statement"},
			"jwks_uri":                 {map[string]any{"jwks_uri": "https://x.example/jwks"}, 400, "invalid_client_metadata"},
			"client_id chosen":         {map[string]any{"client_id": "mine", "grant_types": []string{"client_credentials"}}, 400, "invalid_client_metadata"},
			"default grant, no uri":    {map[string]any{}, 400, "invalid_redirect_uri"},
			"bad redirect uri":         {map[string]any{"redirect_uris": []string{"https://x.example/cb#frag"}}, 400, "invalid_redirect_uri"},
			"redirect uris wrong":      {map[string]any{"redirect_uris": "https://x.example/cb"}, 400, "invalid_redirect_uri"},
			"unknown grant":            {map[string]any{"grant_types": []string{"password"}}, 400, "invalid_client_metadata"},
			"token response type":      {map[string]any{"grant_types": []string{"authorization_code"}, "redirect_uris": []string{"https://x.example/cb"}, "response_types": []string{"token"}}, 400, "invalid_client_metadata"},
			"private_key_jwt, no keys": {map[string]any{"grant_types": []string{"client_credentials"}, "token_endpoint_auth_method": "private_key_jwt"}, 400, "invalid_client_metadata"},
			"scope with quote":         {map[string]any{"grant_types": []string{"client_credentials"}, "scope": `a"b`}, 400, "invalid_client_metadata"},
		} {
			t.Run(name, func(t *testing.T) {
				wantRegError(t, rf.send(t, "POST", oauth.PathRegister, three, tt.body), tt.status, tt.code)
			})
		}
		if got, _ := rf.tokens.List(ctx, "acme"); got[0].UsesLeft != 3 {
			t.Errorf("refused metadata used the token: %d uses left", got[0].UsesLeft)
		}
	})

	t.Run("refused tokens", func(t *testing.T) {
		wantRegError(t, rf.send(t, "POST", oauth.PathRegister, "", cc), 401, "invalid_token")
		wantRegError(t, rf.send(t, "POST", oauth.PathRegister, "obiat_nope.nope", cc), 401, "invalid_token")
		wantRegError(t, rf.send(t, "POST", oauth.PathRegister, three[:len(three)-2], cc), 401, "invalid_token")
		wantRegError(t, rf.send(t, "POST", oauth.PathRegister, pending, cc), 401, "invalid_token")
		if r := rf.send(t, "GET", oauth.PathRegister, three, nil); r.status != 405 || r.header.Get("Allow") != "POST" {
			t.Errorf("GET on the registration endpoint: %d %s", r.status, r.raw)
		}
	})

	// Three uses, ten concurrent registrations: exactly three clients.
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created []map[string]any
		other   []string
	)
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, _ := json.Marshal(cc)
			req, _ := http.NewRequest("POST", rf.srv.URL+oauth.PathRegister, bytes.NewReader(b))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+three)
			r, err := send(req)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				other = append(other, err.Error())
			case r.status == 201:
				created = append(created, r.body)
			case r.status != 401 || r.body["error"] != "invalid_token":
				other = append(other, r.raw)
			}
		}()
	}
	wg.Wait()
	if len(created) != 3 || len(other) != 0 {
		t.Fatalf("%d registrations with a 3-use token succeeded (others: %v), want 3", len(created), other)
	}
	reg := created[0]
	id, rat := reg["client_id"].(string), reg["registration_access_token"].(string)
	if reg["client_secret"] != "obs_secret" || reg["client_secret_expires_at"] != 0.0 || reg["obhub_environment"] != "sandbox" ||
		reg["registration_client_uri"] != testIssuer+oauth.PathRegister+"/"+id || !strings.HasPrefix(rat, "obrat_") {
		t.Fatalf("registration answer %v", reg)
	}
	if len(rf.changes) != 3 {
		t.Errorf("%d changes reported for 3 registrations", len(rf.changes))
	}
	ch := <-rf.changes
	if ch.Action != "register" || ch.Partner != "acme" || ch.InitialToken == "" || strings.Contains(ch.After, "obs_secret") || strings.Contains(ch.After, "obrat_") {
		t.Errorf("change %+v", ch)
	}

	// Management with the registration access token.
	uri := oauth.PathRegister + "/" + id
	if r := rf.send(t, "GET", uri, rat, nil); r.status != 200 || r.body["client_id"] != id || r.body["client_secret"] != nil || r.body["registration_access_token"] != nil {
		t.Fatalf("read: %d %s", r.status, r.raw)
	}
	otherRAT := created[1]["registration_access_token"].(string)
	wantRegError(t, rf.send(t, "GET", uri, otherRAT, nil), 401, "invalid_token")
	wantRegError(t, rf.send(t, "GET", oauth.PathRegister+"/app_unknown", rat, nil), 401, "invalid_token")
	r := rf.send(t, "PUT", uri, rat, map[string]any{"client_id": id, "grant_types": []string{"client_credentials"}, "scope": "a b"})
	if r.status != 200 || r.body["scope"] != "a b" || r.body["client_name"] != reg["client_name"] {
		t.Fatalf("update keeping the name: %d %s", r.status, r.raw)
	}
	wantRegError(t, rf.send(t, "PUT", uri, rat, map[string]any{"grant_types": []string{"client_credentials"}}), 400, "invalid_client_metadata")
	if r := rf.send(t, "PATCH", uri, rat, nil); r.status != 405 {
		t.Errorf("PATCH: %d", r.status)
	}
	// The operator deletes the app: the registration answers 401.
	if err := rf.apps.DeleteApp(ctx, created[2]["client_id"].(string)); err != nil {
		t.Fatal(err)
	}
	wantRegError(t, rf.send(t, "GET", oauth.PathRegister+"/"+created[2]["client_id"].(string), created[2]["registration_access_token"].(string), nil), 401, "invalid_token")
	if r := rf.send(t, "DELETE", uri, rat, nil); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.raw)
	}
	if _, err := rf.apps.App(ctx, id); obhub.ErrorCode(err) != obhub.ENOTFOUND {
		t.Errorf("the app outlived its deletion: %v", err)
	}
	wantRegError(t, rf.send(t, "DELETE", uri, rat, nil), 401, "invalid_token")
}

// newRegFixture is an authorization server with registration on, over
// the fixture's own SQLite store.
func newRegFixture(t testing.TB, opts ...func(*oauth.Config)) *regFixture {
	apps := &fakeApps{apps: map[string]*partners.App{}, partners: map[string]*partners.Partner{
		"acme":  {ID: "acme", Status: partners.PartnerApproved},
		"newco": {ID: "newco", Status: partners.PartnerPending},
	}}
	rf := &regFixture{apps: apps, changes: make(chan oauth.RegistrationChange, 100)}
	var reg *oauth.Registration
	rf.fixture = newFixture(t, func(c *oauth.Config) {
		c.Clock = nil
		reg = &oauth.Registration{Apps: apps, Store: c.Store.(oauth.RegistrationStore),
			Changed: func(_ context.Context, ch oauth.RegistrationChange) { rf.changes <- ch }}
		c.Registration = reg
		for _, o := range opts {
			o(c)
		}
	})
	rf.tokens = oauth.NewInitialTokens(reg.Store, nil)
	return rf
}

func mustRequest(t *testing.T, method, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
