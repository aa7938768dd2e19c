package admin

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/mail"
	"strconv"

	"github.com/obhub/obhub"
	obmail "github.com/obhub/obhub/internal/mail"
)

// Outbox is the mail outbox the admin API reads: the portal's mails with
// their delivery states (internal/mail).
type Outbox interface {
	ListMail(ctx context.Context, q obmail.Query) ([]obmail.Message, error)
}

// MailRetry sends a failed mail again (mail.SMTP.Retry): it makes the
// mail pending and returns it, or fails with ENOTFOUND or ECONFLICT (not
// failed, or too old).
type MailRetry interface {
	Retry(ctx context.Context, seq int64) (obmail.Message, error)
}

// WithOutbox serves GET /admin/v1/outbox from o. Without it the route
// answers 503.
func WithOutbox(o Outbox) Option {
	return func(h *Handler) { h.outbox = o }
}

// WithMailRetry serves POST /admin/v1/outbox/{seq}/retry through r, the
// node's mail relay. Without it (no --smtp-url) the route answers 409:
// the operator forwards mails by hand.
func WithMailRetry(r MailRetry) Option {
	return func(h *Handler) { h.mailRetry = r }
}

// MailDelivery is a mail's delivery state without its address, subject or
// text: the answer of a retry, which the audit ledger keeps as the change's
// state after, and which must hold no live link and no personal data.
type MailDelivery = obmail.DeliveryState

// listOutbox serves GET /admin/v1/outbox: the mails the hub sent, newest
// first, with their delivery states. They may hold live single-use links:
// the route is on the admin listener, behind the admin token, and audited
// like every admin call.
func (h *Handler) listOutbox(w http.ResponseWriter, r *http.Request) error {
	if h.outbox == nil {
		return obhub.Errorf(obhub.EUNAVAILABLE, "the mail outbox is not available on this node")
	}
	var ps problems
	q := r.URL.Query()
	in := obmail.Query{Limit: defaultLimit}
	if to := q.Get("to"); to != "" {
		if a, err := mail.ParseAddress(to); err != nil || a.Address != to {
			ps.add("to", "must be an e-mail address")
		}
		in.To = to
	}
	if d := q.Get("delivery"); d != "" {
		if !obmail.ValidDelivery(d) {
			ps.add("delivery", "must be one of none, pending, sent, failed")
		}
		in.Delivery = d
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxLimit {
			ps.add("limit", "must be a whole number from 1 to "+strconv.Itoa(maxLimit))
		}
		in.Limit = n
	}
	if c := q.Get("cursor"); c != "" {
		b, err := base64.RawURLEncoding.DecodeString(c)
		seq, perr := strconv.ParseInt(string(b), 10, 64)
		if err != nil || perr != nil || seq < 1 {
			ps.add("cursor", "is not a cursor from a previous page")
		}
		in.BeforeSeq = seq
	}
	if err := ps.err("invalid query"); err != nil {
		return err
	}
	limit := in.Limit
	in.Limit++ // one more tells whether there is a next page
	items, err := h.outbox.ListMail(r.Context(), in)
	if err != nil {
		return err
	}
	more := len(items) > limit
	if more {
		items = items[:limit]
	}
	return writePage(w, items, more, func(m *obmail.Message) string { return strconv.FormatInt(m.Seq, 10) })
}

// retryMail serves POST /admin/v1/outbox/{seq}/retry: a failed mail is
// made pending again and delivered at once, with a full set of retries.
// Only failed mails younger than their link's lifetime are retried
// (mail.SMTPConfig.Lifetimes); others are 409. The answer (202) is the mail's delivery state.
func (h *Handler) retryMail(w http.ResponseWriter, r *http.Request) error {
	if err := h.emptyBody(w, r); err != nil {
		return err
	}
	seq, err := strconv.ParseInt(r.PathValue("seq"), 10, 64)
	if err != nil || seq < 1 {
		return obhub.Errorf(obhub.ENOTFOUND, "no message %q in the outbox", r.PathValue("seq"))
	}
	if h.mailRetry == nil {
		return obhub.Errorf(obhub.ECONFLICT, "this node has no mail relay (--smtp-url): forward the message by hand")
	}
	m, err := h.mailRetry.Retry(r.Context(), seq)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, m.DeliveryState())
}
