package gateway

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/catalog"
	"github.com/obhub/obhub/openapi"
	"github.com/obhub/obhub/partners"
	"github.com/obhub/obhub/policies"
)

func lim(n int64, d time.Duration) *catalog.Limit {
	return &catalog.Limit{Limit: n, Period: obhub.Duration(d)}
}

// withPlan makes product basic's plan p.
func withPlan(p catalog.Plan) func(*alliance) {
	return func(a *alliance) { a.products[0].Plan = p }
}

func TestRateLimitHeadersAnd429(t *testing.T) {
	f := newFixture(t)
	f.holder.Swap(f.snapshot(2, withPlan(catalog.Plan{Rate: lim(3, time.Hour)})))
	tok := f.tokenFor(appProd, partners.Production, "accounts:read")
	for i := range 3 {
		r := f.do("GET", "/bank1/v1/accounts", tok, nil)
		if r.StatusCode != 200 {
			t.Fatalf("call %d: %d %s", i, r.StatusCode, r.body)
		}
		if r.Header.Get("RateLimit-Limit") != "3" || r.Header.Get("RateLimit-Remaining") != strconv.Itoa(2-i) || r.Header.Get("RateLimit-Reset") == "" {
			t.Fatalf("call %d headers: %v", i, r.Header)
		}
	}
	f.takeOutcomes()
	r := f.do("GET", "/bank1/v1/accounts", tok, nil)
	if r.StatusCode != 429 || r.Header.Get("Retry-After") == "" || r.Header.Get("RateLimit-Remaining") != "0" {
		t.Fatalf("fourth call: %d %v", r.StatusCode, r.Header)
	}
	if p := r.problem(t); !strings.HasSuffix(p["type"].(string), "rate-limited") {
		t.Fatalf("problem %v", p)
	}
	if o := f.oneOutcome(t); o.Decision != DecisionDeny || o.Reason != "rate_limited" {
		t.Fatalf("outcome %+v", o)
	}
	if n := f.up.count(); n != 3 {
		t.Fatalf("upstream saw %d calls, want 3", n)
	}
}

func TestRateLimitExactThroughGateway(t *testing.T) {
	f := newFixture(t)
	f.holder.Swap(f.snapshot(2, withPlan(catalog.Plan{Rate: lim(10, time.Hour)})))
	tok := f.tokenFor(appProd, partners.Production, "accounts:read")
	codes := hammer(t, []string{f.base}, tok, 50)
	if codes[200] != 10 || codes[429] != 40 {
		t.Fatalf("50 concurrent calls against 10/h: %v, want 10×200 and 40×429", codes)
	}
}

// hammer sends n concurrent calls spread over the gateways and counts
// the statuses.
func hammer(t testing.TB, bases []string, tok string, n int) map[int]int {
	t.Helper()
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second}
	for i := range n {
		wg.Go(func() {
			req, _ := http.NewRequest("GET", bases[i%len(bases)]+"/bank1/v1/accounts", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := client.Do(req)
			code := -1
			if err == nil {
				code = resp.StatusCode
				resp.Body.Close()
			}
			mu.Lock()
			codes[code]++
			mu.Unlock()
		})
	}
	wg.Wait()
	return codes
}

func TestOperationOverride(t *testing.T) {
	f := newFixture(t)
	f.holder.Swap(f.snapshot(2, withPlan(catalog.Plan{
		Rate:       lim(100, time.Hour),
		Operations: []catalog.OperationLimit{{API: "accounts", Operation: "createPayment", Rate: *lim(1, time.Hour)}},
	})))
	tok := f.tokenFor(appProd, partners.Production, "accounts:read payments:write")
	if r := f.do("POST", "/bank1/v1/payments", tok, strings.NewReader("{}")); r.StatusCode != 200 || r.Header.Get("RateLimit-Limit") != "1" {
		t.Fatalf("first payment: %d %v", r.StatusCode, r.Header)
	}
	if r := f.do("POST", "/bank1/v1/payments", tok, strings.NewReader("{}")); r.StatusCode != 429 {
		t.Fatalf("second payment: %d, want 429", r.StatusCode)
	}
	if r := f.do("GET", "/bank1/v1/accounts", tok, nil); r.StatusCode != 200 || r.Header.Get("RateLimit-Limit") != "100" {
		t.Fatalf("other operation: %d %v", r.StatusCode, r.Header)
	}
}

func TestQuota429(t *testing.T) {
	f := newFixture(t)
	f.holder.Swap(f.snapshot(2, withPlan(catalog.Plan{Quota: lim(1, 24*time.Hour)})))
	tok := f.tokenFor(appProd, partners.Production, "accounts:read")
	f.do("GET", "/bank1/v1/accounts", tok, nil)
	f.takeOutcomes()
	r := f.do("GET", "/bank1/v1/accounts", tok, nil)
	ra, _ := strconv.Atoi(r.Header.Get("Retry-After"))
	if r.StatusCode != 429 || ra < 23*3600 {
		t.Fatalf("over quota: %d Retry-After %q", r.StatusCode, r.Header.Get("Retry-After"))
	}
	if o := f.oneOutcome(t); o.Reason != "quota_exceeded" {
		t.Fatalf("outcome %+v", o)
	}
}

func TestBankProtection(t *testing.T) {
	t.Run("rate", func(t *testing.T) {
		f := newFixture(t)
		f.holder.Swap(f.snapshot(2, func(a *alliance) { a.banks[0].Limits = &catalog.BankLimits{Rate: lim(2, time.Hour)} }))
		tok := f.tokenFor(appProd, partners.Production, "accounts:read")
		f.do("GET", "/bank1/v1/accounts", tok, nil)
		f.do("GET", "/bank1/v1/accounts", tok, nil)
		r := f.do("GET", "/bank1/v1/accounts", tok, nil)
		if r.StatusCode != 503 || r.Header.Get("Retry-After") == "" {
			t.Fatalf("over the bank's ceiling: %d %v", r.StatusCode, r.Header)
		}
		if f.up.count() != 2 {
			t.Fatalf("the bank saw %d calls, want 2", f.up.count())
		}
	})
	t.Run("in flight", func(t *testing.T) {
		f := newFixture(t)
		f.holder.Swap(f.snapshot(2, func(a *alliance) { a.banks[0].Limits = &catalog.BankLimits{MaxInFlight: 1} }))
		tok := f.tokenFor(appProd, partners.Production, "accounts:read")
		held := make(chan *response, 1)
		go func() {
			req, _ := http.NewRequest("GET", f.base+"/bank1/v1/hold", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				resp.Body.Close()
				held <- &response{Response: resp}
				return
			}
			held <- nil
		}()
		<-f.up.entered
		r := f.do("GET", "/bank1/v1/accounts", tok, nil)
		if r.StatusCode != 503 || r.Header.Get("Retry-After") != "1" {
			t.Errorf("second call while one is in flight: %d %v", r.StatusCode, r.Header)
		}
		f.up.release()
		if h := <-held; h == nil || h.StatusCode != 200 {
			t.Fatalf("the held call: %+v", h)
		}
		if r := f.do("GET", "/bank1/v1/accounts", tok, nil); r.StatusCode != 200 {
			t.Fatalf("after the held call ended: %d", r.StatusCode)
		}
	})
}

func TestCircuitBreaker(t *testing.T) {
	f := newFixture(t)
	tok := f.tokenFor(appProd, partners.Production, "accounts:read")
	for i := range policies.DefaultBreakerFailures {
		if r := f.do("GET", "/bank1/down/accounts", tok, nil); r.StatusCode != 502 {
			t.Fatalf("call %d to a closed port: %d", i, r.StatusCode)
		}
	}
	f.takeOutcomes()
	r := f.do("GET", "/bank1/down/accounts", tok, nil)
	if r.StatusCode != 503 || r.Header.Get("Retry-After") == "" {
		t.Fatalf("breaker open: %d %v", r.StatusCode, r.Header)
	}
	if o := f.oneOutcome(t); o.Reason != "circuit_open" {
		t.Fatalf("outcome %+v", o)
	}
	if r := f.do("GET", "/bank1/v1/accounts", tok, nil); r.StatusCode != 200 {
		t.Fatalf("another upstream is unaffected: %d", r.StatusCode)
	}
}

func TestClientAddressAndIPRules(t *testing.T) {
	allowTen := func(a *alliance) { a.apis[0].IPRules = &catalog.IPRules{Allow: []string{"10.0.0.0/8"}} }
	tok := func(f *fixture) string { return f.tokenFor(appProd, partners.Production, "accounts:read") }

	t.Run("spoofed forwarded headers ignored", func(t *testing.T) {
		f := newFixture(t)
		r := f.do("GET", "/bank1/v1/accounts", tok(f), nil, "X-Forwarded-For", "10.1.2.3", "X-Real-IP", "10.1.2.3")
		if r.StatusCode != 200 || f.up.last(t).Header.Get("X-Forwarded-For") != "127.0.0.1" {
			t.Fatalf("%d, upstream saw X-Forwarded-For %q, want the socket peer", r.StatusCode, f.up.last(t).Header.Get("X-Forwarded-For"))
		}
		f.holder.Swap(f.snapshot(2, allowTen))
		r = f.do("GET", "/bank1/v1/accounts", tok(f), nil, "X-Forwarded-For", "10.1.2.3", "X-Real-IP", "10.1.2.3")
		if r.StatusCode != 403 {
			t.Fatalf("a spoofed X-Forwarded-For passed the API's IP rules: %d", r.StatusCode)
		}
	})
	t.Run("trusted proxy", func(t *testing.T) {
		f := newFixture(t, func(c *Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} })
		f.holder.Swap(f.snapshot(2, allowTen))
		if r := f.do("GET", "/bank1/v1/accounts", tok(f), nil, "X-Forwarded-For", "192.0.2.9, 10.1.2.3"); r.StatusCode != 200 {
			t.Fatalf("client 10.1.2.3 behind a trusted proxy: %d %s", r.StatusCode, r.body)
		}
		if got := f.up.last(t).Header.Get("X-Forwarded-For"); got != "10.1.2.3" {
			t.Fatalf("upstream saw client %q", got)
		}
		if r := f.do("GET", "/bank1/v1/accounts", tok(f), nil, "X-Forwarded-For", "10.1.2.3, 192.0.2.9"); r.StatusCode != 403 {
			t.Fatalf("client 192.0.2.9 (rightmost untrusted hop): %d", r.StatusCode)
		}
		if r := f.do("GET", "/bank1/v1/accounts", tok(f), nil, "X-Real-IP", "10.9.9.9"); r.StatusCode != 200 {
			t.Fatalf("X-Real-IP from a trusted proxy: %d", r.StatusCode)
		}
	})
	t.Run("app deny list", func(t *testing.T) {
		f := newFixture(t)
		f.holder.Swap(f.snapshot(2, func(a *alliance) { a.apps[0].IPRules = &catalog.IPRules{Deny: []string{"127.0.0.1"}} }))
		r := f.do("GET", "/bank1/v1/accounts", tok(f), nil)
		if r.StatusCode != 403 || f.up.count() != 0 {
			t.Fatalf("denied app address: %d, upstream calls %d", r.StatusCode, f.up.count())
		}
	})
}

func TestCORS(t *testing.T) {
	f := newFixture(t)
	f.holder.Swap(f.snapshot(2, func(a *alliance) {
		a.apis[0].CORS = &catalog.CORS{AllowOrigins: []string{"https://app.example"}, AllowCredentials: true, MaxAge: obhub.Duration(time.Hour)}
	}))
	r := f.do("OPTIONS", "/bank1/v1/accounts", "", nil, "Origin", "https://app.example", "Access-Control-Request-Method", "GET")
	if r.StatusCode != 204 || r.Header.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		r.Header.Get("Access-Control-Allow-Credentials") != "true" || r.Header.Get("Access-Control-Max-Age") != "3600" {
		t.Fatalf("preflight: %d %v", r.StatusCode, r.Header)
	}
	if r := f.do("OPTIONS", "/bank1/v1/accounts", "", nil, "Origin", "https://evil.example", "Access-Control-Request-Method", "GET"); r.StatusCode != 403 || r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("preflight from another origin: %d %v", r.StatusCode, r.Header)
	}
	tok := f.tokenFor(appProd, partners.Production, "accounts:read")
	r = f.do("GET", "/bank1/v1/accounts", tok, nil, "Origin", "https://app.example")
	if r.StatusCode != 200 || r.Header.Get("Access-Control-Allow-Origin") != "https://app.example" || !strings.Contains(r.Header.Get("Access-Control-Expose-Headers"), "RateLimit-Remaining") ||
		!strings.Contains(r.Header.Get("Access-Control-Expose-Headers"), "DPoP-Nonce") {
		t.Fatalf("actual request: %d %v", r.StatusCode, r.Header)
	}
	r = f.do("GET", "/bank1/v1/accounts", "", nil, "Origin", "https://app.example")
	if r.StatusCode != 401 || r.Header.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Fatalf("a refusal still carries CORS headers so the script can read it: %d %v", r.StatusCode, r.Header)
	}
	// An API without CORS sends none.
	r = f.do("GET", "/bank1/legacy/accounts", tok, nil, "Origin", "https://app.example")
	if r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("API without CORS: %v", r.Header)
	}
}

func TestLongURI(t *testing.T) {
	f := newFixture(t)
	r := f.raw("GET /bank1/v1/accounts?q=" + strings.Repeat("a", 9000) + " HTTP/1.1\r\nHost: x\r\n\r\n")
	if r.StatusCode != 414 {
		t.Fatalf("9 KB URI: %d", r.StatusCode)
	}
	r = f.raw("GET /bank1/v1/accounts?q=" + strings.Repeat("a", 40000) + " HTTP/1.1\r\nHost: x\r\n\r\n")
	if r.StatusCode != 431 && r.StatusCode != 414 {
		t.Fatalf("40 KB URI: %d, want 414 or 431", r.StatusCode)
	}
}

// The validation API: /pay/v1 with a document; its spec source counts loads.
const payDoc = `{"openapi":"3.0.3","info":{"title":"Pay","version":"1"},"servers":[{"url":"/pay/v1"}],
"paths":{"/payments":{"post":{"operationId":"createPayment","requestBody":{"required":true,"content":{"application/json":{"schema":
{"type":"object","required":["amount"],"properties":{"amount":{"type":"string","pattern":"^[0-9]+\\.[0-9]{2}$"}}}}}},
"responses":{"201":{"description":"ok"}}}},
"/accounts/{accountId}":{"get":{"operationId":"getAccount","parameters":[{"name":"accountId","in":"path","required":true,"schema":{"type":"string","maxLength":8}},
{"name":"limit","in":"query","schema":{"type":"integer"}}],"responses":{"200":{"description":"ok"}}}}}}`

type specSource struct{ doc []byte }

func (s specSource) APISpec(context.Context, string) ([]byte, error) { return s.doc, nil }

func validationFixture(t testing.TB, opts ...fixtureOption) *fixture {
	t.Helper()
	d, err := openapi.Import(context.Background(), []byte(payDoc))
	if err != nil {
		t.Fatal(err)
	}
	opts = append(opts, func(c *Config) { c.Validator = openapi.NewValidators(specSource{d.JSON}) })
	f := newFixture(t, opts...)
	f.holder.Swap(f.snapshot(2, withPayAPI(d.Operations, nil)))
	return f
}

// withPayAPI adds API pay (bank1, /pay/v1) with ops to product basic.
func withPayAPI(ops []catalog.Operation, mod func(*catalog.API)) func(*alliance) {
	return func(a *alliance) {
		pay := a.apis[0]
		pay.ID, pay.BasePath, pay.Operations, pay.SpecDigest, pay.MaxBody = "pay", "/pay/v1", ops, "pay-1", 4096
		if mod != nil {
			mod(&pay)
		}
		a.apis = append(a.apis, pay)
		a.products[0].APIs = append(a.products[0].APIs, "pay")
	}
}

func TestValidation(t *testing.T) {
	f := validationFixture(t)
	tok := f.tokenFor(appProd, partners.Production, "")
	const card = "6228480402564890018"
	if r := f.do("POST", "/bank1/pay/v1/payments", tok, strings.NewReader(`{"amount":"3.50"}`), "Content-Type", "application/json"); r.StatusCode != 200 || f.up.last(t).Body != `{"amount":"3.50"}` {
		t.Fatalf("valid payment: %d %s; upstream got %q", r.StatusCode, r.body, f.up.last(t).Body)
	}
	f.takeOutcomes()
	r := f.do("POST", "/bank1/pay/v1/payments", tok, strings.NewReader(`{"amount":"`+card+`"}`), "Content-Type", "application/json")
	if r.StatusCode != 400 || bytes.Contains(r.body, []byte(card)) {
		t.Fatalf("invalid payment: %d %s", r.StatusCode, r.body)
	}
	p := r.problem(t)
	if errs, _ := p["errors"].([]any); len(errs) == 0 || !strings.HasPrefix(errs[0].(map[string]any)["location"].(string), "body") {
		t.Fatalf("problem lists no body problem: %v", p)
	}
	if o := f.oneOutcome(t); o.Decision != DecisionReject || o.Reason != "invalid_request" {
		t.Fatalf("outcome %+v", o)
	}
	r = f.do("GET", "/bank1/pay/v1/accounts/"+card+"?limit=x"+card, tok, nil)
	if r.StatusCode != 400 || bytes.Contains(r.body, []byte(card)) || !bytes.Contains(r.body, []byte("path.accountId")) || !bytes.Contains(r.body, []byte("query.limit")) {
		t.Fatalf("bad parameters: %d %s", r.StatusCode, r.body)
	}
	if r := f.do("GET", "/bank1/pay/v1/accounts/a1?limit=5", tok, nil); r.StatusCode != 200 {
		t.Fatalf("valid parameters: %d %s", r.StatusCode, r.body)
	}
	// Validation off for the API: the same bad call is forwarded.
	payAPI, _ := f.holder.Current().Catalog.API("pay")
	f.holder.Swap(f.snapshot(3, withPayAPI(payAPI.Operations, func(a *catalog.API) { a.Validation = catalog.ValidationOff })))
	if r := f.do("GET", "/bank1/pay/v1/accounts/a1?limit=x", tok, nil); r.StatusCode != 200 {
		t.Fatalf("validation off: %d %s", r.StatusCode, r.body)
	}
}

func TestHostileBodies(t *testing.T) {
	f := validationFixture(t)
	tok := f.tokenFor(appProd, partners.Production, "")
	deep := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(bytes.Repeat([]byte("{"), 2<<20)) // 2 MiB of '{' in about 2 KB
	zw.Close()
	tests := []struct {
		name string
		body []byte
		hdr  []string
		want int
	}{
		{"100k-deep JSON", []byte(`{"amount":` + deep + `}`), nil, 413}, // over the API's 4 KiB limit
		{"deep JSON within the limit", []byte(`{"amount":` + strings.Repeat("[", 1500) + strings.Repeat("]", 1500) + `}`), nil, 400},
		{"gzip bomb", gz.Bytes(), []string{"Content-Encoding", "gzip"}, 400},
		{"huge body", bytes.Repeat([]byte("a"), 1<<20), nil, 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.body) < 4096 && tt.want == 413 {
				t.Fatalf("test body too small: %d", len(tt.body))
			}
			start := time.Now()
			hdr := append([]string{"Content-Type", "application/json"}, tt.hdr...)
			var r *response
			if tt.want == 413 {
				// Write the whole body from another goroutine while this
				// one reads the answer: a server that refuses early may
				// stop reading, and a client that only reads after
				// writing everything would then see a reset, not the 413.
				var head strings.Builder
				fmt.Fprintf(&head, "POST /bank1/pay/v1/payments HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n", tok, len(tt.body))
				for i := 0; i+1 < len(hdr); i += 2 {
					fmt.Fprintf(&head, "%s: %s\r\n", hdr[i], hdr[i+1])
				}
				head.WriteString("\r\n")
				r = f.rawStreaming(head.String(), tt.body)
			} else {
				r = f.do("POST", "/bank1/pay/v1/payments", tok, bytes.NewReader(tt.body), hdr...)
			}
			if r.StatusCode != tt.want {
				t.Fatalf("%d %s, want %d", r.StatusCode, r.body, tt.want)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("took %v", d)
			}
		})
	}
	if f.up.count() != 0 {
		t.Fatalf("hostile bodies reached the bank: %d", f.up.count())
	}
}

func FuzzGatewayValidation(f *testing.F) {
	fx := validationFixture(f)
	tok := fx.tokenFor(appProd, partners.Production, "")
	f.Add("limit=5", "a1", []byte(`{"amount":"1.00"}`))
	f.Add("limit=%zz&limit=", "%2e%2e", []byte(`[[[`))
	f.Fuzz(func(t *testing.T, query, id string, body []byte) {
		for _, target := range []string{"/bank1/pay/v1/accounts/" + escapeAll(id) + "?" + query, "/bank1/pay/v1/payments?" + query} {
			method := "GET"
			if strings.Contains(target, "payments") {
				method = "POST"
			}
			req, err := http.NewRequest(method, fx.base+target, bytes.NewReader(body))
			if err != nil {
				return
			}
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Content-Type", "application/json")
			resp, err := fx.client.Do(req)
			if err != nil {
				t.Fatalf("%s: %v", target, err)
			}
			resp.Body.Close()
			if resp.StatusCode >= 500 && resp.StatusCode != 502 {
				t.Fatalf("%s %q: %d", target, body, resp.StatusCode)
			}
		}
	})
}

func escapeAll(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("?#/%", c) >= 0 {
			b.WriteString("%" + strings.ToUpper(strconv.FormatInt(int64(c)|0x100, 16)[1:]))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// Two gateways sharing a real Redis admit no more than the plan together;
// with their own Redis stopped they answer no 5xx, and count together
// again once it is back.
func TestSharedLimitsAcrossGateways(t *testing.T) {
	addr := os.Getenv("OBHUB_TEST_REDIS")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err != nil {
		if os.Getenv("OBHUB_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatalf("Redis at %s unreachable: %v", addr, err)
		}
		t.Skipf("Redis at %s unreachable (set OBHUB_TEST_REDIS): %v", addr, err)
	} else {
		c.Close()
	}
	client := "shared-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	bases := twoGateways(t, "redis://"+addr+"/8", client, 10)
	f := bases.f
	tok := f.tokenFor(client, partners.Production, "accounts:read")
	codes := hammer(t, bases.urls, tok, 50)
	if codes[200] > 10 || codes[200] < 1 || codes[200]+codes[429] != 50 {
		t.Fatalf("two gateways over one Redis: %v, want at most 10×200 and the rest 429", codes)
	}
}

func TestRedisOutageThroughGateways(t *testing.T) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not installed")
	}
	port := strings.TrimPrefix(closedAddr(t), "127.0.0.1:")
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for i := 0; ; i++ {
			if c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, 100*time.Millisecond); err == nil {
				c.Close()
				return cmd
			}
			if i > 200 {
				t.Fatal("redis-server did not start")
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	stop := func(cmd *exec.Cmd) { cmd.Process.Kill(); cmd.Wait() }
	srv := start()
	defer func() { stop(srv) }()
	gws := twoGateways(t, "redis://127.0.0.1:"+port+"/0", "outage", 20)
	tok := gws.f.tokenFor("outage", partners.Production, "accounts:read")

	if c := hammer(t, gws.urls, tok, 8); c[200] != 8 {
		t.Fatalf("before the outage: %v", c)
	}
	stop(srv)
	c := hammer(t, gws.urls, tok, 40)
	for code := range c {
		if code >= 500 || code < 0 {
			t.Fatalf("with Redis down: %v, want no 5xx", c)
		}
	}
	// Each node admits at most half the plan (10) on its own.
	if c[200] > 20 || c[200] == 0 {
		t.Fatalf("fallback admitted %v", c)
	}
	if gws.limits[0].Fallbacks()+gws.limits[1].Fallbacks() == 0 {
		t.Fatal("no fallback counted")
	}
	srv = start()
	// Back to shared counting once the retry interval passed (a fresh
	// Redis has no counters: 20 for both nodes together).
	deadline := time.Now().Add(10 * time.Second)
	for {
		before := gws.limits[0].Fallbacks() + gws.limits[1].Fallbacks()
		c = hammer(t, gws.urls, tok, 30)
		if gws.limits[0].Fallbacks()+gws.limits[1].Fallbacks() == before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the gateways did not return to shared counters")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if c[200] > 20 {
		t.Fatalf("after recovery the nodes count together: %v", c)
	}
}

type gatewayPair struct {
	f      *fixture
	urls   []string
	limits []*policies.Limiter
}

// twoGateways starts two gateways sharing the Redis at url, with an app
// clientID subscribed to a product of n calls per hour.
func twoGateways(t *testing.T, redisURL, clientID string, n int64) gatewayPair {
	t.Helper()
	var p gatewayPair
	for i := range 2 {
		r, err := policies.NewRedis(redisURL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		l := policies.NewLimiter(policies.Options{Shared: r, RetryShared: 200 * time.Millisecond})
		p.limits = append(p.limits, l)
		f := newFixture(t, func(c *Config) { c.Limits = l })
		if i == 0 {
			p.f = f
		} else {
			f.key = p.f.key // both accept the first one's tokens
			f.gw.tokens = newVerifier(testIssuer, testAudience, testKeys{testKID: &p.f.key.PublicKey}, f.clock.Now, nil)
		}
		f.holder.Swap(f.snapshot(2, func(a *alliance) {
			a.apps = append(a.apps, partners.App{ClientID: clientID, Partner: "fin", Name: "x", Environment: partners.Production})
			a.subs = append(a.subs, partners.Subscription{ClientID: clientID, Product: "basic", Status: partners.SubscriptionActive})
			a.products[0].Plan = catalog.Plan{Rate: lim(n, time.Hour)}
		}))
		p.urls = append(p.urls, f.base)
	}
	return p
}

// rawStreaming sends head, then body from another goroutine, and reads the
// answer without waiting for the body to be written.
func (f *fixture) rawStreaming(head string, body []byte) *response {
	f.t.Helper()
	conn, err := net.Dial("tcp", f.addr)
	if err != nil {
		f.t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.WriteString(conn, head)
		conn.Write(body) // may fail once the server has answered and closed
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		f.t.Fatalf("reading the answer: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	conn.Close()
	<-done
	return &response{Response: resp, body: b}
}
