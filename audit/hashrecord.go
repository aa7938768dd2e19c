package audit

import (
	"context"
	"fmt"
)

// HashRecorder is a Store that records which hash function its chain is
// built with, so that Verify (and a later Writer) use the same one.
type HashRecorder interface {
	// ChainHash returns the recorded name; "" when none is.
	ChainHash(ctx context.Context) (string, error)
	// SetChainHash records name.
	SetChainHash(ctx context.Context, name string) error
}

// RecordedHash returns the hash function s's chain is built with: the
// recorded one, else DefaultHash (ledgers from before the record, and
// stores that keep none, are SHA-256).
func RecordedHash(ctx context.Context, s Store) (string, error) {
	hr, ok := s.(HashRecorder)
	if !ok {
		return DefaultHash, nil
	}
	name, err := hr.ChainHash(ctx)
	if err != nil || name == "" {
		return DefaultHash, err
	}
	return name, nil
}

// agreeHash checks that the writer's hash function is the chain's, and
// records it on a new chain. A chain never changes hash function: its
// links would no longer verify.
func agreeHash(ctx context.Context, s Store, want string, head Head) error {
	want = hashName(want)
	hr, ok := s.(HashRecorder)
	if !ok {
		if want != DefaultHash {
			return fmt.Errorf("audit writer: this audit store cannot record its hash function; only %s is possible", DefaultHash)
		}
		return nil
	}
	got, err := hr.ChainHash(ctx)
	if err != nil {
		return fmt.Errorf("audit writer: %w", err)
	}
	if got == "" && head.Seq > 0 {
		got = DefaultHash // chained before hash functions were recorded
	}
	switch {
	case got == "":
		return hr.SetChainHash(ctx, want)
	case got != want:
		return fmt.Errorf("audit writer: the audit ledger is chained with %s, not %s: start with --audit-hash %s (a chain cannot change hash function)", got, want, got)
	}
	return nil
}
