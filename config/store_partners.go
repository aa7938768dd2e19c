package config

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/catalog"
	"github.com/obhub/obhub/partners"
)

// --- Partners ---

// Partner returns the partner with the id.
func (s *Store) Partner(ctx context.Context, id string) (*partners.Partner, error) {
	r, err := s.loadPartner(ctx, id)
	if err != nil {
		return nil, err
	}
	return &r.v, nil
}

func (s *Store) loadPartner(ctx context.Context, id string) (*record[partners.Partner], error) {
	what := fmt.Sprintf("partner %q", id)
	if !safeID(id) {
		return nil, notFound(what)
	}
	return load[partners.Partner](ctx, s.kv, partnerKey(id), what)
}

// ListPartners returns one page of partners in id order, and whether more
// follow.
func (s *Store) ListPartners(ctx context.Context, opt ListOptions) ([]partners.Partner, bool, error) {
	return page[partners.Partner](ctx, s.kv, PartnersPrefix, opt, nil)
}

// CreatePartner stores a new partner, pending approval. A partner of kind
// bank that names its bank needs that bank to exist.
func (s *Store) CreatePartner(ctx context.Context, p partners.Partner) (*partners.Partner, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	now := s.clock.Now().UTC()
	p.Status, p.ApprovedAt = partners.PartnerPending, time.Time{}
	p.CreatedAt, p.UpdatedAt = now, now
	err := s.retry(ctx, func() error {
		refs, err := s.partnerRefs(ctx, &p)
		if err != nil {
			return err
		}
		return s.create(ctx, partnerKey(p.ID), encode(&p), fmt.Sprintf("partner %q", p.ID), refs...)
	})
	if err != nil {
		return nil, err
	}
	return &p, nil
}

func (s *Store) partnerRefs(ctx context.Context, p *partners.Partner) ([]Op, error) {
	if p.Bank == "" {
		return nil, nil
	}
	bank, err := mustExist[catalog.Bank](ctx, s.kv, bankKey(p.Bank), fmt.Sprintf("bank %q", p.Bank))
	if err != nil {
		return nil, err
	}
	return []Op{bank.touch()}, nil
}

// UpdatePartner changes a partner: update gets a copy of the current
// partner and changes what it wants; the id, status and timestamps are
// kept. Visibility is checked when an app subscribes, so changing a
// partner's kind or bank does not revisit existing subscriptions.
func (s *Store) UpdatePartner(ctx context.Context, id string, update func(*partners.Partner) error) (*partners.Partner, error) {
	var out partners.Partner
	err := s.retry(ctx, func() error {
		r, err := s.loadPartner(ctx, id)
		if err != nil {
			return err
		}
		next := r.v
		if err := update(&next); err != nil {
			return err
		}
		if ds := immutable(nil, "/id", next.ID != r.v.ID); len(ds) > 0 {
			return obhub.Invalid("invalid partner", ds...)
		}
		next.Status, next.ApprovedAt = r.v.Status, r.v.ApprovedAt
		next.CreatedAt, next.UpdatedAt = r.v.CreatedAt, s.clock.Now().UTC()
		if err := next.Validate(); err != nil {
			return err
		}
		value := encode(&next)
		if sameExceptUpdated(value, r.kv.Value) {
			out = r.v
			return nil
		}
		refs, err := s.partnerRefs(ctx, &next)
		if err != nil {
			return err
		}
		out = next
		return s.txn(ctx, append(refs, Put(r.key, value, r.kv.ModRevision))...)
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// SetPartnerProfile replaces the partner's profile (partners.Profile),
// normalised and stamped with the time; nothing else of the partner
// changes. An invalid profile is EINVALID with every problem listed and
// nothing is written.
func (s *Store) SetPartnerProfile(ctx context.Context, id string, prof partners.Profile) (*partners.Partner, error) {
	prof.Normalize()
	prof.UpdatedAt = s.clock.Now().UTC()
	return s.UpdatePartner(ctx, id, func(p *partners.Partner) error {
		p.Profile = &prof
		return nil
	})
}

// ApprovePartner moves a pending partner to approved: it may then have
// production apps. Approving an approved partner is ECONFLICT.
func (s *Store) ApprovePartner(ctx context.Context, id string) (*partners.Partner, error) {
	var out partners.Partner
	err := s.retry(ctx, func() error {
		r, err := s.loadPartner(ctx, id)
		if err != nil {
			return err
		}
		if r.v.Status == partners.PartnerApproved {
			return obhub.Errorf(obhub.ECONFLICT, "partner %q is already approved", id)
		}
		next := r.v
		now := s.clock.Now().UTC()
		next.Status, next.ApprovedAt, next.UpdatedAt = partners.PartnerApproved, now, now
		out = next
		return s.txn(ctx, Put(r.key, encode(&next), r.kv.ModRevision))
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// DeletePartner removes a partner that has no apps.
func (s *Store) DeletePartner(ctx context.Context, id string) error {
	return s.retry(ctx, func() error {
		r, err := s.loadPartner(ctx, id)
		if err != nil {
			return err
		}
		apps, err := loadAll[partners.App](ctx, s.kv, AppsPrefix)
		if err != nil {
			return err
		}
		var users []string
		for _, a := range apps {
			if a.v.Partner == id {
				users = append(users, a.v.ClientID)
			}
		}
		if len(users) > 0 {
			return inUse(fmt.Sprintf("partner %q", id), "app", users)
		}
		return s.txn(ctx, Delete(r.key, r.kv.ModRevision))
	})
}

// --- Apps ---

// AppView is an app as shown to people: every field of partners.App but
// the secret hash, which never leaves the Store.
type AppView struct {
	ClientID                string               `json:"client_id"`
	Partner                 string               `json:"partner"`
	Name                    string               `json:"name"`
	Environment             partners.Environment `json:"environment"`
	GrantTypes              []string             `json:"grant_types"`
	RedirectURIs            []string             `json:"redirect_uris,omitempty"`
	Scopes                  []string             `json:"scopes,omitempty"`
	TokenEndpointAuthMethod string               `json:"token_endpoint_auth_method"`
	JWKS                    map[string]any       `json:"jwks,omitempty"`
	// IPRules admit or refuse the app's calls by client address.
	IPRules *catalog.IPRules `json:"ipRules,omitempty"`
	// FAPI and DPoPBound: see partners.App.
	FAPI      bool `json:"fapi,omitempty"`
	DPoPBound bool `json:"dpop_bound_access_tokens,omitempty"`
	// MTLS: see partners.MTLS.
	partners.MTLS
	// Suspended: see partners.App; changed only by SetAppSuspended.
	Suspended bool `json:"suspended,omitempty"`
	// HasSecret tells whether a client secret is set: an app switched to a
	// secret-based method gets one only when its secret is rotated.
	HasSecret bool `json:"has_secret"`
	// PreviousSecretExpiresAt is set after a rotation with an overlap:
	// until then the replaced secret works too (partners.App).
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at,omitempty"`
	CreatedAt               time.Time  `json:"createdAt"`
	UpdatedAt               time.Time  `json:"updatedAt"`
}

func viewApp(a *partners.App) AppView {
	return AppView{
		ClientID: a.ClientID, Partner: a.Partner, Name: a.Name, Environment: a.Environment,
		GrantTypes: slices.Clone(a.GrantTypes), RedirectURIs: slices.Clone(a.RedirectURIs), Scopes: slices.Clone(a.Scopes),
		TokenEndpointAuthMethod: a.TokenEndpointAuthMethod, JWKS: maps.Clone(a.JWKS), IPRules: a.IPRules,
		FAPI: a.FAPI, DPoPBound: a.DPoPBound, MTLS: a.MTLS,
		HasSecret: a.SecretHash != "", CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt,
		PreviousSecretExpiresAt: previousSecretExpiry(a),
		Suspended:               a.Suspended,
	}
}

// previousSecretExpiry returns when the app's replaced secret stops
// working, or nil when there is none.
func previousSecretExpiry(a *partners.App) *time.Time {
	if a.PreviousSecretHash == "" {
		return nil
	}
	t := a.PreviousSecretExpiresAt
	return &t
}

// validateApp checks an app, and that its key set (free-form JSON from
// callers) can be stored.
func validateApp(a *partners.App) error {
	err := a.Validate()
	if _, jerr := json.Marshal(a.JWKS); jerr != nil {
		ds := append(obhub.ErrorDetails(err), obhub.Detail{Location: "/jwks", Message: "must be a JSON object"})
		return obhub.Invalid("invalid app", ds...)
	}
	return err
}

// usesSecret reports whether the token endpoint authenticates the app
// with a client secret.
func usesSecret(method string) bool {
	return method == partners.AuthSecretBasic || method == partners.AuthSecretPost
}

// clientIDEncoding: lowercase base32 without padding, URL-safe.
var clientIDEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newClientID returns "app_" and 20 random base32 characters (100 bits).
func newClientID() (string, error) {
	var b [13]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate client id: %w", err)
	}
	return "app_" + clientIDEncoding.EncodeToString(b[:])[:20], nil
}

// App returns the app with the client id.
func (s *Store) App(ctx context.Context, clientID string) (*AppView, error) {
	r, err := s.loadApp(ctx, clientID)
	if err != nil {
		return nil, err
	}
	v := viewApp(&r.v)
	return &v, nil
}

func (s *Store) loadApp(ctx context.Context, clientID string) (*record[partners.App], error) {
	what := fmt.Sprintf("app %q", clientID)
	if !safeID(clientID) {
		return nil, notFound(what)
	}
	return load[partners.App](ctx, s.kv, appKey(clientID), what)
}

// ListApps returns one page of apps in client id order, and whether more
// follow: every app when partner is "", else the partner's (ENOTFOUND for
// an unknown partner).
func (s *Store) ListApps(ctx context.Context, partner string, opt ListOptions) ([]AppView, bool, error) {
	var keep func(*partners.App) bool
	if partner != "" {
		if _, err := s.loadPartner(ctx, partner); err != nil {
			return nil, false, err
		}
		keep = func(a *partners.App) bool { return a.Partner == partner }
	}
	apps, more, err := page(ctx, s.kv, AppsPrefix, opt, keep)
	if err != nil {
		return nil, false, err
	}
	views := make([]AppView, len(apps))
	for i := range apps {
		views[i] = viewApp(&apps[i])
	}
	return views, more, nil
}

// CreateApp stores a new app of partner a.Partner with a generated client
// id and, for the secret-based token endpoint methods, a generated secret
// that is returned here once and stored only as a hash. The partner must
// exist, and be approved for a production app; an app's name is unique
// within its partner.
func (s *Store) CreateApp(ctx context.Context, a partners.App) (*AppView, string, error) {
	if err := validateApp(&a); err != nil {
		return nil, "", err
	}
	id, err := newClientID()
	if err != nil {
		return nil, "", err
	}
	var secret string
	a.ClientID, a.SecretHash = id, ""
	if a.IPRules.Empty() {
		a.IPRules = nil
	}
	if usesSecret(a.TokenEndpointAuthMethod) {
		if secret, a.SecretHash, err = partners.NewSecret(); err != nil {
			return nil, "", fmt.Errorf("generate client secret: %w", err)
		}
	}
	now := s.clock.Now().UTC()
	a.CreatedAt, a.UpdatedAt = now, now
	err = s.retry(ctx, func() error {
		if !safeID(a.Partner) {
			return obhub.Errorf(obhub.ECONFLICT, "partner %q does not exist", a.Partner)
		}
		p, err := mustExist[partners.Partner](ctx, s.kv, partnerKey(a.Partner), fmt.Sprintf("partner %q", a.Partner))
		if err != nil {
			return err
		}
		if a.Environment == partners.Production && p.v.Status != partners.PartnerApproved {
			return obhub.Errorf(obhub.ECONFLICT, "partner %q is not approved yet: only approved partners may have production apps", a.Partner)
		}
		if err := s.checkAppName(ctx, &a); err != nil {
			return err
		}
		return s.create(ctx, appKey(a.ClientID), encode(&a), fmt.Sprintf("app %q", a.ClientID), p.touch())
	})
	if err != nil {
		return nil, "", err
	}
	v := viewApp(&a)
	return &v, secret, nil
}

// checkAppName refuses a name another app of the same partner has. App
// writers rewrite the partner key, so two of them cannot both pass.
func (s *Store) checkAppName(ctx context.Context, a *partners.App) error {
	apps, err := loadAll[partners.App](ctx, s.kv, AppsPrefix)
	if err != nil {
		return err
	}
	for _, o := range apps {
		if o.v.Partner == a.Partner && o.v.ClientID != a.ClientID && o.v.Name == a.Name {
			return obhub.Errorf(obhub.ECONFLICT, "partner %q already has an app named %q (%s)", a.Partner, a.Name, o.v.ClientID)
		}
	}
	return nil
}

// UpdateApp changes an app: update gets the current app and changes what
// it wants; the client id, partner, environment and timestamps are kept.
// Moving to a method without a secret drops the secret; moving to a
// secret-based method gives the app a secret only when it is rotated.
func (s *Store) UpdateApp(ctx context.Context, clientID string, update func(*AppView) error) (*AppView, error) {
	var out AppView
	err := s.retry(ctx, func() error {
		r, err := s.loadApp(ctx, clientID)
		if err != nil {
			return err
		}
		cur := r.v
		in := viewApp(&cur)
		if err := update(&in); err != nil {
			return err
		}
		ds := immutable(nil, "/client_id", in.ClientID != cur.ClientID)
		ds = immutable(ds, "/partner", in.Partner != cur.Partner)
		ds = immutable(ds, "/environment", in.Environment != cur.Environment)
		if len(ds) > 0 {
			return obhub.Invalid("invalid app", ds...)
		}
		next := cur
		next.Name, next.GrantTypes, next.RedirectURIs, next.Scopes = in.Name, in.GrantTypes, in.RedirectURIs, in.Scopes
		next.TokenEndpointAuthMethod, next.JWKS = in.TokenEndpointAuthMethod, in.JWKS
		next.IPRules = in.IPRules
		next.FAPI, next.DPoPBound = in.FAPI, in.DPoPBound
		next.MTLS = in.MTLS
		if next.IPRules.Empty() {
			next.IPRules = nil
		}
		if !usesSecret(next.TokenEndpointAuthMethod) {
			next.SecretHash = ""
			next.PreviousSecretHash, next.PreviousSecretExpiresAt = "", time.Time{}
		}
		next.UpdatedAt = s.clock.Now().UTC()
		if err := validateApp(&next); err != nil {
			return err
		}
		value := encode(&next)
		if sameExceptUpdated(value, r.kv.Value) {
			out = viewApp(&cur)
			return nil
		}
		ops := []Op{Put(r.key, value, r.kv.ModRevision)}
		if next.Name != cur.Name {
			p, err := mustExist[partners.Partner](ctx, s.kv, partnerKey(cur.Partner), fmt.Sprintf("partner %q", cur.Partner))
			if err != nil {
				return err
			}
			if err := s.checkAppName(ctx, &next); err != nil {
				return err
			}
			ops = append(ops, p.touch())
		}
		out = viewApp(&next)
		return s.txn(ctx, ops...)
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// RotateAppSecret gives the app a new client secret, returned here once.
// The secret it replaces keeps working for keepPrevious (0: it stops at
// once; at most partners.MaxSecretOverlap), so that the partner can
// move every deployment to the new secret without an outage; a secret
// replaced by an earlier rotation stops at once. Apps that do not
// authenticate with a secret have none to rotate (ECONFLICT).
func (s *Store) RotateAppSecret(ctx context.Context, clientID string, keepPrevious time.Duration) (*AppView, string, error) {
	if msg := partners.CheckSecretOverlap(keepPrevious); msg != "" {
		return nil, "", obhub.Invalid("invalid secret rotation", obhub.Detail{Location: "/previous_secret_valid_for", Message: msg})
	}
	var (
		out    AppView
		secret string
	)
	err := s.retry(ctx, func() error {
		r, err := s.loadApp(ctx, clientID)
		if err != nil {
			return err
		}
		next := r.v
		if !usesSecret(next.TokenEndpointAuthMethod) {
			return obhub.Errorf(obhub.ECONFLICT, "app %q authenticates with %s and has no client secret", clientID, next.TokenEndpointAuthMethod)
		}
		now := s.clock.Now().UTC()
		next.PreviousSecretHash, next.PreviousSecretExpiresAt = "", time.Time{}
		if keepPrevious > 0 && next.SecretHash != "" {
			next.PreviousSecretHash = next.SecretHash
			next.PreviousSecretExpiresAt = now.Add(keepPrevious).Truncate(time.Second)
		}
		if secret, next.SecretHash, err = partners.NewSecret(); err != nil {
			return fmt.Errorf("generate client secret: %w", err)
		}
		next.UpdatedAt = now
		out = viewApp(&next)
		return s.txn(ctx, Put(r.key, encode(&next), r.kv.ModRevision))
	})
	if err != nil {
		return nil, "", err
	}
	return &out, secret, nil
}

// DeleteApp removes an app and, in the same transaction, its
// subscriptions.
func (s *Store) DeleteApp(ctx context.Context, clientID string) error {
	return s.retry(ctx, func() error {
		r, err := s.loadApp(ctx, clientID)
		if err != nil {
			return err
		}
		subs, err := s.kv.List(ctx, subPrefix(clientID))
		if err != nil {
			return fmt.Errorf("list subscriptions of app %q: %w", clientID, err)
		}
		ops := []Op{Delete(r.key, r.kv.ModRevision)}
		for _, sub := range subs.KVs {
			ops = append(ops, Delete(sub.Key, sub.ModRevision))
		}
		return s.txn(ctx, ops...)
	})
}

// --- Subscriptions ---

func subPrefix(clientID string) string { return SubscriptionsPrefix + clientID + "/" }

// Subscription returns the app's subscription to the product.
func (s *Store) Subscription(ctx context.Context, clientID, product string) (*partners.Subscription, error) {
	r, err := s.loadSubscription(ctx, clientID, product)
	if err != nil {
		return nil, err
	}
	return &r.v, nil
}

func (s *Store) loadSubscription(ctx context.Context, clientID, product string) (*record[partners.Subscription], error) {
	what := fmt.Sprintf("subscription of app %q to product %q", clientID, product)
	if !safeID(clientID) || !safeID(product) {
		return nil, notFound(what)
	}
	return load[partners.Subscription](ctx, s.kv, subKey(clientID, product), what)
}

// ListSubscriptions returns one page of the app's subscriptions in product
// order, and whether more follow (ENOTFOUND for an unknown app).
func (s *Store) ListSubscriptions(ctx context.Context, clientID string, opt ListOptions) ([]partners.Subscription, bool, error) {
	if _, err := s.loadApp(ctx, clientID); err != nil {
		return nil, false, err
	}
	return page[partners.Subscription](ctx, s.kv, subPrefix(clientID), opt, nil)
}

// Subscribe subscribes an app to a product: active at once when the
// product's approval is "auto", pending when "manual". The product must
// exist and every API in it must be visible to the app's partner
// (partners.MayUse); for sandbox apps the partner need not be approved
// yet, so that pending partners can try the sandbox. Visibility is
// checked here, when subscribing: later changes to a product, an API's
// visibility or a partner do not revisit existing subscriptions.
func (s *Store) Subscribe(ctx context.Context, clientID, product string) (*partners.Subscription, error) {
	if ds := catalog.CheckID(nil, "/product", product); len(ds) > 0 {
		return nil, obhub.Invalid("invalid subscription", ds...)
	}
	var out partners.Subscription
	err := s.retry(ctx, func() error {
		if !safeID(clientID) {
			return obhub.Errorf(obhub.ECONFLICT, "app %q does not exist", clientID)
		}
		app, err := mustExist[partners.App](ctx, s.kv, appKey(clientID), fmt.Sprintf("app %q", clientID))
		if err != nil {
			return err
		}
		prod, err := mustExist[catalog.Product](ctx, s.kv, productKey(product), fmt.Sprintf("product %q", product))
		if err != nil {
			return err
		}
		p, err := mustExist[partners.Partner](ctx, s.kv, partnerKey(app.v.Partner), fmt.Sprintf("partner %q", app.v.Partner))
		if err != nil {
			return err
		}
		if err := s.checkVisible(ctx, &p.v, app.v.Environment, &prod.v); err != nil {
			return err
		}
		now := s.clock.Now().UTC()
		out = partners.Subscription{ClientID: clientID, Product: product, Status: partners.SubscriptionActive, CreatedAt: now, UpdatedAt: now}
		if prod.v.Approval == catalog.ApprovalManual {
			out.Status = partners.SubscriptionPending
		}
		return s.create(ctx, subKey(clientID, product), encode(&out),
			fmt.Sprintf("subscription of app %q to product %q", clientID, product), app.touch(), prod.touch())
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// checkVisible returns ECONFLICT unless the partner may use every API of
// the product.
func (s *Store) checkVisible(ctx context.Context, p *partners.Partner, env partners.Environment, prod *catalog.Product) error {
	for _, id := range prod.APIs {
		api, err := mustExist[catalog.API](ctx, s.kv, apiKey(id), fmt.Sprintf("API %q", id))
		if err != nil {
			return err
		}
		if partners.MayUseIn(p, &api.v, env) {
			continue
		}
		if !partners.MayCall(p, env) {
			return obhub.Errorf(obhub.ECONFLICT, "partner %q is not approved yet: production apps may subscribe only once it is", p.ID)
		}
		var why string
		switch api.v.Visibility {
		case catalog.VisibilityAlliance:
			why = "is for member banks only"
		case catalog.VisibilityPrivate:
			why = fmt.Sprintf("is private to bank %q", api.v.Bank)
		default:
			why = "is not visible to it"
		}
		return obhub.Errorf(obhub.ECONFLICT, "partner %q may not use product %q: its API %q %s", p.ID, prod.ID, id, why)
	}
	return nil
}

// ApproveSubscription activates a pending subscription.
func (s *Store) ApproveSubscription(ctx context.Context, clientID, product string) (*partners.Subscription, error) {
	return s.decide(ctx, clientID, product, "approve", partners.SubscriptionActive)
}

// RejectSubscription rejects a pending subscription; it stays listed as
// rejected until deleted.
func (s *Store) RejectSubscription(ctx context.Context, clientID, product string) (*partners.Subscription, error) {
	return s.decide(ctx, clientID, product, "reject", partners.SubscriptionRejected)
}

func (s *Store) decide(ctx context.Context, clientID, product, verb string, to partners.SubscriptionStatus) (*partners.Subscription, error) {
	var out partners.Subscription
	err := s.retry(ctx, func() error {
		r, err := s.loadSubscription(ctx, clientID, product)
		if err != nil {
			return err
		}
		if r.v.Status != partners.SubscriptionPending {
			return obhub.Errorf(obhub.ECONFLICT, "cannot %s the subscription of app %q to product %q: it is %s, not pending", verb, clientID, product, r.v.Status)
		}
		next := r.v
		next.Status, next.UpdatedAt = to, s.clock.Now().UTC()
		out = next
		return s.txn(ctx, Put(r.key, encode(&next), r.kv.ModRevision))
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteSubscription ends an app's subscription to a product.
func (s *Store) DeleteSubscription(ctx context.Context, clientID, product string) error {
	return s.retry(ctx, func() error {
		r, err := s.loadSubscription(ctx, clientID, product)
		if err != nil {
			return err
		}
		return s.txn(ctx, Delete(r.key, r.kv.ModRevision))
	})
}
