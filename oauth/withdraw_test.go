package oauth_test

import (
	"testing"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/oauth"
)

func published(t *testing.T, file []byte, at time.Time) map[string]oauth.KeyInfo {
	t.Helper()
	infos, err := oauth.DescribeKeySet(file, at)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]oauth.KeyInfo{}
	for _, k := range infos {
		out[k.KeyID] = k
	}
	return out
}

// Withdrawing the signing key retires it at once and puts a new key of
// the same algorithm in its place; withdrawing a key that does not sign
// (a rotation's next key) leaves the signing key alone.
func TestWithdrawKeyFile(t *testing.T) {
	now := time.Date(2031, 5, 1, 9, 0, 0, 0, time.UTC)
	dir := t.TempDir()
	if _, err := oauth.OpenKeyFolder(dir, oauth.KeyOptions{Now: func() time.Time { return now }, Algorithm: oauth.AlgEdDSA}); err != nil {
		t.Fatal(err)
	}
	file, err := oauth.ReadKeySet(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var first string
	for kid := range published(t, file, now) {
		first = kid
	}

	// The next key of a rotation, not signing yet: withdrawn alone.
	rotated, rot, err := oauth.RotateKeyFile(file, now, oauth.RotateOptions{Prepublish: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	out, w, err := oauth.WithdrawKeyFile(rotated, rot.NewKeyID, now, "")
	if err != nil || w.NewKeyID != "" {
		t.Fatalf("withdraw the next key: %+v %v", w, err)
	}
	keys := published(t, out, now)
	if len(keys) != 1 || !keys[first].Active || !keys[first].RetireAt.IsZero() {
		t.Errorf("after withdrawing the next key: %+v, want %s alone, signing, not retiring", keys, first)
	}

	// The signing key: gone at once, a new EdDSA key signs.
	out, w, err = oauth.WithdrawKeyFile(file, first, now, "")
	if err != nil || w.KeyID != first || w.NewKeyID == "" || w.Algorithm != oauth.AlgEdDSA {
		t.Fatalf("withdraw the signing key: %+v %v", w, err)
	}
	keys = published(t, out, now)
	if _, still := keys[first]; still || len(keys) != 1 || !keys[w.NewKeyID].Active {
		t.Errorf("after withdrawing the signing key: %+v, want only %s, signing", keys, w.NewKeyID)
	}
	// Another algorithm on request.
	if _, w, err := oauth.WithdrawKeyFile(file, first, now, oauth.AlgPS256); err != nil || w.Algorithm != oauth.AlgPS256 {
		t.Errorf("with --alg PS256: %+v %v", w, err)
	}
	// Unknown, or already withdrawn: not found.
	for _, kid := range []string{"no-such-key", first} {
		if _, _, err := oauth.WithdrawKeyFile(out, kid, now.Add(time.Second), ""); obhub.ErrorCode(err) != obhub.ENOTFOUND {
			t.Errorf("withdraw %q: %v, want not found", kid, err)
		}
	}
}
