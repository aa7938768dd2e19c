package admin

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/audit"
)

// auditLog is the ledger the audit and report routes read.
type auditLog struct {
	store  audit.Store
	verify func(context.Context) (audit.Result, error)
}

// WithAuditLog serves the audit and report routes from store; verify
// checks the whole chain (audit.Verify with the node's checkpoint keys).
// Without it those routes answer 503.
func WithAuditLog(store audit.Store, verify func(context.Context) (audit.Result, error)) Option {
	return func(h *Handler) { h.audit = &auditLog{store: store, verify: verify} }
}

func (h *Handler) auditStore() (*auditLog, error) {
	if h.audit == nil {
		return nil, obhub.Errorf(obhub.EUNAVAILABLE, "the audit log is not available on this node")
	}
	return h.audit, nil
}

// recordView is an audit record as the admin API shows it.
type recordView struct {
	*audit.Record
	LatencyMS float64 `json:"latencyMs"`
	Digest    string  `json:"digest"`
	Hash      string  `json:"hash"`
}

func viewRecord(r *audit.Record) recordView {
	c := *r
	return recordView{Record: &c, LatencyMS: r.LatencyMS(), Digest: hex.EncodeToString(r.Digest), Hash: hex.EncodeToString(r.Hash)}
}

// auditParams are the query parameters auditFilter reads.
var auditParams = []string{"from", "to", "partner", "app", "bank", "api", "status", "decision", "category", "request_id"}

// auditFilter reads the common query parameters of the audit and report
// routes: from, to (RFC 3339), partner, app, bank, api, status, decision,
// category, request_id. Any parameter that is neither one of those nor
// one of the route's own (route) is a problem: a filter spelt wrong
// (requestId for request_id) would otherwise select every record, and
// compliance staff would take the answer for the one they asked.
func auditFilter(r *http.Request, ps *problems, route ...string) audit.Filter {
	q := r.URL.Query()
	for name := range q {
		if !slices.Contains(auditParams, name) && !slices.Contains(route, name) {
			ps.add(name, "is not a parameter of this route; it takes "+strings.Join(append(slices.Clone(auditParams), route...), ", "))
		}
	}
	var f audit.Filter
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		t, err := audit.ParseTime(q.Get(p.name))
		if err != nil {
			ps.add(p.name, "must be a time in RFC 3339 form, such as 2026-03-01T00:00:00Z, or a date, 2026-03-01 (its midnight UTC)")
		}
		*p.dst = t
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		ps.add("to", "must be after from")
	}
	f.Partner, f.ClientID, f.Bank, f.API = q.Get("partner"), q.Get("app"), q.Get("bank"), q.Get("api")
	f.Decision, f.Category, f.RequestID = q.Get("decision"), q.Get("category"), q.Get("request_id")
	if s := q.Get("status"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 100 || n > 599 {
			ps.add("status", "must be an HTTP status from 100 to 599")
		}
		f.Status = n
	}
	audit.MaskFilter(&f)
	return f
}

// listAudit serves GET /admin/v1/audit: records newest first, one page.
func (h *Handler) listAudit(w http.ResponseWriter, r *http.Request) error {
	log, err := h.auditStore()
	if err != nil {
		return err
	}
	var ps problems
	f := auditFilter(r, &ps, "limit", "cursor")
	f.Limit = defaultLimit
	q := r.URL.Query()
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxLimit {
			ps.add("limit", "must be a whole number from 1 to "+strconv.Itoa(maxLimit))
		}
		f.Limit = n
	}
	if c := q.Get("cursor"); c != "" {
		if !readAuditCursor(c, &f) {
			ps.add("cursor", "is not a cursor from a previous page")
		}
	}
	if err := ps.err("invalid query"); err != nil {
		return err
	}
	limit := f.Limit
	f.Limit++ // one more tells whether there is a next page
	items := make([]recordView, 0, limit)
	more := false
	err = log.store.Find(r.Context(), f, func(rec *audit.Record) error {
		if len(items) == limit {
			more = true
			return nil
		}
		items = append(items, viewRecord(rec))
		return nil
	})
	if err != nil {
		return err
	}
	return writePage(w, items, more, auditCursor)
}

// auditCursor is the cursor after a record: its Seq on a single node's
// ledger; on a cluster's, where the nodes' chains number their records
// each from 1 and a page is ordered by time, chain and Seq, all three
// ("t<unix nanoseconds>:<seq>:<chain>").
func auditCursor(v *recordView) string {
	if v.Chain == "" {
		return strconv.FormatInt(v.Seq, 10)
	}
	return "t" + strconv.FormatInt(v.Time.UnixNano(), 10) + ":" + strconv.FormatInt(v.Seq, 10) + ":" + v.Chain
}

// readAuditCursor sets f's cursor from a page's next_cursor (base64 of
// what auditCursor wrote); false when c is not one.
func readAuditCursor(c string, f *audit.Filter) bool {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return false
	}
	rest, cluster := strings.CutPrefix(string(b), "t")
	if !cluster {
		seq, err := strconv.ParseInt(rest, 10, 64)
		f.BeforeSeq = seq
		return err == nil && seq >= 1
	}
	parts := strings.SplitN(rest, ":", 3)
	if len(parts) != 3 || parts[2] == "" {
		return false
	}
	nanos, err1 := strconv.ParseInt(parts[0], 10, 64)
	seq, err2 := strconv.ParseInt(parts[1], 10, 64)
	if err1 != nil || err2 != nil || seq < 1 {
		return false
	}
	f.Before = &audit.Position{Time: time.Unix(0, nanos).UTC(), Chain: parts[2], Seq: seq}
	return true
}

// verifyAudit serves GET /admin/v1/audit/verify.
func (h *Handler) verifyAudit(w http.ResponseWriter, r *http.Request) error {
	log, err := h.auditStore()
	if err != nil {
		return err
	}
	res, err := log.verify(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, res)
}

// usageReport serves GET /admin/v1/reports/usage.
func (h *Handler) usageReport(w http.ResponseWriter, r *http.Request) error {
	log, err := h.auditStore()
	if err != nil {
		return err
	}
	var ps problems
	f := auditFilter(r, &ps, "by", "format")
	by := r.URL.Query().Get("by")
	if by == "" {
		by = "partner"
	}
	if err := audit.CheckBy(by); err != nil {
		ps.add("by", "must be partner, app, bank, api, day or month")
	}
	format := formatOf(r, &ps)
	if err := ps.err("invalid query"); err != nil {
		return err
	}
	u, err := audit.UsageReport(r.Context(), log.store, f, by)
	if err != nil {
		return err
	}
	return writeReport(w, format, "usage-by-"+by, u, u.WriteCSV, u.WriteHTML)
}

// partnerStatement serves GET /admin/v1/reports/partners/{id}/statement.
func (h *Handler) partnerStatement(w http.ResponseWriter, r *http.Request) error {
	log, err := h.auditStore()
	if err != nil {
		return err
	}
	var ps problems
	f := auditFilter(r, &ps, "format")
	format := formatOf(r, &ps)
	if err := ps.err("invalid query"); err != nil {
		return err
	}
	id := r.PathValue("id")
	// A partner deleted since keeps its statement while the ledger holds
	// its records; an id that is neither a partner nor in the ledger is
	// not found, rather than a statement of zeros.
	if _, err := h.store.Partner(r.Context(), id); obhub.ErrorCode(err) == obhub.ENOTFOUND {
		found, ferr := audit.HasPartnerRecords(r.Context(), log.store, id)
		if ferr != nil {
			return ferr
		}
		if !found {
			return obhub.Errorf(obhub.ENOTFOUND, "partner %q not found, and the audit ledger holds no record of it", id)
		}
	} else if err != nil {
		return err
	}
	s, err := audit.PartnerStatement(r.Context(), log.store, id, f.From, f.To, time.Now())
	if err != nil {
		return err
	}
	return writeReport(w, format, "statement-"+id, s, s.WriteCSV, s.WriteHTML)
}

func formatOf(r *http.Request, ps *problems) string {
	switch f := r.URL.Query().Get("format"); f {
	case "", "json":
		return "json"
	case "csv", "html":
		return f
	}
	ps.add("format", "must be json, csv or html")
	return ""
}

func writeReport(w http.ResponseWriter, format, name string, v any, csvOut, htmlOut func(io.Writer) error) error {
	hd := w.Header()
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	switch format {
	case "csv":
		hd.Set("Content-Type", "text/csv; charset=utf-8")
		hd.Set("Content-Disposition", `attachment; filename="`+safeFileName(name)+`.csv"`)
		return csvOut(w)
	case "html":
		hd.Set("Content-Type", "text/html; charset=utf-8")
		hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		return htmlOut(w)
	}
	return writeJSON(w, http.StatusOK, v)
}

// safeFileName keeps letters, digits, '-' and '_'.
func safeFileName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}
