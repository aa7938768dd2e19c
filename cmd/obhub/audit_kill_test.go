package main

import (
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// startBinary runs `obhub serve` from bin on data with the flags and
// returns its URLs and a function that kills it with SIGKILL and waits for
// it to end.
func startBinary(t *testing.T, bin, data string, flags ...string) (public, admin string, kill func()) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--listen", "127.0.0.1:0", "--admin-listen", "localhost:0", "--data", data}, flags...)...)
	cmd.Env = append(environWithout("OBHUB_"), "OBHUB_ADMIN_TOKEN="+testAdminToken)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	outLines, errLines := lines(stdout), lines(stderr)
	exited := make(chan struct{})
	go func() {
		<-outLines.done
		<-errLines.done
		cmd.Wait()
		close(exited)
	}()
	var once sync.Once
	kill = func() {
		once.Do(func() {
			cmd.Process.Kill() // SIGKILL: no drain, no flush
			<-exited
		})
	}
	t.Cleanup(kill)
	public = outLines.await(t, "public (APIs, OAuth2):")
	admin = strings.TrimSuffix(outLines.await(t, "admin API:"), "/admin/v1/")
	return public, admin, kill
}

// TestAuditSurvivesSIGKILL runs the real binary under load, in the
// default written mode and in strict mode, kills it with SIGKILL,
// restarts it, and finds a record for every request whose response
// reached the client.
func TestAuditSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the obhub binary")
	}
	if runtime.GOOS == "windows" {
		t.Skip("no SIGKILL on Windows")
	}
	bin := filepath.Join(t.TempDir(), "obhub")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, mode := range []string{"", "strict"} {
		name := mode
		if mode == "" {
			name = "default"
		}
		t.Run(name, func(t *testing.T) {
			var flags []string
			if mode != "" {
				flags = []string{"--audit-mode", mode}
			}
			killUnderLoad(t, bin, flags)
		})
	}
}

// killUnderLoad is one run of TestAuditSurvivesSIGKILL.
func killUnderLoad(t *testing.T, bin string, flags []string) {
	data := t.TempDir()
	public, admin, kill := startBinary(t, bin, data, flags...)
	h := newHubAt(t, public, admin, testAdminToken)
	core := newCoreSystem(t)
	a := setupAlliance(t, h, core)
	tok := h.token(t, a.web.ClientID, a.web.ClientSecret, "")

	// Load: workers send calls until the process dies; every call that got
	// a response is noted.
	var (
		mu        sync.Mutex
		answered  []string
		responses atomic.Int64
		wg        sync.WaitGroup
		enough    = make(chan struct{})
	)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				c := auditCall{method: "GET", path: "/" + a.bank + farmBase + "/accounts", token: tok, want: 200}
				if i%3 == 1 {
					c.token = "" // refused: 401
				}
				id := fmt.Sprintf("kill-%d-%06d", w, i)
				if _, err := h.send(c, id); err != nil {
					return // the process is gone
				}
				mu.Lock()
				answered = append(answered, id)
				mu.Unlock()
				if responses.Add(1) == 1000 {
					close(enough)
				}
			}
		}()
	}
	// Kill mid-load, once a good number of responses went out.
	select {
	case <-enough:
	case <-time.After(waitLimit):
	}
	kill()
	wg.Wait()
	if len(answered) < 1000 {
		t.Fatalf("only %d responses before the kill", len(answered))
	}

	// Restart on the same data: the node starts, and the ledger has every
	// answered request, once, and still verifies.
	public, admin, _ = startBinary(t, bin, data, flags...)
	h = newHubAt(t, public, admin, testAdminToken)
	if r := h.get(t, public+"/readyz"); r.status != http.StatusOK {
		t.Fatalf("restarted node not ready: %s", r)
	}
	count := map[string]int{}
	for _, r := range readLedger(t, data) {
		count[r.RequestID]++
	}
	missing := 0
	for _, id := range answered {
		switch count[id] {
		case 1:
		case 0:
			missing++
			if missing <= 5 {
				t.Errorf("request %s got a response but has no audit record", id)
			}
		default:
			t.Errorf("request %s has %d records", id, count[id])
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d answered requests have no record", missing, len(answered))
	}
	var v struct {
		OK      bool  `json:"ok"`
		Records int64 `json:"records"`
	}
	h.adminCall(t, "GET", "/audit/verify", nil, http.StatusOK, &v)
	if !v.OK || v.Records < int64(len(answered)) {
		t.Errorf("verify after the kill: %+v", v)
	}
	t.Logf("%d responses before SIGKILL, all recorded", len(answered))
}
