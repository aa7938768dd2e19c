package portal_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/obhub/obhub/config"
	"github.com/obhub/obhub/internal/mail"
	"github.com/obhub/obhub/portal"
)

// mails returns the outbox's messages of the kind to the address, newest
// first.
func (e *env) mails(to, kind string) []mail.Message {
	e.t.Helper()
	all, err := e.accounts.ListMail(context.Background(), mail.Query{To: to, Limit: 100})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []mail.Message
	for _, m := range all {
		if m.Kind == kind {
			out = append(out, m)
		}
	}
	return out
}

var linkRE = regexp.MustCompile(`(http://hub\.example/portal/[a-z/]+)#token=([A-Za-z0-9_-]{43})`)

// lastLink returns the page and token of the newest mail of the kind to
// the address.
func (e *env) lastLink(to, kind string) (page, token string) {
	e.t.Helper()
	ms := e.mails(to, kind)
	if len(ms) == 0 {
		e.t.Fatalf("no %s mail to %s in the outbox", kind, to)
	}
	m := linkRE.FindStringSubmatch(ms[0].Text)
	if m == nil {
		e.t.Fatalf("no link in the %s mail:\n%s", kind, ms[0].Text)
	}
	return m[1], m[2]
}

// verifyEmail follows the newest verification mail to the address.
func (e *env) verifyEmail(b *browser, email string) {
	e.t.Helper()
	_, tok := e.lastLink(email, mail.KindVerify)
	p := b.post("/portal/verify", url.Values{"csrf_token": {b.csrf("/portal/verify")}, "token": {tok}})
	if p.status != http.StatusOK {
		e.t.Fatalf("verify %s: %d\n%s", email, p.status, p.body)
	}
}

// partnerOf returns the partner of the account with the address.
func (e *env) partnerOf(email string) string {
	e.t.Helper()
	a, err := e.accounts.AccountByEmail(context.Background(), email)
	if err != nil {
		e.t.Fatal(err)
	}
	return a.Partner
}

// steppingClock is a clock tests move forward.
type steppingClock struct{ offset atomic.Int64 }

func (c *steppingClock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *steppingClock) advance(d time.Duration) { c.offset.Add(int64(d)) }
func (c *steppingClock) option() func(*portal.Config) {
	return func(cfg *portal.Config) { cfg.Clock = c.now }
}

func TestEmailVerification(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	p := b.signup("Acme Pay", "li@acme.example")
	mustContain(t, p, "Confirm your e-mail address li@acme.example", "Send the link again")

	// One bilingual mail with a link whose token is in the fragment.
	ms := e.mails("li@acme.example", mail.KindVerify)
	if len(ms) != 1 {
		t.Fatalf("verification mails: %d, want 1", len(ms))
	}
	for _, s := range []string{"验证您的电子邮件地址", "Verify your e-mail address", "Hello Li Ming", "24 小时", "24 hours",
		"http://hub.example/portal/verify#token=", "works once"} {
		if !strings.Contains(ms[0].Subject+ms[0].Text, s) {
			t.Errorf("verification mail lacks %q:\n%s\n%s", s, ms[0].Subject, ms[0].Text)
		}
	}

	// Unverified: sandbox yes; production and invitations no, even
	// once the organisation is approved.
	b.createApp("Sandbox first")
	if _, err := e.store.ApprovePartner(context.Background(), e.partnerOf("li@acme.example")); err != nil {
		t.Fatal(err)
	}
	tok := b.csrf("/portal/apps")
	mustContain(t, b.get("/portal/apps"), "Only owners of the organisation with a verified e-mail address")
	p = b.post("/portal/apps", url.Values{"csrf_token": {tok}, "name": {"Live"}, "environment": {"production"}})
	if p.status != http.StatusForbidden {
		t.Errorf("production app before verification: %d, want 403", p.status)
	}
	mustContain(t, p, "Verify your e-mail address first")
	p = b.post("/portal/team/invitations", url.Values{"csrf_token": {tok}, "email": {"dev@acme.example"}})
	if p.status != http.StatusForbidden || len(e.mails("dev@acme.example", mail.KindInvite)) != 0 {
		t.Errorf("invitation before verification: %d, want 403 and no mail", p.status)
	}

	// Asking again replaces the link: the first stops working.
	_, first := e.lastLink("li@acme.example", mail.KindVerify)
	p = b.post("/portal/verify/resend", url.Values{"csrf_token": {tok}})
	mustContain(t, p, "We sent a new verification link to li@acme.example")
	_, second := e.lastLink("li@acme.example", mail.KindVerify)
	if first == second {
		t.Fatal("the resent mail carries the same token")
	}
	anon := e.browser() // the link works in any browser, signed in or not
	verify := func(tok string) page {
		return anon.post("/portal/verify", url.Values{"csrf_token": {anon.csrf("/portal/verify")}, "token": {tok}})
	}
	if p := verify(first); p.status != http.StatusBadRequest {
		t.Errorf("superseded link: %d, want 400", p.status)
	}
	p = verify(second)
	if p.status != http.StatusOK {
		t.Fatalf("verification: %d\n%s", p.status, p.body)
	}
	mustContain(t, p, "Your e-mail address li@acme.example is verified.")
	// Works once.
	p = verify(second)
	if p.status != http.StatusBadRequest {
		t.Errorf("the link used twice: %d, want 400", p.status)
	}
	mustContain(t, p, "This link is invalid, has expired or has already been used.")

	apps := b.get("/portal/apps")
	mustNotContain(t, apps, "Confirm your e-mail address", "Only owners of the organisation")
	p = b.post("/portal/apps", url.Values{"csrf_token": {tok}, "name": {"Live"}, "environment": {"production"}})
	if p.status != http.StatusCreated {
		t.Errorf("production app after verification: %d", p.status)
	}
	// The verify page is translated and loads the fragment script.
	zh := anon.get("/portal/verify?lang=zh")
	mustContain(t, zh, "验证电子邮件地址", "邮件中的验证码", `src="/portal/static/token.js"`)
}

func TestPasswordReset(t *testing.T) {
	clock := &steppingClock{}
	e := newEnv(t, clock.option())
	const email, oldPW, newPW = "li@acme.example", "correct horse battery", "a much better passphrase"
	first := e.browser()
	first.signup("Acme Pay", email)
	second := e.browser()
	if p := signin(second, email, oldPW); p.url != "/portal/apps" {
		t.Fatalf("second sign-in: %s", p.url)
	}
	// Lock the account.
	attacker := e.browser()
	for i := range 5 {
		signin(attacker, email, "wrong guess "+string(rune('a'+i)))
	}
	mustContain(t, signin(attacker, email, oldPW), "locked")

	// The answer does not tell whether the address has an account.
	anon := e.browser()
	ask := func(addr string) page {
		return anon.post("/portal/reset", url.Values{"csrf_token": {anon.csrf("/portal/reset")}, "email": {addr}})
	}
	known, unknown := ask(email), ask("nobody@acme.example")
	if known.status != http.StatusOK || unknown.status != known.status {
		t.Errorf("reset for a known address %d, for an unknown one %d: want the same 200", known.status, unknown.status)
	}
	if strings.ReplaceAll(known.body, email, "X") != strings.ReplaceAll(unknown.body, "nobody@acme.example", "X") {
		t.Error("the reset answers for a known and an unknown address differ beyond the address typed")
	}
	mustContain(t, known, "If an account exists for li@acme.example, we have sent it a link", "30 minutes")
	if n := len(e.mails("nobody@acme.example", mail.KindReset)); n != 0 {
		t.Errorf("%d mails to an address without an account", n)
	}
	link, tok := e.lastLink(email, mail.KindReset)
	if link != "http://hub.example/portal/reset/new" {
		t.Errorf("reset link page %q", link)
	}
	if ms := e.mails(email, mail.KindReset); !strings.Contains(ms[0].Text, "重置") || !strings.Contains(ms[0].Text, "ignore this message") {
		t.Errorf("reset mail:\n%s", ms[0].Text)
	}

	setPW := func(b *browser, tok, pw string) page {
		return b.post("/portal/reset/new", url.Values{"csrf_token": {b.csrf("/portal/reset/new")}, "token": {tok}, "password": {pw}})
	}
	// 31 minutes later the link is dead.
	clock.advance(31 * time.Minute)
	if p := setPW(anon, tok, newPW); p.status != http.StatusBadRequest {
		t.Errorf("link after 31 minutes: %d, want 400", p.status)
	}
	ask(email)
	_, tok = e.lastLink(email, mail.KindReset)
	// A too short password does not cost the link.
	if p := setPW(anon, tok, "short"); p.status != http.StatusUnprocessableEntity {
		t.Errorf("short password: %d, want 422", p.status)
	}
	p := setPW(anon, tok, newPW)
	if p.url != "/portal/apps" {
		t.Fatalf("reset: %d at %s\n%s", p.status, p.url, p.body)
	}
	mustContain(t, p, "Signed in as Li Ming")
	// Every other session is gone.
	for name, b := range map[string]*browser{"first": first, "second": second} {
		if p := b.get("/portal/apps"); p.url != "/portal/signin" {
			t.Errorf("the %s browser is still signed in after the reset: %s", name, p.url)
		}
	}
	// Single use.
	if p := setPW(e.browser(), tok, "yet another passphrase"); p.status != http.StatusBadRequest {
		t.Errorf("the reset link used twice: %d, want 400", p.status)
	}
	// The lockout is lifted, the old password dead, the new one works.
	if p := signin(attacker, email, oldPW); p.status != http.StatusUnauthorized {
		t.Errorf("old password after the reset: %d", p.status)
	}
	if p := signin(first, email, newPW); p.url != "/portal/apps" {
		t.Errorf("new password: %d at %s", p.status, p.url)
	}
	// Following the reset link also proved the address.
	if a, _ := e.accounts.AccountByEmail(context.Background(), email); !a.Verified() {
		t.Error("the account is not verified after a reset through its mailbox")
	}
	mustContain(t, e.browser().get("/portal/signin"), `href="/portal/reset"`, "Forgot your password?")
}

// teamOf signs up an owner of a new organisation and verifies the address.
func (e *env) teamOf(org, email string) *browser {
	e.t.Helper()
	b := e.browser()
	b.signup(org, email)
	e.verifyEmail(b, email)
	return b
}

// invite has owner invite the address and the invitee accept in a fresh
// browser.
func (e *env) invite(owner *browser, email string) *browser {
	e.t.Helper()
	p := owner.post("/portal/team/invitations", url.Values{"csrf_token": {owner.csrf("/portal/team")}, "email": {email}})
	if p.status != http.StatusOK {
		e.t.Fatalf("invite %s: %d\n%s", email, p.status, p.body)
	}
	_, tok := e.lastLink(email, mail.KindInvite)
	b := e.browser()
	p = b.post("/portal/invitation", url.Values{"csrf_token": {b.csrf("/portal/invitation")}, "token": {tok},
		"name": {"Wang Fang"}, "password": {"developer passphrase"}})
	if p.url != "/portal/apps" {
		e.t.Fatalf("accept the invitation of %s: %d at %s\n%s", email, p.status, p.url, p.body)
	}
	return b
}

// memberID returns the account id of the address.
func (e *env) memberID(email string) string {
	e.t.Helper()
	a, err := e.accounts.AccountByEmail(context.Background(), email)
	if err != nil {
		e.t.Fatal(err)
	}
	return a.ID
}

func TestTeamInvitation(t *testing.T) {
	e := newEnv(t)
	owner := e.teamOf("Acme Pay", "li@acme.example")
	p := owner.post("/portal/team/invitations", url.Values{"csrf_token": {owner.csrf("/portal/team")}, "email": {"Wang@Acme.example"}})
	mustContain(t, p, "Invitation sent.", "Pending invitations", "wang@acme.example")
	ms := e.mails("wang@acme.example", mail.KindInvite)
	if len(ms) != 1 || !strings.Contains(ms[0].Subject, "Li Ming invites you to Acme Pay") || !strings.Contains(ms[0].Text, "邀请您") ||
		!strings.Contains(ms[0].Text, "7 days") {
		t.Fatalf("invitation mail: %+v", ms)
	}
	_, tok := e.lastLink("wang@acme.example", mail.KindInvite)

	dev := e.browser()
	accept := func(b *browser, tok string) page {
		return b.post("/portal/invitation", url.Values{"csrf_token": {b.csrf("/portal/invitation")}, "token": {tok},
			"name": {"Wang Fang"}, "password": {"developer passphrase"}})
	}
	p = accept(dev, tok)
	if p.url != "/portal/apps" {
		t.Fatalf("accept: %d at %s\n%s", p.status, p.url, p.body)
	}
	mustContain(t, p, "Signed in as Wang Fang (Acme Pay)")
	mustNotContain(t, p, "Confirm your e-mail address") // the link reached the mailbox
	if p := accept(e.browser(), tok); p.status != http.StatusBadRequest {
		t.Errorf("the invitation used twice: %d, want 400", p.status)
	}
	a, _ := e.accounts.AccountByEmail(context.Background(), "wang@acme.example")
	if a.Role != portal.RoleDeveloper || a.Partner != e.partnerOf("li@acme.example") {
		t.Errorf("invitee account = %+v", a)
	}
	team := owner.get("/portal/team")
	mustContain(t, team, "Wang Fang", "wang@acme.example", "Developer", "No invitation is pending.")
	// The invitee signs in with the password they chose.
	if p := signin(e.browser(), "wang@acme.example", "developer passphrase"); p.url != "/portal/apps" {
		t.Errorf("invitee sign-in: %s", p.url)
	}

	// Addresses that have an account cannot be invited.
	e.teamOf("Other Co", "zhao@other.example")
	for addr, want := range map[string]string{
		"wang@acme.example":  "wang@acme.example is already a member of your team.",
		"zhao@other.example": "already has a developer account with another organisation",
	} {
		p := owner.post("/portal/team/invitations", url.Values{"csrf_token": {owner.csrf("/portal/team")}, "email": {addr}})
		if p.status != http.StatusConflict {
			t.Errorf("inviting %s: %d, want 409", addr, p.status)
		}
		mustContain(t, p, want)
	}

	// Revoking an invitation kills its link.
	owner.post("/portal/team/invitations", url.Values{"csrf_token": {owner.csrf("/portal/team")}, "email": {"later@acme.example"}})
	_, later := e.lastLink("later@acme.example", mail.KindInvite)
	m := regexp.MustCompile(`name="invitation" value="([0-9a-f]{64})"`).FindStringSubmatch(owner.get("/portal/team").body)
	if m == nil {
		t.Fatal("no revoke form for the pending invitation")
	}
	p = owner.post("/portal/team/invitations/revoke", url.Values{"csrf_token": {owner.csrf("/portal/team")}, "invitation": {m[1]}})
	mustContain(t, p, "Invitation revoked.")
	if p := accept(e.browser(), later); p.status != http.StatusBadRequest {
		t.Errorf("a revoked invitation accepted: %d", p.status)
	}
}

func TestDeveloperRole(t *testing.T) {
	e := newEnv(t)
	owner := e.teamOf("Acme Pay", "li@acme.example")
	dev := e.invite(owner, "wang@acme.example")
	partner := e.partnerOf("li@acme.example")
	if _, err := e.store.ApprovePartner(context.Background(), partner); err != nil {
		t.Fatal(err)
	}
	ownerTok := owner.csrf("/portal/apps")
	p := owner.post("/portal/apps", url.Values{"csrf_token": {ownerTok}, "name": {"Live"}, "environment": {"production"}})
	if p.status != http.StatusCreated {
		t.Fatalf("owner's production app: %d", p.status)
	}
	var prodID string
	for _, a := range e.apps(t, owner) {
		if a.Environment == "production" {
			prodID = a.ClientID
		}
	}

	// A developer manages sandbox apps...
	sandboxID, _ := dev.createApp("Dev sandbox")
	tok := dev.csrf("/portal/apps")
	if p := dev.post("/portal/apps/"+sandboxID+"/subscriptions", url.Values{"csrf_token": {tok}, "product": {"accounts"}}); p.status != http.StatusOK {
		t.Errorf("developer subscribing a sandbox app: %d", p.status)
	}
	// ...sees the production app but changes nothing of production, and
	// the server refuses whatever the page shows.
	mustContain(t, dev.get("/portal/apps/"+prodID), "Live")
	apps := dev.get("/portal/apps")
	mustContain(t, apps, "Only owners of the organisation with a verified e-mail address")
	mustNotContain(t, apps, `id="prod-name"`)
	team := dev.get("/portal/team")
	mustContain(t, team, "Wang Fang (you)", "Li Ming")
	mustNotContain(t, team, "Invite a colleague", "/remove", "Change role")
	ownerID, devID := e.memberID("li@acme.example"), e.memberID("wang@acme.example")
	for _, c := range []struct {
		name, path string
		form       url.Values
	}{
		{"create a production app", "/portal/apps", url.Values{"name": {"Sneaky"}, "environment": {"production"}}},
		{"subscribe the production app", "/portal/apps/" + prodID + "/subscriptions", url.Values{"product": {"accounts"}}},
		{"invite", "/portal/team/invitations", url.Values{"email": {"friend@acme.example"}}},
		{"promote themself", "/portal/team/members/" + devID + "/role", url.Values{"role": {"owner"}}},
		{"demote the owner", "/portal/team/members/" + ownerID + "/role", url.Values{"role": {"developer"}}},
		{"remove the owner", "/portal/team/members/" + ownerID + "/remove", nil},
	} {
		form := url.Values{"csrf_token": {tok}}
		for k, v := range c.form {
			form[k] = v
		}
		if p := dev.post(c.path, form); p.status != http.StatusForbidden {
			t.Errorf("developer may %s: %d, want 403", c.name, p.status)
		}
	}
	if n := len(e.mails("friend@acme.example", mail.KindInvite)); n != 0 {
		t.Errorf("a developer's invitation was mailed")
	}
	if a, _ := e.accounts.Account(context.Background(), devID); a.Role != portal.RoleDeveloper {
		t.Errorf("developer's role after the refused changes: %s", a.Role)
	}
	if subs, _, _ := e.store.ListSubscriptions(context.Background(), prodID, config.ListOptions{}); len(subs) != 0 {
		t.Errorf("the production app got subscriptions from a developer: %+v", subs)
	}
}

func TestLastOwner(t *testing.T) {
	e := newEnv(t)
	owner := e.teamOf("Acme Pay", "li@acme.example")
	dev := e.invite(owner, "wang@acme.example")
	ownerID, devID := e.memberID("li@acme.example"), e.memberID("wang@acme.example")
	tok := owner.csrf("/portal/team")
	post := func(path string, form url.Values) page {
		form.Set("csrf_token", tok)
		return owner.post(path, form)
	}
	for name, p := range map[string]page{
		"demote": post("/portal/team/members/"+ownerID+"/role", url.Values{"role": {"developer"}}),
		"remove": post("/portal/team/members/"+ownerID+"/remove", url.Values{}),
	} {
		if p.status != http.StatusConflict {
			t.Errorf("%s the last owner: %d, want 409", name, p.status)
		}
		mustContain(t, p, "The organisation must keep at least one owner.")
	}
	if p := post("/portal/team/members/"+devID+"/role", url.Values{"role": {"admin"}}); p.status != http.StatusUnprocessableEntity {
		t.Errorf("unknown role: %d, want 422", p.status)
	}

	// Another organisation's owner cannot touch these members: 404.
	other := e.teamOf("Other Co", "zhao@other.example")
	otherTok := other.csrf("/portal/team")
	for _, path := range []string{"/portal/team/members/" + devID + "/role", "/portal/team/members/" + devID + "/remove"} {
		if p := other.post(path, url.Values{"csrf_token": {otherTok}, "role": {"developer"}}); p.status != http.StatusNotFound {
			t.Errorf("another organisation's owner POST %s: %d, want 404", path, p.status)
		}
	}

	// With a second owner the first may step down.
	p := post("/portal/team/members/"+devID+"/role", url.Values{"role": {"owner"}})
	mustContain(t, p, "Wang Fang is now: Owner.")
	p = post("/portal/team/members/"+ownerID+"/role", url.Values{"role": {"developer"}})
	if p.status != http.StatusOK {
		t.Fatalf("demote the first owner beside a second: %d", p.status)
	}
	mustNotContain(t, p, "Invite a colleague") // no longer an owner
	// The new owner removes the old one, whose session ends.
	devTok := dev.csrf("/portal/team")
	p = dev.post("/portal/team/members/"+ownerID+"/remove", url.Values{"csrf_token": {devTok}})
	mustContain(t, p, "The member was removed from the team")
	if p := owner.get("/portal/apps"); p.url != "/portal/signin" {
		t.Errorf("a removed member is still signed in: %s", p.url)
	}
	if p := signin(e.browser(), "li@acme.example", "correct horse battery"); p.status != http.StatusUnauthorized {
		t.Errorf("a removed member signs in: %d", p.status)
	}
}

// Sign-up never tells whether an address has an account: a taken address
// gets the answer a new one gets (303 to the apps page, same body), no
// account or organisation is made, the password stays, and the owner is
// mailed a bilingual notice with the way to sign in and reset — no link
// that opens anything.
func TestSignupDoesNotRevealAccounts(t *testing.T) {
	e := newEnv(t)
	e.browser().signup("Green Valley", "li@greenvalley.example")
	partnersBefore, _, err := e.store.ListPartners(context.Background(), config.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	answer := func(email, password string) (int, string, string, bool) {
		b := e.browser()
		tok := b.csrf("/portal/signup")
		b.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := b.c.PostForm(e.srv.URL+"/portal/signup", url.Values{"csrf_token": {tok}, "org": {"Someone Else"},
			"name": {"Mallory"}, "email": {email}, "password": {password}})
		if err != nil {
			t.Fatal(err)
		}
		p := read(t, resp)
		return p.status, resp.Header.Get("Location"), p.body, b.cookie("obhub_portal_session") != ""
	}
	newStatus, newLoc, newBody, newSession := answer("new@elsewhere.example", "another long password")
	status, loc, body, session := answer("li@greenvalley.example", "another long password")
	if status != newStatus || loc != newLoc || body != newBody || status != http.StatusSeeOther || loc != "/portal/signup/sent" {
		t.Errorf("a taken address answers %d %q %q; a new one %d %q %q", status, loc, body, newStatus, newLoc, newBody)
	}
	if session || newSession {
		t.Errorf("a sign-up started a session: taken address %v, new address %v", session, newSession)
	}
	// The page both land on says the same to both.
	landing := e.browser().get("/portal/signup/sent")
	mustContain(t, landing, "Check your mailbox", "If this address can be used for a new account")
	mustNotContain(t, landing, "Signed in as")
	// The new account is signed in by following its verification link.
	fresh := e.browser()
	e.verifyEmail(fresh, "new@elsewhere.example")
	mustContain(t, fresh.get("/portal/apps"), "Signed in as Mallory (Someone Else)")
	if fresh.cookie("obhub_portal_session") == "" {
		t.Error("following the verification link started no session")
	}
	if strings.Contains(body, "already") {
		t.Errorf("the answer says the address is taken: %s", body)
	}
	partnersAfter, _, err := e.store.ListPartners(context.Background(), config.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(partnersAfter) != len(partnersBefore)+1 { // new@elsewhere's only
		t.Errorf("partners: %d before, %d after two sign-ups (one with a taken address)", len(partnersBefore), len(partnersAfter))
	}
	if p := signin(e.browser(), "li@greenvalley.example", "correct horse battery"); p.url != "/portal/apps" {
		t.Errorf("the owner's password no longer works: %d at %s", p.status, p.url)
	}
	if n := len(e.mails("li@greenvalley.example", mail.KindVerify)); n != 1 {
		t.Errorf("verification mails to the taken address: %d, want 1 (its own sign-up)", n)
	}
	notes := e.mails("li@greenvalley.example", mail.KindSignup)
	if len(notes) != 1 {
		t.Fatalf("sign-up notices: %d, want 1", len(notes))
	}
	n := notes[0]
	if want := "有人尝试用您的地址注册 | Someone tried to sign up with your address"; n.Subject != want {
		t.Errorf("subject %q, want %q", n.Subject, want)
	}
	for _, want := range []string{"Li Ming", "http://hub.example/portal/signin", "http://hub.example/portal/reset", "-------- English --------", "忘记密码", "Forgot your password"} {
		if !strings.Contains(n.Text, want) {
			t.Errorf("the notice lacks %q:\n%s", want, n.Text)
		}
	}
	for _, leak := range []string{"#token=", "Mallory", "Someone Else", "another long password"} {
		if strings.Contains(n.Text, leak) {
			t.Errorf("the notice holds %q:\n%s", leak, n.Text)
		}
	}
	if len(e.mails("new@elsewhere.example", mail.KindSignup)) != 0 {
		t.Error("a new address got a sign-up notice")
	}
}

// TestVerifyPageHasNoResendBanner: the verify page never offers "Send the
// link again" (pressing it would kill the link being used), and its answer
// to a followed link, in the browser that was signed in unverified, shows
// the address verified without the unverified banner.
func TestVerifyPageHasNoResendBanner(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.signup("Acme Pay", "li@acme.example")
	form := b.get("/portal/verify")
	mustNotContain(t, form, `id="verify-banner"`, "Send the link again")
	_, tok := e.lastLink("li@acme.example", mail.KindVerify)
	p := b.post("/portal/verify", url.Values{"csrf_token": {csrfRE.FindStringSubmatch(form.body)[1]}, "token": {tok}})
	mustContain(t, p, "Your e-mail address li@acme.example is verified.")
	mustNotContain(t, p, `id="verify-banner"`, "Send the link again")
}
