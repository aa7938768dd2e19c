package portal_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// postNoFollow posts the form and returns the answer itself, not the page
// a redirect leads to.
func (b *browser) postNoFollow(path string, form url.Values) *http.Response {
	b.e.t.Helper()
	c := *b.c
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.PostForm(b.e.srv.URL+path, form)
	if err != nil {
		b.e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// seeOther fails unless resp is a 303 to want, and returns the page there.
func (b *browser) seeOther(t *testing.T, what string, resp *http.Response, want string) page {
	t.Helper()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != want {
		t.Fatalf("%s: %d to %q, want 303 to %q", what, resp.StatusCode, resp.Header.Get("Location"), want)
	}
	return b.get(want)
}

// TestTeamPostRedirectGet: inviting, revoking an invitation, changing a
// role and removing a member answer 303 to the team page with a fixed
// outcome key — no address or name in the URL — and the page says the
// outcome, naming a member only from the team's own list. A forged or
// unknown outcome shows nothing.
func TestTeamPostRedirectGet(t *testing.T) {
	e := newEnv(t)
	owner := e.teamOf("Acme Pay", "li@acme.example")
	tok := owner.csrf("/portal/team")
	p := owner.seeOther(t, "invite", owner.postNoFollow("/portal/team/invitations", url.Values{"csrf_token": {tok}, "email": {"wang@acme.example"}}),
		"/portal/team?done=invited")
	mustContain(t, p, "Invitation sent.")
	m := regexp.MustCompile(`name="invitation" value="([0-9a-f]{64})"`).FindStringSubmatch(p.body)
	if m == nil {
		t.Fatal("no pending invitation listed")
	}
	p = owner.seeOther(t, "revoke", owner.postNoFollow("/portal/team/invitations/revoke", url.Values{"csrf_token": {tok}, "invitation": {m[1]}}),
		"/portal/team?done=invitation.revoked")
	mustContain(t, p, "Invitation revoked.")

	e.invite(owner, "wang@acme.example")
	devID := e.memberID("wang@acme.example")
	p = owner.seeOther(t, "role", owner.postNoFollow("/portal/team/members/"+devID+"/role", url.Values{"csrf_token": {tok}, "role": {"owner"}}),
		"/portal/team?done=role.changed&member="+url.QueryEscape(devID))
	mustContain(t, p, "Wang Fang is now: Owner.")
	zh := owner.get("/portal/team?done=role.changed&member=" + url.QueryEscape(devID) + "&lang=zh")
	mustContain(t, zh, "Wang Fang 现在的角色：所有者。")
	owner.get("/portal/team?lang=en") // the choice is remembered
	p = owner.seeOther(t, "remove", owner.postNoFollow("/portal/team/members/"+devID+"/remove", url.Values{"csrf_token": {tok}}),
		"/portal/team?done=member.removed")
	mustContain(t, p, "The member was removed from the team")
	mustNotContain(t, p, "Wang Fang")

	// Another organisation's member, a removed one, free text: nothing.
	e.teamOf("Beta Loans", "ops@beta.example")
	for _, q := range []string{"done=role.changed&member=" + url.QueryEscape(e.memberID("ops@beta.example")),
		"done=role.changed&member=" + url.QueryEscape(devID), "done=%3Cb%3Ehello", "done=team.invited"} {
		p := owner.get("/portal/team?" + q)
		if strings.Contains(p.body, `id="team-message"`) || strings.Contains(p.body, "<b>hello") {
			t.Errorf("?%s shows a message", q)
		}
	}
	// A refused change is still answered on the page itself.
	if p := owner.post("/portal/team/invitations", url.Values{"csrf_token": {tok}, "email": {"not an address"}}); p.status != http.StatusUnprocessableEntity {
		t.Errorf("a bad address: %d, want 422", p.status)
	}
}

// TestRevokeRegistrationTokenRedirects: revoking a registration token
// answers 303 to the page with a fixed key, and the page says it without
// the token's id.
func TestRevokeRegistrationTokenRedirects(t *testing.T) {
	e := newRegEnv(t)
	owner := e.approvedOwner("Acme Pay", "li@acme.example")
	_, id, _ := e.issue(owner, "1", "1h")
	resp := owner.postNoFollow("/portal/registration-tokens/"+id+"/revoke", url.Values{"csrf_token": {owner.csrf("/portal/registration-tokens")}})
	p := owner.seeOther(t, "revoke", resp, "/portal/registration-tokens?done=revoked")
	mustContain(t, p, "The token is revoked")
	mustNotContain(t, p, id)
	mustContain(t, owner.get("/portal/registration-tokens?done=revoked&lang=zh"), "令牌已撤销")
	mustNotContain(t, owner.get("/portal/registration-tokens?done=issued"), `id="reg-message"`)
}
