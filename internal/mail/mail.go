// Package mail is how the hub sends e-mail: a small Mailer interface that
// the portal calls for verification, password-reset and invitation
// messages, and two Mailers. Outbox, the default, delivers nothing itself
// but keeps every message in a durable store that the operator reads
// (admin API GET /admin/v1/outbox) and forwards by hand: alliances of
// small rural banks often run the hub where no mail relay is allowed.
// SMTP keeps every message there too, marked pending, and delivers it
// through a relay; the outbox records whether it was sent.
//
// A message may hold a single-use link (a reset or invitation token). The
// store keeps the message as sent, because it is the delivery channel;
// such links are short-lived and die at first use, and Outbox purges
// messages older than Retention.
package mail

import (
	"context"
	"log/slog"
	"time"

	"github.com/obhub/obhub"
)

// Kinds of messages the hub sends.
const (
	KindVerify = "verify" // confirm an e-mail address after sign-up
	KindReset  = "reset"  // reset a forgotten password
	KindInvite = "invite" // join an organisation's team
	KindSignup = "signup" // someone signed up with an address that has an account
)

// Delivery states of a message in the outbox.
const (
	// DeliveryNone: no relay is configured; the operator forwards the
	// message by hand. Messages kept before delivery states existed read
	// as none too.
	DeliveryNone = "none"
	// DeliveryPending: a relay is configured and the message is not sent
	// yet: being delivered, waiting for a retry, or for the next sweep.
	DeliveryPending = "pending"
	// DeliverySent: the relay accepted the message.
	DeliverySent = "sent"
	// DeliveryFailed: given up, after the retries, at the relay's
	// permanent refusal, or because the message was too old to send
	// (LastError "expired"); final until the operator asks for a retry.
	DeliveryFailed = "failed"
)

// ValidDelivery reports whether s is one of the delivery states.
func ValidDelivery(s string) bool {
	switch s {
	case DeliveryNone, DeliveryPending, DeliverySent, DeliveryFailed:
		return true
	}
	return false
}

// Message is one e-mail and its delivery state.
type Message struct {
	// Seq is the outbox's number for the message, assigned by the store:
	// higher is newer.
	Seq       int64     `json:"seq"`
	Kind      string    `json:"kind"`
	To        string    `json:"to"`
	Subject   string    `json:"subject"`
	Text      string    `json:"text"` // plain text, UTF-8
	CreatedAt time.Time `json:"createdAt"`
	// Delivery is one of the Delivery states; AddMail stores "" as none.
	Delivery string `json:"delivery"`
	// Attempts counts the relay's attempts to deliver the message.
	Attempts int `json:"attempts"`
	// SentAt is when the relay accepted it.
	SentAt time.Time `json:"sentAt,omitzero"`
	// LastError is why the last attempt failed, short and safe to show:
	// the relay's reply code ("smtp 451 (temporary)"), never its text,
	// or the kind of failure ("connection refused", "timeout",
	// "expired"). Sending clears it.
	LastError string `json:"lastError,omitempty"`
}

// DeliveryState is a message's delivery without its address, subject or
// text: what may be shown or kept where a live link and personal data
// must not be — the admin API's answer to a retry, and the state before
// and after a retry in the audit ledger.
type DeliveryState struct {
	Seq       int64     `json:"seq"`
	Kind      string    `json:"kind"`
	CreatedAt time.Time `json:"createdAt"`
	Delivery  string    `json:"delivery"`
	Attempts  int       `json:"attempts"`
	SentAt    time.Time `json:"sentAt,omitzero"`
	LastError string    `json:"lastError,omitempty"`
}

// DeliveryState returns m's delivery state.
func (m Message) DeliveryState() DeliveryState {
	return DeliveryState{Seq: m.Seq, Kind: m.Kind, CreatedAt: m.CreatedAt, Delivery: m.Delivery,
		Attempts: m.Attempts, SentAt: m.SentAt, LastError: m.LastError}
}

// Mailer sends messages. Send returns once the message is accepted for
// delivery (for Outbox: stored durably); an error means it was not.
type Mailer interface {
	Send(ctx context.Context, m Message) error
}

// Query selects messages of the outbox, newest first.
type Query struct {
	To        string // only messages to this address (case-insensitive); "" all
	Delivery  string // only messages in this delivery state; "" all
	BeforeSeq int64  // only messages older than this one (a page cursor); 0 none
	Limit     int    // at most this many; 0 means 50
}

// Mark is what the holder of a claim did with a pending message
// (Store.MarkMail).
type Mark struct {
	// Delivery is DeliveryPending (to be tried again), DeliverySent or
	// DeliveryFailed.
	Delivery string
	// Attempted says a delivery was attempted: Attempts grows by one.
	Attempted bool
	// LastError replaces the message's LastError.
	LastError string
	// SentAt is the time of a DeliverySent mark.
	SentAt time.Time
	// Until, with DeliveryPending, keeps the claim until then; zero gives
	// the claim up, so that the next sweep, on any node, takes the
	// message. Other marks end the claim.
	Until time.Time
}

// KeepsClaim reports whether the claim holds after the mark: a pending
// mark with an Until.
func (mk Mark) KeepsClaim() bool { return mk.Delivery == DeliveryPending && !mk.Until.IsZero() }

// Store keeps the outbox. It is part of the portal's store (portal.Store)
// so that in a cluster every node's messages are in the shared database.
//
// Pending messages are delivered under a claim: a node takes a message
// with ClaimMail, a conditional update that succeeds for one node only,
// and no other node can take it until the claim's lease ends; the node's
// marks (MarkMail) count until another claim replaces its own. A node
// that crashes while holding a claim leaves the message pending, and once
// the lease has ended any node's sweep (DueMail, then ClaimMail) takes it.
type Store interface {
	// AddMail stores m and returns its sequence number. m.Delivery is
	// DeliveryNone ("" stores none) or DeliveryPending; Attempts, SentAt
	// and LastError start empty.
	AddMail(ctx context.Context, m Message) (int64, error)
	// ListMail returns messages matching q, newest first.
	ListMail(ctx context.Context, q Query) ([]Message, error)
	// PurgeMail deletes the messages created before t and returns how many.
	PurgeMail(ctx context.Context, before time.Time) (int64, error)

	// DueMail returns the sequence numbers of at most limit pending
	// messages that no claim holds at now, oldest first.
	DueMail(ctx context.Context, now time.Time, limit int) ([]int64, error)
	// ClaimMail claims the message seq for claim (a value unique to this
	// claim) until until, if it is pending and no claim holds it at now,
	// and returns it; false, and no error, when it is not (no such
	// message, not pending, or another claim holds it).
	ClaimMail(ctx context.Context, seq int64, claim string, now, until time.Time) (Message, bool, error)
	// MarkMail records mk on the message seq if it is still pending under
	// claim; false, and no change, when it is not (another node took it
	// over after the claim's lease ended).
	MarkMail(ctx context.Context, seq int64, claim string, mk Mark) (bool, error)
	// RetryMail makes the failed message seq pending again, unclaimed,
	// if it was created at or after notBefore, and returns it. When the
	// message is not failed or is older, it changes nothing and returns
	// the message as it is with false; no such message is ENOTFOUND.
	RetryMail(ctx context.Context, seq int64, notBefore time.Time) (Message, bool, error)
}

// Retention is how long Outbox keeps a message: longer than any link in it
// stays valid (invitations, the longest, last 7 days).
const Retention = 14 * 24 * time.Hour

// Outbox is the default Mailer: it stores each message for the operator.
type Outbox struct {
	store  Store
	clock  obhub.Clock
	logger *slog.Logger
}

var _ Mailer = (*Outbox)(nil)

// NewOutbox returns a Mailer that keeps messages in store. It does no I/O.
func NewOutbox(store Store, clock obhub.Clock, logger *slog.Logger) *Outbox {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Outbox{store: store, clock: clock, logger: logger}
}

// Send implements Mailer: it stamps the message with the time, stores it
// with delivery none, and purges messages older than Retention. The log
// line names the kind and sequence number, never the address or the text.
func (o *Outbox) Send(ctx context.Context, m Message) error {
	_, err := o.add(ctx, m, DeliveryNone)
	return err
}

// add stores m in the delivery state and returns its sequence number
// (Send, and SMTP.Send with DeliveryPending).
func (o *Outbox) add(ctx context.Context, m Message, delivery string) (int64, error) {
	now := o.clock.Now().UTC()
	m.CreatedAt, m.Seq = now, 0
	m.Delivery, m.Attempts, m.SentAt, m.LastError = delivery, 0, time.Time{}, ""
	seq, err := o.store.AddMail(ctx, m)
	if err != nil {
		return 0, err
	}
	if n, err := o.store.PurgeMail(ctx, now.Add(-Retention)); err != nil {
		o.logger.Warn("mail: purge old outbox messages", "err", err)
	} else if n > 0 {
		o.logger.Info("mail: purged old outbox messages", "count", n)
	}
	o.logger.Info("mail: message in the outbox", "kind", m.Kind, "seq", seq, "delivery", delivery)
	return seq, nil
}
