// Package requestid makes and checks the ids that tie a call's response,
// its log lines, the bank's view of it and its audit record together
// (the X-Request-Id header).
//
// New ids are UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then a
// sub-millisecond counter and random bits. They are unique without
// coordination between nodes, and they sort by time, which is what the
// audit ledger's request-id index needs: a time-ordered key lands at the
// index's right edge, where a random key would dirty a random page of a
// large index on every append (measured in store/sqlite BenchmarkAppend:
// about a third of the cost of a record).
package requestid

import (
	"context"
	"net/http"

	"github.com/google/uuid"

	"github.com/obhub/obhub"
)

// Header is the header that carries the id, on requests and responses.
const Header = "X-Request-Id"

// MaxLen is the longest client-sent id that is kept.
const MaxLen = 64

// New returns a fresh id, such as "019a6c3e-5b8d-7f21-9c4e-2d6b1a0f7e53".
func New() string {
	id, err := uuid.NewV7()
	if err != nil {
		// uuid.NewV7 fails only when the system's random source does,
		// and crypto/rand no longer returns errors (it crashes instead):
		// this is unreachable, but an id must never be empty.
		return uuid.NewString()
	}
	return id.String()
}

// Valid reports whether a client-sent id is kept as it is: 1 to MaxLen
// characters of [A-Za-z0-9._-], so that it is safe in headers, logs and
// CSV exports. Any other value is replaced by a new id.
func Valid(s string) bool {
	if len(s) == 0 || len(s) > MaxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// FromHeader returns the client's id if it is Valid, else a new one.
func FromHeader(s string) string {
	if Valid(s) {
		return s
	}
	return New()
}

// Handler gives every request of a net/http listener (the admin listener)
// an id as the gateway does: the client's X-Request-Id when Valid, else a
// new one. The id is set on the request's header (so that what records
// the request reads the same id), in its context under
// obhub.RequestIDKey, and on the response, where httpx.Write also puts it
// in a problem document.
func Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := FromHeader(r.Header.Get(Header))
		r.Header.Set(Header, id)
		w.Header().Set(Header, id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), obhub.RequestIDKey, id)))
	})
}
