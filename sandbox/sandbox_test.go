package sandbox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/catalog"
	"github.com/obhub/obhub/openapi"
)

// specs is an in-memory Specs: API id → canonical document.
type specs map[string][]byte

func (s specs) APISpec(_ context.Context, id string) ([]byte, error) {
	b, ok := s[id]
	if !ok {
		return nil, obhub.Errorf(obhub.ENOTFOUND, "no API %s", id)
	}
	return b, nil
}

// fixture imports a document and returns a sandbox serving it, the API
// and the document.
func fixture(t testing.TB, file string) (*Sandbox, catalog.API, *openapi.Document) {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi.Import(context.Background(), raw)
	if err != nil {
		t.Fatalf("import %s: %v %v", file, err, obhub.ErrorDetails(err))
	}
	sum := sha256.Sum256(doc.JSON)
	api := catalog.API{ID: "farm", Bank: "bank1", BasePath: doc.BasePath, SpecDigest: hex.EncodeToString(sum[:]), Operations: doc.Operations}
	return New(Config{Specs: specs{"farm": doc.JSON}}), api, doc
}

func op(t testing.TB, api catalog.API, id string) catalog.Operation {
	t.Helper()
	for _, o := range api.Operations {
		if o.ID == id {
			return o
		}
	}
	t.Fatalf("no operation %s", id)
	return catalog.Operation{}
}

func call(t testing.TB, s *Sandbox, api catalog.API, o catalog.Operation, client string, params map[string]string, query string, headers ...string) (Response, error) {
	t.Helper()
	h := http.Header{}
	for _, hv := range headers {
		k, v, _ := strings.Cut(hv, ":")
		h.Add(k, strings.TrimSpace(v))
	}
	return s.Respond(context.Background(), Request{
		API: api, Operation: o, PathParams: params, Method: o.Method, Path: api.BasePath + o.Path,
		Query: query, Header: h, ClientID: client, Partner: "p1", RequestID: "r1",
	})
}

func TestGeneratedResponses(t *testing.T) {
	s, api, doc := fixture(t, "testdata/farm.yaml")
	val, err := newSchemaValidator(t, doc.JSON)
	if err != nil {
		t.Fatal(err)
	}
	getCustomer := op(t, api, "getCustomer")
	params := map[string]string{"customerId": "C000001"}

	t.Run("the success response matches its schema, with realistic data", func(t *testing.T) {
		r, err := call(t, s, api, getCustomer, "app1", params, "")
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != 200 || r.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("status %d, content type %q", r.Status, r.Header.Get("Content-Type"))
		}
		if err := val.validate("/customers/{customerId}", "GET", "200", "application/json", r.Body); err != nil {
			t.Errorf("body does not match its schema: %v\n%s", err, r.Body)
		}
		var c map[string]any
		if err := json.Unmarshal(r.Body, &c); err != nil {
			t.Fatal(err)
		}
		if id, _ := c["residentIdNumber"].(string); !ValidResidentID(id) {
			t.Errorf("residentIdNumber %q has no valid check character", id)
		}
		if card, _ := c["cardNumber"].(string); !ValidLuhn(card) {
			t.Errorf("cardNumber %q is not Luhn-valid", card)
		}
		if name, _ := c["holderName"].(string); !regexp.MustCompile(`^\p{Han}{2,3}$`).MatchString(name) {
			t.Errorf("holderName %q is not a Chinese name", name)
		}
		if a, _ := c["address"].(string); !strings.Contains(a, "县") && !strings.Contains(a, "市") {
			t.Errorf("address %q is not a county address", a)
		}
		if _, ok := c["secret"]; ok {
			t.Error("a writeOnly property is in a response")
		}
		if farm, ok := c["farm"].(map[string]any); !ok || farm["landAreaMu"] == nil || farm["crops"] == nil {
			t.Errorf("allOf not merged: farm = %v", c["farm"])
		}
		if r.Header.Get("ETag") == "" || r.Header.Get("X-Rate-Remaining") == "" {
			t.Errorf("declared headers missing: %v", r.Header)
		}
	})

	t.Run("deterministic per app, operation and parameters", func(t *testing.T) {
		a, _ := call(t, s, api, getCustomer, "app1", params, "")
		b, _ := call(t, s, api, getCustomer, "app1", params, "")
		if !bytes.Equal(a.Body, b.Body) || a.Header.Get("ETag") != b.Header.Get("ETag") {
			t.Error("the same call gave different answers")
		}
		other, _ := call(t, s, api, getCustomer, "app2", params, "")
		if bytes.Equal(a.Body, other.Body) {
			t.Error("another app got the same data")
		}
		param, _ := call(t, s, api, getCustomer, "app1", map[string]string{"customerId": "C000002"}, "")
		if bytes.Equal(a.Body, param.Body) {
			t.Error("another customer id gave the same data")
		}
	})

	t.Run("Prefer: code=404 answers the documented 404", func(t *testing.T) {
		r, err := call(t, s, api, getCustomer, "app1", params, "", "Prefer: code=404")
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != 404 {
			t.Fatalf("status %d, want 404", r.Status)
		}
		if err := val.validate("/customers/{customerId}", "GET", "404", "application/json", r.Body); err != nil {
			t.Errorf("404 body does not match its schema: %v", err)
		}
	})

	t.Run("Prefer: an undocumented code is a 400 in English and Chinese", func(t *testing.T) {
		_, err := call(t, s, api, getCustomer, "app1", params, "", "Prefer: code=418")
		if obhub.ErrorCode(err) != obhub.EINVALID {
			t.Fatalf("err = %v, want EINVALID", err)
		}
		msg := obhub.ErrorMessage(err)
		if !strings.Contains(msg, "418") || !strings.Contains(msg, "200, 404") || !strings.Contains(msg, "接口文档") {
			t.Errorf("message %q does not say what is documented, in both languages", msg)
		}
		_, err = call(t, s, api, getCustomer, "app1", params, "", "Prefer: code=abc")
		if obhub.ErrorCode(err) != obhub.EINVALID {
			t.Errorf("Prefer: code=abc: err = %v, want EINVALID", err)
		}
	})

	listLoans := op(t, api, "listLoans")
	t.Run("examples: the default, a named one, dynamic data", func(t *testing.T) {
		def, _ := call(t, s, api, listLoans, "app1", nil, "")
		if !strings.Contains(string(def.Body), `"L-1"`) {
			t.Errorf("default answer is not the first example: %s", def.Body)
		}
		named, _ := call(t, s, api, listLoans, "app1", nil, "", "Prefer: example=livestock")
		if !strings.Contains(string(named.Body), `"L-2"`) {
			t.Errorf("Prefer: example=livestock gave %s", named.Body)
		}
		_, err := call(t, s, api, listLoans, "app1", nil, "", "Prefer: example=goats")
		if obhub.ErrorCode(err) != obhub.EINVALID || !strings.Contains(obhub.ErrorMessage(err), "crop, livestock, mixed") {
			t.Errorf("unknown example: %v", err)
		}
		dyn, _ := call(t, s, api, listLoans, "app1", nil, "", "Prefer: dynamic=true")
		if strings.Contains(string(dyn.Body), `"L-1"`) {
			t.Errorf("Prefer: dynamic=true returned the example")
		}
		if err := val.validate("/loans", "GET", "200", "application/json", dyn.Body); err != nil {
			t.Errorf("dynamic body does not match (oneOf with discriminator): %v\n%s", err, dyn.Body)
		}
		var body struct {
			Data []map[string]any `json:"data"`
		}
		json.Unmarshal(dyn.Body, &body)
		for _, l := range body.Data {
			if k := l["kind"]; k != "crop" && k != "livestock" {
				t.Errorf("discriminator kind = %v", k)
			}
		}
	})

	t.Run("recursive schemas are bounded", func(t *testing.T) {
		r, err := call(t, s, api, op(t, api, "getTree"), "app1", nil, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Body) > 64<<10 {
			t.Errorf("recursive body is %d bytes", len(r.Body))
		}
		if err := val.validate("/tree", "GET", "200", "application/json", r.Body); err != nil {
			t.Errorf("tree: %v", err)
		}
	})
}

func TestOpenAPI31Types(t *testing.T) {
	s, api, doc := fixture(t, "testdata/v31.yaml")
	val, err := newSchemaValidator(t, doc.JSON)
	if err != nil {
		t.Fatal(err)
	}
	for _, client := range []string{"a", "b", "c", "d"} {
		r, err := call(t, s, api, op(t, api, "listThings"), client, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := val.validate("/things", "GET", "200", "application/json", r.Body); err != nil {
			t.Errorf("%v\n%s", err, r.Body)
		}
	}
}

func TestNamer(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	mobile := regexp.MustCompile(`^1[3-9][0-9]{9}$`)
	amount := regexp.MustCompile(`^[0-9]+\.[0-9]{2}$`)
	for range 200 {
		if id := ResidentID(r); !ValidResidentID(id) {
			t.Fatalf("resident ID %q invalid", id)
		}
		if c := CardNumber(r); len(c) != 19 || !ValidLuhn(c) {
			t.Fatalf("card %q invalid", c)
		}
		if m := Mobile(r); !mobile.MatchString(m) {
			t.Fatalf("mobile %q", m)
		}
		if a := Amount(r); !amount.MatchString(a) {
			t.Fatalf("amount %q", a)
		}
		if b := BankCode(r); len(b) != 12 {
			t.Fatalf("bank code %q", b)
		}
	}
	// Known check characters (GB 11643 examples).
	if got := ResidentIDCheck("11010519491231002"); got != 'X' {
		t.Errorf("check of 11010519491231002 = %c, want X", got)
	}
	if !ValidLuhn("6228480402564890018") {
		t.Error("the walkthrough's card number should be Luhn-valid")
	}
	for _, tc := range []struct {
		name, typ string
		want      bool
	}{
		{"holderName", "string", true},
		{"residentIdNumber", "string", true},
		{"company", "string", false},
		{"ipAddress", "string", false},
		{"loanPurpose", "string", true},
		{"balance", "number", true},
		{"count", "integer", false},
		{"page", "integer", true},
		{"totalPages", "integer", true},
		{"accountId", "string", true},
		{"productName", "string", true},
		{"requestId", "string", false},
	} {
		_, ok := Namer{}.Value(openapi.Field{Name: tc.name, Path: tc.name, Type: tc.typ, MaxLength: -1}, r)
		if ok != tc.want {
			t.Errorf("namer on %s: %v, want %v", tc.name, ok, tc.want)
		}
	}
}

// Ids look like ids and a generated page says it is the first and only.
func TestNamerIdsAndPages(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	id := regexp.MustCompile(`^acc-[0-9]{5}$`)
	for range 50 {
		v, _ := Namer{}.Value(openapi.Field{Name: "accountId", Path: "data[0].accountId", Type: "string", MaxLength: -1}, r)
		if s, _ := v.(string); !id.MatchString(s) {
			t.Fatalf("accountId %v", v)
		}
		for _, f := range []openapi.Field{{Name: "branchName", Path: "branchName"}, {Name: "name", Path: "data[0].branch.name"}} {
			f.Type, f.MaxLength = "string", -1
			v, _ = Namer{}.Value(f, r)
			if s, _ := v.(string); !strings.HasSuffix(s, "支行") || !strings.Contains(s, "农商银行") || strings.Contains(s, "县") {
				t.Fatalf("%s: %v", f.Path, v)
			}
		}
	}
	for _, name := range []string{"page", "totalPages"} {
		if v, ok := (Namer{}).Value(openapi.Field{Name: name, Path: "meta." + name, Type: "integer", MaxLength: -1}, r); !ok || v != int64(1) {
			t.Errorf("%s = %v", name, v)
		}
	}
}

func TestParsePrefer(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want Prefer
	}{
		{nil, Prefer{}},
		{[]string{"code=404"}, Prefer{Code: 404}},
		{[]string{`example="livestock", dynamic=true`}, Prefer{Example: "livestock", Dynamic: true}},
		{[]string{"respond-async", "code=201; wait=5"}, Prefer{Code: 201}},
	} {
		got, err := ParsePrefer(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParsePrefer(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}
