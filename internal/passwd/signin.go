package passwd

import (
	"context"
	"time"
)

// Lockout policy shared by every sign-in form.
const (
	MaxFailures = 5                // wrong passwords in a row before the account locks
	Lockout     = 15 * time.Minute // how long it stays locked
)

// Login is the stored sign-in state of an account.
type Login struct {
	Hash        string    // PHC-form password hash
	Failures    int       // wrong passwords since the last success or lock
	LockedUntil time.Time // zero when not locked
}

// Result is the outcome of a sign-in attempt.
type Result int

// Sign-in results.
const (
	SignedIn Result = iota
	WrongPassword
	Locked // locked now, or was already
)

// SignIn checks password against acc (nil for an unknown account, which
// costs the same hashing work as a wrong password, so accounts cannot be
// enumerated by timing) and applies the lockout policy. When save is true
// the caller must store next as the account's new state.
func (h *Hasher) SignIn(ctx context.Context, acc *Login, password string, now time.Time) (res Result, next Login, save bool, err error) {
	if acc == nil || len(password) > MaxLen*4 {
		if _, err := h.Verify(ctx, DummyHash, password); err != nil {
			return WrongPassword, Login{}, false, err
		}
		return WrongPassword, Login{}, false, nil
	}
	if now.Before(acc.LockedUntil) {
		return Locked, *acc, false, nil
	}
	ok, err := h.Verify(ctx, acc.Hash, password)
	if err != nil {
		return WrongPassword, *acc, false, err
	}
	next = *acc
	if !ok {
		next.Failures, next.LockedUntil = acc.Failures+1, time.Time{}
		if next.Failures >= MaxFailures {
			next.Failures, next.LockedUntil = 0, now.Add(Lockout)
			return Locked, next, true, nil
		}
		return WrongPassword, next, true, nil
	}
	next.Failures, next.LockedUntil = 0, time.Time{}
	return SignedIn, next, acc.Failures != 0 || !acc.LockedUntil.IsZero(), nil
}
