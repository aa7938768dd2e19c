// Package mail is how the hub sends e-mail: a small Mailer interface that
// the portal calls for verification, password-reset and invitation
// messages, and Outbox, the default Mailer, which delivers nothing itself
// but keeps every message in a durable store that the operator reads
// (admin API GET /admin/v1/outbox) and forwards. Alliances of small rural
// banks often run the hub where no mail relay is allowed; an SMTP or
// provider Mailer can be added beside Outbox without touching its callers.
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
)

// Message is one e-mail.
type Message struct {
	// Seq is the outbox's number for the message, assigned by the store:
	// higher is newer.
	Seq       int64     `json:"seq"`
	Kind      string    `json:"kind"`
	To        string    `json:"to"`
	Subject   string    `json:"subject"`
	Text      string    `json:"text"` // plain text, UTF-8
	CreatedAt time.Time `json:"createdAt"`
}

// Mailer sends messages. Send returns once the message is accepted for
// delivery (for Outbox: stored durably); an error means it was not.
type Mailer interface {
	Send(ctx context.Context, m Message) error
}

// Query selects messages of the outbox, newest first.
type Query struct {
	To        string // only messages to this address (case-insensitive); "" all
	BeforeSeq int64  // only messages older than this one (a page cursor); 0 none
	Limit     int    // at most this many; 0 means 50
}

// Store keeps the outbox. It is part of the portal's store (portal.Store)
// so that in a cluster every node's messages are in the shared database.
type Store interface {
	// AddMail stores m and returns its sequence number.
	AddMail(ctx context.Context, m Message) (int64, error)
	// ListMail returns messages matching q, newest first.
	ListMail(ctx context.Context, q Query) ([]Message, error)
	// PurgeMail deletes the messages created before t and returns how many.
	PurgeMail(ctx context.Context, before time.Time) (int64, error)
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

// Send implements Mailer: it stamps the message with the time, stores it,
// and purges messages older than Retention. The log line names the kind
// and sequence number, never the address or the text.
func (o *Outbox) Send(ctx context.Context, m Message) error {
	now := o.clock.Now().UTC()
	m.CreatedAt, m.Seq = now, 0
	seq, err := o.store.AddMail(ctx, m)
	if err != nil {
		return err
	}
	if n, err := o.store.PurgeMail(ctx, now.Add(-Retention)); err != nil {
		o.logger.Warn("mail: purge old outbox messages", "err", err)
	} else if n > 0 {
		o.logger.Info("mail: purged old outbox messages", "count", n)
	}
	o.logger.Info("mail: message in the outbox", "kind", m.Kind, "seq", seq)
	return nil
}
