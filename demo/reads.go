package demo

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// The read operations: accounts, balances, transactions, loan products,
// branches and ATMs.

func (u *upstream) listAccounts(w http.ResponseWriter, r *http.Request, b *bank) {
	page, size, ok := paging(w, r.URL.Query())
	if !ok {
		return
	}
	all := make([]accountJSON, 0, len(b.accounts))
	for i := range b.accounts {
		if mayUse(r, b, b.accounts[i].id) {
			all = append(all, b.accounts[i].json(b))
		}
	}
	items, meta := paginate(all, page, size)
	writeJSON(w, http.StatusOK, data{Data: items, Meta: meta})
}

// lookupAccount finds the path's account or answers 404 (also for
// another customer's account: see CustomerHeader).
func lookupAccount(w http.ResponseWriter, r *http.Request, b *bank) *account {
	a := b.account(r.PathValue("accountId"))
	if a != nil && !mayUse(r, b, a.id) {
		a = nil
	}
	if a == nil {
		writeError(w, http.StatusNotFound, "ACCOUNT_NOT_FOUND", "no account "+r.PathValue("accountId"))
	}
	return a
}

func (u *upstream) getAccount(w http.ResponseWriter, r *http.Request, b *bank) {
	if a := lookupAccount(w, r, b); a != nil {
		writeJSON(w, http.StatusOK, data{Data: a.json(b)})
	}
}

func (u *upstream) getBalances(w http.ResponseWriter, r *http.Request, b *bank) {
	a := lookupAccount(w, r, b)
	if a == nil {
		return
	}
	writeJSON(w, http.StatusOK, data{Data: struct {
		AccountID string        `json:"accountId"`
		Balances  []balanceJSON `json:"balances"`
	}{a.id, u.balances(a, u.clock())}})
}

func (u *upstream) listTransactions(w http.ResponseWriter, r *http.Request, b *bank) {
	a := lookupAccount(w, r, b)
	if a == nil {
		return
	}
	q := r.URL.Query()
	page, size, ok := paging(w, q)
	if !ok {
		return
	}
	var from, to time.Time
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"fromBookingDateTime", &from}, {"toBookingDateTime", &to}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				writeError(w, http.StatusBadRequest, "INVALID_PARAMETER", p.name+" must be an RFC 3339 date-time such as 2026-11-01T00:00:00+08:00")
				return
			}
			*p.t = t
		}
	}
	txns, _ := u.history(a, u.clock())
	var out []transactionJSON
	for i := len(txns) - 1; i >= 0; i-- { // newest first
		t := &txns[i]
		if (!from.IsZero() && t.at.Before(from)) || (!to.IsZero() && t.at.After(to)) {
			continue
		}
		out = append(out, t.json(a.id))
	}
	items, meta := paginate(out, page, size)
	writeJSON(w, http.StatusOK, data{Data: items, Meta: meta})
}

func (u *upstream) listLoanProducts(w http.ResponseWriter, r *http.Request, b *bank) {
	purpose := r.URL.Query().Get("purpose")
	out := []loanProduct{}
	for _, p := range b.products {
		if purpose == "" || p.Purpose == purpose {
			out = append(out, p)
		}
	}
	writeJSON(w, http.StatusOK, data{Data: out})
}

func (u *upstream) listBranches(w http.ResponseWriter, r *http.Request, b *bank) {
	township := r.URL.Query().Get("township")
	out := []branch{}
	for _, br := range b.branches {
		if township == "" || br.Township == township {
			out = append(out, br)
		}
	}
	writeJSON(w, http.StatusOK, data{Data: out})
}

func (u *upstream) getBranch(w http.ResponseWriter, r *http.Request, b *bank) {
	br := b.branch(r.PathValue("branchId"))
	if br == nil {
		writeError(w, http.StatusNotFound, "BRANCH_NOT_FOUND", "no branch "+r.PathValue("branchId"))
		return
	}
	writeJSON(w, http.StatusOK, data{Data: br})
}

func (u *upstream) listATMs(w http.ResponseWriter, r *http.Request, b *bank) {
	q := r.URL.Query()
	township, kind := q.Get("township"), q.Get("kind")
	out := []atm{}
	for _, a := range b.atms {
		if (township == "" || a.Township == township) && (kind == "" || a.Kind == kind) {
			out = append(out, a)
		}
	}
	writeJSON(w, http.StatusOK, data{Data: out})
}

// paging reads page (from 1) and pageSize (1–100, default 25), or
// answers 400.
func paging(w http.ResponseWriter, q url.Values) (page, size int, ok bool) {
	page, size = 1, 25
	for _, p := range []struct {
		name     string
		v        *int
		min, max int
	}{{"page", &page, 1, 1_000_000}, {"pageSize", &size, 1, 100}} {
		s := q.Get(p.name)
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < p.min || n > p.max {
			writeError(w, http.StatusBadRequest, "INVALID_PARAMETER",
				p.name+" must be a whole number from "+strconv.Itoa(p.min)+" to "+strconv.Itoa(p.max))
			return 0, 0, false
		}
		*p.v = n
	}
	return page, size, true
}

// paginate returns one page of items (never nil) and its meta.
func paginate[T any](items []T, page, size int) ([]T, *pageMeta) {
	meta := &pageMeta{Page: page, PageSize: size, TotalRecords: len(items), TotalPages: (len(items) + size - 1) / size}
	start := min((page-1)*size, len(items))
	end := min(start+size, len(items))
	return slices.Clip(append([]T{}, items[start:end]...)), meta
}
