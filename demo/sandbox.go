package demo

import (
	"net/http"
	"time"
)

// NewSandboxCore returns the demo core systems of both banks as a
// stateful sandbox bank (see NewUpstream for the paths): a payment is
// booked on its debtor account at once, so the balance drops and the
// payment appears first in the account's transactions; loan applications
// move from submitted to under_review after ApplicationReviewAfter and to
// approved after ApplicationDecisionAfter. Each call returns a bank with
// fresh seed data: the sandbox keeps one per app and resets an app by
// replacing its bank.
func NewSandboxCore(clock func() time.Time) http.Handler {
	return newUpstream(clock, true)
}

// How long the sandbox bank takes over a loan application.
const (
	ApplicationReviewAfter   = time.Minute
	ApplicationDecisionAfter = 5 * time.Minute
)

// history returns the account's transactions, oldest first, and its booked
// balance: the deterministic history, then (in ledger mode) the payments
// booked on it.
func (u *upstream) history(a *account, now time.Time) ([]txn, int64) {
	txns, booked := a.history(now)
	if !u.ledger {
		return txns, booked
	}
	u.store.mu.Lock()
	posted := u.store.posted[a.id]
	u.store.mu.Unlock()
	for _, t := range posted {
		if t.at.After(now) {
			break
		}
		booked -= t.amount
		t.after = booked
		txns = append(txns, t)
	}
	return txns, booked
}

func (u *upstream) balances(a *account, now time.Time) []balanceJSON {
	txns, booked := u.history(a, now)
	return a.balances(txns, booked)
}

// book records payment p of fen on the debtor account (ledger mode only).
// Callers hold u.store.mu.
func (u *upstream) book(debtor *account, p *payment, fen int64) {
	if !u.ledger {
		return
	}
	f := &flow{category: "transfer_out", desc: p.RemittanceInformation, descEn: "Domestic payment " + p.PaymentID,
		counterparty: p.CreditorAccount.Name}
	u.store.posted[debtor.id] = append(u.store.posted[debtor.id], txn{id: p.PaymentID, at: p.created.In(cst), amount: fen, flow: f})
}

// applicationAt returns a loan application as the sandbox bank reports it
// now (ledger mode); in plain mode it stays as submitted.
func (u *upstream) applicationAt(a loanApp) loanApp {
	if !u.ledger {
		return a
	}
	submitted, err := time.Parse(time.RFC3339, a.SubmittedDateTime)
	if err != nil {
		return a
	}
	now := u.clock()
	switch {
	case !now.Before(submitted.Add(ApplicationDecisionAfter)):
		a.Status = "approved"
		a.StatusUpdateDateTime = submitted.Add(ApplicationDecisionAfter).In(cst).Format(time.RFC3339)
		a.NextSteps = "贷款已审批通过，请携带身份证到开户网点签订借款合同。The loan is approved: bring your resident ID card to your branch to sign the loan contract."
	case !now.Before(submitted.Add(ApplicationReviewAfter)):
		a.Status = "under_review"
		a.StatusUpdateDateTime = submitted.Add(ApplicationReviewAfter).In(cst).Format(time.RFC3339)
		a.NextSteps = "客户经理正在审查申请。A loan officer is reviewing the application."
	}
	return a
}
