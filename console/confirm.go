package console

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/obhub/obhub/catalog"
	"github.com/obhub/obhub/partners"
)

// Destructive actions — rejecting a partner (it is removed with its
// apps), suspending a production app, retiring an API — ask first: their
// buttons open a confirmation page (GET) saying what will happen, whose
// form posts the action with confirm=yes and an optional reason; the
// reason is kept in the audit record's state after the change. A post
// without confirm=yes is sent to the confirmation page.

// maxReason is the longest reason kept, in characters.
const maxReason = 500

// confirmData is a confirmation page.
type confirmData struct {
	Action string   // the path the form posts to
	Lead   string   // what the action will do
	Items  []string // what goes with it: apps, products
	More   string   // a further consequence
	Button string
	Back   string // the page to go back to
}

// confirmed reports whether an action's form was confirmed; if not, it
// sends the browser to the action's confirmation page.
func confirmed(w http.ResponseWriter, r *http.Request) bool {
	if r.PostFormValue("confirm") == "yes" {
		return true
	}
	http.Redirect(w, r, r.URL.Path, http.StatusSeeOther)
	return false
}

// reasonOf is the operator's reason for a confirmed action, trimmed to
// maxReason characters.
func reasonOf(r *http.Request) string {
	s := strings.TrimSpace(r.PostFormValue("reason"))
	if utf8.RuneCountInString(s) > maxReason {
		s = string([]rune(s)[:maxReason])
	}
	return s
}

// withReason is an audit state with the operator's reason added as
// member "reason" (state nil: the reason alone; no reason: state as is).
func withReason(state any, reason string) any {
	if reason == "" {
		return state
	}
	m := map[string]any{}
	if state != nil {
		b, err := json.Marshal(state)
		if err == nil {
			err = json.Unmarshal(b, &m)
		}
		if err != nil {
			return state
		}
	}
	m["reason"] = reason
	return m
}

// confirmReject serves GET /console/partners/{id}/reject: the pending
// partner and the apps removed with it (alliance admins only).
func (h *Handler) confirmReject(w http.ResponseWriter, r *http.Request) {
	v, vw, ok := h.gateView(w, r, "approvals")
	if !ok {
		return
	}
	p, found := vw.partner(r.PathValue("id"))
	if !found || v.Bank() != "" || p.Status != partners.PartnerPending {
		h.notFound(w, v)
		return
	}
	d := confirmData{Action: r.URL.Path, Lead: v.L.T("confirm.reject.lead", p.Name), More: v.L.T("confirm.reject.more"),
		Button: v.L.T("action.reject"), Back: "/console/approvals"}
	for _, a := range vw.apps {
		if a.Partner == p.ID {
			d.Items = append(d.Items, v.L.T("confirm.app", a.Name, v.L.T("env."+string(a.Environment)), a.ClientID))
		}
	}
	if len(d.Items) == 0 {
		d.Items = []string{v.L.T("confirm.reject.noapps")}
	}
	h.render(w, v, http.StatusOK, "confirm", v.L.T("confirm.reject.title", p.Name), nil, d)
}

// confirmRetire serves GET /console/apis/{id}/retire: the products that
// hold the API and how many active subscriptions they have.
func (h *Handler) confirmRetire(w http.ResponseWriter, r *http.Request) {
	v, vw, ok := h.gateView(w, r, "apis")
	if !ok {
		return
	}
	a, found := vw.api(r.PathValue("id"))
	if !found {
		h.notFound(w, v)
		return
	}
	d := confirmData{Action: r.URL.Path, Lead: v.L.T("confirm.retire.lead", a.Name), Button: v.L.T("action.retire"), Back: "/console/apis"}
	holding := map[string]bool{}
	for _, p := range vw.products {
		if slices.Contains(p.APIs, a.ID) {
			holding[p.ID] = true
			d.Items = append(d.Items, v.L.T("confirm.product", p.Name, p.ID))
		}
	}
	slices.Sort(d.Items)
	active := 0
	for _, app := range vw.apps {
		for _, s := range app.Subscriptions {
			if holding[s.Product] && s.Status == partners.SubscriptionActive {
				active++
			}
		}
	}
	if len(d.Items) == 0 {
		d.Items = []string{v.L.T("confirm.retire.noproducts")}
	}
	d.More = v.L.T("confirm.retire.more", active)
	h.render(w, v, http.StatusOK, "confirm", v.L.T("confirm.retire.title", a.Name), nil, d)
}

// confirmSuspend serves GET /console/apps/{client_id}/suspend: what
// suspending a production app stops. A sandbox app is suspended at once.
func (h *Handler) confirmSuspend(w http.ResponseWriter, r *http.Request) {
	v, vw, ok := h.gateView(w, r, "apps")
	if !ok {
		return
	}
	a, found := vw.app(r.PathValue("client_id"))
	if !found {
		h.notFound(w, v)
		return
	}
	d := confirmData{Action: r.URL.Path, Lead: v.L.T("confirm.suspend.lead", a.Name, v.L.T("env."+string(a.Environment))),
		More: v.L.T("confirm.suspend.more"), Button: v.L.T("action.suspend"), Back: "/console/apps/" + a.ClientID}
	for _, s := range a.Subscriptions {
		if s.Status == partners.SubscriptionActive {
			d.Items = append(d.Items, v.L.T("confirm.product", s.ProductName, s.Product))
		}
	}
	if len(d.Items) == 0 {
		d.Items = []string{v.L.T("confirm.suspend.nosubs")}
	}
	h.render(w, v, http.StatusOK, "confirm", v.L.T("confirm.suspend.title", a.Name), nil, d)
}

// needsConfirm reports whether suspending a is confirmed first: a
// production app's calls are real customers'.
func needsConfirm(a *appRow) bool { return a.Environment == partners.Production }

// apiState is what the audit record keeps of an API around a lifecycle
// step.
func apiState(a *catalog.API) any {
	return struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}{a.ID, string(a.Status)}
}
