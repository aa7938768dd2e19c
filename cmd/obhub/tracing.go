package main

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/obhub/obhub/gateway"
)

// OpenTelemetry tracing, off unless --otlp-endpoint is set: one server span
// per request on the public listener, continuing the client's W3C trace
// context, whose own context is sent to the upstream as traceparent;
// spans are batched and exported over OTLP/HTTP. With tracing off the
// gateway has no Tracer and does no tracing work at all.

// tracing is the node's tracer provider.
type tracing struct {
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
	prop     propagation.TraceContext
}

// openTracing builds the exporter and provider when an endpoint is set;
// nil, nil when tracing is off. The exporter connects on first export.
func (m *Main) openTracing(ctx context.Context) (*tracing, error) {
	if m.Config.OTLPEndpoint == "" {
		return nil, nil
	}
	u, err := url.Parse(m.Config.OTLPEndpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--otlp-endpoint %q: want an http:// or https:// URL", m.Config.OTLPEndpoint)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/traces" // the OTLP/HTTP default
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(u.String()))
	if err != nil {
		return nil, fmt.Errorf("--otlp-endpoint: %w", err)
	}
	attrs := []attribute.KeyValue{semconv.ServiceName("obhub")}
	if id, err := m.nodeID(); err == nil {
		attrs = append(attrs, semconv.ServiceInstanceID(id))
	}
	p := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewSchemaless(attrs...)),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())),
	)
	m.Logger.Info("tracing on", "otlp_endpoint", m.Config.OTLPEndpoint)
	return &tracing{provider: p, tracer: p.Tracer("github.com/obhub/obhub/gateway")}, nil
}

// gatewayTracer returns the gateway's Tracer, nil when tracing is off.
func (t *tracing) gatewayTracer() gateway.Tracer {
	if t == nil {
		return nil
	}
	return t
}

// Start implements gateway.Tracer.
func (t *tracing) Start(method, path, traceparent, tracestate string) gateway.Span {
	in := propagation.MapCarrier{}
	if traceparent != "" {
		in["traceparent"] = traceparent
		if tracestate != "" {
			in["tracestate"] = tracestate
		}
	}
	ctx := t.prop.Extract(context.Background(), in)
	ctx, span := t.tracer.Start(ctx, method, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(semconv.HTTPRequestMethodKey.String(method), semconv.URLPath(path)))
	out := propagation.MapCarrier{}
	t.prop.Inject(ctx, out)
	return &gatewaySpan{span: span, traceparent: out["traceparent"], tracestate: out["tracestate"]}
}

type gatewaySpan struct {
	span                    trace.Span
	traceparent, tracestate string
}

func (s *gatewaySpan) Traceparent() string { return s.traceparent }
func (s *gatewaySpan) Tracestate() string  { return s.tracestate }

// End implements gateway.Span: the span is named by method, bank and API
// (low cardinality) and carries the outcome.
func (s *gatewaySpan) End(o *gateway.Outcome) {
	if o.API != "" {
		s.span.SetName(o.Method + " " + o.Bank + "/" + o.API)
	}
	s.span.SetAttributes(
		semconv.HTTPResponseStatusCode(o.Status),
		attribute.String("obhub.request_id", o.RequestID),
		attribute.String("obhub.bank", o.Bank),
		attribute.String("obhub.api", o.API),
		attribute.String("obhub.operation", o.Operation),
		attribute.String("obhub.client_id", o.ClientID),
		attribute.String("obhub.decision", o.Decision),
		attribute.String("obhub.reason", o.Reason),
	)
	if o.Status >= 500 {
		s.span.SetStatus(codes.Error, strconv.Itoa(o.Status)+" "+o.Reason)
	}
	s.span.End()
}

// close flushes the spans still batched and stops the exporter. A
// collector that does not answer loses those spans (logged), and does not
// fail the node's shutdown.
func (m *Main) closeTracing(ctx context.Context) error {
	if m.tracing == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := m.tracing.provider.Shutdown(ctx); err != nil {
		m.Logger.Warn("tracing: spans not exported at shutdown", "err", err)
	}
	return nil
}
