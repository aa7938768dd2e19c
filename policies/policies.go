// Package policies enforces the alliance's traffic policies: the rate and
// quotas of a product's plan per subscribed app (with per-operation
// overrides), the ceilings that protect a member bank's core system from
// all partners together, and the upstream circuit breakers and retry
// budget.
//
// Counting uses ulule/limiter stores: its memory store on a single node,
// its Redis store (go-redis) when the cluster shares counters. Windows are
// fixed: a window starts with the first call counted in it and lasts the
// period, so a client can get up to 2N calls through in a short time
// around a window boundary (N at the end of one window, N at the start of
// the next). docs/policies.md says so to users.
//
// The library's HTTP middlewares are not used: their default error
// handler panics and they may trust forwarded headers. Store errors are
// handled here, explicitly: when the shared store fails the node falls
// back to a bounded local limit (see Limiter).
package policies

import (
	"context"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ulule/limiter/v3"
	"github.com/ulule/limiter/v3/drivers/store/memory"

	"github.com/obhub/obhub/catalog"
)

// Defaults.
const (
	// DefaultFallbackShare is the part of each limit a node admits on its
	// own while the shared store is unreachable.
	DefaultFallbackShare = 0.5
	// DefaultRetryShared is how long a node keeps to its local fallback
	// after the shared store failed before trying it again.
	DefaultRetryShared = time.Second
)

// Call identifies one API call for counting.
type Call struct {
	ClientID    string
	Environment string // "production" or "sandbox": separate counters
	Product     string // the product through which the app may call the API
	API         string
	Operation   string
	Bank        string
}

// Decision is the answer of a limit check.
type Decision struct {
	// Limited is true when at least one limit applied to the call; only
	// then do Limit, Remaining and Reset mean anything.
	Limited bool
	// Allowed is false when a limit is reached.
	Allowed bool
	// Limit, Remaining and Reset describe the limit closest to being
	// reached (RateLimit-* headers).
	Limit, Remaining int64
	Reset            time.Duration
	// Reason names the limit that refused the call: "rate_limited",
	// "quota_exceeded", "bank_rate_limited".
	Reason string
	// Fallback is true when a shared counter was unreachable and the
	// node's local fallback limit decided.
	Fallback bool
}

// RetryAfter is the whole number of seconds a refused client should wait,
// at least 1.
func (d Decision) RetryAfter() int64 {
	s := int64(math.Ceil(d.Reset.Seconds()))
	return max(s, 1)
}

// Options configure a Limiter.
type Options struct {
	// Shared is the store all nodes share (Redis); nil counts on this node
	// only. Build it with OpenRedis.
	Shared *Redis
	// FallbackShare is the part of a limit a node admits alone while
	// Shared fails; default DefaultFallbackShare. At least one call per
	// window is always admitted.
	FallbackShare float64
	// RetryShared is how long to use the fallback after a failure before
	// trying Shared again; default DefaultRetryShared.
	RetryShared time.Duration
	Logger      *slog.Logger
	// Now is the clock for the retry schedule; default time.Now.
	Now func() time.Time
}

// Limiter counts calls against plans and bank ceilings. It is safe for
// concurrent use. It never fails a call because a store failed: errors of
// the shared store send the node to its local fallback (counted by
// Fallbacks) until the store answers again.
type Limiter struct {
	local     limiter.Store // counts alone, or the fallback when shared fails
	shared    *Redis
	share     float64
	retry     time.Duration
	log       *slog.Logger
	now       func() time.Time
	fallbacks atomic.Uint64
	downUntil atomic.Int64 // unix nanoseconds; shared skipped until then
	downMu    sync.Mutex   // serialises the down/up log lines
	down      bool
}

// NewLimiter builds a limiter. It does no I/O.
func NewLimiter(o Options) *Limiter {
	if o.FallbackShare <= 0 || o.FallbackShare > 1 {
		o.FallbackShare = DefaultFallbackShare
	}
	if o.RetryShared <= 0 {
		o.RetryShared = DefaultRetryShared
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Limiter{
		local: memory.NewStoreWithOptions(limiter.StoreOptions{
			Prefix:          "obhub",
			CleanUpInterval: 30 * time.Second,
		}),
		shared: o.Shared,
		share:  o.FallbackShare,
		retry:  o.RetryShared,
		log:    o.Logger,
		now:    o.Now,
	}
}

// Fallbacks returns how many counts were taken by the local fallback
// because the shared store failed (a metric).
func (l *Limiter) Fallbacks() uint64 { return l.fallbacks.Load() }

// Plan counts a call against the plan of the product that grants it: the
// operation's rate override or else the plan's rate, then the quota. A
// call refused by the rate does not use quota. A plan without limits
// gives a Decision with Limited false.
func (l *Limiter) Plan(ctx context.Context, c Call, plan *catalog.Plan) Decision {
	d := Decision{Allowed: true}
	if plan == nil {
		return d
	}
	rate, kind, parts := plan.Rate, "rate", []string{c.Environment, c.ClientID, c.Product}
	if r, ok := plan.OperationRate(c.API, c.Operation); ok {
		rate, kind, parts = r, "oprate", []string{c.Environment, c.ClientID, c.Product, c.API, c.Operation}
	}
	if rate != nil {
		r := l.take(ctx, *rate, kind, parts...)
		d.merge(r, "rate_limited")
		if !r.Allowed {
			return d
		}
	}
	if plan.Quota != nil {
		r := l.take(ctx, *plan.Quota, "quota", c.Environment, c.ClientID, c.Product)
		d.merge(r, "quota_exceeded")
	}
	return d
}

// Bank counts a call against a member bank's rate ceiling for all
// partners together.
func (l *Limiter) Bank(ctx context.Context, bank string, b *catalog.BankLimits) Decision {
	d := Decision{Allowed: true}
	if b == nil || b.Rate == nil {
		return d
	}
	d.merge(l.take(ctx, *b.Rate, "bank", bank), "bank_rate_limited")
	return d
}

// merge folds one counter's result into d: a refusal wins; otherwise the
// limit with the fewest calls remaining is reported.
func (d *Decision) merge(r Decision, reason string) {
	r.Limited = true
	switch {
	case !r.Allowed:
		r.Reason = reason
		*d = r
	case !d.Limited || r.Remaining < d.Remaining:
		fb := d.Fallback || r.Fallback
		*d = r
		d.Fallback = fb
	default:
		d.Fallback = d.Fallback || r.Fallback
	}
}

// counterKey names a counter "kind|part|…|limit/period" (so a changed
// limit starts a new counter), built in one allocation: it runs on every
// call, up to three times.
func counterKey(kind string, parts []string, limit int64, period time.Duration) string {
	var buf [160]byte
	b := append(buf[:0], kind...)
	for _, p := range parts {
		b = append(append(b, '|'), p...)
	}
	b = strconv.AppendInt(append(b, '|'), limit, 10)
	b = appendPeriod(append(b, '/'), period)
	return string(b)
}

// appendPeriod appends the period as time.Duration.String writes it for
// the whole seconds, minutes and hours that plans use, without the
// allocation; other periods through String.
func appendPeriod(b []byte, d time.Duration) []byte {
	switch {
	case d > 0 && d%time.Hour == 0:
		return append(strconv.AppendInt(b, int64(d/time.Hour), 10), "h0m0s"...)
	case d > 0 && d%time.Minute == 0 && d < time.Hour:
		return append(strconv.AppendInt(b, int64(d/time.Minute), 10), "m0s"...)
	case d > 0 && d%time.Second == 0 && d < time.Minute:
		return append(strconv.AppendInt(b, int64(d/time.Second), 10), 's')
	}
	return append(b, d.String()...)
}

// take counts one call on the counter kind|parts against lim.
func (l *Limiter) take(ctx context.Context, lim catalog.Limit, kind string, parts ...string) Decision {
	period := lim.Period.D()
	key := counterKey(kind, parts, lim.Limit, period)
	rate := limiter.Rate{Period: period, Limit: lim.Limit}
	if l.shared != nil && l.now().UnixNano() >= l.downUntil.Load() {
		lc, err := l.shared.get(ctx, key, rate)
		if err == nil {
			l.up()
			return l.decision(lc, false)
		}
		l.fail(err)
	}
	if l.shared != nil {
		l.fallbacks.Add(1)
		rate.Limit = max(1, int64(float64(lim.Limit)*l.share))
		lc, _ := l.local.Get(ctx, "fallback|"+key, rate) // the memory store never fails
		return l.decision(lc, true)
	}
	lc, _ := l.local.Get(ctx, key, rate)
	return l.decision(lc, false)
}

func (l *Limiter) decision(lc limiter.Context, fallback bool) Decision {
	reset := time.Unix(lc.Reset, 0).Sub(l.now())
	if reset < 0 {
		reset = 0
	}
	return Decision{
		Limited:   true,
		Allowed:   !lc.Reached,
		Limit:     lc.Limit,
		Remaining: lc.Remaining,
		Reset:     reset,
		Fallback:  fallback,
	}
}

// fail sends the node to its fallback for the retry interval.
func (l *Limiter) fail(err error) {
	l.downUntil.Store(l.now().Add(l.retry).UnixNano())
	l.downMu.Lock()
	defer l.downMu.Unlock()
	if !l.down {
		l.down = true
		l.log.Warn("policies: shared limit counters unreachable; using the local fallback limit", "err", redact(err))
	}
}

// up records that the shared store answers.
func (l *Limiter) up() {
	if l.downUntil.Load() == 0 {
		return
	}
	l.downMu.Lock()
	defer l.downMu.Unlock()
	if l.down {
		l.down = false
		l.log.Info("policies: shared limit counters reachable again")
	}
	l.downUntil.Store(0)
}

// redact keeps an error message short and free of URLs with passwords.
func redact(err error) string {
	s := err.Error()
	if i := strings.Index(s, "://"); i >= 0 {
		return s[:i] + "://…"
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
