// Package portaltest is the conformance suite every portal.Store
// implementation runs (store/sqlite and store/postgres): accounts with
// case-insensitive addresses, sessions and their expiry, password resets
// that end every session, the last-owner rule under concurrent changes,
// single-use tokens under concurrency, and the mail outbox with its
// delivery states and claims (one winner among concurrent claims).
package portaltest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/internal/mail"
	"github.com/obhub/obhub/portal"
)

// Run runs the suite. open returns a fresh, empty, open store for the
// test (closed by the caller's cleanup).
func Run(t *testing.T, open func(t *testing.T) portal.Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	account := func(id, email, partner, role string) portal.Account {
		return portal.Account{ID: id, Email: email, Name: "Name " + id, Partner: partner, Role: role,
			PasswordHash: "$argon2id$hash-" + id, CreatedAt: now}
	}

	t.Run("Accounts", func(t *testing.T) {
		s := open(t)
		mustOK(t, s.CreateAccount(ctx, account("a1", "Li@Example.com", "p1", portal.RoleOwner)))
		if err := s.CreateAccount(ctx, account("a2", "li@example.COM", "p2", portal.RoleOwner)); obhub.ErrorCode(err) != obhub.ECONFLICT {
			t.Errorf("second account with the same address in another case = %v, want ECONFLICT", err)
		}
		got, err := s.AccountByEmail(ctx, "LI@example.com")
		mustOK(t, err)
		if got.ID != "a1" || got.Email != "li@example.com" || got.Partner != "p1" || got.Role != portal.RoleOwner ||
			got.PasswordHash != "$argon2id$hash-a1" || !got.CreatedAt.Equal(now) || got.Verified() {
			t.Errorf("AccountByEmail = %+v", got)
		}
		if _, err := s.Account(ctx, "nope"); obhub.ErrorCode(err) != obhub.ENOTFOUND {
			t.Errorf("Account(unknown) = %v, want ENOTFOUND", err)
		}
		mustOK(t, s.SetLoginState(ctx, "a1", 3, now.Add(time.Minute)))
		mustOK(t, s.SetEmailVerified(ctx, "a1", now.Add(time.Second)))
		got, err = s.Account(ctx, "a1")
		mustOK(t, err)
		if got.Failures != 3 || !got.LockedUntil.Equal(now.Add(time.Minute)) || !got.EmailVerifiedAt.Equal(now.Add(time.Second)) {
			t.Errorf("after SetLoginState and SetEmailVerified: %+v", got)
		}
		for name, err := range map[string]error{
			"SetLoginState":    s.SetLoginState(ctx, "nope", 1, time.Time{}),
			"SetEmailVerified": s.SetEmailVerified(ctx, "nope", now),
			"SetPassword":      s.SetPassword(ctx, "nope", "x"),
		} {
			if obhub.ErrorCode(err) != obhub.ENOTFOUND {
				t.Errorf("%s(unknown account) = %v, want ENOTFOUND", name, err)
			}
		}
	})

	t.Run("SessionsExpireAndDieOnPasswordChange", func(t *testing.T) {
		s := open(t)
		mustOK(t, s.CreateAccount(ctx, account("a1", "a@x.example", "p1", portal.RoleOwner)))
		mustOK(t, s.CreateAccount(ctx, account("a2", "b@x.example", "p1", portal.RoleDeveloper)))
		sess := func(id, acc string, ttl time.Duration) portal.Session {
			return portal.Session{IDHash: id, AccountID: acc, CSRF: "csrf-" + id, CreatedAt: now, ExpiresAt: now.Add(ttl)}
		}
		mustOK(t, s.CreateSession(ctx, sess("s1", "a1", time.Hour)))
		mustOK(t, s.CreateSession(ctx, sess("s2", "a1", time.Hour)))
		mustOK(t, s.CreateSession(ctx, sess("s3", "a2", time.Hour)))
		mustOK(t, s.CreateSession(ctx, sess("short", "a2", time.Minute)))
		got, err := s.Session(ctx, "s1", now)
		mustOK(t, err)
		if got.AccountID != "a1" || got.CSRF != "csrf-s1" || !got.ExpiresAt.Equal(now.Add(time.Hour)) {
			t.Errorf("Session = %+v", got)
		}
		if _, err := s.Session(ctx, "short", now.Add(time.Minute)); obhub.ErrorCode(err) != obhub.ENOTFOUND {
			t.Errorf("expired session = %v, want ENOTFOUND", err)
		}
		mustOK(t, s.SetLoginState(ctx, "a1", 5, now.Add(15*time.Minute)))
		mustOK(t, s.SetPassword(ctx, "a1", "$argon2id$new"))
		for _, id := range []string{"s1", "s2"} {
			if _, err := s.Session(ctx, id, now); obhub.ErrorCode(err) != obhub.ENOTFOUND {
				t.Errorf("session %s after the password changed = %v, want ENOTFOUND", id, err)
			}
		}
		if _, err := s.Session(ctx, "s3", now); err != nil {
			t.Errorf("another account's session died with the password change: %v", err)
		}
		a, err := s.Account(ctx, "a1")
		mustOK(t, err)
		if a.PasswordHash != "$argon2id$new" || a.Failures != 0 || !a.LockedUntil.IsZero() {
			t.Errorf("after SetPassword: hash %q, failures %d, locked until %v; want the new hash and no lockout",
				a.PasswordHash, a.Failures, a.LockedUntil)
		}
		mustOK(t, s.DeleteSession(ctx, "s3"))
		mustOK(t, s.DeleteSession(ctx, "s3"))
		if _, err := s.Session(ctx, "s3", now); obhub.ErrorCode(err) != obhub.ENOTFOUND {
			t.Errorf("deleted session = %v", err)
		}
	})

	t.Run("TeamAndLastOwner", func(t *testing.T) {
		s := open(t)
		mustOK(t, s.CreateAccount(ctx, account("o1", "o1@x.example", "p1", portal.RoleOwner)))
		later := account("d1", "d1@x.example", "p1", portal.RoleDeveloper)
		later.CreatedAt = now.Add(time.Second)
		mustOK(t, s.CreateAccount(ctx, later))
		mustOK(t, s.CreateAccount(ctx, account("x1", "x1@y.example", "p2", portal.RoleOwner)))
		list, err := s.ListAccounts(ctx, "p1")
		mustOK(t, err)
		if len(list) != 2 || list[0].ID != "o1" || list[1].ID != "d1" {
			t.Fatalf("ListAccounts(p1) = %+v, want o1 then d1", list)
		}
		if err := s.SetRole(ctx, "p1", "o1", portal.RoleDeveloper); obhub.ErrorCode(err) != obhub.ECONFLICT {
			t.Errorf("demoting the last owner = %v, want ECONFLICT", err)
		}
		if err := s.DeleteAccount(ctx, "p1", "o1"); obhub.ErrorCode(err) != obhub.ECONFLICT {
			t.Errorf("removing the last owner = %v, want ECONFLICT", err)
		}
		if err := s.SetRole(ctx, "p2", "d1", portal.RoleOwner); obhub.ErrorCode(err) != obhub.ENOTFOUND {
			t.Errorf("another partner changing d1's role = %v, want ENOTFOUND", err)
		}
		if err := s.DeleteAccount(ctx, "p2", "d1"); obhub.ErrorCode(err) != obhub.ENOTFOUND {
			t.Errorf("another partner removing d1 = %v, want ENOTFOUND", err)
		}
		mustOK(t, s.SetRole(ctx, "p1", "d1", portal.RoleOwner))

		// Two owners demote each other at once: one of them must stay.
		errs := make(chan error, 2)
		go func() { errs <- s.SetRole(ctx, "p1", "o1", portal.RoleDeveloper) }()
		go func() { errs <- s.SetRole(ctx, "p1", "d1", portal.RoleDeveloper) }()
		var ok, conflict int
		for range 2 {
			switch err := <-errs; obhub.ErrorCode(err) {
			case "":
				ok++
			case obhub.ECONFLICT:
				conflict++
			default:
				t.Errorf("concurrent demotion: %v", err)
			}
		}
		if ok != 1 || conflict != 1 {
			t.Errorf("two owners demoting each other at once: %d succeeded, %d refused; want 1 and 1", ok, conflict)
		}
		list, _ = s.ListAccounts(ctx, "p1")
		owners := 0
		var dev string
		for _, a := range list {
			if a.Role == portal.RoleOwner {
				owners++
			} else {
				dev = a.ID
			}
		}
		if owners != 1 {
			t.Fatalf("owners left: %d, want 1", owners)
		}

		// Removing a member ends their sessions and tokens.
		mustOK(t, s.CreateSession(ctx, portal.Session{IDHash: "sd", AccountID: dev, CSRF: "c", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))
		mustOK(t, s.CreateToken(ctx, portal.Token{Hash: "tr", Kind: portal.TokenReset, AccountID: dev, Email: dev + "@x.example",
			CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))
		mustOK(t, s.DeleteAccount(ctx, "p1", dev))
		if _, err := s.Account(ctx, dev); obhub.ErrorCode(err) != obhub.ENOTFOUND {
			t.Errorf("removed account = %v", err)
		}
		if _, err := s.Session(ctx, "sd", now); obhub.ErrorCode(err) != obhub.ENOTFOUND {
			t.Errorf("removed member's session = %v, want ENOTFOUND", err)
		}
		if _, err := s.UseToken(ctx, portal.TokenReset, "tr", now); obhub.ErrorCode(err) != obhub.ENOTFOUND {
			t.Errorf("removed member's reset token = %v, want ENOTFOUND", err)
		}
		if list, _ := s.ListAccounts(ctx, "p2"); len(list) != 1 {
			t.Errorf("the other partner's accounts changed: %+v", list)
		}
	})

	t.Run("TokensAreSingleUse", func(t *testing.T) {
		s := open(t)
		tok := portal.Token{Hash: "h1", Kind: portal.TokenReset, AccountID: "a1", Email: "A@x.example",
			CreatedAt: now, ExpiresAt: now.Add(30 * time.Minute)}
		mustOK(t, s.CreateToken(ctx, tok))
		if _, err := s.UseToken(ctx, portal.TokenVerify, "h1", now); obhub.ErrorCode(err) != obhub.ENOTFOUND {
			t.Errorf("a reset token used as a verify token = %v, want ENOTFOUND", err)
		}
		var mu sync.Mutex
		var got []*portal.Token
		wins := concurrently(t, 20, func() error {
			t, err := s.UseToken(ctx, portal.TokenReset, "h1", now.Add(time.Minute))
			if err == nil {
				mu.Lock()
				got = append(got, t)
				mu.Unlock()
			}
			return err
		}, obhub.ENOTFOUND)
		if wins != 1 {
			t.Fatalf("%d of 20 concurrent uses of one token succeeded, want exactly 1", wins)
		}
		if g := got[0]; g.AccountID != "a1" || g.Email != "a@x.example" || g.Kind != portal.TokenReset || !g.ExpiresAt.Equal(tok.ExpiresAt) {
			t.Errorf("used token = %+v", g)
		}

		// Expired tokens are refused.
		mustOK(t, s.CreateToken(ctx, portal.Token{Hash: "h2", Kind: portal.TokenVerify, AccountID: "a1", CreatedAt: now, ExpiresAt: now.Add(time.Minute)}))
		if _, err := s.UseToken(ctx, portal.TokenVerify, "h2", now.Add(time.Minute)); obhub.ErrorCode(err) != obhub.ENOTFOUND {
			t.Errorf("expired token = %v, want ENOTFOUND", err)
		}
		// A newer token of the same kind for the same account replaces the older.
		mustOK(t, s.CreateToken(ctx, portal.Token{Hash: "r1", Kind: portal.TokenReset, AccountID: "a1", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))
		mustOK(t, s.CreateToken(ctx, portal.Token{Hash: "r2", Kind: portal.TokenReset, AccountID: "a1", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))
		mustOK(t, s.CreateToken(ctx, portal.Token{Hash: "v1", Kind: portal.TokenVerify, AccountID: "a1", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))
		if _, err := s.UseToken(ctx, portal.TokenReset, "r1", now); obhub.ErrorCode(err) != obhub.ENOTFOUND {
			t.Errorf("superseded reset token = %v, want ENOTFOUND", err)
		}
		for kind, hash := range map[string]string{portal.TokenReset: "r2", portal.TokenVerify: "v1"} {
			if _, err := s.UseToken(ctx, kind, hash, now); err != nil {
				t.Errorf("newest %s token: %v", kind, err)
			}
		}
	})

	t.Run("Invitations", func(t *testing.T) {
		s := open(t)
		inv := func(hash, partner, email string, created time.Time) portal.Token {
			return portal.Token{Hash: hash, Kind: portal.TokenInvite, Partner: partner, Email: email, Role: portal.RoleDeveloper,
				InvitedBy: "o1", CreatedAt: created, ExpiresAt: created.Add(7 * 24 * time.Hour)}
		}
		mustOK(t, s.CreateToken(ctx, inv("i1", "p1", "x@y.example", now)))
		mustOK(t, s.CreateToken(ctx, inv("i2", "p1", "z@y.example", now.Add(time.Second))))
		mustOK(t, s.CreateToken(ctx, inv("i3", "p2", "x@y.example", now)))
		// Inviting the same address again replaces the first invitation.
		mustOK(t, s.CreateToken(ctx, inv("i4", "p1", "X@y.example", now.Add(2*time.Second))))
		list, err := s.ListTokens(ctx, portal.TokenInvite, "p1", now)
		mustOK(t, err)
		if len(list) != 2 || list[0].Hash != "i2" || list[1].Hash != "i4" || list[1].Email != "x@y.example" ||
			list[1].Role != portal.RoleDeveloper || list[1].InvitedBy != "o1" || list[1].Partner != "p1" {
			t.Fatalf("ListTokens(p1) = %+v, want i2 then i4", list)
		}
		if err := s.DeleteToken(ctx, portal.TokenInvite, "p2", "i2"); obhub.ErrorCode(err) != obhub.ENOTFOUND {
			t.Errorf("another partner revoking i2 = %v, want ENOTFOUND", err)
		}
		mustOK(t, s.DeleteToken(ctx, portal.TokenInvite, "p1", "i2"))
		if _, err := s.UseToken(ctx, portal.TokenInvite, "i2", now); obhub.ErrorCode(err) != obhub.ENOTFOUND {
			t.Errorf("revoked invitation = %v, want ENOTFOUND", err)
		}
		if list, _ := s.ListTokens(ctx, portal.TokenInvite, "p1", now.Add(8*24*time.Hour)); len(list) != 0 {
			t.Errorf("expired invitations listed: %+v", list)
		}
		if list, _ := s.ListTokens(ctx, portal.TokenInvite, "p2", now); len(list) != 1 || list[0].Hash != "i3" {
			t.Errorf("ListTokens(p2) = %+v", list)
		}
	})

	t.Run("Outbox", func(t *testing.T) {
		s := open(t)
		if list, err := s.ListMail(ctx, mail.Query{}); err != nil || len(list) != 0 {
			t.Fatalf("empty outbox = %v, %v", list, err)
		}
		var seqs []int64
		for i := range 5 {
			to := "a@x.example"
			if i%2 == 1 {
				to = "B@x.example"
			}
			seq, err := s.AddMail(ctx, mail.Message{Kind: mail.KindVerify, To: to, Subject: fmt.Sprintf("主题 %d", i),
				Text: "正文 / body", CreatedAt: now.Add(time.Duration(i) * time.Hour)})
			mustOK(t, err)
			if len(seqs) > 0 && seq <= seqs[len(seqs)-1] {
				t.Fatalf("sequence numbers %v then %d: want increasing", seqs, seq)
			}
			seqs = append(seqs, seq)
		}
		page, err := s.ListMail(ctx, mail.Query{Limit: 2})
		mustOK(t, err)
		if len(page) != 2 || page[0].Seq != seqs[4] || page[1].Seq != seqs[3] {
			t.Fatalf("first page = %+v, want the two newest", page)
		}
		if m := page[0]; m.Subject != "主题 4" || m.Text != "正文 / body" || m.Kind != mail.KindVerify || m.To != "a@x.example" ||
			!m.CreatedAt.Equal(now.Add(4*time.Hour)) {
			t.Errorf("message = %+v", m)
		}
		next, err := s.ListMail(ctx, mail.Query{Limit: 10, BeforeSeq: page[1].Seq})
		mustOK(t, err)
		if len(next) != 3 || next[0].Seq != seqs[2] {
			t.Errorf("next page = %+v", next)
		}
		toB, err := s.ListMail(ctx, mail.Query{To: "b@X.example"})
		mustOK(t, err)
		if len(toB) != 2 || toB[0].To != "b@x.example" {
			t.Errorf("messages to b = %+v", toB)
		}
		n, err := s.PurgeMail(ctx, now.Add(2*time.Hour))
		mustOK(t, err)
		if n != 2 {
			t.Errorf("PurgeMail removed %d, want 2", n)
		}
		if all, _ := s.ListMail(ctx, mail.Query{}); len(all) != 3 {
			t.Errorf("after purge: %d messages, want 3", len(all))
		}
	})

	t.Run("OutboxDelivery", func(t *testing.T) {
		s := open(t)
		add := func(delivery string, created time.Time) int64 {
			t.Helper()
			seq, err := s.AddMail(ctx, mail.Message{Kind: mail.KindReset, To: "Li@x.example", Subject: "s", Text: "t",
				CreatedAt: created, Delivery: delivery})
			mustOK(t, err)
			return seq
		}
		read := func(seq int64) mail.Message {
			t.Helper()
			list, err := s.ListMail(ctx, mail.Query{Limit: 100})
			mustOK(t, err)
			for _, m := range list {
				if m.Seq == seq {
					return m
				}
			}
			t.Fatalf("message %d not in the outbox", seq)
			return mail.Message{}
		}
		due := func(at time.Time, limit int, want ...int64) {
			t.Helper()
			got, err := s.DueMail(ctx, at, limit)
			mustOK(t, err)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("DueMail(+%v, %d) = %v, want %v", at.Sub(now), limit, got, want)
			}
		}
		claim := func(seq int64, id string, at time.Time, lease time.Duration) (mail.Message, bool) {
			t.Helper()
			m, ok, err := s.ClaimMail(ctx, seq, id, at, at.Add(lease))
			mustOK(t, err)
			return m, ok
		}
		mark := func(seq int64, id string, mk mail.Mark) bool {
			t.Helper()
			ok, err := s.MarkMail(ctx, seq, id, mk)
			mustOK(t, err)
			return ok
		}

		none := add("", now)
		p1 := add(mail.DeliveryPending, now)
		p2 := add(mail.DeliveryPending, now.Add(time.Second))
		if m := read(none); m.Delivery != mail.DeliveryNone || m.Attempts != 0 || !m.SentAt.IsZero() || m.LastError != "" {
			t.Errorf("a message stored without a delivery state = %+v, want none", m)
		}
		pending, err := s.ListMail(ctx, mail.Query{Delivery: mail.DeliveryPending})
		mustOK(t, err)
		if len(pending) != 2 || pending[0].Seq != p2 || pending[1].Seq != p1 || pending[0].Delivery != mail.DeliveryPending {
			t.Errorf("pending messages = %+v, want p2 then p1", pending)
		}

		// Pending messages no claim holds are due, oldest first.
		due(now, 10, p1, p2)
		due(now, 1, p1)
		m, ok := claim(p1, "c1", now, time.Minute)
		if !ok || m.Seq != p1 || m.To != "li@x.example" || m.Text != "t" || m.Kind != mail.KindReset || !m.CreatedAt.Equal(now) {
			t.Fatalf("ClaimMail(p1) = %+v, %v", m, ok)
		}
		if _, ok := claim(p1, "c2", now.Add(30*time.Second), time.Minute); ok {
			t.Error("a claimed message was claimed again before the lease ended")
		}
		for _, seq := range []int64{none, p2 + 1000} {
			if _, ok := claim(seq, "c2", now, time.Minute); ok {
				t.Errorf("ClaimMail(%d): a message that is not pending, or none, was claimed", seq)
			}
		}
		due(now.Add(30*time.Second), 10, p2)

		// A failed attempt is recorded and keeps the claim longer; only
		// the claim's holder marks the message.
		if !mark(p1, "c1", mail.Mark{Delivery: mail.DeliveryPending, Attempted: true, LastError: "connection refused", Until: now.Add(2 * time.Minute)}) {
			t.Fatal("the holder's mark did not count")
		}
		if mark(p1, "other", mail.Mark{Delivery: mail.DeliverySent, Attempted: true, SentAt: now}) || mark(p1, "", mail.Mark{Delivery: mail.DeliverySent}) {
			t.Error("a mark under another claim counted")
		}
		due(now.Add(90*time.Second), 10, p2)
		if m := read(p1); m.Delivery != mail.DeliveryPending || m.Attempts != 1 || m.LastError != "connection refused" {
			t.Errorf("after a failed attempt: %+v", m)
		}

		// Once the lease has ended another node takes the message over,
		// and the first node's marks no longer count.
		due(now.Add(3*time.Minute), 10, p1, p2)
		m, ok = claim(p1, "c2", now.Add(3*time.Minute), time.Minute)
		if !ok || m.Attempts != 1 || m.LastError != "connection refused" {
			t.Fatalf("taking over p1 = %+v, %v", m, ok)
		}
		if mark(p1, "c1", mail.Mark{Delivery: mail.DeliveryFailed, Attempted: true, LastError: "timeout"}) {
			t.Error("a mark under a claim that was taken over counted")
		}
		if !mark(p1, "c2", mail.Mark{Delivery: mail.DeliverySent, Attempted: true, SentAt: now.Add(3 * time.Minute)}) {
			t.Fatal("marking p1 sent did not count")
		}
		if m := read(p1); m.Delivery != mail.DeliverySent || m.Attempts != 2 || !m.SentAt.Equal(now.Add(3*time.Minute)) || m.LastError != "" {
			t.Errorf("sent message = %+v, want sent after 2 attempts with no error", m)
		}
		if _, ok := claim(p1, "c3", now.Add(time.Hour), time.Minute); ok {
			t.Error("a sent message was claimed")
		}
		if mark(p1, "c2", mail.Mark{Delivery: mail.DeliveryPending}) {
			t.Error("a sent message was marked again")
		}

		// Giving a claim up hands the message to the next sweep at once.
		if _, ok := claim(p2, "c4", now, time.Minute); !ok {
			t.Fatal("claiming p2")
		}
		due(now, 10)
		if !mark(p2, "c4", mail.Mark{Delivery: mail.DeliveryPending}) {
			t.Fatal("giving the claim up did not count")
		}
		due(now, 10, p2)
		if mark(p2, "c4", mail.Mark{Delivery: mail.DeliverySent}) {
			t.Error("a claim given up still marks")
		}

		// A failed message is final until retried; a retry makes it
		// pending, unclaimed, and keeps its history.
		if _, ok := claim(p2, "c5", now, time.Minute); !ok {
			t.Fatal("claiming p2 again")
		}
		mark(p2, "c5", mail.Mark{Delivery: mail.DeliveryFailed, Attempted: true, LastError: "smtp 550 (permanent)"})
		failed, err := s.ListMail(ctx, mail.Query{Delivery: mail.DeliveryFailed})
		mustOK(t, err)
		if len(failed) != 1 || failed[0].Seq != p2 || failed[0].Attempts != 1 || failed[0].LastError != "smtp 550 (permanent)" {
			t.Fatalf("failed messages = %+v", failed)
		}
		due(now.Add(time.Hour), 10)
		if m, ok, err := s.RetryMail(ctx, p2, now.Add(2*time.Second)); err != nil || ok || m.Delivery != mail.DeliveryFailed {
			t.Errorf("retrying a message older than allowed = %+v, %v, %v; want it left failed", m, ok, err)
		}
		if m, ok, err := s.RetryMail(ctx, p1, now); err != nil || ok || m.Delivery != mail.DeliverySent {
			t.Errorf("retrying a sent message = %+v, %v, %v; want it left sent", m, ok, err)
		}
		if _, _, err := s.RetryMail(ctx, p2+1000, now); obhub.ErrorCode(err) != obhub.ENOTFOUND {
			t.Errorf("retrying no message = %v, want ENOTFOUND", err)
		}
		m, ok, err = s.RetryMail(ctx, p2, now)
		mustOK(t, err)
		if !ok || m.Delivery != mail.DeliveryPending || m.Attempts != 1 || m.LastError != "smtp 550 (permanent)" || m.To != "li@x.example" {
			t.Errorf("retried message = %+v, %v", m, ok)
		}
		due(now, 10, p2)

		// Of many nodes claiming one message at once, one gets it.
		var n atomic.Int64
		wins := concurrently(t, 20, func() error {
			_, ok, err := s.ClaimMail(ctx, p2, fmt.Sprintf("race-%d", n.Add(1)), now, now.Add(time.Minute))
			if err == nil && !ok {
				return obhub.Errorf(obhub.ECONFLICT, "claimed by another")
			}
			return err
		}, obhub.ECONFLICT)
		if wins != 1 {
			t.Errorf("%d of 20 concurrent claims of one message succeeded, want exactly 1", wins)
		}
	})
}

func mustOK(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// concurrently runs fn n times at once and returns how many succeeded;
// every failure must carry the code loser.
func concurrently(t testing.TB, n int, fn func() error, loser string) int {
	t.Helper()
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { errs <- fn() })
	}
	wg.Wait()
	close(errs)
	wins := 0
	for err := range errs {
		switch {
		case err == nil:
			wins++
		case obhub.ErrorCode(err) != loser:
			t.Errorf("concurrent call: %v, want success or %s", err, loser)
		}
	}
	return wins
}
