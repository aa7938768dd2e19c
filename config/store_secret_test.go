package config_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/config"
	"github.com/obhub/obhub/partners"
)

// TestRotateAppSecretOverlap: a rotation with an overlap keeps the old
// secret's hash with its expiry; both secrets verify until then, only the
// new one after; a second rotation drops the first old secret; switching
// to private_key_jwt drops every secret; overlaps beyond 7 days or
// negative are refused and change nothing; views never show a hash.
func TestRotateAppSecretOverlap(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2031, 3, 1, 8, 0, 0, 0, time.UTC)
	kv := openKV(t)
	s := config.NewStore(kv, func() time.Time { return now })
	must[*partners.Partner](t)(s.CreatePartner(ctx, partners.Partner{ID: "fin", Name: "Fin", Kind: partners.KindFintech}))
	v, first, err := s.CreateApp(ctx, appOf("fin", "web", partners.Sandbox))
	if err != nil {
		t.Fatal(err)
	}
	stored := func() partners.App {
		t.Helper()
		got := must[config.KeyValue](t)(kv.Get(ctx, config.AppsPrefix+v.ClientID))
		var a partners.App
		if err := json.Unmarshal(got.Value, &a); err != nil {
			t.Fatal(err)
		}
		return a
	}

	for _, bad := range []time.Duration{-time.Second, partners.MaxSecretOverlap + time.Second} {
		_, _, err := s.RotateAppSecret(ctx, v.ClientID, bad)
		wantCode(t, err, obhub.EINVALID, "invalid secret rotation")
	}
	if a := stored(); !a.VerifyAppSecret(first, now) || a.PreviousSecretHash != "" {
		t.Fatal("a refused rotation changed the app")
	}

	view, second, err := s.RotateAppSecret(ctx, v.ClientID, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if view.PreviousSecretExpiresAt == nil || !view.PreviousSecretExpiresAt.Equal(now.Add(24*time.Hour)) {
		t.Errorf("view: previous secret expires at %v", view.PreviousSecretExpiresAt)
	}
	if b, _ := json.Marshal(view); strings.Contains(string(b), "sha256:") || strings.Contains(string(b), "secret_hash") {
		t.Errorf("the view holds a hash: %s", b)
	}
	a := stored()
	for _, tc := range []struct {
		secret string
		at     time.Time
		ok     bool
	}{
		{first, now, true},
		{second, now, true},
		{first, now.Add(24*time.Hour - time.Second), true},
		{first, now.Add(24 * time.Hour), false},
		{second, now.Add(48 * time.Hour), true},
		{"", now, false},
	} {
		if got := a.VerifyAppSecret(tc.secret, tc.at); got != tc.ok {
			t.Errorf("secret %.8s at %s: %v, want %v", tc.secret, tc.at.Format(time.RFC3339), got, tc.ok)
		}
	}

	// A second rotation: the first secret stops at once, the second is the previous one.
	_, third, err := s.RotateAppSecret(ctx, v.ClientID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if a := stored(); a.VerifyAppSecret(first, now) || !a.VerifyAppSecret(second, now) || !a.VerifyAppSecret(third, now) {
		t.Error("after a second rotation: want the second and third secrets only")
	}
	// Without overlap nothing but the newest works.
	_, fourth, err := s.RotateAppSecret(ctx, v.ClientID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if a := stored(); a.VerifyAppSecret(third, now) || !a.VerifyAppSecret(fourth, now) || a.PreviousSecretHash != "" {
		t.Error("a rotation without overlap left the old secret working")
	}

	// Switching to private_key_jwt after an overlapped rotation drops both hashes.
	if _, _, err := s.RotateAppSecret(ctx, v.ClientID, time.Hour); err != nil {
		t.Fatal(err)
	}
	must[*config.AppView](t)(s.UpdateApp(ctx, v.ClientID, func(a *config.AppView) error {
		a.TokenEndpointAuthMethod, a.JWKS = partners.AuthPrivateKeyJWT, map[string]any{"keys": []any{}}
		return nil
	}))
	if a := stored(); a.SecretHash != "" || a.PreviousSecretHash != "" || !a.PreviousSecretExpiresAt.IsZero() {
		t.Errorf("private_key_jwt app keeps secret hashes: %+v", a)
	}
}
