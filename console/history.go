package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/audit"
)

// The configuration change history: the administrative records of the
// audit ledger (changes made through the admin API, `obhub apply` and
// this console), newest first, with the object before and after each
// change. Alliance admins and auditors of every bank see all of them; a
// bank's staff see the changes to the bank's own objects: its bank
// record, its APIs, the products holding them, the partners and apps in
// its view, and any record whose before or after state names the bank.

const historyPageSize = 100

// historyQuery is the filter form.
type historyQuery struct {
	Object, Actor, From, To string
}

type historyData struct {
	Q       historyQuery
	Records []audit.Record
	More    bool
}

// errEnough stops a ledger scan once a page is full.
var errEnough = errors.New("page full")

// historyPage serves GET /console/history.
func (h *Handler) historyPage(w http.ResponseWriter, r *http.Request) {
	v, ok := h.gate(w, r, "history")
	if !ok {
		return
	}
	q := r.URL.Query()
	d := historyData{Q: historyQuery{Object: strings.TrimSpace(q.Get("object")), Actor: strings.TrimSpace(q.Get("actor")),
		From: q.Get("from"), To: q.Get("to")}}
	f := audit.Filter{Category: audit.CategoryAdmin}
	errs := dateRange(v.L, d.Q.From, d.Q.To, &f)
	if len(errs) > 0 {
		h.render(w, v, http.StatusUnprocessableEntity, "history", v.L.T("history.title"), errs, d)
		return
	}
	inScope, _, err := h.changeScope(r, v)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	err = h.cfg.Audit.Find(r.Context(), f, func(rec *audit.Record) error {
		if !inScope(rec) || !strings.Contains(rec.Object, d.Q.Object) || !strings.Contains(rec.Actor, d.Q.Actor) {
			return nil
		}
		if len(d.Records) == historyPageSize {
			d.More = true
			return errEnough
		}
		c := *rec
		c.Digest, c.Hash = nil, nil
		d.Records = append(d.Records, c)
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		h.fail(w, r, v, err)
		return
	}
	h.render(w, v, http.StatusOK, "history", v.L.T("history.title"), nil, d)
}

// changeScope returns whether the operator may see an administrative
// record, and the APIs it may not see named in one (other banks' private
// APIs, which a shared product's state lists); EUNAVAILABLE when the node
// has no audit log to read.
func (h *Handler) changeScope(r *http.Request, v *visitor) (func(*audit.Record) bool, map[string]bool, error) {
	if h.cfg.Audit == nil {
		return nil, nil, obhub.Errorf(obhub.EUNAVAILABLE, "no audit log on this node")
	}
	bank := v.Bank()
	if bank == "" {
		return func(*audit.Record) bool { return true }, nil, nil
	}
	vw, err := h.load(r.Context(), bank)
	if err != nil {
		return nil, nil, err
	}
	mine := map[string]bool{"banks/" + bank: true}
	for _, a := range vw.apis {
		mine["apis/"+a.ID] = true
	}
	for id := range vw.products {
		mine["products/"+id] = true
	}
	for _, p := range vw.partners {
		mine["partners/"+p.ID] = true
	}
	for _, a := range vw.apps {
		mine["apps/"+a.ClientID] = true
	}
	names := []byte(`"bank":` + strconv.Quote(bank))
	return func(rec *audit.Record) bool {
		if rec.Bank != "" {
			return rec.Bank == bank
		}
		// "apps/x/subscriptions/p" belongs to app x; "partners/p/apps/x"
		// to partner p.
		segs := strings.SplitN(rec.Object, "/", 3)
		if len(segs) >= 2 && mine[segs[0]+"/"+segs[1]] {
			return true
		}
		return bytes.Contains([]byte(rec.Before), names) || bytes.Contains([]byte(rec.After), names)
	}, vw.hidden, nil
}

// changeData is one change, with its before and after states side by
// side, field by field.
type changeData struct {
	Rec    audit.Record
	Fields []fieldChange
}

// fieldChange is one field of the object's state (a JSON pointer) before
// and after the change.
type fieldChange struct {
	Field, Before, After string
	Changed              bool
}

// changePage serves GET /console/history/{seq}.
func (h *Handler) changePage(w http.ResponseWriter, r *http.Request) {
	v, ok := h.gate(w, r, "history")
	if !ok {
		return
	}
	seq, err := strconv.ParseInt(r.PathValue("seq"), 10, 64)
	if err != nil || seq < 1 {
		h.notFound(w, v)
		return
	}
	inScope, hidden, err := h.changeScope(r, v)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	var rec *audit.Record
	err = h.cfg.Audit.Find(r.Context(), audit.Filter{Category: audit.CategoryAdmin, BeforeSeq: seq + 1, Limit: 1}, func(got *audit.Record) error {
		if got.Seq == seq {
			c := *got
			rec = &c
		}
		return nil
	})
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	if rec == nil || !inScope(rec) {
		h.notFound(w, v)
		return
	}
	rec.Digest, rec.Hash = nil, nil
	h.render(w, v, http.StatusOK, "change", v.L.T("change.title", rec.Seq), nil,
		changeData{Rec: *rec, Fields: withoutHidden(compareStates(rec.Before, rec.After), hidden)})
}

// withoutHidden drops the fields that name an API the operator may not
// see (a shared product's other-bank private API, its operation limits):
// a field whose value is such an id, and the fields beside it in the same
// object ("/plan/operations/0/api" takes "/plan/operations/0/…" along).
func withoutHidden(fields []fieldChange, hidden map[string]bool) []fieldChange {
	if len(hidden) == 0 {
		return fields
	}
	var drop []string
	for _, f := range fields {
		if hidden[f.Before] || hidden[f.After] {
			parent := f.Field[:strings.LastIndexByte(f.Field, '/')+1]
			if strings.HasSuffix(f.Field, "/api") {
				drop = append(drop, parent)
			} else {
				drop = append(drop, f.Field)
			}
		}
	}
	return slices.DeleteFunc(fields, func(f fieldChange) bool {
		return slices.ContainsFunc(drop, func(d string) bool { return f.Field == d || strings.HasSuffix(d, "/") && strings.HasPrefix(f.Field, d) })
	})
}

// compareStates flattens two JSON states to their leaves and pairs them
// by JSON pointer, sorted; a state that is not JSON is one field "".
// Secret members are shown redacted even if a record held one.
func compareStates(before, after string) []fieldChange {
	b, a := flatten(before), flatten(after)
	keys := map[string]bool{}
	for k := range b {
		keys[k] = true
	}
	for k := range a {
		keys[k] = true
	}
	var out []fieldChange
	for k := range keys {
		out = append(out, fieldChange{Field: k, Before: b[k], After: a[k], Changed: b[k] != a[k]})
	}
	slices.SortFunc(out, func(x, y fieldChange) int { return strings.Compare(x.Field, y.Field) })
	return out
}

func flatten(state string) map[string]string {
	out := map[string]string{}
	if state == "" {
		return out
	}
	var v any
	dec := json.NewDecoder(strings.NewReader(state))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		out[""] = state
		return out
	}
	var walk func(ptr string, v any)
	walk = func(ptr string, v any) {
		switch t := v.(type) {
		case map[string]any:
			for k, e := range t {
				p := ptr + "/" + strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
				if audit.SecretName(k) {
					out[p] = "[redacted]"
					continue
				}
				walk(p, e)
			}
		case []any:
			if len(t) == 0 {
				out[ptr] = "[]"
			}
			for i, e := range t {
				walk(ptr+"/"+strconv.Itoa(i), e)
			}
		case string:
			out[ptr] = t
		case nil:
			out[ptr] = "null"
		default:
			b, _ := json.Marshal(t)
			out[ptr] = string(b)
		}
	}
	walk("", v)
	return out
}
