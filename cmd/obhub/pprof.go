package main

import (
	"net/http"
	"net/http/pprof"
	"strings"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/internal/httpx"
)

// Go's profiler on the admin listener at /debug/pprof/, behind the admin
// token like the admin API: a profile shows request data in memory and
// costs CPU, so it is never anonymous (docs/cluster.md).

// pprofHandler serves net/http/pprof's handlers to holders of the admin
// token.
func (m *Main) pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index) // named profiles: heap, goroutine, allocs, block, mutex, threadcreate
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !m.adminAuthorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="obhub-admin"`)
			httpx.Write(w, httpx.FromError(obhub.Errorf(obhub.EUNAUTHORIZED, "send the admin token as Authorization: Bearer <token>")))
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// adminAuthorized checks the request's bearer token against the admin
// token, as the admin API does.
func (m *Main) adminAuthorized(r *http.Request) bool {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || len(token) > 512 {
		return false
	}
	token = strings.TrimSpace(token)
	return token != "" && m.store.CheckAdminToken(r.Context(), token)
}
