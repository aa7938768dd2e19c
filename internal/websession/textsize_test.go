package websession_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/obhub/obhub/internal/websession"
)

func TestTextSize(t *testing.T) {
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "page") })
	h := websession.TextSize(next, "text", "/portal/", true)
	serve := func(path, referer, cookie string) *http.Response {
		r := httptest.NewRequest("GET", "http://hub.example"+path, nil)
		if referer != "" {
			r.Header.Set("Referer", referer)
		}
		if cookie != "" {
			r.AddCookie(&http.Cookie{Name: "text", Value: cookie})
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Result()
	}

	t.Run("toggle remembers and goes back", func(t *testing.T) {
		tests := []struct {
			name, path, referer, value, location string
		}{
			{"large, back to the page", "/portal/text-size?size=large", "http://hub.example/portal/apis?lang=zh", "large", "/portal/apis?lang=zh"},
			{"normal", "/portal/text-size?size=normal", "http://hub.example/portal/apps", "normal", "/portal/apps"},
			{"unknown size is normal", "/portal/text-size?size=huge", "", "normal", "/portal/"},
			{"another site's page: home", "/portal/text-size?size=large", "https://evil.example/portal/apps", "large", "/portal/"},
			{"outside home: home", "/portal/text-size?size=large", "http://hub.example/console/", "large", "/portal/"},
			{"double slash: home", "/portal/text-size?size=large", "http://hub.example/portal//evil.example/", "large", "/portal/"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := serve(tt.path, tt.referer, "")
				if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != tt.location {
					t.Errorf("%d to %q, want 303 to %q", res.StatusCode, res.Header.Get("Location"), tt.location)
				}
				c := res.Cookies()
				if len(c) != 1 || c[0].Name != "text" || c[0].Value != tt.value || c[0].Path != "/portal/" || !c[0].HttpOnly || !c[0].Secure || c[0].MaxAge <= 0 {
					t.Errorf("cookie %+v", c)
				}
			})
		}
	})

	t.Run("stylesheet follows the cookie", func(t *testing.T) {
		for _, tt := range []struct{ cookie, want, not string }{
			{"large", "html{font-size:125%}\n.ts-large{display:none}\n.ts-normal{display:inline}", "x"},
			{"", "normal text", "font-size"},
			{"bogus", "normal text", "font-size"},
		} {
			res := serve("/portal/text-size.css", "", tt.cookie)
			b, _ := io.ReadAll(res.Body)
			if !strings.Contains(string(b), tt.want) || strings.Contains(string(b), tt.not) ||
				res.Header.Get("Content-Type") != "text/css; charset=utf-8" || res.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("cookie %q: %s %q", tt.cookie, res.Header, b)
			}
		}
	})

	t.Run("other paths pass through", func(t *testing.T) {
		b, _ := io.ReadAll(serve("/portal/apis", "", "large").Body)
		if string(b) != "page" {
			t.Errorf("got %q", b)
		}
		r := httptest.NewRequest("POST", "http://hub.example/portal/text-size", nil)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusMethodNotAllowed {
			t.Errorf("POST: %d", w.Code)
		}
	})
}
