package main

import (
	"context"
	"time"

	"github.com/obhub/obhub/oauth"
	"github.com/obhub/obhub/portal"
)

// portalRegistrationTokens gives the developer portal's owners the
// authorization server's initial access tokens: the same oauth functions
// the admin API uses (register.go), so issuing, hashing and limits live
// in one place. The portal has checked the owner role and the partner's
// approval; its tighter limits (10 uses, 7 days) are its own.
type portalRegistrationTokens struct{ m *oauth.InitialTokens }

var _ portal.RegistrationTokens = portalRegistrationTokens{}

// portalRegistration returns the portal's registration tokens, nil when
// the OAuth store has no registration half.
func (m *Main) portalRegistration() portal.RegistrationTokens {
	rs := m.registrationStore()
	if rs == nil {
		return nil
	}
	return portalRegistrationTokens{oauth.NewInitialTokens(rs, m.Clock)}
}

func (p portalRegistrationTokens) Issue(ctx context.Context, partner string, uses int, lifetime time.Duration) (portal.RegistrationToken, string, error) {
	t, token, err := p.m.Issue(ctx, partner, uses, lifetime)
	if err != nil {
		return portal.RegistrationToken{}, "", err
	}
	return portalToken(t), token, nil
}

func (p portalRegistrationTokens) List(ctx context.Context, partner string) ([]portal.RegistrationToken, error) {
	list, err := p.m.List(ctx, partner)
	if err != nil {
		return nil, err
	}
	out := make([]portal.RegistrationToken, len(list))
	for i, t := range list {
		out[i] = portalToken(t)
	}
	return out, nil
}

func (p portalRegistrationTokens) Revoke(ctx context.Context, partner, id string) error {
	return p.m.Revoke(ctx, partner, id)
}

func portalToken(t oauth.InitialToken) portal.RegistrationToken {
	return portal.RegistrationToken{ID: t.ID, MaxUses: t.Uses, UsesLeft: t.UsesLeft, ExpiresAt: t.ExpiresAt, CreatedAt: t.CreatedAt}
}
