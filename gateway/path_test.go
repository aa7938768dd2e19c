package gateway

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/obhub/obhub/partners"
)

func TestCleanPath(t *testing.T) {
	tests := []struct {
		raw  string
		want string // "" when refused
		bad  string
	}{
		{raw: "/bank1/v1/accounts", want: "/bank1/v1/accounts"},
		{raw: "/bank1/v1/accounts/", want: "/bank1/v1/accounts/"},
		{raw: "/", want: "/"},
		{raw: "/bank1/v1/acc%6Funts", want: "/bank1/v1/accounts"},
		{raw: "/bank1/v1/%7Euser%2D1", want: "/bank1/v1/~user-1"},
		{raw: "/bank1/v1/a%20b", want: "/bank1/v1/a%20b"},
		{raw: "/bank1/v1/caf%C3%A9", want: "/bank1/v1/caf%C3%A9"},
		{raw: "/bank1/v1/café", want: "/bank1/v1/café"},
		{raw: "/bank1/v1/a;b", want: "/bank1/v1/a;b"},
		{raw: "/bank1/v1/..../x", want: "/bank1/v1/..../x"},
		{raw: "/bank1/v1/.well", want: "/bank1/v1/.well"},
		{raw: "/BANK1/V1", want: "/BANK1/V1"}, // case kept: the bank id check refuses it later

		{raw: "", bad: badPathStart},
		{raw: "*", bad: badPathStart},
		{raw: "bank1/v1", bad: badPathStart},
		{raw: "/bank1/../admin", bad: badPathDot},
		{raw: "/bank1/./v1", bad: badPathDot},
		{raw: "/bank1/v1/..", bad: badPathDot},
		{raw: "/bank1/v1/.", bad: badPathDot},
		{raw: "/..", bad: badPathDot},
		{raw: "/bank1/%2e%2e/admin", bad: badPathEncoded},
		{raw: "/bank1/%2E./admin", bad: badPathEncoded},
		{raw: "/bank1/.%2e/admin", bad: badPathEncoded},
		{raw: "/bank1/v1%2faccounts", bad: badPathEncoded},
		{raw: "/bank1/v1%2Faccounts", bad: badPathEncoded},
		{raw: "/bank1/v1%5caccounts", bad: badPathEncoded},
		{raw: "/bank1/v1%5Caccounts", bad: badPathEncoded},
		{raw: "/bank1/v1/a%00", bad: badPathEncoded},
		{raw: "/bank1/v1/a%0a", bad: badPathChar},
		{raw: "/bank1/v1/a%7f", bad: badPathChar},
		{raw: "/bank1/v1/a%", bad: badPathEscape},
		{raw: "/bank1/v1/a%4", bad: badPathEscape},
		{raw: "/bank1/v1/a%g1", bad: badPathEscape},
		{raw: "//bank1/v1", bad: badPathEmpty},
		{raw: "/bank1//v1", bad: badPathEmpty},
		{raw: "/bank1/v1//", bad: badPathEmpty},
		{raw: "/bank1\\..\\admin", bad: badPathChar},
		{raw: "/bank1/v1/a\x00b", bad: badPathChar},
		{raw: "/bank1/v1/a\tb", bad: badPathChar},
		{raw: "/bank1/v1/a\x7fb", bad: badPathChar},
		{raw: "/bank1/v1/\xff", bad: badPathUTF8},
		{raw: "/bank1/v1/\xc3", bad: badPathUTF8},
		{raw: "/bank1/v1/%ff", bad: badPathUTF8},
		{raw: "/bank1/v1/%C3", bad: badPathUTF8},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			got, bad := cleanPath(tt.raw)
			if got != tt.want || bad != tt.bad {
				t.Errorf("cleanPath(%q) = %q, %q; want %q, %q", tt.raw, got, bad, tt.want, tt.bad)
			}
		})
	}
}

func TestSplitTarget(t *testing.T) {
	tests := []struct {
		path string
		want target
		ok   bool
	}{
		{"/bank1/v1/accounts", target{partners.Production, "bank1", "/v1/accounts"}, true},
		{"/sandbox/bank1/v1/accounts", target{partners.Sandbox, "bank1", "/v1/accounts"}, true},
		{"/bank-2", target{partners.Production, "bank-2", "/"}, true},
		{"/sandbox", target{}, false},
		{"/sandbox/sandbox/v1", target{}, false},
		{"/sandbox/oauth2/token", target{}, false},
		{"/oauth2/token", target{}, false},
		{"/portal/", target{}, false},
		{"/.well-known/x", target{}, false},
		{"/healthz/x", target{}, false},
		{"/static/app.css", target{}, false},
		{"/Bank1/v1", target{}, false},
		{"/-bank/v1", target{}, false},
		{"/bank_1/v1", target{}, false},
		{"/" + strings.Repeat("b", 64) + "/v1", target{}, false},
		{"/", target{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got, ok := splitTarget(tt.path)
			if got != tt.want || ok != tt.ok {
				t.Errorf("splitTarget(%q) = %+v, %v; want %+v, %v", tt.path, got, ok, tt.want, tt.ok)
			}
		})
	}
}

// FuzzCleanPath checks the properties the pipeline relies on: a clean
// path has no dot or empty segments, no encoded dot, slash or backslash,
// no control characters, is valid UTF-8, and cleaning it again changes
// nothing.
func FuzzCleanPath(f *testing.F) {
	for _, s := range []string{"/bank1/v1/accounts", "/a/../b", "/a/%2e%2e/b", "//a", "/a%2fb", "/%41", "/\xff", "/a/./b/", "/x%2", "/é"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		clean, bad := cleanPath(string(raw))
		if bad != "" {
			if clean != "" {
				t.Fatalf("refused path %q came with a result %q", raw, clean)
			}
			return
		}
		if !strings.HasPrefix(clean, "/") || !utf8.ValidString(clean) {
			t.Fatalf("cleanPath(%q) = %q: not an absolute UTF-8 path", raw, clean)
		}
		lower := strings.ToLower(clean)
		for _, s := range []string{"%2e", "%2f", "%5c", "%00", "\\", "\x00"} {
			if strings.Contains(lower, s) {
				t.Fatalf("cleanPath(%q) = %q contains %q", raw, clean, s)
			}
		}
		segs := strings.Split(clean[1:], "/")
		for i, seg := range segs {
			if seg == "." || seg == ".." || (seg == "" && i < len(segs)-1) {
				t.Fatalf("cleanPath(%q) = %q has segment %q", raw, clean, seg)
			}
		}
		again, bad := cleanPath(clean)
		if bad != "" || again != clean {
			t.Fatalf("cleanPath not idempotent: %q → %q → %q (%s)", raw, clean, again, bad)
		}
	})
}
