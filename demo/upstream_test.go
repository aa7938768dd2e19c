package demo

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestUpstreamRefusesWhatIsNotThere(t *testing.T) {
	h := NewUpstream(func() time.Time { return t0 })
	for _, tc := range []struct {
		name, method, path string
		want               int
	}{
		{"unknown path", "GET", "/qingshan-rcb/open-banking/cards/v1/cards", 404},
		{"unknown bank", "GET", "/nanshan-rcb" + AccountsBasePath + "/accounts", 404},
		{"root", "GET", "/", 404},
		{"Hexi publishes no payments API", "GET", "/hexi-rcc" + PaymentsBasePath + "/domestic-payments/X", 404},
		{"Qingshan publishes no locator", "GET", "/qingshan-rcb" + BranchesBasePath + "/branches", 404},
		{"no base path", "GET", "/qingshan-rcb/accounts", 404},
		{"wrong method", "DELETE", "/qingshan-rcb" + AccountsBasePath + "/accounts", 405},
		{"GET on a POST-only path", "GET", "/qingshan-rcb" + PaymentsBasePath + "/domestic-payments", 405},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := do(t, h, tc.method, tc.path, "")
			if rec.Code != tc.want {
				t.Fatalf("status %d; want %d", rec.Code, tc.want)
			}
			var e errorJSON
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Code == "" || e.Message == "" {
				t.Errorf("body %q is not a JSON error (%v)", rec.Body, err)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q", ct)
			}
		})
	}
}

func TestUpstreamEchoesWhatTheGatewayAdded(t *testing.T) {
	h := NewUpstream(func() time.Time { return t0 })
	path := "/qingshan-rcb" + AccountsBasePath + "/accounts"
	rec := do(t, h, "GET", path, "", "X-Obhub-Client-Id", "c-123", "X-Obhub-Partner-Id", "agrifin", "X-Request-Id", "req-9")
	if got, want := rec.Header().Get("X-Demo-Seen-Client"), "client_id=c-123; partner_id=agrifin; request_id=req-9"; got != want {
		t.Errorf("X-Demo-Seen-Client = %q; want %q", got, want)
	}
	rec = do(t, h, "GET", "/nowhere", "")
	if got, want := rec.Header().Get("X-Demo-Seen-Client"), "client_id=-; partner_id=-; request_id=-"; got != want {
		t.Errorf("called directly: X-Demo-Seen-Client = %q; want %q", got, want)
	}
	rec = do(t, h, "GET", path, "", "X-Obhub-Client-Id", "a;b"+strings.Repeat("x", 300))
	if got := rec.Header().Get("X-Demo-Seen-Client"); strings.Count(got, ";") != 2 || len(got) > 200 {
		t.Errorf("X-Demo-Seen-Client = %q; want the value cut and its separators replaced", got)
	}
}

// TestTransactions checks the ledger: newest first, inside the window,
// paged without overlap, and balances that add up.
func TestTransactions(t *testing.T) {
	h := NewUpstream(func() time.Time { return t0 })
	base := "/qingshan-rcb" + AccountsBasePath + "/accounts/qs-10005"
	list := func(query string) ([]transactionJSON, pageMeta) {
		t.Helper()
		rec := do(t, h, "GET", base+"/transactions?"+query, "")
		var body struct {
			Data []transactionJSON
			Meta pageMeta
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != http.StatusOK {
			t.Fatalf("%s: %d %v", query, rec.Code, err)
		}
		return body.Data, body.Meta
	}
	all, meta := list("pageSize=100")
	if len(all) < 20 || meta.TotalRecords != len(all) || meta.TotalPages != 1 {
		t.Fatalf("%d transactions, meta %+v", len(all), meta)
	}
	oldest, _ := time.Parse(time.RFC3339, all[len(all)-1].BookingDateTime)
	newest, _ := time.Parse(time.RFC3339, all[0].BookingDateTime)
	if !newest.Before(t0) || t0.Sub(oldest) > historyDays*24*time.Hour {
		t.Errorf("transactions from %v to %v; want the %d days before %v", oldest, newest, historyDays, t0)
	}
	for i := 1; i < len(all); i++ {
		prev, cur := all[i], all[i-1] // prev happened first
		if prev.BookingDateTime > cur.BookingDateTime {
			t.Fatalf("not newest first at %d", i)
		}
		before, _ := money.fen(prev.BalanceAfter)
		after, _ := money.fen(cur.BalanceAfter)
		amount, _ := money.fen(cur.Amount)
		if cur.CreditDebitIndicator == "debit" {
			amount = -amount
		}
		if before+amount != after {
			t.Errorf("%s: balance %s %+d fen gives %s", cur.TransactionID, prev.BalanceAfter.Amount, amount, cur.BalanceAfter.Amount)
		}
	}

	var bal struct{ Balances []balanceJSON }
	decodeData(t, do(t, h, "GET", base+"/balances", ""), &bal)
	if bal.Balances[0].Amount != all[0].BalanceAfter || bal.Balances[1].Amount == bal.Balances[0].Amount {
		t.Errorf("balances %+v; want booked = last balanceAfter %s, and less available (a frozen margin)", bal.Balances, all[0].BalanceAfter.Amount)
	}

	from, to := all[len(all)-5].BookingDateTime, all[4].BookingDateTime
	window, _ := list("fromBookingDateTime=" + strings.Replace(from, "+", "%2B", 1) + "&toBookingDateTime=" + strings.Replace(to, "+", "%2B", 1) + "&pageSize=100")
	if len(window) != len(all)-8 || window[0] != all[4] || window[len(window)-1] != all[len(all)-5] {
		t.Errorf("window [%s, %s] holds %d transactions; want %d, both ends included", from, to, len(window), len(all)-8)
	}

	var paged []transactionJSON
	for page := 1; ; page++ {
		items, meta := list(fmt.Sprintf("page=%d&pageSize=7", page))
		paged = append(paged, items...)
		if page >= meta.TotalPages {
			if len(items) == 0 && meta.TotalRecords > 0 {
				t.Error("the last page is empty")
			}
			break
		}
	}
	if len(paged) != len(all) || paged[7] != all[7] || paged[len(paged)-1] != all[len(all)-1] {
		t.Errorf("pages of 7 give %d transactions; want the same %d", len(paged), len(all))
	}
	if items, _ := list("page=99"); items == nil || len(items) != 0 {
		t.Errorf("a page past the end = %v; want []", items)
	}
}

// TestConcurrentWrites runs payments and applications in parallel (for
// the race detector) and checks every one is kept with its own id.
func TestConcurrentWrites(t *testing.T) {
	h := NewUpstream(func() time.Time { return t0 })
	const n = 20
	ids := make(chan string, 2*n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			rec := do(t, h, "POST", "/qingshan-rcb"+PaymentsBasePath+"/domestic-payments", paymentBody, "Idempotency-Key", fmt.Sprint("k", i))
			var p payment
			if json.Unmarshal(rec.Body.Bytes(), &struct{ Data any }{&p}) == nil {
				ids <- p.PaymentID
			}
		})
		wg.Go(func() {
			rec := do(t, h, "POST", "/qingshan-rcb"+LoansBasePath+"/loan-applications", loan("qs-lp-crop", 12))
			var a loanApp
			if json.Unmarshal(rec.Body.Bytes(), &struct{ Data any }{&a}) == nil {
				ids <- a.ApplicationID
			}
		})
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		if id == "" || seen[id] {
			t.Errorf("id %q empty or given twice", id)
		}
		seen[id] = true
		kind := "domestic-payments/"
		if strings.Contains(id, "-LA-") {
			kind = "loan-applications/"
		}
		base := PaymentsBasePath
		if kind == "loan-applications/" {
			base = LoansBasePath
		}
		if rec := do(t, h, "GET", "/qingshan-rcb"+base+"/"+kind+id, ""); rec.Code != http.StatusOK {
			t.Errorf("%s: %d", id, rec.Code)
		}
	}
	if len(seen) != 2*n {
		t.Errorf("%d ids; want %d", len(seen), 2*n)
	}
}

func TestStoreForgetsTheOldest(t *testing.T) {
	s := newStore()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range maxKept + 3 {
		id := s.nextID("QS", "PAY", t0)
		s.payments[id] = &payment{}
		s.idempotency[fmt.Sprint(i)] = id
		s.keep(id, func() { delete(s.payments, id); delete(s.idempotency, fmt.Sprint(i)) })
	}
	if len(s.payments) != maxKept || len(s.idempotency) != maxKept || len(s.forget) != maxKept {
		t.Errorf("kept %d payments, %d keys, %d ids; want %d", len(s.payments), len(s.idempotency), len(s.forget), maxKept)
	}
	if s.payments["QS-PAY-20261127-000001"] != nil || s.payments["QS-PAY-20261127-010003"] == nil {
		t.Error("kept the wrong ones")
	}
}

func TestMasking(t *testing.T) {
	for _, tc := range []struct{ in, id, mobile, account string }{
		{"36072219800101002X", "3****************X", "360***********002X", "360722********002X"},
		{"13893651234", "1*********4", "138****1234", "138936*1234"},
		{"", "", "", ""},
	} {
		if got := maskID(tc.in); got != tc.id {
			t.Errorf("maskID(%q) = %q; want %q", tc.in, got, tc.id)
		}
		if got := maskMobile(tc.in); got != tc.mobile {
			t.Errorf("maskMobile(%q) = %q; want %q", tc.in, got, tc.mobile)
		}
		if got := maskAccount(tc.in); got != tc.account {
			t.Errorf("maskAccount(%q) = %q; want %q", tc.in, got, tc.account)
		}
	}
}
