package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"net/smtp"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/obhub/obhub"
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
	// growing pauses (Backoff × 1, 4, 9, …); 3 when 0, none when negative.
	// A permanent refusal (an SMTP reply 5xx) is not retried.
	Retries int
	// Backoff is the pause before the first retry; 1 second when 0.
	Backoff time.Duration
	// Sweep is how often the outbox is searched for pending messages that
	// no node is delivering (left by a node that stopped or crashed, sent
	// again by the operator, or beyond the queue); every minute when 0.
	// Start sweeps once at once.
	Sweep time.Duration
	// Lifetimes is how long a message of each kind is worth sending: the
	// lifetime of the link it carries (a password reset's dies within
	// the hour, an invitation's lives a week). A pending message older
	// than its kind's lifetime is not sent but marked failed, with
	// LastError "expired", and the operator cannot send it again.
	// Kinds not in the map have MaxAge.
	Lifetimes map[string]time.Duration
	// MaxAge is the lifetime of kinds Lifetimes does not name; 24 hours
	// when 0.
	MaxAge time.Duration
}

// SMTP is a Mailer that keeps every message in the outbox, as Outbox does,
// marked pending, and delivers it through an SMTP relay behind: Send
// returns once the message is stored, so a page never waits for the relay
// and never answers differently because of it (the password-reset page
// answers the same whether or not an account exists).
//
// Delivery is durable. A node delivers a message under a claim
// (Store.ClaimMail), so that of the nodes sharing an outbox one delivers
// it, and records the outcome: sent, or failed after the retries. A
// message left pending — its node stopped or crashed, or the queue was
// full — is taken by the next sweep of any node once the claim's lease
// has ended (a stopping node gives its claim up at once). A failed
// message stays failed until the operator asks for a retry (Retry). The
// log names the kind, the sequence number and a short reason, never the
// address, the text or the relay's reply text.
type SMTP struct {
	cfg    SMTPConfig
	outbox *Outbox // the store and the clock
	logger *slog.Logger

	relay
	queue  chan int64 // sequence numbers to deliver now
	wg     sync.WaitGroup
	closed chan struct{}
	once   sync.Once
	// started: Start ran; sent counts delivered messages; failed,
	// messages given up; active is the relay connection in use, which
	// Close cuts.
	mu           sync.Mutex
	started      bool
	sent, failed int64
	active       net.Conn
}

var _ Mailer = (*SMTP)(nil)

const (
	// smtpQueue bounds the messages waiting for the relay; beyond it a
	// message waits for the next sweep.
	smtpQueue = 256
	// sweepBatch is how many pending messages one sweep takes at most.
	sweepBatch = 100
	// markTimeout bounds recording an outcome, which Close does not
	// cancel: a message sent must be marked sent, even while stopping.
	markTimeout = 5 * time.Second
)

// ReasonExpired is the LastError of a message too old to be sent.
const ReasonExpired = "expired"

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

// NewSMTP checks cfg (parseSMTP) and returns a Mailer that keeps its
// messages in outbox's store and tells the time by outbox's clock. It does
// no I/O: Start starts delivering, Close stops.
func NewSMTP(cfg SMTPConfig, outbox *Outbox, logger *slog.Logger) (*SMTP, error) {
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
	if cfg.Backoff <= 0 {
		cfg.Backoff = time.Second
	}
	if cfg.Sweep <= 0 {
		cfg.Sweep = time.Minute
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = 24 * time.Hour
	}
	return &SMTP{cfg: cfg, outbox: outbox, logger: logger, relay: r,
		queue: make(chan int64, smtpQueue), closed: make(chan struct{})}, nil
}

// Start starts the delivery goroutine, which sweeps the outbox at once,
// then every cfg.Sweep, and delivers what Send and Retry queue. It does
// nothing after Close, or when called again.
func (s *SMTP) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.closed:
		return
	default:
	}
	if s.started {
		return
	}
	s.started = true
	s.wg.Add(1)
	go s.run()
}

// Send implements Mailer: the message is stored in the outbox, pending,
// then queued for the relay.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	if _, err := netmail.ParseAddress(m.To); err != nil || strings.ContainsAny(m.To, "\r\n") {
		return fmt.Errorf("mail: bad recipient address")
	}
	seq, err := s.outbox.add(ctx, m, DeliveryPending)
	if err != nil {
		return err
	}
	s.enqueue(seq, m.Kind)
	return nil
}

// Retry makes the failed message seq pending again and queues it for
// delivery, with a full set of retries (the admin API's POST
// /admin/v1/outbox/{seq}/retry). A message that is not failed, or older
// than its kind's lifetime, is ECONFLICT; no such message ENOTFOUND. The
// answer is the message as it now is.
func (s *SMTP) Retry(ctx context.Context, seq int64) (Message, error) {
	// The message first, for its kind's lifetime: the page of one,
	// newest first, below seq+1.
	found, err := s.outbox.store.ListMail(ctx, Query{BeforeSeq: seq + 1, Limit: 1})
	if err != nil {
		return Message{}, err
	}
	if len(found) == 0 || found[0].Seq != seq {
		return Message{}, obhub.Errorf(obhub.ENOTFOUND, "no message %d in the outbox", seq)
	}
	life := s.lifetime(found[0].Kind)
	m, ok, err := s.outbox.store.RetryMail(ctx, seq, s.now().Add(-life))
	switch {
	case obhub.ErrorCode(err) == obhub.ENOTFOUND:
		return Message{}, obhub.Errorf(obhub.ENOTFOUND, "no message %d in the outbox", seq)
	case err != nil:
		return Message{}, err
	case !ok && m.Delivery != DeliveryFailed:
		return Message{}, obhub.Errorf(obhub.ECONFLICT, "message %d is %s: only a failed message is sent again", seq, m.Delivery)
	case !ok:
		return Message{}, obhub.Errorf(obhub.ECONFLICT,
			"message %d is older than its link's lifetime (%s) and is no longer sent", seq, hours(life))
	}
	s.logger.Info("mail: retry asked; the message is pending again", "kind", m.Kind, "seq", seq)
	s.enqueue(seq, m.Kind)
	return m, nil
}

// lifetime is how long a message of kind is worth sending
// (SMTPConfig.Lifetimes).
func (s *SMTP) lifetime(kind string) time.Duration {
	if d, ok := s.cfg.Lifetimes[kind]; ok && d > 0 {
		return d
	}
	return s.cfg.MaxAge
}

// hours writes d as "24h" when it is a whole number of hours.
func hours(d time.Duration) string {
	if d%time.Hour == 0 {
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return d.String()
}

// enqueue hands the message seq to the delivery goroutine; when it cannot,
// the message stays pending for the next sweep.
func (s *SMTP) enqueue(seq int64, kind string) {
	select {
	case <-s.closed:
		s.logger.Info("mail: closing; the message stays pending for the next sweep", "kind", kind, "seq", seq)
	case s.queue <- seq:
	default:
		s.logger.Warn("mail: delivery queue full; the message waits for the next sweep", "kind", kind, "seq", seq)
	}
}

// Stats returns how many messages this SMTP delivered and gave up.
func (s *SMTP) Stats() (sent, failed int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent, s.failed
}

// Close stops delivering at once — a node shutting down does not wait for
// a slow relay: the delivery in progress is cut and its claim given up,
// so that the message, pending, goes to the next sweep (of another node,
// or of this one restarted); what is still queued stays pending too. It
// is idempotent and safe without Start.
func (s *SMTP) Close() error {
	s.once.Do(func() {
		s.mu.Lock()
		close(s.closed)
		if s.active != nil {
			s.active.Close()
		}
		s.mu.Unlock()
	})
	s.wg.Wait()
	return nil
}

func (s *SMTP) closing() bool {
	select {
	case <-s.closed:
		return true
	default:
		return false
	}
}

func (s *SMTP) now() time.Time { return s.outbox.clock.Now().UTC() }

// run is the delivery goroutine. Its context ends with Close, which stops
// sweeps and claims; outcomes are still recorded (mark).
func (s *SMTP) run() {
	defer s.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-s.closed
		cancel()
	}()
	s.sweep(ctx)
	tick := time.NewTicker(s.cfg.Sweep)
	defer tick.Stop()
	for {
		select {
		case <-s.closed:
			return
		case seq := <-s.queue:
			s.deliver(ctx, seq)
		case <-tick.C:
			s.sweep(ctx)
		}
	}
}

// sweep delivers the pending messages no claim holds, oldest first.
func (s *SMTP) sweep(ctx context.Context) {
	seqs, err := s.outbox.store.DueMail(ctx, s.now(), sweepBatch)
	if err != nil {
		if !s.closing() {
			s.logger.Warn("mail: sweep the outbox for pending messages", "err", err)
		}
		return
	}
	for _, seq := range seqs {
		if s.closing() {
			return
		}
		s.deliver(ctx, seq)
	}
}

// pause is how long to wait before retry number attempt (1, 2, …).
func (s *SMTP) pause(attempt int) time.Duration {
	return s.cfg.Backoff * time.Duration(attempt*attempt)
}

// lease is how long a claim lasts: one delivery (bounded by Timeout),
// with as much again to record it, after the pause before it.
func (s *SMTP) lease(pause time.Duration) time.Duration {
	return pause + 2*s.cfg.Timeout
}

// newClaim returns a value that names one claim.
func newClaim() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// deliver claims the message seq and delivers it, retrying, and records
// the outcome: sent; failed after the retries, at a permanent refusal, or
// when the message is older than its kind's lifetime; or, when Close cuts the
// delivery, pending and unclaimed. A message another node holds, or that
// is no longer pending, is left alone.
func (s *SMTP) deliver(ctx context.Context, seq int64) {
	if s.closing() {
		return
	}
	claim, now := newClaim(), s.now()
	m, ok, err := s.outbox.store.ClaimMail(ctx, seq, claim, now, now.Add(s.lease(0)))
	if err != nil {
		if !s.closing() {
			s.logger.Warn("mail: claim a message for delivery", "seq", seq, "err", err)
		}
		return
	}
	if !ok {
		return
	}
	if age := now.Sub(m.CreatedAt); age > s.lifetime(m.Kind) {
		s.mark(ctx, m, claim, Mark{Delivery: DeliveryFailed, LastError: ReasonExpired})
		s.count(false)
		s.logger.Warn("mail: too old to send; marked failed", "kind", m.Kind, "seq", seq, "age", age.Round(time.Minute))
		return
	}
	lastErr := m.LastError
	for attempt := 1; ; attempt++ {
		err := s.transmit(m)
		if err != nil && s.closing() {
			s.release(ctx, m, claim, lastErr)
			return
		}
		now := s.now()
		if err == nil {
			s.mark(ctx, m, claim, Mark{Delivery: DeliverySent, Attempted: true, SentAt: now})
			s.count(true)
			s.logger.Info("mail: delivered", "kind", m.Kind, "seq", seq, "attempts", m.Attempts+attempt)
			return
		}
		lastErr = reason(err)
		if attempt > s.cfg.Retries || permanent(err) {
			s.mark(ctx, m, claim, Mark{Delivery: DeliveryFailed, Attempted: true, LastError: lastErr})
			s.count(false)
			s.logger.Error("mail: not delivered; marked failed in the outbox", "kind", m.Kind, "seq", seq,
				"attempts", m.Attempts+attempt, "reason", lastErr)
			return
		}
		pause := s.pause(attempt)
		if !s.mark(ctx, m, claim, Mark{Delivery: DeliveryPending, Attempted: true, LastError: lastErr, Until: now.Add(s.lease(pause))}) {
			return
		}
		s.logger.Warn("mail: delivery failed; retrying", "kind", m.Kind, "seq", seq, "attempt", attempt, "reason", lastErr, "pause", pause)
		select {
		case <-time.After(pause):
		case <-s.closed:
			s.release(ctx, m, claim, lastErr)
			return
		}
	}
}

// mark records mk on m under claim and reports whether it counted: false
// when the store failed or another node took the message over.
func (s *SMTP) mark(ctx context.Context, m Message, claim string, mk Mark) bool {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancel()
	ok, err := s.outbox.store.MarkMail(ctx, m.Seq, claim, mk)
	switch {
	case err != nil:
		// A sent message left pending may be sent again once the
		// claim's lease has ended.
		s.logger.Error("mail: record the delivery in the outbox", "kind", m.Kind, "seq", m.Seq, "delivery", mk.Delivery, "err", err)
	case !ok:
		s.logger.Warn("mail: the message was taken over by another delivery", "kind", m.Kind, "seq", m.Seq, "delivery", mk.Delivery)
	}
	return err == nil && ok
}

// release gives the claim on m up while stopping: the cut delivery does
// not count as an attempt, and the next sweep takes the message at once.
func (s *SMTP) release(ctx context.Context, m Message, claim, lastErr string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancel()
	if _, err := s.outbox.store.MarkMail(ctx, m.Seq, claim, Mark{Delivery: DeliveryPending, LastError: lastErr}); err != nil {
		s.logger.Warn("mail: stopping; the message stays claimed until its lease ends", "kind", m.Kind, "seq", m.Seq, "err", err)
		return
	}
	s.logger.Info("mail: stopping; the message stays pending for the next sweep", "kind", m.Kind, "seq", m.Seq)
}

func (s *SMTP) count(sent bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sent {
		s.sent++
	} else {
		s.failed++
	}
}

// Errors of a message or a relay that the relay's reply does not give.
var (
	errBadMessage = errors.New("bad message")
	errNoSTARTTLS = errors.New("the relay does not offer STARTTLS; refusing to send in clear text")
	errClosing    = errors.New("closing")
)

// permanent reports whether err is the relay's permanent refusal (an
// SMTP reply 5xx), which retrying does not change.
func permanent(err error) bool {
	var reply *textproto.Error
	return errors.As(err, &reply) && reply.Code >= 500
}

// reason returns a short description of a delivery failure that is safe
// to store, show and log: the relay's reply code and class, never its
// text (which may quote the address), or the kind of failure.
func reason(err error) string {
	var (
		reply *textproto.Error
		dns   *net.DNSError
		cert  *tls.CertificateVerificationError
		nerr  net.Error
	)
	switch {
	case errors.As(err, &reply):
		class := "temporary"
		if reply.Code >= 500 {
			class = "permanent"
		}
		return fmt.Sprintf("smtp %d (%s)", reply.Code, class)
	case errors.Is(err, errNoSTARTTLS):
		return "no STARTTLS"
	case errors.Is(err, errBadMessage):
		return "bad message"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "host unreachable"
	case errors.As(err, &dns):
		return "host not found"
	case errors.As(err, &cert):
		return "certificate not trusted"
	case errors.As(err, &nerr) && nerr.Timeout():
		return "timeout"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, net.ErrClosed):
		return "connection closed"
	}
	return "delivery error"
}

// transmit sends one message through the relay.
func (s *SMTP) transmit(m Message) error {
	to, err := netmail.ParseAddress(m.To)
	if err != nil {
		return fmt.Errorf("%w: recipient", errBadMessage)
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
		return errClosing
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
			return errNoSTARTTLS
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
	// The relay has accepted the message: a failed QUIT does not undo
	// that, and must not send it again.
	_ = c.Quit()
	return nil
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
		return nil, fmt.Errorf("%w: subject spans lines", errBadMessage)
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
