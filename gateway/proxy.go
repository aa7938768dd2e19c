package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/obhub/obhub/policies"
)

// Upstream connection pools.
const (
	upstreamMaxConns    = 1024             // per upstream URL
	upstreamConnWait    = 2 * time.Second  // for a free connection when all are busy; then 503
	upstreamIdle        = 60 * time.Second // idle keep-alive connections are closed after this
	upstreamBufferSize  = 16 << 10         // response header size limit
	headerRequestID     = "X-Request-Id"
	headerClientID      = "X-Obhub-Client-Id"
	headerPartnerID     = "X-Obhub-Partner-Id"
	headerCustomer      = "X-Obhub-Customer" // the consenting customer (gateway.proxy)
	headerForwardedFor  = "X-Forwarded-For"
	headerForwardedHost = "X-Forwarded-Host"
	headerForwardedProt = "X-Forwarded-Proto"
)

// upstream is one bank system the gateway forwards to: a pooled client
// and where its paths start.
type upstream struct {
	client *fasthttp.HostClient
	scheme string // "http" or "https"
	host   string // host[:port] as configured, for the Host header
	prefix string // the URL's path without a trailing slash; "" for none
	// retries bounds the retries of failed exchanges to a share of the
	// calls, so that retrying never multiplies the load on a failing bank.
	retries *policies.RetryBudget
}

// do sends one call to the upstream, counting it for the retry budget.
func (u *upstream) do(req *fasthttp.Request, resp *fasthttp.Response, timeout time.Duration) error {
	u.retries.Call()
	return u.client.DoTimeout(req, resp, timeout)
}

// retryable reports whether a failed exchange of req may be sent again:
// only GET and HEAD (safe, and sent without a body: fasthttp never
// retries a streamed body), and only while the budget lasts. POST,
// PATCH, PUT and DELETE are never sent twice by the gateway.
func retryable(req *fasthttp.Request, budget *policies.RetryBudget) bool {
	return (req.Header.IsGet() || req.Header.IsHead()) && budget.Retry()
}

// upstreams holds one upstream per configured URL, created on first use
// and shared by every snapshot that names the same URL, so a
// configuration swap keeps the warm connections. Entries are never
// evicted: upstream URLs are few and set only by admins, and idle
// connections close on their own.
type upstreams struct {
	m sync.Map // upstream URL → *upstream
}

func (us *upstreams) get(rawURL string) (*upstream, error) {
	if v, ok := us.m.Load(rawURL); ok {
		return v.(*upstream), nil
	}
	u, err := newUpstream(rawURL)
	if err != nil {
		return nil, err
	}
	v, _ := us.m.LoadOrStore(rawURL, u)
	return v.(*upstream), nil
}

// closeIdle closes every upstream's idle connections.
func (us *upstreams) closeIdle() {
	us.m.Range(func(_, v any) bool {
		v.(*upstream).client.CloseIdleConnections()
		return true
	})
}

func newUpstream(rawURL string) (*upstream, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("upstream %q: %w", rawURL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("upstream %q: want http(s)://host[:port][/prefix]", rawURL)
	}
	addr := u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		addr = net.JoinHostPort(u.Hostname(), port)
	}
	budget := &policies.RetryBudget{}
	return &upstream{
		scheme:  u.Scheme,
		host:    u.Host,
		prefix:  strings.TrimSuffix(u.EscapedPath(), "/"),
		retries: budget,
		client: &fasthttp.HostClient{
			Addr:                     addr,
			IsTLS:                    u.Scheme == "https",
			NoDefaultUserAgentHeader: true,
			MaxConns:                 upstreamMaxConns,
			MaxConnWaitTimeout:       upstreamConnWait,
			MaxIdleConnDuration:      upstreamIdle,
			ReadBufferSize:           upstreamBufferSize,
			WriteBufferSize:          upstreamBufferSize,
			// The path goes out exactly as routed and authorised.
			DisablePathNormalizing: true,
			// Bodies flow through; only headers are buffered.
			StreamResponseBody: true,
			// A failed exchange (typically a pooled connection that
			// turned out dead) is sent again once, only when it is safe
			// (GET, HEAD), has no body, and the retry budget allows;
			// nothing else is ever retried.
			MaxIdemponentCallAttempts: 2,
			RetryIfErr: func(r *fasthttp.Request, _ int, _ error) (resetTimeout, retry bool) {
				return false, retryable(r, budget)
			},
			DialDualStack:         true,
			SecureErrorLogMessage: true,
		},
	}, nil
}

// errBodyTooLarge is what limitedBody reports past its limit.
var errBodyTooLarge = errors.New("request body over the limit")

// limitedBody passes at most n bytes of a request body through and fails
// with errBodyTooLarge if there are more. It guards bodies whose length is
// not announced (chunked); for announced ones the length was checked
// before anything was read.
type limitedBody struct {
	r        io.Reader
	n        int64 // bytes still allowed
	exceeded bool
	failed   error // the client's body could not be read (it went away, bad chunking)
}

func (l *limitedBody) Read(p []byte) (int, error) {
	if l.exceeded {
		return 0, errBodyTooLarge
	}
	if int64(len(p)) > l.n+1 {
		p = p[:l.n+1]
	}
	n, err := l.r.Read(p)
	if int64(n) > l.n {
		l.exceeded = true
		n = int(l.n)
		l.n = 0
		return n, errBodyTooLarge
	}
	l.n -= int64(n)
	if err != nil && err != io.EOF {
		l.failed = err
	}
	return n, err
}

// hopOrGateway reports request headers the gateway never forwards: the
// hop-by-hop ones (RFC 9110 section 7.6.1), the credentials, the ones
// the gateway sets itself, and forwarding headers it does not trust.
func hopOrGateway(key []byte) bool {
	if hasPrefixFold(key, "proxy-") || hasPrefixFold(key, "x-obhub-") {
		return true // whatever their length
	}
	var buf [32]byte
	k, ok := lowerASCII(buf[:0], key)
	if !ok {
		return false // longer than any name below
	}
	switch string(k) {
	case "connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade",
		"host", "content-length", "expect",
		"authorization", "dpop",
		"forwarded", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-forwarded-port", "x-real-ip",
		"x-request-id":
		return true
	}
	return false
}

// hopByHop reports response headers that end at the gateway.
func hopByHop(key []byte) bool {
	if hasPrefixFold(key, "proxy-") {
		return true
	}
	var buf [32]byte
	k, ok := lowerASCII(buf[:0], key)
	if !ok {
		return false
	}
	switch string(k) {
	case "connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade":
		return true
	}
	return false
}

// lowerASCII appends b in lower case to dst; ok is false when b does not
// fit in dst's capacity (no header of interest is that long).
func lowerASCII(dst, b []byte) ([]byte, bool) {
	if len(b) > cap(dst) {
		return nil, false
	}
	for _, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst, true
}

func hasPrefixFold(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && strings.EqualFold(string(b[:len(prefix)]), prefix)
}

// connectionTokens returns the header names a Connection header lists, in
// lower case. Content-Length is never among them: it frames the message.
// The usual values ("keep-alive", "close") name no header and cost no
// allocation: both directions of every proxied call read one.
func connectionTokens(v []byte) []string {
	var names []string
	for len(v) > 0 {
		var f []byte
		f, v, _ = bytes.Cut(v, []byte(","))
		if f = bytes.TrimSpace(f); len(f) == 0 {
			continue
		}
		var buf [32]byte
		lower, ok := lowerASCII(buf[:0], f)
		if !ok || !isASCII(f) { // rare: strings.ToLower knows the rest of Unicode
			lower = []byte(strings.ToLower(string(f)))
		}
		switch string(lower) {
		case "close", "keep-alive", "content-length":
			continue
		}
		names = append(names, string(lower))
	}
	return names
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func listed(names []string, key []byte) bool {
	for _, n := range names {
		if strings.EqualFold(n, string(key)) {
			return true
		}
	}
	return false
}

// copyRequestHeaders copies the end-to-end request headers from src to
// dst, dropping what hopOrGateway names and what src's Connection header
// lists.
func copyRequestHeaders(dst, src *fasthttp.RequestHeader) {
	named := connectionTokens(src.Peek(fasthttp.HeaderConnection))
	for k, v := range src.All() {
		if hopOrGateway(k) || (named != nil && listed(named, k)) {
			continue
		}
		dst.AddBytesKV(k, v)
	}
}

// cleanResponseHeaders removes hop-by-hop headers from an upstream
// response before it goes to the client.
func cleanResponseHeaders(h *fasthttp.ResponseHeader) {
	named := connectionTokens(h.Peek(fasthttp.HeaderConnection))
	var drop []string
	for k := range h.All() {
		if hopByHop(k) || (named != nil && listed(named, k)) {
			drop = append(drop, string(k))
		}
	}
	for _, k := range drop {
		h.Del(k)
	}
	// The upstream closing its connection says nothing about the client's.
	h.ResetConnectionClose()
}

// upstreamFailure classifies an error from the upstream exchange.
func upstreamFailure(err error) (timeout, busy bool) {
	var ne net.Error
	switch {
	case errors.Is(err, fasthttp.ErrTimeout), errors.Is(err, fasthttp.ErrDialTimeout),
		errors.Is(err, fasthttp.ErrTLSHandshakeTimeout), errors.As(err, &ne) && ne.Timeout():
		return true, false
	case errors.Is(err, fasthttp.ErrNoFreeConns):
		return false, true
	}
	return false, false
}

// ambiguousFraming reports a request that has both Transfer-Encoding and
// Content-Length (a smuggling attempt, RFC 9112 section 6.3). fasthttp
// reads such a request as chunked and closes the connection afterwards;
// the gateway refuses it outright. Only chunked requests are scanned.
func ambiguousFraming(h *fasthttp.RequestHeader) bool {
	if h.ContentLength() != -1 {
		return false
	}
	for line := range bytes.SplitSeq(h.RawHeaders(), []byte("\n")) {
		if hasPrefixFold(line, "content-length:") || hasPrefixFold(line, "content-length ") {
			return true
		}
	}
	return false
}
