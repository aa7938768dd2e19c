package portal_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/oauth"
	"github.com/obhub/obhub/partners"
	"github.com/obhub/obhub/portal"
	"github.com/obhub/obhub/store/sqlite"
)

// regTokens is the portal's view of the authorization server's initial
// access tokens over a real OAuth store, as cmd/obhub wires it.
type regTokens struct{ m *oauth.InitialTokens }

func (r regTokens) Issue(ctx context.Context, partner string, uses int, lifetime time.Duration) (portal.RegistrationToken, string, error) {
	t, tok, err := r.m.Issue(ctx, partner, uses, lifetime)
	return portal.RegistrationToken{ID: t.ID, MaxUses: t.Uses, UsesLeft: t.UsesLeft, ExpiresAt: t.ExpiresAt, CreatedAt: t.CreatedAt}, tok, err
}

func (r regTokens) List(ctx context.Context, partner string) ([]portal.RegistrationToken, error) {
	list, err := r.m.List(ctx, partner)
	var out []portal.RegistrationToken
	for _, t := range list {
		out = append(out, portal.RegistrationToken{ID: t.ID, MaxUses: t.Uses, UsesLeft: t.UsesLeft, ExpiresAt: t.ExpiresAt, CreatedAt: t.CreatedAt})
	}
	return out, err
}

func (r regTokens) Revoke(ctx context.Context, partner, id string) error {
	return r.m.Revoke(ctx, partner, id)
}

// regEnv is a portal whose registration tokens live in a real SQLite
// OAuth store, with a clock the test moves.
type regEnv struct {
	*env
	oauth *sqlite.OAuthStore
	clock *steppingClock
}

func newRegEnv(t *testing.T) *regEnv {
	t.Helper()
	st := sqlite.NewOAuthStore(filepath.Join(t.TempDir(), "oauth.db"))
	if err := st.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clock := &steppingClock{}
	e := newEnv(t, clock.option(), func(c *portal.Config) {
		c.Registration = regTokens{oauth.NewInitialTokens(st, clock.now)}
		c.RegistrationEndpoint = "http://hub.example/oauth2/register"
	})
	return &regEnv{env: e, oauth: st, clock: clock}
}

// approvedOwner signs up a verified owner of an approved organisation.
func (e *regEnv) approvedOwner(org, email string) *browser {
	e.t.Helper()
	b := e.teamOf(org, email)
	if _, err := e.store.ApprovePartner(context.Background(), e.partnerOf(email)); err != nil {
		e.t.Fatal(err)
	}
	return b
}

var (
	newRegTokenRE = regexp.MustCompile(`<code id="new-registration-token">(obiat_([a-z2-7]+)\.[A-Za-z0-9_-]{43})</code>`)
	anyRegTokenRE = regexp.MustCompile(`obiat_[a-z2-7]+\.[A-Za-z0-9_-]{43}`)
)

// issue has the owner issue a token and returns it with its id.
func (e *regEnv) issue(b *browser, uses, lifetime string) (token, id string, p page) {
	e.t.Helper()
	p = b.post("/portal/registration-tokens", url.Values{"csrf_token": {b.csrf("/portal/registration-tokens")}, "uses": {uses}, "lifetime": {lifetime}})
	if p.status != http.StatusCreated {
		e.t.Fatalf("issue a registration token: %d\n%s", p.status, p.body)
	}
	m := newRegTokenRE.FindStringSubmatch(p.body)
	if m == nil {
		e.t.Fatalf("the new token is not shown:\n%s", p.body)
	}
	return m[1], m[2], p
}

// TestRegistrationTokensOwner: a verified owner of an approved partner
// issues a token, sees it once with the command that registers a client
// with it, finds it in the list (never the token) with its status, and
// revokes it.
func TestRegistrationTokensOwner(t *testing.T) {
	e := newRegEnv(t)
	owner := e.approvedOwner("Acme Pay", "li@acme.example")
	partner := e.partnerOf("li@acme.example")
	ctx := context.Background()

	p := owner.get("/portal/registration-tokens")
	if p.status != http.StatusOK {
		t.Fatalf("page: %d\n%s", p.status, p.body)
	}
	mustContain(t, p, "Client registration tokens", `id="reg-uses"`, `id="reg-lifetime"`, "Your organisation has no registration token.")
	mustContain(t, owner.get("/portal/apps"), `href="/portal/registration-tokens"`)

	token, id, p := e.issue(owner, "2", "168h")
	curl := html.UnescapeString(regexp.MustCompile(`(?s)<code id="registration-curl">(.*?)</code>`).FindStringSubmatch(p.body)[1])
	for _, want := range []string{"curl -s http://hub.example/oauth2/register", "Authorization: Bearer " + token, `"grant_types":["client_credentials"]`} {
		if !strings.Contains(curl, want) {
			t.Errorf("the command lacks %q:\n%s", want, curl)
		}
	}
	mustContain(t, p, `data-copy="new-registration-token"`, `data-copy="registration-curl"`, "shown only this once")
	stored, err := e.oauth.InitialToken(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Partner != partner || stored.Uses != 2 || stored.Hash != partners.HashSecret(token) {
		t.Errorf("stored token: %+v", stored)
	}
	if d := stored.ExpiresAt.Sub(stored.CreatedAt); d != 7*24*time.Hour {
		t.Errorf("lifetime %s, want 7 days", d)
	}

	// Shown once: the list names the token, never shows it.
	list := owner.get("/portal/registration-tokens")
	if anyRegTokenRE.MatchString(list.body) {
		t.Errorf("the list page shows a token")
	}
	mustContain(t, list, `id="reg-`+id+`"`, "active", "2 / 2")

	// Expired once its lifetime has passed.
	_, short, _ := e.issue(owner, "1", "1h")
	e.clock.advance(time.Hour + time.Minute)
	list = owner.get("/portal/registration-tokens")
	rowRE := func(id, status string) *regexp.Regexp {
		return regexp.MustCompile(`(?s)<tr id="reg-` + id + `">.*?class="tag reg-` + status + `"`)
	}
	if !rowRE(short, "expired").MatchString(list.body) || !rowRE(id, "active").MatchString(list.body) {
		t.Errorf("after an hour the 1-hour token should be expired and the 7-day one active:\n%s", list.body)
	}

	p = owner.post("/portal/registration-tokens/"+id+"/revoke", url.Values{"csrf_token": {owner.csrf("/portal/registration-tokens")}})
	if p.status != http.StatusOK {
		t.Fatalf("revoke: %d\n%s", p.status, p.body)
	}
	mustContain(t, p, "The token is revoked")
	mustNotContain(t, p, `id="reg-`+id+`"`)
	if _, err := e.oauth.InitialToken(ctx, id); obhub.ErrorCode(err) != obhub.ENOTFOUND {
		t.Errorf("the revoked token is still stored: %v", err)
	}
	if p := owner.post("/portal/registration-tokens/"+id+"/revoke", url.Values{"csrf_token": {owner.csrf("/portal/registration-tokens")}}); p.status != http.StatusNotFound {
		t.Errorf("revoking it again: %d, want 404", p.status)
	}

	// In Chinese too.
	mustContain(t, owner.get("/portal/registration-tokens?lang=zh"), "客户端注册令牌", "签发令牌")
}

// TestRegistrationTokensRefused: developers, unverified owners and
// owners of partners not yet approved issue nothing; bad limits and a
// missing CSRF token are refused with nothing issued; another partner's
// token is invisible and 404 to revoke.
func TestRegistrationTokensRefused(t *testing.T) {
	e := newRegEnv(t)
	ctx := context.Background()
	owner := e.approvedOwner("Acme Pay", "li@acme.example")
	partnerA := e.partnerOf("li@acme.example")
	_, idA, _ := e.issue(owner, "1", "24h")
	count := func() int {
		t.Helper()
		list, err := e.oauth.InitialTokens(ctx, partnerA)
		if err != nil {
			t.Fatal(err)
		}
		return len(list)
	}

	dev := e.invite(owner, "wang@acme.example")
	devTok := dev.csrf("/portal/apps")
	for _, c := range []struct {
		name string
		p    page
	}{
		{"see the page", dev.get("/portal/registration-tokens")},
		{"issue", dev.post("/portal/registration-tokens", url.Values{"csrf_token": {devTok}, "uses": {"1"}, "lifetime": {"24h"}})},
		{"revoke", dev.post("/portal/registration-tokens/"+idA+"/revoke", url.Values{"csrf_token": {devTok}})},
	} {
		if c.p.status != http.StatusForbidden {
			t.Errorf("a developer may %s: %d, want 403", c.name, c.p.status)
		}
		mustContain(t, c.p, "Only owners of the organisation")
		mustNotContain(t, c.p, idA)
	}
	mustNotContain(t, dev.get("/portal/apps"), `href="/portal/registration-tokens"`)

	for name, form := range map[string]url.Values{
		"11 uses":           {"uses": {"11"}, "lifetime": {"24h"}},
		"0 uses":            {"uses": {"0"}, "lifetime": {"24h"}},
		"uses not a number": {"uses": {"two"}, "lifetime": {"24h"}},
		"30 days":           {"uses": {"1"}, "lifetime": {"720h"}},
	} {
		form.Set("csrf_token", owner.csrf("/portal/registration-tokens"))
		p := owner.post("/portal/registration-tokens", form)
		if p.status != http.StatusUnprocessableEntity || anyRegTokenRE.MatchString(p.body) {
			t.Errorf("%s: %d, want 422 and no token", name, p.status)
		}
	}
	if p := owner.post("/portal/registration-tokens", url.Values{"uses": {"1"}, "lifetime": {"24h"}}); p.status != http.StatusForbidden {
		t.Errorf("issue without a CSRF token: %d, want 403", p.status)
	}
	if p := owner.post("/portal/registration-tokens/"+idA+"/revoke", url.Values{"csrf_token": {"forged"}}); p.status != http.StatusForbidden {
		t.Errorf("revoke with a forged CSRF token: %d, want 403", p.status)
	}
	if n := count(); n != 1 {
		t.Errorf("partner A has %d tokens after the refused requests, want 1", n)
	}

	// An owner whose address is not verified yet.
	unverified := e.browser()
	unverified.signup("Fresh Fintech", "new@fresh.example")
	if _, err := e.store.ApprovePartner(ctx, e.partnerOf("new@fresh.example")); err != nil {
		t.Fatal(err)
	}
	p := unverified.get("/portal/registration-tokens")
	if p.status != http.StatusForbidden {
		t.Errorf("unverified owner: %d, want 403", p.status)
	}
	mustContain(t, p, "Verify your e-mail address first")

	// Partner B: owner of a pending, then approved organisation.
	ownerB := e.teamOf("Other Fintech", "zhao@other.example")
	pending := ownerB.get("/portal/registration-tokens")
	mustContain(t, pending, `id="reg-not-approved"`)
	mustNotContain(t, pending, `id="reg-uses"`)
	if p := ownerB.post("/portal/registration-tokens", url.Values{"csrf_token": {ownerB.csrf("/portal/registration-tokens")}, "uses": {"1"}, "lifetime": {"24h"}}); p.status != http.StatusForbidden {
		t.Errorf("owner of a pending partner issues: %d, want 403", p.status)
	}
	if _, err := e.store.ApprovePartner(ctx, e.partnerOf("zhao@other.example")); err != nil {
		t.Fatal(err)
	}
	_, idB, _ := e.issue(ownerB, "1", "1h")
	listB := ownerB.get("/portal/registration-tokens")
	mustContain(t, listB, idB)
	mustNotContain(t, listB, idA)
	if p := ownerB.post("/portal/registration-tokens/"+idA+"/revoke", url.Values{"csrf_token": {ownerB.csrf("/portal/registration-tokens")}}); p.status != http.StatusNotFound {
		t.Errorf("partner B revokes partner A's token: %d, want 404", p.status)
	}
	if n := count(); n != 1 {
		t.Errorf("partner A's token is gone after partner B's revoke")
	}
	mustNotContain(t, owner.get("/portal/registration-tokens"), idB)
}
