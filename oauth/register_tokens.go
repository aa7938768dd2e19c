package oauth

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/partners"
)

// Initial access tokens: "obiat_<id>.<secret>". The id finds the stored
// record, the whole token is compared with its hash in constant time.
// Registration access tokens: "obrat_<secret>", found through the client
// id in the registration_client_uri. Both have 256 random bits and are
// shown once; the prefixes make leaked ones easy for secret scanners.
const (
	initialTokenPrefix      = "obiat_"
	registrationTokenPrefix = "obrat_"
	// Limits an operator can set on an initial access token.
	DefaultInitialTokenUses     = 1
	MaxInitialTokenUses         = 100
	DefaultInitialTokenLifetime = 24 * time.Hour
	MinInitialTokenLifetime     = time.Minute
	MaxInitialTokenLifetime     = 30 * 24 * time.Hour
	// maxPresentedToken caps the Authorization header examined.
	maxPresentedToken = 256
)

var tokenIDEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// InitialTokens issues and manages initial access tokens for the admin
// API. It is safe for concurrent use.
type InitialTokens struct {
	store RegistrationStore
	clock obhub.Clock
}

// NewInitialTokens returns the manager over store. It does no I/O.
func NewInitialTokens(store RegistrationStore, clock obhub.Clock) *InitialTokens {
	return &InitialTokens{store: store, clock: clock}
}

// Issue creates a token for partner (whose approval the caller has
// checked) allowing uses registrations (0: DefaultInitialTokenUses) for
// lifetime (0: DefaultInitialTokenLifetime), and returns it with the
// token itself, which exists nowhere else.
func (m *InitialTokens) Issue(ctx context.Context, partner string, uses int, lifetime time.Duration) (InitialToken, string, error) {
	if uses == 0 {
		uses = DefaultInitialTokenUses
	}
	if lifetime == 0 {
		lifetime = DefaultInitialTokenLifetime
	}
	var ds []obhub.Detail
	if uses < 1 || uses > MaxInitialTokenUses {
		ds = append(ds, obhub.Detail{Location: "/maxUses", Message: fmt.Sprintf("must be from 1 to %d", MaxInitialTokenUses)})
	}
	if lifetime < MinInitialTokenLifetime || lifetime > MaxInitialTokenLifetime {
		ds = append(ds, obhub.Detail{Location: "/expiresIn", Message: fmt.Sprintf("must be from %s to %s", MinInitialTokenLifetime, MaxInitialTokenLifetime)})
	}
	if len(ds) > 0 {
		return InitialToken{}, "", obhub.Invalid("invalid registration token", ds...)
	}
	var idb [10]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return InitialToken{}, "", fmt.Errorf("generate registration token id: %w", err)
	}
	id := tokenIDEncoding.EncodeToString(idb[:])
	secret, err := randomSecret()
	if err != nil {
		return InitialToken{}, "", err
	}
	token := initialTokenPrefix + id + "." + secret
	now := m.clock.Now().UTC().Truncate(time.Millisecond)
	t := InitialToken{
		ID: id, Partner: partner, Hash: partners.HashSecret(token),
		Uses: uses, UsesLeft: uses, ExpiresAt: now.Add(lifetime), CreatedAt: now,
	}
	if err := m.store.CreateInitialToken(ctx, t); err != nil {
		return InitialToken{}, "", fmt.Errorf("store registration token: %w", err)
	}
	return t, token, nil
}

// List returns the partner's tokens, newest first.
func (m *InitialTokens) List(ctx context.Context, partner string) ([]InitialToken, error) {
	return m.store.InitialTokens(ctx, partner)
}

// Get returns one of the partner's tokens; another partner's is
// ENOTFOUND.
func (m *InitialTokens) Get(ctx context.Context, partner, id string) (InitialToken, error) {
	t, err := m.store.InitialToken(ctx, id)
	if err == nil && t.Partner != partner {
		err = obhub.Errorf(obhub.ENOTFOUND, "registration token %q not found", id)
	}
	return t, err
}

// Revoke deletes one of the partner's tokens: it stops working at once.
func (m *InitialTokens) Revoke(ctx context.Context, partner, id string) error {
	return m.store.DeleteInitialToken(ctx, partner, id)
}

// randomSecret returns 256 random bits, base64url.
func randomSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// initialTokenID returns the id part of a presented initial access
// token, or "" when it does not have the form.
func initialTokenID(token string) string {
	rest, ok := strings.CutPrefix(token, initialTokenPrefix)
	if !ok {
		return ""
	}
	id, _, ok := strings.Cut(rest, ".")
	if !ok || id == "" || len(id) > 32 {
		return ""
	}
	return id
}

// newRegistrationToken returns a registration access token and its hash.
func newRegistrationToken() (token, hash string, err error) {
	secret, err := randomSecret()
	if err != nil {
		return "", "", err
	}
	token = registrationTokenPrefix + secret
	return token, partners.HashSecret(token), nil
}
