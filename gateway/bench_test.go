package gateway

import (
	"bytes"
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/catalog"
	"github.com/obhub/obhub/openapi"
)

// BenchmarkGateway measures one API call end to end over loopback HTTP:
// token check (cached after the first call), path normalisation, route,
// authorisation with subscription lookup, and the proxied exchange with
// an in-process upstream answering 1 KB of JSON. Client, gateway and
// upstream share the machine's CPUs; the client and upstream use
// fasthttp to leave as much of them as possible to the gateway.
//
// Sub-benchmarks add the policies: "plain" has none; "limits" counts
// every call against a plan rate and quota and the bank's rate and
// in-flight ceilings (memory store, never exceeded); "validation" checks
// every call against the OpenAPI operation (path and query parameters);
// "limits+validation" does both.
func BenchmarkGateway(b *testing.B) {
	for _, bc := range []struct {
		name               string
		limits, validation bool
	}{
		{"plain", false, false},
		{"limits", true, false},
		{"validation", false, true},
		{"limits+validation", true, true},
	} {
		b.Run(bc.name, func(b *testing.B) { benchGateway(b, bc.limits, bc.validation) })
	}
}

// benchDoc describes the operation BenchmarkGateway calls, for request
// validation.
const benchDoc = `{"openapi":"3.0.3","info":{"title":"Accounts","version":"1"},"servers":[{"url":"/v1"}],
"paths":{"/accounts/{accountId}":{"get":{"operationId":"getAccount",
"parameters":[{"name":"accountId","in":"path","required":true,"schema":{"type":"string","pattern":"^acc-[0-9]{6}$"}},
{"name":"fields","in":"query","schema":{"type":"string","enum":["balance","all"]}}],
"responses":{"200":{"description":"ok"}}}}}}`

func benchGateway(b *testing.B, limits, validation bool) {
	upstream := benchUpstream(b)
	var done atomic.Int64
	opts := []fixtureOption{func(c *Config) { c.OnDone = func(*Outcome) { done.Add(1) } }}
	if validation {
		d, err := openapi.Import(context.Background(), []byte(benchDoc))
		if err != nil {
			b.Fatal(err)
		}
		opts = append(opts, func(c *Config) { c.Validator = openapi.NewValidators(specSource{d.JSON}) })
	}
	f := newFixture(b, opts...)
	f.holder.Swap(f.snapshot(2, func(a *alliance) {
		a.apis[0].Upstream = "http://" + upstream
		a.apis[0].SpecDigest = "bench-1"
		if limits {
			huge := &catalog.Limit{Limit: 1 << 40, Period: obhub.Duration(time.Second)}
			a.products[0].Plan = catalog.Plan{Rate: huge, Quota: &catalog.Limit{Limit: 1 << 40, Period: obhub.Duration(24 * time.Hour)}}
			a.banks[0].Limits = &catalog.BankLimits{Rate: huge, MaxInFlight: 1 << 20}
		}
	}))
	tok := f.sign(nil) // the fixture clock stands still: it never expires
	// The policies are on: a limited answer carries RateLimit headers,
	// and a call that does not match the document is refused.
	if r := f.do("GET", "/bank1/v1/accounts/acc-000001?fields=balance", tok, nil); r.StatusCode != 200 || (r.Header.Get("RateLimit-Limit") != "") != limits {
		b.Fatalf("check call: %d, RateLimit-Limit %q", r.StatusCode, r.Header.Get("RateLimit-Limit"))
	}
	if r := f.do("GET", "/bank1/v1/accounts/acc-000001?fields=everything", tok, nil); (r.StatusCode == 400) != validation {
		b.Fatalf("invalid call: %d", r.StatusCode)
	}
	done.Store(0)
	benchCalls(b, f.addr, "/bank1/v1/accounts/acc-000001?fields=balance", []byte("Bearer "+tok))
	if done.Load() < int64(b.N) {
		b.Errorf("%d outcomes for %d calls", done.Load(), b.N)
	}
}

// BenchmarkUpstreamDirect is BenchmarkGateway's baseline: the same calls
// straight to the upstream.
func BenchmarkUpstreamDirect(b *testing.B) {
	benchCalls(b, benchUpstream(b), "/core/v1/accounts/acc-000001?fields=balance", nil)
}

var benchPayload = []byte(`{"accounts":[` + strings.TrimSuffix(strings.Repeat(`{"id":"acc-000001","currency":"CNY","balance":"12345.67"},`, 17), ",") + `]}`)

// benchUpstream serves benchPayload (1 KB of JSON) on loopback and
// returns its address.
func benchUpstream(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	upstream := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		ctx.SetBody(benchPayload)
	}}
	go upstream.Serve(ln)
	b.Cleanup(func() { upstream.Shutdown() })
	return ln.Addr().String()
}

// benchCalls sends GET path to addr from parallel keep-alive clients.
func benchCalls(b *testing.B, addr, path string, auth []byte) {
	payload := benchPayload
	client := &fasthttp.HostClient{Addr: addr, MaxConns: 256}
	b.Cleanup(client.CloseIdleConnections)
	uri := "http://" + addr + path
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		for pb.Next() {
			req.SetRequestURI(uri)
			if auth != nil {
				req.Header.SetBytesV("Authorization", auth)
			}
			if err := client.Do(req, resp); err != nil {
				b.Error(err)
				return
			}
			if resp.StatusCode() != 200 || !bytes.Equal(resp.Body(), payload) {
				b.Errorf("status %d, body %.100s", resp.StatusCode(), resp.Body())
				return
			}
		}
	})
	b.StopTimer()
}
