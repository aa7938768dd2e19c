package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"net/smtp"
	"net/url"
	"strings"
	"sync"
	"time"
)

// SMTPConfig says where and how SMTP delivers the hub's mail.
type SMTPConfig struct {
	// URL is the relay: smtp://[user@]host[:587] (STARTTLS, required:
	// a server that does not offer it is refused), smtps://[user@]host[:465]
	// (TLS from the first byte), or smtp+plain://host[:25] — no TLS, for a
	// relay on the same machine only (a loopback address).
	URL string
	// Password authenticates the URL's user (AUTH PLAIN, only ever over
	// TLS); it is given apart from the URL, which is safe to log.
	Password string
	// From is the sender, such as "obhub <noreply@alliance.example>".
	From string
	// TLS, when set, replaces the TLS client configuration (tests trust
	// their own CA with it); ServerName is always the URL's host.
	TLS *tls.Config
	// Timeout bounds one delivery: dialling, the exchange and the data;
	// 30 seconds when 0.
	Timeout time.Duration
	// Retries is how many more times a failed delivery is tried, with
	// growing pauses (1 s, 4 s, 9 s, …); 3 when 0, none when negative.
	Retries int
}

// SMTP is a Mailer that keeps every message in the outbox, as Outbox does,
// and delivers it through an SMTP relay behind: Send returns once the
// message is stored, so a page never waits for the relay and never
// answers differently because of it (the password-reset page answers the
// same whether or not an account exists). A message whose delivery fails
// after every retry, or that a restart interrupts, stays in the outbox,
// where the operator finds it (admin API GET /admin/v1/outbox); the log
// names the kind and the relay's error, never the address or the text.
type SMTP struct {
	cfg    SMTPConfig
	outbox Mailer
	logger *slog.Logger

	relay
	queue  chan Message
	wg     sync.WaitGroup
	closed chan struct{}
	once   sync.Once
	// sent counts delivered messages; failed, messages given up; active
	// is the relay connection in use, which Close cuts.
	mu           sync.Mutex
	sent, failed int64
	active       net.Conn
}

var _ Mailer = (*SMTP)(nil)

// smtpQueue bounds the messages waiting for the relay; beyond it a
// message stays in the outbox only (logged).
const smtpQueue = 256

// relay is what parseSMTP makes of an SMTPConfig.
type relay struct {
	mode string // "starttls", "tls" or "plain"
	host string // for TLS ServerName and AUTH
	addr string // host:port
	user string
	from *netmail.Address
}

// parseSMTP checks cfg without connecting: the URL's scheme and host, a
// plain relay on a loopback address only, the sender's address.
func parseSMTP(cfg SMTPConfig) (relay, error) {
	var r relay
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Host == "" || u.Hostname() == "" {
		return r, fmt.Errorf("smtp url: want smtp://host[:587], smtps://host[:465] or smtp+plain://localhost[:25]")
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		return r, fmt.Errorf("smtp url: no path or query expected")
	}
	if _, set := u.User.Password(); set {
		return r, fmt.Errorf("smtp url: give the password apart (OBHUB_SMTP_PASSWORD), not in the URL")
	}
	port := u.Port()
	r.host = u.Hostname()
	switch u.Scheme {
	case "smtp":
		r.mode, port = "starttls", cmpOr(port, "587")
	case "smtps":
		r.mode, port = "tls", cmpOr(port, "465")
	case "smtp+plain":
		r.mode, port = "plain", cmpOr(port, "25")
		if !isLoopback(r.host) {
			return r, fmt.Errorf("smtp url: smtp+plain only to a relay on this machine (localhost), not %q: use smtp:// (STARTTLS) or smtps://", r.host)
		}
		if cfg.Password != "" {
			return r, fmt.Errorf("smtp url: no password over smtp+plain")
		}
	default:
		return r, fmt.Errorf("smtp url: scheme %q: want smtp, smtps or smtp+plain", u.Scheme)
	}
	r.addr = net.JoinHostPort(r.host, port)
	if u.User != nil {
		r.user = u.User.Username()
	}
	if r.user != "" && cfg.Password == "" {
		return r, fmt.Errorf("smtp url: user %q has no password (OBHUB_SMTP_PASSWORD)", r.user)
	}
	if r.from, err = netmail.ParseAddress(cfg.From); err != nil {
		return r, fmt.Errorf("mail from %q: %v", cfg.From, err)
	}
	return r, nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// NewSMTP checks cfg (parseSMTP) and starts the delivery goroutine;
// outbox keeps the messages (an Outbox). Close stops it.
func NewSMTP(cfg SMTPConfig, outbox Mailer, logger *slog.Logger) (*SMTP, error) {
	r, err := parseSMTP(cfg)
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Retries == 0 {
		cfg.Retries = 3
	}
	s := &SMTP{cfg: cfg, outbox: outbox, logger: logger, relay: r, queue: make(chan Message, smtpQueue), closed: make(chan struct{})}
	s.wg.Add(1)
	go s.run()
	return s, nil
}

// Send implements Mailer: the message is stored in the outbox, then
// queued for the relay.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	if _, err := netmail.ParseAddress(m.To); err != nil || strings.ContainsAny(m.To, "\r\n") {
		return fmt.Errorf("mail: bad recipient address")
	}
	if err := s.outbox.Send(ctx, m); err != nil {
		return err
	}
	select {
	case <-s.closed:
		s.logger.Warn("mail: closing; message left in the outbox", "kind", m.Kind)
	case s.queue <- m:
	default:
		s.logger.Error("mail: delivery queue full; message left in the outbox", "kind", m.Kind)
	}
	return nil
}

// Stats returns how many messages were delivered and given up.
func (s *SMTP) Stats() (sent, failed int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent, s.failed
}

// Close stops delivering at once — a node shutting down does not wait for
// a slow relay: the delivery in progress is cut, and what is still queued
// stays in the outbox (logged). It is idempotent.
func (s *SMTP) Close() error {
	s.once.Do(func() {
		close(s.closed)
		s.mu.Lock()
		if s.active != nil {
			s.active.Close()
		}
		s.mu.Unlock()
	})
	s.wg.Wait()
	return nil
}

func (s *SMTP) run() {
	defer s.wg.Done()
	for {
		select {
		case <-s.closed:
			left := 0
			for {
				select {
				case <-s.queue:
					left++
				default:
					if left > 0 {
						s.logger.Warn("mail: stopping; undelivered messages stay in the outbox", "messages", left)
					}
					return
				}
			}
		default:
		}
		select {
		case m := <-s.queue:
			s.deliverWithRetries(m)
		case <-s.closed:
		}
	}
}

func (s *SMTP) deliverWithRetries(m Message) {
	err := s.deliver(m)
	for attempt := 1; err != nil && attempt <= s.cfg.Retries; attempt++ {
		s.logger.Warn("mail: delivery failed; retrying", "kind", m.Kind, "attempt", attempt, "err", err)
		select {
		case <-time.After(time.Duration(attempt*attempt) * time.Second):
		case <-s.closed:
			s.finish(m, err)
			return
		}
		err = s.deliver(m)
	}
	s.finish(m, err)
}

func (s *SMTP) finish(m Message, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.failed++
		s.logger.Error("mail: not delivered; the message stays in the outbox", "kind", m.Kind, "err", err)
		return
	}
	s.sent++
	s.logger.Info("mail: delivered", "kind", m.Kind)
}

// deliver sends one message through the relay.
func (s *SMTP) deliver(m Message) error {
	to, err := netmail.ParseAddress(m.To)
	if err != nil {
		return fmt.Errorf("recipient: %v", err)
	}
	body, err := s.format(m, to)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(s.cfg.Timeout)
	d := net.Dialer{Deadline: deadline}
	tlsCfg := s.tlsConfig()
	var conn net.Conn
	if s.mode == "tls" {
		conn, err = tls.DialWithDialer(&d, "tcp", s.addr, tlsCfg)
	} else {
		conn, err = d.Dial("tcp", s.addr)
	}
	if err != nil {
		return err
	}
	if err := conn.SetDeadline(deadline); err != nil {
		conn.Close()
		return err
	}
	s.mu.Lock()
	select {
	case <-s.closed:
		s.mu.Unlock()
		conn.Close()
		return errors.New("closing")
	default:
	}
	s.active = conn
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.active = nil
		s.mu.Unlock()
	}()
	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		conn.Close()
		return err
	}
	defer c.Close()
	if err := c.Hello("localhost"); err != nil {
		return err
	}
	if s.mode == "starttls" {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return errors.New("the relay does not offer STARTTLS; refusing to send in clear text")
		}
		if err := c.StartTLS(tlsCfg); err != nil {
			return err
		}
	}
	if s.user != "" {
		// smtp.PlainAuth refuses to send the password without TLS
		// (except to localhost, which smtp+plain never authenticates to).
		if err := c.Auth(smtp.PlainAuth("", s.user, s.cfg.Password, s.host)); err != nil {
			return err
		}
	}
	if err := c.Mail(s.from.Address); err != nil {
		return err
	}
	if err := c.Rcpt(to.Address); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(body); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

func (s *SMTP) tlsConfig() *tls.Config {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.cfg.TLS != nil {
		c = s.cfg.TLS.Clone()
	}
	c.ServerName = s.host
	return c
}

// format builds the message: RFC 5322 headers (the subject encoded per
// RFC 2047, as texts are Chinese and English) and a quoted-printable
// UTF-8 plain-text body.
func (s *SMTP) format(m Message, to *netmail.Address) ([]byte, error) {
	if strings.ContainsAny(m.Subject, "\r\n") {
		return nil, errors.New("subject spans lines")
	}
	var id [12]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, err
	}
	domain := s.from.Address[strings.LastIndexByte(s.from.Address, '@')+1:]
	date := m.CreatedAt
	if date.IsZero() {
		date = time.Now()
	}
	var b bytes.Buffer
	header := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	header("From", s.from.String())
	header("To", to.String())
	header("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	header("Date", date.Format(time.RFC1123Z))
	header("Message-ID", "<"+hex.EncodeToString(id[:])+"@"+domain+">")
	header("MIME-Version", "1.0")
	header("Content-Type", `text/plain; charset="utf-8"`)
	header("Content-Transfer-Encoding", "quoted-printable")
	header("Auto-Submitted", "auto-generated")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	if _, err := qp.Write([]byte(strings.ReplaceAll(m.Text, "\n", "\r\n"))); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
