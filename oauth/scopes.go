package oauth

import (
	"context"
	"log/slog"
	"slices"
	"strings"
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

// undefinedScopes checks the scopes a registration asks for against the
// catalog: it returns an invalid_client_metadata error naming those no
// API defines, or the catalog's own error. Without a ScopeCatalog every
// scope passes (the gateway still asks for the operation's scope and a
// subscription).
func (s *Server) undefinedScopes(ctx context.Context, requested []string) error {
	if s.scopes == nil || len(requested) == 0 {
		return nil
	}
	all, err := s.scopes.Scopes(ctx)
	if err != nil {
		return err
	}
	defined := make(map[string]bool, len(all))
	for _, sc := range all {
		defined[sc.Name] = true
	}
	var unknown []string
	for _, name := range requested {
		if !defined[name] && !slices.Contains(unknown, name) {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		return badMetadata("scope %s: no API in the catalog defines it", strings.Join(unknown, ", "))
	}
	return nil
}
