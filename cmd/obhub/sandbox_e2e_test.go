package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/obhub/obhub/demo"
)

// TestSandbox runs a demo node and uses the sandbox as a partner
// developer does: the sandbox app's token works on /sandbox/… only, the
// demo bank is stateful per app (pay, see the balance drop and the
// payment listed, reset), and other APIs answer from their documents.
func TestSandbox(t *testing.T) {
	clock := &testClock{}
	m := runMain(t, withDemo(), withClock(clock))
	h := newHub(t, m, testAdminToken)
	env := readDemoEnv(t, filepath.Join(m.Config.Data, "demo.env"))
	sandboxID, sandboxSecret := env["SANDBOX_CLIENT_ID"], env["SANDBOX_CLIENT_SECRET"]
	// The demo sandbox app's Payments subscription waits for approval.
	h.adminCall(t, "POST", "/apps/"+sandboxID+"/subscriptions/"+demo.PaymentsProduct+"/approve", nil, http.StatusOK, nil)
	sb := h.token(t, sandboxID, sandboxSecret, "")
	prod := h.token(t, env["PRODUCTION_CLIENT_ID"], env["PRODUCTION_CLIENT_SECRET"], "")

	accounts := "/" + demo.Qingshan + demo.AccountsBasePath + "/accounts"
	balances := "/sandbox" + accounts + "/qs-10001/balances"
	transactions := "/sandbox" + accounts + "/qs-10001/transactions"
	payments := "/sandbox/" + demo.Qingshan + demo.PaymentsBasePath + "/domestic-payments"

	t.Run("isolation", func(t *testing.T) {
		wantProblem(t, h.call(t, "GET", accounts, sb, nil), http.StatusForbidden, "wrong-environment")
		wantProblem(t, h.call(t, "GET", "/sandbox"+accounts, prod, nil), http.StatusForbidden, "wrong-environment")
		wantProblem(t, h.call(t, "POST", "/sandbox/reset", prod, nil), http.StatusForbidden, "wrong-environment")
		wantProblem(t, h.call(t, "POST", "/sandbox/reset", "", nil), http.StatusUnauthorized, "invalid-token")
		wantProblem(t, h.call(t, "GET", "/sandbox"+accounts, "", nil), http.StatusUnauthorized, "invalid-token")
		r := h.call(t, "GET", "/sandbox"+accounts, sb, nil)
		if r.status != http.StatusOK || r.header.Get("X-Obhub-Sandbox") != "stateful" {
			t.Fatalf("sandbox accounts: %s (X-Obhub-Sandbox %q)", r, r.header.Get("X-Obhub-Sandbox"))
		}
		if r.header.Get("X-Demo-Seen-Client") != "" {
			t.Error("the sandbox leaks the demo core's header")
		}
	})

	available := func(t *testing.T) string {
		t.Helper()
		r := h.call(t, "GET", balances, sb, nil)
		if r.status != http.StatusOK {
			t.Fatalf("balances: %s", r)
		}
		var b struct {
			Data struct {
				Balances []struct {
					Type   string                  `json:"type"`
					Amount struct{ Amount string } `json:"amount"`
				} `json:"balances"`
			} `json:"data"`
		}
		if err := json.Unmarshal(r.body, &b); err != nil {
			t.Fatal(err)
		}
		for _, x := range b.Data.Balances {
			if x.Type == "available" {
				return x.Amount.Amount
			}
		}
		t.Fatalf("no available balance in %s", r.body)
		return ""
	}
	firstTransaction := func(t *testing.T) map[string]any {
		t.Helper()
		r := h.call(t, "GET", transactions, sb, nil)
		var l struct{ Data []map[string]any }
		if r.status != http.StatusOK || json.Unmarshal(r.body, &l) != nil || len(l.Data) == 0 {
			t.Fatalf("transactions: %s", r)
		}
		return l.Data[0]
	}

	before := available(t)
	var paymentID string
	t.Run("a payment moves money and is listed", func(t *testing.T) {
		body := `{"debtorAccount":{"accountId":"qs-10001"},"creditorAccount":{"accountNumber":"6228480402564890018","name":"青山县农资有限公司"},"amount":{"amount":"3860.00","currency":"CNY"},"remittanceInformation":"复合肥20袋"}`
		r := h.call(t, "POST", payments, sb, strings.NewReader(body), "Content-Type: application/json", "Idempotency-Key: sandbox-e2e-1")
		if r.status != http.StatusCreated {
			t.Fatalf("payment: %s", r)
		}
		var p struct{ Data struct{ PaymentID string } }
		if err := json.Unmarshal(r.body, &p); err != nil || p.Data.PaymentID == "" {
			t.Fatalf("payment answer %s", r.body)
		}
		paymentID = p.Data.PaymentID
		if loc := r.header.Get("Location"); !strings.HasPrefix(loc, "/sandbox/"+demo.Qingshan+"/") {
			t.Errorf("Location %q is not a sandbox path", loc)
		}
		after := available(t)
		if got, want := cents(t, before)-cents(t, after), int64(386000); got != want {
			t.Errorf("available balance %s → %s: moved %d fen, want %d", before, after, got, want)
		}
		first := firstTransaction(t)
		if first["transactionId"] != paymentID || first["creditDebitIndicator"] != "debit" {
			t.Errorf("newest transaction %v, want the payment %s as a debit", first, paymentID)
		}
		got := h.call(t, "GET", payments+"/"+paymentID, sb, nil)
		if got.status != http.StatusOK {
			t.Errorf("GET the payment: %s", got)
		}
	})

	t.Run("validation errors say what to fix in English and Chinese", func(t *testing.T) {
		body := `{"debtorAccount":{"accountId":"qs-10001"},"creditorAccount":{"accountNumber":"6228480402564890018","name":"x"},"amount":{"amount":"99999999.00","currency":"CNY"},"remittanceInformation":"too much"}`
		r := h.call(t, "POST", payments, sb, strings.NewReader(body), "Content-Type: application/json", "Idempotency-Key: sandbox-e2e-2")
		if r.status < 400 || r.status >= 500 {
			t.Fatalf("overdraft: %s", r)
		}
		var e struct{ Code, Message, MessageZh string }
		if err := json.Unmarshal(r.body, &e); err != nil || e.Message == "" || e.MessageZh == "" {
			t.Errorf("error %s lacks an English or Chinese message", r.body)
		}
	})

	t.Run("reset restores the seed", func(t *testing.T) {
		r := h.call(t, "POST", "/sandbox/reset", sb, nil)
		if r.status != http.StatusOK {
			t.Fatalf("reset: %s", r)
		}
		if got := available(t); got != before {
			t.Errorf("available balance after reset %s, want %s", got, before)
		}
		if first := firstTransaction(t); first["transactionId"] == paymentID {
			t.Error("the payment is still listed after reset")
		}
		wantProblem(t, h.call(t, "GET", "/sandbox/reset", sb, nil), http.StatusMethodNotAllowed, "method-not-allowed")
	})

	t.Run("Prefer selects a documented response from the document", func(t *testing.T) {
		r := h.call(t, "GET", "/sandbox"+accounts+"/qs-10001", sb, nil, "Prefer: code=404")
		if r.status != http.StatusNotFound || r.header.Get("X-Obhub-Sandbox") != "generated" {
			t.Fatalf("Prefer: code=404: %s", r)
		}
		a := h.call(t, "GET", "/sandbox"+accounts, sb, nil, "Prefer: dynamic=true")
		b := h.call(t, "GET", "/sandbox"+accounts, sb, nil, "Prefer: dynamic=true")
		if a.status != http.StatusOK || !bytes.Equal(a.body, b.body) {
			t.Errorf("dynamic answers differ or fail: %s / %s", a, b)
		}
		p := wantProblem(t, h.call(t, "GET", "/sandbox"+accounts, sb, nil, "Prefer: code=418"), http.StatusBadRequest, "invalid-request")
		if !strings.Contains(p.Detail, "418") {
			t.Errorf("detail %q does not name the code", p.Detail)
		}
	})
}

// TestSandboxGenerated checks an API outside the demo: the sandbox app of
// a new alliance gets answers generated from the document, never from the
// bank's upstream.
func TestSandboxGenerated(t *testing.T) {
	m := runMain(t)
	h := newHub(t, m, testAdminToken)
	core := newCoreSystem(t)
	a := setupAlliance(t, h, core)
	sb := h.token(t, a.sandbox.ClientID, a.sandbox.ClientSecret, "")
	r := h.call(t, "GET", "/sandbox/"+a.bank+farmBase+"/accounts", sb, nil)
	if r.status != http.StatusOK || r.header.Get("X-Obhub-Sandbox") != "generated" {
		t.Fatalf("sandbox call: %s", r)
	}
	if core.count() != 0 {
		t.Error("a sandbox call reached the bank's upstream")
	}
}

// cents parses "1234.56" into 123456.
func cents(t testing.TB, s string) int64 {
	t.Helper()
	whole, frac, ok := strings.Cut(s, ".")
	if !ok || len(frac) != 2 {
		t.Fatalf("amount %q", s)
	}
	var n int64
	for _, c := range whole + frac {
		if c < '0' || c > '9' {
			t.Fatalf("amount %q", s)
		}
		n = n*10 + int64(c-'0')
	}
	return n
}
