package portal_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v3"

	"github.com/obhub/obhub/audit"
	"github.com/obhub/obhub/config"
	"github.com/obhub/obhub/partners"
)

var secretRE = regexp.MustCompile(`<code class="secret" id="rotated-client-secret">(obs_[A-Za-z0-9_-]+)</code>`)

// twoPartners signs up partners Alpha and Beta and gives Alpha a sandbox
// app; it returns their browsers and the app's id and page path.
func twoPartners(t testing.TB, e *env) (alpha, beta *browser, id, path string) {
	t.Helper()
	alpha, beta = e.browser(), e.browser()
	alpha.signup("Alpha Pay", "ops@alpha.example")
	beta.signup("Beta Loans", "ops@beta.example")
	id, _ = alpha.createApp("Alpha web")
	return alpha, beta, id, "/portal/apps/" + id
}

// appView reads an app from the configuration store as the admin API
// shows it.
func (e *env) appView(t testing.TB, id string) *config.AppView {
	t.Helper()
	a, err := e.store.App(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func jwksJSON(t testing.TB, key any) string {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRotateSecretInPortal: the app page rotates the client secret; the
// new one is shown on that response only, the old one keeps working for
// the chosen overlap (shown with its end), "stop now" ends it at once,
// and another partner can neither see nor rotate the app.
func TestRotateSecretInPortal(t *testing.T) {
	e := newEnv(t)
	a, other, id, path := twoPartners(t, e)
	first := secretOf(t, a.post(path+"/secret", url.Values{"csrf_token": {a.csrf(path)}, "overlap": {"0s"}}))

	before := time.Now()
	p := a.post(path+"/secret", url.Values{"csrf_token": {a.csrf(path)}, "overlap": {"24h"}})
	if p.status != http.StatusOK {
		t.Fatalf("rotate: %d\n%s", p.status, p.body)
	}
	second := secretOf(t, p)
	if second == first {
		t.Fatal("rotation showed the old secret")
	}
	mustContain(t, p, `id="old-secret-until"`, "keeps working until")
	v := e.appView(t, id)
	if exp := v.PreviousSecretExpiresAt; exp == nil || exp.Before(before.Add(24*time.Hour-time.Second)) || exp.After(time.Now().Add(24*time.Hour)) {
		t.Errorf("previous secret expires at %v, want 24 hours from now", exp)
	}
	// Shown once: the app page never shows a secret again, but still the overlap.
	again := a.get(path)
	mustNotContain(t, again, second, first, `id="new-secret"`)
	mustContain(t, again, `id="old-secret-until"`)

	// In Chinese too.
	zh := a.get(path + "?lang=zh")
	mustContain(t, zh, "轮换客户端密钥", "旧密钥在")

	// Stop now: no previous secret at all.
	p = a.post(path+"/secret", url.Values{"csrf_token": {a.csrf(path)}, "overlap": {"0s"}})
	if p.status != http.StatusOK || secretOf(t, p) == second {
		t.Fatalf("rotate without overlap: %d", p.status)
	}
	if v := e.appView(t, id); v.PreviousSecretExpiresAt != nil {
		t.Errorf("after a rotation without overlap the old secret still has an expiry: %v", v.PreviousSecretExpiresAt)
	}

	// Hostile input: an overlap over 7 days, no CSRF token, another partner.
	last := e.appView(t, id).UpdatedAt
	if p := a.post(path+"/secret", url.Values{"csrf_token": {a.csrf(path)}, "overlap": {"200h"}}); p.status != http.StatusUnprocessableEntity {
		t.Errorf("overlap 200h: %d", p.status)
	}
	if p := a.post(path+"/secret", url.Values{"overlap": {"24h"}}); p.status != http.StatusForbidden {
		t.Errorf("no CSRF token: %d", p.status)
	}
	if p := other.post(path+"/secret", url.Values{"csrf_token": {other.csrf("/portal/apps")}, "overlap": {"24h"}}); p.status != http.StatusNotFound || secretRE.MatchString(p.body) {
		t.Errorf("another partner rotating the app: %d", p.status)
	}
	if e.appView(t, id).UpdatedAt != last {
		t.Errorf("a refused rotation changed the app")
	}
}

func secretOf(t testing.TB, p page) string {
	t.Helper()
	m := secretRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no secret shown on %s:\n%s", p.url, p.body)
	}
	return m[1]
}

// TestJWKSUploadInPortal: a pasted private key is refused with a message
// that says so and changes nothing; a public key set switches the app to
// private_key_jwt and drops its secret; another partner gets 404.
func TestJWKSUploadInPortal(t *testing.T) {
	e := newEnv(t)
	a, other, id, path := twoPartners(t, e)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}

	for name, tc := range map[string]struct{ input, says string }{
		"private key":   {jwksJSON(t, key), "This is a private key"},
		"shared secret": {`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`, "shared secret"},
		"not a JWKS":    {"-----BEGIN PUBLIC KEY-----", "not a JSON Web Key Set"},
	} {
		t.Run(name, func(t *testing.T) {
			p := a.post(path+"/jwks", url.Values{"csrf_token": {a.csrf(path)}, "jwks": {tc.input}})
			if p.status != http.StatusUnprocessableEntity {
				t.Fatalf("status %d", p.status)
			}
			mustContain(t, p, html.EscapeString(tc.says))
			if v := e.appView(t, id); v.TokenEndpointAuthMethod != partners.AuthSecretBasic || v.JWKS != nil || !v.HasSecret {
				t.Errorf("a refused upload changed the app: %+v", v)
			}
		})
	}
	if p := other.post(path+"/jwks", url.Values{"csrf_token": {other.csrf("/portal/apps")}, "jwks": {jwksJSON(t, &key.PublicKey)}}); p.status != http.StatusNotFound {
		t.Errorf("another partner uploading keys: %d", p.status)
	}

	p := a.post(path+"/jwks", url.Values{"csrf_token": {a.csrf(path)}, "jwks": {jwksJSON(t, &key.PublicKey)}})
	if p.status != http.StatusOK {
		t.Fatalf("upload: %d\n%s", p.status, p.body)
	}
	mustContain(t, p, "now authenticates with private_key_jwt")
	v := e.appView(t, id)
	if v.TokenEndpointAuthMethod != partners.AuthPrivateKeyJWT || v.HasSecret || len(v.JWKS["keys"].([]any)) != 1 {
		t.Errorf("after upload: %+v", v)
	}
	// No secret to rotate any more.
	mustNotContain(t, a.get(path), `id="rotate-secret"`)
	if p := a.post(path+"/secret", url.Values{"csrf_token": {a.csrf(path)}, "overlap": {"24h"}}); p.status != http.StatusConflict {
		t.Errorf("rotating the secret of a private_key_jwt app: %d", p.status)
	}
}

// TestRedirectURIsInPortal: redirect URIs are checked as partners.App
// checks them (absolute https, no fragment), listed per line with the
// line at fault, saved only when all are good, and only for the
// partner's own app.
func TestRedirectURIsInPortal(t *testing.T) {
	e := newEnv(t)
	a, other, id, path := twoPartners(t, e)

	p := a.post(path+"/redirect-uris", url.Values{"csrf_token": {a.csrf(path)},
		"redirect_uris": {"https://alpha.example/cb\nhttp://alpha.example/cb\nhttps://alpha.example/cb#x"}})
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("bad URIs: %d", p.status)
	}
	mustContain(t, p, "Redirect URI 2 must use https", "Redirect URI 3 must not contain a fragment", "http://alpha.example/cb")
	if v := e.appView(t, id); len(v.RedirectURIs) != 0 {
		t.Errorf("bad URIs were saved: %v", v.RedirectURIs)
	}
	if p := other.post(path+"/redirect-uris", url.Values{"csrf_token": {other.csrf("/portal/apps")}, "redirect_uris": {"https://beta.example/steal"}}); p.status != http.StatusNotFound {
		t.Errorf("another partner editing redirect URIs: %d", p.status)
	}

	want := []string{"https://alpha.example/cb", "https://alpha.example/mobile/cb"}
	p = a.post(path+"/redirect-uris", url.Values{"csrf_token": {a.csrf(path)}, "redirect_uris": {" https://alpha.example/cb \r\n\r\nhttps://alpha.example/mobile/cb\n"}})
	// Saved: a 303 to the app page (a reload does not post again).
	if p.status != http.StatusOK || p.url != path {
		t.Fatalf("save: %d at %s\n%s", p.status, p.url, p.body)
	}
	mustContain(t, p, "Redirect URIs saved.")
	if v := e.appView(t, id); !slices.Equal(v.RedirectURIs, want) {
		t.Errorf("saved %v, want %v", v.RedirectURIs, want)
	}
}

// TestProductionCredentials: an owner rotates a production app's secret
// like a sandbox one; a developer of the same partner sees the app but
// may change none of its credentials (403), and nothing changes.
func TestProductionCredentials(t *testing.T) {
	e := newEnv(t)
	owner := e.teamOf("Alpha Pay", "owner@alpha.example")
	if _, err := e.store.ApprovePartner(context.Background(), e.partnerOf("owner@alpha.example")); err != nil {
		t.Fatal(err)
	}
	id, _ := owner.createAppIn("Live", "production")
	path := "/portal/apps/" + id
	dev := e.invite(owner, "dev@alpha.example")
	before := e.appView(t, id).UpdatedAt
	for form, values := range map[string]url.Values{
		"/secret":        {"overlap": {"24h"}},
		"/jwks":          {"jwks": {`{"keys":[]}`}},
		"/redirect-uris": {"redirect_uris": {"https://alpha.example/cb"}},
		"/code-grant":    {"authorization_code": {"on"}},
	} {
		values.Set("csrf_token", dev.csrf(path))
		if p := dev.post(path+form, values); p.status != http.StatusForbidden {
			t.Errorf("developer POST %s: %d, want 403", form, p.status)
		}
	}
	if e.appView(t, id).UpdatedAt != before {
		t.Errorf("a developer changed the production app")
	}
	p := owner.post(path+"/secret", url.Values{"csrf_token": {owner.csrf(path)}, "overlap": {"168h"}})
	if p.status != http.StatusOK || !secretRE.MatchString(p.body) {
		t.Fatalf("owner rotating the production secret: %d", p.status)
	}
	if exp := e.appView(t, id).PreviousSecretExpiresAt; exp == nil || time.Until(*exp) < 167*time.Hour {
		t.Errorf("previous secret expires at %v, want in 7 days", exp)
	}
}

// TestCodeGrantInPortal: the app page turns customer consent (the
// authorization_code grant, with refresh_token) on and off. On needs a
// saved redirect URI; the change is the partner's own (404 for another,
// 403 without the CSRF token), recorded in the audit ledger with the
// grants before and after, and off never leaves an app without a grant.
func TestCodeGrantInPortal(t *testing.T) {
	e, recorded := recorded(t)
	a, other, id, path := twoPartners(t, e)
	grant := func(b *browser, value string) page {
		t.Helper()
		return b.post(path+"/code-grant", url.Values{"csrf_token": {b.csrf(path)}, "authorization_code": {value}})
	}
	grants := func() []string { t.Helper(); return e.appView(t, id).GrantTypes }
	cc := []string{partners.GrantClientCredentials}

	mustContain(t, a.get(path), `action="`+path+`/code-grant"`, "Turn on customer consent", `id="redirect-unused"`)
	mustContain(t, a.get(path+"?lang=zh"), "客户授权（授权码模式）", "开启客户授权")
	a.get(path + "?lang=en") // the choice sticks: back to English
	p := grant(a, "on")
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("on without a redirect URI: %d", p.status)
	}
	mustContain(t, p, "Redirect URIs are required: the app uses the authorization code grant")
	for name, p := range map[string]page{
		"no choice":     grant(a, ""),
		"another value": grant(a, "maybe"),
	} {
		if p.status != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d, want 422", name, p.status)
		}
	}
	if p := other.post(path+"/code-grant", url.Values{"csrf_token": {other.csrf("/portal/apps")}, "authorization_code": {"on"}}); p.status != http.StatusNotFound {
		t.Errorf("another partner: %d, want 404", p.status)
	}
	if p := a.post(path+"/code-grant", url.Values{"authorization_code": {"on"}}); p.status != http.StatusForbidden {
		t.Errorf("no CSRF token: %d, want 403", p.status)
	}
	if g := grants(); !slices.Equal(g, cc) {
		t.Fatalf("grants after refused changes: %v", g)
	}

	if p := a.post(path+"/redirect-uris", url.Values{"csrf_token": {a.csrf(path)}, "redirect_uris": {"https://alpha.example/cb"}}); p.status != http.StatusOK {
		t.Fatalf("save redirect URI: %d", p.status)
	}
	p = grant(a, "on")
	if p.status != http.StatusOK {
		t.Fatalf("on: %d\n%s", p.status, p.body)
	}
	mustContain(t, p, "Customer consent turned on", "Turn off customer consent")
	mustNotContain(t, p, `id="redirect-unused"`)
	if g := grants(); !slices.Equal(g, []string{partners.GrantClientCredentials, partners.GrantAuthorizationCode, partners.GrantRefreshToken}) {
		t.Errorf("grants after on: %v", g)
	}
	// While it is on, the redirect URIs cannot be emptied.
	if p := a.post(path+"/redirect-uris", url.Values{"csrf_token": {a.csrf(path)}, "redirect_uris": {""}}); p.status != http.StatusUnprocessableEntity {
		t.Errorf("emptying the redirect URIs of an app with the grant: %d", p.status)
	}
	p = grant(a, "off")
	if p.status != http.StatusOK || !slices.Equal(grants(), cc) {
		t.Fatalf("off: %d, grants %v", p.status, grants())
	}
	mustContain(t, p, "Customer consent turned off", "Turn on customer consent")

	// A client registered with authorization_code only (dynamic client
	// registration) keeps it: off would leave it no grant.
	if _, err := e.store.UpdateApp(context.Background(), id, func(v *config.AppView) error {
		v.GrantTypes = []string{partners.GrantAuthorizationCode}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	p = grant(a, "off")
	if p.status != http.StatusUnprocessableEntity || !slices.Equal(grants(), []string{partners.GrantAuthorizationCode}) {
		t.Errorf("off for a code-only app: %d, grants %v", p.status, grants())
	}
	mustContain(t, p, "Grant types must keep at least one grant type")

	var updates []audit.Record
	for _, r := range recorded() {
		if r.Reason == "update" && r.Object == "apps/"+id && strings.Contains(r.Before+r.After, "grant_types") &&
			strings.Count(r.Before, partners.GrantAuthorizationCode) != strings.Count(r.After, partners.GrantAuthorizationCode) {
			updates = append(updates, r)
		}
	}
	if len(updates) != 2 {
		t.Fatalf("%d grant changes recorded, want 2 (on, off): %+v", len(updates), recorded())
	}
	if on := updates[0]; on.Actor != "portal:ops@alpha.example" || on.ClientID != id ||
		strings.Contains(on.Before, partners.GrantAuthorizationCode) || !strings.Contains(on.After, partners.GrantRefreshToken) {
		t.Errorf("the record of turning it on: %+v", on)
	}
}
