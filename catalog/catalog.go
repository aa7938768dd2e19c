// Package catalog holds what the alliance publishes: member banks, their
// APIs (imported from OpenAPI documents) with operations, lifecycle and
// visibility, and products that group APIs under a plan.
//
// A Catalog is an immutable snapshot with a route table: given a bank, a
// path and a method it finds the API and operation in a few map lookups and
// a segment walk. It never parses OpenAPI itself (package openapi does that
// at import time and hands over []Operation).
package catalog

import (
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/obhub/obhub"
)

// Bank is an alliance member bank.
type Bank struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Limits protect the bank's core system from all partners together.
	Limits *BankLimits `json:"limits,omitempty"`
	// OIDC is the bank's customer identity provider (bank_oidc.go); nil:
	// production apps cannot ask this bank's customers for consent.
	OIDC      *BankOIDC `json:"oidc,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Status is an API's lifecycle state.
type Status string

// Lifecycle states, in order. Only published and deprecated APIs are routed.
const (
	StatusDraft      Status = "draft"
	StatusPublished  Status = "published"
	StatusDeprecated Status = "deprecated"
	StatusRetired    Status = "retired"
)

// Routed reports whether APIs in this state receive traffic.
func (s Status) Routed() bool { return s == StatusPublished || s == StatusDeprecated }

// Visibility says which partners may see and subscribe to an API.
type Visibility string

// Visibilities.
const (
	VisibilityPublic   Visibility = "public"   // every partner; readable in the portal without signing in
	VisibilityAlliance Visibility = "alliance" // member banks' apps only
	VisibilityPrivate  Visibility = "private"  // the owning bank's own apps only
)

// API is one bank API imported from an OpenAPI document. The document
// itself is kept apart (it may be megabytes); the API holds what routing
// needs.
type API struct {
	ID         string     `json:"id"`
	Bank       string     `json:"bank"`
	Name       string     `json:"name"`
	Version    string     `json:"version,omitempty"` // info.version of the document
	BasePath   string     `json:"basePath"`          // "" or "/v1" style: leading slash, no trailing slash
	Upstream   string     `json:"upstream"`          // bank base URL, scheme://host[:port][/prefix]
	Visibility Visibility `json:"visibility"`
	// Category is what the API is about (category.go): set by an admin or
	// derived from the document's tags; "" only for APIs stored before
	// categories existed, shown as other.
	Category   Category    `json:"category,omitempty"`
	Status     Status      `json:"status"`
	Operations []Operation `json:"operations"`
	SpecDigest string      `json:"specDigest"` // SHA-256 (hex) of the stored document
	// Sunset is when a deprecated API stops being routed, announced in the
	// Sunset header (RFC 8594). Zero when not announced.
	Sunset       time.Time `json:"sunset,omitzero"`
	DeprecatedAt time.Time `json:"deprecatedAt,omitzero"`
	// UpstreamTimeout and MaxBody override the server defaults when set.
	UpstreamTimeout obhub.Duration `json:"upstreamTimeout,omitzero"`
	MaxBody         int64          `json:"maxBody,omitempty"`
	// Validation, CORS and IPRules are the API's policies (policy.go).
	Validation Validation `json:"validation,omitempty"`
	CORS       *CORS      `json:"cors,omitempty"`
	IPRules    *IPRules   `json:"ipRules,omitempty"`
	CreatedAt  time.Time  `json:"createdAt"`
	UpdatedAt  time.Time  `json:"updatedAt"`
}

// Operation is one method on one path template of an API.
type Operation struct {
	ID     string   `json:"id"`     // operationId, or "METHOD /path" when the document has none
	Method string   `json:"method"` // upper case
	Path   string   `json:"path"`   // template relative to the base path, e.g. /accounts/{accountId}
	Scopes []string `json:"scopes,omitempty"`
	// Public is true when the document declares the operation needs no
	// security (security: []). The gateway still requires a token from a
	// subscribed app; Public only means no scope is required.
	Public bool `json:"public,omitempty"`
	// CustomerOnly is true when the operation acts only for a customer who
	// consented: every security requirement the document gives it names
	// an oauth2 scheme with an authorizationCode flow and none with a
	// clientCredentials flow. The gateway then refuses an app's own token
	// (client credentials) with 403 consent-required.
	CustomerOnly bool   `json:"customerOnly,omitempty"`
	Summary      string `json:"summary,omitempty"`
}

// Product groups APIs under one plan; apps subscribe to products.
type Product struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	APIs        []string  `json:"apis"`
	Plan        Plan      `json:"plan"`
	Approval    Approval  `json:"approval"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// Approval says whether new subscriptions to a product are active at once.
type Approval string

// Approvals.
const (
	ApprovalAuto   Approval = "auto"
	ApprovalManual Approval = "manual"
)

// Plan is the commercial terms of a product: a rate and a quota per app.
// Stored here; enforced by package policies.
type Plan struct {
	Rate  *Limit `json:"rate,omitempty"`
	Quota *Limit `json:"quota,omitempty"`
	// Operations override Rate for single operations (policy.go).
	Operations []OperationLimit `json:"operations,omitempty"`
}

// Limit is N requests per period.
type Limit struct {
	Limit  int64          `json:"limit"`
	Period obhub.Duration `json:"period"`
}

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// reservedBankIDs are the public listener's own first path segments.
var reservedBankIDs = map[string]bool{
	"oauth2": true, "sandbox": true, "portal": true, ".well-known": true,
	"healthz": true, "readyz": true, "static": true, "metrics": true,
}

// ValidID reports whether s is a valid object id: 1–63 lowercase letters,
// digits and '-', starting with a letter or digit.
func ValidID(s string) bool { return idPattern.MatchString(s) }

// CheckID appends a detail to ds when id is not a valid id.
func CheckID(ds []obhub.Detail, location, id string) []obhub.Detail {
	switch {
	case id == "":
		return append(ds, obhub.Detail{Location: location, Message: "is required"})
	case !ValidID(id):
		return append(ds, obhub.Detail{Location: location, Message: "must be 1-63 lowercase letters, digits or '-', starting with a letter or digit"})
	}
	return ds
}

// Validate checks a bank before it is stored.
func (b *Bank) Validate() error {
	ds := CheckID(nil, "/id", b.ID)
	if reservedBankIDs[b.ID] {
		ds = append(ds, obhub.Detail{Location: "/id", Message: "is reserved by the hub's own paths"})
	}
	if strings.TrimSpace(b.Name) == "" {
		ds = append(ds, obhub.Detail{Location: "/name", Message: "is required"})
	}
	ds = b.Limits.Check(ds, "/limits")
	ds = b.OIDC.Check(ds, "/oidc")
	if len(ds) > 0 {
		return obhub.Invalid("invalid bank", ds...)
	}
	return nil
}

// Validate checks a product before it is stored. It does not check that
// the APIs exist; the store does that against the current catalog.
func (p *Product) Validate() error {
	ds := CheckID(nil, "/id", p.ID)
	if strings.TrimSpace(p.Name) == "" {
		ds = append(ds, obhub.Detail{Location: "/name", Message: "is required"})
	}
	if len(p.APIs) == 0 {
		ds = append(ds, obhub.Detail{Location: "/apis", Message: "must list at least one API"})
	}
	seen := map[string]bool{}
	for i, id := range p.APIs {
		if seen[id] {
			ds = append(ds, obhub.Detail{Location: "/apis/" + strconv.Itoa(i), Message: "is listed twice"})
		}
		seen[id] = true
	}
	ds = p.Plan.Rate.check(ds, "/plan/rate")
	ds = p.Plan.Quota.check(ds, "/plan/quota")
	ds = checkOperations(ds, "/plan/operations", p.Plan.Operations, p.APIs)
	switch p.Approval {
	case ApprovalAuto, ApprovalManual:
	default:
		ds = append(ds, obhub.Detail{Location: "/approval", Message: `must be "auto" or "manual"`})
	}
	if len(ds) > 0 {
		return obhub.Invalid("invalid product", ds...)
	}
	return nil
}

func (l *Limit) check(ds []obhub.Detail, loc string) []obhub.Detail {
	if l == nil {
		return ds
	}
	if l.Limit <= 0 {
		ds = append(ds, obhub.Detail{Location: loc + "/limit", Message: "must be a positive number of requests"})
	}
	if l.Period.D() <= 0 {
		ds = append(ds, obhub.Detail{Location: loc + "/period", Message: `must be a positive duration such as "1s" or "24h"`})
	}
	return ds
}
