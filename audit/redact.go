package audit

import "strings"

// credentialParams are the query parameters that carry a credential or a
// one-time secret: an access or refresh token sent in the URL (RFC 6750
// §2.3, which the gateway refuses but still records), an authorization
// code arriving at the bank sign-in callback, a client secret or
// assertion, a PKCE verifier, a password.
var credentialParams = []string{
	"access_token", "refresh_token", "id_token", "token", "code", "code_verifier",
	"client_secret", "client_assertion", "assertion", "password", "registration_access_token",
}

// redactedValue replaces a credential's value.
const redactedValue = "[redacted]"

// RedactQuery returns the query string q with the value of every
// credential-bearing parameter (credentialParams, compared on the raw
// name) replaced by "[redacted]", everything else kept as it is. It
// allocates only when it changes something.
func RedactQuery(q string) string {
	var b strings.Builder
	changed := false
	start := 0
	for start <= len(q) {
		end := strings.IndexByte(q[start:], '&')
		if end < 0 {
			end = len(q)
		} else {
			end += start
		}
		pair := q[start:end]
		if name, value, ok := strings.Cut(pair, "="); ok && value != "" && isCredentialParam(name) {
			if !changed {
				changed = true
				b.Grow(len(q))
				b.WriteString(q[:start])
			}
			b.WriteString(name)
			b.WriteString("=" + redactedValue)
		} else if changed {
			b.WriteString(pair)
		}
		if end == len(q) {
			break
		}
		if changed {
			b.WriteByte('&')
		}
		start = end + 1
	}
	if !changed {
		return q
	}
	return b.String()
}

func isCredentialParam(name string) bool {
	for _, p := range credentialParams {
		if strings.EqualFold(name, p) {
			return true
		}
	}
	return false
}
