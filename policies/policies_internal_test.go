package policies

import (
	"testing"
	"time"
)

// Counter keys keep the layout "kind|part|…|limit/period" with the period
// as time.Duration.String writes it, so counters already in Redis carry
// on across an upgrade, and a changed limit or period is a new counter.
func TestCounterKey(t *testing.T) {
	periods := []time.Duration{time.Second, 5 * time.Second, 59 * time.Second, time.Minute, 30 * time.Minute,
		59 * time.Minute, time.Hour, 24 * time.Hour, 30 * 24 * time.Hour, 1500 * time.Millisecond, 90 * time.Second,
		61 * time.Minute, time.Hour + time.Second}
	for _, p := range periods {
		got := counterKey("rate", []string{"sandbox", "client-1", "payments"}, 50, p)
		want := "rate|sandbox|client-1|payments|50/" + p.String()
		if got != want {
			t.Errorf("period %v: key %q, want %q", p, got, want)
		}
	}
	if got := counterKey("bank", []string{"qingshan"}, 1000, time.Second); got != "bank|qingshan|1000/1s" {
		t.Errorf("bank key %q", got)
	}
	if a, b := counterKey("rate", []string{"a", "", "b"}, 1, time.Second), counterKey("rate", []string{"a", "b", ""}, 1, time.Second); a == b {
		t.Errorf("different parts share the key %q", a)
	}
}

func BenchmarkCounterKey(b *testing.B) {
	parts := []string{"production", "4f1c2a9e-client", "payments"}
	b.ReportAllocs()
	for b.Loop() {
		_ = counterKey("quota", parts, 100000, 24*time.Hour)
	}
}
