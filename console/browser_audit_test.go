package console_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/obhub/obhub/audit"
	"github.com/obhub/obhub/audit/audittest"
	"github.com/obhub/obhub/console"
	"github.com/obhub/obhub/internal/browsertest"
)

// TestBrowserAuditFits opens the audit page in a 1280 px wide window: the
// page itself never scrolls sideways, and the Decision column is within
// the table's box or reachable by scrolling that box.
func TestBrowserAuditFits(t *testing.T) {
	h := browsertest.Open(t, 1280, 800, 60*time.Second)
	e := newEnv(t)
	// A long path without spaces and a long request id, as real calls have.
	audittest.Fill(t, e.ledger, audittest.NewSigner(t), []audit.Record{{Time: e.now.Add(-time.Minute), Category: audit.CategoryAccess,
		RequestID: "0f8e3c1a-5b7d-4e2f-9a6c-1d2e3f4a5b6c", Bank: "qingshan-rcb", API: "qingshan-accounts", Method: "GET",
		Path:    "/qingshan-rcb/open-banking/accounts/v1/accounts/qs-10001/transactions/statements/2026-03/entries/details",
		Partner: "green-valley", ClientID: e.greenApp, Status: 200, Decision: "allow"}})
	e.addOperator("audit@alliance.example", console.RoleAuditor, "")
	signIn(t, h, e.srv.URL, "audit@alliance.example")
	h.Do(chromedp.Navigate(e.srv.URL + "/console/audit?lang=en"))
	h.WaitFor("#audit-rows")
	got := h.Eval(`(() => {
		const doc = document.documentElement, box = document.querySelector('#audit-rows').parentElement;
		const last = document.querySelector('#audit-rows thead th:last-child').getBoundingClientRect();
		const scrolls = box.scrollWidth > box.clientWidth && getComputedStyle(box).overflowX === 'auto';
		return 'page overflows: ' + (doc.scrollWidth > doc.clientWidth) +
			', decision cut off: ' + (last.right > box.getBoundingClientRect().right + 1 && !scrolls);
	})()`)
	if got != "page overflows: false, decision cut off: false" {
		t.Errorf("the audit page at 1280 px: %s", got)
	}
}
