package policies

import (
	"sync"
	"sync/atomic"
	"time"
)

// InFlight counts calls in progress per key (a member bank) on this node.
type InFlight struct {
	m sync.Map // key → *atomic.Int64
}

// Slot is a call in progress counted by InFlight. It is a value, not a
// release closure, so taking one costs no allocation on every call.
type Slot struct {
	n *atomic.Int64 // nil when no ceiling counted the call
}

// Release gives the slot back.
func (s Slot) Release() {
	if s.n != nil {
		s.n.Add(-1)
	}
}

// Acquire takes a slot under key if fewer than limit calls are in
// progress (limit <= 0: no ceiling). The caller must Release the slot
// exactly once when ok.
func (f *InFlight) Acquire(key string, limit int) (slot Slot, ok bool) {
	if limit <= 0 {
		return Slot{}, true
	}
	v, found := f.m.Load(key)
	if !found {
		v, _ = f.m.LoadOrStore(key, new(atomic.Int64))
	}
	n := v.(*atomic.Int64)
	if n.Add(1) > int64(limit) {
		n.Add(-1)
		return Slot{}, false
	}
	return Slot{n: n}, true
}

// Breaker defaults.
const (
	DefaultBreakerFailures = 5                // consecutive failures that open a breaker
	DefaultBreakerOpen     = 10 * time.Second // how long it stays open before a probe
)

// Breakers hold one circuit breaker per upstream. A breaker opens after
// Failures consecutive failed exchanges (refused, reset, timed out, or a
// 502/503/504 answer), refuses calls while open, and after Open lets one
// probe through (half-open): its success closes the breaker, its failure
// opens it again.
type Breakers struct {
	Failures int
	Open     time.Duration
	Now      func() time.Time

	m sync.Map // upstream → *breaker
}

type breaker struct {
	// healthy says the breaker is closed with no failure counted, the
	// state of nearly every call: Allow and a successful Done then return
	// at once, without the lock or the clock. It changes only under mu.
	healthy   atomic.Bool
	mu        sync.Mutex
	failures  int
	openUntil time.Time
	probing   bool
}

// settle updates healthy after a change of state; mu is held.
func (b *breaker) settle() {
	b.healthy.Store(b.failures == 0 && b.openUntil.IsZero() && !b.probing)
}

// Allow reports whether a call to upstream may go ahead; when not, wait
// says for how long the breaker stays open. A call allowed must be
// followed by Done.
func (bs *Breakers) Allow(upstream string) (ok bool, wait time.Duration) {
	b := bs.get(upstream)
	if b.healthy.Load() {
		return true, 0
	}
	now := bs.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.openUntil.IsZero() {
		return true, 0
	}
	if now.Before(b.openUntil) {
		return false, b.openUntil.Sub(now)
	}
	if b.probing {
		return false, bs.open()
	}
	b.probing = true
	b.settle()
	return true, 0
}

// Done records the result of a call Allow let through.
func (bs *Breakers) Done(upstream string, failed bool) {
	b := bs.get(upstream)
	if !failed && b.healthy.Load() {
		return // nothing to reset
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	defer b.settle()
	if !failed {
		b.failures, b.openUntil, b.probing = 0, time.Time{}, false
		return
	}
	b.failures++
	if b.probing || b.failures >= bs.failures() {
		b.openUntil = bs.now().Add(bs.open())
		b.probing = false
	}
}

func (bs *Breakers) get(upstream string) *breaker {
	if v, ok := bs.m.Load(upstream); ok {
		return v.(*breaker)
	}
	b := &breaker{}
	b.healthy.Store(true)
	v, _ := bs.m.LoadOrStore(upstream, b)
	return v.(*breaker)
}

func (bs *Breakers) now() time.Time {
	if bs.Now != nil {
		return bs.Now()
	}
	return time.Now()
}

func (bs *Breakers) failures() int {
	if bs.Failures > 0 {
		return bs.Failures
	}
	return DefaultBreakerFailures
}

func (bs *Breakers) open() time.Duration {
	if bs.Open > 0 {
		return bs.Open
	}
	return DefaultBreakerOpen
}

// RetryBudget bounds retries to a share of recent calls, so that retries
// never multiply the load on a failing upstream: at most Ratio retries
// per call counted, plus MinPerSecond, over one-second windows.
type RetryBudget struct {
	Ratio        float64 // default 0.1
	MinPerSecond int64   // default 3

	mu      sync.Mutex
	window  int64 // unix second
	calls   int64
	retries int64
}

// Call counts a first attempt.
func (rb *RetryBudget) Call() {
	rb.mu.Lock()
	rb.roll()
	rb.calls++
	rb.mu.Unlock()
}

// Retry reports whether a retry may be spent, and spends it.
func (rb *RetryBudget) Retry() bool {
	rb.mu.Lock()
	defer rb.mu.Unlock()
	rb.roll()
	ratio, minimum := rb.Ratio, rb.MinPerSecond
	if ratio <= 0 {
		ratio = 0.1
	}
	if minimum <= 0 {
		minimum = 3
	}
	if float64(rb.retries) >= float64(minimum)+ratio*float64(rb.calls) {
		return false
	}
	rb.retries++
	return true
}

func (rb *RetryBudget) roll() {
	if now := time.Now().Unix(); now != rb.window {
		rb.window, rb.calls, rb.retries = now, 0, 0
	}
}
