package audit

import (
	"context"
	"fmt"
	"time"
)

// Finder selects records: the part of Store that usage queries need.
type Finder interface {
	Find(ctx context.Context, f Filter, fn func(r *Record) error) error
}

// Bucket is one step of a usage series: the calls whose time is in
// [Start, Start+Series.Step).
type Bucket struct {
	Start time.Time `json:"start"`
	UsageRow
}

// Series is usage over time: API calls (not administrative changes) of
// the records a filter selects, in equal steps from From to To.
type Series struct {
	From    time.Time     `json:"from"`
	To      time.Time     `json:"to"`
	Step    time.Duration `json:"step"`
	Buckets []Bucket      `json:"buckets"`
	Total   UsageRow      `json:"total"`
}

// maxBuckets bounds a series.
const maxBuckets = 1000

// UsageSeries builds the usage series of the records f selects in
// [f.From, f.To), one bucket per step (the last one may be shorter): the
// calls, errors (5xx), denials (decision deny or reject) and latency
// quantiles of each. Empty steps are buckets with zero calls.
func UsageSeries(ctx context.Context, s Finder, f Filter, step time.Duration) (*Series, error) {
	if step <= 0 || f.From.IsZero() || !f.To.After(f.From) {
		return nil, fmt.Errorf("usage series: need From < To and a positive step")
	}
	n := int((f.To.Sub(f.From) + step - 1) / step)
	if n > maxBuckets {
		return nil, fmt.Errorf("usage series: %d steps, at most %d", n, maxBuckets)
	}
	f.Limit, f.BeforeSeq, f.OldestFirst = 0, 0, true
	ser := &Series{From: f.From.UTC(), To: f.To.UTC(), Step: step, Buckets: make([]Bucket, n)}
	for i := range ser.Buckets {
		ser.Buckets[i].Start = ser.From.Add(time.Duration(i) * step)
	}
	err := s.Find(ctx, f, func(r *Record) error {
		if r.Category == CategoryAdmin {
			return nil
		}
		i := int(r.Time.Sub(f.From) / step)
		if i < 0 || i >= n { // the store selected by [From, To): defensive only
			return nil
		}
		ser.Buckets[i].add(r)
		ser.Total.add(r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("usage series: %w", err)
	}
	for i := range ser.Buckets {
		ser.Buckets[i].finish()
	}
	ser.Total.Key = "total"
	ser.Total.finish()
	return ser, nil
}

// CountCalls counts the API calls (not administrative changes) that f
// selects and keep (nil: all) accepts.
func CountCalls(ctx context.Context, s Finder, f Filter, keep func(*Record) bool) (int64, error) {
	f.Limit, f.BeforeSeq = 0, 0
	var n int64
	err := s.Find(ctx, f, func(r *Record) error {
		if r.Category != CategoryAdmin && (keep == nil || keep(r)) {
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("count calls: %w", err)
	}
	return n, nil
}
