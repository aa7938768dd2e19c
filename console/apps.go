package console

import (
	"net/http"
	"net/url"

	"github.com/obhub/obhub/config"
	"github.com/obhub/obhub/partners"
)

// appRow is a partner's app as the console lists it: its settings (never
// a secret hash) and the subscriptions the operator may see.
type appRow struct {
	config.AppView
	PartnerName   string
	Subscriptions []appSub
}

// appSub is one subscription of an app, with its product's name.
type appSub struct {
	partners.Subscription
	ProductName string
}

func (vw *view) app(clientID string) (*appRow, bool) {
	for i := range vw.apps {
		if vw.apps[i].ClientID == clientID {
			return &vw.apps[i], true
		}
	}
	return nil, false
}

// appsPage serves GET /console/apps: every app in the operator's scope,
// with its environment, grant types, authentication method and
// subscriptions.
func (h *Handler) appsPage(w http.ResponseWriter, r *http.Request) {
	v, vw, ok := h.gateView(w, r, "apps")
	if !ok {
		return
	}
	h.render(w, v, http.StatusOK, "apps", v.L.T("apps.title"), nil, vw.apps)
}

// appPage serves GET /console/apps/{client_id}: one app in full. An app
// outside the operator's scope is 404, as an unknown one is.
func (h *Handler) appPage(w http.ResponseWriter, r *http.Request) {
	v, ok := h.gate(w, r, "apps")
	if !ok {
		return
	}
	h.showApp(w, r, v, http.StatusOK, nil)
}

// showApp shows the app of the path, with errs (a refused change) or the
// outcome of the change that redirected here.
func (h *Handler) showApp(w http.ResponseWriter, r *http.Request, v *visitor, status int, errs []string) {
	vw, err := h.load(r.Context(), v.Bank())
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	a, found := vw.app(r.PathValue("client_id"))
	if !found {
		h.notFound(w, v)
		return
	}
	var flash string
	if done := doneOf(r); done == "suspend" || done == "reactivate" {
		flash = v.L.T("apps.done."+done, a.Name)
	}
	h.renderFlash(w, v, status, "app", a.Name, errs, flash, a)
}

// suspendApp serves POST /console/apps/{client_id}/suspend|reactivate:
// the gateway refuses a suspended app's calls (403) from the next
// configuration snapshot on, and lets them through again once it is
// reactivated; credentials and subscriptions are kept.
func (h *Handler) suspendApp(w http.ResponseWriter, r *http.Request) {
	v, vw, ok := h.gateView(w, r, "apps")
	if !ok {
		return
	}
	a, found := vw.app(r.PathValue("client_id"))
	verb := r.PathValue("verb")
	if !found || (verb != "suspend" && verb != "reactivate") {
		h.notFound(w, v)
		return
	}
	if verb == "suspend" && needsConfirm(a) && !confirmed(w, r) {
		return
	}
	before := appState(&a.AppView)
	after, err := h.cfg.Catalog.SetAppSuspended(r.Context(), a.ClientID, verb == "suspend")
	if err != nil {
		h.refused(w, r, v, err, h.showApp)
		return
	}
	h.cfg.Logger.Info("console: app suspension changed", "operator", v.Operator.ID, "app", a.ClientID, "verb", verb)
	h.recordChange(r, v, v.Bank(), "apps/"+a.ClientID, verb, before, withReason(appState(after), reasonOf(r)))
	redirectDone(w, r, "/console/apps/"+url.PathEscape(a.ClientID), verb)
}

// appState is what the audit record keeps of an app around a suspension.
func appState(a *config.AppView) any {
	return struct {
		ClientID    string `json:"client_id"`
		Partner     string `json:"partner"`
		Name        string `json:"name"`
		Environment string `json:"environment"`
		Suspended   bool   `json:"suspended"`
	}{a.ClientID, a.Partner, a.Name, string(a.Environment), a.Suspended}
}
