package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSIGTERMDrains runs the real binary: SIGTERM during a slow call lets
// the call finish with the upstream's answer, closes the public listener
// to new connections meanwhile, and ends the process with status 0
// (CONTRACT sections 2 and 3).
func TestSIGTERMDrains(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the obhub binary")
	}
	if runtime.GOOS == "windows" {
		t.Skip("SIGTERM is a Unix signal")
	}
	bin := filepath.Join(t.TempDir(), "obhub")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--admin-listen", "localhost:0", "--data", t.TempDir())
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
	var waitErr error // set before exited is closed
	exited := make(chan struct{})
	go func() {
		// Wait only once both pipes are read to the end.
		<-outLines.done
		<-errLines.done
		waitErr = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			cmd.Process.Kill()
			<-exited
		}
	})

	// The process prints its URLs once both listeners accept connections.
	public := outLines.await(t, "public (APIs, OAuth2):")
	admin := strings.TrimSuffix(outLines.await(t, "admin API:"), "/admin/v1/")
	if public == "" || admin == "" {
		t.Fatalf("no URLs printed; stderr so far:\n%s", errLines.text())
	}

	h := newHubAt(t, public, admin, testAdminToken)
	core := newCoreSystem(t)
	a := setupAlliance(t, h, core)
	tok := h.token(t, a.web.ClientID, a.web.ClientSecret, "")

	// A slow call: the core system holds it until released.
	type answer struct {
		status int
		body   string
		err    error
	}
	inflight := make(chan answer, 1)
	go func() {
		req, err := http.NewRequest("GET", public+"/"+a.bank+farmBase+"/hold", nil)
		if err != nil {
			inflight <- answer{err: err}
			return
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := h.c.Do(req)
		if err != nil {
			inflight <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		inflight <- answer{status: resp.StatusCode, body: string(b), err: err}
	}()
	select {
	case <-core.entered:
	case <-time.After(waitLimit):
		t.Fatal("the slow call never reached the core system")
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	errLines.await(t, "shutting down")

	// While the call is in flight, the public listener takes no new
	// connections. Polled: the process closes it on its own schedule.
	host := strings.TrimPrefix(public, "http://")
	deadline := time.Now().Add(waitLimit)
	for {
		c, err := net.DialTimeout("tcp", host, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the public listener still accepts connections while draining")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case got := <-inflight:
		t.Fatalf("the in-flight call ended before the upstream answered: %+v", got)
	case <-exited:
		t.Fatalf("the process exited before the in-flight call finished: %v", waitErr)
	default:
	}

	core.release()
	select {
	case got := <-inflight:
		if got.err != nil || got.status != http.StatusOK || !strings.Contains(got.body, `"from":"core"`) {
			t.Errorf("the in-flight call ended with %d %q, %v; want the upstream's 200", got.status, got.body, got.err)
		}
	case <-time.After(waitLimit):
		t.Fatal("the in-flight call did not finish after the upstream answered")
	}
	select {
	case <-exited:
		var ee *exec.ExitError
		if errors.As(waitErr, &ee) {
			t.Errorf("exit status %d after SIGTERM, want 0; stderr:\n%s", ee.ExitCode(), errLines.text())
		} else if waitErr != nil {
			t.Errorf("wait: %v", waitErr)
		}
	case <-time.After(waitLimit):
		t.Fatalf("the process did not exit after draining; stderr:\n%s", errLines.text())
	}
}

// lineReader collects a pipe's lines as they come.
type lineReader struct {
	ch   chan string // every line, in order
	done chan struct{}
	seen []string // lines await has read, for messages
}

func lines(r io.Reader) *lineReader {
	lr := &lineReader{ch: make(chan string, 1024), done: make(chan struct{})}
	go func() {
		defer close(lr.done)
		defer close(lr.ch)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			select {
			case lr.ch <- sc.Text():
			default: // nobody reads that far; keep draining the pipe
			}
		}
	}()
	return lr
}

// await reads lines until one contains marker and returns what follows
// it, trimmed.
func (lr *lineReader) await(t testing.TB, marker string) string {
	t.Helper()
	timeout := time.After(waitLimit)
	for {
		select {
		case line, ok := <-lr.ch:
			if !ok {
				t.Fatalf("the output ended before %q:\n%s", marker, lr.text())
			}
			lr.seen = append(lr.seen, line)
			if _, after, found := strings.Cut(line, marker); found {
				return strings.TrimSpace(after)
			}
		case <-timeout:
			t.Fatalf("no %q within %s:\n%s", marker, waitLimit, lr.text())
		}
	}
}

func (lr *lineReader) text() string { return strings.Join(lr.seen, "\n") }

// environWithout returns the environment without the variables whose
// names start with prefix.
func environWithout(prefix string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, prefix) {
			env = append(env, kv)
		}
	}
	return env
}
