package policies_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/catalog"
	"github.com/obhub/obhub/policies"
)

func limit(n int64, d time.Duration) *catalog.Limit {
	return &catalog.Limit{Limit: n, Period: obhub.Duration(d)}
}

// admitted runs calls goroutines, each counting one call, and returns how
// many were allowed.
func admitted(t testing.TB, calls int, take func() policies.Decision) int64 {
	t.Helper()
	var n atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range calls {
		wg.Go(func() {
			<-start
			if take().Allowed {
				n.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	return n.Load()
}

func TestPlanExactUnderConcurrency(t *testing.T) {
	for _, n := range []int64{1, 7, 20, 49} {
		t.Run(strconv.FormatInt(n, 10), func(t *testing.T) {
			l := policies.NewLimiter(policies.Options{})
			plan := &catalog.Plan{Rate: limit(n, time.Hour)}
			call := policies.Call{ClientID: "c1", Environment: "production", Product: "p"}
			got := admitted(t, 50, func() policies.Decision { return l.Plan(context.Background(), call, plan) })
			if got != n {
				t.Fatalf("admitted %d of 50 against a limit of %d, want exactly %d", got, n, n)
			}
		})
	}
}

func TestPlanDecisions(t *testing.T) {
	ctx := context.Background()
	l := policies.NewLimiter(policies.Options{})
	plan := &catalog.Plan{
		Rate:       limit(3, time.Hour),
		Quota:      limit(4, 24*time.Hour),
		Operations: []catalog.OperationLimit{{API: "pay", Operation: "createPayment", Rate: *limit(1, time.Hour)}},
	}
	prod := policies.Call{ClientID: "c1", Environment: "production", Product: "p", API: "acc", Operation: "list"}
	sandbox := prod
	sandbox.Environment = "sandbox"

	d := l.Plan(ctx, prod, plan)
	if !d.Allowed || !d.Limited || d.Limit != 3 || d.Remaining != 2 {
		t.Fatalf("first call: %+v, want allowed, limit 3, remaining 2", d)
	}
	l.Plan(ctx, prod, plan)
	l.Plan(ctx, prod, plan)
	d = l.Plan(ctx, prod, plan)
	if d.Allowed || d.Reason != "rate_limited" || d.RetryAfter() < 1 {
		t.Fatalf("fourth call: %+v, want rate_limited with a Retry-After", d)
	}
	if d := l.Plan(ctx, sandbox, plan); !d.Allowed {
		t.Fatalf("sandbox counters must be separate from production: %+v", d)
	}
	// The operation override has its own rate; the quota is shared: 3 used, 1 left.
	pay := prod
	pay.API, pay.Operation = "pay", "createPayment"
	if d := l.Plan(ctx, pay, plan); !d.Allowed || d.Limit != 1 {
		t.Fatalf("override: %+v, want allowed under limit 1", d)
	}
	if d := l.Plan(ctx, pay, plan); d.Allowed || d.Reason != "rate_limited" {
		t.Fatalf("override second call: %+v, want rate_limited", d)
	}
	other := prod
	other.ClientID = "c2"
	if d := l.Plan(ctx, other, &catalog.Plan{}); d.Limited || !d.Allowed {
		t.Fatalf("no limits: %+v", d)
	}
}

func TestQuotaExceeded(t *testing.T) {
	ctx := context.Background()
	l := policies.NewLimiter(policies.Options{})
	plan := &catalog.Plan{Rate: limit(100, time.Second), Quota: limit(2, 30*24*time.Hour)}
	c := policies.Call{ClientID: "c", Environment: "production", Product: "p"}
	l.Plan(ctx, c, plan)
	d := l.Plan(ctx, c, plan)
	if !d.Allowed || d.Limit != 2 || d.Remaining != 0 {
		t.Fatalf("second call reports the quota, closest to its end: %+v", d)
	}
	d = l.Plan(ctx, c, plan)
	if d.Allowed || d.Reason != "quota_exceeded" || d.Reset < 29*24*time.Hour {
		t.Fatalf("third call: %+v, want quota_exceeded resetting in about 30 days", d)
	}
}

func TestBankCeiling(t *testing.T) {
	l := policies.NewLimiter(policies.Options{})
	b := &catalog.BankLimits{Rate: limit(5, time.Hour)}
	got := admitted(t, 50, func() policies.Decision { return l.Bank(context.Background(), "qingshan-rcb", b) })
	if got != 5 {
		t.Fatalf("bank ceiling admitted %d of 50, want 5", got)
	}
	if d := l.Bank(context.Background(), "hexi-rcc", nil); !d.Allowed || d.Limited {
		t.Fatalf("no ceiling: %+v", d)
	}
}

func TestInFlight(t *testing.T) {
	var f policies.InFlight
	r1, ok1 := f.Acquire("b", 2)
	_, ok2 := f.Acquire("b", 2)
	_, ok3 := f.Acquire("b", 2)
	if !ok1 || !ok2 || ok3 {
		t.Fatalf("acquire: %v %v %v, want true true false", ok1, ok2, ok3)
	}
	r1.Release()
	if _, ok := f.Acquire("b", 2); !ok {
		t.Fatal("a released slot is free again")
	}
	if _, ok := f.Acquire("other", 2); !ok {
		t.Fatal("banks have separate counts")
	}
}

func TestBreaker(t *testing.T) {
	now := time.Unix(1000, 0)
	bs := &policies.Breakers{Failures: 3, Open: 10 * time.Second, Now: func() time.Time { return now }}
	for range 3 {
		if ok, _ := bs.Allow("u"); !ok {
			t.Fatal("closed breaker refused")
		}
		bs.Done("u", true)
	}
	if ok, wait := bs.Allow("u"); ok || wait != 10*time.Second {
		t.Fatalf("after 3 failures: ok=%v wait=%v, want open for 10s", ok, wait)
	}
	if ok, _ := bs.Allow("other"); !ok {
		t.Fatal("breakers are per upstream")
	}
	now = now.Add(11 * time.Second)
	if ok, _ := bs.Allow("u"); !ok {
		t.Fatal("half-open breaker must let one probe through")
	}
	if ok, _ := bs.Allow("u"); ok {
		t.Fatal("only one probe at a time")
	}
	bs.Done("u", false)
	if ok, _ := bs.Allow("u"); !ok {
		t.Fatal("a successful probe closes the breaker")
	}
}

func TestRetryBudget(t *testing.T) {
	var rb policies.RetryBudget
	for range 10 {
		rb.Call()
	}
	n := 0
	for rb.Retry() {
		n++
		if n > 100 {
			break
		}
	}
	if n < 3 || n > 4 {
		t.Fatalf("retries allowed after 10 calls: %d, want 3 + 10%% of 10 = 4", n)
	}
}

func TestNewRedisHonoursDatabase(t *testing.T) {
	r, err := policies.NewRedis("redis://:secret@127.0.0.1:6390/3")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.DB() != 3 {
		t.Fatalf("database %d, want 3", r.DB())
	}
	_, err = policies.NewRedis("http://:hunter2@x/")
	if err == nil {
		t.Fatal("a non-redis URL is refused")
	}
	if s := err.Error(); contains(s, "hunter2") {
		t.Fatalf("error leaks the password: %s", s)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// redisURL returns the shared test Redis, or skips.
func redisURL(t testing.TB) string {
	t.Helper()
	addr := os.Getenv("OBHUB_TEST_REDIS")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		if os.Getenv("OBHUB_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatalf("Redis at %s unreachable: %v", addr, err)
		}
		t.Skipf("Redis at %s unreachable (set OBHUB_TEST_REDIS): %v", addr, err)
	}
	c.Close()
	return "redis://" + addr + "/9"
}

func TestSharedRedisTwoNodes(t *testing.T) {
	url := redisURL(t)
	ctx := context.Background()
	var nodes []*policies.Limiter
	for range 2 {
		r, err := policies.NewRedis(url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		nodes = append(nodes, policies.NewLimiter(policies.Options{Shared: r}))
	}
	plan := &catalog.Plan{Rate: limit(10, time.Minute)}
	c := policies.Call{ClientID: "two-nodes-" + strconv.FormatInt(time.Now().UnixNano(), 36), Environment: "production", Product: "p"}
	var i atomic.Int64
	got := admitted(t, 50, func() policies.Decision {
		return nodes[i.Add(1)%2].Plan(ctx, c, plan)
	})
	if got != 10 {
		t.Fatalf("two nodes admitted %d together, want exactly 10", got)
	}
	if f := nodes[0].Fallbacks() + nodes[1].Fallbacks(); f != 0 {
		t.Fatalf("%d fallbacks with Redis up", f)
	}
}

// ownRedis starts a redis-server of the test's own on a free port.
type ownRedis struct {
	t    testing.TB
	port int
	cmd  *exec.Cmd
}

func startOwnRedis(t testing.TB) *ownRedis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("OBHUB_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal("redis-server not installed")
		}
		t.Skip("redis-server not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	r := &ownRedis{t: t, port: port}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *ownRedis) url() string { return "redis://127.0.0.1:" + strconv.Itoa(r.port) + "/0" }

func (r *ownRedis) start() {
	r.t.Helper()
	r.cmd = exec.Command("redis-server", "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.t.TempDir())
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(r.port), 100*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("redis-server did not start: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *ownRedis) stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}

func TestRedisDownFallsBackAndRecovers(t *testing.T) {
	srv := startOwnRedis(t)
	ctx := context.Background()
	r, err := policies.NewRedis(srv.url())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	now := time.Now()
	var clock atomic.Int64
	clock.Store(now.UnixNano())
	l := policies.NewLimiter(policies.Options{Shared: r, FallbackShare: 0.5, RetryShared: time.Second,
		Now: func() time.Time { return time.Unix(0, clock.Load()) }})
	plan := &catalog.Plan{Rate: limit(10, time.Hour)}
	c := policies.Call{ClientID: "c", Environment: "production", Product: "p"}

	for range 4 {
		if d := l.Plan(ctx, c, plan); !d.Allowed || d.Fallback {
			t.Fatalf("shared counting: %+v", d)
		}
	}
	srv.stop()
	// Down: the node admits its share (5 of 10), then refuses; never panics.
	var allowed int
	for range 20 {
		d := l.Plan(ctx, c, plan)
		if !d.Fallback {
			t.Fatalf("with Redis down the decision must come from the fallback: %+v", d)
		}
		if d.Allowed {
			allowed++
		}
	}
	if allowed != 5 {
		t.Fatalf("fallback admitted %d, want 5 (half of 10)", allowed)
	}
	if l.Fallbacks() != 20 {
		t.Fatalf("fallback metric %d, want 20", l.Fallbacks())
	}
	srv.start()
	clock.Add(int64(2 * time.Second)) // past the retry interval
	d := l.Plan(ctx, c, plan)
	if d.Fallback || !d.Allowed || d.Remaining != 9 {
		// The restarted Redis lost its counters (no persistence): shared counting starts again.
		t.Fatalf("after Redis returned: %+v, want shared counting again (remaining 9)", d)
	}
}

// A success resets the count of consecutive failures, whether it comes
// while the breaker is closed or from a probe.
func TestBreakerSuccessResets(t *testing.T) {
	bs := &policies.Breakers{Failures: 3}
	for range 3 {
		for range 2 {
			if ok, _ := bs.Allow("u"); !ok {
				t.Fatal("breaker opened before 3 consecutive failures")
			}
			bs.Done("u", true)
		}
		if ok, _ := bs.Allow("u"); !ok {
			t.Fatal("breaker opened before 3 consecutive failures")
		}
		bs.Done("u", false)
	}
}
