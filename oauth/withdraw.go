package oauth

import (
	"fmt"
	"time"

	"github.com/obhub/obhub"
)

// Withdrawal describes what WithdrawKeyFile did.
type Withdrawal struct {
	KeyID string // the withdrawn key
	// NewKeyID and Algorithm name the key that signs from now on when the
	// withdrawn key was the one signing; "" otherwise.
	NewKeyID  string
	Algorithm string
}

// WithdrawKeyFile returns the plaintext key file b with the key kid
// retired at now — for a key that has leaked: it leaves the JWKS, and
// every node refuses the tokens it signed, cached ones included, once it
// has re-read its key set (KeyReloadInterval), instead of honouring them
// until they expire as a rotation does. When kid was the key signing, a
// new key of alg (the withdrawn key's algorithm when empty) signs from now
// on, without the rotation's pre-publication: verifiers that cache the
// JWKS may refuse its tokens until they fetch it again, which an
// emergency accepts. A rotation's next key, withdrawn before it signs,
// leaves the file, and the key signing now is no longer set to retire.
// Keys already retired are dropped. An unknown or already retired kid is
// ENOTFOUND.
func WithdrawKeyFile(b []byte, kid string, now time.Time, alg string) ([]byte, Withdrawal, error) {
	keys, err := parseKeyFile(b)
	if err != nil {
		return nil, Withdrawal{}, fmt.Errorf("oauth keys: %w", err)
	}
	set := &Keys{now: func() time.Time { return now }, state: newKeyState(keys)}
	var gone *signingKey
	var kept []*signingKey
	for _, sk := range keys {
		switch {
		case !sk.publishedAt(now):
		case sk.kid == kid:
			gone = sk
		default:
			kept = append(kept, sk)
		}
	}
	if gone == nil {
		return nil, Withdrawal{}, obhub.Errorf(obhub.ENOTFOUND, "no published key %q", kid)
	}
	w := Withdrawal{KeyID: kid}
	active := set.active(now)
	out := kept
	if gone.activate.After(now) {
		// A rotation's next key, which has signed nothing: it leaves the
		// file, and the key signing now signs on, as before the rotation.
		if active != nil && active != gone {
			active.retire = time.Time{}
		}
		b, err = encodeKeyFile(out)
		if err != nil {
			return nil, Withdrawal{}, err
		}
		return b, w, nil
	}
	if active == gone {
		if alg == "" {
			alg = gone.alg
		}
		if alg, err = ParseAlgorithm(alg); err != nil {
			return nil, Withdrawal{}, obhub.Errorf(obhub.EINVALID, "%v", err)
		}
		priv, err := generateKey(alg)
		if err != nil {
			return nil, Withdrawal{}, err
		}
		next, err := newSigningKey(priv)
		if err != nil {
			return nil, Withdrawal{}, err
		}
		next.activate = now.UTC().Truncate(time.Second)
		w.NewKeyID, w.Algorithm = next.kid, next.alg
		out = append(out, next)
	}
	if len(out) > maxKeysInFile {
		return nil, Withdrawal{}, obhub.Errorf(obhub.ECONFLICT, "%d keys are still published; wait until older ones retire", len(out)-1)
	}
	// The withdrawn key stays in the file, retired, so that `keys list`
	// and a later rotation see what happened; the next rotation drops it.
	gone.retire = now.UTC().Truncate(time.Second)
	if gone.retire.After(now) { // never: Truncate rounds down
		gone.retire = now
	}
	out = append(out, gone)
	b, err = encodeKeyFile(out)
	if err != nil {
		return nil, Withdrawal{}, err
	}
	return b, w, nil
}
