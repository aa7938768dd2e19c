package oauth_test

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/oauth"
)

// clock is a settable test clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func kids(t testing.TB, keys *oauth.Keys) []string {
	t.Helper()
	var out []string
	for _, k := range keys.Describe() {
		out = append(out, k.KeyID)
	}
	return out
}

// TestRotationLifecycle follows one rotation through time: the next key is
// published before it signs, then signs, and the old key is published
// until its tokens have expired.
func TestRotationLifecycle(t *testing.T) {
	dir := t.TempDir()
	c := &clock{t: time.Date(2031, 1, 1, 10, 0, 0, 0, time.UTC)}
	keys, err := oauth.OpenKeys(dir, c.now)
	if err != nil {
		t.Fatal(err)
	}
	old := keys.ActiveKeyID()

	rot, err := oauth.RotateKeys(dir, c.t, oauth.RotateOptions{Prepublish: 10 * time.Minute, TokenLifetime: 5 * time.Minute})
	if err != nil {
		t.Fatalf("RotateKeys: %v", err)
	}
	if rot.OldKeyID != old || rot.NewKeyID == old {
		t.Fatalf("rotation %+v, old key %s", rot, old)
	}
	if want := c.t.Add(10 * time.Minute); !rot.ActivateAt.Equal(want) {
		t.Errorf("activates at %s, want %s", rot.ActivateAt, want)
	}
	if want := c.t.Add(16 * time.Minute); !rot.RetireAt.Equal(want) { // 10 min + 5 min tokens + 1 min leeway
		t.Errorf("old key retires at %s, want %s", rot.RetireAt, want)
	}
	// Not yet reloaded: the running set is unchanged.
	if got := kids(t, keys); len(got) != 1 {
		t.Fatalf("before reload: %v", got)
	}
	if changed, err := keys.Reload(); err != nil || !changed {
		t.Fatalf("Reload = %v, %v; want changed", changed, err)
	}
	if changed, err := keys.Reload(); err != nil || changed {
		t.Fatalf("second Reload = %v, %v; want unchanged", changed, err)
	}

	steps := []struct {
		at        time.Duration
		active    string
		published []string
	}{
		{0, old, []string{old, rot.NewKeyID}},                            // next key published, old signs
		{10*time.Minute - time.Second, old, []string{old, rot.NewKeyID}}, // still before activation
		{10 * time.Minute, rot.NewKeyID, []string{old, rot.NewKeyID}},    // new signs, old verifies
		{16*time.Minute - time.Second, rot.NewKeyID, []string{old, rot.NewKeyID}},
		{16 * time.Minute, rot.NewKeyID, []string{rot.NewKeyID}}, // old tokens expired: old key gone
	}
	start := c.t
	for _, s := range steps {
		c.t = start.Add(s.at)
		if got := keys.ActiveKeyID(); got != s.active {
			t.Errorf("at +%s active %s, want %s", s.at, got, s.active)
		}
		if got := kids(t, keys); strings.Join(got, " ") != strings.Join(s.published, " ") {
			t.Errorf("at +%s published %v, want %v", s.at, got, s.published)
		}
		jwks := string(keys.JWKS())
		for _, k := range []string{old, rot.NewKeyID} {
			_, pub := keys.PublicKey(k)
			inJWKS := strings.Contains(jwks, k)
			want := strings.Contains(strings.Join(s.published, " "), k)
			if pub != want || inJWKS != want {
				t.Errorf("at +%s key %s: PublicKey %v, in JWKS %v; want %v", s.at, k, pub, inJWKS, want)
			}
		}
	}

	// A restarted node reads the same state from the file.
	again, err := oauth.OpenKeys(dir, c.now)
	if err != nil {
		t.Fatal(err)
	}
	if again.ActiveKeyID() != rot.NewKeyID {
		t.Errorf("after restart active %s, want %s", again.ActiveKeyID(), rot.NewKeyID)
	}
	fi, err := os.Stat(filepath.Join(dir, oauth.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestRotationRules(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2031, 1, 1, 10, 0, 0, 0, time.UTC)
	if _, err := oauth.RotateKeys(dir, now, oauth.RotateOptions{}); err != nil { // creates the first key, then rotates
		t.Fatal(err)
	}
	_, err := oauth.RotateKeys(dir, now.Add(time.Minute), oauth.RotateOptions{})
	if obhub.ErrorCode(err) != obhub.ECONFLICT {
		t.Fatalf("second rotation while the first is pending: %v, want ECONFLICT", err)
	}
	if _, err := oauth.RotateKeys(dir, now, oauth.RotateOptions{Prepublish: -time.Second}); obhub.ErrorCode(err) != obhub.EINVALID {
		t.Errorf("negative delay: %v, want EINVALID", err)
	}
	// Once the new key signs, rotating again works, and keys retired by
	// then are dropped from the file.
	later := now.Add(24 * time.Hour)
	if _, err := oauth.RotateKeys(dir, later, oauth.RotateOptions{}); err != nil {
		t.Fatalf("rotation after activation: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, oauth.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "BEGIN PRIVATE KEY"); n != 2 {
		t.Errorf("key file holds %d keys, want 2 (the first one retired and dropped)", n)
	}
	// The default pre-publication delay covers the nodes' reload interval
	// and the JWKS cache lifetime.
	if oauth.DefaultPrepublish < oauth.KeyReloadInterval || oauth.DefaultPrepublish < 5*time.Minute {
		t.Errorf("DefaultPrepublish %s too short", oauth.DefaultPrepublish)
	}
}

// TestRotationAtTokenEndpoint: tokens are signed by the key the rotation
// made active, and tokens of the old key still verify against the JWKS.
func TestRotationAtTokenEndpoint(t *testing.T) {
	f := newFixture(t)
	old := f.keys.ActiveKeyID()
	form := url.Values{"grant_type": {"client_credentials"}}
	a := auth{basic: true, id: appBasic, secret: f.secrets[appBasic]}
	before := f.postToken(t, form, a)

	// A rotation made an hour ago with a one-minute delay: the new key is
	// active now, the old one published for another hour.
	if _, err := oauth.RotateKeys(f.keyDir, time.Now().Add(-time.Hour),
		oauth.RotateOptions{Prepublish: time.Minute, TokenLifetime: 2 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.keys.Reload(); err != nil {
		t.Fatal(err)
	}
	now := f.keys.ActiveKeyID()
	if now == old {
		t.Fatalf("active key did not change")
	}
	after := f.postToken(t, form, a)
	set := f.fetchJWKS(t)
	if len(set.Keys) != 2 {
		t.Fatalf("JWKS has %d keys, want old and new", len(set.Keys))
	}
	checkHeader(t, parseAccessToken(t, before.body["access_token"].(string), set), old)
	checkHeader(t, parseAccessToken(t, after.body["access_token"].(string), set), now)
}

func TestKeyFileRejectsBadHeaders(t *testing.T) {
	dir := t.TempDir()
	if _, err := oauth.LoadOrCreateKeys(dir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, oauth.KeyFile)
	b, _ := os.ReadFile(path)
	bad := strings.Replace(string(b), "-----BEGIN PRIVATE KEY-----\n", "-----BEGIN PRIVATE KEY-----\nObhub-Retire: tomorrow\n\n", 1)
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := oauth.LoadOrCreateKeys(dir); err == nil {
		t.Fatalf("accepted a bad Obhub-Retire header")
	}
	// Twice the same key.
	if err := os.WriteFile(path, append(b, b...), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := oauth.LoadOrCreateKeys(dir); err == nil {
		t.Fatalf("accepted a key file with the same key twice")
	}
}
