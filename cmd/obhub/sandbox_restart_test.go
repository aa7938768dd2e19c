package main

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/obhub/obhub/demo"
)

// TestSandboxSurvivesRestart: a payment made in an app's sandbox bank is
// still there, balance and transaction, after the node restarts on the
// same data folder; a reset then restores the seed, for good.
func TestSandboxSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	clock := &testClock{}
	accounts := "/" + demo.Qingshan + demo.AccountsBasePath + "/accounts"
	balances := "/sandbox" + accounts + "/qs-10001/balances"
	transactions := "/sandbox" + accounts + "/qs-10001/transactions"
	payments := "/sandbox/" + demo.Qingshan + demo.PaymentsBasePath + "/domestic-payments"

	start := func(t *testing.T) (*Main, *hub, string) {
		m := runMain(t, withDemo(), withClock(clock), withData(dir))
		h := newHub(t, m, testAdminToken)
		env := readDemoEnv(t, filepath.Join(m.Config.Data, "demo.env"))
		return m, h, h.token(t, env["SANDBOX_CLIENT_ID"], env["SANDBOX_CLIENT_SECRET"], "")
	}
	available := func(t *testing.T, h *hub, sb string) string {
		t.Helper()
		r := h.call(t, "GET", balances, sb, nil)
		var b struct {
			Data struct {
				Balances []struct {
					Type   string                  `json:"type"`
					Amount struct{ Amount string } `json:"amount"`
				} `json:"balances"`
			} `json:"data"`
		}
		if r.status != http.StatusOK || json.Unmarshal(r.body, &b) != nil {
			t.Fatalf("balances: %s", r)
		}
		for _, x := range b.Data.Balances {
			if x.Type == "available" {
				return x.Amount.Amount
			}
		}
		t.Fatalf("no available balance in %s", r.body)
		return ""
	}
	newest := func(t *testing.T, h *hub, sb string) any {
		t.Helper()
		r := h.call(t, "GET", transactions, sb, nil)
		var l struct{ Data []map[string]any }
		if r.status != http.StatusOK || json.Unmarshal(r.body, &l) != nil || len(l.Data) == 0 {
			t.Fatalf("transactions: %s", r)
		}
		return l.Data[0]["transactionId"]
	}

	m1, h1, sb := start(t)
	env := readDemoEnv(t, filepath.Join(dir, "demo.env"))
	h1.adminCall(t, "POST", "/apps/"+env["SANDBOX_CLIENT_ID"]+"/subscriptions/"+demo.PaymentsProduct+"/approve", nil, http.StatusOK, nil)
	seed := available(t, h1, sb)
	body := `{"debtorAccount":{"accountId":"qs-10001"},"creditorAccount":{"accountNumber":"6228480402564890018","name":"青山县农资有限公司"},"amount":{"amount":"3860.00","currency":"CNY"},"remittanceInformation":"复合肥20袋"}`
	r := h1.call(t, "POST", payments, sb, strings.NewReader(body), "Content-Type: application/json", "Idempotency-Key: restart-1")
	if r.status != http.StatusCreated {
		t.Fatalf("payment: %s", r)
	}
	var p struct{ Data struct{ PaymentID string } }
	if err := json.Unmarshal(r.body, &p); err != nil || p.Data.PaymentID == "" {
		t.Fatalf("payment: %s", r)
	}
	paid := available(t, h1, sb)
	if paid == seed {
		t.Fatalf("the payment did not move money: %s", paid)
	}
	h1.c.CloseIdleConnections()
	if err := m1.Close(); err != nil {
		t.Fatal(err)
	}

	_, h2, sb2 := start(t)
	if got := available(t, h2, sb2); got != paid {
		t.Errorf("after a restart the available balance is %s, want %s (the seed is %s)", got, paid, seed)
	}
	if got := newest(t, h2, sb2); got != p.Data.PaymentID {
		t.Errorf("after a restart the newest transaction is %v, want the payment %s", got, p.Data.PaymentID)
	}
	if r := h2.call(t, "POST", "/sandbox/reset", sb2, nil); r.status != http.StatusOK {
		t.Fatalf("reset: %s", r)
	}
	if got := available(t, h2, sb2); got != seed {
		t.Errorf("after reset %s, want the seed %s", got, seed)
	}
}
