package mail_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/obhub/obhub/internal/mail"
	"github.com/obhub/obhub/internal/mail/mailtest"
	"github.com/obhub/obhub/internal/testpki"
	"github.com/obhub/obhub/store/sqlite"
)

// selfSigned returns a server certificate for 127.0.0.1 and a pool that
// trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	c := testpki.New(t, &x509.Certificate{Subject: pkix.Name{CommonName: "relay.test"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true}, nil)
	return c.TLS(), c.Pool()
}

// settled waits until the mailer has finished with the one message it was
// given, and returns its counts.
func settled(t *testing.T, m *mail.SMTP) (sent, failed int64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if sent, failed = m.Stats(); sent+failed > 0 || time.Now().After(deadline) {
			return sent, failed
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Closing does not wait for a relay that hangs: the delivery in progress
// is cut and the message stays in the outbox, pending and unclaimed, for
// the next sweep; the cut delivery is not counted as an attempt.
func TestSMTPCloseDoesNotWaitForARelay(t *testing.T) {
	l, accepted := silentRelay(t)
	outbox, store := openOutbox(t)
	m, err := mail.NewSMTP(mail.SMTPConfig{URL: "smtp+plain://" + l.Addr().String(), From: "a@b.example", Timeout: time.Minute}, outbox, nil)
	if err != nil {
		t.Fatal(err)
	}
	m.Start()
	if err := m.Send(context.Background(), mail.Message{Kind: mail.KindInvite, To: "x@y.example", Subject: "s", Text: "t"}); err != nil {
		t.Fatal(err)
	}
	c := <-accepted // the delivery is now waiting for the greeting
	defer c.Close()
	done := make(chan struct{})
	go func() { m.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close waited for the silent relay")
	}
	list, _ := store.ListMail(context.Background(), mail.Query{})
	if len(list) != 1 || list[0].Delivery != mail.DeliveryPending || list[0].Attempts != 0 {
		t.Fatalf("outbox %+v, want the undelivered message pending, no attempt counted", list)
	}
	if due, err := store.DueMail(context.Background(), time.Now(), 10); err != nil || len(due) != 1 {
		t.Errorf("due messages %v (%v): want the claim given up", due, err)
	}
}

func openOutbox(t *testing.T) (*mail.Outbox, *sqlite.PortalStore) {
	t.Helper()
	store := sqlite.NewPortalStore(filepath.Join(t.TempDir(), "portal.db"))
	if err := store.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return mail.NewOutbox(store, time.Now, nil), store
}

// A message goes into the outbox at once and reaches the relay over
// STARTTLS, authenticated, with its Chinese subject and text intact.
func TestSMTPDelivers(t *testing.T) {
	cert, pool := selfSigned(t)
	r := mailtest.Start(t, &tls.Config{Certificates: []tls.Certificate{cert}})
	outbox, store := openOutbox(t)
	m, err := mail.NewSMTP(mail.SMTPConfig{URL: "smtp://dev@" + r.Addr, Password: r.Password,
		From: "obhub <noreply@alliance.example>", TLS: &tls.Config{RootCAs: pool}}, outbox, nil)
	if err != nil {
		t.Fatal(err)
	}
	m.Start()
	defer m.Close()
	msg := mail.Message{Kind: mail.KindVerify, To: "li.ming@hemupay.example",
		Subject: "请验证您的电子邮箱 / Verify your e-mail address",
		Text:    "李明，您好：\n\n请打开以下链接。\nhttps://hub.example/portal/verify#token=abc\n\n-------- English --------\n\nOpen the link."}
	if err := m.Send(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	if list, err := store.ListMail(context.Background(), mail.Query{}); err != nil || len(list) != 1 || list[0].To != msg.To {
		t.Fatalf("outbox %+v %v: the message must be kept there too", list, err)
	}
	d := r.Next(t)
	if !d.TLS || !d.Authed || d.From != "noreply@alliance.example" || d.To != msg.To {
		t.Fatalf("delivery: tls %v, authenticated %v, from %q, to %q", d.TLS, d.Authed, d.From, d.To)
	}
	parsed, err := netmail.ReadMessage(bytes.NewReader(d.Data))
	if err != nil {
		t.Fatal(err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(parsed.Header.Get("Subject"))
	if err != nil || subject != msg.Subject {
		t.Errorf("subject %q (%v), want %q", subject, err, msg.Subject)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(parsed.Body))
	if err != nil || strings.TrimSuffix(strings.ReplaceAll(string(body), "\r\n", "\n"), "\n") != msg.Text {
		t.Errorf("body %q (%v), want %q", body, err, msg.Text)
	}
	for _, h := range []string{"Message-Id", "Date", "From", "To"} {
		if parsed.Header.Get(h) == "" {
			t.Errorf("header %s missing", h)
		}
	}
	if sent, failed := settled(t, m); sent != 1 || failed != 0 {
		t.Errorf("sent %d, failed %d", sent, failed)
	}
	if list, _ := store.ListMail(context.Background(), mail.Query{}); len(list) != 1 || list[0].Delivery != mail.DeliverySent ||
		list[0].Attempts != 1 || list[0].SentAt.IsZero() || list[0].LastError != "" {
		t.Errorf("outbox %+v, want the message sent at the first attempt", list)
	}
}

// A relay that does not offer STARTTLS gets nothing: no password and no
// message in clear text. The message stays in the outbox, failed.
func TestSMTPRefusesClearText(t *testing.T) {
	r := mailtest.Start(t, nil)
	outbox, store := openOutbox(t)
	m, err := mail.NewSMTP(mail.SMTPConfig{URL: "smtp://dev@" + r.Addr, Password: r.Password,
		From: "noreply@alliance.example", Retries: -1}, outbox, nil)
	if err != nil {
		t.Fatal(err)
	}
	m.Start()
	defer m.Close()
	if err := m.Send(context.Background(), mail.Message{Kind: mail.KindReset, To: "a@b.example", Subject: "s", Text: "t"}); err != nil {
		t.Fatal(err)
	}
	if sent, failed := settled(t, m); sent != 0 || failed != 1 {
		t.Errorf("sent %d, failed %d: want the delivery refused", sent, failed)
	}
	select {
	case d := <-r.Received:
		t.Fatalf("a message went out in clear text: %+v", d)
	default:
	}
	if list, _ := store.ListMail(context.Background(), mail.Query{}); len(list) != 1 || list[0].Delivery != mail.DeliveryFailed ||
		list[0].LastError != "no STARTTLS" {
		t.Errorf("outbox %+v, want the undelivered message failed for want of STARTTLS", list)
	}
}

func TestSMTPConfig(t *testing.T) {
	outbox, _ := openOutbox(t)
	for _, tt := range []struct {
		cfg  mail.SMTPConfig
		want string
	}{
		{mail.SMTPConfig{URL: "smtp+plain://mail.example.com", From: "a@b.example"}, "only to a relay on this machine"},
		{mail.SMTPConfig{URL: "smtp://dev:secret@mail.example.com", From: "a@b.example"}, "password apart"},
		{mail.SMTPConfig{URL: "smtp://dev@mail.example.com", From: "a@b.example"}, "has no password"},
		{mail.SMTPConfig{URL: "http://mail.example.com", From: "a@b.example"}, "scheme"},
		{mail.SMTPConfig{URL: "smtp://mail.example.com", From: "not an address"}, "mail from"},
		{mail.SMTPConfig{URL: "smtp+plain://127.0.0.1", From: "a@b.example", Password: "x"}, "no password"},
	} {
		_, err := mail.NewSMTP(tt.cfg, outbox, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: err %v, want %q", tt.cfg, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("the error repeats the password: %v", err)
		}
	}
	m, err := mail.NewSMTP(mail.SMTPConfig{URL: "smtp+plain://localhost:2525", From: "obhub <a@b.example>"}, outbox, nil)
	if err != nil {
		t.Fatalf("a plain relay on localhost: %v", err)
	}
	defer m.Close()
	// A recipient that would inject headers is refused before anything is stored.
	if err := m.Send(context.Background(), mail.Message{To: "a@b.example\r\nBcc: x@evil.example", Subject: "s"}); err == nil {
		t.Error("a recipient with a line break was accepted")
	}
}
