package websession_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/obhub/obhub/internal/websession"
)

func TestTokensAndIDs(t *testing.T) {
	a, b := websession.RandomToken(), websession.RandomToken()
	if a == b || len(a) != 43 {
		t.Fatalf("tokens %q %q: want two different 256-bit base64url tokens", a, b)
	}
	if h := websession.HashID(a); h == a || len(h) != 64 || h != websession.HashID(a) {
		t.Fatalf("HashID(%q) = %q: want a stable SHA-256 hex that is not the id", a, h)
	}
	for _, tt := range []struct {
		a, b string
		want bool
	}{{a, a, true}, {a, b, false}, {"", "", false}, {a, a[:10], false}} {
		if got := websession.SameToken(tt.a, tt.b); got != tt.want {
			t.Errorf("SameToken(%q, %q) = %v", tt.a, tt.b, got)
		}
	}
}

func TestCookie(t *testing.T) {
	c := websession.Cookie("s", "v", "/portal/", http.SameSiteLaxMode, true, time.Hour)
	if !c.HttpOnly || !c.Secure || c.Path != "/portal/" || c.MaxAge != 3600 || c.SameSite != http.SameSiteLaxMode {
		t.Fatalf("cookie %+v", c)
	}
	if c := websession.Cookie("s", "", "/", http.SameSiteStrictMode, false, -1); c.MaxAge != -1 || c.Secure {
		t.Fatalf("deleting cookie %+v", c)
	}
}
