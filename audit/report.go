package audit

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"html/template"
	"io"
	"slices"
	"sort"
	"strconv"
	"time"
)

// Report groupings.
var reportBy = []string{"partner", "app", "bank", "api", "day", "month"}

// CheckBy checks a report grouping.
func CheckBy(by string) error {
	if slices.Contains(reportBy, by) {
		return nil
	}
	return fmt.Errorf("unknown grouping %q: want one of partner, app, bank, api, day, month", by)
}

// UsageRow is one group of a usage report.
type UsageRow struct {
	Key     string `json:"key"`
	Calls   int64  `json:"calls"`
	Errors  int64  `json:"errors"`  // answered 5xx
	Denials int64  `json:"denials"` // refused by the hub (decision deny or reject)
	// DenialsByReason counts the refusals by their reason code.
	DenialsByReason map[string]int64 `json:"denialsByReason,omitempty"`
	P50             float64          `json:"p50Ms"`
	P95             float64          `json:"p95Ms"`
	P99             float64          `json:"p99Ms"`

	lat []float64
}

// Usage is a usage report: the calls of partners' apps and to the banks'
// APIs (not administrative changes) in [From, To), grouped By one
// dimension. An open end of the period (no from or to asked) is absent
// from the JSON, not the year 1.
type Usage struct {
	From    time.Time  `json:"from,omitzero"`
	To      time.Time  `json:"to,omitzero"`
	By      string     `json:"by"`
	Bank    string     `json:"bank,omitempty"`    // the bank scope, if any
	Partner string     `json:"partner,omitempty"` // the partner scope, if any
	Rows    []UsageRow `json:"rows"`
	Total   UsageRow   `json:"total"`
	// Unattributed counts the requests left out of Rows and Total: those
	// that named no API and no app — developer portal pages, the OAuth2
	// metadata, health checks, paths that are no bank's. They are in the
	// audit log; a usage report is about partners and APIs.
	Unattributed int64 `json:"unattributed"`
}

// attributed reports whether a record counts in usage: it names an API,
// an app or a partner.
func attributed(r *Record) bool {
	return r.API != "" || r.ClientID != "" || r.Partner != ""
}

func (u *UsageRow) add(r *Record) {
	u.Calls++
	if r.Status >= 500 {
		u.Errors++
	}
	if r.Decision == "deny" || r.Decision == "reject" {
		u.Denials++
		if u.DenialsByReason == nil {
			u.DenialsByReason = map[string]int64{}
		}
		u.DenialsByReason[r.Reason]++
	}
	u.lat = append(u.lat, r.LatencyMS())
}

func (u *UsageRow) finish() {
	sort.Float64s(u.lat)
	u.P50, u.P95, u.P99 = quantile(u.lat, 0.50), quantile(u.lat, 0.95), quantile(u.lat, 0.99)
	u.lat = nil
}

// quantile is the nearest-rank quantile of sorted values.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*q+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func groupKey(r *Record, by string) string {
	switch by {
	case "partner":
		return r.Partner
	case "app":
		return r.ClientID
	case "bank":
		return r.Bank
	case "api":
		return r.API
	case "day":
		return r.Time.UTC().Format("2006-01-02")
	case "month":
		return r.Time.UTC().Format("2006-01")
	}
	return ""
}

// UsageReport builds a usage report of the records f selects (its From,
// To, Bank and Partner scope it), grouped by by.
func UsageReport(ctx context.Context, s Store, f Filter, by string) (*Usage, error) {
	if err := CheckBy(by); err != nil {
		return nil, err
	}
	f.Limit, f.BeforeSeq, f.OldestFirst = 0, 0, true
	groups := map[string]*UsageRow{}
	u := &Usage{From: f.From, To: f.To, By: by, Bank: f.Bank, Partner: f.Partner}
	err := s.Find(ctx, f, func(r *Record) error {
		if r.Category == CategoryAdmin {
			return nil
		}
		if !attributed(r) {
			u.Unattributed++
			return nil
		}
		k := groupKey(r, by)
		g := groups[k]
		if g == nil {
			g = &UsageRow{Key: k}
			groups[k] = g
		}
		g.add(r)
		u.Total.add(r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("usage report: %w", err)
	}
	u.Rows = make([]UsageRow, 0, len(groups))
	for _, g := range groups {
		g.finish()
		u.Rows = append(u.Rows, *g)
	}
	sort.Slice(u.Rows, func(i, j int) bool { return u.Rows[i].Key < u.Rows[j].Key })
	u.Total.Key = "total"
	u.Total.finish()
	return u, nil
}

// Statement is a partner's activity statement for a period: totals, and
// usage by API and by day.
type Statement struct {
	Partner string     `json:"partner"`
	From    time.Time  `json:"from,omitzero"` // absent when the period has no start
	To      time.Time  `json:"to,omitzero"`   // absent when it has no end
	Total   UsageRow   `json:"total"`
	ByAPI   []UsageRow `json:"byApi"`
	ByDay   []UsageRow `json:"byDay"`
	// Produced is when the statement was made: an open period ends there.
	Produced time.Time `json:"produced"`
}

// PartnerStatement builds the activity statement of partner in [from, to),
// produced at now. It does not know whether partner exists: see
// HasPartnerRecords.
func PartnerStatement(ctx context.Context, s Store, partner string, from, to, now time.Time) (*Statement, error) {
	f := partnerFilter(partner)
	f.From, f.To = from, to
	byAPI, err := UsageReport(ctx, s, f, "api")
	if err != nil {
		return nil, err
	}
	byDay, err := UsageReport(ctx, s, f, "day")
	if err != nil {
		return nil, err
	}
	return &Statement{Partner: partner, From: from, To: to, Total: byAPI.Total, ByAPI: byAPI.Rows, ByDay: byDay.Rows, Produced: now.UTC()}, nil
}

// partnerFilter selects partner's records, its id masked as the
// records hold it.
func partnerFilter(partner string) Filter {
	f := Filter{Partner: partner}
	MaskFilter(&f)
	return f
}

// errFound stops a search at its first record.
var errFound = errors.New("found")

// HasPartnerRecords reports whether the ledger holds any record of
// partner, at any time: so a partner deleted since keeps its statement,
// while an id that never made a call has none to show.
func HasPartnerRecords(ctx context.Context, s Store, partner string) (bool, error) {
	f := partnerFilter(partner)
	f.Limit = 1
	err := s.Find(ctx, f, func(*Record) error { return errFound })
	switch {
	case errors.Is(err, errFound):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("partner records: %w", err)
	}
	return false, nil
}

// csvHeader is the header of usage CSV files.
var csvHeader = []string{"key", "calls", "errors", "denials", "p50_ms", "p95_ms", "p99_ms", "denials_by_reason"}

func csvRow(u *UsageRow) []string {
	reasons := make([]string, 0, len(u.DenialsByReason))
	for k := range u.DenialsByReason {
		reasons = append(reasons, k)
	}
	sort.Strings(reasons)
	rs := ""
	for i, k := range reasons {
		if i > 0 {
			rs += ";"
		}
		rs += k + "=" + strconv.FormatInt(u.DenialsByReason[k], 10)
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
	return []string{u.Key, strconv.FormatInt(u.Calls, 10), strconv.FormatInt(u.Errors, 10), strconv.FormatInt(u.Denials, 10),
		f(u.P50), f(u.P95), f(u.P99), rs}
}

// WriteCSV writes the report as CSV: a header, one row per group, and a
// total row.
func (u *Usage) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write(append([]string{u.By}, csvHeader[1:]...))
	for i := range u.Rows {
		cw.Write(csvRow(&u.Rows[i]))
	}
	cw.Write(csvRow(&u.Total))
	if u.Unattributed > 0 {
		cw.Write([]string{"(unattributed, not in total)", strconv.FormatInt(u.Unattributed, 10), "", "", "", "", "", ""})
	}
	cw.Flush()
	return cw.Error()
}

// WriteHTML writes the report as a printable HTML page.
func (u *Usage) WriteHTML(w io.Writer) error {
	return usageHTML.Execute(w, u)
}

// WriteHTML writes the statement as a printable HTML page.
func (s *Statement) WriteHTML(w io.Writer) error {
	return statementHTML.Execute(w, s)
}

// WriteCSV writes the statement as CSV: by API, then by day.
func (s *Statement) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write(append([]string{"api"}, csvHeader[1:]...))
	for i := range s.ByAPI {
		cw.Write(csvRow(&s.ByAPI[i]))
	}
	cw.Write(csvRow(&s.Total))
	cw.Write(nil)
	cw.Write(append([]string{"day"}, csvHeader[1:]...))
	for i := range s.ByDay {
		cw.Write(csvRow(&s.ByDay[i]))
	}
	cw.Flush()
	return cw.Error()
}

const pageStyle = `<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#111}
table{border-collapse:collapse;width:100%;margin:1em 0}
th,td{border:1px solid #999;padding:.3em .5em;text-align:right}
th:first-child,td:first-child{text-align:left}
tfoot td{font-weight:bold}
.small{font-size:.85em;color:#444}
@media print{body{margin:0}a{color:inherit}}
</style>`

var funcs = template.FuncMap{
	"day": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format(time.RFC3339)
	},
	"ms": func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) },
	// period says in words which records a statement produced at
	// produced covers: [from, to), an open end being the first record or
	// the time it was produced.
	// A zero produced (a usage report, which does not keep it) leaves
	// the open end unnamed.
	"period": func(from, to, produced time.Time) string {
		utc := func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }
		upTo := ""
		if !produced.IsZero() {
			upTo = " up to " + utc(produced)
		}
		switch {
		case from.IsZero() && to.IsZero():
			return "All records" + upTo
		case from.IsZero():
			return "All records before " + utc(to)
		case to.IsZero():
			return "Records from " + utc(from) + upTo
		}
		return "Records from " + utc(from) + " to " + utc(to) + " (excluded)"
	},
}

const rowsTemplate = `{{define "rows"}}<table><thead><tr><th>{{.Title}}</th><th>calls</th><th>errors (5xx)</th><th>denials</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>denials by reason</th></tr></thead>
<tbody>{{range .Rows}}<tr><td>{{if .Key}}{{.Key}}{{else}}(none){{end}}</td><td>{{.Calls}}</td><td>{{.Errors}}</td><td>{{.Denials}}</td><td>{{ms .P50}}</td><td>{{ms .P95}}</td><td>{{ms .P99}}</td><td class="small">{{range $k, $v := .DenialsByReason}}{{$k}}: {{$v}} {{end}}</td></tr>{{end}}</tbody>
{{with .Total}}<tfoot><tr><td>total</td><td>{{.Calls}}</td><td>{{.Errors}}</td><td>{{.Denials}}</td><td>{{ms .P50}}</td><td>{{ms .P95}}</td><td>{{ms .P99}}</td><td></td></tr></tfoot>{{end}}</table>{{end}}`

type rowsView struct {
	Title string
	Rows  []UsageRow
	Total *UsageRow
}

var usageHTML = template.Must(template.New("usage").Funcs(funcs).Funcs(template.FuncMap{
	"rows":     func(title string, rows []UsageRow, total UsageRow) rowsView { return rowsView{title, rows, &total} },
	"zeroTime": func() time.Time { return time.Time{} },
}).Parse(rowsTemplate + `<!doctype html><html><head><meta charset="utf-8"><title>obhub usage report</title>` + pageStyle + `</head><body>
<h1>API usage by {{.By}}</h1>
<p>{{period .From .To zeroTime}}{{if .Bank}} · bank {{.Bank}}{{end}}{{if .Partner}} · partner {{.Partner}}{{end}}. Latency is measured at the hub, until the response headers.</p>
{{template "rows" (rows .By .Rows .Total)}}
{{if .Unattributed}}<p class="small">Not counted above: {{.Unattributed}} requests that named no API and no app (developer portal pages, OAuth2 metadata, health checks, paths that are no bank's); they are in the audit log.</p>{{end}}
</body></html>
`))

var statementHTML = template.Must(template.New("statement").Funcs(funcs).Funcs(template.FuncMap{
	"rows": func(title string, rows []UsageRow, total UsageRow) rowsView { return rowsView{title, rows, &total} },
}).Parse(rowsTemplate + `<!doctype html><html><head><meta charset="utf-8"><title>obhub activity statement: {{.Partner}}</title>` + pageStyle + `</head><body>
<h1>Activity statement of partner {{.Partner}}</h1>
<p>{{period .From .To .Produced}}: {{.Total.Calls}} calls, {{.Total.Errors}} errors, {{.Total.Denials}} refused.</p>
<p class="small">Produced {{day .Produced}}.</p>
<h2>By API</h2>
{{template "rows" (rows "API" .ByAPI .Total)}}
<h2>By day</h2>
{{template "rows" (rows "day" .ByDay .Total)}}
</body></html>
`))
