package portal

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"github.com/obhub/obhub/audit"
	"github.com/obhub/obhub/internal/passwd"
	"net/http"
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/partners"
)

func (h *Handler) home(w http.ResponseWriter, r *http.Request) {
	v, err := h.visit(w, r)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	h.render(w, v, http.StatusOK, "home", v.L.T("home.title"), nil, nil)
}

// signupData is the sign-up form as typed, shown again on errors (never
// the password).
type signupData struct {
	Org, Name, Email string
}

func (h *Handler) signupForm(w http.ResponseWriter, r *http.Request) {
	v, err := h.visit(w, r)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	h.render(w, v, http.StatusOK, "signup", v.L.T("signup.title"), nil, signupData{})
}

func (h *Handler) signup(w http.ResponseWriter, r *http.Request) {
	v, ok := h.postVisit(w, r)
	if !ok {
		return
	}
	in := signupData{
		Org:   strings.TrimSpace(r.PostFormValue("org")),
		Name:  strings.TrimSpace(r.PostFormValue("name")),
		Email: strings.ToLower(strings.TrimSpace(r.PostFormValue("email"))),
	}
	password := r.PostFormValue("password")
	var errs []string
	if in.Org == "" || utf8.RuneCountInString(in.Org) > 100 {
		errs = append(errs, v.L.T("err.required", v.L.T("signup.org")))
	}
	if in.Name == "" || utf8.RuneCountInString(in.Name) > 100 {
		errs = append(errs, v.L.T("err.required", v.L.T("signup.name")))
	}
	if a, err := mail.ParseAddress(in.Email); err != nil || a.Address != in.Email || len(in.Email) > 254 {
		errs = append(errs, v.L.T("err.email"))
	}
	if n := utf8.RuneCountInString(password); n < passwd.MinLen || n > passwd.MaxLen {
		errs = append(errs, v.L.T("err.password"))
	}
	if len(errs) > 0 {
		h.render(w, v, http.StatusUnprocessableEntity, "signup", v.L.T("signup.title"), errs, in)
		return
	}
	ctx := r.Context()
	existing, err := h.cfg.Accounts.AccountByEmail(ctx, in.Email)
	if err != nil && obhub.ErrorCode(err) != obhub.ENOTFOUND {
		h.fail(w, r, v, err)
		return
	}
	// The password is hashed whether or not the address is taken, so
	// that both answers take the same time.
	hash, err := h.hasher.Hash(ctx, password)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	if existing != nil {
		h.signupTaken(w, r, existing)
		return
	}
	p, err := h.cfg.Catalog.CreatePartner(ctx, partners.Partner{ID: partnerID(in.Org), Name: in.Org, Kind: partners.KindFintech})
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	acc := Account{
		ID: "acc_" + randomID(), Email: in.Email, Name: in.Name, Partner: p.ID, Role: RoleOwner,
		PasswordHash: hash, CreatedAt: h.cfg.Clock.Now().UTC(),
	}
	if err := h.cfg.Accounts.CreateAccount(ctx, acc); err != nil {
		// Do not leave an organisation nobody can sign in for.
		if derr := h.cfg.Catalog.DeletePartner(ctx, p.ID); derr != nil {
			h.cfg.Logger.Warn("portal: remove partner of failed sign-up", "partner", p.ID, "err", derr)
		}
		if obhub.ErrorCode(err) == obhub.ECONFLICT {
			// Taken meanwhile, by a sign-up running at the same time.
			if existing, err = h.cfg.Accounts.AccountByEmail(ctx, in.Email); err == nil {
				h.signupTaken(w, r, existing)
				return
			}
		}
		h.fail(w, r, v, err)
		return
	}
	h.cfg.Logger.Info("portal: developer signed up", "account", acc.ID, "partner", p.ID)
	h.recordChange(r, acc.Email, p.ID, audit.Change{Object: "partners/" + p.ID, Verb: "signup", After: p})
	if err := h.sendVerification(ctx, &acc); err != nil {
		// The account stands; its owner asks for the link again from
		// the banner every page shows.
		h.cfg.Logger.Error("portal: send the verification mail", "account", acc.ID, "err", err)
	}
	signupAnswer(w, r)
}

// signupAnswer is the one answer of every sign-up that passed the form's
// checks, whether it made an account or found the address taken: the same
// redirect to the same page, and no session (a session cookie for a new
// account only would tell the two apart). The new account is signed in
// when its verification link is followed, or by its password at the
// sign-in page.
func signupAnswer(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, "/portal/signup/sent", http.StatusSeeOther)
}

// signupSent is the page every sign-up lands on: check the mailbox.
func (h *Handler) signupSent(w http.ResponseWriter, r *http.Request) {
	v, err := h.visit(w, r)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	h.message(w, v, http.StatusOK, v.L.T("signup.sent.title"), v.L.T("signup.sent"), "/portal/signin", v.L.T("nav.signin"))
}

// signupTaken answers a sign-up with an address that has an account as
// a sign-up that worked (signupAnswer: the page never tells whether an
// address has an account, as the password reset page does not) and
// mails the account's owner a notice instead.
func (h *Handler) signupTaken(w http.ResponseWriter, r *http.Request, a *Account) {
	if err := h.sendSignupNotice(r.Context(), a); err != nil {
		h.cfg.Logger.Error("portal: send the sign-up notice", "account", a.ID, "err", err)
	}
	h.cfg.Logger.Info("portal: sign-up with an address that has an account", "account", a.ID)
	signupAnswer(w, r)
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// randomID returns 16 random lowercase base32 characters (80 bits).
func randomID() string {
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("portal: crypto/rand failed: " + err.Error())
	}
	return idEncoding.EncodeToString(b[:])
}

// partnerID derives a partner id from an organisation's name: its ASCII
// letters and digits (Chinese names give none) and a random suffix, so
// that two sign-ups never collide.
func partnerID(org string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(org) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case b.Len() > 0 && !dash:
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 40 {
			break
		}
	}
	slug := strings.Trim(b.String(), "-")
	if slug == "" {
		slug = "partner"
	}
	return slug + "-" + randomID()[:6]
}

type signinData struct {
	Email, Next string
}

func (h *Handler) signinForm(w http.ResponseWriter, r *http.Request) {
	v, err := h.visit(w, r)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	h.render(w, v, http.StatusOK, "signin", v.L.T("signin.title"), nil, signinData{Next: safeNext(r.URL.Query().Get("next"))})
}

// safeNext keeps only a local portal path, with its query, to return to
// after sign-in.
func safeNext(s string) string {
	if !strings.HasPrefix(s, "/portal/") || strings.HasPrefix(s, "//") || strings.ContainsAny(s, "\\\r\n") {
		return ""
	}
	return s
}

func (h *Handler) signin(w http.ResponseWriter, r *http.Request) {
	v, ok := h.postVisit(w, r)
	if !ok {
		return
	}
	in := signinData{Email: strings.ToLower(strings.TrimSpace(r.PostFormValue("email"))), Next: safeNext(r.PostFormValue("next"))}
	password := r.PostFormValue("password")
	ctx := r.Context()
	refuse := func(msg string) {
		h.render(w, v, http.StatusUnauthorized, "signin", v.L.T("signin.title"), []string{msg}, in)
	}
	acc, err := h.cfg.Accounts.AccountByEmail(ctx, in.Email)
	switch {
	case isNotFound(err):
		acc = nil // checked against a dummy hash all the same
	case err != nil:
		h.fail(w, r, v, err)
		return
	}
	res, err := h.checkPassword(ctx, acc, password)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	switch res {
	case passwd.Locked:
		refuse(v.L.T("err.locked"))
		return
	case passwd.WrongPassword:
		refuse(v.L.T("err.signin"))
		return
	}
	if err := h.startSession(w, r, acc.ID); err != nil {
		h.fail(w, r, v, err)
		return
	}
	next := in.Next
	if next == "" {
		next = "/portal/apps"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (h *Handler) signout(w http.ResponseWriter, r *http.Request) {
	v, ok := h.postVisit(w, r)
	if !ok {
		return
	}
	if v.Session != nil {
		if err := h.cfg.Accounts.DeleteSession(r.Context(), v.Session.IDHash); err != nil {
			h.fail(w, r, v, err)
			return
		}
	}
	h.site.End(w, r)
	http.Redirect(w, r, "/portal/", http.StatusSeeOther)
}

// tokenData is a form that carries the secret of a mailed link (filled in
// from the link's fragment by static/token.js) and, for reset and
// invitation, the rest of what the person types (never the password).
type tokenData struct {
	Token string
	Name  string
	Email string
}

// formPage serves the empty form of a page that takes a mailed link.
func (h *Handler) formPage(name, titleKey string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := h.visit(w, r)
		if err != nil {
			h.fail(w, r, v, err)
			return
		}
		h.render(w, v, http.StatusOK, name, v.L.T(titleKey), nil, tokenData{})
	}
}

// postVisit starts a POST of a form that needs no sign-in: the visitor,
// with the CSRF token checked. ok false: answered.
func (h *Handler) postVisit(w http.ResponseWriter, r *http.Request) (*visitor, bool) {
	v, err := h.visit(w, r)
	if err != nil {
		h.fail(w, r, v, err)
		return nil, false
	}
	if !h.site.CheckCSRF(r, v.Session.csrf()) {
		h.csrfFailed(w, v)
		return nil, false
	}
	return v, true
}

// messageData is a page that says one thing and offers a way on.
type messageData struct {
	Text, Next, NextLabel string
}

func (h *Handler) message(w http.ResponseWriter, v *visitor, status int, title, text, next, nextLabel string) {
	h.render(w, v, status, "message", title, nil, messageData{Text: text, Next: next, NextLabel: nextLabel})
}

// verify takes a verification token: the account it names is verified
// and this browser is signed in as it on a fresh session (the link
// reached the mailbox, as a reset link does), whoever was signed in
// here before.
func (h *Handler) verify(w http.ResponseWriter, r *http.Request) {
	v, ok := h.postVisit(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	t, err := h.useToken(ctx, TokenVerify, r.PostFormValue("token"))
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	if t != nil {
		err = h.cfg.Accounts.SetEmailVerified(ctx, t.AccountID, h.cfg.Clock.Now().UTC())
		if isNotFound(err) {
			t = nil // the account was removed since
		} else if err != nil {
			h.fail(w, r, v, err)
			return
		}
	}
	if t == nil {
		h.render(w, v, http.StatusBadRequest, "verify", v.L.T("verify.title"), []string{v.L.T("err.token")}, tokenData{})
		return
	}
	h.cfg.Logger.Info("portal: e-mail address verified", "account", t.AccountID)
	acc, err := h.cfg.Accounts.Account(ctx, t.AccountID)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	h.recordChange(r, acc.Email, acc.Partner, audit.Change{Object: "partners/" + acc.Partner + "/accounts/" + acc.ID, Verb: "verify_email"})
	if err := h.signInNow(w, r, v, acc); err != nil {
		h.fail(w, r, v, err)
		return
	}
	h.message(w, v, http.StatusOK, v.L.T("verify.title"), v.L.T("verify.done", t.Email), "/portal/apps", v.L.T("verify.continue"))
}

// resendVerification mails the signed-in, unverified account a new link
// (the previous one stops working).
func (h *Handler) resendVerification(w http.ResponseWriter, r *http.Request) {
	v, ok := h.formVisit(w, r, false)
	if !ok {
		return
	}
	if v.Account.Verified() {
		h.message(w, v, http.StatusOK, v.L.T("verify.title"), v.L.T("verify.already"), "/portal/apps", v.L.T("verify.continue"))
		return
	}
	if err := h.sendVerification(r.Context(), v.Account); err != nil {
		h.fail(w, r, v, err)
		return
	}
	h.message(w, v, http.StatusOK, v.L.T("verify.title"), v.L.T("verify.sent", v.Account.Email), "/portal/apps", v.L.T("verify.continue"))
}

// requestReset mails a reset link to the address if it has an account.
// The answer is the same whether it has or not, so the form tells nobody
// which addresses are registered.
func (h *Handler) requestReset(w http.ResponseWriter, r *http.Request) {
	v, ok := h.postVisit(w, r)
	if !ok {
		return
	}
	email := strings.ToLower(strings.TrimSpace(r.PostFormValue("email")))
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email || len(email) > 254 {
		h.render(w, v, http.StatusUnprocessableEntity, "reset", v.L.T("reset.title"), []string{v.L.T("err.email")}, tokenData{Email: email})
		return
	}
	ctx := r.Context()
	acc, err := h.cfg.Accounts.AccountByEmail(ctx, email)
	switch {
	case err == nil:
		if err := h.sendReset(ctx, acc); err != nil {
			h.fail(w, r, v, err)
			return
		}
		h.cfg.Logger.Info("portal: password reset requested", "account", acc.ID)
	case !isNotFound(err):
		h.fail(w, r, v, err)
		return
	}
	h.message(w, v, http.StatusOK, v.L.T("reset.title"), v.L.T("reset.sent", email), "/portal/signin", v.L.T("nav.signin"))
}

// setNewPassword takes a reset token and the new password: the password
// is replaced, the lockout lifted, every session of the account ended,
// and this browser signed in on a fresh session. Following the link also
// proves the address, so an unverified account becomes verified.
func (h *Handler) setNewPassword(w http.ResponseWriter, r *http.Request) {
	v, ok := h.postVisit(w, r)
	if !ok {
		return
	}
	in := tokenData{Token: r.PostFormValue("token")}
	password := r.PostFormValue("password")
	if n := utf8.RuneCountInString(password); n < passwd.MinLen || n > passwd.MaxLen {
		// Checked before the token is used, so a typo does not cost the link.
		h.render(w, v, http.StatusUnprocessableEntity, "resetnew", v.L.T("reset.new.title"), []string{v.L.T("err.password")}, in)
		return
	}
	ctx := r.Context()
	hash, t, err := h.hashAndUse(ctx, password, TokenReset, in.Token)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	if t != nil {
		err = h.cfg.Accounts.SetPassword(ctx, t.AccountID, hash)
		if isNotFound(err) {
			t = nil
		} else if err != nil {
			h.fail(w, r, v, err)
			return
		}
	}
	if t == nil {
		h.render(w, v, http.StatusBadRequest, "resetnew", v.L.T("reset.new.title"), []string{v.L.T("err.token")}, tokenData{})
		return
	}
	h.cfg.Logger.Info("portal: password reset; every session of the account ended", "account", t.AccountID)
	acc, err := h.cfg.Accounts.Account(ctx, t.AccountID)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	h.recordChange(r, acc.Email, acc.Partner, audit.Change{Object: "partners/" + acc.Partner + "/accounts/" + acc.ID, Verb: "reset_password"})
	if !acc.Verified() {
		if err := h.cfg.Accounts.SetEmailVerified(ctx, acc.ID, h.cfg.Clock.Now().UTC()); err != nil {
			h.fail(w, r, v, err)
			return
		}
	}
	if err := h.startSession(w, r, acc.ID); err != nil {
		h.fail(w, r, v, err)
		return
	}
	http.Redirect(w, r, "/portal/apps", http.StatusSeeOther)
}

// accountPage is the signed-in person's account page.
type accountPage struct {
	Message string
}

// account shows the signed-in account and the password change form.
func (h *Handler) account(w http.ResponseWriter, r *http.Request) {
	v, ok := h.formVisit(w, r, false)
	if !ok {
		return
	}
	pg := accountPage{}
	if r.URL.Query().Get("changed") == "1" {
		pg.Message = v.L.T("account.password.changed")
	}
	h.render(w, v, http.StatusOK, "account", v.L.T("account.title"), nil, pg)
}

// changePassword replaces the signed-in account's password. The current
// password is checked under the sign-in lockout rules (failures count,
// and a locked account is refused); the new one follows the sign-up
// rules. Every session of the account is ended, this browser's too, and
// this browser goes on signed in on a fresh session.
func (h *Handler) changePassword(w http.ResponseWriter, r *http.Request) {
	v, ok := h.formVisit(w, r, false)
	if !ok {
		return
	}
	current, next := r.PostFormValue("current"), r.PostFormValue("password")
	refuse := func(status int, msg string) {
		h.render(w, v, status, "account", v.L.T("account.title"), []string{msg}, accountPage{})
	}
	if n := utf8.RuneCountInString(next); n < passwd.MinLen || n > passwd.MaxLen {
		refuse(http.StatusUnprocessableEntity, v.L.T("err.password"))
		return
	}
	if next == current {
		refuse(http.StatusUnprocessableEntity, v.L.T("err.password.same"))
		return
	}
	ctx := r.Context()
	acc := v.Account
	res, err := h.checkPassword(ctx, acc, current)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	switch res {
	case passwd.Locked:
		refuse(http.StatusUnauthorized, v.L.T("err.locked"))
		return
	case passwd.WrongPassword:
		refuse(http.StatusUnauthorized, v.L.T("err.password.current"))
		return
	}
	hash, err := h.hasher.Hash(ctx, next)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	if err := h.cfg.Accounts.SetPassword(ctx, acc.ID, hash); err != nil {
		h.fail(w, r, v, err)
		return
	}
	h.cfg.Logger.Info("portal: password changed; every other session of the account ended", "account", acc.ID)
	h.recordChange(r, acc.Email, acc.Partner, audit.Change{Object: "partners/" + acc.Partner + "/accounts/" + acc.ID, Verb: "change_password"})
	if err := h.startSession(w, r, acc.ID); err != nil {
		h.fail(w, r, v, err)
		return
	}
	http.Redirect(w, r, "/portal/account?changed=1", http.StatusSeeOther)
}

// checkPassword checks a password of acc under the lockout rules of
// internal/passwd and records the outcome (failures in a row, lockout);
// acc nil, an unknown address, is checked against a dummy hash so that
// the answer takes as long. Sign-in and the password change both use it,
// so a guess at either counts towards the same lockout.
func (h *Handler) checkPassword(ctx context.Context, acc *Account, password string) (passwd.Result, error) {
	var login *passwd.Login
	if acc != nil {
		login = &passwd.Login{Hash: acc.PasswordHash, Failures: acc.Failures, LockedUntil: acc.LockedUntil}
	}
	res, state, save, err := h.hasher.SignIn(ctx, login, password, h.cfg.Clock.Now().UTC())
	if err != nil {
		return res, err
	}
	if save {
		if err := h.cfg.Accounts.SetLoginState(ctx, acc.ID, state.Failures, state.LockedUntil); err != nil {
			return res, err
		}
		if res == passwd.Locked {
			h.cfg.Logger.Warn("portal: account locked after failed password checks", "account", acc.ID)
		}
	}
	return res, nil
}
