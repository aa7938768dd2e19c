package browsertest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestPage drives a real Chromium through a form whose answer page holds
// an image the server keeps back: WaitFor sees the answer's text while
// the page is still loading, and once the image is let go WaitLoaded
// returns only when the page has loaded.
func TestPage(t *testing.T) {
	p := Open(t, 800, 600, time.Minute)
	release := make(chan struct{})
	var once sync.Once
	letGo := func() { once.Do(func() { close(release) }) }
	t.Cleanup(letGo)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<!doctype html><title>form</title>
<ul><li>one</li><li title="it's">two</li><li>three</li></ul>
<form method="post" action="/done"><label for="name">Name</label><input id="name" name="name"><button>Send</button></form>`)
	})
	mux.HandleFunc("POST /done", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<!doctype html><title>done</title><p id="done">Thanks, %s.</p><img id="slow" alt="" src="/slow.gif">`, r.PostFormValue("name"))
	})
	mux.HandleFunc("GET /slow.gif", func(w http.ResponseWriter, r *http.Request) {
		select { // a slow subresource holds the page's load event back
		case <-release:
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "image/gif")
		w.Write([]byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	p.Do(chromedp.Navigate(srv.URL + "/"))
	if n := p.Count("li"); n != 3 {
		t.Errorf("Count(li) = %d, want 3", n)
	}
	if n := p.Count(`li[title="it's"]`); n != 1 {
		t.Errorf("Count with a quote in the selector = %d, want 1", n)
	}
	if n := p.Count("#none"); n != 0 {
		t.Errorf("Count(#none) = %d, want 0", n)
	}
	if got := p.Text("li:nth-child(2)"); got != "two" {
		t.Errorf("Text = %q, want two", got)
	}

	p.Do(chromedp.SendKeys(chromedp.CSS("#name"), "Li Ming"), chromedp.Submit(chromedp.CSS("#name")))
	p.WaitFor("#done")
	if got := p.Eval(`document.readyState`); got == "complete" {
		t.Errorf("the answer page is loaded while its image is held back: readyState %q", got)
	}
	letGo()
	p.WaitLoaded()
	if got := p.Eval(`document.readyState + " " + String(document.getElementById("slow").complete)`); got != "complete true" {
		t.Errorf("after WaitLoaded: readyState and image %q, want complete true", got)
	}
	if got := p.Text("#done"); got != "Thanks, Li Ming." {
		t.Errorf("answer page: %q", got)
	}
	p.WaitUntil(`document.title === "done"`)
	// Without -screenshots, Shot writes nothing and does not fail.
	p.Shot("browsertest-never-written")
	if _, err := os.Stat(filepath.Join("..", "..", "docs", "screenshots", "browsertest-never-written.png")); !os.IsNotExist(err) {
		t.Errorf("Shot wrote a file without -screenshots (%v)", err)
	}
}

// TestScreenshotDir finds docs/screenshots at the module's root from a
// package's directory, where go test runs a package's tests.
func TestScreenshotDir(t *testing.T) {
	got, err := screenshotDir()
	if err != nil {
		t.Fatal(err)
	}
	want, err := filepath.Abs(filepath.Join("..", "..", "docs", "screenshots"))
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("screenshotDir() = %s, want %s", got, want)
	}
	if fi, err := os.Stat(got); err != nil || !fi.IsDir() {
		t.Errorf("%s is not a directory (%v)", got, err)
	}
}

// fatalRecorder is a testing.TB whose Fatalf records the message and
// ends the goroutine, as t.Fatalf does.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Helper() {}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// TestPageFailureShowsPage checks that a step that runs out of the
// test's time fails with what the page shows, read after the deadline.
func TestPageFailureShowsPage(t *testing.T) {
	p := Open(t, 800, 600, time.Minute)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<!doctype html><title>x</title><p>Your session has ended.</p>`)
	}))
	t.Cleanup(srv.Close)
	p.Do(chromedp.Navigate(srv.URL))

	ctx, cancel := context.WithTimeout(p.ctx, 300*time.Millisecond)
	defer cancel()
	rec := &fatalRecorder{TB: t}
	short := &Page{t: rec, ctx: ctx, browser: p.browser}
	for _, step := range []func(){
		func() { short.WaitFor("#never") },
		func() { short.Do(chromedp.Navigate(srv.URL), chromedp.WaitVisible(chromedp.CSS("#never"))) },
	} {
		rec.msg = ""
		done := make(chan struct{})
		go func() { defer close(done); step() }()
		<-done
		if !strings.Contains(rec.msg, "the page shows:\nYour session has ended.") {
			t.Errorf("failure message %q does not show the page", rec.msg)
		}
	}
}

// TestShot writes a PNG to docs/screenshots of the module the test runs
// in (here a module made for the test) when -screenshots is set.
func TestShot(t *testing.T) {
	p := Open(t, 800, 600, time.Minute)
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "docs", "screenshots"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "portal"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module example.test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(filepath.Join(root, "portal"))
	was := *screenshots
	*screenshots = true
	t.Cleanup(func() { *screenshots = was })

	p.Do(chromedp.Navigate("data:text/html,<p>shot</p>"))
	p.Shot("portal-example")
	png, err := os.ReadFile(filepath.Join(root, "docs", "screenshots", "portal-example.png"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(png), "\x89PNG\r\n\x1a\n") {
		t.Errorf("portal-example.png is not a PNG (%d bytes)", len(png))
	}
}
