package demo

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"time"
	"unicode/utf8"
)

// The write operations: domestic payments and loan applications, kept in
// the upstream's store.

// settleAfter is how long after acceptance the demo core reports a
// payment settled.
const settleAfter = time.Minute

type paymentRequest struct {
	InstructionID string `json:"instructionId,omitempty"`
	DebtorAccount struct {
		AccountID string `json:"accountId"`
	} `json:"debtorAccount"`
	CreditorAccount struct {
		AccountNumber string `json:"accountNumber"`
		Name          string `json:"name"`
		BankName      string `json:"bankName,omitempty"`
	} `json:"creditorAccount"`
	Amount                money  `json:"amount"`
	RemittanceInformation string `json:"remittanceInformation"`
}

type payment struct {
	PaymentID            string `json:"paymentId"`
	Status               string `json:"status"`
	CreationDateTime     string `json:"creationDateTime"`
	StatusUpdateDateTime string `json:"statusUpdateDateTime"`
	InstructionID        string `json:"instructionId,omitempty"`
	DebtorAccount        struct {
		AccountID           string `json:"accountId"`
		AccountNumberMasked string `json:"accountNumberMasked"`
	} `json:"debtorAccount"`
	CreditorAccount struct {
		AccountNumberMasked string `json:"accountNumberMasked"`
		Name                string `json:"name"`
		BankName            string `json:"bankName,omitempty"`
	} `json:"creditorAccount"`
	Amount                money  `json:"amount"`
	Charges               money  `json:"charges"`
	RemittanceInformation string `json:"remittanceInformation"`

	bank        string
	created     time.Time
	fingerprint [32]byte
}

// at returns the payment as the core reports it at now: accepted, then
// settled settleAfter later.
func (p payment) at(now time.Time) payment {
	p.Status, p.StatusUpdateDateTime = "AcceptedSettlementInProcess", p.CreationDateTime
	if settled := p.created.Add(settleAfter); !now.Before(settled) {
		p.Status, p.StatusUpdateDateTime = "AcceptedSettlementCompleted", settled.In(cst).Format(time.RFC3339)
	}
	return p
}

var (
	accountNumberPattern = regexp.MustCompile(`^[0-9]{10,25}$`)
	idempotencyPattern   = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)
	residentIDPattern    = regexp.MustCompile(`^[0-9]{17}[0-9X]$`)
	mobilePattern        = regexp.MustCompile(`^1[3-9][0-9]{9}$`)
)

func (u *upstream) createPayment(w http.ResponseWriter, r *http.Request, b *bank) {
	key := r.Header.Get("Idempotency-Key")
	if !idempotencyPattern.MatchString(key) {
		writeError(w, http.StatusBadRequest, "INVALID_IDEMPOTENCY_KEY", "Idempotency-Key must be 1-64 letters, digits or ._:-")
		return
	}
	var req paymentRequest
	if !decode(w, r, &req) {
		return
	}
	fen, ok := req.Amount.fen()
	switch {
	case !ok || fen == 0:
		writeError(w, http.StatusBadRequest, "INVALID_AMOUNT", `amount must be a positive CNY amount with two decimals, such as "1280.50"`)
		return
	case req.DebtorAccount.AccountID == "":
		writeError(w, http.StatusBadRequest, "INVALID_REQUEST", "debtorAccount.accountId is required")
		return
	case !accountNumberPattern.MatchString(req.CreditorAccount.AccountNumber) || req.CreditorAccount.Name == "":
		writeError(w, http.StatusBadRequest, "INVALID_REQUEST", "creditorAccount needs an accountNumber of 10-25 digits and a name")
		return
	case req.RemittanceInformation == "" || utf8.RuneCountInString(req.RemittanceInformation) > 140:
		writeError(w, http.StatusBadRequest, "INVALID_REQUEST", "remittanceInformation must be 1-140 characters")
		return
	}
	now := u.clock()
	debtor := b.account(req.DebtorAccount.AccountID)
	if debtor != nil && !mayUse(r, b, debtor.id) {
		debtor = nil // another customer's account
	}
	switch {
	case debtor == nil:
		writeError(w, http.StatusUnprocessableEntity, "DEBTOR_ACCOUNT_NOT_FOUND", "no account "+req.DebtorAccount.AccountID)
		return
	case debtor.product == "time_deposit":
		writeError(w, http.StatusUnprocessableEntity, "ACCOUNT_NOT_TRANSFERABLE", "a time deposit cannot make payments before maturity")
		return
	}
	if _, booked := u.history(debtor, now); fen > booked-debtor.frozen {
		writeError(w, http.StatusUnprocessableEntity, "INSUFFICIENT_FUNDS", "the available balance does not cover the amount")
		return
	}
	canon, _ := json.Marshal(req)
	p := &payment{
		InstructionID: req.InstructionID, Amount: cny(fen), Charges: cny(0),
		RemittanceInformation: req.RemittanceInformation,
		bank:                  b.id, created: now.Truncate(time.Second), fingerprint: sha256.Sum256(canon),
	}
	p.CreationDateTime = p.created.In(cst).Format(time.RFC3339)
	p.DebtorAccount.AccountID, p.DebtorAccount.AccountNumberMasked = debtor.id, debtor.number
	p.CreditorAccount.AccountNumberMasked = maskAccount(req.CreditorAccount.AccountNumber)
	p.CreditorAccount.Name, p.CreditorAccount.BankName = req.CreditorAccount.Name, req.CreditorAccount.BankName

	idem := b.id + "\x00" + r.Header.Get("X-Obhub-Client-Id") + "\x00" + key
	s := u.store
	s.mu.Lock()
	if id, seen := s.idempotency[idem]; seen {
		prev := *s.payments[id]
		s.mu.Unlock()
		if prev.fingerprint != p.fingerprint {
			writeError(w, http.StatusConflict, "IDEMPOTENCY_KEY_REUSED", "this Idempotency-Key was used for a different payment")
			return
		}
		writeJSON(w, http.StatusCreated, data{Data: prev.at(now)})
		return
	}
	p.PaymentID = s.nextID(b.prefix, "PAY", now)
	s.payments[p.PaymentID], s.idempotency[idem] = p, p.PaymentID
	s.keep(p.PaymentID, func() { delete(s.payments, p.PaymentID); delete(s.idempotency, idem) })
	u.book(debtor, p, fen)
	out := p.at(now)
	s.mu.Unlock()
	w.Header().Set("Location", r.URL.Path+"/"+p.PaymentID)
	writeJSON(w, http.StatusCreated, data{Data: out})
}

func (u *upstream) getPayment(w http.ResponseWriter, r *http.Request, b *bank) {
	id := r.PathValue("paymentId")
	u.store.mu.Lock()
	p, ok := u.store.payments[id]
	var cp payment
	if ok {
		cp = *p
	}
	u.store.mu.Unlock()
	if !ok || cp.bank != b.id {
		writeError(w, http.StatusNotFound, "PAYMENT_NOT_FOUND", "no payment "+id)
		return
	}
	writeJSON(w, http.StatusOK, data{Data: cp.at(u.clock())})
}

type loanAppRequest struct {
	ProductID string `json:"productId"`
	Applicant struct {
		Name             string `json:"name"`
		ResidentIDNumber string `json:"residentIdNumber"`
		Mobile           string `json:"mobile"`
		Village          string `json:"village"`
	} `json:"applicant"`
	Amount     money  `json:"amount"`
	TermMonths int    `json:"termMonths"`
	Purpose    string `json:"purpose"`
	Farm       *farm  `json:"farm,omitempty"`
}

type farm struct {
	LandAreaMu    string `json:"landAreaMu,omitempty"`
	LivestockHead int    `json:"livestockHead,omitempty"`
}

type loanApp struct {
	ApplicationID string `json:"applicationId"`
	Status        string `json:"status"`
	ProductID     string `json:"productId"`
	ProductName   string `json:"productName"`
	Amount        money  `json:"amount"`
	TermMonths    int    `json:"termMonths"`
	Applicant     struct {
		Name                   string `json:"name"`
		ResidentIDNumberMasked string `json:"residentIdNumberMasked"`
		MobileMasked           string `json:"mobileMasked"`
		Village                string `json:"village"`
	} `json:"applicant"`
	Purpose              string `json:"purpose"`
	Farm                 *farm  `json:"farm,omitempty"`
	SubmittedDateTime    string `json:"submittedDateTime"`
	StatusUpdateDateTime string `json:"statusUpdateDateTime"`
	NextSteps            string `json:"nextSteps"`

	bank string
}

func (u *upstream) createApplication(w http.ResponseWriter, r *http.Request, b *bank) {
	var req loanAppRequest
	if !decode(w, r, &req) {
		return
	}
	ap := req.Applicant
	fen, ok := req.Amount.fen()
	switch {
	case req.ProductID == "" || req.Purpose == "" || ap.Name == "" || ap.Village == "":
		writeError(w, http.StatusBadRequest, "INVALID_REQUEST", "productId, purpose, applicant.name and applicant.village are required")
		return
	case !residentIDPattern.MatchString(ap.ResidentIDNumber) || !mobilePattern.MatchString(ap.Mobile):
		writeError(w, http.StatusBadRequest, "INVALID_REQUEST", "applicant.residentIdNumber must be 18 characters and applicant.mobile 11 digits")
		return
	case !ok || fen == 0:
		writeError(w, http.StatusBadRequest, "INVALID_AMOUNT", `amount must be a positive CNY amount with two decimals, such as "50000.00"`)
		return
	}
	p := b.product(req.ProductID)
	if p == nil {
		writeError(w, http.StatusUnprocessableEntity, "PRODUCT_NOT_FOUND", "no loan product "+req.ProductID)
		return
	}
	lo, _ := p.MinAmount.fen()
	hi, _ := p.MaxAmount.fen()
	switch {
	case fen < lo || fen > hi:
		writeError(w, http.StatusUnprocessableEntity, "AMOUNT_OUT_OF_RANGE", p.Name+" lends from "+p.MinAmount.Amount+" to "+p.MaxAmount.Amount+" CNY")
		return
	case req.TermMonths < p.MinTermMonths || req.TermMonths > p.MaxTermMonths:
		writeError(w, http.StatusUnprocessableEntity, "TERM_OUT_OF_RANGE", p.Name+" lends for "+strconv.Itoa(p.MinTermMonths)+" to "+strconv.Itoa(p.MaxTermMonths)+" months")
		return
	}
	clock := u.clock()
	now := clock.Truncate(time.Second).In(cst).Format(time.RFC3339)
	a := &loanApp{
		Status: "submitted", ProductID: p.ProductID, ProductName: p.Name, Amount: cny(fen), TermMonths: req.TermMonths,
		Purpose: req.Purpose, Farm: req.Farm, SubmittedDateTime: now, StatusUpdateDateTime: now,
		NextSteps: "客户经理将在3个工作日内联系申请人并上门调查。A loan officer will contact the applicant within 3 working days for an on-site visit.",
		bank:      b.id,
	}
	a.Applicant.Name, a.Applicant.Village = ap.Name, ap.Village
	a.Applicant.ResidentIDNumberMasked, a.Applicant.MobileMasked = maskID(ap.ResidentIDNumber), maskMobile(ap.Mobile)

	s := u.store
	s.mu.Lock()
	a.ApplicationID = s.nextID(b.prefix, "LA", clock)
	s.applications[a.ApplicationID] = a
	s.keep(a.ApplicationID, func() { delete(s.applications, a.ApplicationID) })
	out := *a
	s.mu.Unlock()
	w.Header().Set("Location", r.URL.Path+"/"+out.ApplicationID)
	writeJSON(w, http.StatusCreated, data{Data: out})
}

func (u *upstream) getApplication(w http.ResponseWriter, r *http.Request, b *bank) {
	id := r.PathValue("applicationId")
	u.store.mu.Lock()
	a, ok := u.store.applications[id]
	var cp loanApp
	if ok {
		cp = *a
	}
	u.store.mu.Unlock()
	if !ok || cp.bank != b.id {
		writeError(w, http.StatusNotFound, "APPLICATION_NOT_FOUND", "no loan application "+id)
		return
	}
	writeJSON(w, http.StatusOK, data{Data: u.applicationAt(cp)})
}

// decode reads a JSON body of at most 64 KiB into v, refusing unknown
// fields, or answers 400.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("trailing data after the JSON object")
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "INVALID_REQUEST", "the body must be one JSON object as documented: "+err.Error())
		return false
	}
	return true
}
