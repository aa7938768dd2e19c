package websession

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestBaseCSS(t *testing.T) {
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	h := BaseCSS(next, "/portal/")

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/portal/base.css", nil))
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "text/css; charset=utf-8" || !bytes.Contains(rec.Body.Bytes(), []byte(":root")) {
		t.Fatalf("GET base.css: %d %q, %d bytes", rec.Code, rec.Header().Get("Content-Type"), rec.Body.Len())
	}
	for _, path := range []string{"/portal/other.css", "/console/base.css"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != http.StatusTeapot {
			t.Errorf("GET %s was not passed on: %d", path, rec.Code)
		}
	}
}
