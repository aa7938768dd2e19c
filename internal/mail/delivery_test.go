package mail_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/internal/mail"
	"github.com/obhub/obhub/internal/mail/mailtest"
	"github.com/obhub/obhub/store/postgres/pgtest"
	"github.com/obhub/obhub/store/sqlite"
)

// Durable delivery: what the outbox says about each message, and which
// node sends it, when relays fail and nodes stop. Every test delivers
// through a real SMTP server (mailtest) over smtp+plain.

// startMailer returns a started SMTP delivering to the relay at addr with
// fast retries and sweeps (tune changes them), closed at the test's end.
func startMailer(t *testing.T, outbox *mail.Outbox, addr string, tune func(*mail.SMTPConfig)) *mail.SMTP {
	t.Helper()
	cfg := mail.SMTPConfig{URL: "smtp+plain://" + addr, From: "obhub <noreply@alliance.example>",
		Timeout: 5 * time.Second, Backoff: 10 * time.Millisecond, Sweep: 20 * time.Millisecond}
	if tune != nil {
		tune(&cfg)
	}
	m, err := mail.NewSMTP(cfg, outbox, nil)
	if err != nil {
		t.Fatal(err)
	}
	m.Start()
	t.Cleanup(func() { m.Close() })
	return m
}

// silentRelay listens on loopback, accepts one connection and never says
// a word: a relay that hangs. The connection comes out of accepted.
func silentRelay(t *testing.T) (net.Listener, <-chan net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := l.Accept(); err == nil {
			accepted <- c
		}
	}()
	return l, accepted
}

// deadAddr returns a loopback address where nothing listens: dialling it
// is refused.
func deadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// message returns the outbox's message seq.
func message(t *testing.T, store mail.Store, seq int64) mail.Message {
	t.Helper()
	list, err := store.ListMail(context.Background(), mail.Query{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range list {
		if m.Seq == seq {
			return m
		}
	}
	t.Fatalf("no message %d in the outbox", seq)
	return mail.Message{}
}

// waitFor waits until the message seq is in the delivery state and
// returns it.
func waitFor(t *testing.T, store mail.Store, seq int64, delivery string) mail.Message {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		m := message(t, store, seq)
		if m.Delivery == delivery {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("message %d is %s (%+v), want %s", seq, m.Delivery, m, delivery)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// newest returns the sequence number of the newest message.
func newest(t *testing.T, store mail.Store) int64 {
	t.Helper()
	list, err := store.ListMail(context.Background(), mail.Query{Limit: 1})
	if err != nil || len(list) != 1 {
		t.Fatalf("outbox %v, %v: want a message", list, err)
	}
	return list[0].Seq
}

// A mail sent while the relay is down ends failed, with its attempts and
// why; sweeps leave it so. Once the relay is back, the operator's retry
// delivers it and the outbox says sent.
func TestSMTPFailedThenRetried(t *testing.T) {
	ctx := context.Background()
	addr := deadAddr(t)
	outbox, store := openOutbox(t)
	m := startMailer(t, outbox, addr, func(c *mail.SMTPConfig) { c.Retries = 2 })
	const to = "li.ming@hemupay.example"
	if err := m.Send(ctx, mail.Message{Kind: mail.KindVerify, To: to, Subject: "s", Text: "t"}); err != nil {
		t.Fatal(err)
	}
	seq := newest(t, store)
	got := waitFor(t, store, seq, mail.DeliveryFailed)
	if got.Attempts != 3 || got.LastError != "connection refused" || !got.SentAt.IsZero() {
		t.Fatalf("failed message = %+v, want 3 attempts, connection refused, not sent", got)
	}
	if _, err := m.Retry(ctx, seq+100); obhub.ErrorCode(err) != obhub.ENOTFOUND {
		t.Errorf("retrying no message: %v, want ENOTFOUND", err)
	}

	time.Sleep(10 * 20 * time.Millisecond) // ten sweeps
	if again := message(t, store, seq); again.Delivery != mail.DeliveryFailed || again.Attempts != 3 {
		t.Fatalf("after sweeps: %+v, want failed to stay failed", again)
	}

	r := mailtest.StartOn(t, addr, nil) // the relay is back
	retried, err := m.Retry(ctx, seq)
	if err != nil {
		t.Fatal(err)
	}
	if retried.Delivery != mail.DeliveryPending || retried.Attempts != 3 {
		t.Errorf("Retry = %+v, want pending with the 3 attempts so far", retried)
	}
	if d := r.Next(t); d.To != to {
		t.Errorf("delivered to %q", d.To)
	}
	got = waitFor(t, store, seq, mail.DeliverySent)
	if got.Attempts != 4 || got.SentAt.IsZero() || got.LastError != "" {
		t.Errorf("sent message = %+v, want 4 attempts, a time sent and no error", got)
	}
	if _, err := m.Retry(ctx, seq); obhub.ErrorCode(err) != obhub.ECONFLICT || !strings.Contains(err.Error(), "is sent") {
		t.Errorf("retrying a sent message: %v, want ECONFLICT", err)
	}
	if sent, failed := m.Stats(); sent != 1 || failed != 1 {
		t.Errorf("stats: sent %d, failed %d", sent, failed)
	}
}

// The relay's replies: a permanent refusal (5xx) fails the message at
// once, a temporary one (4xx) is retried; lastError gives the code and
// class, never the relay's text, which quotes the address.
func TestSMTPRelayRefuses(t *testing.T) {
	ctx := context.Background()
	r := mailtest.Start(t, nil)
	outbox, store := openOutbox(t)
	m := startMailer(t, outbox, r.Addr, func(c *mail.SMTPConfig) { c.Retries = 2 })
	for _, tt := range []struct {
		code     int
		attempts int
		reason   string
	}{
		{550, 1, "smtp 550 (permanent)"},
		{451, 3, "smtp 451 (temporary)"},
	} {
		r.Refuse(tt.code)
		if err := m.Send(ctx, mail.Message{Kind: mail.KindReset, To: "wang.fang@hemupay.example", Subject: "s", Text: "t"}); err != nil {
			t.Fatal(err)
		}
		got := waitFor(t, store, newest(t, store), mail.DeliveryFailed)
		if got.Attempts != tt.attempts || got.LastError != tt.reason {
			t.Errorf("refused %d: %d attempts, lastError %q; want %d and %q", tt.code, got.Attempts, got.LastError, tt.attempts, tt.reason)
		}
	}
	select {
	case d := <-r.Received:
		t.Errorf("a refused message was delivered: %+v", d)
	default:
	}
}

// A message a stopped node was delivering is pending, unclaimed; the next
// node's first sweep, at start, delivers it.
func TestSMTPPendingLeftByAStoppedNode(t *testing.T) {
	ctx := context.Background()
	l, accepted := silentRelay(t)
	outbox, store := openOutbox(t)
	first := startMailer(t, outbox, l.Addr().String(), func(c *mail.SMTPConfig) { c.Timeout = time.Minute })
	if err := first.Send(ctx, mail.Message{Kind: mail.KindInvite, To: "zhao@hemupay.example", Subject: "s", Text: "t"}); err != nil {
		t.Fatal(err)
	}
	c := <-accepted
	defer c.Close()
	first.Close()
	seq := newest(t, store)
	if got := message(t, store, seq); got.Delivery != mail.DeliveryPending || got.Attempts != 0 {
		t.Fatalf("after the node stopped: %+v, want pending", got)
	}

	r := mailtest.Start(t, nil)
	startMailer(t, outbox, r.Addr, func(c *mail.SMTPConfig) { c.Sweep = time.Hour }) // only the sweep at start
	if d := r.Next(t); d.To != "zhao@hemupay.example" {
		t.Errorf("delivered to %q", d.To)
	}
	if got := waitFor(t, store, seq, mail.DeliverySent); got.Attempts != 1 {
		t.Errorf("sent message = %+v, want 1 attempt", got)
	}
}

// A node that crashed while delivering leaves its claim behind: no other
// node sends the message until the claim's lease has ended, then a sweep
// does.
func TestSMTPTakesOverACrashedClaim(t *testing.T) {
	ctx := context.Background()
	outbox, store := openOutbox(t)
	now := time.Now().UTC()
	seq, err := store.AddMail(ctx, mail.Message{Kind: mail.KindVerify, To: "sun@hemupay.example", Subject: "s", Text: "t",
		CreatedAt: now, Delivery: mail.DeliveryPending})
	if err != nil {
		t.Fatal(err)
	}
	leaseEnd := now.Add(300 * time.Millisecond)
	if _, ok, err := store.ClaimMail(ctx, seq, "crashed-node", now, leaseEnd); err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	r := mailtest.Start(t, nil)
	startMailer(t, outbox, r.Addr, nil)
	r.Next(t)
	if time.Now().Before(leaseEnd) {
		t.Error("delivered while the crashed node's claim held")
	}
	waitFor(t, store, seq, mail.DeliverySent)
}

// Two nodes sharing an outbox, each sweeping it often: every pending
// message reaches the relay once. On SQLite the nodes share one file; on
// PostgreSQL each has its own pool, as nodes of a cluster do.
func TestSMTPTwoNodesDeliverOnce(t *testing.T) {
	t.Run("SQLite", func(t *testing.T) {
		_, store := openOutbox(t)
		twoNodesDeliverOnce(t, store, store)
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		dsn := pgtest.DSN(t)
		schema := pgtest.Schema(t, dsn)
		twoNodesDeliverOnce(t, pgtest.OpenSchema(t, dsn, schema).Portal(), pgtest.OpenSchema(t, dsn, schema).Portal())
	})
}

func twoNodesDeliverOnce(t *testing.T, storeA, storeB mail.Store) {
	ctx := context.Background()
	r := mailtest.Start(t, nil)
	fast := func(c *mail.SMTPConfig) { c.Sweep = 5 * time.Millisecond }
	a := startMailer(t, mail.NewOutbox(storeA, time.Now, nil), r.Addr, fast)
	b := startMailer(t, mail.NewOutbox(storeB, time.Now, nil), r.Addr, fast)
	const n = 10
	for i := range n {
		to := fmt.Sprintf("dev%d@hemupay.example", i)
		if i%2 == 0 { // sent on node a, queued there, swept by b as well
			if err := a.Send(ctx, mail.Message{Kind: mail.KindVerify, To: to, Subject: "s", Text: "t"}); err != nil {
				t.Fatal(err)
			}
			continue
		}
		// Left pending by a third node, for both sweeps to find.
		if _, err := storeB.AddMail(ctx, mail.Message{Kind: mail.KindVerify, To: to, Subject: "s", Text: "t",
			CreatedAt: time.Now(), Delivery: mail.DeliveryPending}); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]int{}
	for range n {
		got[r.Next(t).To]++
	}
	time.Sleep(200 * time.Millisecond) // forty sweeps: room for a second copy
	for more := true; more; {
		select {
		case d := <-r.Received:
			got[d.To]++
		default:
			more = false
		}
	}
	for i := range n {
		if to := fmt.Sprintf("dev%d@hemupay.example", i); got[to] != 1 {
			t.Errorf("%s received %d times, want once", to, got[to])
		}
	}
	sentA, _ := a.Stats()
	sentB, _ := b.Stats()
	if sentA+sentB != n {
		t.Errorf("sent %d on a and %d on b, want %d in all", sentA, sentB, n)
	}
	list, _ := storeA.ListMail(ctx, mail.Query{Delivery: mail.DeliverySent})
	for _, m := range list {
		if m.Attempts != 1 {
			t.Errorf("message %d: %d attempts, want 1", m.Seq, m.Attempts)
		}
	}
	if len(list) != n {
		t.Errorf("%d messages sent in the outbox, want %d", len(list), n)
	}
}

// A pending message older than its link's lifetime is not sent: the link
// is dead. It is marked failed, "expired", and a retry is refused. A
// message of a longer-lived kind, as old, is still sent.
func TestSMTPExpiredPendingIsNotSent(t *testing.T) {
	ctx := context.Background()
	outbox, store := openOutbox(t)
	add := func(kind string, age time.Duration) int64 {
		t.Helper()
		seq, err := store.AddMail(ctx, mail.Message{Kind: kind, To: "qian@hemupay.example", Subject: "s", Text: "t",
			CreatedAt: time.Now().Add(-age), Delivery: mail.DeliveryPending})
		if err != nil {
			t.Fatal(err)
		}
		return seq
	}
	reset := add(mail.KindReset, 2*time.Hour)      // its link lived 30 minutes
	invite := add(mail.KindInvite, 3*24*time.Hour) // its link lives a week
	r := mailtest.Start(t, nil)
	m := startMailer(t, outbox, r.Addr, func(c *mail.SMTPConfig) {
		c.Lifetimes = map[string]time.Duration{mail.KindReset: 30 * time.Minute, mail.KindInvite: 7 * 24 * time.Hour}
	})
	got := waitFor(t, store, reset, mail.DeliveryFailed)
	if got.LastError != mail.ReasonExpired || got.Attempts != 0 {
		t.Errorf("expired reset mail = %+v, want failed, expired, no attempt", got)
	}
	if got := waitFor(t, store, invite, mail.DeliverySent); got.Attempts != 1 {
		t.Errorf("3-day-old invitation = %+v, want sent at the first attempt", got)
	}
	select {
	case d := <-r.Received:
		if !strings.Contains(string(d.Data), "Subject: s") {
			t.Errorf("the relay got %q", d.Data)
		}
	default:
		t.Error("the relay got nothing")
	}
	select {
	case d := <-r.Received:
		t.Errorf("two messages were sent, the expired one too: %+v", d)
	default:
	}
	if _, err := m.Retry(ctx, reset); obhub.ErrorCode(err) != obhub.ECONFLICT || !strings.Contains(err.Error(), "lifetime (30m0s)") {
		t.Errorf("retrying an expired message: %v, want ECONFLICT naming the lifetime", err)
	}
	if _, err := m.Retry(ctx, invite+100); obhub.ErrorCode(err) != obhub.ENOTFOUND {
		t.Errorf("retrying a message that does not exist: %v, want ENOTFOUND", err)
	}
}

// Nothing of a message reaches the log: kind, sequence number and the
// reason only.
func TestSMTPLogsNoAddress(t *testing.T) {
	var log strings.Builder
	r := mailtest.Start(t, nil)
	r.Refuse(550)
	store := sqlite.NewPortalStore(filepath.Join(t.TempDir(), "portal.db"))
	if err := store.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	logger := slog.New(slog.NewTextHandler(&log, nil)) // one handler: its writes are serialised
	m, err := mail.NewSMTP(mail.SMTPConfig{URL: "smtp+plain://" + r.Addr, From: "noreply@alliance.example", Backoff: time.Millisecond},
		mail.NewOutbox(store, time.Now, logger), logger)
	if err != nil {
		t.Fatal(err)
	}
	m.Start()
	defer m.Close()
	const to, text = "secret.person@hemupay.example", "https://hub.example/portal/reset/new#token=SECRET-LINK"
	if err := m.Send(context.Background(), mail.Message{Kind: mail.KindReset, To: to, Subject: "s", Text: text}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, store, newest(t, store), mail.DeliveryFailed)
	m.Close()
	out := log.String()
	if strings.Contains(out, "secret.person") || strings.Contains(out, "SECRET-LINK") {
		t.Errorf("the log holds the address or the text:\n%s", out)
	}
	if !strings.Contains(out, "smtp 550 (permanent)") || !strings.Contains(out, "seq=") {
		t.Errorf("the log does not say which message failed and why:\n%s", out)
	}
}
