package portal_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/obhub/obhub/internal/browsertest"
)

// TestBrowserCatalogSearch searches the catalog in a real headless
// Chromium with the keyboard: a Chinese word typed and a filter chosen,
// sent with Enter, the results and their count shown, then a search
// that finds nothing.
func TestBrowserCatalogSearch(t *testing.T) {
	b := browsertest.Open(t, 1100, 820, 60*time.Second)
	e := searchEnv(t)
	base := e.srv.URL

	b.Do(chromedp.Navigate(base + "/portal/apis?lang=zh"))
	if got := b.Text("#result-count"); got != "共 3 个 API" {
		t.Errorf("count before searching: %q", got)
	}
	b.Do(chromedp.SetValue(chromedp.CSS("#f-status"), "published"),
		chromedp.SendKeys(chromedp.CSS("#q"), "河西"),
		chromedp.SendKeys(chromedp.CSS("#q"), "\r"),
		// The results page's own "clear the search" link: every page has
		// a link to /portal/apis in its navigation, so waiting for any
		// did not wait for the results, and the count was read while the
		// page was being replaced.
		chromedp.WaitVisible(chromedp.CSS(`form .actions a[href="/portal/apis"]`)))
	b.WaitLoaded()
	count, table := b.Text("#result-count"), b.Text("#api-list")
	b.Shot("portal-catalog-search")
	if count != "1 个 API 符合条件（共 3 个）" {
		t.Errorf("count: %q", count)
	}
	if !strings.Contains(table, "贷款") || !strings.Contains(table, "河西") || strings.Contains(table, "Branches") {
		t.Errorf("results:\n%s", table)
	}
	if got := b.Eval(`document.getElementById("q").value + "|" + document.getElementById("f-status").value`); got != "河西|published" {
		t.Errorf("the form does not keep the search: %q", got)
	}

	b.Do(chromedp.Navigate(base+"/portal/apis?lang=en"),
		chromedp.SendKeys(chromedp.CSS("#q"), "mortgage\r"),
		chromedp.WaitVisible(chromedp.CSS("#no-results")))
	b.WaitLoaded()
	if got := b.Text("#no-results"); !strings.HasPrefix(got, "No API matches your search.") {
		t.Errorf("empty result: %q", got)
	}
}
