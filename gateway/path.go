package gateway

import (
	"strings"
	"unicode/utf8"

	"github.com/obhub/obhub/partners"
)

// Path normalisation. The gateway routes, authorises and forwards one and
// the same path: the one cleanPath returns. It never resolves anything a
// client could use to make two layers disagree; it refuses instead.
//
//	input                                          answer
//	"." or ".." segment                            400 (never resolved)
//	%2e %2E (encoded dot), anywhere                400
//	%2f %2F (encoded slash), %5c %5C, %00          400
//	malformed escape ("%g1", "%4" at the end)      400
//	empty segment ("//"), except a trailing "/"    400
//	backslash, NUL or another control character,
//	  raw or percent-encoded                       400
//	bytes that are not UTF-8, raw or decoded       400
//	not starting with "/" ("*", "")                400
//	%41-style escape of an unreserved character    decoded ("%41" → "A"), then
//	                                               routed and forwarded decoded
//	any other escape ("%20", "%C3%A9")             kept as sent, routed and
//	                                               forwarded as sent
//	trailing "/"                                   kept; 404 unless the API
//	                                               declares that path
//	letter case                                    significant everywhere: a
//	                                               bank id with capitals is 404
//	first segment not a bank id, or reserved       404
//
// Decoding the unreserved characters (RFC 3986 section 6.2.2.2) matters:
// otherwise "/acc%6Funts" would be routed as an unknown literal or a
// template parameter while the upstream reads "/accounts".

// Why a path is refused (the detail of the 400 problem).
const (
	badPathStart   = "the path must start with /"
	badPathDot     = "the path must not contain . or .. segments"
	badPathEmpty   = "the path must not contain empty segments (//)"
	badPathEscape  = "the path contains a malformed or forbidden percent-escape"
	badPathChar    = "the path contains a forbidden character"
	badPathEncoded = "the path must not encode dots, slashes, backslashes or NUL"
	badPathUTF8    = "the path is not valid UTF-8"
)

// cleanPath checks the raw request path (as sent, before any decoding)
// and returns its normal form, or why it is refused. A path without
// escapes is its own normal form: raw itself, not a copy.
func cleanPath(raw string) (clean string, bad string) {
	if len(raw) == 0 || raw[0] != '/' {
		return "", badPathStart
	}
	escaped := false
	for i := 0; i < len(raw); i++ {
		switch b := raw[i]; {
		case b == '%':
			escaped = true
		case b == '\\' || b < 0x20 || b == 0x7f:
			return "", badPathChar
		}
	}
	if !utf8.ValidString(raw) {
		return "", badPathUTF8
	}
	p := raw
	if escaped {
		var ok bool
		if p, bad, ok = decodeUnreserved(p); !ok {
			return "", bad
		}
	}
	// Segments: no empty one except a trailing "/", no dot segments.
	for i := 1; i <= len(p); {
		j := strings.IndexByte(p[i:], '/')
		if j < 0 {
			j = len(p) - i
		}
		seg := p[i : i+j]
		switch {
		case seg == "." || seg == "..":
			return "", badPathDot
		case seg == "" && i+j < len(p):
			return "", badPathEmpty
		}
		i += j + 1
	}
	return p, ""
}

// decodeUnreserved decodes percent-escapes of unreserved characters, keeps
// every other escape as sent, and refuses escapes of '.', '/', '\', NUL or
// control characters, malformed escapes, and escapes that decode to bytes
// that are not UTF-8.
func decodeUnreserved(p string) (out string, bad string, ok bool) {
	var b strings.Builder
	b.Grow(len(p))
	decoded := make([]byte, 0, len(p)) // the fully decoded path, for the UTF-8 check
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c != '%' {
			b.WriteByte(c)
			decoded = append(decoded, c)
			continue
		}
		if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
			return "", badPathEscape, false
		}
		v := unhex(p[i+1])<<4 | unhex(p[i+2])
		switch {
		case v == '.' || v == '/' || v == '\\' || v == 0:
			return "", badPathEncoded, false
		case v < 0x20 || v == 0x7f:
			return "", badPathChar, false
		case isUnreserved(v):
			b.WriteByte(v)
		default:
			b.WriteString(p[i : i+3])
		}
		decoded = append(decoded, v)
		i += 2
	}
	if !utf8.Valid(decoded) {
		return "", badPathUTF8, false
	}
	return b.String(), "", true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	default:
		return c - 'a' + 10
	}
}

// isUnreserved reports RFC 3986 unreserved characters other than '.',
// which cleanPath refuses when encoded.
func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '~'
}

// reserved are the public listener's own first path segments: never banks.
var reserved = map[string]bool{
	"oauth2": true, "sandbox": true, "portal": true, ".well-known": true,
	"healthz": true, "readyz": true, "static": true, "metrics": true,
}

// target is where an API call goes: production /{bank}{rest} or sandbox
// /sandbox/{bank}{rest}. rest starts with '/' and holds the API's base
// path followed by the operation path.
type target struct {
	env  partners.Environment
	bank string
	rest string
}

// splitTarget reads an API call from a clean path. ok is false when the
// path names no bank (a reserved first segment, or not a valid bank id).
func splitTarget(path string) (t target, ok bool) {
	t.env = partners.Production
	p := path[1:]
	if rest, found := strings.CutPrefix(p, "sandbox/"); found {
		t.env = partners.Sandbox
		p = rest
	}
	bank, _, found := strings.Cut(p, "/")
	if reserved[bank] || !validBankID(bank) {
		return target{}, false
	}
	t.bank, t.rest = bank, "/"
	if found {
		t.rest = p[len(bank):] // the slash and what follows, without a copy
	}
	return t, true
}

// validBankID is catalog.ValidID without the regular expression: 1–63
// lowercase letters, digits and '-', not starting with '-'.
func validBankID(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
