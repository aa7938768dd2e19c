package audit

import (
	"sync/atomic"
	"time"
)

// latencyBounds are the upper bounds of the Writer's latency histograms
// (Stats.FlushLatency, Stats.WaitLatency): from a fast disk's flush to a
// stall that a client would notice.
var latencyBounds = [...]time.Duration{
	500 * time.Microsecond, time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond,
	10 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond,
	250 * time.Millisecond, 500 * time.Millisecond, time.Second,
}

// Histogram counts durations: Counts[i] those up to Bounds()[i] and
// above the bound before it, the last count those above every bound.
// Averages hide a stall of a few tens of milliseconds in a second of
// quick flushes; a histogram shows it.
type Histogram struct {
	Counts [len(latencyBounds) + 1]int64
	Sum    time.Duration
}

// Bounds returns the upper bounds of the counts (a copy).
func (Histogram) Bounds() [len(latencyBounds)]time.Duration { return latencyBounds }

// Count is how many durations were observed.
func (h Histogram) Count() int64 {
	var n int64
	for _, c := range h.Counts {
		n += c
	}
	return n
}

// histogram is a Histogram that goroutines observe into concurrently.
type histogram struct {
	counts [len(latencyBounds) + 1]atomic.Int64
	sum    atomic.Int64
}

func (h *histogram) observe(d time.Duration) {
	i := 0
	for i < len(latencyBounds) && d > latencyBounds[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sum.Add(int64(d))
}

func (h *histogram) snapshot() Histogram {
	var s Histogram
	for i := range h.counts {
		s.Counts[i] = h.counts[i].Load()
	}
	s.Sum = time.Duration(h.sum.Load())
	return s
}
