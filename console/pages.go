package console

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/audit"
	"github.com/obhub/obhub/catalog"
	"github.com/obhub/obhub/config"
	"github.com/obhub/obhub/partners"
)

// view is the slice of the alliance an operator may see: every object
// for bank "" (alliance admin, unscoped auditor), else one bank's.
type view struct {
	bank     string
	apis     []catalog.API
	hidden   map[string]bool            // other banks' private APIs: never named to this bank's staff
	products map[string]catalog.Product // products holding at least one API in scope
	partners []partnerRow
	pending  []subRow
	apps     []appRow // apps of the partners in view, with the subscriptions in scope
}

type partnerRow struct {
	partners.Partner
	Apps         int
	Products     []string // products of the bank scope the partner subscribed to
	ProductNames []string // their names, for showing
}

type subRow struct {
	partners.Subscription
	Partner     string
	PartnerName string
	AppName     string
	Environment partners.Environment // of the app
	ProductName string
}

// load reads what bank may see. An alliance this console serves holds
// tens of banks and hundreds of partners: reading them whole is cheap.
func (h *Handler) load(ctx context.Context, bank string) (*view, error) {
	c := h.cfg.Catalog
	all, _, err := c.ListAPIs(ctx, config.ListOptions{})
	if err != nil {
		return nil, err
	}
	vw := &view{bank: bank, products: map[string]catalog.Product{}, hidden: map[string]bool{}}
	inScope := map[string]bool{}
	for _, a := range all {
		switch {
		case bank == "" || a.Bank == bank:
			vw.apis = append(vw.apis, a)
			inScope[a.ID] = true
		case a.Visibility == catalog.VisibilityPrivate:
			vw.hidden[a.ID] = true
		}
	}
	prods, _, err := c.ListProducts(ctx, config.ListOptions{})
	if err != nil {
		return nil, err
	}
	for _, p := range prods {
		if bank == "" || slices.ContainsFunc(p.APIs, func(id string) bool { return inScope[id] }) {
			vw.products[p.ID] = p
		}
	}
	ps, _, err := c.ListPartners(ctx, config.ListOptions{})
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		row := partnerRow{Partner: p}
		apps, _, err := c.ListApps(ctx, p.ID, config.ListOptions{})
		if err != nil {
			return nil, err
		}
		row.Apps = len(apps)
		var rows []appRow
		for _, a := range apps {
			subs, _, err := c.ListSubscriptions(ctx, a.ClientID, config.ListOptions{})
			if err != nil {
				return nil, err
			}
			ar := appRow{AppView: a, PartnerName: p.Name}
			for _, s := range subs {
				prod, ok := vw.products[s.Product]
				if !ok {
					continue
				}
				ar.Subscriptions = append(ar.Subscriptions, appSub{Subscription: s, ProductName: prod.Name})
				if !slices.Contains(row.Products, s.Product) {
					row.Products = append(row.Products, s.Product)
					row.ProductNames = append(row.ProductNames, prod.Name)
				}
				if s.Status == partners.SubscriptionPending {
					vw.pending = append(vw.pending, subRow{Subscription: s, Partner: p.ID, PartnerName: p.Name, AppName: a.Name, Environment: a.Environment, ProductName: prod.Name})
				}
			}
			rows = append(rows, ar)
		}
		// A bank admin sees the bank's own partner record and the
		// partners that subscribed to a product holding its APIs; of
		// the latter, only the apps that did.
		if bank == "" || p.Bank == bank || len(row.Products) > 0 {
			vw.partners = append(vw.partners, row)
			for _, ar := range rows {
				if bank == "" || p.Bank == bank || len(ar.Subscriptions) > 0 {
					vw.apps = append(vw.apps, ar)
				}
			}
		}
	}
	return vw, nil
}

// shown is p as the view's bank may see it: without other banks' private
// APIs, nor their operations' limits. Only for showing: whether a bank
// admin may edit p is decided on the whole product (editable), which such
// an API makes shared.
func (vw *view) shown(p catalog.Product) catalog.Product {
	if len(vw.hidden) == 0 {
		return p
	}
	p.APIs = slices.DeleteFunc(slices.Clone(p.APIs), func(id string) bool { return vw.hidden[id] })
	p.Plan.Operations = slices.DeleteFunc(slices.Clone(p.Plan.Operations), func(o catalog.OperationLimit) bool { return vw.hidden[o.API] })
	return p
}

// gateView is gate (see there) followed by load of what the operator may
// see; on false the answer is written.
func (h *Handler) gateView(w http.ResponseWriter, r *http.Request, section string) (*visitor, *view, bool) {
	v, ok := h.gate(w, r, section)
	if !ok {
		return nil, nil, false
	}
	vw, err := h.load(r.Context(), v.Bank())
	if err != nil {
		h.fail(w, r, v, err)
		return nil, nil, false
	}
	return v, vw, true
}

func (vw *view) partner(id string) (*partnerRow, bool) {
	for i := range vw.partners {
		if vw.partners[i].ID == id {
			return &vw.partners[i], true
		}
	}
	return nil, false
}

func (vw *view) api(id string) (*catalog.API, bool) {
	for i := range vw.apis {
		if vw.apis[i].ID == id {
			return &vw.apis[i], true
		}
	}
	return nil, false
}

type approvalsData struct {
	Partners      []partnerRow
	Subscriptions []subRow
}

func (h *Handler) approvals(w http.ResponseWriter, r *http.Request) {
	v, ok := h.gate(w, r, "approvals")
	if !ok {
		return
	}
	h.showApprovals(w, r, v, http.StatusOK, nil)
}

// showApprovals shows the approvals queue, with errs (a refused
// decision) or the outcome of the decision that redirected here.
func (h *Handler) showApprovals(w http.ResponseWriter, r *http.Request, v *visitor, status int, errs []string) {
	vw, err := h.load(r.Context(), v.Bank())
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	var flash string
	q := r.URL.Query()
	switch done := doneOf(r); done {
	case "approved":
		if p, ok := vw.partner(q.Get("partner")); ok {
			flash = v.L.T("approvals.partner.approved", p.Name)
		}
	case "rejected":
		flash = v.L.T("approvals.partner.removed")
	case "sub-approved", "sub-rejected":
		a, okApp := vw.app(q.Get("client_id"))
		p, okProduct := vw.products[q.Get("product")]
		if okApp && okProduct {
			flash = v.L.T("approvals.sub."+strings.TrimPrefix(done, "sub-"), a.Name, p.Name)
		}
	}
	var d approvalsData
	for _, p := range vw.partners {
		if p.Status == partners.PartnerPending {
			d.Partners = append(d.Partners, p)
		}
	}
	d.Subscriptions = vw.pending
	h.renderFlash(w, v, status, "approvals", v.L.T("approvals.title"), errs, flash, d)
}

// decidePartner serves POST /console/partners/{id}/approve|reject. A
// rejected partner is removed (its developers can no longer act for it).
// Bank admins may approve but not reject: rejection is alliance-wide.
func (h *Handler) decidePartner(w http.ResponseWriter, r *http.Request) {
	v, ok := h.gate(w, r, "approvals")
	if !ok {
		return
	}
	ctx := r.Context()
	id, verb := r.PathValue("id"), r.PathValue("verb")
	vw, err := h.load(ctx, v.Bank())
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	p, found := vw.partner(id)
	if !found || (verb != "approve" && verb != "reject") {
		h.notFound(w, v)
		return
	}
	switch verb {
	case "approve":
		_, err = h.cfg.Catalog.ApprovePartner(ctx, id)
	case "reject":
		// Rejecting removes the organisation for every bank: only an
		// alliance admin may.
		if v.Bank() != "" {
			h.notFound(w, v)
			return
		}
		if p.Status != partners.PartnerPending {
			err = obhub.Errorf(obhub.ECONFLICT, "partner %q is approved: only a pending partner can be rejected", id)
			break
		}
		if !confirmed(w, r) {
			return
		}
		err = h.rejectPartner(ctx, id)
	}
	if err != nil {
		h.refused(w, r, v, err, h.showApprovals)
		return
	}
	h.cfg.Logger.Info("console: partner decided", "operator", v.Operator.ID, "partner", id, "decision", verb)
	if verb == "reject" {
		h.recordChange(r, v, v.Bank(), "partners/"+id, verb, partnerState(p, vw), withReason(nil, reasonOf(r)))
	} else {
		h.record(r, v, v.Bank(), "partners/"+id, verb)
	}
	redirectDone(w, r, "/console/approvals", decided[verb], "partner", id)
}

// partnerState is what the audit record keeps of a partner before its
// rejection: its name and status and the apps removed with it.
func partnerState(p *partnerRow, vw *view) any {
	var apps []string
	for _, a := range vw.apps {
		if a.Partner == p.ID {
			apps = append(apps, a.ClientID)
		}
	}
	return struct {
		ID     string   `json:"id"`
		Name   string   `json:"name"`
		Status string   `json:"status"`
		Apps   []string `json:"apps"`
	}{p.ID, p.Name, string(p.Status), apps}
}

// decided names the outcome of a decision (see redirectDone).
var decided = map[string]string{"approve": "approved", "reject": "rejected"}

// rejectPartner removes a pending partner with its apps (sandbox apps
// only: production apps need an approved partner) and their
// subscriptions. Its developer accounts in the portal are left with no
// organisation and can no longer act.
func (h *Handler) rejectPartner(ctx context.Context, id string) error {
	apps, _, err := h.cfg.Catalog.ListApps(ctx, id, config.ListOptions{})
	if err != nil {
		return err
	}
	for _, a := range apps {
		if err := h.cfg.Catalog.DeleteApp(ctx, a.ClientID); err != nil && obhub.ErrorCode(err) != obhub.ENOTFOUND {
			return err
		}
	}
	return h.cfg.Catalog.DeletePartner(ctx, id)
}

// decideSubscription serves POST /console/subscriptions/approve|reject
// with the form fields client_id and product.
func (h *Handler) decideSubscription(w http.ResponseWriter, r *http.Request) {
	v, ok := h.gate(w, r, "approvals")
	if !ok {
		return
	}
	ctx := r.Context()
	clientID, product, verb := r.PostFormValue("client_id"), r.PostFormValue("product"), r.PathValue("verb")
	vw, err := h.load(ctx, v.Bank())
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	var row *subRow
	for i := range vw.pending {
		if vw.pending[i].ClientID == clientID && vw.pending[i].Product == product {
			row = &vw.pending[i]
		}
	}
	if row == nil || (verb != "approve" && verb != "reject") {
		h.notFound(w, v)
		return
	}
	if verb == "approve" {
		_, err = h.cfg.Catalog.ApproveSubscription(ctx, clientID, product)
	} else {
		_, err = h.cfg.Catalog.RejectSubscription(ctx, clientID, product)
	}
	if err != nil {
		h.refused(w, r, v, err, h.showApprovals)
		return
	}
	h.cfg.Logger.Info("console: subscription decided", "operator", v.Operator.ID, "app", clientID, "product", product, "decision", verb)
	h.record(r, v, v.Bank(), "apps/"+clientID+"/subscriptions/"+product, verb)
	redirectDone(w, r, "/console/approvals", "sub-"+decided[verb], "client_id", clientID, "product", product)
}

func (h *Handler) partnersPage(w http.ResponseWriter, r *http.Request) {
	v, vw, ok := h.gateView(w, r, "partners")
	if !ok {
		return
	}
	h.render(w, v, http.StatusOK, "partners", v.L.T("partners.title"), nil, vw.partners)
}

func (h *Handler) apisPage(w http.ResponseWriter, r *http.Request) {
	v, ok := h.gate(w, r, "apis")
	if !ok {
		return
	}
	h.showAPIs(w, r, v, http.StatusOK, nil)
}

type apisData struct {
	APIs []catalog.API
	// Tomorrow is the earliest sunset date (YYYY-MM-DD): the store
	// refuses one that is not in the future.
	Tomorrow string
}

// showAPIs shows the APIs, with errs (a refused change) or the outcome of
// the change that redirected here.
func (h *Handler) showAPIs(w http.ResponseWriter, r *http.Request, v *visitor, status int, errs []string) {
	vw, err := h.load(r.Context(), v.Bank())
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	var flash string
	if a, ok := vw.api(r.URL.Query().Get("api")); ok {
		switch done := doneOf(r); done {
		case "publish", "deprecate", "retire":
			flash = v.L.T("apis.done."+done, a.Name)
		case "create", "update":
			flash = v.L.T("upload.done."+done, a.Name, a.Version)
		}
	}
	d := apisData{APIs: vw.apis, Tomorrow: h.cfg.Clock.Now().UTC().AddDate(0, 0, 1).Format("2006-01-02")}
	h.renderFlash(w, v, status, "apis", v.L.T("apis.title"), errs, flash, d)
}

// lifecycle serves POST /console/apis/{id}/publish|deprecate|retire. A
// deprecation may carry a sunset date (form field sunset, YYYY-MM-DD).
func (h *Handler) lifecycle(w http.ResponseWriter, r *http.Request) {
	v, ok := h.gate(w, r, "apis")
	if !ok {
		return
	}
	ctx := r.Context()
	id, verb := r.PathValue("id"), r.PathValue("verb")
	vw, err := h.load(ctx, v.Bank())
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	a, found := vw.api(id)
	if !found {
		h.notFound(w, v)
		return
	}
	switch verb {
	case "publish":
		_, err = h.cfg.Catalog.PublishAPI(ctx, id)
	case "deprecate":
		var sunset time.Time
		if s := r.PostFormValue("sunset"); s != "" {
			sunset, err = time.Parse("2006-01-02", s)
			if err != nil {
				err = obhub.Invalid("invalid sunset", obhub.Detail{Location: "/sunset", Message: "must be a date written YYYY-MM-DD"})
				break
			}
		}
		_, err = h.cfg.Catalog.DeprecateAPI(ctx, id, sunset)
	case "retire":
		if !confirmed(w, r) {
			return
		}
		_, err = h.cfg.Catalog.RetireAPI(ctx, id)
	default:
		h.notFound(w, v)
		return
	}
	if err != nil {
		h.refused(w, r, v, err, h.showAPIs)
		return
	}
	h.cfg.Logger.Info("console: API lifecycle changed", "operator", v.Operator.ID, "api", id, "verb", verb)
	if verb == "retire" {
		retired := *a
		retired.Status = catalog.StatusRetired
		h.recordChange(r, v, a.Bank, "apis/"+id, verb, apiState(a), withReason(apiState(&retired), reasonOf(r)))
	} else {
		h.record(r, v, a.Bank, "apis/"+id, verb)
	}
	redirectDone(w, r, "/console/apis", verb, "api", id)
}

// auditQuery is the audit search form.
type auditQuery struct {
	Bank, Partner, API, Decision, Status, From, To string
	RequestID, App, Category                       string
}

// categories are the audit categories the audit page's filter offers.
var categories = []string{audit.CategoryAccess, audit.CategoryPayment, audit.CategoryAdmin}

type auditData struct {
	Q       auditQuery
	Scoped  bool // the bank field is fixed by the operator's scope
	Records []audit.Record
	More    bool
}

// Categories are the choices of the category filter.
func (auditData) Categories() []string { return categories }

const auditPageSize = 100

// filter reads the form into an audit filter, forcing the operator's bank.
func (h *Handler) filter(r *http.Request, v *visitor) (auditQuery, audit.Filter, []string) {
	q := r.URL.Query()
	in := auditQuery{Bank: q.Get("bank"), Partner: q.Get("partner"), API: q.Get("api"),
		Decision: q.Get("decision"), Status: q.Get("status"), From: q.Get("from"), To: q.Get("to"),
		RequestID: strings.TrimSpace(q.Get("request_id")), App: strings.TrimSpace(q.Get("app")), Category: q.Get("category")}
	if b := v.Bank(); b != "" {
		in.Bank = b
	}
	f := audit.Filter{Bank: in.Bank, Partner: in.Partner, API: in.API, Decision: in.Decision,
		RequestID: in.RequestID, ClientID: in.App, Category: in.Category}
	var errs []string
	if in.Category != "" && !slices.Contains(categories, in.Category) {
		errs = append(errs, v.L.T("err.category"))
	}
	if in.Status != "" {
		n, err := strconv.Atoi(in.Status)
		if err != nil || n < 100 || n > 599 {
			errs = append(errs, v.L.T("err.status"))
		}
		f.Status = n
	}
	errs = append(errs, dateRange(v.L, in.From, in.To, &f)...)
	audit.MaskFilter(&f)
	return in, f, errs
}

// dateRange sets f.From and f.To from a form's days (YYYY-MM-DD, the
// "to" day included) and returns the message for a day it cannot read
// or for a range that holds no day (from after to).
func dateRange(l lang, from, to string, f *audit.Filter) []string {
	var errs []string
	for _, d := range []struct {
		s   string
		dst *time.Time
	}{{from, &f.From}, {to, &f.To}} {
		if d.s == "" {
			continue
		}
		t, err := time.Parse("2006-01-02", d.s)
		if err != nil {
			errs = append(errs, l.T("err.date"))
		}
		*d.dst = t
	}
	if !f.To.IsZero() {
		f.To = f.To.AddDate(0, 0, 1)
	}
	if len(errs) == 0 && !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		errs = append(errs, l.T("err.range"))
	}
	return errs
}

func (h *Handler) auditPage(w http.ResponseWriter, r *http.Request) {
	v, ok := h.gate(w, r, "audit")
	if !ok {
		return
	}
	in, f, errs := h.filter(r, v)
	d := auditData{Q: in, Scoped: v.Bank() != ""}
	if len(errs) > 0 {
		h.render(w, v, http.StatusUnprocessableEntity, "audit", v.L.T("audit.title"), errs, d)
		return
	}
	if h.cfg.Audit == nil {
		h.fail(w, r, v, obhub.Errorf(obhub.EUNAVAILABLE, "no audit log on this node"))
		return
	}
	f.Limit = auditPageSize + 1
	err := h.cfg.Audit.Find(r.Context(), f, func(rec *audit.Record) error {
		if len(d.Records) == auditPageSize {
			d.More = true
			return nil
		}
		c := *rec
		c.Digest, c.Hash = nil, nil
		d.Records = append(d.Records, c)
		return nil
	})
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	h.render(w, v, http.StatusOK, "audit", v.L.T("audit.title"), nil, d)
}

type reportData struct {
	Q      auditQuery
	By     string
	Scoped bool
	Usage  *audit.Usage
	Max    int64 // the largest row's calls, for the bars
}

func (h *Handler) reportsPage(w http.ResponseWriter, r *http.Request) {
	v, ok := h.gate(w, r, "reports")
	if !ok {
		return
	}
	in, f, errs := h.filter(r, v)
	by := r.URL.Query().Get("by")
	if by == "" {
		by = "partner"
	}
	if audit.CheckBy(by) != nil {
		errs = append(errs, v.L.T("err.by"))
	}
	d := reportData{Q: in, By: by, Scoped: v.Bank() != ""}
	if len(errs) > 0 {
		h.render(w, v, http.StatusUnprocessableEntity, "reports", v.L.T("reports.title"), errs, d)
		return
	}
	if h.cfg.Audit == nil {
		h.fail(w, r, v, obhub.Errorf(obhub.EUNAVAILABLE, "no audit log on this node"))
		return
	}
	u, err := audit.UsageReport(r.Context(), h.cfg.Audit, f, by)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	d.Usage = u
	for _, row := range u.Rows {
		d.Max = max(d.Max, row.Calls)
	}
	h.render(w, v, http.StatusOK, "reports", v.L.T("reports.title"), nil, d)
}
