package main

import (
	"net/http"
	"strings"
	"testing"
)

// The profiler on the admin listener answers only to the admin token.
func TestPprofNeedsAdminToken(t *testing.T) {
	m := runMain(t)
	h := newHub(t, m, testAdminToken)
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/cmdline"} {
		if r := h.get(t, h.admin+path); r.status != http.StatusUnauthorized || !strings.Contains(r.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s without a token = %s, want 401 with a Bearer challenge", path, r)
		}
		req := newRequest(t, http.MethodGet, h.admin+path, nil)
		req.Header.Set("Authorization", "Bearer not-the-token")
		if r := h.do(t, req); r.status != http.StatusUnauthorized {
			t.Errorf("%s with a wrong token = %s, want 401", path, r)
		}
		req = newRequest(t, http.MethodGet, h.admin+path, nil)
		req.Header.Set("Authorization", "Bearer "+testAdminToken)
		if r := h.do(t, req); r.status != http.StatusOK || len(r.body) == 0 {
			t.Errorf("%s with the admin token = %d (%d bytes), want 200", path, r.status, len(r.body))
		}
	}
	req := newRequest(t, http.MethodGet, h.admin+"/debug/pprof/goroutine?debug=1", nil)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	if r := h.do(t, req); r.status != http.StatusOK || !strings.Contains(string(r.body), "goroutine profile:") {
		t.Errorf("goroutine profile = %d %.200s", r.status, r.body)
	}
}
