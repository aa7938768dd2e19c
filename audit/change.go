package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxStateBytes bounds the before and after copies kept in a change
// record; a larger state (an OpenAPI document) is kept as its size and
// SHA-256.
const MaxStateBytes = 64 << 10

// Change is an administrative change made through a web page — the
// console or the developer portal — rather than the admin API (whose
// middleware records its own, admin.RecordChanges): who made it, on what,
// and the object's state before and after.
type Change struct {
	Actor     string // "console:ops@bank.example", "portal:dev@fintech.example"
	Bank      string // the bank it concerns, if any: that bank's staff see it
	Partner   string // the partner it concerns, if any
	ClientID  string // the app it concerns, if any
	Object    string // "apps/<client id>", "partners/agrifin", …
	Verb      string // what was done: "create", "rotate_secret", … (the record's reason)
	Path      string // the page's path
	RequestID string
	// Before and After are the object's states, as any value that
	// marshals to JSON (nil: none); see State.
	Before, After any
}

// Record returns the change as a record of category admin, made by a POST
// that succeeded, with both states passed through State.
func (c Change) Record(now time.Time) Record {
	return Record{
		Time: now, Category: CategoryAdmin, RequestID: c.RequestID,
		Bank: c.Bank, Partner: c.Partner, ClientID: c.ClientID,
		Method: http.MethodPost, Path: c.Path, Status: http.StatusOK,
		Decision: DecisionAllow, Reason: c.Verb,
		Actor: c.Actor, Object: c.Object, Before: State(c.Before), After: State(c.After),
	}
}

// State returns v as compact JSON for a change record: every member whose
// name mentions a secret, password, token, hash, private key or OTP (see
// SecretName) replaced by "[redacted]", and a state over MaxStateBytes
// replaced by its size and SHA-256. nil, or a value that does not marshal,
// is "".
func State(v any) string {
	if v == nil {
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return StateJSON(b)
}

// StateJSON is State for a JSON document already encoded (an admin API
// response); a body that is not JSON is "".
func StateJSON(doc []byte) string {
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		return ""
	}
	b, err := json.Marshal(redactState(v))
	if err != nil {
		return ""
	}
	if len(b) > MaxStateBytes {
		sum := sha256.Sum256(b)
		return `{"omitted":"too large","bytes":` + strconv.Itoa(len(b)) + `,"sha256":"` + hex.EncodeToString(sum[:]) + `"}`
	}
	return string(b)
}

func redactState(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			if SecretName(k) {
				t[k] = redactedValue
			} else {
				t[k] = redactState(e)
			}
		}
	case []any:
		for i := range t {
			t[i] = redactState(t[i])
		}
	}
	return v
}

// notSecret are member names that look like secrets and are not: flags
// and method names, which a reviewer needs to see.
var notSecret = map[string]bool{
	"has_secret": true, "token_endpoint_auth_method": true,
	"dpop_bound_access_tokens": true, "tls_client_certificate_bound_access_tokens": true,
}

// SecretName reports whether a JSON member name holds a secret.
func SecretName(k string) bool {
	k = strings.ToLower(k)
	if notSecret[k] {
		return false
	}
	for _, s := range []string{"secret", "password", "token", "hash", "private", "otp"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// adminActions are the last path segments of the admin API that name an
// action on the object before them, with the verb each records.
var adminActions = map[string]string{
	"publish": "publish", "deprecate": "deprecate", "retire": "retire",
	"approve": "approve", "reject": "reject", "retry": "retry", "secret": "rotate_secret",
}

// AdminAction returns the verb of an admin API path's last segment when
// it names an action ("publish", "secret" → "rotate_secret"), else "".
func AdminAction(segment string) string { return adminActions[segment] }

// Verb returns what an administrative record did. A change made through
// a web page (the console, the portal, registration) keeps its verb in
// Reason; a record of the admin API (path under /admin/) keeps there the
// problem of a refusal instead, so its verb comes from the path and
// method: the action its path ends with, else "create" for POST,
// "update" for PUT and PATCH, "delete" for DELETE.
func (r *Record) Verb() string {
	rest, ok := strings.CutPrefix(r.Path, "/admin/")
	if !ok {
		return r.Reason
	}
	rest = strings.TrimRight(rest, "/")
	if v := AdminAction(rest[strings.LastIndexByte(rest, '/')+1:]); v != "" {
		return v
	}
	switch r.Method {
	case http.MethodPost:
		return "create"
	case http.MethodPut, http.MethodPatch:
		return "update"
	case http.MethodDelete:
		return "delete"
	}
	return strings.ToLower(r.Method)
}
