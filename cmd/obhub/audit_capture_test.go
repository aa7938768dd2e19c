package main

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/obhub/obhub/audit"
	"github.com/obhub/obhub/demo"
)

// Personal numbers a sandbox developer might send: a valid resident ID,
// a Luhn-valid card number and a mobile number.
const (
	captureID     = "11010519491231002X"
	captureCard   = "6228480402564890018"
	captureMobile = "13812345678"
)

// runCaptureCalls makes one sandbox payment and one production call, each
// with the personal numbers in its body, and returns the node's records
// by request id once the node is stopped.
func runCaptureCalls(t *testing.T, opts ...mainOption) map[string]audit.Record {
	t.Helper()
	m := runMain(t, append([]mainOption{withDemo()}, opts...)...)
	h := newHub(t, m, testAdminToken)
	env := readDemoEnv(t, filepath.Join(m.Config.Data, "demo.env"))
	sandboxID := env["SANDBOX_CLIENT_ID"]
	h.adminCall(t, "POST", "/apps/"+sandboxID+"/subscriptions/"+demo.PaymentsProduct+"/approve", nil, http.StatusOK, nil)
	sb := h.token(t, sandboxID, env["SANDBOX_CLIENT_SECRET"], "")
	prod := h.token(t, env["PRODUCTION_CLIENT_ID"], env["PRODUCTION_CLIENT_SECRET"], "")

	body := `{"debtorAccount":{"accountId":"qs-10001"},"creditorAccount":{"accountNumber":"` + captureCard +
		`","name":"青山县农资有限公司"},"amount":{"amount":"3860.00","currency":"CNY"},"remittanceInformation":"` +
		captureID + ` ` + captureMobile + `"}`
	payments := "/" + demo.Qingshan + demo.PaymentsBasePath + "/domestic-payments"
	r := h.call(t, "POST", "/sandbox"+payments, sb, strings.NewReader(body),
		"Content-Type: application/json", "Idempotency-Key: capture-1", "X-Request-Id: capture-sandbox")
	if r.status != http.StatusCreated {
		t.Fatalf("sandbox payment: %s", r)
	}
	h.call(t, "POST", payments, prod, strings.NewReader(body),
		"Content-Type: application/json", "Idempotency-Key: capture-2", "X-Request-Id: capture-production")
	m.Close()
	recs := map[string]audit.Record{}
	for _, rec := range readLedger(t, m.Config.Data) {
		recs[rec.RequestID] = rec
	}
	for _, id := range []string{"capture-sandbox", "capture-production"} {
		if _, ok := recs[id]; !ok {
			t.Fatalf("no audit record for request %s", id)
		}
	}
	return recs
}

func TestAuditSandboxBodyCapture(t *testing.T) {
	t.Run("on: sandbox bodies stored masked", func(t *testing.T) {
		recs := runCaptureCalls(t, func(m *Main) { m.Config.AuditCaptureSandboxBodies = true })
		sb := recs["capture-sandbox"]
		if sb.Environment != "sandbox" || !strings.Contains(sb.RequestBody, "3860.00") || !strings.Contains(sb.RequestBody, "remittanceInformation") {
			t.Fatalf("sandbox record's captured request body %q (environment %q): want the body", sb.RequestBody, sb.Environment)
		}
		if !strings.Contains(sb.ResponseBody, "paymentId") {
			t.Errorf("sandbox record's captured response body %q: want the answer", sb.ResponseBody)
		}
		if sb.Before != "" || sb.After != "" {
			t.Errorf("access record used the admin-change fields: before %q after %q", sb.Before, sb.After)
		}
		for _, field := range []string{sb.RequestBody, sb.ResponseBody} {
			for _, n := range []string{captureID, captureCard, captureMobile} {
				if strings.Contains(field, n) {
					t.Errorf("captured body holds %s unmasked: %s", n, field)
				}
			}
		}
		for _, masked := range []string{"1****************X", "622848*********0018", "138****5678"} {
			if !strings.Contains(sb.RequestBody, masked) {
				t.Errorf("captured request body %q lacks the masked number %s", sb.RequestBody, masked)
			}
		}
		if p := recs["capture-production"]; p.RequestBody != "" || p.ResponseBody != "" {
			t.Errorf("production call stored a body: request %q response %q", p.RequestBody, p.ResponseBody)
		}
	})
	t.Run("off: no body stored", func(t *testing.T) {
		recs := runCaptureCalls(t)
		for id, r := range recs {
			if r.RequestBody != "" || r.ResponseBody != "" || (r.Category != audit.CategoryAdmin && (r.Before != "" || r.After != "")) {
				t.Errorf("record %s stored a body without the flag: request %q response %q", id, r.RequestBody, r.ResponseBody)
			}
		}
	})
}

func TestAuditCaptureBodyTruncated(t *testing.T) {
	long := strings.Repeat("a", captureLimit-10) + captureCard + strings.Repeat("b", 100)
	got := captureBody([]byte(long))
	if len(got) != captureLimit {
		t.Fatalf("captured %d bytes, want %d", len(got), captureLimit)
	}
	if strings.Contains(got, captureCard[:10]) {
		t.Errorf("a card number cut at the limit kept its digits: %q", got[captureLimit-20:])
	}
}
