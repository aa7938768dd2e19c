package sqlite_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/catalog"
	"github.com/obhub/obhub/demo"
	"github.com/obhub/obhub/openapi"
	"github.com/obhub/obhub/sandbox"
	"github.com/obhub/obhub/store/sqlite"
)

type sandboxSpecs map[string][]byte

func (s sandboxSpecs) APISpec(_ context.Context, id string) ([]byte, error) { return s[id], nil }

func sandboxAPI(t *testing.T, specs sandboxSpecs, file, id string) catalog.API {
	t.Helper()
	raw, err := demo.Spec(file)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi.Import(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(doc.JSON)
	specs[id] = doc.JSON
	return catalog.API{ID: id, Bank: demo.Qingshan, BasePath: doc.BasePath, SpecDigest: hex.EncodeToString(sum[:]), Operations: doc.Operations}
}

// TestSandboxStore: an app's sandbox bank outlives its Sandbox (a
// restart) on the same sandbox.db, apps stay apart, and a reset forgets.
func TestSandboxStore(t *testing.T) {
	ctx := context.Background()
	specs := sandboxSpecs{}
	accounts := sandboxAPI(t, specs, "qingshan-accounts.yaml", "qs-accounts")
	payments := sandboxAPI(t, specs, "qingshan-payments.yaml", "qs-payments")
	path := filepath.Join(t.TempDir(), "sandbox.db")
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	clock := obhub.Clock(func() time.Time { return now })

	start := func(t *testing.T) (*sandbox.Sandbox, *sqlite.SandboxStore) {
		st := sqlite.NewSandboxStore(path)
		if err := st.Open(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return sandbox.New(sandbox.Config{Specs: specs, Clock: clock, Store: st}), st
	}
	call := func(t *testing.T, s *sandbox.Sandbox, api catalog.API, opID, client, path, body string, h http.Header) (int, map[string]any) {
		t.Helper()
		var o catalog.Operation
		for _, x := range api.Operations {
			if x.ID == opID {
				o = x
			}
		}
		if h == nil {
			h = http.Header{}
		}
		r, err := s.Respond(ctx, sandbox.Request{API: api, Operation: o, Method: o.Method, Path: api.BasePath + path, Header: h, Body: []byte(body), ClientID: client})
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		json.Unmarshal(r.Body, &v)
		return r.Status, v
	}
	available := func(t *testing.T, s *sandbox.Sandbox, client string) string {
		t.Helper()
		_, v := call(t, s, accounts, "getBalances", client, "/accounts/qs-10001/balances", "", nil)
		for _, b := range v["data"].(map[string]any)["balances"].([]any) {
			if b := b.(map[string]any); b["type"] == "available" {
				return b["amount"].(map[string]any)["amount"].(string)
			}
		}
		t.Fatal("no available balance")
		return ""
	}
	newest := func(t *testing.T, s *sandbox.Sandbox, client string) any {
		t.Helper()
		_, v := call(t, s, accounts, "listTransactions", client, "/accounts/qs-10001/transactions", "", nil)
		return v["data"].([]any)[0].(map[string]any)["transactionId"]
	}

	s1, st1 := start(t)
	seed := available(t, s1, "app1")
	pay := `{"debtorAccount":{"accountId":"qs-10001"},"creditorAccount":{"accountNumber":"6228480402564890018","name":"青山县农资有限公司"},"amount":{"amount":"100.00","currency":"CNY"},"remittanceInformation":"种子"}`
	h := http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {"k1"}}
	code, v := call(t, s1, payments, "createDomesticPayment", "app1", "/domestic-payments", pay, h)
	if code != http.StatusCreated {
		t.Fatalf("payment: %d %v", code, v)
	}
	payID := v["data"].(map[string]any)["paymentId"]
	paid := available(t, s1, "app1")
	if paid == seed {
		t.Fatalf("the payment did not move money (%s)", seed)
	}
	now = now.Add(2 * time.Minute) // the payment settles a minute later
	st1.Close()

	s2, _ := start(t)
	if got := available(t, s2, "app1"); got != paid {
		t.Errorf("after a restart the balance is %s, want %s", got, paid)
	}
	if got := newest(t, s2, "app1"); got != payID {
		t.Errorf("after a restart the newest transaction is %v, want payment %v", got, payID)
	}
	if _, v := call(t, s2, payments, "getDomesticPayment", "app1", "/domestic-payments/"+payID.(string), "", nil); v["data"] == nil {
		t.Errorf("after a restart the payment is gone: %v", v)
	} else if st := v["data"].(map[string]any)["status"]; st == "" || st == nil {
		t.Errorf("payment status %v", st)
	}
	// The same Idempotency-Key still names the same payment.
	if code, v := call(t, s2, payments, "createDomesticPayment", "app1", "/domestic-payments", pay, h); code >= 300 || v["data"].(map[string]any)["paymentId"] != payID {
		t.Errorf("idempotent retry after restart: %d %v", code, v)
	}
	if got := available(t, s2, "app2"); got != seed {
		t.Errorf("another app sees %s, want the seed %s", got, seed)
	}
	if err := s2.Reset(ctx, "app1"); err != nil {
		t.Fatal(err)
	}
	if got := available(t, s2, "app1"); got != seed {
		t.Errorf("after reset %s, want the seed %s", got, seed)
	}
	s3, _ := start(t)
	if got := available(t, s3, "app1"); got != seed {
		t.Errorf("after reset and restart %s, want the seed %s", got, seed)
	}
}
