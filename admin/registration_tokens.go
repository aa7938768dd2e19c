package admin

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/partners"
)

// Initial access tokens for dynamic client registration (RFC 7591,
// docs/oauth.md): an operator issues one to an approved partner, whose
// software then registers sandbox clients with it at the authorization
// server's registration endpoint. The token is shown once, in the answer
// that creates it; the hub keeps only its hash.

// RegistrationToken is an initial access token as the admin API shows
// it: never the token itself.
type RegistrationToken struct {
	ID        string    `json:"id"`
	Partner   string    `json:"partner"`
	MaxUses   int       `json:"maxUses"`
	UsesLeft  int       `json:"usesLeft"`
	Status    string    `json:"status"` // "active", "used" or "expired"
	ExpiresAt time.Time `json:"expiresAt"`
	CreatedAt time.Time `json:"createdAt"`
}

// Registration token states.
const (
	RegistrationTokenActive  = "active"
	RegistrationTokenUsed    = "used"
	RegistrationTokenExpired = "expired"
)

// RegistrationTokens issues and manages initial access tokens; the caller
// (cmd/obhub) implements it over the authorization server's store. Errors
// carry obhub codes (EINVALID with details for bad limits).
type RegistrationTokens interface {
	// Issue creates a token for partner allowing maxUses registrations
	// (0: one) until lifetime has passed (0: 24 hours), and returns it
	// with the token itself.
	Issue(ctx context.Context, partner string, maxUses int, lifetime time.Duration) (RegistrationToken, string, error)
	List(ctx context.Context, partner string) ([]RegistrationToken, error)
	Get(ctx context.Context, partner, id string) (RegistrationToken, error)
	// Revoke deletes a token: it stops working at once.
	Revoke(ctx context.Context, partner, id string) error
}

// WithRegistrationTokens serves the registration token routes; without
// it they answer 503.
func WithRegistrationTokens(t RegistrationTokens) Option {
	return func(h *Handler) { h.regTokens = t }
}

func (h *Handler) registrationTokens() (RegistrationTokens, error) {
	if h.regTokens == nil {
		return nil, obhub.Errorf(obhub.EUNAVAILABLE, "dynamic client registration is not available on this node")
	}
	return h.regTokens, nil
}

// registrationTokenBody is what an operator sends to issue a token; both
// members are optional.
type registrationTokenBody struct {
	MaxUses   int    `json:"maxUses,omitempty"`
	ExpiresIn string `json:"expiresIn,omitempty"` // a Go duration such as "24h"
}

var registrationTokenReadOnly = []string{"id", "partner", "usesLeft", "status", "expiresAt", "createdAt", "token"}

// newRegistrationToken is the answer that creates a token: the only
// place the token appears.
type newRegistrationToken struct {
	RegistrationToken
	Token string `json:"token"`
}

func (h *Handler) createRegistrationToken(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	tokens, err := h.registrationTokens()
	if err != nil {
		return err
	}
	var (
		body registrationTokenBody
		ps   problems
	)
	if hasBody(r) {
		raw, err := readBody(w, r, h.maxBody)
		if err != nil {
			return err
		}
		decodeObject(raw, &body, registrationTokenReadOnly, &ps)
	}
	var lifetime time.Duration
	if body.ExpiresIn != "" {
		if lifetime, err = time.ParseDuration(body.ExpiresIn); err != nil || lifetime <= 0 {
			ps.add("/expiresIn", `must be a positive duration such as "24h"`)
		}
	}
	if body.MaxUses < 0 {
		ps.add("/maxUses", "must be positive")
	}
	if err := ps.err("invalid registration token"); err != nil {
		return err
	}
	id := r.PathValue("id")
	p, err := h.store.Partner(ctx, id)
	if err != nil {
		return err
	}
	if p.Status != partners.PartnerApproved {
		return obhub.Errorf(obhub.ECONFLICT, "partner %q is not approved yet: only approved partners may register clients", id)
	}
	t, token, err := tokens.Issue(ctx, id, body.MaxUses, lifetime)
	if err != nil {
		return err
	}
	return created(w, Prefix+"/partners/"+url.PathEscape(id)+"/registration-tokens/"+url.PathEscape(t.ID), newRegistrationToken{RegistrationToken: t, Token: token})
}

func (h *Handler) listRegistrationTokens(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	tokens, err := h.registrationTokens()
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	if _, err := h.store.Partner(ctx, id); err != nil {
		return err
	}
	list, err := tokens.List(ctx, id)
	if err != nil {
		return err
	}
	if list == nil {
		list = []RegistrationToken{}
	}
	return writeJSON(w, http.StatusOK, listPage[RegistrationToken]{Items: list})
}

func (h *Handler) getRegistrationToken(w http.ResponseWriter, r *http.Request) error {
	tokens, err := h.registrationTokens()
	if err != nil {
		return err
	}
	t, err := tokens.Get(r.Context(), r.PathValue("id"), r.PathValue("token"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, t)
}

func (h *Handler) deleteRegistrationToken(w http.ResponseWriter, r *http.Request) error {
	tokens, err := h.registrationTokens()
	if err != nil {
		return err
	}
	if err := tokens.Revoke(r.Context(), r.PathValue("id"), r.PathValue("token")); err != nil {
		return err
	}
	return noContent(w)
}
