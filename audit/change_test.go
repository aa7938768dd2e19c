package audit_test

import (
	"strings"
	"testing"
	"time"

	"github.com/obhub/obhub/audit"
)

func TestState(t *testing.T) {
	got := audit.State(map[string]any{
		"name": "ledger", "client_secret": "obs_live", "has_secret": true, "token_endpoint_auth_method": "private_key_jwt",
		"nested": []any{map[string]any{"PasswordHash": "$argon2id$…", "role": "owner", "otp": "123456"}},
	})
	for _, leak := range []string{"obs_live", "argon2id", "123456"} {
		if strings.Contains(got, leak) {
			t.Errorf("State leaks %q: %s", leak, got)
		}
	}
	for _, keep := range []string{`"name":"ledger"`, `"has_secret":true`, `"token_endpoint_auth_method":"private_key_jwt"`, `"role":"owner"`} {
		if !strings.Contains(got, keep) {
			t.Errorf("State lost %s: %s", keep, got)
		}
	}
	if audit.State(nil) != "" || audit.State(func() {}) != "" || audit.StateJSON([]byte("not json")) != "" {
		t.Error("nil, unmarshalable and non-JSON states must be empty")
	}
	big := audit.State(map[string]string{"doc": strings.Repeat("x", audit.MaxStateBytes)})
	if len(big) > 200 || !strings.Contains(big, `"sha256":"`) {
		t.Errorf("an oversized state is kept whole (%d bytes)", len(big))
	}
}

func TestChangeRecord(t *testing.T) {
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	r := audit.Change{Actor: "portal:dev@hemupay.example", Partner: "hemu-pay", ClientID: "app_1", Object: "apps/app_1",
		Verb: "rotate_secret", Path: "/portal/apps/app_1/secret", RequestID: "r1",
		Before: map[string]any{"secret_hash": "h1"}, After: map[string]any{"secret_hash": "h2"}}.Record(now)
	if r.Category != audit.CategoryAdmin || r.Reason != "rotate_secret" || r.Actor != "portal:dev@hemupay.example" ||
		r.Object != "apps/app_1" || r.Partner != "hemu-pay" || r.ClientID != "app_1" || !r.Time.Equal(now) ||
		r.Method != "POST" || r.Status != 200 || r.Decision != audit.DecisionAllow || r.RequestID != "r1" {
		t.Errorf("record %+v", r)
	}
	if strings.Contains(r.Before+r.After, "h1") || strings.Contains(r.Before+r.After, "h2") {
		t.Errorf("secret states kept: %s → %s", r.Before, r.After)
	}
}

// A record says what was done: a page's change its verb, an admin API
// call the action its path ends with, or its method's.
func TestRecordVerb(t *testing.T) {
	for _, tt := range []struct {
		method, path, reason, want string
	}{
		{"POST", "/admin/v1/banks", "", "create"},
		{"POST", "/admin/v1/banks", "conflict", "create"},
		{"POST", "/admin/v1/partners/p/apps", "", "create"},
		{"PUT", "/admin/v1/apis/a", "", "update"},
		{"PATCH", "/admin/v1/apps/c", "invalid_request", "update"},
		{"DELETE", "/admin/v1/products/p", "", "delete"},
		{"POST", "/admin/v1/apis/a/publish", "", "publish"},
		{"POST", "/admin/v1/apis/a/deprecate", "", "deprecate"},
		{"POST", "/admin/v1/partners/p/approve", "", "approve"},
		{"POST", "/admin/v1/apps/c/subscriptions/p/reject", "", "reject"},
		{"POST", "/admin/v1/apps/c/secret", "", "rotate_secret"},
		{"POST", "/admin/v1/outbox/7/retry/", "", "retry"},
		{"POST", "/console/apis/a/publish", "publish", "publish"},
		{"POST", "/portal/apps", "create", "create"},
		{"POST", "/oauth2/register", "client_register", "client_register"},
	} {
		r := audit.Record{Method: tt.method, Path: tt.path, Reason: tt.reason}
		if got := r.Verb(); got != tt.want {
			t.Errorf("%s %s (reason %q): verb %q, want %q", tt.method, tt.path, tt.reason, got, tt.want)
		}
	}
}
