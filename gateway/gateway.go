// Package gateway is the data plane of the public listener: a fiber app
// that takes every request through one ordered pipeline (Gateway.serve):
// request id, outcome (audit) hook, path normalisation, route,
// authentication, authorisation, then the bank's upstream or the sandbox.
// The listener's other handlers (OAuth2, metadata, later the portal) are
// mounted behind the same first steps.
//
// It is the only package that imports fiber and fasthttp. It reads the
// dynamic configuration through Snapshots and the token signing keys
// through KeySet, both declared here and wired by cmd/obhub.
package gateway

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/valyala/fasthttp"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/catalog"
	"github.com/obhub/obhub/config"
	"github.com/obhub/obhub/internal/dpop"
	"github.com/obhub/obhub/internal/httpx"
	"github.com/obhub/obhub/internal/requestid"
	"github.com/obhub/obhub/partners"
	"github.com/obhub/obhub/policies"
)

// Defaults and server limits.
const (
	DefaultUpstreamTimeout = 30 * time.Second
	DefaultMaxBody         = 1 << 20

	// readBufferSize bounds the request line plus headers; beyond it the
	// server answers 431 without calling the pipeline.
	readBufferSize = 16 << 10
	// readTimeout bounds reading a whole request, headers and body
	// (slowloris); idleTimeout a keep-alive connection between requests;
	// writeTimeout writing a response, streamed bodies included.
	readTimeout  = 30 * time.Second
	idleTimeout  = 75 * time.Second
	writeTimeout = 60 * time.Second
	// readyTimeout bounds Config.Ready.
	readyTimeout = 2 * time.Second
)

// Snapshots gives the dynamic configuration in force (config.Holder).
type Snapshots interface {
	Current() *config.Snapshot
}

var _ Snapshots = (*config.Holder)(nil)

// KeySet finds the public key that verifies access tokens signed under
// kid (oauth.Keys).
type KeySet interface {
	PublicKey(kid string) (crypto.PublicKey, bool)
}

// Config is the gateway's static configuration.
type Config struct {
	// Issuer and Audience are the iss and aud every access token must
	// carry. Both are required: with either empty every token is refused.
	Issuer, Audience string
	// UpstreamTimeout bounds an upstream exchange, response body included,
	// unless the API sets its own. Default DefaultUpstreamTimeout.
	UpstreamTimeout time.Duration
	// MaxBody is the largest request body, unless the API sets its own.
	// It also bounds bodies for mounted handlers. Default DefaultMaxBody.
	MaxBody int64
	Clock   obhub.Clock
	Logger  *slog.Logger
	// Ready reports whether the node can serve (/readyz); nil means ready
	// once a snapshot is loaded.
	Ready func(ctx context.Context) error
	// OnDone is called exactly once per request on the public listener,
	// after the response status is decided, with an Outcome the callee may
	// keep. It runs on the request's goroutine: it must not block. nil
	// means none.
	OnDone func(*Outcome)
	// Revoked reports whether the access token with this jti was revoked.
	// It is asked on every call, cached token or not, so it must answer
	// from memory. nil means no revocation list.
	Revoked func(jti string) bool
	// Sandbox answers authorised /sandbox/… calls and POST
	// /sandbox/reset; nil answers them 501.
	Sandbox Sandbox
	// Limits counts calls against plans and bank ceilings (limits.go);
	// nil means counters on this node only.
	Limits *policies.Limiter
	// Validator checks requests against the API's OpenAPI document
	// (validate.go); nil means no request validation.
	Validator RequestValidator
	// TrustedProxies are the peers whose X-Forwarded-For and X-Real-IP
	// headers name the client (clientip.go); empty means none.
	TrustedProxies []netip.Prefix
	// ClientCertHeader is the header in which a trusted proxy passes the
	// client's TLS certificate (mtls.go); "" means none.
	ClientCertHeader string
	// ClientCRL refuses a certificate-bound token presented with a
	// certificate its CA revoked (--tls-client-crl, mtls.go); nil checks
	// no revocation.
	ClientCRL CertRevocation
	// Tracer starts a span per request and sets the upstream's W3C trace
	// context (trace.go); nil means no tracing.
	Tracer Tracer
	// DPoPReplay remembers the ids of the DPoP proofs of bound tokens
	// (dpop.go); a store shared by the nodes (Redis, PostgreSQL) catches a
	// proof replayed at another node. nil means this node's memory.
	DPoPReplay dpop.ReplayStore
}

// Outcome is what happened to one request: the stuff of its audit
// record. All fields are copies, safe to keep after the request.
type Outcome struct {
	Time        time.Time // when the request arrived (Config.Clock)
	RequestID   string
	Bank        string // "" when the path names no bank
	API         string // "" until routed
	Operation   string // "" until routed
	Method      string
	Path        string // normalised path, or the raw one (made valid UTF-8) when refused
	Query       string // raw query string, unmasked: the audit writer masks personal data
	ClientID    string // "" until a token was verified
	Partner     string
	Environment string // "production" or "sandbox" for API calls
	Status      int
	Latency     time.Duration // until the status and headers were decided; streamed bodies may take longer
	Decision    string        // one of the Decision constants
	Reason      string        // why, as a short snake_case code; never secret
	Revision    int64         // configuration revision the request was routed with; 0 before routing
}

// Decisions.
const (
	DecisionAllow  = "allow"  // authorised and forwarded; Status is the upstream's, or 502/503/504
	DecisionDeny   = "deny"   // refused by authentication or authorisation (401, 403)
	DecisionReject = "reject" // refused before authentication: bad path, no route, body or headers too large, malformed request
	DecisionLocal  = "local"  // answered by the gateway itself or a mounted handler (health, OAuth2, portal)
	DecisionError  = "error"  // the gateway failed or has no configuration (500, 503)
)

// Gateway is the public listener's fiber app.
type Gateway struct {
	cfg       Config
	log       *slog.Logger
	snaps     Snapshots
	tokens    *verifier
	dpop      *dpopChecker
	upstreams upstreams
	pol       gatewayPolicies
	app       *fiber.App
	handler   fasthttp.RequestHandler

	mu       sync.Mutex // guards mounts while they are added
	mounts   []mount    // longest prefix first; read-only once serving
	serving  atomic.Bool
	shutdown sync.Once
	stopErr  error
	// lnMu guards ln and stopped: a Shutdown that comes before Serve has
	// handed ln to the server still stops it (Serve then returns at once).
	lnMu    sync.Mutex
	ln      net.Listener
	stopped bool
}

// mount is another handler of the public listener.
type mount struct {
	prefix  string // without its trailing slash
	handler fiber.Handler
}

// New builds a gateway. It does no I/O.
func New(cfg Config, snaps Snapshots, keys KeySet) *Gateway {
	if cfg.UpstreamTimeout <= 0 {
		cfg.UpstreamTimeout = DefaultUpstreamTimeout
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	g := &Gateway{
		cfg:    cfg,
		log:    cfg.Logger,
		snaps:  snaps,
		tokens: newVerifier(cfg.Issuer, cfg.Audience, keys, cfg.Clock.Now, cfg.Revoked),
		dpop:   newDPoPChecker(cfg.Issuer, cfg.Clock.Now, cfg.DPoPReplay),
		pol:    newGatewayPolicies(cfg),
	}
	g.app = fiber.New(fiber.Config{
		ErrorHandler:          g.fiberError,
		DisableStartupMessage: true,
		ReadTimeout:           readTimeout,
		WriteTimeout:          writeTimeout,
		IdleTimeout:           idleTimeout,
		ReadBufferSize:        readBufferSize,
		// Bodies are streamed: the handler starts after the headers, and
		// BodyLimit only bounds what fasthttp reads ahead. The limits are
		// enforced in proxy and delegate.
		StreamRequestBody:            true,
		BodyLimit:                    int(min(cfg.MaxBody, 1<<30)),
		DisablePreParseMultipartForm: true,
		// Upstream responses pass through as they are.
		DisableDefaultContentType: true,
		// The client address is the socket peer's: no forwarded header is
		// trusted until a trusted-proxy list exists.
		EnableTrustedProxyCheck: false,
		ProxyHeader:             "",
	})
	g.app.Use(g.serve)
	srv := g.app.Server()
	srv.CloseOnShutdown = true
	// fiber answers a method it does not know with a bare text 400 before
	// any handler runs; route those through the error handler instead.
	g.handler = g.knownMethods(g.app.Handler())
	srv.Handler = g.handler
	return g
}

// Mount serves every request whose normalised path is prefix (without
// its trailing slash) or lies under it with h, after the request id and
// outcome steps and within the body limit. Call it before Serve.
func (g *Gateway) Mount(prefix string, h http.Handler) {
	if g.serving.Load() {
		panic("gateway: Mount called after Serve")
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.mounts = append(g.mounts, mount{prefix: strings.TrimSuffix(prefix, "/"), handler: adaptor.HTTPHandler(h)})
	sort.SliceStable(g.mounts, func(i, j int) bool { return len(g.mounts[i].prefix) > len(g.mounts[j].prefix) })
}

// Serve answers requests on ln until Shutdown, also one called before
// Serve itself.
func (g *Gateway) Serve(ln net.Listener) error {
	g.lnMu.Lock()
	if g.stopped {
		g.lnMu.Unlock()
		ln.Close()
		return nil
	}
	g.ln = ln
	g.lnMu.Unlock()
	g.serving.Store(true)
	err := g.app.Listener(ln)
	if errors.Is(err, net.ErrClosed) {
		return nil // closed by Shutdown before the server took it
	}
	return err
}

// Shutdown stops accepting connections, waits for in-flight requests to
// finish (or ctx to end), and closes idle upstream connections. It is
// idempotent.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.shutdown.Do(func() {
		g.lnMu.Lock()
		g.stopped = true
		ln := g.ln
		g.lnMu.Unlock()
		g.stopErr = g.app.ShutdownWithContext(ctx)
		if ln != nil {
			// The server may not have taken ln yet, and then its shutdown
			// leaves it open: closing it ends Serve's accept loop.
			ln.Close()
		}
		g.upstreams.closeIdle()
	})
	return g.stopErr
}

// Handler returns the listener's request handler, for serving on a
// custom fasthttp server or an in-memory listener in tests.
func (g *Gateway) Handler() fasthttp.RequestHandler { return g.handler }

// request is the state of one request in the pipeline.
type request struct {
	start time.Time
	// rawPath is the path as sent, copied once for cleanPath, the DPoP
	// check and, when it is valid UTF-8, out.Path.
	rawPath string
	out     Outcome
	pol     requestPolicies
	span    Span // nil unless Config.Tracer (trace.go)
}

func (rq *request) decide(decision, reason string) {
	rq.out.Decision, rq.out.Reason = decision, reason
}

// serve is the public listener's pipeline, in order. Each step either
// answers (writing a response or a problem) and returns, or hands on to
// the next. It never returns an error: every answer is written here.
func (g *Gateway) serve(c *fiber.Ctx) error {
	// 1. Request id: the client's when well-formed, else a new one.
	rq := g.begin(c)
	// 2. Outcome hook: exactly once, whatever happens below, panics
	//    included (answered 500). It also stamps X-Request-Id.
	defer g.finish(c, rq)

	// 3. Framing and path normalisation: routing, authorisation and the
	//    upstream all see this one path. Health, readiness and mounted
	//    handlers first.
	if ambiguousFraming(&c.Request().Header) {
		_ = g.refuse(c, rq, DecisionReject, "ambiguous_framing", httpx.InvalidRequest, "the request has both Content-Length and Transfer-Encoding")
		c.Context().Response.SetConnectionClose()
		return nil
	}
	if g.uriTooLong(c, rq) {
		return nil
	}
	path, bad := cleanPath(rq.rawPath)
	if bad != "" {
		return g.refuse(c, rq, DecisionReject, "bad_path", httpx.InvalidRequest, bad)
	}
	rq.out.Path = path
	if g.local(c, rq, path) {
		return nil
	}
	if path == SandboxResetPath {
		return g.sandboxReset(c, rq)
	}
	t, ok := splitTarget(path)
	if !ok {
		return g.refuse(c, rq, DecisionReject, "no_such_bank", httpx.NotFound, "no such API")
	}
	rq.out.Bank, rq.out.Environment = t.bank, string(t.env)

	// 4. Route, in the one snapshot this request uses throughout.
	snap := g.snaps.Current()
	if snap == nil || snap.Catalog == nil || snap.Directory == nil {
		return g.refuse(c, rq, DecisionError, "no_configuration", httpx.Unavailable, "the gateway has not loaded its configuration yet")
	}
	rq.out.Revision = snap.Revision
	if g.preflight(c, rq, snap, t) { // CORS preflight: before authentication
		return nil
	}
	m, err := snap.Catalog.Route(t.bank, t.rest, rq.out.Method)
	if err != nil {
		return g.routeError(c, rq, err)
	}
	if !m.API.Status.Routed() { // the catalog routes only these; do not rely on it
		return g.refuse(c, rq, DecisionReject, "api_not_routed", httpx.NotFound, "no such API")
	}
	rq.out.API, rq.out.Operation = m.API.ID, m.Operation.ID
	if !g.admitAPI(c, rq, m.API) { // the API's CORS and IP rules
		return nil
	}

	// 5. Authentication: one valid access token, in the Authorization
	//    header; a DPoP-bound one with its proof (dpop.go).
	raw, dpopScheme, d := credentials(&c.Request().Header, c.Request().URI().QueryString())
	var tok *token
	if d == nil {
		var reason string
		if tok, reason = g.tokens.verify(raw); tok == nil {
			d = refusedToken(reason)
		} else {
			d = g.dpop.check(&c.Request().Header, rq.out.Method, rq.rawPath, tok, raw, dpopScheme)
			if d == nil {
				d = g.checkCertBinding(c, tok) // mtls.go
			}
		}
	}
	if d != nil {
		return g.deny(c, rq, d)
	}
	rq.out.ClientID, rq.out.Partner = tok.clientID, tok.partner

	// 6. Authorisation: app, environment, partner, visibility, scope,
	//    subscription.
	app, d := authorize(snap.Directory, tok, t.env, m.API, m.Operation)
	if d != nil {
		return g.deny(c, rq, d)
	}
	rq.out.Partner = app.Partner

	// 7. Policies: the app's IP rules, the plan's rate and quota, the
	//    bank's ceiling; then validation against the OpenAPI operation.
	if !g.enforce(c, rq, snap, t, &m, app) || !g.validate(c, rq, t, &m) {
		return nil
	}

	// 8. Answer: the sandbox, or the bank's upstream.
	if t.env == partners.Sandbox {
		return g.sandbox(c, rq, t, &m, app, tok.customer)
	}
	return g.proxy(c, rq, t, &m, app, tok.customer)
}

// begin starts a request's record and settles its request id.
func (g *Gateway) begin(c *fiber.Ctx) *request {
	// One reading of the clock times the request and, unless a test
	// clock is set, dates its record.
	now := time.Now()
	at := now
	if g.cfg.Clock != nil {
		at = g.cfg.Clock.Now()
	}
	rq := &request{start: now, rawPath: string(c.Context().URI().PathOriginal())}
	h := &c.Context().Request.Header
	id := requestid.FromHeader(string(h.Peek(headerRequestID)))
	c.Context().SetUserValue(obhub.RequestIDKey, id)
	rq.out = Outcome{
		Time:      at,
		RequestID: id,
		Method:    string(h.Method()),
		Path:      strings.ToValidUTF8(rq.rawPath, "\uFFFD"), // rawPath itself when valid
		Query:     string(c.Context().URI().QueryString()),
	}
	g.startSpan(rq, h)
	return rq
}

// finish ends a request: it answers 500 if the pipeline panicked, stamps
// the request id, and reports the outcome. It is deferred by serve, so
// its recover sees the pipeline's panics.
func (g *Gateway) finish(c *fiber.Ctx, rq *request) {
	if r := recover(); r != nil {
		g.log.Error("gateway: panic serving a request", "request_id", rq.out.RequestID, "panic", r, "stack", string(debug.Stack()))
		writeProblem(&c.Context().Response, rq.out.RequestID, httpx.Internal, "internal error")
		rq.decide(DecisionError, "panic")
	}
	resp := &c.Context().Response
	g.decorate(c, rq)
	resp.Header.Set(headerRequestID, rq.out.RequestID)
	rq.out.Status = resp.StatusCode()
	rq.out.Latency = time.Since(rq.start)
	if g.cfg.OnDone != nil {
		g.report(&rq.out)
	}
	rq.endSpan()
}

// report hands an outcome to Config.OnDone; a panic there is logged, not
// propagated into the server.
func (g *Gateway) report(o *Outcome) {
	defer func() {
		if r := recover(); r != nil {
			g.log.Error("gateway: OnDone panicked", "request_id", o.RequestID, "panic", r)
		}
	}()
	g.cfg.OnDone(o)
}

// local answers the listener's own paths and mounted handlers; it
// reports whether it did.
func (g *Gateway) local(c *fiber.Ctx, rq *request, path string) bool {
	switch path {
	case "/healthz":
		g.health(c, rq, nil)
		return true
	case "/readyz":
		g.health(c, rq, g.ready)
		return true
	}
	for i := range g.mounts {
		m := &g.mounts[i]
		if path == m.prefix || (strings.HasPrefix(path, m.prefix) && path[len(m.prefix)] == '/') {
			g.passClientCert(c) // mTLS client authentication (mtls.go)
			g.delegate(c, rq, m)
			return true
		}
	}
	return false
}

// health answers /healthz (check nil) and /readyz.
func (g *Gateway) health(c *fiber.Ctx, rq *request, check func() error) {
	rq.decide(DecisionLocal, strings.TrimPrefix(rq.out.Path, "/"))
	if m := rq.out.Method; m != fiber.MethodGet && m != fiber.MethodHead {
		_ = g.refuse(c, rq, DecisionReject, "method_not_allowed", httpx.MethodNotAllowed, "use GET")
		c.Context().Response.Header.Set(fiber.HeaderAllow, "GET, HEAD")
		return
	}
	if check != nil {
		if err := check(); err != nil {
			g.log.Warn("gateway: not ready", "err", err)
			_ = g.refuse(c, rq, DecisionLocal, "not_ready", httpx.Unavailable, "not ready")
			return
		}
	}
	resp := &c.Context().Response
	resp.Header.SetContentType(fiber.MIMEApplicationJSON)
	resp.Header.Set(fiber.HeaderCacheControl, "no-store")
	resp.SetBodyString(`{"status":"ok"}`)
}

// ready reports whether the gateway can serve API calls.
func (g *Gateway) ready() error {
	if g.snaps.Current() == nil {
		return errors.New("no configuration snapshot loaded")
	}
	if g.cfg.Ready == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	return g.cfg.Ready(ctx)
}

// delegate hands a request to a mounted net/http handler. The adaptor
// buffers the body, so it is read here first, within MaxBody.
func (g *Gateway) delegate(c *fiber.Ctx, rq *request, m *mount) {
	rq.decide(DecisionLocal, "mount:"+m.prefix)
	in := &c.Context().Request
	if !g.bufferBody(c, rq, in, g.cfg.MaxBody) {
		return
	}
	in.Header.Set(headerRequestID, rq.out.RequestID)
	if m.prefix != "/oauth2" {
		_ = m.handler(c)
		return
	}
	rq.out.ClientID = claimedClientID(in)
	_ = m.handler(c)
	g.oauthOutcome(c, rq)
}

// bufferBody reads a streamed request body into memory, refusing one over
// limit with 413. It reports whether the request may go on.
func (g *Gateway) bufferBody(c *fiber.Ctx, rq *request, in *fasthttp.Request, limit int64) bool {
	cl := in.Header.ContentLength()
	if int64(cl) > limit {
		_ = g.tooLarge(c, rq, limit)
		return false
	}
	s := in.BodyStream()
	if s == nil || cl == 0 || cl == -2 {
		return true
	}
	lb := &limitedBody{r: s, n: limit}
	var buf bytes.Buffer
	_, err := io.Copy(&buf, lb)
	switch {
	case lb.exceeded:
		_ = g.tooLarge(c, rq, limit)
		return false
	case err != nil:
		_ = g.refuse(c, rq, DecisionReject, "body_unreadable", httpx.InvalidRequest, "the request body could not be read")
		c.Context().Response.SetConnectionClose()
		return false
	}
	in.SetBodyRaw(buf.Bytes())
	in.Header.SetContentLength(buf.Len())
	return true
}

// routeError answers a failed route lookup.
func (g *Gateway) routeError(c *fiber.Ctx, rq *request, err error) error {
	switch obhub.ErrorCode(err) {
	case obhub.ENOTFOUND:
		return g.refuse(c, rq, DecisionReject, "no_such_route", httpx.NotFound, "no such API or path")
	case obhub.ENOTALLOWED:
		_ = g.refuse(c, rq, DecisionReject, "method_not_allowed", httpx.MethodNotAllowed, "this path does not accept "+rq.out.Method)
		if allow := allowedMethods(err); len(allow) > 0 {
			c.Context().Response.Header.Set(fiber.HeaderAllow, strings.Join(allow, ", "))
		}
		return nil
	}
	g.log.Error("gateway: route lookup failed", "request_id", rq.out.RequestID, "err", err)
	return g.refuse(c, rq, DecisionError, "route_failed", httpx.Internal, "internal error")
}

// allowedMethods returns the methods a route error says the path accepts
// (catalog.MethodNotAllowedError).
func allowedMethods(err error) []string {
	var e interface{ AllowedMethods() []string }
	if errors.As(err, &e) {
		return e.AllowedMethods()
	}
	return nil
}

// proxy forwards an authorised call to the API's upstream and streams the
// answer back.
//
// customer is the token's subject when a customer consented (the
// authorization code grant), passed to the bank as X-Obhub-Customer so
// that it answers with that customer's data only; "" for the app itself
// (client credentials), and then the header is absent (a client's own
// X-Obhub-* headers never reach the bank: copyRequestHeaders).
func (g *Gateway) proxy(c *fiber.Ctx, rq *request, t target, m *catalog.Match, app *partners.App, customer string) error {
	api := m.API
	up, err := g.upstreams.get(api.Upstream)
	if err != nil {
		g.log.Error("gateway: bad upstream", "api", api.ID, "err", err)
		return g.refuse(c, rq, DecisionError, "upstream_misconfigured", httpx.BadGateway, "the API's upstream is misconfigured")
	}
	limit, timeout := g.cfg.MaxBody, g.cfg.UpstreamTimeout
	if api.MaxBody > 0 {
		limit = api.MaxBody
	}
	if d := api.UpstreamTimeout.D(); d > 0 {
		timeout = d
	}
	in := &c.Context().Request
	cl := in.Header.ContentLength() // -1 chunked, -2 none
	if int64(cl) > limit {
		return g.tooLarge(c, rq, limit)
	}

	out := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(out)
	out.Header.SetMethodBytes(in.Header.Method())
	copyRequestHeaders(&out.Header, &in.Header)
	u := out.URI()
	u.SetScheme(up.scheme)
	u.SetHost(up.host)
	u.SetPath(up.prefix + t.rest)
	u.SetQueryStringBytes(in.URI().QueryString())
	out.Header.SetHost(up.host)
	setForwardedFor(&out.Header, g.clientIP(c))
	if g.cfg.ClientCertHeader != "" { // a client certificate is the hub's business (mtls.go)
		out.Header.Del(g.cfg.ClientCertHeader)
	}
	out.Header.Set(headerForwardedProt, forwardedProto(c))
	if host := in.Header.Host(); len(host) > 0 {
		out.Header.SetBytesV(headerForwardedHost, host)
	}
	out.Header.Set(headerClientID, app.ClientID)
	out.Header.Set(headerPartnerID, app.Partner)
	if customer != "" {
		out.Header.Set(headerCustomer, customer)
	}
	out.Header.Set(headerRequestID, rq.out.RequestID)
	rq.traceUpstream(&out.Header)
	var body *limitedBody
	switch s := in.BodyStream(); {
	case cl == 0 || cl == -2: // no body
	case s != nil:
		body = &limitedBody{r: s, n: limit}
		out.SetBodyStream(body, cl)
	default: // read ahead whole (cannot happen with StreamRequestBody; kept correct anyway)
		out.SetBodyRaw(in.Body())
	}

	resp := &c.Context().Response
	call, ok := g.gateUpstream(c, rq, api) // bank in-flight ceiling, circuit breaker
	if !ok {
		return nil
	}
	err = up.do(out, resp, timeout)
	call.done(err, resp.StatusCode())
	switch {
	case body != nil && body.exceeded:
		return g.tooLarge(c, rq, limit)
	case body != nil && body.failed != nil:
		return g.refuse(c, rq, DecisionReject, "body_unreadable", httpx.InvalidRequest, "the request body could not be read")
	case err != nil:
		timedOut, busy := upstreamFailure(err)
		switch {
		case timedOut:
			return g.refuse(c, rq, DecisionAllow, "upstream_timeout", httpx.UpstreamTimeout, "the bank's system did not answer in time")
		case busy:
			return g.refuse(c, rq, DecisionAllow, "upstream_busy", httpx.Unavailable, "too many calls in progress to the bank's system")
		}
		g.log.Warn("gateway: upstream failed", "request_id", rq.out.RequestID, "api", api.ID, "err", err)
		return g.refuse(c, rq, DecisionAllow, "upstream_failed", httpx.BadGateway, "the bank's system refused the call or failed")
	}
	cleanResponseHeaders(&resp.Header)
	deprecationHeaders(&resp.Header, api)
	rq.decide(DecisionAllow, "")
	return nil
}

// setForwardedFor names the client's address in X-Forwarded-For,
// formatted in a buffer on the stack: the header copies it.
func setForwardedFor(h *fasthttp.RequestHeader, a netip.Addr) {
	if !a.IsValid() {
		h.Set(headerForwardedFor, a.String()) // "invalid IP", which AppendTo would leave out
		return
	}
	var buf [64]byte
	h.SetBytesV(headerForwardedFor, a.AppendTo(buf[:0]))
}

func forwardedProto(c *fiber.Ctx) string {
	if c.Context().IsTLS() {
		return "https"
	}
	return "http"
}

// deprecationHeaders announces a deprecated API (RFC 9745) and its sunset
// (RFC 8594).
func deprecationHeaders(h *fasthttp.ResponseHeader, api *catalog.API) {
	switch {
	case !api.DeprecatedAt.IsZero():
		h.Set("Deprecation", "@"+strconv.FormatInt(api.DeprecatedAt.Unix(), 10))
	case api.Status == catalog.StatusDeprecated:
		h.Set("Deprecation", "true")
	}
	if !api.Sunset.IsZero() {
		h.Set("Sunset", api.Sunset.UTC().Format(http.TimeFormat))
	}
}

// refuse answers with a problem and records the decision.
func (g *Gateway) refuse(c *fiber.Ctx, rq *request, decision, reason string, k httpx.Kind, detail string) error {
	writeProblem(&c.Context().Response, rq.out.RequestID, k, detail)
	rq.decide(decision, reason)
	return nil
}

// deny answers an authentication or authorisation refusal.
func (g *Gateway) deny(c *fiber.Ctx, rq *request, d *denial) error {
	if d.retryAfter > 0 { // the check could not be made: not a denial
		_ = g.refuse(c, rq, DecisionError, d.reason, d.kind, d.detail)
		retryAfter(&c.Context().Response.Header, d.retryAfter)
		return nil
	}
	_ = g.refuse(c, rq, DecisionDeny, d.reason, d.kind, d.detail)
	if d.challenge != "" {
		c.Context().Response.Header.Set(fiber.HeaderWWWAuthenticate, d.challenge)
	}
	if d.dpopNonce != "" {
		c.Context().Response.Header.Set(headerDPoPNonce, d.dpopNonce)
	}
	return nil
}

// tooLarge answers 413. The server drains what is left of a small body
// to keep the connection, and closes it after a large one.
func (g *Gateway) tooLarge(c *fiber.Ctx, rq *request, limit int64) error {
	return g.refuse(c, rq, DecisionReject, "body_too_large", httpx.BodyTooLarge,
		"the request body is over the limit of "+strconv.FormatInt(limit, 10)+" bytes")
}

// writeProblem replaces the response with a problem document.
func writeProblem(resp *fasthttp.Response, requestID string, k httpx.Kind, detail string) {
	p := k.New(detail)
	p.RequestID = requestID
	resp.Reset()
	resp.SetStatusCode(p.Status)
	resp.Header.SetContentType(httpx.ContentType)
	resp.Header.Set(fiber.HeaderCacheControl, "no-store")
	resp.Header.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	resp.Header.Set(headerRequestID, requestID)
	resp.SetBodyRaw(httpx.Marshal(p))
}

// fiberError renders what fails outside the pipeline as a problem, and
// reports its outcome: requests fasthttp could not read (431 headers too
// large, 408 too slow, 400 malformed), unknown methods (501), and any
// error fiber's router returns.
func (g *Gateway) fiberError(c *fiber.Ctx, err error) error {
	status := fiber.StatusInternalServerError
	var fe *fiber.Error
	if errors.As(err, &fe) {
		status = fe.Code
	}
	k, detail := kindOfStatus(status)
	rq := g.begin(c)
	decision := DecisionReject
	if k.Status >= 500 && k.Status != http.StatusNotImplemented {
		decision = DecisionError
		g.log.Error("gateway: request failed outside the pipeline", "request_id", rq.out.RequestID, "err", err)
	}
	_ = g.refuse(c, rq, decision, "server_"+strings.ReplaceAll(k.Slug, "-", "_"), k, detail)
	if status == fiber.StatusBadRequest || status == fiber.StatusRequestHeaderFieldsTooLarge || status == fiber.StatusRequestTimeout {
		c.Context().Response.SetConnectionClose()
	}
	g.finish(c, rq)
	return nil
}

// kindOfStatus maps fiber's and fasthttp's own errors to problem kinds
// with a fixed detail (their messages may quote the request).
func kindOfStatus(status int) (httpx.Kind, string) {
	switch status {
	case fiber.StatusBadRequest:
		return httpx.InvalidRequest, "the request is malformed"
	case fiber.StatusNotFound:
		return httpx.NotFound, "not found"
	case fiber.StatusMethodNotAllowed:
		return httpx.MethodNotAllowed, "method not allowed"
	case fiber.StatusRequestTimeout:
		return httpx.RequestTimeout, "the request was not received in time"
	case fiber.StatusRequestEntityTooLarge:
		return httpx.BodyTooLarge, "the request body is too large"
	case fiber.StatusRequestURITooLong:
		return httpx.URITooLong, "the request URI is too long"
	case fiber.StatusRequestHeaderFieldsTooLarge:
		return httpx.HeadersTooLarge, "the request headers are too large"
	case fiber.StatusNotImplemented:
		return httpx.NotImplemented, "this method is not supported"
	case fiber.StatusServiceUnavailable:
		return httpx.Unavailable, "not available"
	}
	if status < 500 {
		return httpx.InvalidRequest, "the request is malformed"
	}
	return httpx.Internal, "internal error"
}

// knownMethods sends requests with a method fiber does not know to the
// error handler (501), so they too get a problem and an outcome.
func (g *Gateway) knownMethods(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		switch string(ctx.Method()) {
		case fiber.MethodGet, fiber.MethodHead, fiber.MethodPost, fiber.MethodPut, fiber.MethodDelete,
			fiber.MethodConnect, fiber.MethodOptions, fiber.MethodTrace, fiber.MethodPatch:
			next(ctx)
			return
		}
		c := g.app.AcquireCtx(ctx)
		defer g.app.ReleaseCtx(c)
		_ = g.fiberError(c, fiber.ErrNotImplemented)
	}
}
