package demo

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
)

// NewUpstream returns the demo core-banking systems of both banks as one
// handler. It answers /{bank}{basePath}/… for every operation of the demo
// documents, so each API's upstream is the handler's base URL followed by
// /{bank} (the gateway calls {upstream}{basePath}/…).
//
// Reads are deterministic: they depend on the bank, the request and the
// date of clock(), never on earlier calls. Payments and loan applications
// are kept in memory, safe for concurrent use, and lost when the handler
// is dropped. Every response carries X-Demo-Seen-Client, echoing the
// X-Obhub-Client-Id, X-Obhub-Partner-Id and X-Request-Id the call
// arrived with, so a walkthrough can show what the gateway added.
// Unknown paths get a 404 JSON error.
func NewUpstream(clock func() time.Time) http.Handler {
	return newUpstream(clock, false)
}

func newUpstream(clock func() time.Time, ledger bool) http.Handler {
	if clock == nil {
		clock = time.Now
	}
	u := &upstream{clock: clock, banks: banks(), store: newStore(), ledger: ledger}
	mux := http.NewServeMux()
	route := func(basePath, path string, ms methods) {
		mux.Handle("/{bank}"+basePath+path, u.only(basePath, ms))
	}
	route(AccountsBasePath, "/accounts", methods{"GET": u.listAccounts})
	route(AccountsBasePath, "/accounts/{accountId}", methods{"GET": u.getAccount})
	route(AccountsBasePath, "/accounts/{accountId}/balances", methods{"GET": u.getBalances})
	route(AccountsBasePath, "/accounts/{accountId}/transactions", methods{"GET": u.listTransactions})
	route(PaymentsBasePath, "/domestic-payments", methods{"POST": u.createPayment})
	route(PaymentsBasePath, "/domestic-payments/{paymentId}", methods{"GET": u.getPayment})
	route(LoansBasePath, "/loan-products", methods{"GET": u.listLoanProducts})
	route(LoansBasePath, "/loan-applications", methods{"POST": u.createApplication})
	route(LoansBasePath, "/loan-applications/{applicationId}", methods{"GET": u.getApplication})
	route(BranchesBasePath, "/branches", methods{"GET": u.listBranches})
	route(BranchesBasePath, "/branches/{branchId}", methods{"GET": u.getBranch})
	route(BranchesBasePath, "/atms", methods{"GET": u.listATMs})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "no such resource on the demo core: "+r.URL.Path)
	})
	return seenClient(mux)
}

type upstream struct {
	clock func() time.Time
	banks map[string]*bank // read-only after NewUpstream
	store *store
	// ledger books payments on the debtor account and moves loan
	// applications through their states (NewSandboxCore).
	ledger bool
}

// methods dispatches one path by method; others get 405.
type methods map[string]func(http.ResponseWriter, *http.Request, *bank)

// only serves ms for the banks that publish the API at basePath; for
// other banks the path does not exist.
func (u *upstream) only(basePath string, ms methods) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := u.banks[r.PathValue("bank")]
		if b == nil || !b.apis[basePath] {
			writeError(w, http.StatusNotFound, "NOT_FOUND", "no such resource on the demo core: "+r.URL.Path)
			return
		}
		h, ok := ms[r.Method]
		if !ok && r.Method == http.MethodHead {
			h, ok = ms[http.MethodGet]
		}
		if !ok {
			w.Header().Set("Allow", strings.Join(slices.Sorted(maps.Keys(ms)), ", "))
			writeError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", r.Method+" is not allowed here")
			return
		}
		h(w, r, b)
	})
}

// seenClient adds X-Demo-Seen-Client to every response.
func seenClient(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen := func(name string) string {
			v := r.Header.Get(name)
			if v == "" {
				return "-"
			}
			if len(v) > 128 {
				v = v[:128]
			}
			return strings.Map(func(c rune) rune {
				if c < 0x20 || c == 0x7f || c == ';' {
					return '_'
				}
				return c
			}, v)
		}
		w.Header().Set("X-Demo-Seen-Client", "client_id="+seen("X-Obhub-Client-Id")+
			"; partner_id="+seen("X-Obhub-Partner-Id")+"; request_id="+seen("X-Request-Id"))
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		writeError(w, http.StatusInternalServerError, "INTERNAL", "cannot encode the response")
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	b, _ := json.Marshal(errorJSON{Code: code, Message: msg})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// data wraps a response body as the documents do: {"data": …}.
type data struct {
	Data any       `json:"data"`
	Meta *pageMeta `json:"meta,omitempty"`
}
