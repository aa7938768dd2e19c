package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/obhub/obhub/openapi"
)

// t0 is the demo's "now" in tests: a Friday morning in Qingshan.
var t0 = time.Date(2026, 11, 27, 10, 0, 0, 0, cst)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *fakeClock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// loadDoc reads one demo document with kin-openapi, converting Swagger
// 2.0, and validates it in full, examples included.
func loadDoc(tb testing.TB, name string) *openapi3.T {
	tb.Helper()
	data, err := Spec(name)
	if err != nil {
		tb.Fatal(err)
	}
	var doc *openapi3.T
	if bytes.HasPrefix(data, []byte("swagger:")) {
		var d2 openapi2.T
		if err := openapi2.UnmarshalFromData(data, &d2); err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		if doc, err = openapi2conv.ToV3(&d2); err != nil {
			tb.Fatalf("%s: convert to OpenAPI 3: %v", name, err)
		}
	} else if doc, err = openapi3.NewLoader().LoadFromData(data); err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	if err := doc.Validate(context.Background(), openapi3.EnableMultiError()); err != nil {
		tb.Fatalf("%s: invalid: %v", name, err)
	}
	return doc
}

func specNames(tb testing.TB) []string {
	tb.Helper()
	names, err := fs.Glob(Specs(), "*.yaml")
	if err != nil || len(names) != 6 {
		tb.Fatalf("documents = %v, %v; want 6", names, err)
	}
	return names
}

// docBank is the bank that publishes a document, by its file name.
func docBank(name string) string {
	if strings.HasPrefix(name, "qingshan-") {
		return Qingshan
	}
	return Hexi
}

func TestDocumentsValidate(t *testing.T) {
	for _, name := range specNames(t) {
		t.Run(name, func(t *testing.T) { loadDoc(t, name) })
	}
}

// docBasePath is each document's base path, as the upstream serves it.
var docBasePath = map[string]string{
	"qingshan-accounts.yaml": AccountsBasePath,
	"qingshan-payments.yaml": PaymentsBasePath,
	"qingshan-loans.yaml":    LoansBasePath,
	"hexi-accounts.yaml":     AccountsBasePath,
	"hexi-loans.yaml":        LoansBasePath,
	"hexi-branches.yaml":     BranchesBasePath,
}

// TestDocumentsImport checks that the hub's own importer takes every
// document, with the base path the upstream serves.
func TestDocumentsImport(t *testing.T) {
	for _, name := range specNames(t) {
		t.Run(name, func(t *testing.T) {
			data, _ := Spec(name)
			doc, err := openapi.Import(context.Background(), data)
			if err != nil {
				t.Fatal(err)
			}
			if doc.BasePath != docBasePath[name] {
				t.Errorf("base path = %q; want %q", doc.BasePath, docBasePath[name])
			}
			for _, op := range doc.Operations {
				if len(op.Scopes) != 1 {
					t.Errorf("%s %s: scopes = %v; want exactly one", op.Method, op.Path, op.Scopes)
				}
			}
		})
	}
}

// call is one request to the demo upstream, for an operation of a
// document.
type call struct {
	doc, method, path string // path: the operation's template
	params            map[string]string
	query             string
	header            map[string]string
	body              string
	want              int
	badRequest        bool // the request breaks the document on purpose
}

// url is where the gateway would send the call on the upstream.
func (c call) url() string {
	p := c.path
	for k, v := range c.params {
		p = strings.ReplaceAll(p, "{"+k+"}", url.PathEscape(v))
	}
	u := "/" + docBank(c.doc) + docBasePath[c.doc] + p
	if c.query != "" {
		u += "?" + c.query
	}
	return u
}

func (c call) name() string { return c.doc + " " + c.method + " " + c.path + " " + c.query }

const (
	paymentBody = `{"instructionId":"AGF-0001","debtorAccount":{"accountId":"qs-10001"},
		"creditorAccount":{"accountNumber":"6228480402564890018","name":"青山县农资有限公司","bankName":"中国农业银行青山县支行"},
		"amount":{"amount":"3860.00","currency":"CNY"},"remittanceInformation":"复合肥20袋"}`
	loanBody = `{"productId":"%s","applicant":{"name":"马晓梅","residentIdNumber":"620702198503151628",
		"mobile":"13893651234","village":"河西县沙湾乡沙湾村二社"},"amount":{"amount":"80000.00","currency":"CNY"},
		"termMonths":%d,"purpose":"制种玉米30亩","farm":{"landAreaMu":"30"}}`
)

func loan(product string, term int) string { return fmt.Sprintf(loanBody, product, term) }

// calls exercise every operation of every document, in order (the
// status reads find what the writes before them made).
var calls = []call{
	{doc: "qingshan-accounts.yaml", method: "GET", path: "/accounts", want: 200},
	{doc: "qingshan-accounts.yaml", method: "GET", path: "/accounts", query: "page=2&pageSize=2", want: 200},
	{doc: "qingshan-accounts.yaml", method: "GET", path: "/accounts", query: "pageSize=0", want: 400, badRequest: true},
	{doc: "qingshan-accounts.yaml", method: "GET", path: "/accounts/{accountId}", params: map[string]string{"accountId": "qs-10002"}, want: 200},
	{doc: "qingshan-accounts.yaml", method: "GET", path: "/accounts/{accountId}", params: map[string]string{"accountId": "qs-99999"}, want: 404},
	{doc: "qingshan-accounts.yaml", method: "GET", path: "/accounts/{accountId}/balances", params: map[string]string{"accountId": "qs-10005"}, want: 200},
	{doc: "qingshan-accounts.yaml", method: "GET", path: "/accounts/{accountId}/balances", params: map[string]string{"accountId": "qs-10002"}, want: 200},
	{doc: "qingshan-accounts.yaml", method: "GET", path: "/accounts/{accountId}/transactions", params: map[string]string{"accountId": "qs-10001"}, want: 200},
	{doc: "qingshan-accounts.yaml", method: "GET", path: "/accounts/{accountId}/transactions", params: map[string]string{"accountId": "qs-10001"},
		query: "fromBookingDateTime=2026-11-01T00:00:00%2B08:00&toBookingDateTime=2026-11-15T23:59:59%2B08:00&pageSize=5", want: 200},
	{doc: "qingshan-accounts.yaml", method: "GET", path: "/accounts/{accountId}/transactions", params: map[string]string{"accountId": "qs-10002"}, want: 200},
	{doc: "qingshan-accounts.yaml", method: "GET", path: "/accounts/{accountId}/transactions", params: map[string]string{"accountId": "qs-10001"},
		query: "fromBookingDateTime=yesterday", want: 400, badRequest: true},
	{doc: "qingshan-payments.yaml", method: "POST", path: "/domestic-payments", header: map[string]string{"Idempotency-Key": "k-1"}, body: paymentBody, want: 201},
	{doc: "qingshan-payments.yaml", method: "POST", path: "/domestic-payments", header: map[string]string{"Idempotency-Key": "k-1"},
		body: strings.Replace(paymentBody, "3860.00", "3870.00", 1), want: 409},
	{doc: "qingshan-payments.yaml", method: "POST", path: "/domestic-payments", header: map[string]string{"Idempotency-Key": "k-2"},
		body: strings.Replace(paymentBody, "qs-10001", "qs-10002", 1), want: 422},
	{doc: "qingshan-payments.yaml", method: "POST", path: "/domestic-payments", header: map[string]string{"Idempotency-Key": "k-3"},
		body: strings.Replace(paymentBody, "3860.00", "9999999.00", 1), want: 422},
	{doc: "qingshan-payments.yaml", method: "POST", path: "/domestic-payments", header: map[string]string{"Idempotency-Key": "k-4"},
		body: `{"amount":1}`, want: 400, badRequest: true},
	{doc: "qingshan-payments.yaml", method: "GET", path: "/domestic-payments/{paymentId}", params: map[string]string{"paymentId": "QS-PAY-20261127-000001"}, want: 200},
	{doc: "qingshan-payments.yaml", method: "GET", path: "/domestic-payments/{paymentId}", params: map[string]string{"paymentId": "QS-PAY-20261127-000999"}, want: 404},
	{doc: "qingshan-loans.yaml", method: "GET", path: "/loan-products", want: 200},
	{doc: "qingshan-loans.yaml", method: "GET", path: "/loan-products", query: "purpose=livestock", want: 200},
	{doc: "qingshan-loans.yaml", method: "POST", path: "/loan-applications", body: loan("qs-lp-greenhouse", 36), want: 201},
	{doc: "qingshan-loans.yaml", method: "POST", path: "/loan-applications", body: loan("qs-lp-crop", 36), want: 422},
	{doc: "qingshan-loans.yaml", method: "POST", path: "/loan-applications", body: loan("hx-lp-goji", 12), want: 422},
	{doc: "qingshan-loans.yaml", method: "GET", path: "/loan-applications/{applicationId}", params: map[string]string{"applicationId": "QS-LA-20261127-000001"}, want: 200},
	{doc: "qingshan-loans.yaml", method: "GET", path: "/loan-applications/{applicationId}", params: map[string]string{"applicationId": "HX-LA-20261127-000001"}, want: 404},
	{doc: "hexi-accounts.yaml", method: "GET", path: "/accounts", want: 200},
	{doc: "hexi-accounts.yaml", method: "GET", path: "/accounts/{accountId}", params: map[string]string{"accountId": "hx-20004"}, want: 200},
	{doc: "hexi-accounts.yaml", method: "GET", path: "/accounts/{accountId}/balances", params: map[string]string{"accountId": "hx-20001"}, want: 200},
	{doc: "hexi-accounts.yaml", method: "GET", path: "/accounts/{accountId}/transactions", params: map[string]string{"accountId": "hx-20003"}, query: "page=2&pageSize=10", want: 200},
	{doc: "hexi-accounts.yaml", method: "GET", path: "/accounts/{accountId}/transactions", params: map[string]string{"accountId": "qs-10001"}, want: 404},
	{doc: "hexi-loans.yaml", method: "GET", path: "/loan-products", want: 200},
	{doc: "hexi-loans.yaml", method: "POST", path: "/loan-applications", body: loan("hx-lp-seed-corn", 10), want: 201},
	{doc: "hexi-loans.yaml", method: "POST", path: "/loan-applications", body: loan("hx-lp-seed-corn", 10)[:40], want: 400, badRequest: true},
	{doc: "hexi-loans.yaml", method: "GET", path: "/loan-applications/{applicationId}", params: map[string]string{"applicationId": "HX-LA-20261127-000001"}, want: 200},
	{doc: "hexi-branches.yaml", method: "GET", path: "/branches", want: 200},
	{doc: "hexi-branches.yaml", method: "GET", path: "/branches", query: "township=" + url.QueryEscape("红柳镇"), want: 200},
	{doc: "hexi-branches.yaml", method: "GET", path: "/branches/{branchId}", params: map[string]string{"branchId": "hx-br-0002"}, want: 200},
	{doc: "hexi-branches.yaml", method: "GET", path: "/branches/{branchId}", params: map[string]string{"branchId": "hx-br-9999"}, want: 404},
	{doc: "hexi-branches.yaml", method: "GET", path: "/atms", want: 200},
	{doc: "hexi-branches.yaml", method: "GET", path: "/atms", query: "kind=agent_point", want: 200},
}

// TestUpstreamMatchesDocuments sends every call to the upstream and
// checks the status and the response against the document (and, for
// well-formed calls, the request too, as the gateway would). Every
// operation of every document must be called, every GET with a 200.
func TestUpstreamMatchesDocuments(t *testing.T) {
	docs := map[string]*openapi3.T{}
	for _, name := range specNames(t) {
		docs[name] = loadDoc(t, name)
	}
	h := NewUpstream(func() time.Time { return t0 })
	covered := map[string]bool{}
	for _, c := range calls {
		doc := docs[c.doc]
		item := doc.Paths.Value(c.path)
		if item == nil || item.GetOperation(c.method) == nil {
			t.Fatalf("%s: no such operation in the document", c.name())
		}
		if c.want < 300 {
			covered[c.doc+" "+c.method+" "+c.path] = true
		}
		route := &routers.Route{Spec: doc, Path: c.path, PathItem: item, Method: c.method, Operation: item.GetOperation(c.method)}
		req := httptest.NewRequest(c.method, c.url(), strings.NewReader(c.body))
		if c.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		for k, v := range c.header {
			req.Header.Set(k, v)
		}
		in := &openapi3filter.RequestValidationInput{
			Request: req, PathParams: c.params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true},
		}
		if !c.badRequest {
			if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
				t.Errorf("%s: the test's request breaks the document: %v", c.name(), err)
			}
			req.Body = io.NopCloser(strings.NewReader(c.body))
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != c.want {
			t.Errorf("%s: status %d; want %d\n%s", c.name(), rec.Code, c.want, rec.Body)
			continue
		}
		err := openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
			RequestValidationInput: in, Status: rec.Code, Header: rec.Header(),
			Body: io.NopCloser(bytes.NewReader(rec.Body.Bytes())), Options: in.Options,
		})
		if err != nil {
			t.Errorf("%s: response breaks the document: %v\n%s", c.name(), err, rec.Body)
		}
	}
	for name, doc := range docs {
		for path, item := range doc.Paths.Map() {
			for method := range item.Operations() {
				if !covered[name+" "+method+" "+path] {
					t.Errorf("%s %s %s: no successful call in the table", name, method, path)
				}
			}
		}
	}
}

// do sends one request to h and returns the response.
func do(tb testing.TB, h http.Handler, method, target, body string, header ...string) *httptest.ResponseRecorder {
	tb.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// decodeData reads a {"data": …} body into v.
func decodeData(tb testing.TB, rec *httptest.ResponseRecorder, v any) {
	tb.Helper()
	if err := json.Unmarshal(rec.Body.Bytes(), &struct{ Data any }{v}); err != nil {
		tb.Fatalf("body %s: %v", rec.Body, err)
	}
}

func TestPaymentCreateThenStatus(t *testing.T) {
	clock := &fakeClock{t: t0.UTC()} // the node's clock is in UTC; the core answers in China time
	h := NewUpstream(clock.now)
	const payments = "/qingshan-rcb" + PaymentsBasePath + "/domestic-payments"
	create := func(key, body string) *httptest.ResponseRecorder {
		return do(t, h, "POST", payments, body, "Idempotency-Key", key, "X-Obhub-Client-Id", "app-1")
	}

	rec := create("key-1", paymentBody)
	if rec.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	var p payment
	decodeData(t, rec, &p)
	if p.PaymentID == "" || p.Status != "AcceptedSettlementInProcess" {
		t.Fatalf("created %+v", p)
	}
	if got, want := rec.Header().Get("Location"), payments+"/"+p.PaymentID; got != want {
		t.Errorf("Location = %q; want %q", got, want)
	}
	if p.CreditorAccount.AccountNumberMasked != "622848*********0018" {
		t.Errorf("creditor number shown as %q; want it masked", p.CreditorAccount.AccountNumberMasked)
	}

	status := func() payment {
		t.Helper()
		rec := do(t, h, "GET", payments+"/"+p.PaymentID, "")
		if rec.Code != http.StatusOK {
			t.Fatalf("status: %d %s", rec.Code, rec.Body)
		}
		var got payment
		decodeData(t, rec, &got)
		return got
	}
	if got := status(); got.Status != "AcceptedSettlementInProcess" || got.Amount.Amount != "3860.00" {
		t.Errorf("status at once = %+v", got)
	}
	clock.advance(settleAfter)
	if got := status(); got.Status != "AcceptedSettlementCompleted" || got.StatusUpdateDateTime != "2026-11-27T10:01:00+08:00" {
		t.Errorf("status a minute later = %s at %s", got.Status, got.StatusUpdateDateTime)
	}

	t.Run("a retry with the same key returns the same payment", func(t *testing.T) {
		rec := create("key-1", paymentBody)
		var again payment
		decodeData(t, rec, &again)
		if rec.Code != http.StatusCreated || again.PaymentID != p.PaymentID {
			t.Errorf("retry: %d, payment %s; want 201 and %s", rec.Code, again.PaymentID, p.PaymentID)
		}
	})
	t.Run("the same key from another app is another payment", func(t *testing.T) {
		rec := do(t, h, "POST", payments, paymentBody, "Idempotency-Key", "key-1", "X-Obhub-Client-Id", "app-2")
		var other payment
		decodeData(t, rec, &other)
		if rec.Code != http.StatusCreated || other.PaymentID == p.PaymentID {
			t.Errorf("other app: %d, payment %s", rec.Code, other.PaymentID)
		}
	})
	t.Run("no Idempotency-Key", func(t *testing.T) {
		if rec := do(t, h, "POST", payments, paymentBody); rec.Code != http.StatusBadRequest {
			t.Errorf("status %d; want 400", rec.Code)
		}
	})
	t.Run("another bank does not know it", func(t *testing.T) {
		if rec := do(t, h, "GET", "/hexi-rcc"+PaymentsBasePath+"/domestic-payments/"+p.PaymentID, ""); rec.Code != http.StatusNotFound {
			t.Errorf("status %d; want 404", rec.Code)
		}
	})
}

func TestLoanApplicationThenStatus(t *testing.T) {
	h := NewUpstream(func() time.Time { return t0 })
	const apps = "/hexi-rcc" + LoansBasePath + "/loan-applications"
	rec := do(t, h, "POST", apps, loan("hx-lp-seed-corn", 10))
	if rec.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	var a loanApp
	decodeData(t, rec, &a)
	if a.ApplicationID != "HX-LA-20261127-000001" || a.Status != "submitted" {
		t.Errorf("created %s with status %s", a.ApplicationID, a.Status)
	}
	if a.Applicant.ResidentIDNumberMasked != "6****************8" || a.Applicant.MobileMasked != "138****1234" {
		t.Errorf("applicant shown as %+v; want the ID and mobile numbers masked", a.Applicant)
	}
	if strings.Contains(rec.Body.String(), "620702198503151628") || strings.Contains(rec.Body.String(), "13893651234") {
		t.Errorf("response holds personal data unmasked: %s", rec.Body)
	}
	rec = do(t, h, "GET", apps+"/"+a.ApplicationID, "")
	var got loanApp
	decodeData(t, rec, &got)
	if rec.Code != http.StatusOK || got.Status != "submitted" || got.ProductName != "制种贷" {
		t.Errorf("status: %d %+v", rec.Code, got)
	}
}

// TestDeterministic checks that reads depend only on the request and
// the day: two upstreams, at two times of the same day, after writes,
// answer byte for byte the same.
func TestDeterministic(t *testing.T) {
	a := NewUpstream(func() time.Time { return t0 })
	b := NewUpstream(func() time.Time { return t0.Add(7 * time.Hour) })
	do(t, b, "POST", "/qingshan-rcb"+PaymentsBasePath+"/domestic-payments", paymentBody, "Idempotency-Key", "k")
	for _, c := range calls {
		if c.method != "GET" || c.want != http.StatusOK || strings.Contains(c.path, "payment") || strings.Contains(c.path, "application") {
			continue
		}
		ra, rb := do(t, a, "GET", c.url(), ""), do(t, b, "GET", c.url(), "")
		if ra.Body.String() != rb.Body.String() {
			t.Errorf("%s: bodies differ:\n%s\n%s", c.name(), ra.Body, rb.Body)
		}
		if again := do(t, a, "GET", c.url(), ""); again.Body.String() != ra.Body.String() {
			t.Errorf("%s: a second call differs", c.name())
		}
	}
}

// A sandbox customer is one person: every personal account it holds, at
// either bank, is in one name, which differs from the other customers'.
func TestCustomersHoldTheirOwnAccounts(t *testing.T) {
	all := banks()
	names := map[string]string{} // login → holder
	for bankID, logins := range customerAccounts {
		for login, ids := range logins {
			for _, id := range ids {
				var acc *account
				for i := range all[bankID].accounts {
					if all[bankID].accounts[i].id == id {
						acc = &all[bankID].accounts[i]
					}
				}
				if acc == nil {
					t.Fatalf("%s's account %s is not at %s", login, id, bankID)
				}
				if acc.holderType != "individual" {
					continue
				}
				if prev, ok := names[login]; ok && prev != acc.holder {
					t.Errorf("%s holds accounts as %s and as %s", login, prev, acc.holder)
				}
				names[login] = acc.holder
			}
		}
	}
	seen := map[string]string{}
	for login, name := range names {
		if other, ok := seen[name]; ok {
			t.Errorf("%s and %s are both %s", login, other, name)
		}
		seen[name] = login
	}
}
