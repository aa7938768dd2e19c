// Package consoletest is the conformance suite every console.Store
// implementation runs: operators with case-insensitive unique e-mail
// addresses (also under concurrent creation), the sign-in lockout state,
// and sessions that end at their expiry or when deleted; and, for stores
// that are also a console.Directory, the operator list and password
// resets that end the operator's sessions.
package consoletest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/console"
)

// msNow is the suite's clock: stores keep times to the millisecond.
func msNow() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// operator is a bank admin with the e-mail address email.
func operator(id, email string, created time.Time) console.Operator {
	return console.Operator{
		ID: id, Email: email, Name: "王芳 Wang Fang", Role: console.RoleBankAdmin, Bank: "hill-rcb",
		PasswordHash: "$argon2id$v=19$m=65536,t=1,p=4$c2FsdA$aGFzaA", CreatedAt: created,
	}
}

// Run runs the suite. open returns a fresh, empty, open store; the caller
// closes it at the test's cleanup.
func Run(t *testing.T, open func(t *testing.T) console.Store) {
	ctx := context.Background()
	now := msNow()
	operator := func(id, email string) console.Operator { return operator(id, email, now) }

	t.Run("OperatorRoundTrip", func(t *testing.T) {
		s := open(t)
		in := operator("op_1", "Wang.Fang@Hill-RCB.example")
		mustOK(t, s.CreateOperator(ctx, in))
		want := in
		want.Email = "wang.fang@hill-rcb.example"
		for name, get := range map[string]func() (*console.Operator, error){
			"Operator":                   func() (*console.Operator, error) { return s.Operator(ctx, "op_1") },
			"OperatorByEmail":            func() (*console.Operator, error) { return s.OperatorByEmail(ctx, "wang.fang@hill-rcb.example") },
			"OperatorByEmail(any case)":  func() (*console.Operator, error) { return s.OperatorByEmail(ctx, "WANG.FANG@hill-rcb.EXAMPLE") },
			"OperatorByEmail(as stored)": func() (*console.Operator, error) { return s.OperatorByEmail(ctx, in.Email) },
		} {
			got, err := get()
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			if d := diffOperator(*got, want); d != "" {
				t.Errorf("%s: %s", name, d)
			}
		}
	})

	t.Run("UnknownOperator", func(t *testing.T) {
		s := open(t)
		mustOK(t, s.CreateOperator(ctx, operator("op_1", "a@bank.example")))
		if _, err := s.Operator(ctx, "op_2"); obhub.ErrorCode(err) != obhub.ENOTFOUND {
			t.Errorf("Operator(unknown) = %v, want ENOTFOUND", err)
		}
		if _, err := s.OperatorByEmail(ctx, "b@bank.example"); obhub.ErrorCode(err) != obhub.ENOTFOUND {
			t.Errorf("OperatorByEmail(unknown) = %v, want ENOTFOUND", err)
		}
		if err := s.SetLoginState(ctx, "op_2", 1, time.Time{}); obhub.ErrorCode(err) != obhub.ENOTFOUND {
			t.Errorf("SetLoginState(unknown) = %v, want ENOTFOUND", err)
		}
	})

	t.Run("EmailTakenInAnyCase", func(t *testing.T) {
		s := open(t)
		mustOK(t, s.CreateOperator(ctx, operator("op_1", "li@alliance.example")))
		err := s.CreateOperator(ctx, operator("op_2", "LI@Alliance.Example"))
		if obhub.ErrorCode(err) != obhub.ECONFLICT {
			t.Fatalf("second operator with the same address = %v, want ECONFLICT", err)
		}
		if strings.Contains(obhub.ErrorMessage(err), "li@alliance.example") {
			t.Errorf("the conflict names the address: %q", obhub.ErrorMessage(err))
		}
		if _, err := s.Operator(ctx, "op_2"); obhub.ErrorCode(err) != obhub.ENOTFOUND {
			t.Errorf("the refused operator was stored: %v", err)
		}
	})

	t.Run("ConcurrentCreateOneWins", func(t *testing.T) {
		s := open(t)
		const n = 10
		errs := make(chan error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { errs <- s.CreateOperator(ctx, operator(fmt.Sprintf("op_%d", i), "same@bank.example")) })
		}
		wg.Wait()
		close(errs)
		wins := 0
		for err := range errs {
			switch {
			case err == nil:
				wins++
			case obhub.ErrorCode(err) != obhub.ECONFLICT:
				t.Errorf("CreateOperator = %v, want ECONFLICT for the losers", err)
			}
		}
		if wins != 1 {
			t.Errorf("%d of %d concurrent operators with one address were created, want 1", wins, n)
		}
	})

	t.Run("LoginState", func(t *testing.T) {
		s := open(t)
		mustOK(t, s.CreateOperator(ctx, operator("op_1", "a@bank.example")))
		until := now.Add(15 * time.Minute)
		mustOK(t, s.SetLoginState(ctx, "op_1", 5, until))
		got, err := s.OperatorByEmail(ctx, "a@bank.example")
		mustOK(t, err)
		if got.Failures != 5 || !got.LockedUntil.Equal(until) {
			t.Errorf("after SetLoginState(5, %v): failures %d, locked until %v", until, got.Failures, got.LockedUntil)
		}
		// The console disables an operator with a lock at the end of time.
		forever := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
		mustOK(t, s.SetLoginState(ctx, "op_1", 0, forever))
		if got, err := s.Operator(ctx, "op_1"); err != nil || !got.LockedUntil.Equal(forever) {
			t.Errorf("a lock until %v reads back as %+v, %v", forever, got, err)
		}
		mustOK(t, s.SetLoginState(ctx, "op_1", 0, time.Time{}))
		got, err = s.Operator(ctx, "op_1")
		mustOK(t, err)
		if got.Failures != 0 || !got.LockedUntil.IsZero() {
			t.Errorf("after a reset: failures %d, locked until %v; want 0 and no lock", got.Failures, got.LockedUntil)
		}
	})

	t.Run("Sessions", func(t *testing.T) {
		s := open(t)
		mustOK(t, s.CreateOperator(ctx, operator("op_1", "a@bank.example")))
		in := console.Session{IDHash: "h1", OperatorID: "op_1", CSRF: "csrf-1", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		mustOK(t, s.CreateSession(ctx, in))
		if err := s.CreateSession(ctx, in); obhub.ErrorCode(err) != obhub.ECONFLICT {
			t.Errorf("the same session twice = %v, want ECONFLICT", err)
		}
		got, err := s.Session(ctx, "h1", now.Add(59*time.Minute))
		mustOK(t, err)
		if got.IDHash != in.IDHash || got.OperatorID != in.OperatorID || got.CSRF != in.CSRF ||
			!got.CreatedAt.Equal(in.CreatedAt) || !got.ExpiresAt.Equal(in.ExpiresAt) {
			t.Errorf("Session = %+v, want %+v", *got, in)
		}
		for _, at := range []time.Time{in.ExpiresAt, in.ExpiresAt.Add(time.Millisecond), in.ExpiresAt.Add(24 * time.Hour)} {
			if _, err := s.Session(ctx, "h1", at); obhub.ErrorCode(err) != obhub.ENOTFOUND {
				t.Errorf("Session at %v (expiry %v) = %v, want ENOTFOUND", at, in.ExpiresAt, err)
			}
		}
		if _, err := s.Session(ctx, "nope", now); obhub.ErrorCode(err) != obhub.ENOTFOUND {
			t.Errorf("Session(unknown) = %v, want ENOTFOUND", err)
		}
		mustOK(t, s.DeleteSession(ctx, "h1"))
		if _, err := s.Session(ctx, "h1", now); obhub.ErrorCode(err) != obhub.ENOTFOUND {
			t.Errorf("Session after DeleteSession = %v, want ENOTFOUND", err)
		}
		mustOK(t, s.DeleteSession(ctx, "h1"))
		mustOK(t, s.DeleteSession(ctx, "never-existed"))
	})

	t.Run("ExpiredSessionsDoNotBlockNewOnes", func(t *testing.T) {
		s := open(t)
		mustOK(t, s.CreateOperator(ctx, operator("op_1", "a@bank.example")))
		old := console.Session{IDHash: "old", OperatorID: "op_1", CSRF: "c", CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Hour)}
		mustOK(t, s.CreateSession(ctx, old))
		for i := range 3 {
			sess := console.Session{IDHash: fmt.Sprintf("new%d", i), OperatorID: "op_1", CSRF: "c", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
			mustOK(t, s.CreateSession(ctx, sess))
			if _, err := s.Session(ctx, sess.IDHash, now); err != nil {
				t.Errorf("session %d: %v", i, err)
			}
		}
		if _, err := s.Session(ctx, "old", now); obhub.ErrorCode(err) != obhub.ENOTFOUND {
			t.Errorf("expired session = %v, want ENOTFOUND", err)
		}
	})
}

func diffOperator(got, want console.Operator) string {
	if !got.CreatedAt.Equal(want.CreatedAt) || !got.LockedUntil.Equal(want.LockedUntil) {
		return fmt.Sprintf("times: created %v locked %v, want created %v locked %v", got.CreatedAt, got.LockedUntil, want.CreatedAt, want.LockedUntil)
	}
	got.CreatedAt, got.LockedUntil = want.CreatedAt, want.LockedUntil
	if got != want {
		return fmt.Sprintf("got %+v, want %+v", got, want)
	}
	return ""
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// DirectoryStore is an operator store with the operators page's extras.
type DirectoryStore interface {
	console.Store
	console.Directory
}

// RunDirectory runs the console.Directory part of the suite. open returns
// a fresh, empty, open store.
func RunDirectory(t *testing.T, open func(t *testing.T) DirectoryStore) {
	ctx := context.Background()
	now := msNow()

	t.Run("ListOperatorsByEmail", func(t *testing.T) {
		s := open(t)
		got, err := s.ListOperators(ctx)
		mustOK(t, err)
		if len(got) != 0 {
			t.Fatalf("empty store lists %d operators", len(got))
		}
		in := []console.Operator{operator("op_c", "Chen@bank.example", now), operator("op_a", "an@bank.example", now),
			operator("op_b", "bai@bank.example", now)}
		in[1].Role, in[1].Bank = console.RoleAllianceAdmin, ""
		in[2].Failures, in[2].LockedUntil = 2, now.Add(time.Minute)
		for _, o := range in {
			mustOK(t, s.CreateOperator(ctx, o))
		}
		got, err = s.ListOperators(ctx)
		mustOK(t, err)
		want := []console.Operator{in[1], in[2], in[0]}
		want[2].Email = "chen@bank.example"
		if len(got) != len(want) {
			t.Fatalf("ListOperators = %d operators, want %d", len(got), len(want))
		}
		for i := range want {
			if d := diffOperator(got[i], want[i]); d != "" {
				t.Errorf("operator %d: %s", i, d)
			}
		}
	})

	t.Run("SetPasswordEndsSessions", func(t *testing.T) {
		s := open(t)
		mustOK(t, s.CreateOperator(ctx, operator("op_1", "a@bank.example", now)))
		mustOK(t, s.CreateOperator(ctx, operator("op_2", "b@bank.example", now)))
		for i, op := range []string{"op_1", "op_1", "op_2"} {
			mustOK(t, s.CreateSession(ctx, console.Session{IDHash: fmt.Sprintf("h%d", i), OperatorID: op, CSRF: "c",
				CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))
		}
		mustOK(t, s.SetPassword(ctx, "op_1", "$argon2id$new"))
		o, err := s.Operator(ctx, "op_1")
		mustOK(t, err)
		if o.PasswordHash != "$argon2id$new" {
			t.Errorf("password hash after SetPassword = %q", o.PasswordHash)
		}
		for _, h := range []string{"h0", "h1"} {
			if _, err := s.Session(ctx, h, now); obhub.ErrorCode(err) != obhub.ENOTFOUND {
				t.Errorf("session %s of the operator whose password was reset = %v, want ENOTFOUND", h, err)
			}
		}
		if _, err := s.Session(ctx, "h2", now); err != nil {
			t.Errorf("another operator's session ended too: %v", err)
		}
		if o, _ := s.Operator(ctx, "op_2"); o == nil || o.PasswordHash == "$argon2id$new" {
			t.Errorf("another operator's password changed: %+v", o)
		}
		if err := s.SetPassword(ctx, "op_9", "x"); obhub.ErrorCode(err) != obhub.ENOTFOUND {
			t.Errorf("SetPassword(unknown) = %v, want ENOTFOUND", err)
		}
	})
}
