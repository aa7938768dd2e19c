package config

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/catalog"
	"github.com/obhub/obhub/partners"
)

// Spec is an OpenAPI document already loaded and validated by package
// openapi (the admin API calls openapi.Import and hands over the result),
// so that this package never parses OpenAPI itself.
type Spec struct {
	Title      string // info.title
	Version    string // info.version
	BasePath   string // the path of the first servers URL, "" for none
	Operations []catalog.Operation
	JSON       []byte // the canonical JSON document; its SHA-256 is the API's SpecDigest
	// Tags are the document's tag names (openapi.Document.Tags), from which
	// an API without a category set gets one.
	Tags []string
}

// Digest returns the SHA-256 (hex) of the canonical document.
func (s *Spec) Digest() string {
	sum := sha256.Sum256(s.JSON)
	return hex.EncodeToString(sum[:])
}

// APIInput is what an admin sets on an API.
type APIInput struct {
	ID   string
	Bank string
	// Name "" means the document's info.title (or, on an update without a
	// new document, the current name).
	Name string
	// BasePath nil means the document's base path (or, on an update
	// without a new document, the current one).
	BasePath        *string
	Upstream        string
	Visibility      catalog.Visibility // "" means public
	UpstreamTimeout obhub.Duration
	MaxBody         int64
	// Validation, CORS and IPRules are the API's policies
	// (catalog/policy.go); "" and "on" both mean validation on, and empty
	// IP rules are none.
	Validation catalog.Validation
	CORS       *catalog.CORS
	IPRules    *catalog.IPRules
	// Category "" means the one the document's tags give
	// (catalog.CategoryFromTags), or, on an update without a new document,
	// the current one.
	Category catalog.Category
	// Spec is the imported document: required to create; on an update, nil
	// keeps the stored document.
	Spec *Spec
}

// transitions lists the lifecycle moves allowed from each state. Nothing
// leaves retired.
var transitions = map[catalog.Status][]catalog.Status{
	catalog.StatusDraft:      {catalog.StatusPublished},
	catalog.StatusPublished:  {catalog.StatusDeprecated, catalog.StatusRetired},
	catalog.StatusDeprecated: {catalog.StatusRetired},
}

// API returns the API with the id.
func (s *Store) API(ctx context.Context, id string) (*catalog.API, error) {
	r, err := s.loadAPI(ctx, id)
	if err != nil {
		return nil, err
	}
	return &r.v, nil
}

func (s *Store) loadAPI(ctx context.Context, id string) (*record[catalog.API], error) {
	what := fmt.Sprintf("API %q", id)
	if !safeID(id) {
		return nil, notFound(what)
	}
	return load[catalog.API](ctx, s.kv, apiKey(id), what)
}

// ListAPIs returns one page of APIs in id order, and whether more follow.
func (s *Store) ListAPIs(ctx context.Context, opt ListOptions) ([]catalog.API, bool, error) {
	return page[catalog.API](ctx, s.kv, APIsPrefix, opt, nil)
}

// APISpec returns the API's OpenAPI document as canonical JSON.
func (s *Store) APISpec(ctx context.Context, id string) ([]byte, error) {
	if _, err := s.loadAPI(ctx, id); err != nil {
		return nil, err
	}
	got, err := s.kv.Get(ctx, specKey(id))
	if err != nil {
		if obhub.ErrorCode(err) == obhub.ENOTFOUND {
			return nil, notFound(fmt.Sprintf("document of API %q", id))
		}
		return nil, fmt.Errorf("read document of API %q: %w", id, err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(got.Value))
	if err != nil {
		return nil, fmt.Errorf("read document of API %q: %w", id, err)
	}
	doc, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("read document of API %q: %w", id, err)
	}
	return doc, nil
}

// CreateAPI stores a new API, in state draft, with its document, in one
// transaction. The bank must exist, and no other live API of the bank may
// have the same base path.
func (s *Store) CreateAPI(ctx context.Context, in APIInput) (*catalog.API, error) {
	if in.Spec == nil {
		return nil, obhub.Invalid("invalid API", obhub.Detail{Location: "/spec", Message: "is required"})
	}
	now := s.clock.Now().UTC()
	a := catalog.API{ID: in.ID, Bank: in.Bank, Status: catalog.StatusDraft, CreatedAt: now, UpdatedAt: now}
	in.ApplyTo(&a)
	if err := ValidateAPI(&a); err != nil {
		return nil, err
	}
	doc, err := gzipped(in.Spec.JSON)
	if err != nil {
		return nil, err
	}
	err = s.retry(ctx, func() error {
		bank, err := mustExist[catalog.Bank](ctx, s.kv, bankKey(a.Bank), fmt.Sprintf("bank %q", a.Bank))
		if err != nil {
			return err
		}
		if err := s.checkBasePath(ctx, &a); err != nil {
			return err
		}
		return s.create(ctx, apiKey(a.ID), encode(&a), fmt.Sprintf("API %q", a.ID),
			Put(specKey(a.ID), doc, Any), bank.touch())
	})
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// UpdateAPI changes an API: update gets the API's current settings (with
// a nil Spec) and changes what it wants; a non-nil Spec replaces the
// document. The id, bank, status and timestamps are kept.
func (s *Store) UpdateAPI(ctx context.Context, id string, update func(*APIInput) error) (*catalog.API, error) {
	var out catalog.API
	err := s.retry(ctx, func() error {
		r, err := s.loadAPI(ctx, id)
		if err != nil {
			return err
		}
		cur := r.v
		basePath := cur.BasePath
		in := APIInput{
			ID: cur.ID, Bank: cur.Bank, Name: cur.Name, BasePath: &basePath, Upstream: cur.Upstream,
			Visibility: cur.Visibility, UpstreamTimeout: cur.UpstreamTimeout, MaxBody: cur.MaxBody,
			Validation: cur.Validation, CORS: cur.CORS, IPRules: cur.IPRules, Category: cur.Category,
		}
		if err := update(&in); err != nil {
			return err
		}
		ds := immutable(nil, "/id", in.ID != cur.ID)
		ds = immutable(ds, "/bank", in.Bank != cur.Bank)
		if len(ds) > 0 {
			return obhub.Invalid("invalid API", ds...)
		}
		next := cur
		next.Operations = slices.Clone(cur.Operations)
		in.ApplyTo(&next)
		next.UpdatedAt = s.clock.Now().UTC()
		if err := ValidateAPI(&next); err != nil {
			return err
		}
		value := encode(&next)
		if sameExceptUpdated(value, r.kv.Value) {
			out = cur
			return nil
		}
		bank, err := mustExist[catalog.Bank](ctx, s.kv, bankKey(next.Bank), fmt.Sprintf("bank %q", next.Bank))
		if err != nil {
			return err
		}
		if err := s.checkBasePath(ctx, &next); err != nil {
			return err
		}
		ops := []Op{Put(r.key, value, r.kv.ModRevision), bank.touch()}
		if next.SpecDigest != cur.SpecDigest {
			doc, err := gzipped(in.Spec.JSON)
			if err != nil {
				return err
			}
			ops = append(ops, Put(specKey(id), doc, Any))
		}
		out = next
		return s.txn(ctx, ops...)
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// ApplyTo sets a's admin settings from in, with the defaults the document
// gives: the name, base path, visibility, limits and, when in.Spec is set,
// version, operations and digest. Callers use it to check a change with
// ValidateAPI before storing it.
func (in *APIInput) ApplyTo(a *catalog.API) {
	if in.Name != "" {
		a.Name = in.Name
	} else if in.Spec != nil {
		a.Name = strings.TrimSpace(in.Spec.Title)
	}
	if in.BasePath != nil {
		a.BasePath = *in.BasePath
	} else if in.Spec != nil {
		a.BasePath = in.Spec.BasePath
	}
	a.Upstream = in.Upstream
	a.Visibility = in.Visibility
	if a.Visibility == "" {
		a.Visibility = catalog.VisibilityPublic
	}
	if in.Category != "" {
		a.Category = in.Category
	} else if in.Spec != nil {
		a.Category = catalog.CategoryFromTags(in.Spec.Tags)
	}
	a.UpstreamTimeout = in.UpstreamTimeout
	a.MaxBody = in.MaxBody
	a.Validation = in.Validation
	if a.Validation == catalog.ValidationOn {
		a.Validation = "" // stored canonically: "" is on
	}
	a.CORS, a.IPRules = in.CORS, in.IPRules
	if a.IPRules.Empty() {
		a.IPRules = nil
	}
	if in.Spec != nil {
		a.Version = in.Spec.Version
		a.Operations = slices.Clone(in.Spec.Operations)
		if a.Operations == nil {
			a.Operations = []catalog.Operation{}
		}
		a.SpecDigest = in.Spec.Digest()
	}
}

// checkBasePath refuses a base path that another live (not retired) API
// of the same bank has: two routed APIs of a bank must never share one,
// and refusing it already for drafts tells the admin at create time
// rather than at publish time. Writers serialise on the bank key (they
// rewrite it), so two concurrent writers cannot both pass this check.
func (s *Store) checkBasePath(ctx context.Context, a *catalog.API) error {
	apis, err := loadAll[catalog.API](ctx, s.kv, APIsPrefix)
	if err != nil {
		return err
	}
	for _, o := range apis {
		if o.v.ID != a.ID && o.v.Bank == a.Bank && o.v.Status != catalog.StatusRetired && o.v.BasePath == a.BasePath {
			return obhub.Errorf(obhub.ECONFLICT, "API %q of bank %q already has the base path %q", o.v.ID, a.Bank, displayPath(a.BasePath))
		}
	}
	return nil
}

func displayPath(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

// PublishAPI moves a draft API to published: it is routed from then on.
func (s *Store) PublishAPI(ctx context.Context, id string) (*catalog.API, error) {
	return s.transition(ctx, id, "publish", catalog.StatusPublished, time.Time{})
}

// DeprecateAPI moves a published API to deprecated: still routed, with a
// Sunset header when sunset is not zero. sunset must be in the future.
func (s *Store) DeprecateAPI(ctx context.Context, id string, sunset time.Time) (*catalog.API, error) {
	if !sunset.IsZero() && !sunset.After(s.clock.Now()) {
		return nil, obhub.Invalid("invalid sunset", obhub.Detail{Location: "/sunset", Message: "must be in the future"})
	}
	return s.transition(ctx, id, "deprecate", catalog.StatusDeprecated, sunset)
}

// RetireAPI moves a published or deprecated API to retired: it is no
// longer routed (the gateway answers 404), and nothing brings it back.
func (s *Store) RetireAPI(ctx context.Context, id string) (*catalog.API, error) {
	return s.transition(ctx, id, "retire", catalog.StatusRetired, time.Time{})
}

func (s *Store) transition(ctx context.Context, id, verb string, to catalog.Status, sunset time.Time) (*catalog.API, error) {
	var out catalog.API
	err := s.retry(ctx, func() error {
		r, err := s.loadAPI(ctx, id)
		if err != nil {
			return err
		}
		next := r.v
		if !slices.Contains(transitions[next.Status], to) {
			return obhub.Errorf(obhub.ECONFLICT,
				"cannot %s API %q: it is %s (the lifecycle is draft → published → deprecated → retired, or published → retired)",
				verb, id, next.Status)
		}
		now := s.clock.Now().UTC()
		next.Status, next.UpdatedAt = to, now
		ops := []Op{}
		switch to {
		case catalog.StatusPublished:
			bank, err := mustExist[catalog.Bank](ctx, s.kv, bankKey(next.Bank), fmt.Sprintf("bank %q", next.Bank))
			if err != nil {
				return err
			}
			if err := s.checkBasePath(ctx, &next); err != nil {
				return err
			}
			ops = append(ops, bank.touch())
		case catalog.StatusDeprecated:
			next.DeprecatedAt = now
			next.Sunset = sunset.UTC()
		}
		out = next
		return s.txn(ctx, append(ops, Put(r.key, encode(&next), r.kv.ModRevision))...)
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteAPI removes an API and its document. An API that a product holds
// cannot be deleted.
func (s *Store) DeleteAPI(ctx context.Context, id string) error {
	return s.retry(ctx, func() error {
		r, err := s.loadAPI(ctx, id)
		if err != nil {
			return err
		}
		products, err := loadAll[catalog.Product](ctx, s.kv, ProductsPrefix)
		if err != nil {
			return err
		}
		var users []string
		for _, p := range products {
			if slices.Contains(p.v.APIs, id) {
				users = append(users, p.v.ID)
			}
		}
		if len(users) > 0 {
			return inUse(fmt.Sprintf("API %q", id), "product", users)
		}
		return s.txn(ctx, Delete(r.key, r.kv.ModRevision), Delete(specKey(id), Any))
	})
}

// basePathPattern: "" or segments of URL path characters, no trailing
// slash, no percent-encoding, no templates.
var basePathPattern = regexp.MustCompile(`^(/[A-Za-z0-9._~!$&'()*+,;=:@-]+)*$`)

// ValidateAPI checks an API's settings before it is stored, listing every
// problem.
func ValidateAPI(a *catalog.API) error {
	ds := catalog.CheckID(nil, "/id", a.ID)
	ds = catalog.CheckID(ds, "/bank", a.Bank)
	if strings.TrimSpace(a.Name) == "" {
		ds = append(ds, obhub.Detail{Location: "/name", Message: "is required (or give the document an info.title)"})
	}
	if msg := checkBasePath(a.BasePath); msg != "" {
		ds = append(ds, obhub.Detail{Location: "/basePath", Message: msg})
	}
	if msg := CheckUpstream(a.Upstream); msg != "" {
		ds = append(ds, obhub.Detail{Location: "/upstream", Message: msg})
	}
	switch a.Visibility {
	case catalog.VisibilityPublic, catalog.VisibilityAlliance, catalog.VisibilityPrivate:
	default:
		ds = append(ds, obhub.Detail{Location: "/visibility", Message: `must be "public", "alliance" or "private"`})
	}
	ds = catalog.CheckCategory(ds, "/category", a.Category)
	if a.UpstreamTimeout < 0 {
		ds = append(ds, obhub.Detail{Location: "/upstreamTimeout", Message: "must not be negative"})
	}
	if a.MaxBody < 0 {
		ds = append(ds, obhub.Detail{Location: "/maxBody", Message: "must not be negative"})
	}
	ds = catalog.CheckPolicies(ds, a.Validation, a.CORS, a.IPRules)
	if len(ds) > 0 {
		return obhub.Invalid("invalid API", ds...)
	}
	return nil
}

func checkBasePath(p string) string {
	if !basePathPattern.MatchString(p) {
		return `must be empty or a path such as "/v1": a leading slash, no trailing slash, no query, no templates or percent-encoding`
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "." || seg == ".." {
			return `must not contain "." or ".." segments`
		}
	}
	return ""
}

// CheckUpstream returns why u cannot be an upstream base URL, or "". An
// upstream is an absolute http or https URL with a host, without user
// information, query, fragment or trailing slash. Private and loopback
// hosts are allowed: bank core systems live on internal networks, and
// upstreams are set only by admins.
func CheckUpstream(u string) string {
	if u == "" {
		return "is required"
	}
	p, err := url.Parse(u)
	switch {
	case err != nil || p.Opaque != "" || !p.IsAbs():
		return "must be an absolute http or https URL such as https://core.bank.example:8443/api"
	case p.Scheme != "http" && p.Scheme != "https":
		return "must use http or https"
	case p.Host == "" || p.Hostname() == "":
		return "must name a host"
	case p.User != nil:
		return "must not contain user information"
	case p.RawQuery != "" || p.ForceQuery:
		return "must not contain a query"
	case p.Fragment != "" || strings.Contains(u, "#"):
		return "must not contain a fragment"
	case strings.HasSuffix(p.Path, "/"):
		return "must not end with a slash"
	}
	return ""
}

func gzipped(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		return nil, fmt.Errorf("compress document: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compress document: %w", err)
	}
	return buf.Bytes(), nil
}

// --- Products ---

// Product returns the product with the id.
func (s *Store) Product(ctx context.Context, id string) (*catalog.Product, error) {
	r, err := s.loadProduct(ctx, id)
	if err != nil {
		return nil, err
	}
	return &r.v, nil
}

func (s *Store) loadProduct(ctx context.Context, id string) (*record[catalog.Product], error) {
	what := fmt.Sprintf("product %q", id)
	if !safeID(id) {
		return nil, notFound(what)
	}
	return load[catalog.Product](ctx, s.kv, productKey(id), what)
}

// ListProducts returns one page of products in id order, and whether more
// follow.
func (s *Store) ListProducts(ctx context.Context, opt ListOptions) ([]catalog.Product, bool, error) {
	return page[catalog.Product](ctx, s.kv, ProductsPrefix, opt, nil)
}

// CreateProduct stores a new product. Every API it lists must exist.
func (s *Store) CreateProduct(ctx context.Context, p catalog.Product) (*catalog.Product, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	now := s.clock.Now().UTC()
	p.CreatedAt, p.UpdatedAt = now, now
	err := s.retry(ctx, func() error {
		refs, err := s.productRefs(ctx, &p, nil)
		if err != nil {
			return err
		}
		return s.create(ctx, productKey(p.ID), encode(&p), fmt.Sprintf("product %q", p.ID), refs...)
	})
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// productRefs checks that the product's APIs exist, and that those not
// among had (the APIs it held before) are not retired, and returns ops
// that keep them from disappearing under the write. An API retired while
// in the product stays in it (its subscribers' records name it) until an
// operator takes it out.
func (s *Store) productRefs(ctx context.Context, p *catalog.Product, had []string) ([]Op, error) {
	ops := make([]Op, 0, len(p.APIs))
	var ds []obhub.Detail
	for _, id := range p.APIs {
		api, err := mustExist[catalog.API](ctx, s.kv, apiKey(id), fmt.Sprintf("API %q", id))
		if err != nil {
			return nil, err
		}
		if api.v.Status == catalog.StatusRetired && !slices.Contains(had, id) {
			return nil, obhub.Errorf(obhub.ECONFLICT, "API %q is retired: a retired API cannot be added to a product", id)
		}
		ds = checkOverrides(ds, p, &api.v)
		ops = append(ops, api.touch())
	}
	if len(ds) > 0 {
		return nil, obhub.Invalid("invalid product", ds...)
	}
	return ops, nil
}

// UpdateProduct changes a product: update gets a copy of the current
// product and changes what it wants; the id and timestamps are kept.
// Existing subscriptions keep their status when the approval changes.
func (s *Store) UpdateProduct(ctx context.Context, id string, update func(*catalog.Product) error) (*catalog.Product, error) {
	var out catalog.Product
	err := s.retry(ctx, func() error {
		r, err := s.loadProduct(ctx, id)
		if err != nil {
			return err
		}
		next := r.v
		next.APIs = slices.Clone(r.v.APIs)
		next.Plan = clonePlan(r.v.Plan)
		if err := update(&next); err != nil {
			return err
		}
		if ds := immutable(nil, "/id", next.ID != r.v.ID); len(ds) > 0 {
			return obhub.Invalid("invalid product", ds...)
		}
		next.CreatedAt, next.UpdatedAt = r.v.CreatedAt, s.clock.Now().UTC()
		if err := next.Validate(); err != nil {
			return err
		}
		value := encode(&next)
		if sameExceptUpdated(value, r.kv.Value) {
			out = r.v
			return nil
		}
		refs, err := s.productRefs(ctx, &next, r.v.APIs)
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

// checkOverrides appends a problem for each of the plan's operation
// overrides on api that names no operation of the API's document.
func checkOverrides(ds []obhub.Detail, p *catalog.Product, api *catalog.API) []obhub.Detail {
	for i, o := range p.Plan.Operations {
		if o.API != api.ID {
			continue
		}
		if !slices.ContainsFunc(api.Operations, func(op catalog.Operation) bool { return op.ID == o.Operation }) {
			ds = append(ds, obhub.Detail{
				Location: fmt.Sprintf("/plan/operations/%d/operation", i),
				Message:  fmt.Sprintf("API %q has no operation %q (give its operationId, or \"METHOD /path\" when it has none)", api.ID, o.Operation),
			})
		}
	}
	return ds
}

func clonePlan(p catalog.Plan) catalog.Plan {
	if p.Rate != nil {
		r := *p.Rate
		p.Rate = &r
	}
	if p.Quota != nil {
		q := *p.Quota
		p.Quota = &q
	}
	p.Operations = slices.Clone(p.Operations)
	return p
}

// DeleteProduct removes a product that no subscription refers to.
func (s *Store) DeleteProduct(ctx context.Context, id string) error {
	return s.retry(ctx, func() error {
		r, err := s.loadProduct(ctx, id)
		if err != nil {
			return err
		}
		subs, err := loadAll[partners.Subscription](ctx, s.kv, SubscriptionsPrefix)
		if err != nil {
			return err
		}
		var users []string
		for _, sub := range subs {
			if sub.v.Product == id {
				users = append(users, sub.v.ClientID)
			}
		}
		if len(users) > 0 {
			return inUse(fmt.Sprintf("product %q", id), "subscribed app", users)
		}
		return s.txn(ctx, Delete(r.key, r.kv.ModRevision))
	})
}
