package console

import (
	"context"
	"net/http"
	netmail "net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/internal/mail"
)

// The Mail page: the portal's mail outbox (internal/mail) for alliance
// admins, as the admin API's GET /admin/v1/outbox lists it, newest first,
// with each mail's delivery state, and a failed mail sent again through
// the node's relay (POST /admin/v1/outbox/{seq}/retry). A mail's text is
// never shown: it holds live single-use links, and the operator who must
// forward a mail by hand reads it through the admin API.

// Outbox is the mail outbox the Mail page reads (the portal's store).
type Outbox interface {
	ListMail(ctx context.Context, q mail.Query) ([]mail.Message, error)
}

// MailRetry sends a failed mail again (mail.SMTP.Retry): it makes the
// mail pending and returns it, or fails with ENOTFOUND or ECONFLICT (not
// failed, or older than its link's lifetime).
type MailRetry interface {
	Retry(ctx context.Context, seq int64) (mail.Message, error)
}

var _ MailRetry = (*mail.SMTP)(nil)

const mailPageSize = 50

// mailQuery is the filter form, as typed.
type mailQuery struct {
	Delivery, To string
	Before       int64 // the page cursor: mails older than this one
}

// page is the address of the filter's page of mails older than before
// (0: the newest page).
func (q mailQuery) page(before int64) string {
	u := url.Values{}
	if q.Delivery != "" {
		u.Set("delivery", q.Delivery)
	}
	if q.To != "" {
		u.Set("to", q.To)
	}
	if before > 0 {
		u.Set("before", strconv.FormatInt(before, 10))
	}
	if len(u) == 0 {
		return "/console/mail"
	}
	return "/console/mail?" + u.Encode()
}

// mailRow is a mail as the page shows it: never its text.
type mailRow struct {
	Seq       int64
	Kind      string
	To        string
	Subject   string
	CreatedAt time.Time
	Delivery  string
	Attempts  int
	SentAt    time.Time
	LastError string
}

type mailData struct {
	Q     mailQuery
	Mails []mailRow
	// Relay: the node delivers through --smtp-url, and failed mails can
	// be sent again.
	Relay bool
	// Next is the address of the next (older) page, "" for none; Newest
	// links back to the first page when this is a later one.
	Next   string
	Newest string
}

// deliveries are the filter's choices; "" is all.
var deliveries = []string{"", mail.DeliveryPending, mail.DeliverySent, mail.DeliveryFailed, mail.DeliveryNone}

// Deliveries lists the filter's choices for the template.
func (mailData) Deliveries() []string { return deliveries }

// mailPage serves GET /console/mail (alliance admins).
func (h *Handler) mailPage(w http.ResponseWriter, r *http.Request) {
	v, ok := h.gate(w, r, "mail")
	if !ok {
		return
	}
	q := r.URL.Query()
	in := mailQuery{Delivery: q.Get("delivery"), To: strings.TrimSpace(q.Get("to"))}
	var errs []string
	if in.Delivery != "" && !mail.ValidDelivery(in.Delivery) {
		errs = append(errs, v.L.T("mail.err.delivery"))
	}
	if in.To != "" {
		if a, err := netmail.ParseAddress(in.To); err != nil || a.Address != in.To {
			errs = append(errs, v.L.T("err.email"))
		}
	}
	if s := q.Get("before"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			errs = append(errs, v.L.T("mail.err.cursor"))
		}
		in.Before = n
	}
	if len(errs) > 0 {
		h.renderFlash(w, v, http.StatusUnprocessableEntity, "mail", v.L.T("mail.title"), errs, "", mailData{Q: in, Relay: h.cfg.MailRetry != nil})
		return
	}
	var flash string
	if doneOf(r) == "retried" {
		if seq, err := strconv.ParseInt(q.Get("seq"), 10, 64); err == nil && seq > 0 {
			flash = v.L.T("mail.retried", seq)
		}
	}
	h.showMail(w, r, v, http.StatusOK, nil, flash, in)
}

// showMail renders the page of mails in answers to the filter in.
func (h *Handler) showMail(w http.ResponseWriter, r *http.Request, v *visitor, status int, errs []string, flash string, in mailQuery) {
	found, err := h.cfg.Outbox.ListMail(r.Context(), mail.Query{To: in.To, Delivery: in.Delivery, BeforeSeq: in.Before, Limit: mailPageSize + 1})
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	d := mailData{Q: in, Relay: h.cfg.MailRetry != nil}
	if len(found) > mailPageSize {
		found = found[:mailPageSize]
		d.Next = in.page(found[len(found)-1].Seq)
	}
	if in.Before > 0 {
		d.Newest = in.page(0)
	}
	for _, m := range found {
		// Field by field: the text, with its live links, stays here.
		d.Mails = append(d.Mails, mailRow{Seq: m.Seq, Kind: m.Kind, To: m.To, Subject: m.Subject, CreatedAt: m.CreatedAt,
			Delivery: cmpOr(m.Delivery, mail.DeliveryNone), Attempts: m.Attempts, SentAt: m.SentAt, LastError: m.LastError})
	}
	h.renderFlash(w, v, status, "mail", v.L.T("mail.title"), errs, flash, d)
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// retryMail serves POST /console/mail/{seq}/retry: a failed mail is made
// pending again and delivered at once, as by the admin API's retry. The
// form carries the list's filter, shown again after.
func (h *Handler) retryMail(w http.ResponseWriter, r *http.Request) {
	v, ok := h.gate(w, r, "mail")
	if !ok {
		return
	}
	ctx := r.Context()
	in := mailQuery{Delivery: r.PostFormValue("delivery"), To: strings.TrimSpace(r.PostFormValue("to"))}
	if in.Delivery != "" && !mail.ValidDelivery(in.Delivery) {
		in.Delivery = ""
	}
	seq, err := strconv.ParseInt(r.PathValue("seq"), 10, 64)
	if err != nil || seq < 1 {
		h.notFound(w, v)
		return
	}
	if h.cfg.MailRetry == nil {
		h.showMail(w, r, v, http.StatusConflict, []string{v.L.T("mail.err.norelay")}, "", in)
		return
	}
	// The mail as it is, for the refusal's reason and the record's
	// state before.
	found, err := h.cfg.Outbox.ListMail(ctx, mail.Query{BeforeSeq: seq + 1, Limit: 1})
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	if len(found) == 0 || found[0].Seq != seq {
		h.notFound(w, v)
		return
	}
	before := found[0]
	if before.Delivery != mail.DeliveryFailed {
		h.showMail(w, r, v, http.StatusConflict, []string{v.L.T("mail.err.notfailed", seq, v.L.T("delivery."+cmpOr(before.Delivery, mail.DeliveryNone)))}, "", in)
		return
	}
	after, err := h.cfg.MailRetry.Retry(ctx, seq)
	switch obhub.ErrorCode(err) {
	case "":
	case obhub.ECONFLICT:
		// Failed a moment ago: too old for its link, or just taken by
		// another operator's retry.
		reason := v.L.T("mail.err.expired", seq)
		if now, lerr := h.cfg.Outbox.ListMail(ctx, mail.Query{BeforeSeq: seq + 1, Limit: 1}); lerr == nil && len(now) == 1 && now[0].Delivery != mail.DeliveryFailed {
			reason = v.L.T("mail.err.notfailed", seq, v.L.T("delivery."+now[0].Delivery))
		}
		h.showMail(w, r, v, http.StatusConflict, []string{reason}, "", in)
		return
	default:
		h.fail(w, r, v, err)
		return
	}
	h.cfg.Logger.Info("console: mail sent again", "operator", v.Operator.ID, "seq", seq, "kind", after.Kind)
	// The delivery states only, never the address, subject or text.
	h.recordChange(r, v, "", "outbox/"+strconv.FormatInt(seq, 10), "retry", before.DeliveryState(), after.DeliveryState())
	ids := []string{"seq", strconv.FormatInt(seq, 10)}
	if in.Delivery != "" {
		ids = append(ids, "delivery", in.Delivery)
	}
	if in.To != "" {
		ids = append(ids, "to", in.To)
	}
	redirectDone(w, r, "/console/mail", "retried", ids...)
}
