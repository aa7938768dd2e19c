package portal_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/obhub/obhub/internal/browsertest"
)

// TestBrowserNarrowScreen loads the portal's pages on a phone's width
// (390 px): none is wider than the screen. The header's links wrap, and
// a wide table scrolls inside its own box instead of pushing the page
// sideways.
func TestBrowserNarrowScreen(t *testing.T) {
	const width = 390
	b := browsertest.Open(t, width, 844, 90*time.Second)
	e := newEnv(t)
	base := e.srv.URL
	dev := e.browser()
	dev.signup("Green Valley Fintech", "li@greenvalley.example")
	id, _ := dev.createApp("Farm ledger with a rather long name")

	// Headless Chromium's window is at least 500 px wide: emulate the
	// phone's viewport.
	b.Do(chromedp.EmulateViewport(width, 844))
	b.Do(chromedp.Navigate(base+"/portal/signin?lang=en"),
		chromedp.SendKeys(chromedp.CSS("#email"), "li@greenvalley.example"),
		chromedp.SendKeys(chromedp.CSS("#password"), "correct horse battery"),
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS("#sandbox-name")))
	b.WaitLoaded()
	for _, path := range []string{
		"/portal/?lang=en", "/portal/apis", "/portal/apps", "/portal/apps/" + id,
		"/portal/apis/qingshan-accounts", "/portal/team", "/portal/account",
		"/portal/apps?lang=zh", "/portal/apis",
	} {
		b.Do(chromedp.Navigate(base + path))
		b.WaitLoaded()
		if vw := b.Eval(`String(window.innerWidth)`); vw != strconv.Itoa(width) {
			t.Fatalf("%s: the viewport is %s px wide, want %d", path, vw, width)
		}
		got, err := strconv.Atoi(b.Eval(`String(document.documentElement.scrollWidth)`))
		if err != nil || got > width {
			t.Errorf("%s is %d px wide on a %d px screen (%v); widest: %s", path, got, width, err,
				b.Eval(`Array.from(document.querySelectorAll("main *")).filter(e => e.getBoundingClientRect().right > 390).map(e => e.tagName+"."+e.className+"#"+e.id+" "+Math.round(e.getBoundingClientRect().right)).slice(0,8).join(" | ")`))
		}
	}
	// The catalog's table is wider than the phone: it scrolls in its box.
	b.Do(chromedp.Navigate(base + "/portal/apis?lang=en"))
	b.WaitLoaded()
	if s := b.Eval(`(t => t.scrollWidth > t.clientWidth && getComputedStyle(t).overflowX)(document.querySelector("table.grid"))`); s != "auto" {
		t.Errorf("the catalog's table does not scroll in its box: %q", s)
	}
}

// TestBrowserFormErrorsTakeFocus: a form answered with errors puts the
// keyboard focus on their summary, so a screen reader reads them and Tab
// goes on from there.
func TestBrowserFormErrorsTakeFocus(t *testing.T) {
	b := browsertest.Open(t, 1100, 820, 60*time.Second)
	e := newEnv(t)
	b.Do(chromedp.Navigate(e.srv.URL+"/portal/signin?lang=en"),
		chromedp.SendKeys(chromedp.CSS("#email"), "nobody@acme.example"),
		chromedp.SendKeys(chromedp.CSS("#password"), "wrong password"),
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS("#form-errors")))
	b.WaitLoaded()
	if id := b.Eval(`document.activeElement.id`); id != "form-errors" {
		t.Errorf("after a failed sign-in the focus is on %q, want the error summary", id)
	}
}
