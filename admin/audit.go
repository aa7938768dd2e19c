package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/audit"
	"github.com/obhub/obhub/catalog"
	"github.com/obhub/obhub/internal/requestid"
)

// Administrative changes in the audit ledger.
//
// RecordChanges wraps the admin API (or any handler of its paths) so that
// every request that may change something — POST, PUT, PATCH, DELETE —
// leaves one audit record of category "admin": who (the admin token's
// identity, "operator" for the bootstrap token; "anonymous" when the token
// was refused), which object, its state before (read through the same
// handler with the caller's credentials) and after (the answer), with
// secrets redacted, and the status. It sits in front of the handler, so
// it records refused and failed attempts too; reads are not recorded.
// `obhub apply` goes through the admin API and is recorded the same way.

// ChangeRecorder stores one administrative change (audit.Writer.Write).
type ChangeRecorder func(audit.Record) error

// AdminActor is the identity of the bootstrap admin token.
const AdminActor = "operator"

// RecordChanges returns next with every change recorded through rec.
func RecordChanges(next http.Handler, rec ChangeRecorder, clock obhub.Clock) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		default:
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		object := objectPath(r.URL.Path)
		before := ""
		if object != "" && !isCollection(object) {
			before = readState(next, r, object)
		}
		var sent *capped
		if object != "" && isCollection(object) && r.Body != nil {
			sent = &capped{max: maxCapturedBody}
			r.Body = readCloser{io.TeeReader(r.Body, sent), r.Body}
		}
		buf := &bufferedResponse{header: http.Header{}, status: http.StatusOK}
		next.ServeHTTP(buf, r)

		after := ""
		switch {
		case buf.status < 300 && r.Method != http.MethodDelete:
			after = audit.StateJSON(buf.body.Bytes())
			if isCollection(object) {
				object += "/" + createdID(object, buf.body.Bytes())
			}
		case sent != nil && !sent.over:
			// A refused creation names the object it tried to make when
			// the body gave its id: only that member is read, never the
			// rest of the body (which may hold secrets).
			if id := createdID(object, sent.buf.Bytes()); catalog.ValidID(id) {
				object += "/" + id
			}
		}
		actor, decision := AdminActor, audit.DecisionAllow
		switch {
		case buf.status == http.StatusUnauthorized:
			actor, decision = "anonymous", audit.DecisionDeny
		case buf.status >= 500:
			decision = audit.DecisionError
		case buf.status >= 400:
			decision = audit.DecisionReject
		}
		id := requestid.FromHeader(r.Header.Get("X-Request-Id"))
		err := rec(audit.Record{
			Time:      clock.Now(),
			Category:  audit.CategoryAdmin,
			RequestID: id,
			Method:    r.Method,
			Path:      strings.ToValidUTF8(r.URL.Path, "\uFFFD"),
			Query:     strings.ToValidUTF8(r.URL.RawQuery, "\uFFFD"),
			Status:    buf.status,
			Latency:   time.Since(start),
			Decision:  decision,
			Reason:    problemSlug(buf),
			Actor:     actor,
			Object:    object,
			Before:    before,
			After:     after,
		})
		if err != nil && buf.status < 300 {
			// The change is made but not recorded: say so, never pretend.
			w.Header().Set("Warning", `199 obhub "the change was made but its audit record could not be stored"`)
		}
		buf.copyTo(w)
	})
}

// objectPath returns the object a change is about, relative to Prefix:
// "banks/x", "apis/y" for /apis/y/publish, "partners/p/apps" for a new app,
// "outbox/7" for /outbox/7/retry.
func objectPath(path string) string {
	rest, ok := strings.CutPrefix(path, Prefix+"/")
	if !ok {
		return ""
	}
	segs := strings.Split(strings.Trim(rest, "/"), "/")
	if n := len(segs); n >= 3 && audit.AdminAction(segs[n-1]) != "" {
		segs = segs[:n-1]
	}
	return strings.Join(segs, "/")
}

// isCollection reports whether an object path names a collection (an odd
// number of segments: "banks", "partners/p/apps").
func isCollection(object string) bool {
	return strings.Count(object, "/")%2 == 0
}

// readState reads the object through the handler with the caller's
// credentials; "" when it cannot be read.
func readState(h http.Handler, r *http.Request, object string) string {
	get, err := http.NewRequestWithContext(context.WithoutCancel(r.Context()), http.MethodGet, Prefix+"/"+object, nil)
	if err != nil {
		return ""
	}
	get.Header.Set("Authorization", r.Header.Get("Authorization"))
	get.RemoteAddr = r.RemoteAddr
	buf := &bufferedResponse{header: http.Header{}, status: http.StatusOK}
	h.ServeHTTP(buf, get)
	if buf.status != http.StatusOK {
		return ""
	}
	return audit.StateJSON(buf.body.Bytes())
}

// maxCapturedBody bounds the copy of a creation's body that RecordChanges
// keeps to name the object of a refused creation.
const maxCapturedBody = 1 << 20

// capped keeps the first max bytes written to it; over says there were
// more.
type capped struct {
	buf  bytes.Buffer
	max  int
	over bool
}

func (c *capped) Write(p []byte) (int, error) {
	if c.buf.Len()+len(p) > c.max {
		c.over = true
	} else {
		c.buf.Write(p)
	}
	return len(p), nil
}

// readCloser reads through one reader and closes another.
type readCloser struct {
	io.Reader
	io.Closer
}

// createdID returns the id of an object in a creation's answer, or in
// its request.
func createdID(collection string, body []byte) string {
	var v struct {
		ID       string `json:"id"`
		ClientID string `json:"client_id"`
		Product  string `json:"product"`
	}
	_ = json.Unmarshal(body, &v)
	switch {
	case strings.HasSuffix(collection, "subscriptions"):
		return v.Product
	case v.ClientID != "":
		return v.ClientID
	case v.ID != "":
		return v.ID
	}
	return v.Product
}

// problemSlug returns the problem type slug of an error answer.
func problemSlug(b *bufferedResponse) string {
	if b.status < 400 {
		return ""
	}
	var p struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(b.body.Bytes(), &p)
	if i := strings.LastIndexByte(p.Type, '/'); i >= 0 {
		return strings.ReplaceAll(p.Type[i+1:], "-", "_")
	}
	return ""
}

// bufferedResponse holds an answer until its record is written.
type bufferedResponse struct {
	header http.Header
	status int
	wrote  bool
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(status int) {
	if !b.wrote {
		b.status, b.wrote = status, true
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	b.wrote = true
	return b.body.Write(p)
}

func (b *bufferedResponse) copyTo(w http.ResponseWriter) {
	for k, v := range b.header {
		w.Header()[k] = v
	}
	w.WriteHeader(b.status)
	_, _ = w.Write(b.body.Bytes())
}
