// Package browsertest starts the headless Chromium that browser tests
// drive with chromedp, and skips a test where the machine has no
// Chromium (Debian: apt-get install chromium; .ci/run installs it).
//
// Open gives a test one tab as a Page, whose steps fail the test with
// what the page shows:
//
//	p := browsertest.Open(t, 1100, 820, 90*time.Second)
//	p.Do(chromedp.Navigate(base+"/portal/signup"),
//		chromedp.SendKeys(chromedp.CSS("#email"), "li@greenvalley.example"),
//		chromedp.Submit(chromedp.CSS("#email")))
//	p.WaitFor("#sandbox-name")
//	p.WaitLoaded() // before navigating away from a submitted form
//	p.Shot("portal-apps")
//
// Importing the package registers the test flag -screenshots: with it,
// Page.Shot writes docs/screenshots/<name>.png at the module's root
// (go test ./portal/ -run Browser -screenshots); without it, Shot does
// nothing. A package's tests must not define a flag of that name again.
package browsertest

import (
	"context"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// screenshots is the -screenshots flag of every test binary that drives
// a browser; registered here, once, so that no two files define it.
var screenshots = flag.Bool("screenshots", false, "write the browser tests' screenshots to docs/screenshots")

// wait bounds WaitFor, WaitUntil and WaitLoaded: long enough for a page
// on a loaded machine, short enough that what never comes fails the
// test soon, well inside the test's own timeout.
const wait = 20 * time.Second

// Start starts a headless Chromium with a window of width×height and
// returns a context of it whose steps must all end within timeout. The
// browser is stopped when the test ends. Without a Chromium the test is
// skipped. Open wraps the context in a Page.
func Start(t *testing.T, width, height int, timeout time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(launch(t, width, height), timeout)
	t.Cleanup(cancel)
	return ctx
}

// launch starts the browser and returns its context, which has no
// deadline and ends with the test.
func launch(t *testing.T, width, height int) context.Context {
	t.Helper()
	var path string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		t.Skip("browser test skipped: no chromium on this machine (Debian: apt-get install chromium; .ci/run installs it)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.WindowSize(width, height),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(cancelBrowser)
	// The first Do starts the browser, with no timeout on its context
	// (chromedp's rule); every step after it is bounded.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// Page is the one tab of a headless Chromium that a test drives. Its
// methods fail the test (t.Fatalf) when a step fails, saying what the
// page shows at that moment; a test's checks are its own.
type Page struct {
	t       testing.TB
	ctx     context.Context // the tab, with the test's deadline
	browser context.Context // the tab without it, to read the page after a step ran out of time
}

// Open starts a headless Chromium (see Start: skipped without one,
// stopped when the test ends, every step within timeout) and returns
// its tab.
func Open(t *testing.T, width, height int, timeout time.Duration) *Page {
	t.Helper()
	browser := launch(t, width, height)
	ctx, cancel := context.WithTimeout(browser, timeout)
	t.Cleanup(cancel)
	return &Page{t: t, ctx: ctx, browser: browser}
}

// Context is the tab's context, for the chromedp actions that Page has
// no method for (chromedp.RunResponse, chromedp.OuterHTML, …).
func (p *Page) Context() context.Context { return p.ctx }

// Do runs the steps in order; the first that fails fails the test.
func (p *Page) Do(steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	for i, step := range steps {
		if err := chromedp.Do(p.ctx, step); err != nil {
			p.t.Fatalf("browser: step %d of %d: %v; the page shows:\n%s", i+1, len(steps), err, p.shows())
		}
	}
}

// WaitFor waits at most 20 s for the element sel (CSS) to be visible.
func (p *Page) WaitFor(sel string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, wait)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
		p.t.Fatalf("browser: %s never shows (%v); the page shows:\n%s", sel, err, p.shows())
	}
}

// WaitUntil waits at most 20 s for the JavaScript expression js to be
// true (truthy) in the page.
func (p *Page) WaitUntil(js string) {
	p.t.Helper()
	if _, err := chromedp.Run(p.ctx, chromedp.Poll[chromedp.Void](js, chromedp.WithPollingTimeout(wait))); err != nil {
		p.t.Fatalf("browser: %s never holds (%v); the page shows:\n%s", js, err, p.shows())
	}
}

// WaitLoaded waits at most 20 s for the page to have finished loading
// (document.readyState "complete"). Call it after a form submission and
// before the next navigation: navigating away from a page still loading
// aborts its load, and chromedp then reports net::ERR_ABORTED.
func (p *Page) WaitLoaded() {
	p.t.Helper()
	p.WaitUntil(`document.readyState === 'complete'`)
}

// Text is the text of the first element that matches sel (CSS),
// waiting for one to be there.
func (p *Page) Text(sel string) string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		p.t.Fatalf("browser: text of %s: %v", sel, err)
	}
	return s
}

// Eval is the value of the JavaScript expression js, which must be a
// string.
func (p *Page) Eval(js string) string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](js))
	if err != nil {
		p.t.Fatalf("browser: %s: %v", js, err)
	}
	return s
}

// Count is the number of elements that match sel (CSS) now, without
// waiting for one.
func (p *Page) Count(sel string) int {
	p.t.Helper()
	n, err := chromedp.Run(p.ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+jsString(sel)+`).length`))
	if err != nil {
		p.t.Fatalf("browser: count %s: %v", sel, err)
	}
	return n
}

// Shot writes a screenshot of the viewport to docs/screenshots/name.png
// at the module's root when the test runs with -screenshots, and does
// nothing otherwise.
func (p *Page) Shot(name string) {
	p.t.Helper()
	if !*screenshots {
		return
	}
	png, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Fatalf("browser: screenshot %s: %v", name, err)
	}
	dir, err := screenshotDir()
	if err != nil {
		p.t.Fatalf("browser: screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// shows is the page's text for a failure message: whatever can be read
// within 5 s, or nothing. It reads even when the test's time is up.
func (p *Page) shows() string {
	ctx, cancel := context.WithTimeout(p.browser, 5*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	return s
}

// screenshotDir is docs/screenshots in the module holding the test's
// working directory (a package's tests run in the package's directory).
func screenshotDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "docs", "screenshots"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`).Replace(s) + "'"
}
