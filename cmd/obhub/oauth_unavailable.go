package main

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/oauth"
)

// fosite turns any storage failure into a 500 server_error. When the
// OAuth store did not answer (EUNAVAILABLE: PostgreSQL down), the client
// should retry later instead: storeDown marks each OAuth request, the
// store wrapper flags a request whose store call was unavailable, and a
// 500 answer to a flagged request becomes 503 temporarily_unavailable
// (RFC 6749 section 4.1.2.1) with Retry-After.

type storeDownKey struct{}

// storeDown wraps the OAuth endpoints.
func storeDown(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		flag := new(atomic.Bool)
		r = r.WithContext(context.WithValue(r.Context(), storeDownKey{}, flag))
		next.ServeHTTP(&storeDownWriter{ResponseWriter: w, flag: flag}, r)
	})
}

type storeDownWriter struct {
	http.ResponseWriter
	flag    *atomic.Bool
	swallow bool
}

func (w *storeDownWriter) WriteHeader(code int) {
	if code == http.StatusInternalServerError && w.flag.Load() {
		w.swallow = true
		h := w.ResponseWriter.Header()
		h.Del("Content-Length")
		h.Set("Content-Type", "application/json;charset=UTF-8")
		h.Set("Cache-Control", "no-store")
		h.Set("Retry-After", "5")
		w.ResponseWriter.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.ResponseWriter.Write([]byte(`{"error":"temporarily_unavailable","error_description":"The authorization server's store is unavailable; try again later."}`))
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *storeDownWriter) Write(b []byte) (int, error) {
	if w.swallow {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

func (w *storeDownWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// flagDown flags the request when err says the store is unavailable.
func flagDown(ctx context.Context, err error) error {
	if err != nil && obhub.ErrorCode(err) == obhub.EUNAVAILABLE {
		if f, ok := ctx.Value(storeDownKey{}).(*atomic.Bool); ok {
			f.Store(true)
		}
	}
	return err
}

// flaggingStore is an oauth.Store that flags unavailable calls.
type flaggingStore struct{ oauth.Store }

func (s flaggingStore) CreateCode(ctx context.Context, sig string, r oauth.Record) error {
	return flagDown(ctx, s.Store.CreateCode(ctx, sig, r))
}
func (s flaggingStore) GetCode(ctx context.Context, sig string) (oauth.Record, error) {
	r, err := s.Store.GetCode(ctx, sig)
	return r, flagDown(ctx, err)
}
func (s flaggingStore) RedeemCode(ctx context.Context, sig string) error {
	return flagDown(ctx, s.Store.RedeemCode(ctx, sig))
}
func (s flaggingStore) PutRequest(ctx context.Context, id string, r oauth.Record) error {
	return flagDown(ctx, s.Store.PutRequest(ctx, id, r))
}
func (s flaggingStore) TakeRequest(ctx context.Context, id string, now time.Time) (oauth.Record, error) {
	r, err := s.Store.TakeRequest(ctx, id, now)
	return r, flagDown(ctx, err)
}
func (s flaggingStore) CreateAccessToken(ctx context.Context, sig string, r oauth.Record) error {
	return flagDown(ctx, s.Store.CreateAccessToken(ctx, sig, r))
}
func (s flaggingStore) GetAccessToken(ctx context.Context, sig string) (oauth.Record, error) {
	r, err := s.Store.GetAccessToken(ctx, sig)
	return r, flagDown(ctx, err)
}
func (s flaggingStore) CreateRefreshToken(ctx context.Context, sig string, r oauth.Record) error {
	return flagDown(ctx, s.Store.CreateRefreshToken(ctx, sig, r))
}
func (s flaggingStore) GetRefreshToken(ctx context.Context, sig string) (oauth.Record, error) {
	r, err := s.Store.GetRefreshToken(ctx, sig)
	return r, flagDown(ctx, err)
}
func (s flaggingStore) UseRefreshToken(ctx context.Context, sig string) error {
	return flagDown(ctx, s.Store.UseRefreshToken(ctx, sig))
}
func (s flaggingStore) RevokeAccessTokens(ctx context.Context, id string) error {
	return flagDown(ctx, s.Store.RevokeAccessTokens(ctx, id))
}
func (s flaggingStore) RevokeRefreshTokens(ctx context.Context, id string) error {
	return flagDown(ctx, s.Store.RevokeRefreshTokens(ctx, id))
}
func (s flaggingStore) RevokeGrant(ctx context.Context, id string) error {
	return flagDown(ctx, s.Store.RevokeGrant(ctx, id))
}
func (s flaggingStore) UseAssertion(ctx context.Context, clientID, jti string, exp time.Time) error {
	return flagDown(ctx, s.Store.UseAssertion(ctx, clientID, jti, exp))
}
