package portal

import (
	"net/url"
	"slices"
	"strings"

	"github.com/obhub/obhub/catalog"
)

// catalogQuery is the catalog page's search form (GET /portal/apis): free
// text and three filters, all optional and combined with AND. Values come
// from the query string as typed; one that matches nothing gives no
// results, never an error.
type catalogQuery struct {
	Q        string // words, all of which must occur (case-insensitive)
	Bank     string // bank id
	Category string // one of catalog.Categories
	Status   string // published or deprecated
}

// maxQueryLen bounds the text searched for, in bytes: longer input is cut,
// so a huge query string costs no more than a normal one.
const maxQueryLen = 200

func parseCatalogQuery(v url.Values) catalogQuery {
	q := strings.TrimSpace(v.Get("q"))
	if len(q) > maxQueryLen {
		q = strings.ToValidUTF8(q[:maxQueryLen], "")
	}
	return catalogQuery{
		Q:        q,
		Bank:     strings.TrimSpace(v.Get("bank")),
		Category: strings.TrimSpace(v.Get("category")),
		Status:   strings.TrimSpace(v.Get("status")),
	}
}

// Active reports whether the visitor searched or filtered at all.
func (q catalogQuery) Active() bool {
	return q.Q != "" || q.Bank != "" || q.Category != "" || q.Status != ""
}

// match reports whether row passes every filter and contains every word
// of the search text in its API's name, id, bank, category (in either
// language) or operations (summary, path, operation id).
func (q catalogQuery) match(row *apiRow) bool {
	a := &row.API
	switch {
	case q.Bank != "" && q.Bank != a.Bank,
		q.Category != "" && q.Category != string(a.Category.OrOther()),
		q.Status != "" && q.Status != string(a.Status):
		return false
	}
	words := strings.Fields(strings.ToLower(q.Q))
	if len(words) == 0 {
		return true
	}
	text := searchText(row)
	for _, w := range words {
		if !strings.Contains(text, w) {
			return false
		}
	}
	return true
}

// searchText is everything the search looks in, lower-cased, one field a
// line so that no word is found across two fields.
func searchText(row *apiRow) string {
	a := &row.API
	c := string(a.Category.OrOther())
	parts := []string{a.Name, a.ID, a.Bank, row.BankName, langEN.T("cat." + c), langZH.T("cat." + c)}
	for _, op := range a.Operations {
		parts = append(parts, op.Summary, op.Path, op.ID)
	}
	return strings.ToLower(strings.Join(parts, "\n"))
}

// catalogPage is what apis.html shows.
type catalogPage struct {
	Query catalogQuery
	Rows  []apiRow // the visible APIs that match
	Total int      // visible APIs before searching
	// Banks are the banks with visible APIs, for the bank filter.
	Banks      []bankOption
	Categories []catalog.Category
	Statuses   []catalog.Status
}

type bankOption struct{ ID, Name string }

// newCatalogPage filters the visible rows with q.
func newCatalogPage(q catalogQuery, rows []apiRow) catalogPage {
	pg := catalogPage{
		Query: q, Total: len(rows), Categories: catalog.Categories,
		Statuses: []catalog.Status{catalog.StatusPublished, catalog.StatusDeprecated},
	}
	for i := range rows {
		if !slices.ContainsFunc(pg.Banks, func(b bankOption) bool { return b.ID == rows[i].API.Bank }) {
			pg.Banks = append(pg.Banks, bankOption{ID: rows[i].API.Bank, Name: rows[i].BankName})
		}
		if q.match(&rows[i]) {
			pg.Rows = append(pg.Rows, rows[i])
		}
	}
	return pg
}
