package demo

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// The JSON shapes of the demo documents' schemas. Field names and
// enumerations match specs/*.yaml; the test checks every response against
// the documents.

// money is the documents' Money: an amount in yuan with two decimals, as a
// string, and the currency, always CNY.
type money struct {
	Amount   string `json:"amount"`
	Currency string `json:"currency"`
}

// cny returns fen (1/100 yuan) as Money. fen must not be negative.
func cny(fen int64) money {
	return money{Amount: fmt.Sprintf("%d.%02d", fen/100, fen%100), Currency: "CNY"}
}

var amountPattern = regexp.MustCompile(`^[0-9]{1,13}\.[0-9]{2}$`)

// fen parses Money back into fen (1/100 yuan).
func (m money) fen() (int64, bool) {
	if m.Currency != "CNY" || !amountPattern.MatchString(m.Amount) {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.Replace(m.Amount, ".", "", 1), 10, 64)
	return n, err == nil
}

type geo struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
}

// branch is a Branch of the locator API; accounts show the first four
// fields.
type branch struct {
	BranchID     string   `json:"branchId"`
	Name         string   `json:"name"`
	County       string   `json:"county"`
	Township     string   `json:"township"`
	Address      string   `json:"address,omitempty"`
	Location     *geo     `json:"location,omitempty"`
	Phone        string   `json:"phone,omitempty"`
	OpeningHours string   `json:"openingHours,omitempty"`
	Services     []string `json:"services,omitempty"`
}

// ref is the short form of a branch that accounts carry.
func (b *branch) ref() branch {
	return branch{BranchID: b.BranchID, Name: b.Name, County: b.County, Township: b.Township}
}

type atm struct {
	ATMID           string   `json:"atmId"`
	Kind            string   `json:"kind"` // atm, cash_recycler, agent_point (助农取款服务点)
	Name            string   `json:"name"`
	BranchID        string   `json:"branchId,omitempty"`
	Township        string   `json:"township"`
	Address         string   `json:"address"`
	Location        geo      `json:"location"`
	Available24h    bool     `json:"available24h"`
	OpeningHours    string   `json:"openingHours,omitempty"`
	Services        []string `json:"services"`
	WithdrawalLimit *money   `json:"withdrawalLimit,omitempty"`
}

type loanProduct struct {
	ProductID          string   `json:"productId"`
	Name               string   `json:"name"`
	NameEn             string   `json:"nameEn"`
	Purpose            string   `json:"purpose"`
	Description        string   `json:"description"`
	AnnualInterestRate string   `json:"annualInterestRate"`
	RateType           string   `json:"rateType"`
	MinAmount          money    `json:"minAmount"`
	MaxAmount          money    `json:"maxAmount"`
	MinTermMonths      int      `json:"minTermMonths"`
	MaxTermMonths      int      `json:"maxTermMonths"`
	RepaymentMethods   []string `json:"repaymentMethods"`
	Collateral         string   `json:"collateral"`
	Features           []string `json:"features"`
}

// account is a deposit account in the demo core. Its transactions come
// from flows (see ledger.go), its balance from opening plus them.
type account struct {
	id, number, holder, holderType string
	product, productName           string
	branch, opened, maturity       string
	opening, frozen                int64 // fen
	flows                          []flow
}

type accountJSON struct {
	AccountID           string `json:"accountId"`
	AccountNumberMasked string `json:"accountNumberMasked"`
	HolderName          string `json:"holderName"`
	HolderType          string `json:"holderType"`
	ProductType         string `json:"productType"`
	ProductName         string `json:"productName"`
	Currency            string `json:"currency"`
	Status              string `json:"status"`
	Branch              branch `json:"branch"`
	OpenedDate          string `json:"openedDate"`
	MaturityDate        string `json:"maturityDate,omitempty"`
}

type balanceJSON struct {
	Type                 string `json:"type"`
	Amount               money  `json:"amount"`
	CreditDebitIndicator string `json:"creditDebitIndicator"`
	DateTime             string `json:"dateTime"`
}

type transactionJSON struct {
	TransactionID        string `json:"transactionId"`
	AccountID            string `json:"accountId"`
	BookingDateTime      string `json:"bookingDateTime"`
	CreditDebitIndicator string `json:"creditDebitIndicator"`
	Amount               money  `json:"amount"`
	BalanceAfter         money  `json:"balanceAfter"`
	Category             string `json:"category"`
	Description          string `json:"description"`
	DescriptionEn        string `json:"descriptionEn"`
	CounterpartyName     string `json:"counterpartyName,omitempty"`
}

type pageMeta struct {
	Page         int `json:"page"`
	PageSize     int `json:"pageSize"`
	TotalPages   int `json:"totalPages"`
	TotalRecords int `json:"totalRecords"`
}

// errorJSON is the documents' Error.
type errorJSON struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// maskID keeps the first and last character of a resident ID number.
func maskID(s string) string {
	if len(s) < 2 {
		return strings.Repeat("*", len(s))
	}
	return s[:1] + strings.Repeat("*", len(s)-2) + s[len(s)-1:]
}

// maskMobile keeps the first 3 and last 4 digits of a mobile number.
func maskMobile(s string) string {
	if len(s) < 7 {
		return strings.Repeat("*", len(s))
	}
	return s[:3] + strings.Repeat("*", len(s)-7) + s[len(s)-4:]
}

// maskAccount keeps the first 6 and last 4 digits of an account number.
func maskAccount(s string) string {
	if len(s) < 10 {
		return strings.Repeat("*", len(s))
	}
	return s[:6] + strings.Repeat("*", len(s)-10) + s[len(s)-4:]
}
