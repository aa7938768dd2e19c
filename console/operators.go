package console

import (
	"context"
	"net/http"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/catalog"
	"github.com/obhub/obhub/internal/passwd"
	"github.com/obhub/obhub/internal/websession"
)

// Directory is what the operators page needs beyond Store: the list of
// operators and password resets. It is apart from Store so that an
// operator store may come without it (Config.Directory nil: no operators
// page; the setup form still adds operators with the admin token).
type Directory interface {
	// ListOperators returns every operator, by e-mail address.
	ListOperators(ctx context.Context) ([]Operator, error)
	// SetPassword replaces the operator's password hash and ends its
	// sessions; an unknown operator is ENOTFOUND.
	SetPassword(ctx context.Context, operatorID, hash string) error
}

// disabledUntil is the lock of a disabled operator: Store.SetLoginState
// with it disables, with the zero time enables. A disabled operator
// cannot sign in, and its sessions no longer count.
var disabledUntil = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

// Disabled reports whether an alliance admin disabled the operator.
func (o *Operator) Disabled() bool { return !o.LockedUntil.Before(disabledUntil) }

// operatorInput is an operator's form as typed (never the password).
type operatorInput struct {
	Name, Email, Role, Bank string
}

// checkOperator validates a new operator's form; errs is empty when it
// may be created.
func (h *Handler) checkOperator(ctx context.Context, v *visitor, in *operatorInput, password string) (errs []string, err error) {
	if in.Name == "" || utf8.RuneCountInString(in.Name) > 100 {
		errs = append(errs, v.L.T("err.required", v.L.T("field.name")))
	}
	if a, err := mail.ParseAddress(in.Email); err != nil || a.Address != in.Email || len(in.Email) > 254 {
		errs = append(errs, v.L.T("err.email"))
	}
	if n := utf8.RuneCountInString(password); n < passwd.MinLen || n > passwd.MaxLen {
		errs = append(errs, v.L.T("err.password"))
	}
	switch in.Role {
	case RoleAllianceAdmin:
		in.Bank = ""
	case RoleBankAdmin, RoleAuditor:
		if in.Bank == "" && in.Role == RoleBankAdmin {
			errs = append(errs, v.L.T("err.required", v.L.T("field.bank")))
		}
	default:
		errs = append(errs, v.L.T("err.role"))
	}
	if in.Bank != "" && len(errs) == 0 {
		banks, err := h.banks(ctx)
		if err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(banks, func(b catalog.Bank) bool { return b.ID == in.Bank }) {
			ids := make([]string, len(banks))
			for i, b := range banks {
				ids[i] = b.ID
			}
			errs = append(errs, v.L.T("err.bank.choose", strings.Join(ids, ", ")))
		}
	}
	return errs, nil
}

// createOperator stores a checked operator; a taken e-mail address is
// ECONFLICT.
func (h *Handler) createOperator(ctx context.Context, in operatorInput, password string) (*Operator, error) {
	hash, err := h.hasher.Hash(ctx, password)
	if err != nil {
		return nil, err
	}
	op := Operator{
		ID: "op_" + websession.RandomToken()[:16], Email: in.Email, Name: in.Name, Role: in.Role, Bank: in.Bank,
		PasswordHash: hash, CreatedAt: h.cfg.Clock.Now().UTC(),
	}
	if err := h.cfg.Operators.CreateOperator(ctx, op); err != nil {
		return nil, err
	}
	return &op, nil
}

func readOperatorForm(r *http.Request) operatorInput {
	return operatorInput{
		Name:  strings.TrimSpace(r.PostFormValue("name")),
		Email: strings.ToLower(strings.TrimSpace(r.PostFormValue("email"))),
		Role:  r.PostFormValue("role"),
		Bank:  strings.TrimSpace(r.PostFormValue("bank")),
	}
}

type operatorsData struct {
	Operators []Operator
	Form      operatorInput
	Banks     []catalog.Bank // the new operator's bank field's choices
	Self      string         // the signed-in operator's id: not disabled from here
}

// operatorsPage serves GET /console/operators (alliance admins).
func (h *Handler) operatorsPage(w http.ResponseWriter, r *http.Request) {
	v, ok := h.gate(w, r, "operators")
	if !ok {
		return
	}
	h.showOperators(w, r, v, http.StatusOK, nil, operatorInput{Role: RoleBankAdmin})
}

// operatorDone are the messages of the operators page's outcomes (see
// redirectDone), each with the operator's e-mail address.
var operatorDone = map[string]string{"created": "setup.done", "password": "operators.reset",
	"disabled": "operators.disabled", "enabled": "operators.enabled"}

// showOperators shows the operators page with errs (a refused form) and
// the new operator's form, or the outcome of the change that redirected
// here.
func (h *Handler) showOperators(w http.ResponseWriter, r *http.Request, v *visitor, status int, errs []string, form operatorInput) {
	ops, err := h.cfg.Directory.ListOperators(r.Context())
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	banks, err := h.banks(r.Context())
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	var flash string
	for i := range ops {
		ops[i].PasswordHash = "" // never near a template
		if k, ok := operatorDone[doneOf(r)]; ok && ops[i].ID == r.URL.Query().Get("operator") {
			flash = v.L.T(k, ops[i].Email)
		}
	}
	h.renderFlash(w, v, status, "operators", v.L.T("operators.title"), errs, flash,
		operatorsData{Operators: ops, Form: form, Banks: banks, Self: v.Operator.ID})
}

// addOperator serves POST /console/operators.
func (h *Handler) addOperator(w http.ResponseWriter, r *http.Request) {
	v, ok := h.gate(w, r, "operators")
	if !ok {
		return
	}
	ctx := r.Context()
	in := readOperatorForm(r)
	errs, err := h.checkOperator(ctx, v, &in, r.PostFormValue("password"))
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	if len(errs) > 0 {
		h.showOperators(w, r, v, http.StatusUnprocessableEntity, errs, in)
		return
	}
	op, err := h.createOperator(ctx, in, r.PostFormValue("password"))
	if obhub.ErrorCode(err) == obhub.ECONFLICT {
		h.showOperators(w, r, v, http.StatusConflict, []string{v.L.T("err.taken")}, in)
		return
	}
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	h.cfg.Logger.Info("console: operator created", "by", v.Operator.ID, "operator", op.ID, "role", op.Role, "bank", op.Bank)
	h.recordChange(r, v, "", "operators/"+op.ID, "create", nil, operatorState(op))
	redirectDone(w, r, "/console/operators", "created", "operator", op.ID)
}

// operatorState is what the audit record keeps of an operator: never its
// password hash.
func operatorState(o *Operator) any {
	return struct {
		ID       string `json:"id"`
		Email    string `json:"email"`
		Name     string `json:"name"`
		Role     string `json:"role"`
		Bank     string `json:"bank,omitempty"`
		Disabled bool   `json:"disabled"`
	}{o.ID, o.Email, o.Name, o.Role, o.Bank, o.Disabled()}
}

// changeOperator serves POST /console/operators/{id}/password|disable|enable.
// An alliance admin cannot disable itself (nobody would be left to undo
// it); a password reset ends the operator's sessions.
func (h *Handler) changeOperator(w http.ResponseWriter, r *http.Request) {
	v, ok := h.gate(w, r, "operators")
	if !ok {
		return
	}
	ctx := r.Context()
	id, verb := r.PathValue("id"), r.PathValue("verb")
	op, err := h.cfg.Operators.Operator(ctx, id)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	before := operatorState(op)
	done := verb
	switch verb {
	case "password":
		password := r.PostFormValue("password")
		if n := utf8.RuneCountInString(password); n < passwd.MinLen || n > passwd.MaxLen {
			h.showOperators(w, r, v, http.StatusUnprocessableEntity, []string{v.L.T("err.password")}, operatorInput{Role: RoleBankAdmin})
			return
		}
		hash, err := h.hasher.Hash(ctx, password)
		if err == nil {
			err = h.cfg.Directory.SetPassword(ctx, id, hash)
		}
		if err == nil && !op.Disabled() {
			err = h.cfg.Operators.SetLoginState(ctx, id, 0, time.Time{}) // a reset also lifts a lockout
		}
	case "disable", "enable":
		if id == v.Operator.ID {
			h.showOperators(w, r, v, http.StatusConflict, []string{v.L.T("operators.err.self")}, operatorInput{Role: RoleBankAdmin})
			return
		}
		until := disabledUntil
		if verb == "enable" {
			until = time.Time{}
		}
		err = h.cfg.Operators.SetLoginState(ctx, id, 0, until)
		op.LockedUntil = until
		done = verb + "d"
	default:
		h.notFound(w, v)
		return
	}
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	h.cfg.Logger.Info("console: operator changed", "by", v.Operator.ID, "operator", id, "verb", verb)
	h.recordChange(r, v, "", "operators/"+id, verb, before, operatorState(op))
	redirectDone(w, r, "/console/operators", done, "operator", id)
}
