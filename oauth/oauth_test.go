package oauth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/oauth"
	"github.com/obhub/obhub/partners"
	"github.com/obhub/obhub/store/sqlite"
)

const (
	testIssuer   = "https://hub.example.test"
	testAudience = "https://api.hub.example.test"
	testLifetime = 5 * time.Minute
)

// testNow is the fixed clock of every test server.
var testNow = time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)

// fakeClients is an in-memory Clients.
type fakeClients struct {
	apps     map[string]*partners.App
	partners map[string]*partners.Partner
	err      error // returned for every lookup when set
}

func (f *fakeClients) Client(_ context.Context, id string) (*partners.App, *partners.Partner, error) {
	if f.err != nil {
		return nil, nil, f.err
	}
	app, ok := f.apps[id]
	if !ok {
		return nil, nil, obhub.Errorf(obhub.ENOTFOUND, "no app %q", id)
	}
	return app, f.partners[app.Partner], nil
}

// fixture is a running authorization server with a few registered apps.
type fixture struct {
	srv     *httptest.Server
	keys    *oauth.Keys
	keyDir  string
	handler http.Handler
	clients *fakeClients
	secrets map[string]string // client id -> client secret
	logs    *strings.Builder
	store   *sqlite.OAuthStore
}

// Registered apps.
const (
	appBasic   = "app-basic"   // sandbox, client_secret_basic, two scopes
	appPost    = "app-post"    // production, client_secret_post, one scope
	appPending = "app-pending" // production, partner not approved
	appPendSB  = "app-pend-sb" // sandbox, partner not approved
	appSusp    = "app-susp"    // sandbox, suspended
	appCode    = "app-code"    // authorization_code only
	appPKJWT   = "app-pkjwt"   // private_key_jwt, no secret
)

func newFixture(t testing.TB, opts ...func(*oauth.Config)) *fixture {
	t.Helper()
	keyDir := t.TempDir()
	keys, err := oauth.LoadOrCreateKeys(keyDir)
	if err != nil {
		t.Fatalf("LoadOrCreateKeys: %v", err)
	}
	f := &fixture{
		keyDir:  keyDir,
		keys:    keys,
		secrets: map[string]string{},
		logs:    &strings.Builder{},
		clients: &fakeClients{
			apps: map[string]*partners.App{},
			partners: map[string]*partners.Partner{
				"acme":  {ID: "acme", Name: "Acme Pay", Kind: partners.KindFintech, Status: partners.PartnerApproved},
				"newco": {ID: "newco", Name: "NewCo", Kind: partners.KindFintech, Status: partners.PartnerPending},
			},
		},
	}
	f.addApp(t, &partners.App{ClientID: appBasic, Partner: "acme", Environment: partners.Sandbox,
		GrantTypes: []string{partners.GrantClientCredentials}, Scopes: []string{"accounts", "payments:write"},
		TokenEndpointAuthMethod: partners.AuthSecretBasic})
	f.addApp(t, &partners.App{ClientID: appPost, Partner: "acme", Environment: partners.Production,
		GrantTypes: []string{partners.GrantClientCredentials}, Scopes: []string{"accounts:read"},
		TokenEndpointAuthMethod: partners.AuthSecretPost})
	f.addApp(t, &partners.App{ClientID: appPending, Partner: "newco", Environment: partners.Production,
		GrantTypes: []string{partners.GrantClientCredentials}, Scopes: []string{"accounts:read"},
		TokenEndpointAuthMethod: partners.AuthSecretBasic})
	f.addApp(t, &partners.App{ClientID: appPendSB, Partner: "newco", Environment: partners.Sandbox,
		GrantTypes: []string{partners.GrantClientCredentials}, Scopes: []string{"accounts:read"},
		TokenEndpointAuthMethod: partners.AuthSecretBasic})
	f.addApp(t, &partners.App{ClientID: appSusp, Partner: "acme", Environment: partners.Sandbox, Suspended: true,
		GrantTypes: []string{partners.GrantClientCredentials}, Scopes: []string{"accounts:read"},
		TokenEndpointAuthMethod: partners.AuthSecretBasic})
	f.addApp(t, &partners.App{ClientID: appCode, Partner: "acme", Environment: partners.Sandbox,
		GrantTypes: []string{partners.GrantAuthorizationCode}, RedirectURIs: []string{"https://acme.example/cb"},
		Scopes: []string{"accounts:read"}, TokenEndpointAuthMethod: partners.AuthSecretBasic})
	f.clients.apps[appPKJWT] = &partners.App{ClientID: appPKJWT, Partner: "acme", Environment: partners.Sandbox,
		GrantTypes: []string{partners.GrantClientCredentials}, Scopes: []string{"accounts:read"},
		TokenEndpointAuthMethod: partners.AuthPrivateKeyJWT}

	st := sqlite.NewOAuthStore(filepath.Join(t.TempDir(), "oauth.db"))
	if err := st.Open(context.Background()); err != nil {
		t.Fatalf("open oauth store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	cfg := oauth.Config{
		Store:               st,
		HMACSecret:          []byte(strings.Repeat("k", 32)),
		Issuer:              testIssuer,
		Audience:            testAudience,
		AccessTokenLifetime: testLifetime,
		Clock:               func() time.Time { return testNow },
		Logger:              slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, o := range opts {
		o(&cfg)
	}
	f.store = st
	s, err := oauth.New(cfg, f.clients, keys)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	f.handler = s
	f.srv = httptest.NewServer(s)
	t.Cleanup(f.srv.Close)
	return f
}

// addApp registers app with a fresh secret.
func (f *fixture) addApp(t testing.TB, app *partners.App) {
	t.Helper()
	secret, hash, err := partners.NewSecret()
	if err != nil {
		t.Fatalf("NewSecret: %v", err)
	}
	app.SecretHash = hash
	f.clients.apps[app.ClientID] = app
	f.secrets[app.ClientID] = secret
}

// auth says how a token request authenticates.
type auth struct {
	basic        bool   // HTTP Basic with id and secret, else form fields
	id, secret   string // sent as is
	omitSecret   bool   // form: send client_id only
	noClientAuth bool   // send no credentials at all
	both         bool   // HTTP Basic and form credentials at once
}

// response is a decoded token endpoint answer.
type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// postToken sends a token request with form and auth.
func (f *fixture) postToken(t testing.TB, form url.Values, a auth) response {
	t.Helper()
	res, err := f.tryPostToken(form, a)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// tryPostToken is postToken for goroutines: it reports instead of failing.
func (f *fixture) tryPostToken(form url.Values, a auth) (response, error) {
	form = cloneValues(form)
	if !a.noClientAuth && (!a.basic || a.both) {
		form.Set("client_id", a.id)
		if !a.omitSecret {
			form.Set("client_secret", a.secret)
		}
	}
	req, err := http.NewRequest(http.MethodPost, f.srv.URL+oauth.PathToken, strings.NewReader(form.Encode()))
	if err != nil {
		return response{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if !a.noClientAuth && a.basic {
		req.SetBasicAuth(url.QueryEscape(a.id), url.QueryEscape(a.secret))
	}
	return send(req)
}

// do sends req and decodes a JSON body.
func do(t testing.TB, req *http.Request) response {
	t.Helper()
	res, err := send(req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// send sends req and decodes a JSON body.
func send(req *http.Request) (response, error) {
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return response{}, err
	}
	r := response{status: res.StatusCode, header: res.Header, raw: string(b)}
	if len(b) > 0 && strings.Contains(res.Header.Get("Content-Type"), "json") {
		if err := json.Unmarshal(b, &r.body); err != nil {
			return response{}, fmt.Errorf("decode %s: %w", b, err)
		}
	}
	return r, nil
}

func cloneValues(v url.Values) url.Values {
	c := url.Values{}
	for k, vs := range v {
		c[k] = append([]string(nil), vs...)
	}
	return c
}

func form(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}
