package portal

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/audit"
	"github.com/obhub/obhub/config"
	"github.com/obhub/obhub/internal/clientjwks"
	"github.com/obhub/obhub/partners"
)

// A partner manages its app's credentials on the app page: it rotates
// the client secret (the old one may keep working for a while), uploads
// a JWKS to switch to private_key_jwt, edits the redirect URIs and turns
// the authorization_code grant (customer consent) on or off. Each
// is a POST form with the CSRF token, for the partner's own apps only
// (another partner's app is a 404), and for production apps only by the
// partner's owners (team.go).

// credentialRoutes registers the credential forms of the app page.
func (h *Handler) credentialRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /portal/apps/{id}/secret", h.rotateSecret)
	mux.HandleFunc("POST /portal/apps/{id}/jwks", h.uploadJWKS)
	mux.HandleFunc("POST /portal/apps/{id}/redirect-uris", h.saveRedirectURIs)
	mux.HandleFunc("POST /portal/apps/{id}/code-grant", h.setCodeGrant)
}

// secretOverlaps are the overlaps the rotation form offers, in order.
var secretOverlaps = []struct {
	Value string
	Key   string
}{
	{"0s", "cred.overlap.none"},
	{"1h", "cred.overlap.1h"},
	{"24h", "cred.overlap.24h"},
	{"168h", "cred.overlap.7d"},
}

// maxRedirectURIs bounds the redirect URIs a partner may register.
const maxRedirectURIs = 10

// credentialsData fills the credential part of an app page.
func (h *Handler) credentialsData(pg *appPage) {
	a := &pg.App
	pg.SecretBased = a.TokenEndpointAuthMethod == partners.AuthSecretBasic || a.TokenEndpointAuthMethod == partners.AuthSecretPost
	pg.Overlaps = secretOverlaps
	pg.CodeGrant = slices.Contains(a.GrantTypes, partners.GrantAuthorizationCode)
	if exp := a.PreviousSecretExpiresAt; exp != nil && h.cfg.Clock.Now().Before(*exp) {
		pg.PreviousSecretUntil = exp.UTC().Format("2006-01-02 15:04 UTC")
	}
	if pg.RedirectInput == "" {
		pg.RedirectInput = strings.Join(a.RedirectURIs, "\n")
	}
	if pg.JWKSInput == "" && len(a.JWKS) > 0 {
		if b, err := json.MarshalIndent(a.JWKS, "", "  "); err == nil {
			pg.JWKSInput = string(b)
		}
	}
}

// appAction starts a form on one app (credentials, subscriptions, and
// the confirmations of appremove.go): signed in, the visitor's own app,
// for a POST a valid CSRF token, and the right to change the app. It
// answers and returns false otherwise.
func (h *Handler) appAction(w http.ResponseWriter, r *http.Request) (*visitor, *config.AppView, bool) {
	v := h.signedIn(w, r)
	if v == nil {
		return nil, nil, false
	}
	app, err := h.ownApp(r.Context(), v, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, v, err)
		return nil, nil, false
	}
	if r.Method == http.MethodPost && !h.site.CheckCSRF(r, v.Session.csrf()) {
		h.csrfFailed(w, v)
		return nil, nil, false
	}
	if !v.MayChangeApp(app.Environment) { // team.go: production apps are for verified owners
		h.forbidden(w, v, forbiddenKey(v, "err.prod.owner"))
		return nil, nil, false
	}
	return v, app, true
}

// renderApp shows the app page after a credential form: status and
// errs, or the message of a change, and what edit sets on the page.
func (h *Handler) renderApp(w http.ResponseWriter, r *http.Request, v *visitor, app *config.AppView, status int, errs []string, edit func(*appPage)) {
	pg, err := h.appData(r.Context(), v, app)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	if edit != nil {
		edit(pg)
	}
	h.credentialsData(pg)
	h.render(w, v, status, "app", v.L.T("app.title", app.Name), errs, pg)
}

// rotateSecret issues a new client secret, shown on this response only
// (no redirect: the secret is in no URL, no cache and no later page).
func (h *Handler) rotateSecret(w http.ResponseWriter, r *http.Request) {
	v, app, ok := h.appAction(w, r)
	if !ok {
		return
	}
	overlap, err := time.ParseDuration(r.PostFormValue("overlap"))
	if err != nil || partners.CheckSecretOverlap(overlap) != "" {
		h.renderApp(w, r, v, app, http.StatusUnprocessableEntity, []string{v.L.T("cred.overlap.bad")}, nil)
		return
	}
	next, secret, err := h.cfg.Catalog.RotateAppSecret(r.Context(), app.ClientID, overlap)
	if obhub.ErrorCode(err) == obhub.ECONFLICT {
		h.renderApp(w, r, v, app, http.StatusConflict, []string{v.L.T("cred.secret.none")}, nil)
		return
	}
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	h.cfg.Logger.Info("portal: client secret rotated", "partner", v.Partner.ID, "client_id", app.ClientID, "overlap", overlap)
	h.recordChange(r, v.Account.Email, v.Partner.ID, audit.Change{ClientID: app.ClientID, Object: "apps/" + app.ClientID,
		Verb: "rotate_secret", Before: app, After: next})
	h.renderApp(w, r, v, next, http.StatusOK, nil, func(pg *appPage) { pg.NewSecret = secret })
}

// uploadJWKS registers the pasted key set and switches the app to
// private_key_jwt; the client secret, if any, stops working.
func (h *Handler) uploadJWKS(w http.ResponseWriter, r *http.Request) {
	v, app, ok := h.appAction(w, r)
	if !ok {
		return
	}
	input := r.PostFormValue("jwks")
	keep := func(pg *appPage) { pg.JWKSInput = input }
	set, err := clientjwks.Check([]byte(input))
	if p, bad := clientjwks.IsProblem(err); bad {
		msg := v.L.T("jwks.err." + p.Code)
		if p.Key > 0 {
			msg = v.L.T("jwks.err.key", p.Key, msg)
		}
		h.renderApp(w, r, v, app, http.StatusUnprocessableEntity, []string{msg}, keep)
		return
	}
	h.changeApp(w, r, v, app, keep, func(a *config.AppView) {
		a.TokenEndpointAuthMethod, a.JWKS = partners.AuthPrivateKeyJWT, set
	}, "switched to private_key_jwt", "jwks.saved")
}

// saveRedirectURIs replaces the app's redirect URIs: one per line,
// each an absolute https URL (http only on loopback), compared exactly
// at the authorization endpoint.
func (h *Handler) saveRedirectURIs(w http.ResponseWriter, r *http.Request) {
	v, app, ok := h.appAction(w, r)
	if !ok {
		return
	}
	input := r.PostFormValue("redirect_uris")
	keep := func(pg *appPage) { pg.RedirectInput = input }
	var uris []string
	for _, line := range strings.Split(input, "\n") {
		if u := strings.TrimSpace(line); u != "" {
			uris = append(uris, u)
		}
	}
	if len(uris) > maxRedirectURIs {
		h.renderApp(w, r, v, app, http.StatusUnprocessableEntity, []string{v.L.T("redirect.err.many", maxRedirectURIs)}, keep)
		return
	}
	h.changeApp(w, r, v, app, keep, func(a *config.AppView) { a.RedirectURIs = uris },
		"redirect URIs changed", "redirect.saved")
}

// setCodeGrant turns the authorization_code grant, with refresh_token,
// on ("on") or off ("off") for the app: customers then sign in at their
// bank and consent, and the app redeems the code at a registered
// redirect URI. Turning it on needs a redirect URI already saved
// (partners.App.Validate refuses the change otherwise); turning it off
// also stops the app's refresh tokens, since the token endpoint checks
// the app's grants at every refresh.
func (h *Handler) setCodeGrant(w http.ResponseWriter, r *http.Request) {
	v, app, ok := h.appAction(w, r)
	if !ok {
		return
	}
	var on bool
	switch r.PostFormValue("authorization_code") {
	case "on":
		on = true
	case "off":
	default:
		h.renderApp(w, r, v, app, http.StatusUnprocessableEntity, []string{v.L.T("grant.err.choice")}, nil)
		return
	}
	what, done := "authorization_code grant turned off", "grant.off"
	if on {
		what, done = "authorization_code grant turned on", "grant.on"
	}
	h.changeApp(w, r, v, app, nil, func(a *config.AppView) { a.GrantTypes = withCodeGrant(a.GrantTypes, on) },
		what, done)
}

// withCodeGrant returns grants with authorization_code and refresh_token
// added (on) or removed, the other grants kept in their order.
func withCodeGrant(grants []string, on bool) []string {
	out := slices.DeleteFunc(slices.Clone(grants), func(g string) bool {
		return g == partners.GrantAuthorizationCode || g == partners.GrantRefreshToken
	})
	if on {
		out = append(out, partners.GrantAuthorizationCode, partners.GrantRefreshToken)
	}
	return out
}

// changeApp applies change to the app through the store: on success a
// log line says what and the browser is sent to the app page with done
// (a key of appDone, apps.go); otherwise the page shows the store's
// validation problems (partners.App.Validate) with the input kept (keep).
func (h *Handler) changeApp(w http.ResponseWriter, r *http.Request, v *visitor, app *config.AppView,
	keep func(*appPage), change func(*config.AppView), what, done string) {
	next, err := h.cfg.Catalog.UpdateApp(r.Context(), app.ClientID, func(a *config.AppView) error {
		change(a)
		return nil
	})
	switch obhub.ErrorCode(err) {
	case "":
		h.cfg.Logger.Info("portal: app "+what, "partner", v.Partner.ID, "client_id", app.ClientID)
		h.recordChange(r, v.Account.Email, v.Partner.ID, audit.Change{ClientID: app.ClientID, Object: "apps/" + app.ClientID,
			Verb: "update", Before: app, After: next})
		seeApp(w, r, next.ClientID, url.Values{"done": {done}})
	case obhub.EINVALID, obhub.ECONFLICT:
		var errs []string
		for _, d := range obhub.ErrorDetails(err) {
			errs = append(errs, strings.TrimSpace(fieldName(v, d.Location)+" "+problemText(v, d.Message)))
		}
		if len(errs) == 0 {
			errs = []string{obhub.ErrorMessage(err)}
		}
		h.renderApp(w, r, v, app, http.StatusUnprocessableEntity, errs, keep)
	default:
		h.fail(w, r, v, err)
	}
}

// fieldName names the app field a validation problem is about.
func fieldName(v *visitor, loc string) string {
	switch {
	case strings.HasPrefix(loc, "/redirect_uris/"):
		i, _ := strconv.Atoi(strings.TrimPrefix(loc, "/redirect_uris/"))
		return v.L.T("redirect.uri", i+1)
	case loc == "/redirect_uris":
		return v.L.T("redirect.title")
	case loc == "/jwks":
		return "JWKS"
	case loc == "/grant_types":
		return v.L.T("app.grants")
	}
	return loc
}

// problemText translates a validation message of partners.App.Validate
// where the portal knows it ("problem." + the English text), and shows
// it as it is otherwise.
func problemText(v *visitor, msg string) string {
	if s := v.L.T("problem." + msg); s != "problem."+msg {
		return s
	}
	return msg
}
