package console

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/catalog"
)

// Products and their plans. The forms change products through the same
// config.Store calls the admin API makes (CreateProduct, UpdateProduct),
// so the same validation applies and every finding is shown with its
// location. An alliance admin may change any product; a bank admin only
// the products whose APIs are all the bank's own.

// productRow is a product as the products page lists it.
type productRow struct {
	catalog.Product
	APINames map[string]string // API id → name, for the APIs in view
	Editable bool
}

type productsData struct {
	Products []productRow
}

// productForm is the product form as typed.
type productForm struct {
	New                     bool
	ID, Name, Description   string
	APIs                    []string
	Approval                string
	RateLimit, RatePeriod   string
	QuotaLimit, QuotaPeriod string
	Overrides               string // one "api operation limit/period" per line
	Choices                 []catalog.API
	Operations              map[string][]catalog.Operation // of the APIs offered, for the overrides help
	UpdatedAt               time.Time
	Errors                  []obhub.Detail
	// opLines are the overrides' line numbers (0-based) of the plan's
	// operations, to name a finding's line.
	opLines []int
}

// field names a finding's location in the form: a line of the overrides
// for an operation's limit; ok false for a location of no such line.
func (f *productForm) field(l lang) func(loc string) (string, bool) {
	return func(loc string) (string, bool) {
		var n int
		if _, err := fmt.Sscanf(loc, "/overrides/%d", &n); err == nil {
			return lineOf(l, "col.overrides", n), true
		}
		if m := listLoc.FindStringSubmatch(loc); m != nil && m[1] == "plan/operations" {
			if k, _ := strconv.Atoi(m[2]); k < len(f.opLines) {
				return lineOf(l, "col.overrides", f.opLines[k]), true
			}
		}
		return "", false
	}
}

// editable reports whether an operator of bank may change p.
func editable(bank string, p *catalog.Product, apis map[string]catalog.API) bool {
	if bank == "" {
		return true
	}
	for _, id := range p.APIs {
		if a, ok := apis[id]; !ok || a.Bank != bank {
			return false
		}
	}
	return true
}

func (vw *view) apiMap() map[string]catalog.API {
	m := make(map[string]catalog.API, len(vw.apis))
	for _, a := range vw.apis {
		m[a.ID] = a
	}
	return m
}

// productsPage serves GET /console/products.
func (h *Handler) productsPage(w http.ResponseWriter, r *http.Request) {
	v, ok := h.gate(w, r, "products")
	if !ok {
		return
	}
	vw, err := h.load(r.Context(), v.Bank())
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	var flash string
	if p, ok := vw.products[r.URL.Query().Get("product")]; ok && doneOf(r) == "saved" {
		flash = v.L.T("products.saved", p.Name)
	}
	apis := vw.apiMap()
	var d productsData
	for _, p := range vw.products {
		row := productRow{Product: vw.shown(p), APINames: map[string]string{}, Editable: editable(v.Bank(), &p, apis)}
		for _, id := range row.APIs {
			if a, ok := apis[id]; ok {
				row.APINames[id] = a.Name
			}
		}
		d.Products = append(d.Products, row)
	}
	slices.SortFunc(d.Products, func(a, b productRow) int { return strings.Compare(a.ID, b.ID) })
	h.renderFlash(w, v, http.StatusOK, "products", v.L.T("products.title"), nil, flash, d)
}

// productForm serves GET /console/products/new and
// GET /console/products/{id}: the form to create or change a product.
func (h *Handler) productFormPage(w http.ResponseWriter, r *http.Request) {
	v, vw, ok := h.gateView(w, r, "products")
	if !ok {
		return
	}
	id := r.PathValue("id")
	f := productForm{New: id == "new", Approval: string(catalog.ApprovalAuto)}
	if !f.New {
		p, found := vw.products[id]
		if !found || !editable(v.Bank(), &p, vw.apiMap()) {
			h.notFound(w, v)
			return
		}
		f = formOf(&p)
	}
	h.showProductForm(w, v, vw, http.StatusOK, f)
}

func (h *Handler) showProductForm(w http.ResponseWriter, v *visitor, vw *view, status int, f productForm) {
	f.Operations = map[string][]catalog.Operation{}
	for _, a := range vw.apis {
		// A retired API cannot be added to a product; one the product
		// already holds is offered, ticked, so that saving keeps it
		// unless the operator unticks it.
		if a.Status == catalog.StatusRetired && !slices.Contains(f.APIs, a.ID) {
			continue
		}
		f.Choices = append(f.Choices, a)
		f.Operations[a.ID] = a.Operations
	}
	title := v.L.T("products.new")
	if !f.New {
		title = v.L.T("products.edit", f.Name)
	}
	h.render(w, v, status, "product", title, findingLines(v.L, f.Errors, f.field(v.L)), f)
}

// formOf fills the form from a stored product.
func formOf(p *catalog.Product) productForm {
	f := productForm{ID: p.ID, Name: p.Name, Description: p.Description, APIs: slices.Clone(p.APIs),
		Approval: string(p.Approval), UpdatedAt: p.UpdatedAt}
	if l := p.Plan.Rate; l != nil {
		f.RateLimit, f.RatePeriod = strconv.FormatInt(l.Limit, 10), l.Period.String()
	}
	if l := p.Plan.Quota; l != nil {
		f.QuotaLimit, f.QuotaPeriod = strconv.FormatInt(l.Limit, 10), l.Period.String()
	}
	var lines []string
	for _, o := range p.Plan.Operations {
		lines = append(lines, fmt.Sprintf("%s %s %d/%s", o.API, o.Operation, o.Rate.Limit, o.Rate.Period))
	}
	f.Overrides = strings.Join(lines, "\n")
	return f
}

// saveProduct serves POST /console/products/new (create) and
// POST /console/products/{id} (change).
func (h *Handler) saveProduct(w http.ResponseWriter, r *http.Request) {
	v, vw, ok := h.gateView(w, r, "products")
	if !ok {
		return
	}
	ctx := r.Context()
	apis := vw.apiMap()
	id := r.PathValue("id")
	f := productForm{
		New: id == "new", ID: strings.TrimSpace(r.PostFormValue("id")),
		Name: strings.TrimSpace(r.PostFormValue("name")), Description: strings.TrimSpace(r.PostFormValue("description")),
		APIs: r.PostForm["apis"], Approval: r.PostFormValue("approval"),
		RateLimit: strings.TrimSpace(r.PostFormValue("rate_limit")), RatePeriod: strings.TrimSpace(r.PostFormValue("rate_period")),
		QuotaLimit: strings.TrimSpace(r.PostFormValue("quota_limit")), QuotaPeriod: strings.TrimSpace(r.PostFormValue("quota_period")),
		Overrides: r.PostFormValue("overrides"),
	}
	if !f.New {
		cur, found := vw.products[id]
		if !found || !editable(v.Bank(), &cur, apis) {
			h.notFound(w, v)
			return
		}
		f.ID = id
	}
	// A bank admin's product holds only the bank's APIs; an API outside
	// the scope is refused as unknown.
	var ds []obhub.Detail
	if f.New && f.ID == "new" {
		// /console/products/new is the creation form: such a product
		// could not be opened here.
		ds = append(ds, obhub.Detail{Location: "/id", Message: `"new" is reserved: choose another id`})
	}
	for i, a := range f.APIs {
		if _, ok := apis[a]; !ok || (v.Bank() != "" && apis[a].Bank != v.Bank()) {
			ds = append(ds, obhub.Detail{Location: "/apis/" + strconv.Itoa(i), Message: "is not an API you may put in a product"})
		}
	}
	plan, pds := f.plan()
	ds = append(ds, pds...)
	p := catalog.Product{ID: f.ID, Name: f.Name, Description: f.Description, APIs: f.APIs, Plan: plan, Approval: catalog.Approval(f.Approval)}
	if len(ds) > 0 {
		// Show the product's own findings with the form's, one per
		// field: the form's own says it best.
		for _, d := range obhub.ErrorDetails(p.Validate()) {
			if !slices.ContainsFunc(ds, func(x obhub.Detail) bool { return x.Location == d.Location }) {
				ds = append(ds, d)
			}
		}
	}
	var (
		before, after *catalog.Product
		err           error
	)
	if len(ds) == 0 {
		if f.New {
			after, err = h.cfg.Catalog.CreateProduct(ctx, p)
		} else {
			after, err = h.cfg.Catalog.UpdateProduct(ctx, id, func(cur *catalog.Product) error {
				old := *cur
				before = &old
				cur.Name, cur.Description, cur.APIs, cur.Plan, cur.Approval = p.Name, p.Description, p.APIs, p.Plan, p.Approval
				return nil
			})
		}
		var ok bool
		if ds, ok = findings(err, "/id"); !ok {
			h.fail(w, r, v, err)
			return
		}
	}
	if len(ds) > 0 {
		f.Errors = ds
		h.showProductForm(w, v, vw, http.StatusUnprocessableEntity, f)
		return
	}
	verb := "update"
	if f.New {
		verb = "create"
	}
	h.cfg.Logger.Info("console: product saved", "operator", v.Operator.ID, "product", p.ID, "verb", verb)
	h.recordChange(r, v, v.Bank(), "products/"+p.ID, verb, nilIfNone(before), after)
	redirectDone(w, r, "/console/products", "saved", "product", p.ID)
}

// plan reads the plan fields: an empty limit means no limit of that kind.
func (f *productForm) plan() (catalog.Plan, []obhub.Detail) {
	var (
		p  catalog.Plan
		ds []obhub.Detail
	)
	limit := func(n, period, loc string) *catalog.Limit {
		if n == "" && period == "" {
			return nil
		}
		l := &catalog.Limit{}
		v, err := strconv.ParseInt(n, 10, 64)
		if err != nil {
			ds = append(ds, obhub.Detail{Location: loc + "/limit", Message: "must be a whole number"})
		}
		d, err := time.ParseDuration(period)
		if err != nil {
			ds = append(ds, obhub.Detail{Location: loc + "/period", Message: `must be a duration such as "1s", "1m" or "24h"`})
		}
		l.Limit, l.Period = v, obhub.Duration(d)
		return l
	}
	p.Rate = limit(f.RateLimit, f.RatePeriod, "/plan/rate")
	p.Quota = limit(f.QuotaLimit, f.QuotaPeriod, "/plan/quota")
	for i, line := range strings.Split(strings.ReplaceAll(f.Overrides, "\r\n", "\n"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		loc := fmt.Sprintf("/plan/operations/%d", len(p.Operations))
		// "api operation limit/period"; the operation may be
		// "METHOD /path", so it is everything between the first and the
		// last field.
		fs := strings.Fields(line)
		if len(fs) < 3 {
			ds = append(ds, obhub.Detail{Location: fmt.Sprintf("/overrides/%d", i), Message: `must read "api operation limit/period"`})
			continue
		}
		n, period, ok := strings.Cut(fs[len(fs)-1], "/")
		if !ok {
			ds = append(ds, obhub.Detail{Location: fmt.Sprintf("/overrides/%d", i), Message: `must end with limit/period, e.g. 10/1s`})
			continue
		}
		rate := limit(n, period, loc+"/rate")
		f.opLines = append(f.opLines, i)
		p.Operations = append(p.Operations, catalog.OperationLimit{API: fs[0], Operation: strings.Join(fs[1:len(fs)-1], " "), Rate: *rate})
	}
	return p, ds
}

// nilIfNone turns a nil pointer into a nil interface: no state recorded.
func nilIfNone[T any](p *T) any {
	if p == nil {
		return nil
	}
	return p
}
