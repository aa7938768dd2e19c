package portal

import (
	"html/template"
	"net/http"
	"net/mail"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/audit"
	"github.com/obhub/obhub/internal/passwd"
	"github.com/obhub/obhub/partners"
)

// Who may do what (docs/portal.md, "Team members and roles"):
//
//   - every member, verified or not: read the catalog, create sandbox apps
//     and subscribe them, see the organisation's apps and team;
//   - verified owners only: create production apps, subscribe production
//     apps, invite colleagues, change roles, remove members.
//
// The server enforces it: a forbidden POST is 403 whatever the page showed.

// MayOwn reports whether the visitor acts as an owner: an owner whose
// e-mail address is verified.
func (v *visitor) MayOwn() bool {
	return v.SignedIn() && v.Account.Owner() && v.Account.Verified()
}

// NeedsVerifyBanner reports whether the page shows the banner asking a
// signed-in, unverified account to confirm its address. Never on the
// verify page itself: its "send the link again" would kill the link
// being followed there.
func (v *visitor) NeedsVerifyBanner() bool {
	return v.SignedIn() && !v.Account.Verified() && v.Path != "/portal/verify"
}

// MayChangeApp reports whether the visitor may change an app of the
// environment: any member a sandbox app, owners (MayOwn) a production one.
func (v *visitor) MayChangeApp(env partners.Environment) bool {
	if env == partners.Sandbox {
		return v.SignedIn()
	}
	return v.MayOwn()
}

// forbidden answers a POST the visitor's role does not allow.
func (h *Handler) forbidden(w http.ResponseWriter, v *visitor, msgKey string) {
	h.render(w, v, http.StatusForbidden, "error", v.L.T("err.title"), nil, v.L.T(msgKey))
}

// forbiddenKey says why a member who is not MayOwn is refused: an owner
// has yet to verify the address, anyone else is not an owner (ownerKey).
func forbiddenKey(v *visitor, ownerKey string) string {
	if v.Account.Owner() && !v.Account.Verified() {
		return "err.unverified"
	}
	return ownerKey
}

type memberRow struct {
	Account
	You bool
}

// invitationRow is a pending invitation as the team page lists it. ID is
// the token's hash, which the revoke form sends: it opens nothing (the
// mailed link holds the token itself).
type invitationRow struct {
	ID, Email, Expires string
}

type teamPage struct {
	Members     []memberRow
	Invitations []invitationRow
	Email       string // the invite form as typed
	Message     string
	Roles       []string
}

func (h *Handler) teamData(r *http.Request, v *visitor) (*teamPage, error) {
	ctx := r.Context()
	accounts, err := h.cfg.Accounts.ListAccounts(ctx, v.Account.Partner)
	if err != nil {
		return nil, err
	}
	pg := &teamPage{Roles: []string{RoleOwner, RoleDeveloper}}
	for _, a := range accounts {
		pg.Members = append(pg.Members, memberRow{Account: a, You: a.ID == v.Account.ID})
	}
	invs, err := h.cfg.Accounts.ListTokens(ctx, TokenInvite, v.Account.Partner, h.cfg.Clock.Now().UTC())
	if err != nil {
		return nil, err
	}
	for _, t := range invs {
		pg.Invitations = append(pg.Invitations, invitationRow{ID: t.Hash, Email: t.Email, Expires: t.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC")})
	}
	return pg, nil
}

// formVisit is the start of a signed-in page with forms (team, account,
// profile, apps): signed in, and for a POST the CSRF token and (owner)
// the owner rule checked. ok false: answered.
func (h *Handler) formVisit(w http.ResponseWriter, r *http.Request, owner bool) (*visitor, bool) {
	v := h.signedIn(w, r)
	if v == nil {
		return nil, false
	}
	if r.Method == http.MethodPost && !h.site.CheckCSRF(r, v.Session.csrf()) {
		h.csrfFailed(w, v)
		return nil, false
	}
	if owner && !v.MayOwn() {
		h.forbidden(w, v, forbiddenKey(v, "err.team.owner"))
		return nil, false
	}
	return v, true
}

// teamPageAfter renders the team page after a refused change, with its
// errors and the address typed into the invite form.
func (h *Handler) teamPageAfter(w http.ResponseWriter, r *http.Request, v *visitor, status int, errs []string, email string) {
	pg, err := h.teamData(r, v)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	pg.Email = email
	h.render(w, v, status, "team", v.L.T("team.title"), errs, pg)
}

// teamDone are the outcomes the team page's POSTs redirect with (?done=)
// and the fixed messages that say them, naming no address or person;
// "role.changed" names the member in ?member= from the team's own list.
var teamDone = map[string]string{
	"invited":            "team.invited",
	"invitation.revoked": "team.revoked",
	"member.removed":     "team.removed",
}

// seeTeam ends a successful POST on the team page: a 303 to the page
// with the outcome, so that reloading does not post again.
func seeTeam(w http.ResponseWriter, r *http.Request, query url.Values) {
	see(w, r, "/portal/team", query)
}

func (h *Handler) team(w http.ResponseWriter, r *http.Request) {
	v, ok := h.formVisit(w, r, false)
	if !ok {
		return
	}
	pg, err := h.teamData(r, v)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	q := r.URL.Query()
	if key, ok := teamDone[q.Get("done")]; ok {
		pg.Message = v.L.T(key)
	} else if q.Get("done") == "role.changed" {
		for _, m := range pg.Members {
			if m.ID == q.Get("member") {
				pg.Message = v.L.T("team.role.changed", m.Name, v.L.T("role."+m.Role))
			}
		}
	}
	h.render(w, v, http.StatusOK, "team", v.L.T("team.title"), nil, pg)
}

// invite mails an invitation to join the organisation as a developer.
func (h *Handler) invite(w http.ResponseWriter, r *http.Request) {
	v, ok := h.formVisit(w, r, true)
	if !ok {
		return
	}
	ctx := r.Context()
	email := strings.ToLower(strings.TrimSpace(r.PostFormValue("email")))
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email || len(email) > 254 {
		h.teamPageAfter(w, r, v, http.StatusUnprocessableEntity, []string{v.L.T("err.email")}, email)
		return
	}
	// An account belongs to one organisation: an address that has one
	// cannot be invited. Owners learn that much, and only owners.
	switch existing, err := h.cfg.Accounts.AccountByEmail(ctx, email); {
	case err == nil && existing.Partner == v.Account.Partner:
		h.teamPageAfter(w, r, v, http.StatusConflict, []string{v.L.T("err.member", email)}, email)
		return
	case err == nil:
		h.teamPageAfter(w, r, v, http.StatusConflict, []string{v.L.T("err.elsewhere", email)}, email)
		return
	case !isNotFound(err):
		h.fail(w, r, v, err)
		return
	}
	if err := h.sendInvitation(ctx, v.Account, v.Partner.Name, email); err != nil {
		h.fail(w, r, v, err)
		return
	}
	h.cfg.Logger.Info("portal: invitation sent", "partner", v.Account.Partner, "by", v.Account.ID)
	h.recordChange(r, v.Account.Email, v.Account.Partner, audit.Change{
		Object: "partners/" + v.Account.Partner + "/invitations", Verb: "invite", After: map[string]string{"email": email}})
	seeTeam(w, r, url.Values{"done": {"invited"}})
}

// revokeInvitation deletes a pending invitation of the organisation.
func (h *Handler) revokeInvitation(w http.ResponseWriter, r *http.Request) {
	v, ok := h.formVisit(w, r, true)
	if !ok {
		return
	}
	err := h.cfg.Accounts.DeleteToken(r.Context(), TokenInvite, v.Account.Partner, r.PostFormValue("invitation"))
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	seeTeam(w, r, url.Values{"done": {"invitation.revoked"}})
}

// member starts a change of the member in the path (an owner's POST): the
// visitor and the organisation's account with the path's id. Another
// organisation's account, or an unknown one, is 404. ok false: answered.
func (h *Handler) member(w http.ResponseWriter, r *http.Request) (*visitor, *Account, bool) {
	v, ok := h.formVisit(w, r, true)
	if !ok {
		return nil, nil, false
	}
	a, err := h.cfg.Accounts.Account(r.Context(), r.PathValue("id"))
	if err == nil && a.Partner != v.Account.Partner {
		err = obhub.Errorf(obhub.ENOTFOUND, "no such member")
	}
	if err != nil {
		h.fail(w, r, v, err)
		return nil, nil, false
	}
	return v, a, true
}

// memberChanged answers a failed change of a member (the last owner
// rule: 409) and reports whether err is nil.
func (h *Handler) memberChanged(w http.ResponseWriter, r *http.Request, v *visitor, err error) bool {
	switch obhub.ErrorCode(err) {
	case "":
		return true
	case obhub.ECONFLICT:
		h.teamPageAfter(w, r, v, http.StatusConflict, []string{v.L.T("err.lastowner")}, "")
	default:
		h.fail(w, r, v, err)
	}
	return false
}

func (h *Handler) setRole(w http.ResponseWriter, r *http.Request) {
	v, a, ok := h.member(w, r)
	if !ok {
		return
	}
	role := r.PostFormValue("role")
	if role != RoleOwner && role != RoleDeveloper {
		h.teamPageAfter(w, r, v, http.StatusUnprocessableEntity, []string{v.L.T("err.role")}, "")
		return
	}
	if !h.memberChanged(w, r, v, h.cfg.Accounts.SetRole(r.Context(), v.Account.Partner, a.ID, role)) {
		return
	}
	h.cfg.Logger.Info("portal: member role changed", "partner", v.Account.Partner, "account", a.ID, "role", role, "by", v.Account.ID)
	h.recordChange(r, v.Account.Email, v.Account.Partner, audit.Change{Object: "partners/" + v.Account.Partner + "/accounts/" + a.ID,
		Verb: "set_role", Before: memberState(a), After: memberState(&Account{ID: a.ID, Email: a.Email, Name: a.Name, Role: role})})
	seeTeam(w, r, url.Values{"done": {"role.changed"}, "member": {a.ID}})
}

func (h *Handler) removeMember(w http.ResponseWriter, r *http.Request) {
	v, a, ok := h.member(w, r)
	if !ok {
		return
	}
	if !h.memberChanged(w, r, v, h.cfg.Accounts.DeleteAccount(r.Context(), v.Account.Partner, a.ID)) {
		return
	}
	h.cfg.Logger.Info("portal: member removed", "partner", v.Account.Partner, "account", a.ID, "by", v.Account.ID)
	h.recordChange(r, v.Account.Email, v.Account.Partner, audit.Change{Object: "partners/" + v.Account.Partner + "/accounts/" + a.ID,
		Verb: "remove_member", Before: memberState(a)})
	if a.ID == v.Account.ID {
		// Left the team: the session went with the account.
		h.site.End(w, r)
		http.Redirect(w, r, "/portal/", http.StatusSeeOther)
		return
	}
	seeTeam(w, r, url.Values{"done": {"member.removed"}})
}

// acceptInvitation takes an invitation token with the invitee's name and
// password: it creates their account in the inviting organisation, in
// the invitation's role, with the address verified (the link reached
// it), and signs them in.
func (h *Handler) acceptInvitation(w http.ResponseWriter, r *http.Request) {
	v, ok := h.postVisit(w, r)
	if !ok {
		return
	}
	in := tokenData{Token: r.PostFormValue("token"), Name: strings.TrimSpace(r.PostFormValue("name"))}
	password := r.PostFormValue("password")
	var errs []string
	if in.Name == "" || utf8.RuneCountInString(in.Name) > 100 {
		errs = append(errs, v.L.T("err.required", v.L.T("signup.name")))
	}
	if n := utf8.RuneCountInString(password); n < passwd.MinLen || n > passwd.MaxLen {
		errs = append(errs, v.L.T("err.password"))
	}
	if len(errs) > 0 {
		h.render(w, v, http.StatusUnprocessableEntity, "invitation", v.L.T("invite.title"), errs, in)
		return
	}
	ctx := r.Context()
	hash, t, err := h.hashAndUse(ctx, password, TokenInvite, in.Token)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	if t != nil {
		// The organisation may have been deleted since.
		if _, err := h.cfg.Catalog.Partner(ctx, t.Partner); isNotFound(err) {
			t = nil
		} else if err != nil {
			h.fail(w, r, v, err)
			return
		}
	}
	if t == nil {
		h.render(w, v, http.StatusBadRequest, "invitation", v.L.T("invite.title"), []string{v.L.T("err.token")}, tokenData{Name: in.Name})
		return
	}
	now := h.cfg.Clock.Now().UTC()
	acc := Account{
		ID: "acc_" + randomID(), Email: t.Email, Name: in.Name, Partner: t.Partner, Role: t.Role,
		PasswordHash: hash, EmailVerifiedAt: now, CreatedAt: now,
	}
	if err := h.cfg.Accounts.CreateAccount(ctx, acc); err != nil {
		if obhub.ErrorCode(err) == obhub.ECONFLICT {
			// Registered since the invitation was sent: signing in is the way.
			h.render(w, v, http.StatusConflict, "invitation", v.L.T("invite.title"), []string{v.L.T("err.taken")}, tokenData{Name: in.Name})
			return
		}
		h.fail(w, r, v, err)
		return
	}
	h.cfg.Logger.Info("portal: invitation accepted", "partner", t.Partner, "account", acc.ID, "invited_by", t.InvitedBy)
	h.recordChange(r, acc.Email, t.Partner, audit.Change{Object: "partners/" + t.Partner + "/accounts/" + acc.ID,
		Verb: "accept_invitation", After: memberState(&acc)})
	if err := h.startSession(w, r, acc.ID); err != nil {
		h.fail(w, r, v, err)
		return
	}
	http.Redirect(w, r, "/portal/apps", http.StatusSeeOther)
}

// routeAccounts adds the pages of e-mail verification, password reset,
// the team and invitations.
func (h *Handler) routeAccounts(mux *http.ServeMux) {
	for _, name := range []string{"message", "verify", "reset", "resetnew", "team", "invitation"} {
		h.pages[name] = template.Must(template.New("layout.html").Funcs(funcs).
			ParseFS(templateFiles, "templates/layout.html", "templates/token.html", "templates/"+name+".html"))
	}
	mux.HandleFunc("GET "+verifyPath, h.formPage("verify", "verify.title"))
	mux.HandleFunc("POST "+verifyPath, h.verify)
	mux.HandleFunc("POST /portal/verify/resend", h.resendVerification)
	mux.HandleFunc("GET /portal/reset", h.formPage("reset", "reset.title"))
	mux.HandleFunc("POST /portal/reset", h.requestReset)
	mux.HandleFunc("GET "+resetPath, h.formPage("resetnew", "reset.new.title"))
	mux.HandleFunc("POST "+resetPath, h.setNewPassword)
	mux.HandleFunc("GET /portal/team", h.team)
	mux.HandleFunc("POST /portal/team/invitations", h.invite)
	mux.HandleFunc("POST /portal/team/invitations/revoke", h.revokeInvitation)
	mux.HandleFunc("POST /portal/team/members/{id}/role", h.setRole)
	mux.HandleFunc("POST /portal/team/members/{id}/remove", h.removeMember)
	mux.HandleFunc("GET "+invitePath, h.formPage("invitation", "invite.title"))
	mux.HandleFunc("POST "+invitePath, h.acceptInvitation)
}
