// Package httpx renders errors as RFC 9457 problem+json documents. It is
// the one place where application error codes (package obhub) become HTTP
// statuses and stable problem type URIs, for every listener.
package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/obhub/obhub"
)

// ContentType is the media type of problem documents.
const ContentType = "application/problem+json"

// TypeBase prefixes every problem type. Types are stable identifiers that
// clients may switch on; docs/errors.md lists them.
const TypeBase = "https://obhub.dev/problems/"

// Problem is an RFC 9457 problem document.
type Problem struct {
	Type      string         `json:"type"`
	Title     string         `json:"title"`
	Status    int            `json:"status"`
	Detail    string         `json:"detail,omitempty"`
	Instance  string         `json:"instance,omitempty"`
	RequestID string         `json:"request_id,omitempty"`
	Errors    []obhub.Detail `json:"errors,omitempty"`
}

// Kind is one stable problem type: its URI slug, status and title.
type Kind struct {
	Slug   string
	Status int
	Title  string
}

// Problem kinds. Titles are short and fixed per kind; Detail says what
// happened in this case.
var (
	InvalidToken      = Kind{"invalid-token", http.StatusUnauthorized, "Invalid or missing access token"}
	InsufficientScope = Kind{"insufficient-scope", http.StatusForbidden, "Access token lacks a required scope"}
	NotSubscribed     = Kind{"not-subscribed", http.StatusForbidden, "App is not subscribed to this API"}
	WrongEnvironment  = Kind{"wrong-environment", http.StatusForbidden, "Token is for another environment"}
	ConsentRequired   = Kind{"consent-required", http.StatusForbidden, "A customer's consent is required"}
	Forbidden         = Kind{"forbidden", http.StatusForbidden, "Forbidden"}
	Unauthorized      = Kind{"unauthorized", http.StatusUnauthorized, "Authentication required"}
	RateLimited       = Kind{"rate-limited", http.StatusTooManyRequests, "Rate limit exceeded"}
	InvalidRequest    = Kind{"invalid-request", http.StatusBadRequest, "Request is invalid"}
	Invalid           = Kind{"invalid", http.StatusUnprocessableEntity, "Validation failed"}
	NotFound          = Kind{"not-found", http.StatusNotFound, "Not found"}
	MethodNotAllowed  = Kind{"method-not-allowed", http.StatusMethodNotAllowed, "Method not allowed"}
	Conflict          = Kind{"conflict", http.StatusConflict, "Conflict"}
	BodyTooLarge      = Kind{"body-too-large", http.StatusRequestEntityTooLarge, "Request body too large"}
	URITooLong        = Kind{"uri-too-long", http.StatusRequestURITooLong, "Request URI too long"}
	HeadersTooLarge   = Kind{"headers-too-large", http.StatusRequestHeaderFieldsTooLarge, "Request headers too large"}
	UnsupportedMedia  = Kind{"unsupported-media-type", http.StatusUnsupportedMediaType, "Unsupported media type"}
	BadGateway        = Kind{"bad-gateway", http.StatusBadGateway, "Upstream failed"}
	Unavailable       = Kind{"unavailable", http.StatusServiceUnavailable, "Service unavailable"}
	UpstreamTimeout   = Kind{"upstream-timeout", http.StatusGatewayTimeout, "Upstream timed out"}
	Internal          = Kind{"internal", http.StatusInternalServerError, "Internal error"}
	RequestTimeout    = Kind{"request-timeout", http.StatusRequestTimeout, "Request not received in time"}
	NotImplemented    = Kind{"not-implemented", http.StatusNotImplemented, "Not implemented"}
)

// New returns a problem of the kind with the detail text.
func (k Kind) New(detail string) *Problem {
	return &Problem{Type: TypeBase + k.Slug, Title: k.Title, Status: k.Status, Detail: detail}
}

// kindOf maps application error codes to problem kinds.
var kindOf = map[string]Kind{
	obhub.EINVALID:      Invalid,
	obhub.ENOTFOUND:     NotFound,
	obhub.ECONFLICT:     Conflict,
	obhub.EUNAUTHORIZED: Unauthorized,
	obhub.EFORBIDDEN:    Forbidden,
	obhub.ENOTALLOWED:   MethodNotAllowed,
	obhub.ETOOLARGE:     BodyTooLarge,
	obhub.EUNAVAILABLE:  Unavailable,
	obhub.ETIMEOUT:      UpstreamTimeout,
	obhub.EBADGATEWAY:   BadGateway,
	obhub.EINTERNAL:     Internal,
	obhub.ERATELIMITED:  RateLimited,
	obhub.ESCOPE:        InsufficientScope,
}

// FromError turns an error into a problem. Only *obhub.Error messages and
// details reach the caller; any other error becomes a generic 500 whose
// text stays in the logs.
func FromError(err error) *Problem {
	code := obhub.ErrorCode(err)
	k, ok := kindOf[code]
	if !ok {
		k = Internal
	}
	p := k.New(obhub.ErrorMessage(err))
	var e *obhub.Error
	if errors.As(err, &e) {
		p.Errors = e.Details
	}
	return p
}

// Write sends p on w with the problem media type. A problem without a
// request id takes the response's X-Request-Id, when one is set.
func Write(w http.ResponseWriter, p *Problem) {
	h := w.Header()
	if p.RequestID == "" {
		p.RequestID = h.Get("X-Request-Id")
	}
	h.Set("Content-Type", ContentType)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	_, _ = w.Write(Marshal(p))
}

// Marshal encodes p as JSON (for servers that do not use net/http).
// HTML escaping is off: problem documents are JSON, read by programs and
// people, and "<token>" reads better than "\u003ctoken\u003e".
func Marshal(p *Problem) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil { // cannot happen for these field types
		return []byte(`{"type":"` + TypeBase + `internal","title":"Internal error","status":500}`)
	}
	return buf.Bytes()
}
