package config

import (
	"context"
	"fmt"
)

// Update replaces the secret at s.Key with what change makes of the
// current one, only if nobody changed it meanwhile (compare-and-swap on
// the key's revision: a concurrent update gives ECONFLICT). The key must
// exist (else ENOTFOUND).
func (s SealedSecret) Update(ctx context.Context, change func(cur []byte) ([]byte, error)) error {
	got, err := s.KV.Get(ctx, s.Key)
	if err != nil {
		return fmt.Errorf("read %s: %w", s.Key, err)
	}
	cur, err := s.open(got.Value)
	if err != nil {
		return err
	}
	next, err := change(cur)
	if err != nil {
		return err
	}
	sealed, err := s.seal(next)
	if err != nil {
		return err
	}
	if _, err := s.KV.Txn(ctx, Put(s.Key, sealed, got.ModRevision)); err != nil {
		return fmt.Errorf("store %s: %w", s.Key, err)
	}
	return nil
}
