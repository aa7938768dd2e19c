package partners

import (
	"sort"

	"github.com/obhub/obhub/catalog"
)

// Directory is an immutable index of partners, apps and subscriptions,
// built once per configuration snapshot so that the gateway answers "may
// this app call this API?" with map lookups.
type Directory struct {
	partners map[string]*Partner
	apps     map[string]*App
	subs     map[string][]*Subscription // by client id
	// access holds, per client id, the APIs reachable through an active
	// subscription, with the product that grants each.
	access map[string]map[string]string
}

// NewDirectory indexes the given objects. products gives which APIs each
// product holds; subscriptions to unknown products grant nothing.
func NewDirectory(ps []Partner, apps []App, subs []Subscription, products []catalog.Product) *Directory {
	d := &Directory{
		partners: make(map[string]*Partner, len(ps)),
		apps:     make(map[string]*App, len(apps)),
		subs:     make(map[string][]*Subscription),
		access:   make(map[string]map[string]string),
	}
	for i := range ps {
		d.partners[ps[i].ID] = &ps[i]
	}
	for i := range apps {
		d.apps[apps[i].ClientID] = &apps[i]
	}
	prodAPIs := make(map[string][]string, len(products))
	for _, p := range products {
		prodAPIs[p.ID] = p.APIs
	}
	for i := range subs {
		s := &subs[i]
		d.subs[s.ClientID] = append(d.subs[s.ClientID], s)
		if s.Status != SubscriptionActive {
			continue
		}
		m := d.access[s.ClientID]
		if m == nil {
			m = make(map[string]string)
			d.access[s.ClientID] = m
		}
		for _, api := range prodAPIs[s.Product] {
			if _, ok := m[api]; !ok {
				m[api] = s.Product
			}
		}
	}
	for _, ss := range d.subs {
		sort.Slice(ss, func(i, j int) bool { return ss[i].Product < ss[j].Product })
	}
	return d
}

// Partner returns the partner with the id.
func (d *Directory) Partner(id string) (*Partner, bool) {
	p, ok := d.partners[id]
	return p, ok
}

// App returns the app with the client id.
func (d *Directory) App(clientID string) (*App, bool) {
	a, ok := d.apps[clientID]
	return a, ok
}

// Subscriptions returns the app's subscriptions, sorted by product.
func (d *Directory) Subscriptions(clientID string) []*Subscription {
	return d.subs[clientID]
}

// Grant returns the product through which the app may call the API, if an
// active subscription gives it access.
func (d *Directory) Grant(clientID, apiID string) (product string, ok bool) {
	product, ok = d.access[clientID][apiID]
	return product, ok
}

// MayCall reports whether a partner's apps in env may get tokens and call
// APIs: an approved partner's in both environments; a partner still
// pending approval only in the sandbox, which every partner may use from
// sign-up (approval is for production).
func MayCall(p *Partner, env Environment) bool {
	return p != nil && (p.Status == PartnerApproved || env == Sandbox)
}

// MayUseIn is MayUse for an app in env: in the sandbox a pending partner
// sees what an approved one of its kind would.
func MayUseIn(p *Partner, api *catalog.API, env Environment) bool {
	if p != nil && env == Sandbox && p.Status != PartnerApproved {
		who := *p
		who.Status = PartnerApproved
		return MayUse(&who, api)
	}
	return MayUse(p, api)
}

// MayUse reports whether a partner may see and subscribe to an API of the
// given visibility owned by bank: public APIs are for everyone, alliance
// APIs for member banks, private APIs for the owning bank only. Partners
// must be approved.
func MayUse(p *Partner, api *catalog.API) bool {
	if p == nil || p.Status != PartnerApproved {
		return false
	}
	switch api.Visibility {
	case catalog.VisibilityPublic, "":
		return true
	case catalog.VisibilityAlliance:
		return p.Kind == KindBank
	case catalog.VisibilityPrivate:
		return p.Kind == KindBank && p.Bank == api.Bank
	}
	return false
}

// Len returns the number of partners.
func (d *Directory) Len() int { return len(d.partners) }
