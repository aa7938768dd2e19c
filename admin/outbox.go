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

// Outbox is the mail outbox the admin API reads (mail.Outbox keeps the
// portal's mails there when no mail server is configured).
type Outbox interface {
	ListMail(ctx context.Context, q obmail.Query) ([]obmail.Message, error)
}

// WithOutbox serves GET /admin/v1/outbox from o. Without it the route
// answers 503.
func WithOutbox(o Outbox) Option {
	return func(h *Handler) { h.outbox = o }
}

// listOutbox serves GET /admin/v1/outbox: the mails the hub sent (or
// rather kept for the operator to deliver), newest first. They may hold
// live single-use links: the route is on the admin listener, behind the
// admin token, and audited like every admin call.
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
