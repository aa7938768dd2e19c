package catalog

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/obhub/obhub"
)

func ops(templates ...string) []Operation {
	var out []Operation
	for _, t := range templates {
		method, path, _ := strings.Cut(t, " ")
		out = append(out, Operation{ID: t, Method: method, Path: path})
	}
	return out
}

func testCatalog(tb testing.TB) *Catalog {
	tb.Helper()
	return New(
		[]Bank{{ID: "north", Name: "North"}, {ID: "south", Name: "South"}},
		[]API{
			{ID: "accounts", Bank: "north", BasePath: "/open-banking/v1", Status: StatusPublished, Operations: ops(
				"GET /accounts",
				"POST /accounts",
				"GET /accounts/summary",
				"GET /accounts/{accountId}",
				"DELETE /accounts/{accountId}",
				"GET /accounts/{accountId}/balances",
				"GET /accounts/{id}/transactions/{transactionId}",
				"HEAD /accounts/{accountId}/statements",
				"GET /accounts/{accountId}/statements",
				"GET /files/{name}.{ext}",
				"GET /files/{name}.pdf",
				"GET /reports/v{major}",
				"GET /",
			)},
			{ID: "accounts-v2", Bank: "north", BasePath: "/open-banking/v2/", Status: StatusDeprecated, Operations: ops(
				"GET /accounts",
			)},
			{ID: "cards", Bank: "north", BasePath: "/open-banking", Status: StatusPublished, Operations: ops(
				"GET /cards/{cardId}",
				"GET /v1/legacy",
			)},
			{ID: "root", Bank: "north", BasePath: "", Status: StatusPublished, Operations: ops(
				"GET /status",
				"GET /trailing/",
			)},
			{ID: "draft", Bank: "north", BasePath: "/draft", Status: StatusDraft, Operations: ops("GET /x")},
			{ID: "retired", Bank: "north", BasePath: "/retired", Status: StatusRetired, Operations: ops("GET /x")},
			{ID: "loans", Bank: "south", BasePath: "/open-banking/v1", Status: StatusPublished, Operations: ops(
				"GET /loans/{loanId}",
			)},
			{ID: "orphan", Bank: "gone", BasePath: "/v1", Status: StatusPublished, Operations: ops("GET /x")},
		},
		[]Product{
			{ID: "basic", APIs: []string{"accounts", "cards"}},
			{ID: "all", APIs: []string{"cards", "accounts", "loans"}},
		},
	)
}

func TestRoute(t *testing.T) {
	c := testCatalog(t)
	tests := []struct {
		bank, path, method string
		api, op            string            // want, when found
		params             map[string]string // want
		code               string            // want error code
		allow              []string          // want, for ENOTALLOWED
	}{
		{bank: "north", path: "/open-banking/v1/accounts", method: "GET", api: "accounts", op: "GET /accounts"},
		{bank: "north", path: "/open-banking/v1/accounts", method: "POST", api: "accounts", op: "POST /accounts"},
		{bank: "north", path: "/open-banking/v1/accounts/summary", method: "GET", api: "accounts", op: "GET /accounts/summary"},
		{bank: "north", path: "/open-banking/v1/accounts/A-1", method: "GET", api: "accounts", op: "GET /accounts/{accountId}",
			params: map[string]string{"accountId": "A-1"}},
		{bank: "north", path: "/open-banking/v1/accounts/summary/balances", method: "GET", api: "accounts",
			op: "GET /accounts/{accountId}/balances", params: map[string]string{"accountId": "summary"}},
		{bank: "north", path: "/open-banking/v1/accounts/A%2F1/transactions/t9", method: "GET", api: "accounts",
			op: "GET /accounts/{id}/transactions/{transactionId}", params: map[string]string{"id": "A%2F1", "transactionId": "t9"}},
		{bank: "north", path: "/open-banking/v1/files/report.csv", method: "GET", api: "accounts", op: "GET /files/{name}.{ext}",
			params: map[string]string{"name": "report", "ext": "csv"}},
		{bank: "north", path: "/open-banking/v1/files/archive.tar.gz", method: "GET", api: "accounts", op: "GET /files/{name}.{ext}",
			params: map[string]string{"name": "archive", "ext": "tar.gz"}},
		{bank: "north", path: "/open-banking/v1/files/report.pdf", method: "GET", api: "accounts", op: "GET /files/{name}.pdf",
			params: map[string]string{"name": "report"}},
		{bank: "north", path: "/open-banking/v1/files/.pdf", method: "GET", code: obhub.ENOTFOUND},
		{bank: "north", path: "/open-banking/v1/files/report", method: "GET", code: obhub.ENOTFOUND},
		{bank: "north", path: "/open-banking/v1/reports/v2", method: "GET", api: "accounts", op: "GET /reports/v{major}",
			params: map[string]string{"major": "2"}},
		{bank: "north", path: "/open-banking/v1/reports/v", method: "GET", code: obhub.ENOTFOUND},
		{bank: "north", path: "/open-banking/v1", method: "GET", api: "accounts", op: "GET /"},
		{bank: "north", path: "/open-banking/v1/", method: "GET", api: "accounts", op: "GET /"},

		// HEAD is served by GET unless declared.
		{bank: "north", path: "/open-banking/v1/accounts/A-1", method: "HEAD", api: "accounts", op: "GET /accounts/{accountId}",
			params: map[string]string{"accountId": "A-1"}},
		{bank: "north", path: "/open-banking/v1/accounts/A-1/statements", method: "HEAD", api: "accounts", op: "HEAD /accounts/{accountId}/statements",
			params: map[string]string{"accountId": "A-1"}},

		// Methods.
		{bank: "north", path: "/open-banking/v1/accounts/A-1", method: "PUT", code: obhub.ENOTALLOWED,
			allow: []string{"DELETE", "GET", "HEAD"}},
		{bank: "north", path: "/open-banking/v1/accounts/summary", method: "DELETE", code: obhub.ENOTALLOWED,
			allow: []string{"GET", "HEAD"}},
		{bank: "north", path: "/open-banking/v1/accounts", method: "get", code: obhub.ENOTALLOWED,
			allow: []string{"GET", "HEAD", "POST"}},

		// Base paths: longest segment-boundary prefix, then shorter ones.
		{bank: "north", path: "/open-banking/v2/accounts", method: "GET", api: "accounts-v2", op: "GET /accounts"},
		{bank: "north", path: "/open-banking/cards/C1", method: "GET", api: "cards", op: "GET /cards/{cardId}",
			params: map[string]string{"cardId": "C1"}},
		{bank: "north", path: "/open-banking/v1/legacy", method: "GET", api: "cards", op: "GET /v1/legacy"},
		{bank: "north", path: "/open-banking/v10/accounts", method: "GET", code: obhub.ENOTFOUND},
		{bank: "north", path: "/status", method: "GET", api: "root", op: "GET /status"},
		{bank: "north", path: "/trailing/", method: "GET", api: "root", op: "GET /trailing/"},
		{bank: "north", path: "/trailing", method: "GET", code: obhub.ENOTFOUND},
		{bank: "south", path: "/open-banking/v1/loans/L1", method: "GET", api: "loans", op: "GET /loans/{loanId}",
			params: map[string]string{"loanId": "L1"}},

		// Case-sensitive, raw segments, one segment per parameter.
		{bank: "north", path: "/open-banking/v1/Accounts", method: "GET", code: obhub.ENOTFOUND},
		{bank: "north", path: "/Open-Banking/v1/accounts", method: "GET", code: obhub.ENOTFOUND},
		{bank: "north", path: "/open-banking/v1/accounts//balances", method: "GET", code: obhub.ENOTFOUND},
		{bank: "north", path: "/open-banking/v1/accounts/A-1/", method: "GET", code: obhub.ENOTFOUND},
		{bank: "south", path: "/open-banking/v1/loans/L1/x", method: "GET", code: obhub.ENOTFOUND},

		// Not routed.
		{bank: "north", path: "/draft/x", method: "GET", code: obhub.ENOTFOUND},
		{bank: "north", path: "/retired/x", method: "GET", code: obhub.ENOTFOUND},
		{bank: "gone", path: "/v1/x", method: "GET", code: obhub.ENOTFOUND},
		{bank: "east", path: "/open-banking/v1/accounts", method: "GET", code: obhub.ENOTFOUND},
		{bank: "south", path: "/open-banking/v1/accounts", method: "GET", code: obhub.ENOTFOUND},
		{bank: "north", path: "open-banking/v1/accounts", method: "GET", code: obhub.ENOTFOUND},
		{bank: "north", path: "", method: "GET", code: obhub.ENOTFOUND},
	}
	for _, tt := range tests {
		t.Run(tt.bank+" "+tt.method+" "+tt.path, func(t *testing.T) {
			m, err := c.Route(tt.bank, tt.path, tt.method)
			if tt.code != "" {
				if got := obhub.ErrorCode(err); got != tt.code {
					t.Fatalf("Route error = %v (code %q); want code %q", err, got, tt.code)
				}
				var mna *MethodNotAllowedError
				if errors.As(err, &mna) != (tt.code == obhub.ENOTALLOWED) {
					t.Fatalf("Route error = %#v; MethodNotAllowedError only for %s", err, obhub.ENOTALLOWED)
				}
				if mna != nil && !slices.Equal(mna.Allow, tt.allow) {
					t.Errorf("Allow = %q; want %q", mna.Allow, tt.allow)
				}
				return
			}
			if err != nil {
				t.Fatalf("Route: %v", err)
			}
			if m.API.ID != tt.api || m.Operation.ID != tt.op {
				t.Errorf("Route = %s %s; want %s %s", m.API.ID, m.Operation.ID, tt.api, tt.op)
			}
			got := map[string]string{}
			for k, v := range m.Params() {
				got[k] = v
			}
			if len(got) != len(tt.params) || m.NumParams() != len(tt.params) {
				t.Errorf("params = %v; want %v", got, tt.params)
			}
			for k, v := range tt.params {
				if p, ok := m.Param(k); !ok || p != v || got[k] != v {
					t.Errorf("param %s = %q; want %q", k, p, v)
				}
			}
		})
	}
}

func TestMethodNotAllowedError(t *testing.T) {
	_, err := testCatalog(t).Route("north", "/open-banking/v1/accounts", http.MethodPatch)
	err = fmt.Errorf("route: %w", err)
	if got := obhub.ErrorCode(err); got != obhub.ENOTALLOWED {
		t.Errorf("ErrorCode = %q; want %q", got, obhub.ENOTALLOWED)
	}
	if got := obhub.ErrorMessage(err); got != "method not allowed on this path" {
		t.Errorf("ErrorMessage = %q", got)
	}
	var allower interface{ AllowedMethods() []string }
	if !errors.As(err, &allower) || !slices.Equal(allower.AllowedMethods(), []string{"GET", "HEAD", "POST"}) {
		t.Errorf("AllowedMethods not reachable through %v", err)
	}
}

func TestCatalogLookups(t *testing.T) {
	c := testCatalog(t)
	if b, ok := c.Bank("north"); !ok || b.Name != "North" {
		t.Errorf("Bank(north) = %v, %v", b, ok)
	}
	if _, ok := c.Bank("east"); ok {
		t.Error("Bank(east) found")
	}
	if a, ok := c.API("retired"); !ok || a.Status != StatusRetired {
		t.Errorf("API(retired) = %v, %v", a, ok)
	}
	if p, ok := c.Product("all"); !ok || len(p.APIs) != 3 {
		t.Errorf("Product(all) = %v, %v", p, ok)
	}
	ids := func(n int, id func(int) string) []string {
		var out []string
		for i := range n {
			out = append(out, id(i))
		}
		return out
	}
	banks, apis, products := c.Banks(), c.APIs(), c.Products()
	if got := ids(len(banks), func(i int) string { return banks[i].ID }); !slices.Equal(got, []string{"north", "south"}) {
		t.Errorf("Banks = %q", got)
	}
	if got := ids(len(apis), func(i int) string { return apis[i].ID }); !slices.IsSorted(got) || len(got) != 8 {
		t.Errorf("APIs = %q", got)
	}
	if got := ids(len(products), func(i int) string { return products[i].ID }); !slices.Equal(got, []string{"all", "basic"}) {
		t.Errorf("Products = %q", got)
	}
	with := c.ProductsWithAPI("accounts")
	if got := ids(len(with), func(i int) string { return with[i].ID }); !slices.Equal(got, []string{"all", "basic"}) {
		t.Errorf("ProductsWithAPI(accounts) = %q", got)
	}
	if got := c.ProductsWithAPI("loans"); len(got) != 1 || got[0].ID != "all" {
		t.Errorf("ProductsWithAPI(loans) = %v", got)
	}
	if got := c.ProductsWithAPI("none"); len(got) != 0 {
		t.Errorf("ProductsWithAPI(none) = %v", got)
	}
}

// TestNewCopies checks that the snapshot does not share memory with its
// inputs and that the first of duplicate ids wins.
func TestNewCopies(t *testing.T) {
	apis := []API{
		{ID: "a", Bank: "b", Status: StatusPublished, Operations: ops("GET /x")},
		{ID: "a", Bank: "b", Status: StatusPublished, Operations: ops("GET /y")},
	}
	c := New([]Bank{{ID: "b"}}, apis, nil)
	apis[0].Operations[0].Path = "/changed"
	apis[0].ID = "changed"
	if _, err := c.Route("b", "/x", "GET"); err != nil {
		t.Errorf("Route(/x) after the input changed: %v", err)
	}
	if _, err := c.Route("b", "/y", "GET"); obhub.ErrorCode(err) != obhub.ENOTFOUND {
		t.Errorf("Route(/y) of a duplicate API = %v; want %s", err, obhub.ENOTFOUND)
	}
	if a, _ := c.API("a"); a.Operations[0].Path != "/x" {
		t.Errorf("API(a) shares its operations with the input")
	}
}

// TestRouteConflicts checks that conflicting templates resolve the same
// way every time: the API with the smaller id, then the first operation.
func TestRouteConflicts(t *testing.T) {
	for range 10 {
		c := New([]Bank{{ID: "b"}}, []API{
			{ID: "z", Bank: "b", Status: StatusPublished, Operations: ops("GET /a/{id}")},
			{ID: "m", Bank: "b", Status: StatusPublished, Operations: ops("GET /a/{other}", "GET /a/{third}")},
		}, nil)
		m, err := c.Route("b", "/a/1", "GET")
		if err != nil || m.API.ID != "m" || m.Operation.Path != "/a/{other}" {
			t.Fatalf("Route = %v %v; want API m, /a/{other}", m.Operation, err)
		}
		if v, _ := m.Param("other"); v != "1" {
			t.Fatalf("param other = %q", v)
		}
	}
}

// TestRouteUnusableTemplates checks that templates the router cannot use
// are left out instead of matching wrongly.
func TestRouteUnusableTemplates(t *testing.T) {
	c := New([]Bank{{ID: "b"}}, []API{{ID: "a", Bank: "b", Status: StatusPublished, Operations: ops(
		"GET no-slash", "GET /a/{x", "GET /b/{x}{y}", "GET /c/{x}/{x}", "GET /d/{}", "GET /e/x}", "GET /ok/{x}",
	)}}, nil)
	for _, p := range []string{"no-slash", "/a/{x", "/a/1", "/b/12", "/c/1/2", "/d/1", "/e/x}"} {
		if _, err := c.Route("b", p, "GET"); obhub.ErrorCode(err) != obhub.ENOTFOUND {
			t.Errorf("Route(%q) = %v; want %s", p, err, obhub.ENOTFOUND)
		}
	}
	if _, err := c.Route("b", "/ok/1", "GET"); err != nil {
		t.Errorf("Route(/ok/1): %v", err)
	}
}

func TestRouteManyParams(t *testing.T) {
	tmpl := ""
	path := ""
	for i := range 12 {
		tmpl += fmt.Sprintf("/{p%d}", i)
		path += fmt.Sprintf("/v%d", i)
	}
	c := New([]Bank{{ID: "b"}}, []API{{ID: "a", Bank: "b", Status: StatusPublished, Operations: ops("GET " + tmpl)}}, nil)
	m, err := c.Route("b", path, "GET")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 12 {
		if v, _ := m.Param(fmt.Sprintf("p%d", i)); v != fmt.Sprintf("v%d", i) {
			t.Errorf("p%d = %q", i, v)
		}
	}
}

// benchCatalog has one bank with 50 APIs of 40 operations each.
func benchCatalog(tb testing.TB) *Catalog {
	tb.Helper()
	var apis []API
	for a := range 50 {
		var o []Operation
		for r := range 8 {
			res := fmt.Sprintf("/resources%d", r)
			o = append(o,
				Operation{Method: "GET", Path: res},
				Operation{Method: "POST", Path: res},
				Operation{Method: "GET", Path: res + "/{id}"},
				Operation{Method: "GET", Path: res + "/summary"},
				Operation{Method: "GET", Path: res + "/{id}/items/{itemId}"},
			)
		}
		for i := range o {
			o[i].ID = o[i].Method + " " + o[i].Path
		}
		apis = append(apis, API{
			ID: fmt.Sprintf("api%02d", a), Bank: "bank", Status: StatusPublished,
			BasePath: fmt.Sprintf("/open-banking/api%02d/v1", a), Operations: o,
		})
	}
	return New([]Bank{{ID: "bank"}}, apis, nil)
}

func BenchmarkRoute(b *testing.B) {
	c := benchCatalog(b)
	paths := []struct{ path, method string }{
		{"/open-banking/api25/v1/resources7/0f8c1b2a/items/42", "GET"},
		{"/open-banking/api03/v1/resources2/summary", "GET"},
		{"/open-banking/api49/v1/resources0", "POST"},
	}
	for _, p := range paths {
		if _, err := c.Route("bank", p.path, p.method); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p := paths[i%len(paths)]
		i++
		if _, err := c.Route("bank", p.path, p.method); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRouteNotFound(b *testing.B) {
	c := benchCatalog(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Route("bank", "/open-banking/api25/v1/nothing/here", "GET"); err == nil {
			b.Fatal("found")
		}
	}
}

func FuzzRoute(f *testing.F) {
	f.Add("/files/{name}.{ext}", "/v1/files/a.b.c", "GET")
	f.Add("/a/{x}/b", "/v1/a/1/b", "HEAD")
	f.Add("/{a}-{b}-{c}", "/v1/------", "GET")
	f.Add("/x{a}y{b}z", "/v1/xyyzz", "GET")
	f.Add("/", "/v1", "GET")
	f.Fuzz(func(t *testing.T, template, path, method string) {
		c := New([]Bank{{ID: "b"}}, []API{
			{ID: "fuzz", Bank: "b", BasePath: "/v1", Status: StatusPublished, Operations: []Operation{
				{ID: "fuzzed", Method: "GET", Path: template},
				{ID: "a", Method: "GET", Path: "/accounts/{id}"},
				{ID: "b", Method: "POST", Path: "/accounts/{id}.{ext}"},
			}},
			{ID: "root", Bank: "b", Status: StatusPublished, Operations: []Operation{
				{ID: "r", Method: "GET", Path: "/{a}/{b}"},
			}},
		}, nil)
		m, err := c.Route("b", path, method)
		if err != nil {
			if code := obhub.ErrorCode(err); code != obhub.ENOTFOUND && code != obhub.ENOTALLOWED {
				t.Fatalf("Route error %v has code %q", err, code)
			}
			return
		}
		if m.Operation.Method != method && (method != "HEAD" || m.Operation.Method != "GET") {
			t.Fatalf("method %q routed to %s", method, m.Operation.Method)
		}
		// Putting the values back into the template gives the path back.
		rest := strings.TrimPrefix(path, normalizeBasePath(m.API.BasePath))
		if rest == "" {
			rest = "/"
		}
		var values []string
		for name, value := range m.Params() {
			if value == "" || strings.Contains(value, "/") {
				t.Fatalf("param %s = %q", name, value)
			}
			values = append(values, value)
		}
		if got := fill(m.Operation.Path, values); got != rest || len(values) != m.NumParams() {
			t.Fatalf("template %q with values %q gives %q; path is %q", m.Operation.Path, values, got, rest)
		}
	})
}

// fill replaces the parameters of a template, in order, by values.
func fill(template string, values []string) string {
	var b strings.Builder
	for {
		open := strings.IndexByte(template, '{')
		if open < 0 || len(values) == 0 {
			b.WriteString(template)
			return b.String()
		}
		close := strings.IndexByte(template[open:], '}')
		if close < 0 {
			b.WriteString(template)
			return b.String()
		}
		b.WriteString(template[:open])
		b.WriteString(values[0])
		values = values[1:]
		template = template[open+close+1:]
	}
}
