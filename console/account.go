package console

import (
	"context"
	"github.com/obhub/obhub/internal/passwd"

	"github.com/obhub/obhub/audit"
	"github.com/obhub/obhub/config"
	"net/http"
	"strings"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/catalog"
)

func (h *Handler) home(w http.ResponseWriter, r *http.Request) {
	v, err := h.visit(w, r)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	switch {
	case !v.SignedIn():
		http.Redirect(w, r, "/console/signin", http.StatusSeeOther)
	case v.Can("approvals"):
		http.Redirect(w, r, "/console/approvals", http.StatusSeeOther)
	default:
		http.Redirect(w, r, "/console/reports", http.StatusSeeOther)
	}
}

type signinData struct{ Email string }

func (h *Handler) signinForm(w http.ResponseWriter, r *http.Request) {
	v, err := h.visit(w, r)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	h.render(w, v, http.StatusOK, "signin", v.L.T("signin.title"), nil, signinData{})
}

// postVisit starts a form of a visitor who need not be signed in
// (sign-in, sign-out, setup): the visit, then the CSRF token. ok false:
// answered.
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

func (h *Handler) signin(w http.ResponseWriter, r *http.Request) {
	v, ok := h.postVisit(w, r)
	if !ok {
		return
	}
	in := signinData{Email: strings.ToLower(strings.TrimSpace(r.PostFormValue("email")))}
	password := r.PostFormValue("password")
	ctx := r.Context()
	refuse := func(msg string) {
		h.render(w, v, http.StatusUnauthorized, "signin", v.L.T("signin.title"), []string{msg}, in)
	}
	op, err := h.cfg.Operators.OperatorByEmail(ctx, in.Email)
	var login *passwd.Login
	switch {
	case err == nil:
		login = &passwd.Login{Hash: op.PasswordHash, Failures: op.Failures, LockedUntil: op.LockedUntil}
	case obhub.ErrorCode(err) != obhub.ENOTFOUND:
		h.fail(w, r, v, err)
		return
	}
	res, state, save, err := h.hasher.SignIn(ctx, login, password, h.cfg.Clock.Now().UTC())
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	if save {
		if err := h.cfg.Operators.SetLoginState(ctx, op.ID, state.Failures, state.LockedUntil); err != nil {
			h.fail(w, r, v, err)
			return
		}
	}
	switch res {
	case passwd.Locked:
		if op.Disabled() {
			refuse(v.L.T("err.disabled"))
			return
		}
		if save {
			h.cfg.Logger.Warn("console: operator locked after failed sign-ins", "operator", op.ID)
		}
		refuse(v.L.T("err.locked"))
		return
	case passwd.WrongPassword:
		refuse(v.L.T("err.signin"))
		return
	}
	if err := h.startSession(w, r, op.ID); err != nil {
		h.fail(w, r, v, err)
		return
	}
	h.cfg.Logger.Info("console: operator signed in", "operator", op.ID, "role", op.Role)
	http.Redirect(w, r, "/console/", http.StatusSeeOther)
}

func (h *Handler) signout(w http.ResponseWriter, r *http.Request) {
	v, ok := h.postVisit(w, r)
	if !ok {
		return
	}
	if v.Session != nil {
		if err := h.cfg.Operators.DeleteSession(r.Context(), v.Session.IDHash); err != nil {
			h.fail(w, r, v, err)
			return
		}
	}
	h.site.End(w, r)
	http.Redirect(w, r, "/console/signin", http.StatusSeeOther)
}

// setupData is the setup form as typed (never the token or password).
type setupData struct {
	Name, Email, Role, Bank string
	Banks                   []catalog.Bank
	Done                    string
}

func (h *Handler) setupForm(w http.ResponseWriter, r *http.Request) {
	v, err := h.visit(w, r)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	d := setupData{Role: RoleAllianceAdmin}
	if doneOf(r) == "created" {
		// Not the operator's address: this page is open to anyone.
		d.Done = v.L.T("setup.created")
	}
	h.showSetup(w, r, v, http.StatusOK, nil, d)
}

// setup creates an operator. It requires the admin API's bearer token:
// whoever holds it already controls the whole hub, so the form adds no
// power; it is how the first alliance admin is created, and how further
// operators are added in this release.
func (h *Handler) setup(w http.ResponseWriter, r *http.Request) {
	v, ok := h.postVisit(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	f := readOperatorForm(r)
	in := setupData{Name: f.Name, Email: f.Email, Role: f.Role, Bank: f.Bank}
	password := r.PostFormValue("password")
	token := r.PostFormValue("admin_token")
	// The token is checked first, and on its own: without it the form
	// tells nothing about accounts or banks.
	if token == "" || len(token) > 512 || !h.cfg.Catalog.CheckAdminToken(ctx, token) {
		h.cfg.Logger.Warn("console: setup refused: wrong admin token")
		h.recordSetup(r, nil)
		h.showSetup(w, r, v, http.StatusUnauthorized, []string{v.L.T("err.token")}, in)
		return
	}
	errs, err := h.checkOperator(ctx, v, &f, password)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	if len(errs) > 0 {
		h.showSetup(w, r, v, http.StatusUnprocessableEntity, errs, in)
		return
	}
	op, err := h.createOperator(ctx, f, password)
	if err != nil {
		if obhub.ErrorCode(err) == obhub.ECONFLICT {
			h.showSetup(w, r, v, http.StatusConflict, []string{v.L.T("err.taken")}, in)
			return
		}
		h.fail(w, r, v, err)
		return
	}
	h.cfg.Logger.Info("console: operator created with the admin token", "operator", op.ID, "role", op.Role, "bank", op.Bank)
	h.recordSetup(r, op)
	redirectDone(w, r, "/console/setup", "created")
}

// SetupActor is the actor of the audit records of the setup form: whoever
// holds the admin API's bearer token, as the admin API records it.
const SetupActor = "console:operator"

// recordSetup writes a setup attempt to the audit ledger: the operator
// created (op), or, with op nil, a refusal for a wrong admin token (actor
// "anonymous", decision deny, as the admin API records a call without
// it). The form's password and token are never in the record.
func (h *Handler) recordSetup(r *http.Request, op *Operator) {
	if h.cfg.Record == nil {
		return
	}
	c := audit.Change{Actor: SetupActor, Object: "operators", Verb: "create",
		Path: r.URL.Path, RequestID: obhub.RequestID(r.Context())}
	if op != nil {
		c.Object, c.After = "operators/"+op.ID, operatorState(op)
	}
	rec := c.Record(h.cfg.Clock.Now())
	if op == nil {
		rec.Actor, rec.Status, rec.Decision, rec.Reason = "anonymous", http.StatusUnauthorized, audit.DecisionDeny, "unauthorized"
	}
	if err := h.cfg.Record(rec); err != nil {
		h.cfg.Logger.Error("console: setup not recorded in the audit log", "err", err)
	}
}

// banks are the banks an operator's bank field offers.
func (h *Handler) banks(ctx context.Context) ([]catalog.Bank, error) {
	banks, _, err := h.cfg.Catalog.ListBanks(ctx, config.ListOptions{})
	return banks, err
}

// showSetup renders the setup form, its bank field offering the banks.
func (h *Handler) showSetup(w http.ResponseWriter, r *http.Request, v *visitor, status int, errs []string, d setupData) {
	banks, err := h.banks(r.Context())
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	d.Banks = banks
	h.render(w, v, status, "setup", v.L.T("setup.title"), errs, d)
}
