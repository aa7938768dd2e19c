package openapi

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/catalog"
)

const paymentsDoc = `
openapi: 3.0.3
info: {title: Payments, version: "1"}
servers: [{url: /pay/v1}]
security: [{oauth: [payments]}]
components:
  securitySchemes:
    oauth:
      type: oauth2
      flows: {clientCredentials: {tokenUrl: /oauth2/token, scopes: {payments: pay}}}
paths:
  /payments:
    post:
      operationId: createPayment
      parameters:
        - {name: Idempotency-Key, in: header, required: true, schema: {type: string, maxLength: 64}}
        - {name: dryRun, in: query, schema: {type: boolean}}
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [amount, creditor]
              additionalProperties: false
              properties:
                amount: {type: string, pattern: '^[0-9]+\.[0-9]{2}$'}
                creditor: {type: string, maxLength: 70}
      responses: {"201": {description: created}}
  /payments/{paymentId}:
    get:
      operationId: getPayment
      parameters:
        - {name: paymentId, in: path, required: true, schema: {type: string, maxLength: 8}}
        - {name: limit, in: query, schema: {type: integer, maximum: 100}}
      responses: {"200": {description: ok}}
`

func testValidator(t testing.TB) (*Validator, *Document) {
	t.Helper()
	d := mustImport(t, []byte(paymentsDoc))
	return d.NewValidator(), d
}

func opOf(d *Document, id string) *catalog.Operation {
	for i := range d.Operations {
		if d.Operations[i].ID == id {
			return &d.Operations[i]
		}
	}
	return nil
}

func newReq(method, target, ct string, body []byte, hdr map[string]string) *http.Request {
	var r *http.Request
	if body != nil {
		r, _ = http.NewRequest(method, "http://gw"+target, bytes.NewReader(body))
	} else {
		r, _ = http.NewRequest(method, "http://gw"+target, nil)
	}
	if ct != "" {
		r.Header.Set("Content-Type", ct)
	}
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	return r
}

func TestValidateRequests(t *testing.T) {
	v, d := testValidator(t)
	create, get := opOf(d, "createPayment"), opOf(d, "getPayment")
	idem := map[string]string{"Idempotency-Key": "k1"}
	const secret = "6228480402564890018"
	tests := []struct {
		name   string
		op     *catalog.Operation
		req    *http.Request
		params map[string]string
		auth   bool
		want   []string // locations of problems; nil means valid
	}{
		{"valid body", create, newReq("POST", "/payments", "application/json", []byte(`{"amount":"1.00","creditor":"x"}`), idem), nil, true, nil},
		{"valid get", get, newReq("GET", "/payments/p1?limit=5", "", nil, nil), map[string]string{"paymentId": "p1"}, true, nil},
		{"not authenticated", get, newReq("GET", "/payments/p1", "", nil, nil), map[string]string{"paymentId": "p1"}, false, []string{"security"}},
		{"missing header and bad query", create, newReq("POST", "/payments?dryRun="+secret, "application/json", []byte(`{"amount":"1.00","creditor":"x"}`), nil), nil, true,
			[]string{"header.Idempotency-Key", "query.dryRun"}},
		{"body problems", create, newReq("POST", "/payments", "application/json", []byte(`{"amount":"`+secret+`","extra":1}`), idem), nil, true,
			[]string{"body"}},
		{"wrong content type", create, newReq("POST", "/payments", "text/plain", []byte(secret), idem), nil, true, []string{"header.Content-Type"}},
		{"missing body", create, newReq("POST", "/payments", "application/json", nil, idem), nil, true, []string{"body"}},
		{"malformed JSON", create, newReq("POST", "/payments", "application/json", []byte(`{"amount":`+secret), idem), nil, true, []string{"body"}},
		{"deep JSON", create, newReq("POST", "/payments", "application/json", deepJSON(100000), idem), nil, true, []string{"body"}},
		{"path param too long", get, newReq("GET", "/payments/"+secret, "", nil, nil), map[string]string{"paymentId": secret}, true, []string{"path.paymentId"}},
		{"integer over maximum", get, newReq("GET", "/payments/p1?limit="+secret, "", nil, nil), map[string]string{"paymentId": "p1"}, true, []string{"query.limit"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			err := v.Validate(context.Background(), tt.op, Input{Request: tt.req, PathParams: tt.params, Authenticated: tt.auth})
			if time.Since(start) > 2*time.Second {
				t.Errorf("validation took %v", time.Since(start))
			}
			if tt.want == nil {
				if err != nil {
					t.Fatalf("valid request refused: %v %+v", err, obhub.ErrorDetails(err))
				}
				return
			}
			if obhub.ErrorCode(err) != obhub.EINVALID {
				t.Fatalf("got %v, want EINVALID", err)
			}
			ds := obhub.ErrorDetails(err)
			for _, loc := range tt.want {
				found := false
				for _, d := range ds {
					if strings.HasPrefix(d.Location, loc) {
						found = true
					}
				}
				if !found {
					t.Errorf("no problem at %s in %+v", loc, ds)
				}
			}
			for _, d := range ds {
				if strings.Contains(d.Message, secret) || strings.Contains(d.Location, secret) || strings.Contains(d.Message, "62284804") {
					t.Errorf("problem echoes the value sent: %+v", d)
				}
			}
		})
	}
}

func deepJSON(n int) []byte {
	return append(append(append([]byte(`{"amount":`), bytes.Repeat([]byte("["), n)...), bytes.Repeat([]byte("]"), n)...), '}')
}

type countingSource struct {
	doc   []byte
	calls atomic.Int64
	fail  bool
}

func (s *countingSource) APISpec(ctx context.Context, id string) ([]byte, error) {
	s.calls.Add(1)
	if s.fail {
		return nil, errors.New("store down")
	}
	return s.doc, nil
}

func TestValidatorsCacheByDigest(t *testing.T) {
	d := mustImport(t, []byte(paymentsDoc))
	src := &countingSource{doc: d.JSON}
	vs := NewValidators(src)
	api := &catalog.API{ID: "pay", SpecDigest: "abc"}
	op := opOf(d, "getPayment")
	done := make(chan error, 20)
	for range 20 {
		go func() {
			done <- vs.Validate(context.Background(), api, op, Input{Request: newReq("GET", "/payments/p1", "", nil, nil), PathParams: map[string]string{"paymentId": "p1"}, Authenticated: true})
		}()
	}
	for range 20 {
		if err := <-done; err != nil {
			t.Errorf("validate: %v", err)
		}
	}
	if n := src.calls.Load(); n > 2 { // singleflight: once, or twice if a late goroutine missed the flight
		t.Fatalf("document loaded %d times for one digest", n)
	}
	before := src.calls.Load()
	api2 := *api
	api2.SpecDigest = "def"
	_ = vs.Validate(context.Background(), &api2, op, Input{Request: newReq("GET", "/payments/p1", "", nil, nil), PathParams: map[string]string{"paymentId": "p1"}, Authenticated: true})
	if src.calls.Load() != before+1 {
		t.Fatal("a new digest loads the document again")
	}
	bad := NewValidators(&countingSource{fail: true})
	if err := bad.Validate(context.Background(), api, op, Input{Request: newReq("GET", "/", "", nil, nil)}); obhub.ErrorCode(err) != obhub.EUNAVAILABLE {
		t.Fatalf("store failure: %v, want EUNAVAILABLE", err)
	}
}

func FuzzValidateRequest(f *testing.F) {
	v, d := testValidator(f)
	create := opOf(d, "createPayment")
	f.Add("dryRun=true", "application/json", []byte(`{"amount":"1.00","creditor":"x"}`))
	f.Add("dryRun=%zz", "application/json; charset=utf-8", []byte(`[[[[`))
	f.Add("", "multipart/form-data; boundary=x", []byte("--x\r\n"))
	f.Add("a=1&a=2", "application/x-www-form-urlencoded", []byte("amount=1"))
	f.Fuzz(func(t *testing.T, query, ct string, body []byte) {
		r, err := http.NewRequest("POST", "http://gw/payments", bytes.NewReader(body))
		if err != nil {
			return
		}
		r.URL.RawQuery = query
		r.Header.Set("Content-Type", ct)
		r.Header.Set("Idempotency-Key", "k")
		err = v.Validate(context.Background(), create, Input{Request: r, Authenticated: true})
		if err != nil && obhub.ErrorCode(err) != obhub.EINVALID {
			t.Fatalf("unexpected error kind: %v", err)
		}
		for _, d := range obhub.ErrorDetails(err) {
			if len(body) > 8 && strings.Contains(d.Message, string(body)) {
				t.Fatalf("problem echoes the body: %+v", d)
			}
		}
	})
}

func TestNeedsValidation(t *testing.T) {
	doc := []byte(`openapi: 3.0.3
info: {title: T, version: "1"}
paths:
  /items:
    get:
      operationId: listItems
      responses: {"200": {description: ok}}
    post:
      operationId: addItem
      requestBody: {content: {application/json: {schema: {type: object}}}}
      responses: {"201": {description: ok}}
  /items/{id}:
    parameters: [{name: id, in: path, required: true, schema: {type: string}}]
    get:
      operationId: getItem
      responses: {"200": {description: ok}}
  /search:
    get:
      operationId: search
      parameters: [{name: q, in: query, schema: {type: string}}]
      responses: {"200": {description: ok}}
`)
	d := mustImport(t, doc)
	vs := NewValidators(&countingSource{doc: d.JSON})
	api := &catalog.API{ID: "t", SpecDigest: "x"}
	for id, want := range map[string]bool{"listItems": false, "addItem": true, "getItem": true, "search": true} {
		got, err := vs.NeedsValidation(context.Background(), api, opOf(d, id))
		if err != nil || got != want {
			t.Errorf("NeedsValidation(%s) = %v, %v; want %v", id, got, err, want)
		}
	}
	if _, err := NewValidators(&countingSource{fail: true}).NeedsValidation(context.Background(), api, opOf(d, "listItems")); obhub.ErrorCode(err) != obhub.EUNAVAILABLE {
		t.Fatalf("store failure: %v, want EUNAVAILABLE (fail closed)", err)
	}
}

const transfersDoc = `
openapi: 3.0.3
info: {title: Transfers, version: "1"}
paths:
  /transfers:
    post:
      operationId: createTransfer
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [amount]
              properties:
                amount:
                  allOf: [{$ref: '#/components/schemas/Money'}]
                  description: More than zero.
      responses: {"201": {description: created}}
components:
  schemas:
    Money:
      type: object
      required: [amount, currency]
      properties:
        amount: {type: string, pattern: '^[0-9]+\.[0-9]{2}$'}
        currency: {type: string, enum: [CNY]}
`

// A value that fails a schema reached through allOf (the way documents
// attach a description to a $ref) is reported where and why it fails,
// not as "doesn't match all schemas from allOf".
func TestValidateThroughAllOf(t *testing.T) {
	d := mustImport(t, []byte(transfersDoc))
	v, op := d.NewValidator(), opOf(d, "createTransfer")
	for _, tt := range []struct {
		body string
		want []string // location: words of the message
	}{
		{`{"amount":{"amount":1.00,"currency":"CNY"}}`, []string{"body/amount/amount: string"}},
		{`{"amount":1.00}`, []string{"body/amount: object"}},
		{`{"amount":{"amount":"1.00","currency":"USD"}}`, []string{"body/amount/currency: "}},
	} {
		err := v.Validate(context.Background(), op, Input{Request: newReq("POST", "/transfers", "application/json", []byte(tt.body), nil), Authenticated: true})
		ds := obhub.ErrorDetails(err)
		var got []string
		for _, d := range ds {
			got = append(got, d.Location+": "+d.Message)
			if strings.Contains(d.Message, "allOf") {
				t.Errorf("%s: problem %+v names the combinator, not the failure", tt.body, d)
			}
		}
		for _, w := range tt.want {
			loc, words, _ := strings.Cut(w, ": ")
			if !slices.ContainsFunc(ds, func(d obhub.Detail) bool { return d.Location == loc && strings.Contains(d.Message, words) }) {
				t.Errorf("%s: problems %q, want one at %s saying %q", tt.body, got, loc, words)
			}
		}
	}
}
