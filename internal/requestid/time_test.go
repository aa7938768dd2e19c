package requestid_test

import (
	"testing"
	"time"

	"github.com/obhub/obhub/internal/requestid"
)

func TestTime(t *testing.T) {
	before := time.Now().Truncate(time.Millisecond)
	id := requestid.New()
	after := time.Now()
	got, ok := requestid.Time(id)
	if !ok || got.Before(before) || got.After(after) {
		t.Errorf("Time(%q) = %v, %v; want a time between %v and %v", id, got, ok, before, after)
	}
	for _, other := range []string{"", "req-0000042", "6ba7b810-9dad-11d1-80b4-00c04fd430c8" /* v1 */, "019a6c3e-5b8d-7f21-1c4e-2d6b1a0f7e53" /* bad variant */} {
		if _, ok := requestid.Time(other); ok {
			t.Errorf("Time(%q) reported a time", other)
		}
	}
}
