package portal

import (
	"net/http"
	"net/url"

	"github.com/obhub/obhub/audit"
	"github.com/obhub/obhub/config"
	"github.com/obhub/obhub/partners"
)

// Cancelling a subscription and deleting an app, from the app page. Each
// asks first: its GET is a confirmation page rendered on the server (no
// script needed) saying what stops, whose form POSTs back to the same
// address with the CSRF token; the POST does it, records it in the audit
// ledger and redirects (303) with a fixed outcome key.
//
// Cancelling follows the rule for subscribing (MayChangeApp: any member
// for a sandbox app, verified owners for a production one). Deleting an
// app is for verified owners only (MayOwn), production apps included: the
// partner owns them. A suspended app is not deleted from the portal (409):
// its suspension is the alliance's to lift or close (docs/portal.md,
// "Cancelling subscriptions and deleting apps").

// removalRoutes registers the confirmations and their POSTs.
func (h *Handler) removalRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /portal/apps/{id}/subscriptions/{product}/cancel", h.unsubscribe)
	mux.HandleFunc("POST /portal/apps/{id}/subscriptions/{product}/cancel", h.unsubscribe)
	mux.HandleFunc("GET /portal/apps/{id}/delete", h.deleteApp)
	mux.HandleFunc("POST /portal/apps/{id}/delete", h.deleteApp)
}

// confirmPage asks before something stops: what stops (Lines), the
// things that go with it (Items, under ItemsLabel), and a form posting
// to Action; Back returns without doing anything.
type confirmPage struct {
	Lines      []string
	ItemsLabel string
	Items      []string
	Action     string
	Button     string
	Back       string
}

// unsubscribe cancels the app's subscription to the product in the path:
// GET asks, POST does it. Once deleted, the gateway no longer finds the
// subscription and refuses the app's calls to the product's APIs.
func (h *Handler) unsubscribe(w http.ResponseWriter, r *http.Request) {
	v, app, ok := h.appAction(w, r) // credentials.go: the rule for subscribing
	if !ok {
		return
	}
	ctx := r.Context()
	sub, err := h.cfg.Catalog.Subscription(ctx, app.ClientID, r.PathValue("product"))
	if err != nil {
		h.fail(w, r, v, err) // not subscribed, or no such product: 404
		return
	}
	name, apis := sub.Product, []string(nil)
	if p, err := h.cfg.Catalog.Product(ctx, sub.Product); err == nil {
		name = p.Name
		for _, id := range p.APIs {
			if a, err := h.cfg.Catalog.API(ctx, id); err == nil && visible(v.Partner, a) {
				apis = append(apis, a.Name)
			}
		}
	} else if !isNotFound(err) {
		h.fail(w, r, v, err)
		return
	}
	appPath := "/portal/apps/" + url.PathEscape(app.ClientID)
	if r.Method == http.MethodGet {
		h.render(w, v, http.StatusOK, "confirm", v.L.T("unsub.title", name, app.Name), nil, &confirmPage{
			Lines:      []string{v.L.T("unsub.stop", name), v.L.T("unsub.again")},
			ItemsLabel: v.L.T("unsub.apis"), Items: apis,
			Action: appPath + "/subscriptions/" + url.PathEscape(sub.Product) + "/cancel",
			Button: v.L.T("unsub.button"), Back: appPath,
		})
		return
	}
	if err := h.cfg.Catalog.DeleteSubscription(ctx, app.ClientID, sub.Product); err != nil {
		h.fail(w, r, v, err) // cancelled meanwhile: 404
		return
	}
	h.cfg.Logger.Info("portal: subscription cancelled", "partner", v.Partner.ID, "client_id", app.ClientID, "product", sub.Product)
	h.recordChange(r, v.Account.Email, v.Partner.ID, audit.Change{ClientID: app.ClientID,
		Object: "apps/" + app.ClientID + "/subscriptions/" + sub.Product, Verb: "unsubscribe", Before: sub})
	seeApp(w, r, app.ClientID, url.Values{"done": {"unsubscribed"}, "product": {sub.Product}})
}

// deletedApp is what the audit record keeps of a deleted app: the app
// and the subscriptions that went with it.
type deletedApp struct {
	App           *config.AppView         `json:"app"`
	Subscriptions []partners.Subscription `json:"subscriptions"`
}

// deleteApp deletes the app in the path with its subscriptions: GET
// asks, POST does it. The token endpoint no longer knows the client, and
// the gateway refuses tokens already issued to it (unknown_client).
func (h *Handler) deleteApp(w http.ResponseWriter, r *http.Request) {
	v, app, ok := h.appAction(w, r)
	if !ok {
		return
	}
	if !v.MayOwn() {
		h.forbidden(w, v, forbiddenKey(v, "err.app.delete.owner"))
		return
	}
	if app.Suspended {
		h.render(w, v, http.StatusConflict, "error", v.L.T("err.title"), nil, v.L.T("err.app.delete.suspended"))
		return
	}
	ctx := r.Context()
	subs, _, err := h.cfg.Catalog.ListSubscriptions(ctx, app.ClientID, config.ListOptions{})
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	appPath := "/portal/apps/" + url.PathEscape(app.ClientID)
	if r.Method == http.MethodGet {
		pg := &confirmPage{Lines: []string{v.L.T("delete.creds")}, Action: appPath + "/delete",
			Button: v.L.T("delete.button"), Back: appPath}
		if app.Environment == partners.Production {
			pg.Lines = append(pg.Lines, v.L.T("delete.prod"))
		}
		pg.Lines = append(pg.Lines, v.L.T("delete.undo"))
		if len(subs) == 0 {
			pg.Lines = append(pg.Lines, v.L.T("delete.subs.none"))
		}
		pg.ItemsLabel = v.L.T("delete.subs")
		for _, s := range subs {
			name := s.Product
			if p, err := h.cfg.Catalog.Product(ctx, s.Product); err == nil {
				name = p.Name
			}
			pg.Items = append(pg.Items, v.L.T("delete.sub", name, v.L.T("sub."+string(s.Status))))
		}
		h.render(w, v, http.StatusOK, "confirm", v.L.T("delete.title", app.Name), nil, pg)
		return
	}
	if err := h.cfg.Catalog.DeleteApp(ctx, app.ClientID); err != nil {
		h.fail(w, r, v, err) // deleted meanwhile: 404
		return
	}
	h.cfg.Logger.Info("portal: app deleted", "partner", v.Partner.ID, "client_id", app.ClientID, "environment", app.Environment)
	h.recordChange(r, v.Account.Email, v.Partner.ID, audit.Change{ClientID: app.ClientID,
		Object: "apps/" + app.ClientID, Verb: "delete", Before: deletedApp{App: app, Subscriptions: subs}})
	see(w, r, "/portal/apps", url.Values{"done": {"deleted"}})
}
