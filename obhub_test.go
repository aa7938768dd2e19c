package obhub_test

import (
	"testing"
	"time"

	"github.com/obhub/obhub"
)

// Durations read as an operator writes them, and read back the same.
func TestDurationText(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{24 * time.Hour, "24h"},
		{90 * time.Minute, "1h30m"},
		{10 * time.Minute, "10m"},
		{time.Hour + 30*time.Second, "1h0m30s"},
		{1500 * time.Millisecond, "1.5s"},
		{0, "0s"},
	} {
		b, err := obhub.Duration(tt.d).MarshalText()
		if err != nil || string(b) != tt.want {
			t.Errorf("%v written as %q, %v; want %q", tt.d, b, err, tt.want)
		}
		var back obhub.Duration
		if err := back.UnmarshalText(b); err != nil || time.Duration(back) != tt.d {
			t.Errorf("%q read back as %v, %v", b, time.Duration(back), err)
		}
	}
}
