package gateway

import (
	"github.com/valyala/fasthttp"
)

// Tracing hooks (docs/cluster.md): the gateway knows nothing of
// OpenTelemetry; Config.Tracer, when set, starts a span per request from
// the client's W3C trace context and names the context the upstream
// receives. With no Tracer the gateway does nothing more than forward the
// client's own traceparent header.

// Tracer starts a span for each request on the public listener.
type Tracer interface {
	// Start begins a request's span, continuing the client's trace when
	// traceparent (and tracestate) are well-formed ("" when absent).
	Start(method, path, traceparent, tracestate string) Span
}

// Span is one request's span.
type Span interface {
	// Traceparent and Tracestate are the W3C headers sent upstream: the
	// span's trace id and its own span id as parent.
	Traceparent() string
	Tracestate() string
	// End closes the span with what happened to the request.
	End(o *Outcome)
}

// W3C trace context headers.
const (
	headerTraceparent = "Traceparent"
	headerTracestate  = "Tracestate"
)

// startSpan starts rq's span when tracing is on.
func (g *Gateway) startSpan(rq *request, h *fasthttp.RequestHeader) {
	if g.cfg.Tracer == nil {
		return
	}
	rq.span = g.cfg.Tracer.Start(rq.out.Method, rq.out.Path, string(h.Peek(headerTraceparent)), string(h.Peek(headerTracestate)))
}

// traceUpstream sets the span's trace context on the upstream request.
func (rq *request) traceUpstream(h *fasthttp.RequestHeader) {
	if rq.span == nil {
		return
	}
	if tp := rq.span.Traceparent(); tp != "" {
		h.Set(headerTraceparent, tp)
		if ts := rq.span.Tracestate(); ts != "" {
			h.Set(headerTracestate, ts)
		} else {
			h.Del(headerTracestate)
		}
	}
}

// endSpan ends rq's span.
func (rq *request) endSpan() {
	if rq.span != nil {
		rq.span.End(&rq.out)
	}
}
