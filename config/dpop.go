package config

import (
	"flag"
	"fmt"
)

// DPoP server nonce settings (docs/oauth.md "DPoP nonces").

// dpopFlags declares --dpop-nonce.
func (s *Static) dpopFlags(fs *flag.FlagSet) {
	fs.StringVar(&s.DPoPNonce, "dpop-nonce", "", "which clients must put a server nonce in their DPoP proofs: fapi (default: apps marked FAPI), all or off (env OBHUB_DPOP_NONCE)")
}

// validateDPoP checks --dpop-nonce.
func (s *Static) validateDPoP() []error {
	switch s.DPoPNonce {
	case "", "fapi", "all", "off":
		return nil
	}
	return []error{fmt.Errorf("--dpop-nonce %q: want fapi, all or off", s.DPoPNonce)}
}
