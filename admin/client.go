package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/obhub/obhub/internal/httpx"
)

// Client calls the admin API over HTTP: from the CLI against a node's
// admin listener, or in process with HandlerTransport.
type Client struct {
	BaseURL string       // e.g. http://127.0.0.1:8081 (without /admin/v1)
	Token   string       // the admin token
	HTTP    *http.Client // nil means http.DefaultClient
}

// ResponseError is an answer of the admin API other than 2xx.
type ResponseError struct {
	Method, Path string
	Status       int
	Problem      httpx.Problem // as sent, when the answer was problem+json
}

func (e *ResponseError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d", e.Method, e.Path, e.Status)
	if e.Problem.Title != "" {
		fmt.Fprintf(&b, " %s", e.Problem.Title)
	}
	if e.Problem.Detail != "" {
		fmt.Fprintf(&b, ": %s", e.Problem.Detail)
	}
	for _, d := range e.Problem.Errors {
		if d.Location != "" {
			fmt.Fprintf(&b, "; %s: %s", d.Location, d.Message)
		} else {
			fmt.Fprintf(&b, "; %s", d.Message)
		}
	}
	return b.String()
}

// maxAnswer bounds the answers read (API documents can be large).
const maxAnswer = 64 << 20

// Do sends one call of the admin API (path under /admin/v1) with in
// (when not nil) as its JSON body, and decodes the answer into out (when
// not nil). An answer other than 2xx is a *ResponseError.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.BaseURL, "/")+Prefix+path, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.Token)
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &ResponseError{Method: method, Path: path, Status: resp.StatusCode}
		_ = json.Unmarshal(data, &e.Problem)
		return e
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// isStatus reports whether err is an admin API answer with the status.
func isStatus(err error, status int) bool {
	e, ok := err.(*ResponseError)
	return ok && e.Status == status
}

// listAll fetches every page of a listing at path.
func listAll[T any](ctx context.Context, c *Client, path string) ([]T, error) {
	var all []T
	cursor := ""
	for {
		q := url.Values{"limit": {"500"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var page listPage[T]
		if err := c.Do(ctx, http.MethodGet, path+"?"+q.Encode(), nil, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Items...)
		if page.NextCursor == "" {
			return all, nil
		}
		cursor = page.NextCursor
	}
}

// HandlerTransport is an http.RoundTripper that serves each request with
// Handler in process, without a network: a Client with
// &http.Client{Transport: HandlerTransport{h}} drives an admin Handler
// directly (seeding, tests).
type HandlerTransport struct {
	Handler http.Handler
}

// RoundTrip serves req with the handler and returns its answer.
func (t HandlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	if r.Body == nil {
		r.Body = http.NoBody
	}
	r.RequestURI = r.URL.RequestURI()
	if r.RemoteAddr == "" {
		r.RemoteAddr = "in-process"
	}
	rec := &recorder{header: http.Header{}}
	t.Handler.ServeHTTP(rec, r)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", rec.status, http.StatusText(rec.status)),
		StatusCode:    rec.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        rec.header,
		Body:          io.NopCloser(bytes.NewReader(rec.body.Bytes())),
		ContentLength: int64(rec.body.Len()),
		Request:       req,
	}, nil
}

// recorder is a minimal http.ResponseWriter that keeps the answer.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(p)
}
