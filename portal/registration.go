package portal

import (
	"context"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/audit"
	"github.com/obhub/obhub/partners"
)

// Initial access tokens for dynamic client registration (RFC 7591,
// docs/oauth.md): an owner of an approved partner issues one on the page
// /portal/registration-tokens, sees it once with the command that
// registers a sandbox client with it, lists the organisation's tokens
// (never the token itself) and revokes them. Developers and owners whose
// address is not verified get 403; another organisation's token is 404.

// RegistrationToken is an initial access token as the portal shows it:
// never the token itself.
type RegistrationToken struct {
	ID        string
	MaxUses   int
	UsesLeft  int
	ExpiresAt time.Time
	CreatedAt time.Time
}

// RegistrationTokens issues and manages a partner's initial access tokens;
// cmd/obhub implements it over the authorization server's own functions
// (oauth.InitialTokens). Errors carry obhub codes: another partner's
// token is ENOTFOUND.
type RegistrationTokens interface {
	// Issue creates a token for partner allowing uses registrations
	// until lifetime has passed, and returns it with the token itself,
	// which exists nowhere else.
	Issue(ctx context.Context, partner string, uses int, lifetime time.Duration) (RegistrationToken, string, error)
	// List returns the partner's tokens, newest first.
	List(ctx context.Context, partner string) ([]RegistrationToken, error)
	// Revoke deletes one of the partner's tokens: it stops working at once.
	Revoke(ctx context.Context, partner, id string) error
}

// Limits of the portal's tokens: tighter than the admin API's, since an
// owner issues them without an operator.
const (
	maxRegistrationUses = 10
	maxRegistrationID   = 64
)

// registrationLifetimes are the lifetimes the form offers, in order; the
// longest is 7 days.
var registrationLifetimes = []struct {
	Value string
	Key   string
	d     time.Duration
}{
	{"1h", "reg.lifetime.1h", time.Hour},
	{"24h", "reg.lifetime.24h", 24 * time.Hour},
	{"168h", "reg.lifetime.7d", 7 * 24 * time.Hour},
}

// Token states shown in the list.
const (
	regActive  = "active"
	regUsed    = "used"
	regExpired = "expired"
)

// regRow is a token as the list shows it.
type regRow struct {
	RegistrationToken
	Status           string
	Expires, Created string
}

type registrationPage struct {
	Approved  bool
	Tokens    []regRow
	Lifetimes any
	Uses      string // the form as sent
	Lifetime  string
	Message   string
	// The token just issued, shown this once, and the command that
	// registers a client with it.
	NewToken string
	NewID    string
	Curl     string
}

// registrationRoutes adds the page of initial access tokens.
func (h *Handler) registrationRoutes(mux *http.ServeMux) {
	h.pages["registration"] = template.Must(template.New("layout.html").Funcs(funcs).
		ParseFS(templateFiles, "templates/layout.html", "templates/registration.html"))
	mux.HandleFunc("GET /portal/registration-tokens", h.registrationTokens)
	mux.HandleFunc("POST /portal/registration-tokens", h.issueRegistrationToken)
	mux.HandleFunc("POST /portal/registration-tokens/{id}/revoke", h.revokeRegistrationToken)
}

// registrationVisit starts every request of the page: signed in, for a
// POST the CSRF token (formVisit), an owner with a verified address, and
// registration available on this hub. ok false: answered.
func (h *Handler) registrationVisit(w http.ResponseWriter, r *http.Request) (*visitor, bool) {
	v, ok := h.formVisit(w, r, false)
	if !ok {
		return nil, false
	}
	if !v.MayOwn() {
		h.forbidden(w, v, forbiddenKey(v, "err.reg.owner"))
		return nil, false
	}
	if h.cfg.Registration == nil {
		h.fail(w, r, v, obhub.Errorf(obhub.EUNAVAILABLE, "dynamic client registration is not available"))
		return nil, false
	}
	return v, true
}

// registrationPageAfter renders the page with the organisation's tokens.
func (h *Handler) registrationPageAfter(w http.ResponseWriter, r *http.Request, v *visitor, status int, pg *registrationPage, errs []string) {
	list, err := h.cfg.Registration.List(r.Context(), v.Account.Partner)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	now := h.cfg.Clock.Now()
	for _, t := range list {
		row := regRow{RegistrationToken: t, Status: regActive,
			Expires: t.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC"), Created: t.CreatedAt.UTC().Format("2006-01-02 15:04 UTC")}
		switch {
		case t.UsesLeft < 1:
			row.Status = regUsed
		case !now.Before(t.ExpiresAt):
			row.Status = regExpired
		}
		pg.Tokens = append(pg.Tokens, row)
	}
	pg.Approved = v.Partner.Status == partners.PartnerApproved
	pg.Lifetimes = registrationLifetimes
	if pg.Uses == "" {
		pg.Uses = "1"
	}
	if pg.Lifetime == "" {
		pg.Lifetime = "24h"
	}
	h.render(w, v, status, "registration", v.L.T("reg.title"), errs, pg)
}

func (h *Handler) registrationTokens(w http.ResponseWriter, r *http.Request) {
	v, ok := h.registrationVisit(w, r)
	if !ok {
		return
	}
	pg := &registrationPage{}
	if r.URL.Query().Get("done") == "revoked" { // revokeRegistrationToken
		pg.Message = v.L.T("reg.revoked")
	}
	h.registrationPageAfter(w, r, v, http.StatusOK, pg, nil)
}

// issueRegistrationToken issues a token and shows it this once.
func (h *Handler) issueRegistrationToken(w http.ResponseWriter, r *http.Request) {
	v, ok := h.registrationVisit(w, r)
	if !ok {
		return
	}
	if v.Partner.Status != partners.PartnerApproved {
		h.forbidden(w, v, "err.reg.approval")
		return
	}
	pg := &registrationPage{Uses: strings.TrimSpace(r.PostFormValue("uses")), Lifetime: r.PostFormValue("lifetime")}
	var errs []string
	uses, err := strconv.Atoi(pg.Uses)
	if err != nil || uses < 1 || uses > maxRegistrationUses {
		errs = append(errs, v.L.T("err.reg.uses", maxRegistrationUses))
	}
	var lifetime time.Duration
	for _, l := range registrationLifetimes {
		if l.Value == pg.Lifetime {
			lifetime = l.d
		}
	}
	if lifetime == 0 {
		errs = append(errs, v.L.T("err.reg.lifetime"))
	}
	if len(errs) > 0 {
		h.registrationPageAfter(w, r, v, http.StatusUnprocessableEntity, pg, errs)
		return
	}
	t, token, err := h.cfg.Registration.Issue(r.Context(), v.Account.Partner, uses, lifetime)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	h.cfg.Logger.Info("portal: registration token issued", "partner", v.Account.Partner, "token_id", t.ID,
		"uses", uses, "expires", t.ExpiresAt, "by", v.Account.ID)
	h.recordChange(r, v.Account.Email, v.Account.Partner, audit.Change{
		Object: "partners/" + v.Account.Partner + "/registration-tokens/" + t.ID, Verb: "issue", After: t})
	*pg = registrationPage{NewToken: token, NewID: t.ID, Curl: h.registrationCurl(token),
		Message: v.L.T("reg.issued", t.ID)}
	h.registrationPageAfter(w, r, v, http.StatusCreated, pg, nil)
}

// revokeRegistrationToken deletes one of the organisation's tokens.
func (h *Handler) revokeRegistrationToken(w http.ResponseWriter, r *http.Request) {
	v, ok := h.registrationVisit(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	if len(id) > maxRegistrationID { // no token has such an id
		h.notFound(w, r, v)
		return
	}
	if err := h.cfg.Registration.Revoke(r.Context(), v.Account.Partner, id); err != nil {
		h.fail(w, r, v, err) // another organisation's token, or none: 404
		return
	}
	h.cfg.Logger.Info("portal: registration token revoked", "partner", v.Account.Partner, "token_id", id, "by", v.Account.ID)
	h.recordChange(r, v.Account.Email, v.Account.Partner, audit.Change{
		Object: "partners/" + v.Account.Partner + "/registration-tokens/" + id, Verb: "revoke"})
	see(w, r, "/portal/registration-tokens", url.Values{"done": {"revoked"}})
}

// registrationCurl is the command that registers a sandbox client with
// token, as docs/oauth.md shows it.
func (h *Handler) registrationCurl(token string) string {
	return "curl -s " + h.cfg.RegistrationEndpoint + " \\\n" +
		"     -H 'Authorization: Bearer " + token + "' -H 'Content-Type: application/json' \\\n" +
		`     -d '{"client_name":"My sandbox client","grant_types":["client_credentials"],"token_endpoint_auth_method":"client_secret_basic"}'`
}
