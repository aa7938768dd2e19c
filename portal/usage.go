package portal

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/audit"
	"github.com/obhub/obhub/catalog"
	"github.com/obhub/obhub/config"
	"github.com/obhub/obhub/partners"
)

// The usage page of an app (GET /portal/apps/{id}/usage): its calls,
// errors, denials and latency over the last 24 hours (hourly) or 30 days
// (daily), and what is left of each plan quota, all read from the audit
// ledger — the same records compliance staff see. Charts are inline SVG
// drawn on the server, each with a title and a data table.

// UsageReader reads the audit ledger (an audit.Store).
type UsageReader = audit.Finder

// usageRange is a period the page can show.
type usageRange struct {
	ID    string
	Step  time.Duration
	Steps int
}

var usageRanges = []usageRange{
	{ID: "24h", Step: time.Hour, Steps: 24},
	{ID: "30d", Step: 24 * time.Hour, Steps: 30},
}

// Chart geometry, in SVG user units.
const (
	chartW, chartH           = 720, 220
	chartLeft, chartBottom   = 56, 28
	chartTop, chartRightEdge = 12, 8
)

type usagePage struct {
	App    config.AppView
	Range  string
	Ranges []string
	Series *audit.Series
	Rows   []usageRow
	Calls  chart
	Lat    chart
	Quotas []quotaRow
}

// usageRow is one bucket of the data table.
type usageRow struct {
	Label string
	audit.Bucket
}

// quotaRow is one plan quota of an active subscription.
type quotaRow struct {
	Product          catalog.Product
	Limit, Used      int64
	Remaining        int64
	Period           string
	PercentRemaining int
}

// chart is a drawn SVG chart.
type chart struct {
	W, H, Left, Bottom, Top int
	Max                     string // the top of the y axis, labelled
	Bars                    []bar
	Lines                   []line
	XLabels                 []xLabel
}

type bar struct {
	X, Y, W, H float64
	Class      string
	Title      string
}

type line struct {
	Class  string
	Points string
	Dots   []dot
}

type dot struct{ X, Y float64 }

type xLabel struct {
	X      float64
	Text   string
	Anchor string // text-anchor: start, middle or end
}

func (h *Handler) usage(w http.ResponseWriter, r *http.Request) {
	v := h.signedIn(w, r)
	if v == nil {
		return
	}
	ctx := r.Context()
	// Another partner's app is 404, exactly like an unknown one.
	app, err := h.ownApp(ctx, v, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	if h.cfg.Usage == nil {
		h.notFound(w, r, v)
		return
	}
	rg := usageRanges[0]
	for _, x := range usageRanges {
		if x.ID == r.URL.Query().Get("range") {
			rg = x
		}
	}
	now := h.cfg.Clock.Now().UTC()
	end := now.Truncate(rg.Step).Add(rg.Step)
	from := end.Add(-time.Duration(rg.Steps) * rg.Step)
	ser, err := audit.UsageSeries(ctx, h.cfg.Usage, audit.Filter{ClientID: app.ClientID, From: from, To: end}, rg.Step)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	pg := &usagePage{App: *app, Range: rg.ID, Series: ser}
	for _, x := range usageRanges {
		pg.Ranges = append(pg.Ranges, x.ID)
	}
	format := "01-02 15:00"
	if rg.Step >= 24*time.Hour {
		format = "2006-01-02"
	}
	for _, b := range ser.Buckets {
		pg.Rows = append(pg.Rows, usageRow{Label: b.Start.Format(format), Bucket: b})
	}
	pg.Calls = callsChart(pg.Rows, v.L)
	pg.Lat = latencyChart(pg.Rows)
	if pg.Quotas, err = h.quotas(ctx, app, now); err != nil {
		h.fail(w, r, v, err)
		return
	}
	h.render(w, v, http.StatusOK, "usage", v.L.T("usage.title", app.Name), nil, pg)
}

// quotas is what is left of the quota of each active subscription's
// plan: the limit minus the calls to the product's APIs during the last
// quota period that reached the limiter — those the hub let through
// (decision allow) and those its request validation refused afterwards
// (reject, invalid_request); not those refused before (authentication,
// authorisation, the rate limit or the quota itself). The limiter counts
// in fixed windows that start with a call, so this trailing count is
// what a developer can plan with, not the limiter's own counter.
func (h *Handler) quotas(ctx context.Context, app *config.AppView, now time.Time) ([]quotaRow, error) {
	subs, _, err := h.cfg.Catalog.ListSubscriptions(ctx, app.ClientID, config.ListOptions{})
	if err != nil {
		return nil, err
	}
	products, _, err := h.cfg.Catalog.ListProducts(ctx, config.ListOptions{})
	if err != nil {
		return nil, err
	}
	var out []quotaRow
	for _, p := range products {
		if p.Plan.Quota == nil || !slices.ContainsFunc(subs, func(s partners.Subscription) bool {
			return s.Product == p.ID && s.Status == partners.SubscriptionActive
		}) {
			continue
		}
		q := p.Plan.Quota
		period := q.Period.D()
		var used int64
		for _, api := range p.APIs {
			n, err := audit.CountCalls(ctx, h.cfg.Usage, audit.Filter{
				ClientID: app.ClientID, API: api, From: now.Add(-period), To: now.Add(time.Nanosecond),
			}, countsAgainstQuota)
			if err != nil {
				return nil, err
			}
			used += n
		}
		row := quotaRow{Product: p, Limit: q.Limit, Used: used, Remaining: max(0, q.Limit-used), Period: obhub.Duration(period).String()}
		if q.Limit > 0 {
			row.PercentRemaining = int(row.Remaining * 100 / q.Limit)
		}
		out = append(out, row)
	}
	return out, nil
}

// countsAgainstQuota reports whether a call reached the limiter (the
// gateway checks limits after authorisation and before validation).
func countsAgainstQuota(r *audit.Record) bool {
	return r.Decision == audit.DecisionAllow || r.Decision == audit.DecisionReject && r.Reason == "invalid_request"
}

// plotW and plotH are the drawing area inside the axes.
func plotW() float64 { return chartW - chartLeft - chartRightEdge }
func plotH() float64 { return chartH - chartBottom - chartTop }

func newChart(rows []usageRow) chart {
	c := chart{W: chartW, H: chartH, Left: chartLeft, Bottom: chartH - chartBottom, Top: chartTop}
	n := len(rows)
	if n == 0 {
		return c
	}
	bw := plotW() / float64(n)
	c.XLabels = []xLabel{
		{X: chartLeft, Text: rows[0].Label, Anchor: "start"},
		{X: chartLeft + (float64(n/2)+0.5)*bw, Text: rows[n/2].Label, Anchor: "middle"},
		{X: chartLeft + plotW(), Text: rows[n-1].Label, Anchor: "end"},
	}
	return c
}

// callsChart stacks, per bucket, the calls answered (bottom), denied and
// failed (top).
func callsChart(rows []usageRow, l lang) chart {
	c := newChart(rows)
	var top int64
	for _, r := range rows {
		top = max(top, r.Calls)
	}
	top = niceCeil(top)
	c.Max = strconv.FormatInt(top, 10)
	bw := plotW() / float64(max(1, len(rows)))
	for i, r := range rows {
		ok := max(0, r.Calls-r.Denials-r.Errors)
		y := float64(c.Bottom)
		for _, part := range []struct {
			n     int64
			class string
			key   string
		}{{ok, "ok", "usage.ok"}, {r.Denials, "denied", "usage.denials"}, {r.Errors, "failed", "usage.errors"}} {
			if part.n == 0 {
				continue
			}
			hgt := float64(part.n) / float64(top) * plotH()
			y -= hgt
			c.Bars = append(c.Bars, bar{
				X: chartLeft + float64(i)*bw + bw*0.1, Y: y, W: bw * 0.8, H: hgt, Class: part.class,
				Title: fmt.Sprintf("%s: %s %d", r.Label, l.T(part.key), part.n),
			})
		}
	}
	return c
}

// latencyChart draws p50 and p95 latency of the buckets that had calls.
func latencyChart(rows []usageRow) chart {
	c := newChart(rows)
	var top float64
	for _, r := range rows {
		top = max(top, r.P95)
	}
	topMS := niceCeil(int64(top + 0.999))
	c.Max = strconv.FormatInt(topMS, 10) + " ms"
	bw := plotW() / float64(max(1, len(rows)))
	for _, q := range []struct {
		class string
		val   func(usageRow) float64
	}{{"p50", func(r usageRow) float64 { return r.P50 }}, {"p95", func(r usageRow) float64 { return r.P95 }}} {
		ln := line{Class: q.class}
		for i, r := range rows {
			if r.Calls == 0 {
				continue
			}
			x := chartLeft + (float64(i)+0.5)*bw
			y := float64(c.Bottom) - q.val(r)/float64(topMS)*plotH()
			ln.Points += fmt.Sprintf("%.1f,%.1f ", x, y)
			ln.Dots = append(ln.Dots, dot{X: x, Y: y})
		}
		c.Lines = append(c.Lines, ln)
	}
	return c
}

// niceCeil rounds n up to 1, 2 or 5 times a power of ten (at least 1).
func niceCeil(n int64) int64 {
	if n <= 1 {
		return 1
	}
	for p := int64(1); ; p *= 10 {
		for _, m := range []int64{1, 2, 5} {
			if m*p >= n {
				return m * p
			}
		}
	}
}
