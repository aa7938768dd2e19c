package portal

import (
	"context"
	"net/http"
	"sort"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/catalog"
	"github.com/obhub/obhub/config"
	"github.com/obhub/obhub/partners"
)

// visible reports whether the visitor may see an API in the catalog: only
// routed APIs are listed; public ones for everyone, signed in or not;
// alliance and private ones by partners.MayUse, with a partner's pending
// approval not counting (it governs production, not reading — the same
// rule the store applies to sandbox subscriptions).
func visible(p *partners.Partner, a *catalog.API) bool {
	if !a.Status.Routed() {
		return false
	}
	if a.Visibility == catalog.VisibilityPublic || a.Visibility == "" {
		return true
	}
	if p == nil {
		return false
	}
	who := *p
	who.Status = partners.PartnerApproved
	return partners.MayUse(&who, a)
}

type apiRow struct {
	API      catalog.API
	BankName string
}

func (h *Handler) bankNames(ctx context.Context) (map[string]string, error) {
	banks, _, err := h.cfg.Catalog.ListBanks(ctx, config.ListOptions{})
	if err != nil {
		return nil, err
	}
	names := make(map[string]string, len(banks))
	for _, b := range banks {
		names[b.ID] = b.Name
	}
	return names, nil
}

// visibleAPIs lists the APIs the visitor may see, by bank then name.
func (h *Handler) visibleAPIs(ctx context.Context, p *partners.Partner) ([]apiRow, error) {
	apis, _, err := h.cfg.Catalog.ListAPIs(ctx, config.ListOptions{})
	if err != nil {
		return nil, err
	}
	names, err := h.bankNames(ctx)
	if err != nil {
		return nil, err
	}
	var rows []apiRow
	for i := range apis {
		if visible(p, &apis[i]) {
			rows = append(rows, apiRow{API: apis[i], BankName: names[apis[i].Bank]})
		}
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].BankName != rows[j].BankName {
			return rows[i].BankName < rows[j].BankName
		}
		return rows[i].API.Name < rows[j].API.Name
	})
	return rows, nil
}

func (h *Handler) apis(w http.ResponseWriter, r *http.Request) {
	v, err := h.visit(w, r)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	rows, err := h.visibleAPIs(r.Context(), v.Partner)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	h.render(w, v, http.StatusOK, "apis", v.L.T("apis.title"), nil, newCatalogPage(parseCatalogQuery(r.URL.Query()), rows))
}

type apiPage struct {
	API        catalog.API
	BankName   string
	Production string
	Sandbox    string
	Ref        *reference
	RefFailed  bool
	TryIt      bool // the try-it console is on (tryit.go)
}

func (h *Handler) api(w http.ResponseWriter, r *http.Request) {
	v, err := h.visit(w, r)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	ctx := r.Context()
	a, err := h.cfg.Catalog.API(ctx, r.PathValue("id"))
	if err == nil && !visible(v.Partner, a) {
		err = obhub.Errorf(obhub.ENOTFOUND, "API not found")
	}
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	names, err := h.bankNames(ctx)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	pg := apiPage{
		API: *a, BankName: names[a.Bank],
		Production: h.cfg.PublicURL + "/" + a.Bank + a.BasePath,
		Sandbox:    h.cfg.PublicURL + "/sandbox/" + a.Bank + a.BasePath,
		TryIt:      h.cfg.TryIt != nil,
	}
	doc, err := h.cfg.Catalog.APISpec(ctx, a.ID)
	if err == nil {
		pg.Ref, err = parseReference(doc)
	}
	if err != nil {
		if obhub.ErrorCode(err) == obhub.EUNAVAILABLE {
			h.fail(w, r, v, err)
			return
		}
		h.cfg.Logger.Warn("portal: API document unreadable", "api", a.ID, "err", err)
		pg.RefFailed = true
	}
	h.render(w, v, http.StatusOK, "api", a.Name, nil, pg)
}
