package gateway

import (
	"slices"
	"testing"
)

func TestConnectionTokens(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"keep-alive", nil},
		{"Close", nil},
		{"Keep-Alive, X-Hop-Secret", []string{"x-hop-secret"}},
		{" , te,Content-Length ,,Upgrade", []string{"te", "upgrade"}},
		{"\u212Aeep-Alive", nil}, // KELVIN SIGN lowers to k, as strings.ToLower has it
	} {
		if got := connectionTokens([]byte(tt.in)); !slices.Equal(got, tt.want) || (got == nil) != (tt.want == nil) {
			t.Errorf("connectionTokens(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// Both directions of every proxied call read one.
	if n := testing.AllocsPerRun(100, func() { _ = connectionTokens([]byte("keep-alive")) }); n != 0 {
		t.Errorf("connectionTokens(keep-alive): %v allocations, want 0", n)
	}
}

func TestWellFormedJWS(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"eyJh.eyJi.c2ln", true},
		{"a-_0.b.c", true},
		{"a.b", false},
		{"a.b.c.d", false},
		{".b.c", false},
		{"a..c", false},
		{"a.b.", false},
		{"a.b+.c", false},
		{"abcde.b.c=", false},
		{"", false},
	} {
		if got := wellFormedJWS([]byte(tt.in)); got != tt.want {
			t.Errorf("wellFormedJWS(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
