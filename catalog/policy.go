package catalog

import (
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/obhub/obhub"
)

// The policy settings of banks, APIs, products and apps. They are stored
// with their objects and enforced by the gateway through package policies;
// docs/policies.md gives the precedence between levels.

// BankLimits protects a member bank's core system from all partners
// together. Zero fields set no ceiling.
type BankLimits struct {
	// Rate is the most calls per period the bank's APIs receive from all
	// apps together (shared by the nodes of a cluster with --redis).
	Rate *Limit `json:"rate,omitempty" yaml:"rate"`
	// MaxInFlight is the most calls in progress to the bank's upstreams
	// at once, per node.
	MaxInFlight int `json:"maxInFlight,omitempty" yaml:"maxInFlight"`
}

// OperationLimit overrides a plan's rate for one operation of one API:
// calls to it count against Rate instead of the plan's rate.
type OperationLimit struct {
	API       string `json:"api" yaml:"api"`
	Operation string `json:"operation" yaml:"operation"` // operationId, or "METHOD /path"
	Rate      Limit  `json:"rate" yaml:"rate"`
}

// Validation says whether the gateway validates requests against the
// API's OpenAPI document. "" means on.
type Validation string

// Validation settings.
const (
	ValidationOn  Validation = "on"
	ValidationOff Validation = "off"
)

// Enabled reports whether requests are validated.
func (v Validation) Enabled() bool { return v != ValidationOff }

// IPRules admit or refuse calls by client address. A call from an address
// in Deny is refused; when Allow is not empty, only addresses in it are
// admitted. Entries are CIDR prefixes ("10.0.0.0/8") or single addresses.
type IPRules struct {
	Allow []string `json:"allow,omitempty" yaml:"allow"`
	Deny  []string `json:"deny,omitempty" yaml:"deny"`
}

// Empty reports whether the rules admit every address.
func (r *IPRules) Empty() bool { return r == nil || (len(r.Allow) == 0 && len(r.Deny) == 0) }

// Admits reports whether addr passes the rules. Entries that do not parse
// never match (Validate refuses them before they are stored).
func (r *IPRules) Admits(addr netip.Addr) bool {
	if r.Empty() {
		return true
	}
	addr = addr.Unmap()
	for _, s := range r.Deny {
		if p, ok := ParsePrefix(s); ok && p.Contains(addr) {
			return false
		}
	}
	if len(r.Allow) == 0 {
		return true
	}
	for _, s := range r.Allow {
		if p, ok := ParsePrefix(s); ok && p.Contains(addr) {
			return true
		}
	}
	return false
}

// ParsePrefix reads a CIDR prefix or a single address.
func ParsePrefix(s string) (netip.Prefix, bool) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, false
		}
		p = p.Masked()
		if p.Addr().Is4In6() {
			return netip.Prefix{}, false
		}
		return p, true
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), true
}

// CORS says which browser origins may call an API. Without it no CORS
// header is sent and browsers keep to the same origin.
type CORS struct {
	// AllowOrigins are exact origins ("https://app.example.com") or "*"
	// (any origin, only without AllowCredentials).
	AllowOrigins []string `json:"allowOrigins" yaml:"allowOrigins"`
	// AllowHeaders are the request headers a browser may send beyond the
	// simple ones; default Authorization, Content-Type, Idempotency-Key,
	// X-Request-Id.
	AllowHeaders []string `json:"allowHeaders,omitempty" yaml:"allowHeaders"`
	// ExposeHeaders are the response headers a script may read beyond the
	// simple ones; X-Request-Id and the RateLimit headers always are.
	ExposeHeaders    []string       `json:"exposeHeaders,omitempty" yaml:"exposeHeaders"`
	AllowCredentials bool           `json:"allowCredentials,omitempty" yaml:"allowCredentials"`
	MaxAge           obhub.Duration `json:"maxAge,omitzero" yaml:"maxAge"`
}

// AllowsOrigin reports whether origin may call, and the value of
// Access-Control-Allow-Origin to answer with.
func (c *CORS) AllowsOrigin(origin string) (string, bool) {
	if c == nil || origin == "" {
		return "", false
	}
	for _, o := range c.AllowOrigins {
		if o == "*" && !c.AllowCredentials {
			return "*", true
		}
		if o == origin {
			return origin, true
		}
	}
	return "", false
}

// CheckPolicies appends the problems of an API's policy settings to ds.
func CheckPolicies(ds []obhub.Detail, v Validation, cors *CORS, ip *IPRules) []obhub.Detail {
	switch v {
	case "", ValidationOn, ValidationOff:
	default:
		ds = append(ds, obhub.Detail{Location: "/validation", Message: `must be "on" or "off"`})
	}
	ds = cors.check(ds, "/cors")
	ds = ip.Check(ds, "/ipRules")
	return ds
}

func (c *CORS) check(ds []obhub.Detail, loc string) []obhub.Detail {
	if c == nil {
		return ds
	}
	if len(c.AllowOrigins) == 0 {
		ds = append(ds, obhub.Detail{Location: loc + "/allowOrigins", Message: "must list at least one origin"})
	}
	for i, o := range c.AllowOrigins {
		l := loc + "/allowOrigins/" + strconv.Itoa(i)
		if o == "*" {
			if c.AllowCredentials {
				ds = append(ds, obhub.Detail{Location: l, Message: `"*" cannot be combined with allowCredentials: list the origins`})
			}
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil || o != strings.ToLower(o) {
			ds = append(ds, obhub.Detail{Location: l, Message: `must be "*" or an origin such as "https://app.example.com" (lower case, no path)`})
		}
	}
	for i, h := range c.AllowHeaders {
		if !token(h) {
			ds = append(ds, obhub.Detail{Location: loc + "/allowHeaders/" + strconv.Itoa(i), Message: "must be a header name"})
		}
	}
	for i, h := range c.ExposeHeaders {
		if !token(h) {
			ds = append(ds, obhub.Detail{Location: loc + "/exposeHeaders/" + strconv.Itoa(i), Message: "must be a header name"})
		}
	}
	if c.MaxAge < 0 {
		ds = append(ds, obhub.Detail{Location: loc + "/maxAge", Message: "must not be negative"})
	}
	return ds
}

// token reports whether s is an RFC 9110 token (a header name).
func token(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// Check appends the problems of IP rules to ds.
func (r *IPRules) Check(ds []obhub.Detail, loc string) []obhub.Detail {
	if r == nil {
		return ds
	}
	for _, l := range []struct {
		name string
		list []string
	}{{"allow", r.Allow}, {"deny", r.Deny}} {
		if len(l.list) > 1000 {
			ds = append(ds, obhub.Detail{Location: loc + "/" + l.name, Message: "must hold at most 1000 entries"})
			continue
		}
		for i, s := range l.list {
			if _, ok := ParsePrefix(s); !ok {
				ds = append(ds, obhub.Detail{Location: loc + "/" + l.name + "/" + strconv.Itoa(i), Message: `must be an IP address or CIDR prefix such as "10.0.0.0/8"`})
			}
		}
	}
	return ds
}

// Check appends the problems of bank limits to ds.
func (b *BankLimits) Check(ds []obhub.Detail, loc string) []obhub.Detail {
	if b == nil {
		return ds
	}
	ds = b.Rate.check(ds, loc+"/rate")
	if b.MaxInFlight < 0 {
		ds = append(ds, obhub.Detail{Location: loc + "/maxInFlight", Message: "must not be negative"})
	}
	return ds
}

// checkOperations appends the problems of a plan's operation overrides;
// each names one of the product's apis.
func checkOperations(ds []obhub.Detail, loc string, ops []OperationLimit, apis []string) []obhub.Detail {
	seen := map[[2]string]bool{}
	for i, o := range ops {
		l := loc + "/" + strconv.Itoa(i)
		ds = CheckID(ds, l+"/api", o.API)
		if ValidID(o.API) && !slices.Contains(apis, o.API) {
			ds = append(ds, obhub.Detail{Location: l + "/api", Message: "must be one of the product's apis"})
		}
		if strings.TrimSpace(o.Operation) == "" {
			ds = append(ds, obhub.Detail{Location: l + "/operation", Message: "is required"})
		}
		k := [2]string{o.API, o.Operation}
		if seen[k] {
			ds = append(ds, obhub.Detail{Location: l, Message: "overrides the same operation twice"})
		}
		seen[k] = true
		r := o.Rate
		ds = r.check(ds, l+"/rate")
	}
	return ds
}

// OperationRate returns the rate that overrides the plan's for the
// operation, if any.
func (p *Plan) OperationRate(api, operation string) (*Limit, bool) {
	for i := range p.Operations {
		if o := &p.Operations[i]; o.API == api && o.Operation == operation {
			return &o.Rate, true
		}
	}
	return nil, false
}
