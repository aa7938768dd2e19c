package oauth

import (
	"context"
	"log/slog"
	"slices"
)

// Scope is one scope the alliance's APIs define: some operation of an
// API in the catalog requires it.
type Scope struct {
	Name string
	// Advertised is true when a published (or deprecated) public API
	// requires the scope. The metadata's scopes_supported lists only
	// these, so the public document names no scope of an API that not
	// every partner may see (RFC 8414 lets a server leave scopes out).
	Advertised bool
}

// ScopeCatalog lists the scopes of the catalog's APIs; implemented by the
// caller from the configuration in force. Errors carry obhub codes
// (EUNAVAILABLE while no configuration is loaded).
type ScopeCatalog interface {
	Scopes(ctx context.Context) ([]Scope, error)
}

// advertisedScopes returns scopes_supported: the advertised scopes,
// sorted, or nil when the hub does not know its scopes (then the member
// is left out).
func (s *Server) advertisedScopes(ctx context.Context) []string {
	if s.scopes == nil {
		return nil
	}
	all, err := s.scopes.Scopes(ctx)
	if err != nil {
		s.log.DebugContext(ctx, "metadata without scopes_supported", slog.Any("err", err))
		return nil
	}
	out := []string{}
	for _, sc := range all {
		if sc.Advertised {
			out = append(out, sc.Name)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
