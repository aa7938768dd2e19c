package websession

import (
	_ "embed"
	"net/http"
)

// baseCSS is the stylesheet the portal and the console share (layout,
// forms, tables, colours); each site's own stylesheet adds what differs.
//
//go:embed base.css
var baseCSS []byte

// BaseCSS serves home+"base.css" (cached for an hour, like the sites'
// other static files) and passes every other request to next.
func BaseCSS(next http.Handler, home string) http.Handler {
	path := home + "base.css"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != path || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/css; charset=utf-8")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "public, max-age=3600")
		if r.Method == http.MethodGet {
			_, _ = w.Write(baseCSS)
		}
	})
}
