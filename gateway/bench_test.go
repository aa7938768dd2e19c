package gateway

import (
	"bytes"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/valyala/fasthttp"
)

// BenchmarkGateway measures one API call end to end over loopback HTTP:
// token check (cached after the first call), path normalisation, route,
// authorisation with subscription lookup, and the proxied exchange with
// an in-process upstream answering 1 KB of JSON. Client, gateway and
// upstream share the machine's CPUs; the client and upstream use
// fasthttp to leave as much of them as possible to the gateway.
func BenchmarkGateway(b *testing.B) {
	upstream := benchUpstream(b)
	var done atomic.Int64
	f := newFixture(b, func(c *Config) { c.OnDone = func(*Outcome) { done.Add(1) } })
	f.holder.Swap(f.snapshot(2, func(a *alliance) { a.apis[0].Upstream = "http://" + upstream }))
	auth := []byte("Bearer " + f.sign(nil)) // the fixture clock stands still: it never expires
	benchCalls(b, f.addr, "/bank1/v1/accounts/acc-000001?fields=balance", auth)
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
