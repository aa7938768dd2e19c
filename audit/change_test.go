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
