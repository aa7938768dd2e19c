// Package mailtest runs a real SMTP relay (emersion/go-smtp) on a loopback
// port for tests of the hub's mail delivery, and keeps what it receives.
package mailtest

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Relay is a running SMTP server.
type Relay struct {
	Addr     string // host:port
	User     string // AUTH PLAIN credentials it accepts
	Password string
	// Received has every message the relay accepted.
	Received chan Delivery
	// refuse is the reply code to every recipient (Refuse); 0 accepts.
	refuse atomic.Int32
}

// Delivery is one message as the relay got it.
type Delivery struct {
	From, To string
	Data     []byte // the message: headers and body
	TLS      bool   // the session was encrypted (STARTTLS) when DATA came
	Authed   bool   // the client authenticated
}

// Start runs a relay on a free loopback port until the test ends; with
// tlsCfg it offers STARTTLS (and then requires it before AUTH), without it
// speaks clear text only.
func Start(t testing.TB, tlsCfg *tls.Config) *Relay {
	t.Helper()
	return StartOn(t, "127.0.0.1:0", tlsCfg)
}

// StartOn runs a relay, as Start does, on the address addr: a test brings
// up the relay a mailer could not reach before.
func StartOn(t testing.TB, addr string, tlsCfg *tls.Config) *Relay {
	t.Helper()
	r := &Relay{User: "dev", Password: "relay-pass", Received: make(chan Delivery, 16)}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{r: r, c: c}, nil
	}))
	srv.Domain = "relay.test"
	srv.TLSConfig = tlsCfg
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	r.Addr = l.Addr().String()
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return r
}

// Refuse makes the relay answer every recipient with the SMTP reply code
// (such as 550, permanent, or 451, temporary), its text quoting the
// address as real relays do; 0 accepts again.
func (r *Relay) Refuse(code int) { r.refuse.Store(int32(code)) }

// Next returns the next message the relay receives, failing the test
// after 20 seconds.
func (r *Relay) Next(t testing.TB) Delivery {
	t.Helper()
	select {
	case d := <-r.Received:
		return d
	case <-time.After(20 * time.Second):
		t.Fatal("the relay received nothing")
		return Delivery{}
	}
}

type session struct {
	r      *Relay
	c      *smtp.Conn
	d      Delivery
	authed bool
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != s.r.User || pass != s.r.Password {
			return errors.New("bad credentials")
		}
		s.authed = true
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error { s.d.From = from; return nil }
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if code := int(s.r.refuse.Load()); code != 0 {
		return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{code / 100, 1, 1},
			Message: "<" + to + ">: recipient refused"}
	}
	s.d.To = to
	return nil
}

func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.d.Data = b
	_, s.d.TLS = s.c.TLSConnectionState()
	s.d.Authed = s.authed
	s.r.Received <- s.d
	return nil
}

func (s *session) Reset()        { s.d = Delivery{} }
func (s *session) Logout() error { return nil }
