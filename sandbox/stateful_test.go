package sandbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/catalog"
	"github.com/obhub/obhub/demo"
	"github.com/obhub/obhub/openapi"
)

// demoAPI imports one demo document as the catalog would.
func demoAPI(t testing.TB, file, id string) (catalog.API, []byte) {
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
	return catalog.API{ID: id, Bank: demo.Qingshan, BasePath: doc.BasePath, SpecDigest: hex.EncodeToString(sum[:]), Operations: doc.Operations}, doc.JSON
}

func TestStatefulBank(t *testing.T) {
	accounts, accountsDoc := demoAPI(t, "qingshan-accounts.yaml", "qingshan-accounts")
	payments, paymentsDoc := demoAPI(t, "qingshan-payments.yaml", "qingshan-payments")
	loans, loansDoc := demoAPI(t, "qingshan-loans.yaml", "qingshan-loans")
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	s := New(Config{Specs: specs{accounts.ID: accountsDoc, payments.ID: paymentsDoc, loans.ID: loansDoc}, Clock: obhub.Clock(func() time.Time { return now })})

	do := func(t *testing.T, api catalog.API, opID, client, path, body string, headers ...string) (Response, map[string]any) {
		t.Helper()
		h := http.Header{"Content-Type": {"application/json"}}
		for _, hv := range headers {
			k, v, _ := strings.Cut(hv, ":")
			h.Set(k, strings.TrimSpace(v))
		}
		r, err := s.Respond(context.Background(), Request{API: api, Operation: op(t, api, opID), Method: op(t, api, opID).Method,
			Path: api.BasePath + path, Header: h, Body: []byte(body), ClientID: client})
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		json.Unmarshal(r.Body, &v)
		return r, v
	}
	available := func(t *testing.T, client string) string {
		t.Helper()
		_, v := do(t, accounts, "getBalances", client, "/accounts/qs-10001/balances", "")
		for _, b := range v["data"].(map[string]any)["balances"].([]any) {
			if b := b.(map[string]any); b["type"] == "available" {
				return b["amount"].(map[string]any)["amount"].(string)
			}
		}
		t.Fatal("no available balance")
		return ""
	}

	before := available(t, "app1")
	pay := `{"debtorAccount":{"accountId":"qs-10001"},"creditorAccount":{"accountNumber":"6228480402564890018","name":"青山县农资有限公司"},"amount":{"amount":"100.00","currency":"CNY"},"remittanceInformation":"种子"}`
	r, v := do(t, payments, "createDomesticPayment", "app1", "/domestic-payments", pay, "Idempotency-Key: k1")
	if r.Status != http.StatusCreated {
		t.Fatalf("payment %d %s", r.Status, r.Body)
	}
	id := v["data"].(map[string]any)["paymentId"]
	if after := available(t, "app1"); cents(after) != cents(before)-10000 {
		t.Errorf("balance %s → %s, want 100.00 less", before, after)
	}
	if other := available(t, "app2"); other != before {
		t.Errorf("another app's balance changed: %s → %s", before, other)
	}
	_, tx := do(t, accounts, "listTransactions", "app1", "/accounts/qs-10001/transactions", "")
	if first := tx["data"].([]any)[0].(map[string]any); first["transactionId"] != id {
		t.Errorf("newest transaction %v, want payment %v", first["transactionId"], id)
	}

	app := `{"productId":"qs-lp-crop","applicant":{"name":"王建国","residentIdNumber":"` + ResidentID(rand.New(rand.NewPCG(3, 4))) + `","mobile":"13800001111","village":"东关村"},"amount":{"amount":"20000.00","currency":"CNY"},"termMonths":12,"purpose":"春耕农资"}`
	r, v = do(t, loans, "createLoanApplication", "app1", "/loan-applications", app)
	if r.Status != http.StatusCreated {
		t.Fatalf("loan application %d %s", r.Status, r.Body)
	}
	appID := v["data"].(map[string]any)["applicationId"].(string)
	now = now.Add(demo.ApplicationDecisionAfter)
	_, v = do(t, loans, "getLoanApplication", "app1", "/loan-applications/"+appID, "")
	if st := v["data"].(map[string]any)["status"]; st != "approved" {
		t.Errorf("application status after %v: %v, want approved", demo.ApplicationDecisionAfter, st)
	}

	if err := s.Reset(context.Background(), "app1"); err != nil {
		t.Fatal(err)
	}
	if got := available(t, "app1"); got != before {
		t.Errorf("after reset %s, want %s", got, before)
	}
}

func cents(s string) int64 {
	var n int64
	for _, c := range s {
		if c >= '0' && c <= '9' {
			n = n*10 + int64(c-'0')
		}
	}
	return n
}
