package oauth

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/obhub/obhub"
)

// RevocationList is each node's copy of the revoked, unexpired access
// token ids, refreshed from the Store (default every second), so that the
// gateway checks revocation without a store call per request. A revoked
// token is refused on every node within the refresh interval plus the
// time of one load.
//
// While the store does not answer, the last list is kept and the failure
// logged; Revoked never blocks.
type RevocationList struct {
	store    Store
	clock    obhub.Clock
	log      *slog.Logger
	interval time.Duration
	set      atomic.Pointer[map[string]struct{}]
}

// NewRevocationList returns an empty list; Run fills it. It does no I/O.
func NewRevocationList(store Store, clock obhub.Clock, log *slog.Logger) *RevocationList {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &RevocationList{store: store, clock: clock, log: log, interval: time.Second}
}

// Revoked reports whether jti is on the list; it is the gateway's
// Config.Revoked hook.
func (l *RevocationList) Revoked(jti string) bool {
	m := l.set.Load()
	if m == nil {
		return false
	}
	_, ok := (*m)[jti]
	return ok
}

// Load reads the list once.
func (l *RevocationList) Load(ctx context.Context) error {
	jtis, err := l.store.RevokedAccessTokens(ctx, l.clock.Now())
	if err != nil {
		return err
	}
	m := make(map[string]struct{}, len(jtis))
	for _, j := range jtis {
		m[j] = struct{}{}
	}
	l.set.Store(&m)
	return nil
}

// Run reloads the list every interval, and once a minute deletes what
// expired from the store, until ctx ends.
func (l *RevocationList) Run(ctx context.Context) error {
	t := time.NewTicker(l.interval)
	defer t.Stop()
	lastSweep := time.Time{}
	for {
		if err := l.Load(ctx); err != nil && ctx.Err() == nil {
			l.log.WarnContext(ctx, "revocation list not refreshed", "err", err)
		}
		if now := l.clock.Now(); now.Sub(lastSweep) >= time.Minute {
			lastSweep = now
			if err := l.store.DeleteExpired(ctx, now); err != nil && ctx.Err() == nil {
				l.log.WarnContext(ctx, "expired oauth state not deleted", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
