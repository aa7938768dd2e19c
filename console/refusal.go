package console

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"

	"github.com/obhub/obhub"
)

// Refusals and outcomes of the console's actions.
//
// A change the configuration store refuses (EINVALID, ECONFLICT) is shown
// on the page the action came from, each finding once, its location named
// after the form's field and its message in the page language where the
// console has it (the store's own words otherwise): refusal.
//
// A change that succeeds is answered with a redirect to the object's page
// (Post/Redirect/Get), so that a reload does not post again and the
// address can be bookmarked: redirectDone. The page's query names the
// outcome by a fixed key and the object by its id; the page writes the
// message itself, with the object's name as it knows it, never with text
// taken from the request.

// findings returns what an operator can correct in a refused change:
// the details of an EINVALID error (or its message, at location loc), or
// the message of an ECONFLICT. ok is false for any other error (nil has
// no findings and is ok).
func findings(err error, loc string) (ds []obhub.Detail, ok bool) {
	switch obhub.ErrorCode(err) {
	case "":
		return nil, true
	case obhub.EINVALID, obhub.ECONFLICT:
		if ds = obhub.ErrorDetails(err); len(ds) == 0 {
			ds = []obhub.Detail{{Location: loc, Message: obhub.ErrorMessage(err)}}
		}
		return ds, true
	}
	return nil, false
}

// refusalStatus is the status of a page showing a refused change: 409
// for a conflict with the object's state, else 422.
func refusalStatus(err error) int {
	if obhub.ErrorCode(err) == obhub.ECONFLICT {
		return http.StatusConflict
	}
	return http.StatusUnprocessableEntity
}

// refusal returns the lines that tell why the store refused a change
// (see findings), or nil, false for an error that is no refusal.
func refusal(l lang, err error) ([]string, bool) {
	ds, ok := findings(err, "")
	if !ok || len(ds) == 0 {
		return nil, false
	}
	return findingLines(l, ds, nil), true
}

// refused answers an action whose change failed: a refusal is shown on
// the action's page (show, with its status), any other error by fail.
func (h *Handler) refused(w http.ResponseWriter, r *http.Request, v *visitor, err error,
	show func(http.ResponseWriter, *http.Request, *visitor, int, []string)) {
	lines, ok := refusal(v.L, err)
	if !ok {
		h.fail(w, r, v, err)
		return
	}
	show(w, r, v, refusalStatus(err), lines)
}

// findingLines writes findings in the page language, each once: the
// field's label (see fieldLabel; field names a location the caller
// knows, nil for none), then the message.
func findingLines(l lang, ds []obhub.Detail, field func(loc string) (string, bool)) []string {
	var out []string
	for _, d := range ds {
		msg := storeText(l, d.Message)
		s := msg
		if d.Location != "" {
			name, ok := "", false
			if field != nil {
				name, ok = field(d.Location)
			}
			if !ok {
				name = fieldLabel(l, d.Location)
			}
			s = l.T("finding", name, msg)
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// fieldLabels name the locations of findings after the console's fields
// (text keys). A location not listed shows itself.
var fieldLabels = map[string]string{
	"/sunset":            "apis.sunset",
	"/id":                "field.id",
	"/name":              "field.name.product",
	"/description":       "field.description",
	"/approval":          "col.approval",
	"/apis":              "col.apis",
	"/bank":              "field.bank",
	"/upstream":          "field.upstream",
	"/visibility":        "col.visibility",
	"/category":          "field.category",
	"document":           "upload.file",
	"/plan/rate/limit":   "label.rate.limit",
	"/plan/rate/period":  "label.rate.period",
	"/plan/quota/limit":  "label.quota.limit",
	"/plan/quota/period": "label.quota.period",
}

// listLoc is a location in a list: "/apis/2", "/plan/operations/0/rate/period".
var listLoc = regexp.MustCompile(`^/(apis|plan/operations)/(\d+)(/.*)?$`)

func fieldLabel(l lang, loc string) string {
	if k, ok := fieldLabels[loc]; ok {
		return l.T(k)
	}
	if m := listLoc.FindStringSubmatch(loc); m != nil && m[1] == "apis" {
		return l.T("col.apis")
	}
	return loc
}

// storeTexts are the store's and the forms' messages the console has in
// both languages: message → text key.
var storeTexts = map[string]string{
	"invalid sunset":                                    "store.sunset",
	"must be in the future":                             "store.future",
	"must be a date written YYYY-MM-DD":                 "store.date",
	"is required":                                       "store.required",
	"must list at least one API":                        "store.apis.none",
	"is listed twice":                                   "store.twice",
	`must be "auto" or "manual"`:                        "store.approval",
	"must be a positive number of requests":             "store.limit.positive",
	`must be a positive duration such as "1s" or "24h"`: "store.period.positive",
	"must be a whole number":                            "store.whole",
	`must be a duration such as "1s", "1m" or "24h"`:    "store.period",
	`must read "api operation limit/period"`:            "store.override",
	`must end with limit/period, e.g. 10/1s`:            "store.override.end",
	"is not an API you may put in a product":            "store.api.scope",
	`"new" is reserved: choose another id`:              "store.id.new",
}

// storeText is msg in the page language when the console has it.
func storeText(l lang, msg string) string {
	if k, ok := storeTexts[msg]; ok {
		return l.T(k)
	}
	return msg
}

// redirectDone answers a change that succeeded: 303 to path, with the
// outcome done (a fixed key of the page at path) and the object's ids
// (name, value pairs) in the query.
func redirectDone(w http.ResponseWriter, r *http.Request, path, done string, ids ...string) {
	q := url.Values{"done": {done}}
	for i := 0; i+1 < len(ids); i += 2 {
		q.Set(ids[i], ids[i+1])
	}
	http.Redirect(w, r, path+"?"+q.Encode(), http.StatusSeeOther)
}

// doneOf returns the outcome a redirect named (see redirectDone) on a
// GET, "" otherwise.
func doneOf(r *http.Request) string {
	if r.Method != http.MethodGet {
		return ""
	}
	return r.URL.Query().Get("done")
}

// lineOf names line n (0-based) of a text field.
func lineOf(l lang, field string, n int) string {
	return l.T("label.line", l.T(field), strconv.Itoa(n+1))
}
