package portal

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/audit"
	"github.com/obhub/obhub/catalog"
	"github.com/obhub/obhub/config"
	"github.com/obhub/obhub/partners"
)

type appsPage struct {
	Apps []config.AppView
	// New is the app just created, with its secret: shown on this one
	// response only (the store keeps a hash).
	New       *config.AppView
	NewSecret string
	TokenURL  string
	Name      string
	Approved  bool
	// Message is the outcome of a deletion (?done=deleted); Suspended
	// says some app is suspended by the alliance.
	Message   string
	Suspended bool
}

func (h *Handler) appsData(ctx context.Context, v *visitor) (*appsPage, error) {
	apps, _, err := h.cfg.Catalog.ListApps(ctx, v.Account.Partner, config.ListOptions{})
	if err != nil {
		return nil, err
	}
	pg := &appsPage{
		Apps: apps, TokenURL: h.cfg.PublicURL + "/oauth2/token",
		Approved: v.Partner.Status == partners.PartnerApproved,
	}
	for _, a := range apps {
		pg.Suspended = pg.Suspended || a.Suspended
	}
	return pg, nil
}

func (h *Handler) apps(w http.ResponseWriter, r *http.Request) {
	v := h.signedIn(w, r)
	if v == nil {
		return
	}
	pg, err := h.appsData(r.Context(), v)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	if r.URL.Query().Get("done") == "deleted" { // appremove.go
		pg.Message = v.L.T("apps.deleted")
	}
	h.render(w, v, http.StatusOK, "apps", v.L.T("apps.title"), nil, pg)
}

// scopesFor gives a new app every scope that the operations of the APIs
// visible to the partner declare, so that it can call whatever it is
// later subscribed to.
func (h *Handler) scopesFor(ctx context.Context, p *partners.Partner) ([]string, error) {
	apis, _, err := h.cfg.Catalog.ListAPIs(ctx, config.ListOptions{})
	if err != nil {
		return nil, err
	}
	var scopes []string
	for i := range apis {
		if !visible(p, &apis[i]) {
			continue
		}
		for _, op := range apis[i].Operations {
			for _, s := range op.Scopes {
				if !slices.Contains(scopes, s) {
					scopes = append(scopes, s)
				}
			}
		}
	}
	slices.Sort(scopes)
	return scopes, nil
}

func (h *Handler) createApp(w http.ResponseWriter, r *http.Request) {
	v, ok := h.formVisit(w, r, false)
	if !ok {
		return
	}
	env := partners.Environment(r.PostFormValue("environment"))
	if env == partners.Production && !v.MayChangeApp(env) { // team.go: verified owners only
		h.forbidden(w, v, forbiddenKey(v, "err.prod.owner"))
		return
	}
	ctx := r.Context()
	pg, err := h.appsData(ctx, v)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	name := strings.TrimSpace(r.PostFormValue("name"))
	pg.Name = name
	var errs []string
	if name == "" || utf8.RuneCountInString(name) > 100 {
		errs = append(errs, v.L.T("err.required", v.L.T("apps.name")))
	}
	switch env {
	case partners.Sandbox:
	case partners.Production:
		if !pg.Approved {
			errs = append(errs, v.L.T("apps.prod.pending", v.Partner.Name))
		}
	default:
		errs = append(errs, v.L.T("err.required", v.L.T("apps.env")))
	}
	if len(errs) > 0 {
		h.render(w, v, http.StatusUnprocessableEntity, "apps", v.L.T("apps.title"), errs, pg)
		return
	}
	scopes, err := h.scopesFor(ctx, v.Partner)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	app, secret, err := h.cfg.Catalog.CreateApp(ctx, partners.App{
		Partner: v.Partner.ID, Name: name, Environment: env,
		GrantTypes:              []string{partners.GrantClientCredentials},
		Scopes:                  scopes,
		TokenEndpointAuthMethod: partners.AuthSecretBasic,
	})
	if code := obhub.ErrorCode(err); code == obhub.ECONFLICT || code == obhub.EINVALID {
		h.render(w, v, http.StatusConflict, "apps", v.L.T("apps.title"), []string{obhub.ErrorMessage(err)}, pg)
		return
	}
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	h.cfg.Logger.Info("portal: app created", "partner", v.Partner.ID, "client_id", app.ClientID, "environment", env)
	h.recordChange(r, v.Account.Email, v.Partner.ID, audit.Change{ClientID: app.ClientID, Object: "apps/" + app.ClientID, Verb: "create", After: app})
	pg.Apps = append(pg.Apps, *app)
	pg.New, pg.NewSecret, pg.Name = app, secret, ""
	// Rendered on this response, not after a redirect: the secret is in
	// no URL, no cache (no-store) and no later page.
	h.render(w, v, http.StatusCreated, "apps", v.L.T("apps.title"), nil, pg)
}

type subRow struct {
	Product catalog.Product
	Status  partners.SubscriptionStatus
}

// offer is a product the app may subscribe to, as the subscribe form
// shows it: its APIs by name and its plan in words.
type offer struct {
	catalog.Product
	APINames    []string
	Rate, Quota string // "" when the plan has none
}

type appPage struct {
	App       config.AppView
	Subs      []subRow
	Available []offer
	// Preselect is the product the subscribe form starts on: the first
	// one active at once, none if every product needs approval.
	Preselect string
	Message   string
	// Pending shows Message as waiting (a subscription to approve), not
	// as done.
	Pending bool
	// Credentials (credentials.go): NewSecret is shown on the rotation's
	// response only.
	SecretBased         bool
	NewSecret           string
	PreviousSecretUntil string
	Overlaps            []struct{ Value, Key string }
	JWKSInput           string
	RedirectInput       string
	// CodeGrant: the app has the authorization_code grant, the only one
	// that uses redirect URIs.
	CodeGrant bool
	// names are every product's name by id, for the outcome of a
	// cancelled subscription.
	names map[string]string
}

// ownApp returns the app if it belongs to the visitor's partner, and
// ENOTFOUND otherwise: another partner's app is as absent as an unknown
// one.
func (h *Handler) ownApp(ctx context.Context, v *visitor, clientID string) (*config.AppView, error) {
	app, err := h.cfg.Catalog.App(ctx, clientID)
	if err != nil {
		return nil, err
	}
	if app.Partner != v.Account.Partner {
		return nil, obhub.Errorf(obhub.ENOTFOUND, "app not found")
	}
	return app, nil
}

func (h *Handler) appData(ctx context.Context, v *visitor, app *config.AppView) (*appPage, error) {
	subs, _, err := h.cfg.Catalog.ListSubscriptions(ctx, app.ClientID, config.ListOptions{})
	if err != nil {
		return nil, err
	}
	products, _, err := h.cfg.Catalog.ListProducts(ctx, config.ListOptions{})
	if err != nil {
		return nil, err
	}
	apis, _, err := h.cfg.Catalog.ListAPIs(ctx, config.ListOptions{})
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*catalog.API, len(apis))
	for i := range apis {
		byID[apis[i].ID] = &apis[i]
	}
	pg := &appPage{App: *app, names: make(map[string]string, len(products))}
	subscribed := map[string]partners.SubscriptionStatus{}
	for _, s := range subs {
		subscribed[s.Product] = s.Status
	}
	for _, p := range products {
		pg.names[p.ID] = p.Name
		if st, ok := subscribed[p.ID]; ok {
			pg.Subs = append(pg.Subs, subRow{Product: p, Status: st})
			continue
		}
		o := offer{Product: p, Rate: limitText(v, p.Plan.Rate), Quota: limitText(v, p.Plan.Quota)}
		for _, id := range p.APIs {
			a := byID[id]
			if a == nil || !visible(v.Partner, a) {
				o.APINames = nil
				break
			}
			o.APINames = append(o.APINames, a.Name)
		}
		if len(o.APINames) == 0 {
			continue
		}
		pg.Available = append(pg.Available, o)
		if pg.Preselect == "" && p.Approval == catalog.ApprovalAuto {
			pg.Preselect = p.ID
		}
	}
	return pg, nil
}

// limitText says a plan's rate or quota in words; "" for none.
func limitText(v *visitor, l *catalog.Limit) string {
	if l == nil {
		return ""
	}
	return v.L.T("plan.limit", l.Limit, l.Period.String())
}

// appDone are the outcomes the app page's POSTs redirect with (?done=):
// fixed message keys, so the page never shows text from a URL.
var appDone = []string{"jwks.saved", "redirect.saved", "grant.on", "grant.off"}

// seeApp ends a successful POST on the app page: a 303 to the page with
// the outcome in done (a key of appDone, or "subscribed" with the
// product's id), so that reloading does not post again and Back works.
func seeApp(w http.ResponseWriter, r *http.Request, clientID string, query url.Values) {
	see(w, r, "/portal/apps/"+url.PathEscape(clientID), query)
}

// see answers a successful POST with a 303 to the page at path, the
// outcome in query: fixed keys and ids the page looks up in the server's
// own data, never text to show (Post/Redirect/Get).
func see(w http.ResponseWriter, r *http.Request, path string, query url.Values) {
	http.Redirect(w, r, path+"?"+query.Encode(), http.StatusSeeOther)
}

// doneMessage sets the message of the outcome in the app page's query:
// one of appDone, a subscription of this app, named and with its status
// as the store has them now, or a cancelled one (appremove.go), named
// if the app is indeed not subscribed. Anything else shows nothing.
func doneMessage(v *visitor, pg *appPage, q url.Values) {
	switch done := q.Get("done"); {
	case slices.Contains(appDone, done):
		pg.Message = v.L.T(done)
	case done == "subscribed":
		for _, s := range pg.Subs {
			if s.Product.ID == q.Get("product") {
				pg.Message = v.L.T("app.subscribed."+string(s.Status), s.Product.Name)
				pg.Pending = s.Status != partners.SubscriptionActive
			}
		}
	case done == "unsubscribed":
		product := q.Get("product")
		name, ok := pg.names[product]
		if !ok || slices.ContainsFunc(pg.Subs, func(s subRow) bool { return s.Product.ID == product }) {
			return
		}
		pg.Message = v.L.T("app.unsubscribed", name)
	}
}

func (h *Handler) app(w http.ResponseWriter, r *http.Request) {
	v := h.signedIn(w, r)
	if v == nil {
		return
	}
	ctx := r.Context()
	app, err := h.ownApp(ctx, v, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	pg, err := h.appData(ctx, v, app)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	doneMessage(v, pg, r.URL.Query())
	h.credentialsData(pg) // credentials.go
	h.render(w, v, http.StatusOK, "app", v.L.T("app.title", app.Name), nil, pg)
}

func (h *Handler) subscribe(w http.ResponseWriter, r *http.Request) {
	v, app, ok := h.appAction(w, r) // credentials.go
	if !ok {
		return
	}
	ctx := r.Context()
	product := r.PostFormValue("product")
	sub, err := h.cfg.Catalog.Subscribe(ctx, app.ClientID, product)
	switch code := obhub.ErrorCode(err); code {
	case "":
	case obhub.ECONFLICT, obhub.EINVALID:
		h.renderApp(w, r, v, app, http.StatusConflict, []string{obhub.ErrorMessage(err)}, nil) // credentials.go
		return
	default:
		h.fail(w, r, v, err)
		return
	}
	h.recordChange(r, v.Account.Email, v.Partner.ID, audit.Change{ClientID: app.ClientID,
		Object: "apps/" + app.ClientID + "/subscriptions/" + sub.Product, Verb: "subscribe", After: sub})
	seeApp(w, r, app.ClientID, url.Values{"done": {"subscribed"}, "product": {sub.Product}})
}
