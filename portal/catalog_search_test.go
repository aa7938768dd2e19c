package portal_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/obhub/obhub/catalog"
	"github.com/obhub/obhub/config"
	"github.com/obhub/obhub/demo"
	"github.com/obhub/obhub/openapi"
)

// searchEnv is the portal of newEnv plus a second bank, Hexi, with a
// public loans API (category from its document's tags), a deprecated
// public branches API, a private cards API and a public draft.
func searchEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	ctx := context.Background()
	s := e.store
	if _, err := s.CreateBank(ctx, catalog.Bank{ID: "hexi-rcc", Name: "Hexi County RCC (河西县农村信用合作社)"}); err != nil {
		t.Fatal(err)
	}
	add := func(id, file, name string, vis catalog.Visibility, cat catalog.Category, status catalog.Status) {
		t.Helper()
		raw, err := demo.Spec(file)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := openapi.Import(ctx, raw)
		if err != nil {
			t.Fatal(err)
		}
		spec := doc.Spec()
		base := "/" + id
		if _, err := s.CreateAPI(ctx, config.APIInput{ID: id, Bank: "hexi-rcc", Name: name, BasePath: &base,
			Upstream: "http://127.0.0.1:9", Visibility: vis, Category: cat, Spec: spec}); err != nil {
			t.Fatal(err)
		}
		if status == catalog.StatusDraft {
			return
		}
		if _, err := s.PublishAPI(ctx, id); err != nil {
			t.Fatal(err)
		}
		if status == catalog.StatusDeprecated {
			if _, err := s.DeprecateAPI(ctx, id, time.Time{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	add("hexi-loans", "hexi-loans.yaml", "", catalog.VisibilityPublic, "", catalog.StatusPublished)
	add("hexi-branches", "hexi-branches.yaml", "", catalog.VisibilityPublic, catalog.CategoryBranches, catalog.StatusDeprecated)
	add("hexi-secret", "hexi-accounts.yaml", "Hexi Secret Card Ledger", catalog.VisibilityPrivate, catalog.CategoryCards, catalog.StatusPublished)
	add("hexi-draft", "qingshan-payments.yaml", "Hexi Draft Payments", catalog.VisibilityPublic, catalog.CategoryPayments, catalog.StatusDraft)
	return e
}

var listedAPI = regexp.MustCompile(`<th scope="row"><a href="/portal/apis/([a-z0-9-]+)">`)

// listed returns the ids of the APIs in the page's result table.
func listed(p page) []string {
	var ids []string
	for _, m := range listedAPI.FindAllStringSubmatch(p.body, -1) {
		ids = append(ids, m[1])
	}
	slices.Sort(ids)
	return ids
}

func TestCatalogSearchAndFilters(t *testing.T) {
	e := searchEnv(t)
	anon := e.browser()
	signedIn := e.browser()
	signedIn.signup("Gamma Pay", "ops@gamma.example")
	all := []string{"hexi-branches", "hexi-loans", "qingshan-accounts"}

	for _, tc := range []struct {
		name  string
		query url.Values
		want  []string
	}{
		{"everything", nil, all},
		{"bank", url.Values{"bank": {"hexi-rcc"}}, []string{"hexi-branches", "hexi-loans"}},
		{"category set by the admin", url.Values{"category": {"branches"}}, []string{"hexi-branches"}},
		{"category from the document's tags", url.Values{"category": {"loans"}}, []string{"hexi-loans"}},
		{"category from an English tag", url.Values{"category": {"accounts"}}, []string{"qingshan-accounts"}},
		{"a category no API has", url.Values{"category": {"other"}}, nil},
		{"published", url.Values{"status": {"published"}}, []string{"hexi-loans", "qingshan-accounts"}},
		{"deprecated", url.Values{"status": {"deprecated"}}, []string{"hexi-branches"}},
		{"filters combine", url.Values{"bank": {"hexi-rcc"}, "status": {"published"}}, []string{"hexi-loans"}},
		{"filters combine to nothing", url.Values{"bank": {"qingshan-rcb"}, "category": {"loans"}}, nil},
		{"search in the name, any case", url.Values{"q": {"LOAN products"}}, []string{"hexi-loans"}},
		{"search in operation paths", url.Values{"q": {"/accounts/{accountId}"}}, []string{"qingshan-accounts"}},
		{"search in operation summaries", url.Values{"q": {"list branches"}}, []string{"hexi-branches"}},
		{"search in the bank's name", url.Values{"q": {"qingshan"}}, []string{"qingshan-accounts"}},
		{"Chinese bank name", url.Values{"q": {"河西"}}, []string{"hexi-branches", "hexi-loans"}},
		{"Chinese category name", url.Values{"q": {"贷款"}}, []string{"hexi-loans"}},
		{"search and filter", url.Values{"q": {"河西"}, "status": {"deprecated"}}, []string{"hexi-branches"}},
		{"every word must match", url.Values{"q": {"hexi accounts"}}, nil},
		{"draft status is never listed", url.Values{"status": {"draft"}}, nil},
		{"retired status is never listed", url.Values{"status": {"retired"}}, nil},
		{"unknown bank", url.Values{"bank": {"../nope"}}, nil},
		{"unknown category", url.Values{"category": {"<script>"}}, nil},
		{"very long query", url.Values{"q": {strings.Repeat("账", 5000)}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for who, b := range map[string]*browser{"visitor": anon, "partner": signedIn} {
				p := b.get("/portal/apis?lang=en&" + tc.query.Encode())
				if p.status != http.StatusOK {
					t.Fatalf("%s: status %d", who, p.status)
				}
				if got := listed(p); !slices.Equal(got, tc.want) {
					t.Errorf("%s: listed %v, want %v", who, got, tc.want)
				}
				// The private API of Hexi and Hexi's draft never show, whatever is asked.
				mustNotContain(t, p, "hexi-secret", "Secret Card Ledger", "hexi-draft", "Hexi Draft Payments", "<script>")
				if tc.want == nil {
					mustContain(t, p, `id="no-results"`, "No API matches your search.")
				} else if tc.query != nil {
					mustContain(t, p, ">"+strconv.Itoa(len(tc.want))+" of 3 APIs match<")
				}
			}
		})
	}
}

// A search that matches only the private API of another bank finds
// nothing, for visitors and signed-in partners alike.
func TestCatalogSearchNeverShowsPrivateAPIs(t *testing.T) {
	e := searchEnv(t)
	partner := e.browser()
	partner.signup("Delta Credit", "ops@delta.example")
	for _, q := range []url.Values{
		{"q": {"secret"}}, {"q": {"Card Ledger"}}, {"category": {"cards"}},
		{"bank": {"hexi-rcc"}, "category": {"cards"}}, {"q": {"hexi-sec"}},
		{"q": {"payments"}}, // qingshan-payments is private too
	} {
		for who, b := range map[string]*browser{"visitor": e.browser(), "partner": partner} {
			p := b.get("/portal/apis?" + q.Encode())
			if got := listed(p); len(got) != 0 {
				t.Errorf("%s %v: listed %v", who, q, got)
			}
			mustNotContain(t, p, "hexi-secret", "Secret Card Ledger", "qingshan-payments")
		}
	}
}

func TestCatalogSearchForm(t *testing.T) {
	e := searchEnv(t)
	b := e.browser()
	p := b.get("/portal/apis?lang=en&bank=hexi-rcc&category=loans&q=%E8%B4%B7%E6%AC%BE")
	mustContain(t, p,
		`<form method="get" action="/portal/apis" role="search"`,
		`<label for="q">Search</label>`, `value="贷款"`,
		`<label for="f-bank">Bank</label>`, `<option value="hexi-rcc" selected>`,
		`<label for="f-category">Category</label>`, `<option value="loans" selected>Loans</option>`,
		`<label for="f-status">Status</label>`, `<option value="deprecated">deprecated</option>`,
		`>1 of 3 APIs match<`, `<td>Loans</td>`, `href="/portal/apis">Show all APIs</a>`)
	// The bank filter offers only banks with APIs the visitor may see.
	if _, err := e.store.CreateBank(context.Background(), catalog.Bank{ID: "empty-bank", Name: "Empty Bank"}); err != nil {
		t.Fatal(err)
	}
	mustNotContain(t, b.get("/portal/apis"), "Empty Bank")

	zh := b.get("/portal/apis?lang=zh&category=branches")
	mustContain(t, zh, `<label for="q">搜索</label>`, `<label for="f-category">类别</label>`,
		`<option value="branches" selected>网点与 ATM</option>`, "1 个 API 符合条件（共 3 个）", "<td>网点与 ATM</td>")
	none := b.get("/portal/apis?lang=zh&q=nothing-like-this")
	mustContain(t, none, "没有符合搜索条件的 API。")
	mustContain(t, b.get("/portal/apis?lang=en"), ">APIs: 3<")
}
