package config

import (
	"context"
)

// SetAppSuspended suspends an app (suspended true) or reactivates it. A
// suspended app keeps its credentials and subscriptions; the gateway
// refuses its calls from the next configuration snapshot on. Setting the
// state it already has changes nothing.
func (s *Store) SetAppSuspended(ctx context.Context, clientID string, suspended bool) (*AppView, error) {
	var out AppView
	err := s.retry(ctx, func() error {
		r, err := s.loadApp(ctx, clientID)
		if err != nil {
			return err
		}
		if r.v.Suspended == suspended {
			out = viewApp(&r.v)
			return nil
		}
		next := r.v
		next.Suspended = suspended
		next.UpdatedAt = s.clock.Now().UTC()
		out = viewApp(&next)
		return s.txn(ctx, Put(r.key, encode(&next), r.kv.ModRevision))
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}
