// Package obhub holds what every other package of the hub shares and that
// depends on nothing but the standard library: application error codes and
// their problem types, the clock, and context keys.
//
// Errors carry a code from this package and become HTTP statuses in exactly
// one place (internal/httpx), so domain code never speaks HTTP.
package obhub

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Application error codes. Each maps to one HTTP status and one stable
// problem type URI (see internal/httpx).
const (
	EINVALID      = "invalid"      // the input is malformed or fails validation (422/400)
	ENOTFOUND     = "not_found"    // no such object, or one the caller may not see (404)
	ECONFLICT     = "conflict"     // duplicate id, stale revision, object in use (409)
	EUNAUTHORIZED = "unauthorized" // no or bad credentials (401)
	EFORBIDDEN    = "forbidden"    // credentials valid but not allowed (403)
	ENOTALLOWED   = "not_allowed"  // method not allowed on this path (405)
	ETOOLARGE     = "too_large"    // body over the limit (413)
	EUNAVAILABLE  = "unavailable"  // a backing store is down; try later (503)
	ETIMEOUT      = "timeout"      // a dependency did not answer in time (504)
	EBADGATEWAY   = "bad_gateway"  // a dependency refused or failed (502)
	EINTERNAL     = "internal"     // a bug or an unexpected failure (500)
	ERATELIMITED  = "rate_limited" // over a rate limit or quota (429)
	ESCOPE        = "insufficient_scope"
)

// Error is an application error: a code, a message safe to show to the
// caller, and optional per-field details. Messages never contain secrets or
// personal data.
type Error struct {
	Code    string
	Message string
	Details []Detail
}

// Detail is one problem with the input, located by a JSON pointer or a
// document location such as "paths./accounts.get.responses".
type Detail struct {
	Location string `json:"location,omitempty"`
	Message  string `json:"message"`
}

func (e *Error) Error() string {
	if len(e.Details) == 0 {
		return fmt.Sprintf("obhub: %s: %s", e.Code, e.Message)
	}
	return fmt.Sprintf("obhub: %s: %s (%d problems)", e.Code, e.Message, len(e.Details))
}

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns an EINVALID error listing every detail.
func Invalid(message string, details ...Detail) *Error {
	return &Error{Code: EINVALID, Message: message, Details: details}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the caller-safe message of the first *Error in err's
// chain, and a generic text for any other error (which may hold internals).
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// ErrorDetails returns the details of the first *Error in err's chain.
func ErrorDetails(err error) []Detail {
	var e *Error
	if errors.As(err, &e) {
		return e.Details
	}
	return nil
}

// Clock tells the time. Production uses time.Now; tests inject a fixed or
// stepping clock.
type Clock func() time.Time

// Now returns the clock's time, or time.Now for a nil clock.
func (c Clock) Now() time.Time {
	if c == nil {
		return time.Now()
	}
	return c()
}

// contextKey is the type of this package's context keys.
type contextKey int

// Context keys.
const (
	// RequestIDKey holds the request id (string) of the public request being
	// served.
	RequestIDKey contextKey = iota
)

// Duration is a time.Duration that reads and writes JSON and YAML as a Go
// duration string such as "1s", "24h" or "720h".
type Duration time.Duration

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats the duration like time.Duration, without zero units at
// its end: "24h", "1h30m", "10m", "1.5s" (time.Duration writes 24h0m0s,
// 1h30m0s, 10m0s).
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// MarshalText writes the duration as String does; time.ParseDuration and
// UnmarshalText read it back.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %q: want a number and a unit such as 1s, 5m or 24h", string(b))
	}
	*d = Duration(v)
	return nil
}

// RequestID returns the request id the gateway gave the public request
// ctx belongs to, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(RequestIDKey).(string)
	return id
}
