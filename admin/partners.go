package admin

import (
	"net/http"
	"net/url"

	"github.com/obhub/obhub/catalog"
	"github.com/obhub/obhub/config"
	"github.com/obhub/obhub/partners"
)

// --- Partners ---

type partnerBody struct {
	ID   *string       `json:"id,omitempty"`
	Name string        `json:"name"`
	Kind partners.Kind `json:"kind"`
	// Bank is the member bank a partner of kind "bank" is (optional).
	Bank string `json:"bank,omitempty"`
}

var partnerReadOnly = []string{"status", "approvedAt", "createdAt", "updatedAt", "profile"}

func partnerID(p *partners.Partner) string { return p.ID }

func (h *Handler) listPartners(w http.ResponseWriter, r *http.Request) error {
	return list(w, r, h.store.ListPartners, partnerID)
}

func (h *Handler) getPartner(w http.ResponseWriter, r *http.Request) error {
	p, err := h.store.Partner(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, p)
}

func (h *Handler) createPartner(w http.ResponseWriter, r *http.Request) error {
	raw, err := readBody(w, r, h.maxBody)
	if err != nil {
		return err
	}
	var (
		body partnerBody
		ps   problems
	)
	decodeObject(raw, &body, partnerReadOnly, &ps)
	p := partners.Partner{ID: deref(body.ID), Name: body.Name, Kind: body.Kind, Bank: body.Bank}
	if err := ps.merge(p.Validate()); err != nil {
		return err
	}
	if err := ps.err("invalid partner"); err != nil {
		return err
	}
	out, err := h.store.CreatePartner(r.Context(), p)
	if err != nil {
		return err
	}
	return created(w, Prefix+"/partners/"+out.ID, out)
}

func (h *Handler) updatePartner(w http.ResponseWriter, r *http.Request) error {
	raw, err := readBody(w, r, h.maxBody)
	if err != nil {
		return err
	}
	out, err := h.store.UpdatePartner(r.Context(), r.PathValue("id"), func(p *partners.Partner) error {
		doc, err := updateDoc(r, raw, partnerBody{ID: &p.ID, Name: p.Name, Kind: p.Kind, Bank: p.Bank})
		if err != nil {
			return err
		}
		var (
			body partnerBody
			ps   problems
		)
		decodeObject(doc, &body, partnerReadOnly, &ps)
		checkSame(&ps, "/id", body.ID, p.ID)
		p.Name, p.Kind, p.Bank = body.Name, body.Kind, body.Bank
		if err := ps.merge(p.Validate()); err != nil {
			return err
		}
		return ps.err("invalid partner")
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}

func (h *Handler) deletePartner(w http.ResponseWriter, r *http.Request) error {
	if err := h.store.DeletePartner(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	return noContent(w)
}

func (h *Handler) approvePartner(w http.ResponseWriter, r *http.Request) error {
	if err := h.emptyBody(w, r); err != nil {
		return err
	}
	p, err := h.store.ApprovePartner(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, p)
}

// --- Apps ---

// appBody is what an admin sends to create or change an app.
type appBody struct {
	Name                    string               `json:"name"`
	Environment             partners.Environment `json:"environment,omitempty"`
	GrantTypes              []string             `json:"grant_types"`
	RedirectURIs            []string             `json:"redirect_uris,omitempty"`
	Scopes                  []string             `json:"scopes,omitempty"`
	TokenEndpointAuthMethod string               `json:"token_endpoint_auth_method,omitempty"`
	JWKS                    map[string]any       `json:"jwks,omitempty"`
	// IPRules admit or refuse the app's calls by client address.
	IPRules *catalog.IPRules `json:"ipRules,omitempty"`
	// FAPI holds the app to the FAPI 2.0 profile; DPoPBound binds its
	// tokens with DPoP (RFC 9449). See partners.App.
	FAPI      bool `json:"fapi,omitempty"`
	DPoPBound bool `json:"dpop_bound_access_tokens,omitempty"`
	// Certificate registration and binding (RFC 8705): see partners.MTLS.
	TLSClientAuthSubjectDN string `json:"tls_client_auth_subject_dn,omitempty"`
	TLSClientAuthSANDNS    string `json:"tls_client_auth_san_dns,omitempty"`
	TLSBound               bool   `json:"tls_client_certificate_bound_access_tokens,omitempty"`
}

// mtls returns the body's RFC 8705 registration.
func (b *appBody) mtls() partners.MTLS {
	return partners.MTLS{TLSClientAuthSubjectDN: b.TLSClientAuthSubjectDN, TLSClientAuthSANDNS: b.TLSClientAuthSANDNS, TLSBound: b.TLSBound}
}

// setMTLS copies an app's RFC 8705 registration into the body.
func (b *appBody) setMTLS(m partners.MTLS) {
	b.TLSClientAuthSubjectDN, b.TLSClientAuthSANDNS, b.TLSBound = m.TLSClientAuthSubjectDN, m.TLSClientAuthSANDNS, m.TLSBound
}

var appReadOnly = []string{"client_id", "client_secret", "secret_hash", "partner", "has_secret", "createdAt", "updatedAt",
	"previous_secret_hash", "previous_secret_expires_at", // secret.go
	"suspended"} // set in the console (config.Store.SetAppSuspended)

// newCredentials is the answer of the two calls that show a client
// secret: creating an app and rotating its secret. It is the only place
// a secret ever appears.
type newCredentials struct {
	config.AppView
	ClientSecret string `json:"client_secret,omitempty"`
}

func appID(a *config.AppView) string { return a.ClientID }

// listApps lists every app, or with ?partner= one partner's.
func (h *Handler) listApps(w http.ResponseWriter, r *http.Request) error {
	return h.listAppsOf(w, r, r.URL.Query().Get("partner"))
}

func (h *Handler) listPartnerApps(w http.ResponseWriter, r *http.Request) error {
	return h.listAppsOf(w, r, r.PathValue("id"))
}

func (h *Handler) listAppsOf(w http.ResponseWriter, r *http.Request, partner string) error {
	opt, err := listOptions(r)
	if err != nil {
		return err
	}
	apps, more, err := h.store.ListApps(r.Context(), partner, opt)
	if err != nil {
		return err
	}
	return writePage(w, apps, more, appID)
}

func (h *Handler) getApp(w http.ResponseWriter, r *http.Request) error {
	a, err := h.store.App(r.Context(), r.PathValue("client_id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a)
}

func (h *Handler) createApp(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	partner := r.PathValue("id")
	if _, err := h.store.Partner(ctx, partner); err != nil {
		return err
	}
	raw, err := readBody(w, r, h.maxBody)
	if err != nil {
		return err
	}
	var (
		body appBody
		ps   problems
	)
	decodeObject(raw, &body, appReadOnly, &ps)
	if body.TokenEndpointAuthMethod == "" {
		body.TokenEndpointAuthMethod = partners.AuthSecretBasic // the RFC 7591 default
	}
	a := partners.App{
		Partner: partner, Name: body.Name, Environment: body.Environment, GrantTypes: body.GrantTypes,
		RedirectURIs: body.RedirectURIs, Scopes: body.Scopes, TokenEndpointAuthMethod: body.TokenEndpointAuthMethod, JWKS: body.JWKS,
		IPRules: body.IPRules, FAPI: body.FAPI, DPoPBound: body.DPoPBound, MTLS: body.mtls(),
	}
	if err := ps.merge(a.Validate()); err != nil {
		return err
	}
	if err := ps.err("invalid app"); err != nil {
		return err
	}
	v, secret, err := h.store.CreateApp(ctx, a)
	if err != nil {
		return err
	}
	return created(w, Prefix+"/apps/"+url.PathEscape(v.ClientID), newCredentials{AppView: *v, ClientSecret: secret})
}

func (h *Handler) updateApp(w http.ResponseWriter, r *http.Request) error {
	raw, err := readBody(w, r, h.maxBody)
	if err != nil {
		return err
	}
	out, err := h.store.UpdateApp(r.Context(), r.PathValue("client_id"), func(a *config.AppView) error {
		cur := appBody{
			Name: a.Name, Environment: a.Environment, GrantTypes: a.GrantTypes, RedirectURIs: a.RedirectURIs,
			Scopes: a.Scopes, TokenEndpointAuthMethod: a.TokenEndpointAuthMethod, JWKS: a.JWKS,
			IPRules: a.IPRules, FAPI: a.FAPI, DPoPBound: a.DPoPBound,
		}
		cur.setMTLS(a.MTLS)
		doc, err := updateDoc(r, raw, cur)
		if err != nil {
			return err
		}
		var (
			body appBody
			ps   problems
		)
		decodeObject(doc, &body, appReadOnly, &ps)
		if body.Environment != "" && body.Environment != a.Environment {
			ps.add("/environment", "cannot be changed")
		}
		if body.TokenEndpointAuthMethod == "" {
			body.TokenEndpointAuthMethod = partners.AuthSecretBasic
		}
		a.Name, a.GrantTypes, a.RedirectURIs, a.Scopes = body.Name, body.GrantTypes, body.RedirectURIs, body.Scopes
		a.TokenEndpointAuthMethod, a.JWKS = body.TokenEndpointAuthMethod, body.JWKS
		a.IPRules = body.IPRules
		a.FAPI, a.DPoPBound = body.FAPI, body.DPoPBound
		a.MTLS = body.mtls()
		check := partners.App{
			Partner: a.Partner, Name: a.Name, Environment: a.Environment, GrantTypes: a.GrantTypes, RedirectURIs: a.RedirectURIs,
			Scopes: a.Scopes, TokenEndpointAuthMethod: a.TokenEndpointAuthMethod, JWKS: a.JWKS,
			IPRules: a.IPRules, FAPI: a.FAPI, DPoPBound: a.DPoPBound, MTLS: a.MTLS,
		}
		if err := ps.merge(check.Validate()); err != nil {
			return err
		}
		return ps.err("invalid app")
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}

func (h *Handler) deleteApp(w http.ResponseWriter, r *http.Request) error {
	if err := h.store.DeleteApp(r.Context(), r.PathValue("client_id")); err != nil {
		return err
	}
	return noContent(w)
}

// --- Subscriptions ---

type subscriptionBody struct {
	Product string `json:"product"`
}

var subscriptionReadOnly = []string{"status", "client_id", "createdAt", "updatedAt"}

func subscriptionID(s *partners.Subscription) string { return s.Product }

func (h *Handler) listSubscriptions(w http.ResponseWriter, r *http.Request) error {
	opt, err := listOptions(r)
	if err != nil {
		return err
	}
	subs, more, err := h.store.ListSubscriptions(r.Context(), r.PathValue("client_id"), opt)
	if err != nil {
		return err
	}
	return writePage(w, subs, more, subscriptionID)
}

func (h *Handler) getSubscription(w http.ResponseWriter, r *http.Request) error {
	s, err := h.store.Subscription(r.Context(), r.PathValue("client_id"), r.PathValue("product"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s)
}

func (h *Handler) subscribe(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	clientID := r.PathValue("client_id")
	if _, err := h.store.App(ctx, clientID); err != nil {
		return err
	}
	raw, err := readBody(w, r, h.maxBody)
	if err != nil {
		return err
	}
	var (
		body subscriptionBody
		ps   problems
	)
	decodeObject(raw, &body, subscriptionReadOnly, &ps)
	if body.Product == "" && !ps.has("/product") {
		ps.add("/product", "is required")
	}
	if err := ps.err("invalid subscription"); err != nil {
		return err
	}
	s, err := h.store.Subscribe(ctx, clientID, body.Product)
	if err != nil {
		return err
	}
	return created(w, Prefix+"/apps/"+url.PathEscape(clientID)+"/subscriptions/"+s.Product, s)
}

func (h *Handler) approveSubscription(w http.ResponseWriter, r *http.Request) error {
	if err := h.emptyBody(w, r); err != nil {
		return err
	}
	s, err := h.store.ApproveSubscription(r.Context(), r.PathValue("client_id"), r.PathValue("product"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s)
}

func (h *Handler) rejectSubscription(w http.ResponseWriter, r *http.Request) error {
	if err := h.emptyBody(w, r); err != nil {
		return err
	}
	s, err := h.store.RejectSubscription(r.Context(), r.PathValue("client_id"), r.PathValue("product"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s)
}

func (h *Handler) deleteSubscription(w http.ResponseWriter, r *http.Request) error {
	if err := h.store.DeleteSubscription(r.Context(), r.PathValue("client_id"), r.PathValue("product")); err != nil {
		return err
	}
	return noContent(w)
}
