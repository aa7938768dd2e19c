package admin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/catalog"
	"github.com/obhub/obhub/config"
	"github.com/obhub/obhub/openapi"
	"github.com/obhub/obhub/partners"
)

// Declaration is the desired configuration of an alliance, as written in
// the file of `obhub apply -f alliance.yaml`. Apply creates what is
// missing and updates what differs; it never deletes anything the file
// does not mention.
type Declaration struct {
	Banks    []BankDecl    `yaml:"banks"`
	APIs     []APIDecl     `yaml:"apis"`
	Products []ProductDecl `yaml:"products"`
	Partners []PartnerDecl `yaml:"partners"`
	Apps     []AppDecl     `yaml:"apps"`
}

// BankDecl declares a member bank.
type BankDecl struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
	// Limits protect the bank's core system from all partners together.
	Limits *catalog.BankLimits `yaml:"limits"`
	// OIDC is the bank's customer identity provider (apply_bank_oidc.go);
	// left out, the bank keeps the one it has.
	OIDC *BankOIDCDecl `yaml:"oidc"`
}

// APIDecl declares an API of a bank.
type APIDecl struct {
	ID   string `yaml:"id"`
	Bank string `yaml:"bank"`
	// SpecFile is the OpenAPI document's file, relative to the declaration
	// file; LoadDeclaration reads it into Spec. Give SpecFile or Spec.
	SpecFile string `yaml:"specFile"`
	// Spec is the OpenAPI document itself: inline YAML, or a string
	// holding JSON or YAML.
	Spec            SpecSource     `yaml:"spec"`
	Upstream        string         `yaml:"upstream"`
	BasePath        *string        `yaml:"basePath"`   // nil: the document's
	Name            string         `yaml:"name"`       // "": the document's info.title
	Visibility      string         `yaml:"visibility"` // "": public
	UpstreamTimeout obhub.Duration `yaml:"upstreamTimeout"`
	MaxBody         int64          `yaml:"maxBody"`
	// The API's policies: validation "on" (default) or "off", CORS and
	// IP rules (docs/policies.md).
	Validation string           `yaml:"validation"`
	CORS       *catalog.CORS    `yaml:"cors"`
	IPRules    *catalog.IPRules `yaml:"ipRules"`
	// Category is one of accounts, payments, loans, cards, branches,
	// other; "" takes the one the document's tags give.
	Category string `yaml:"category"`
	// Status is the lifecycle state to reach: draft, published,
	// deprecated or retired. "" leaves it as it is (draft when created).
	Status string `yaml:"status"`
	// Sunset is announced when Apply deprecates the API.
	Sunset time.Time `yaml:"sunset"`
}

// SpecSource is an OpenAPI document given inline in a declaration.
type SpecSource []byte

// UnmarshalYAML takes a YAML mapping (the document itself) or a string
// holding the document.
func (s *SpecSource) UnmarshalYAML(n *yaml.Node) error {
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!!str":
		*s = []byte(n.Value)
		return nil
	case n.Kind == yaml.MappingNode:
		b, err := yaml.Marshal(n)
		if err != nil {
			return err
		}
		*s = b
		return nil
	}
	return fmt.Errorf("line %d: spec must be an OpenAPI document (a mapping) or a string holding one", n.Line)
}

// ProductDecl declares a product.
type ProductDecl struct {
	ID          string       `yaml:"id"`
	Name        string       `yaml:"name"`
	Description string       `yaml:"description"`
	APIs        []string     `yaml:"apis"`
	Plan        catalog.Plan `yaml:"plan"`
	Approval    string       `yaml:"approval"`
}

// PartnerDecl declares a partner. Approved partners are approved by
// Apply; leaving Approved out never revokes an approval.
type PartnerDecl struct {
	ID       string `yaml:"id"`
	Name     string `yaml:"name"`
	Kind     string `yaml:"kind"`
	Bank     string `yaml:"bank"`
	Approved bool   `yaml:"approved"`
}

// AppDecl declares an app. Client ids are generated, so an app is known by
// its partner and name (unique within the partner).
type AppDecl struct {
	Partner                 string         `yaml:"partner"`
	Name                    string         `yaml:"name"`
	Environment             string         `yaml:"environment"`
	GrantTypes              []string       `yaml:"grant_types"`
	RedirectURIs            []string       `yaml:"redirect_uris"`
	Scopes                  []string       `yaml:"scopes"`
	TokenEndpointAuthMethod string         `yaml:"token_endpoint_auth_method"` // "": client_secret_basic
	JWKS                    map[string]any `yaml:"jwks"`
	// IPRules admit or refuse the app's calls by client address.
	IPRules *catalog.IPRules `yaml:"ipRules"`
	// FAPI and DPoPBound: see partners.App.
	FAPI      bool `yaml:"fapi"`
	DPoPBound bool `yaml:"dpop_bound_access_tokens"`
	// Certificate registration and binding (RFC 8705), named as in the
	// admin API: see partners.MTLS.
	TLSClientAuthSubjectDN string `yaml:"tls_client_auth_subject_dn"`
	TLSClientAuthSANDNS    string `yaml:"tls_client_auth_san_dns"`
	TLSBound               bool   `yaml:"tls_client_certificate_bound_access_tokens"`
	// Subscriptions lists the products the app subscribes to. Apply adds
	// the missing ones and removes none.
	Subscriptions []string `yaml:"subscriptions"`
}

// LoadDeclaration reads and checks a declaration file, and reads the
// spec files it names (relative to its folder). Errors name the file and
// the line or field.
func LoadDeclaration(path string) (*Declaration, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var d Declaration
	if err := dec.Decode(&d); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: the file is empty", path)
		}
		return nil, yamlError(path, err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: holds more than one YAML document; put everything in one", path)
	}
	if errs := d.check(filepath.Dir(path)); len(errs) > 0 {
		for i, e := range errs {
			errs[i] = fmt.Errorf("%s: %w", path, e)
		}
		return nil, errors.Join(errs...)
	}
	return &d, nil
}

var unknownField = regexp.MustCompile(`field (\S+) not found in type \S+`)

// yamlError rewrites yaml.v3's errors for people: one line per problem,
// without Go type names.
func yamlError(path string, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return fmt.Errorf("%s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	errs := make([]error, len(te.Errors))
	for i, msg := range te.Errors {
		msg = unknownField.ReplaceAllString(msg, `unknown field "$1"`)
		errs[i] = fmt.Errorf("%s: %s", path, msg)
	}
	return errors.Join(errs...)
}

// check finds what is missing or inconsistent in d, and reads the spec
// files (relative to dir).
func (d *Declaration) check(dir string) []error {
	var errs []error
	bad := func(where, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", where, fmt.Sprintf(format, args...)))
	}
	seen := map[string]bool{}
	unique := func(kind, where, id string) {
		if id == "" {
			bad(where, "id is required")
			return
		}
		if seen[kind+"\x00"+id] {
			bad(where, "%s %q is declared twice", kind, id)
		}
		seen[kind+"\x00"+id] = true
	}
	for i, b := range d.Banks {
		unique("bank", fmt.Sprintf("banks[%d]", i), b.ID)
	}
	for i := range d.APIs {
		a := &d.APIs[i]
		where := fmt.Sprintf("apis[%d] (%s)", i, a.ID)
		unique("api", where, a.ID)
		if a.Bank == "" {
			bad(where, "bank is required")
		}
		switch {
		case a.SpecFile != "" && len(a.Spec) > 0:
			bad(where, "give specFile or spec, not both")
		case a.SpecFile != "":
			file := a.SpecFile
			if !filepath.IsAbs(file) {
				file = filepath.Join(dir, file)
			}
			data, err := os.ReadFile(file)
			if err != nil {
				bad(where, "specFile: %v", err)
			}
			a.Spec = data
		case len(a.Spec) == 0:
			bad(where, "specFile (or spec) is required")
		}
		switch a.Validation {
		case "", "on", "off":
		default:
			bad(where, "validation must be on or off")
		}
		switch a.Status {
		case "", "draft", "published", "deprecated", "retired":
		default:
			bad(where, "status must be draft, published, deprecated or retired")
		}
	}
	for i, p := range d.Products {
		where := fmt.Sprintf("products[%d] (%s)", i, p.ID)
		unique("product", where, p.ID)
		if len(p.APIs) == 0 {
			bad(where, "apis must list at least one API")
		}
	}
	for i, p := range d.Partners {
		unique("partner", fmt.Sprintf("partners[%d] (%s)", i, p.ID), p.ID)
	}
	for i, a := range d.Apps {
		where := fmt.Sprintf("apps[%d] (%s/%s)", i, a.Partner, a.Name)
		if a.Partner == "" || a.Name == "" {
			bad(where, "partner and name are required: they identify the app")
			continue
		}
		unique("app", where, a.Partner+"/"+a.Name)
	}
	return errs
}

// Report lists what Apply did, object by object, in order.
type Report struct {
	Changes []Change
}

// Change is one step of Apply.
type Change struct {
	Kind   string // bank, api, product, partner, app, subscription
	ID     string // the id; apps: partner/name; subscriptions: partner/name/product
	Action string // created, updated, unchanged, published, deprecated, retired, approved
	// For apps created: the generated credentials. The secret is shown
	// here once and is not kept anywhere in clear.
	ClientID     string
	ClientSecret string
	// For subscriptions created: active or pending (manual approval).
	Status string
	// For APIs whose document was sent: the problems its import worked
	// around (openapi.Document.Warnings).
	Warnings []obhub.Detail
}

// Changed reports whether Apply changed anything.
func (r *Report) Changed() bool {
	return slices.ContainsFunc(r.Changes, func(c Change) bool { return c.Action != "unchanged" })
}

// Print writes the report, one line per step, with the credentials of
// the apps created.
func (r *Report) Print(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range r.Changes {
		line := c.Kind + "\t" + c.ID + "\t" + c.Action
		if c.Status != "" {
			line += " (" + c.Status + ")"
		}
		if c.ClientID != "" {
			line += "\tclient_id=" + c.ClientID
		}
		if c.ClientSecret != "" {
			line += " client_secret=" + c.ClientSecret + "  (shown once: store it now)"
		}
		fmt.Fprintln(tw, line)
		for _, d := range c.Warnings {
			where := ""
			if d.Location != "" {
				where = d.Location + ": "
			}
			fmt.Fprintln(tw, "\twarning\t"+where+d.Message)
		}
	}
	return tw.Flush()
}

func (r *Report) add(kind, id, action string) *Change {
	r.Changes = append(r.Changes, Change{Kind: kind, ID: id, Action: action})
	return &r.Changes[len(r.Changes)-1]
}

// Apply makes the admin API behind c hold what d declares, in dependency
// order: banks, partners, APIs (with their lifecycle), products, apps and
// their subscriptions. It GETs each object, creates it when absent,
// replaces it when different, and otherwise reports it unchanged, so
// applying the same declaration twice changes nothing the second time.
// Before it writes anything it checks that every object the declaration
// refers to without declaring it (an API's bank, a product's APIs, an
// app's partner and products) exists on the hub, and reports all that do
// not at once. After that it stops at the first error, returning the
// report so far: the admin API has no transaction across calls, so what
// was applied before the error stays, and applying the corrected file
// again completes it.
func Apply(ctx context.Context, c *Client, d *Declaration) (Report, error) {
	a := applier{c: c}
	if err := a.references(ctx, d); err != nil {
		return a.report, err
	}
	steps := []func(context.Context, *Declaration) error{a.banks, a.partners, a.apis, a.products, a.apps}
	for _, step := range steps {
		if err := step(ctx, d); err != nil {
			return a.report, err
		}
	}
	return a.report, nil
}

type applier struct {
	c      *Client
	report Report
}

// references checks that what d refers to and does not declare exists
// on the hub, and names every object that does not.
func (a *applier) references(ctx context.Context, d *Declaration) error {
	declared := map[string]bool{}
	for _, b := range d.Banks {
		declared["bank\x00"+b.ID] = true
	}
	for _, x := range d.APIs {
		declared["API\x00"+x.ID] = true
	}
	for _, p := range d.Products {
		declared["product\x00"+p.ID] = true
	}
	for _, p := range d.Partners {
		declared["partner\x00"+p.ID] = true
	}
	var missing []string
	checked := map[string]bool{}
	need := func(kind, collection, id, by string) error {
		key := kind + "\x00" + id
		if id == "" || declared[key] || checked[key] {
			return nil
		}
		checked[key] = true
		err := a.c.Do(ctx, http.MethodGet, "/"+collection+"/"+url.PathEscape(id), nil, nil)
		switch {
		case isStatus(err, http.StatusNotFound):
			missing = append(missing, fmt.Sprintf("%s %q (named by %s) is neither declared nor on the hub", kind, id, by))
		case err != nil:
			return fmt.Errorf("%s %s: %w", kind, id, err)
		}
		return nil
	}
	var err error
	for _, x := range d.APIs {
		err = errors.Join(err, need("bank", "banks", x.Bank, "API "+x.ID))
	}
	for _, p := range d.Products {
		for _, id := range p.APIs {
			err = errors.Join(err, need("API", "apis", id, "product "+p.ID))
		}
	}
	for _, x := range d.Apps {
		by := "app " + x.Partner + "/" + x.Name
		err = errors.Join(err, need("partner", "partners", x.Partner, by))
		for _, id := range x.Subscriptions {
			err = errors.Join(err, need("product", "products", id, by))
		}
	}
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return fmt.Errorf("nothing applied: %s", strings.Join(missing, "; "))
	}
	return nil
}

func (a *applier) banks(ctx context.Context, d *Declaration) error {
	for _, b := range d.Banks {
		want := bankBody{ID: &b.ID, Name: b.Name, Limits: b.Limits}
		var cur catalog.Bank
		err := a.c.Do(ctx, http.MethodGet, "/banks/"+url.PathEscape(b.ID), nil, &cur)
		switch {
		case isStatus(err, http.StatusNotFound):
			if want.OIDC, err = b.OIDC.body(b.ID, nil); err != nil {
				return err
			}
			if err := a.c.Do(ctx, http.MethodPost, "/banks", want, nil); err != nil {
				return fmt.Errorf("bank %s: %w", b.ID, err)
			}
			a.report.add("bank", b.ID, "created")
		case err != nil:
			return fmt.Errorf("bank %s: %w", b.ID, err)
		case cur.Name != b.Name || !sameJSON(cur.Limits, bankLimits(b.Limits)) || b.OIDC.differs(cur.OIDC):
			oidc, err := b.OIDC.body(b.ID, cur.OIDC)
			if err != nil {
				return err
			}
			if err := a.c.Do(ctx, http.MethodPut, "/banks/"+url.PathEscape(b.ID), bankBody{Name: b.Name, Limits: b.Limits, OIDC: oidc}, nil); err != nil {
				return fmt.Errorf("bank %s: %w", b.ID, err)
			}
			a.report.add("bank", b.ID, "updated")
		default:
			a.report.add("bank", b.ID, "unchanged")
		}
	}
	return nil
}

func (a *applier) partners(ctx context.Context, d *Declaration) error {
	for _, p := range d.Partners {
		path := "/partners/" + url.PathEscape(p.ID)
		want := partnerBody{Name: p.Name, Kind: partners.Kind(p.Kind), Bank: p.Bank}
		var cur partners.Partner
		err := a.c.Do(ctx, http.MethodGet, path, nil, &cur)
		switch {
		case isStatus(err, http.StatusNotFound):
			create := want
			create.ID = &p.ID
			if err := a.c.Do(ctx, http.MethodPost, "/partners", create, &cur); err != nil {
				return fmt.Errorf("partner %s: %w", p.ID, err)
			}
			a.report.add("partner", p.ID, "created")
		case err != nil:
			return fmt.Errorf("partner %s: %w", p.ID, err)
		case cur.Name != p.Name || string(cur.Kind) != p.Kind || cur.Bank != p.Bank:
			if err := a.c.Do(ctx, http.MethodPut, path, want, &cur); err != nil {
				return fmt.Errorf("partner %s: %w", p.ID, err)
			}
			a.report.add("partner", p.ID, "updated")
		default:
			if !p.Approved || cur.Status == partners.PartnerApproved {
				a.report.add("partner", p.ID, "unchanged")
			}
		}
		if p.Approved && cur.Status != partners.PartnerApproved {
			if err := a.c.Do(ctx, http.MethodPost, path+"/approve", nil, nil); err != nil {
				return fmt.Errorf("partner %s: %w", p.ID, err)
			}
			a.report.add("partner", p.ID, "approved")
		}
	}
	return nil
}

func (a *applier) apis(ctx context.Context, d *Declaration) error {
	for i := range d.APIs {
		if err := a.api(ctx, &d.APIs[i]); err != nil {
			return fmt.Errorf("api %s: %w", d.APIs[i].ID, err)
		}
	}
	return nil
}

func (a *applier) api(ctx context.Context, decl *APIDecl) error {
	spec := []byte(decl.Spec)
	if len(spec) == 0 && decl.SpecFile != "" {
		var err error
		if spec, err = os.ReadFile(decl.SpecFile); err != nil {
			return err
		}
	}
	// The document is read here too, to compare it and its defaults with
	// what the hub holds.
	doc, err := openapi.Import(ctx, spec)
	if err != nil {
		return fmt.Errorf("spec: %w", detailed(err))
	}
	want := apiBody{
		Upstream: decl.Upstream, BasePath: decl.BasePath, Visibility: catalog.Visibility(decl.Visibility),
		UpstreamTimeout: decl.UpstreamTimeout, MaxBody: decl.MaxBody,
		Validation: catalog.Validation(decl.Validation), CORS: decl.CORS, IPRules: decl.IPRules,
		Category: catalog.Category(decl.Category),
	}
	if decl.Name != "" {
		want.Name = &decl.Name
	}
	specJSON := mustJSON(string(spec))
	path := "/apis/" + url.PathEscape(decl.ID)
	var cur apiView
	err = a.c.Do(ctx, http.MethodGet, path, nil, &cur)
	switch {
	case isStatus(err, http.StatusNotFound):
		create := want
		create.ID, create.Bank, create.Spec = &decl.ID, &decl.Bank, specJSON
		if err := a.c.Do(ctx, http.MethodPost, "/apis", create, &cur); err != nil {
			return err
		}
		a.report.add("api", decl.ID, "created").Warnings = doc.Warnings
	case err != nil:
		return err
	case cur.Bank != decl.Bank:
		return fmt.Errorf("belongs to bank %q, not %q: an API cannot move to another bank", cur.Bank, decl.Bank)
	default:
		name, basePath, visibility := doc.Title, doc.BasePath, catalog.VisibilityPublic
		if decl.Name != "" {
			name = decl.Name
		}
		if decl.BasePath != nil {
			basePath = *decl.BasePath
		}
		if decl.Visibility != "" {
			visibility = catalog.Visibility(decl.Visibility)
		}
		category := catalog.Category(decl.Category)
		if category == "" {
			category = catalog.CategoryFromTags(doc.Tags)
		}
		sum := sha256.Sum256(doc.JSON)
		newSpec := cur.SpecDigest != hex.EncodeToString(sum[:])
		if !newSpec && cur.Name == name && cur.BasePath == basePath && cur.Upstream == decl.Upstream &&
			cur.Visibility == visibility && cur.UpstreamTimeout == decl.UpstreamTimeout && cur.MaxBody == decl.MaxBody &&
			cur.Validation == effectiveValidation(catalog.Validation(decl.Validation)) &&
			sameJSON(cur.CORS, decl.CORS) && sameJSON(cur.IPRules, decl.IPRules) && cur.Category == category {
			a.report.add("api", decl.ID, "unchanged")
			break
		}
		if newSpec {
			want.Spec = specJSON
		}
		if err := a.c.Do(ctx, http.MethodPut, path, want, &cur); err != nil {
			return err
		}
		c := a.report.add("api", decl.ID, "updated")
		if newSpec {
			c.Warnings = doc.Warnings
		}
	}
	return a.lifecycle(ctx, decl, cur.Status)
}

// stage orders the lifecycle states.
var stage = map[catalog.Status]int{
	catalog.StatusDraft: 0, catalog.StatusPublished: 1, catalog.StatusDeprecated: 2, catalog.StatusRetired: 3,
}

// lifecycle walks the API from its current state to the declared one:
// draft → published → deprecated → retired (published → retired when
// retiring).
func (a *applier) lifecycle(ctx context.Context, decl *APIDecl, cur catalog.Status) error {
	target := catalog.Status(decl.Status)
	if target == "" || target == cur {
		return nil
	}
	if stage[target] < stage[cur] {
		return fmt.Errorf("is %s and cannot go back to %s", cur, target)
	}
	path := "/apis/" + url.PathEscape(decl.ID)
	for cur != target {
		var (
			verb string
			body any
		)
		switch {
		case cur == catalog.StatusDraft:
			verb, cur = "publish", catalog.StatusPublished
		case cur == catalog.StatusPublished && target == catalog.StatusDeprecated:
			verb, cur = "deprecate", catalog.StatusDeprecated
			if !decl.Sunset.IsZero() {
				body = deprecateBody{Sunset: decl.Sunset}
			}
		default:
			verb, cur = "retire", catalog.StatusRetired
		}
		if err := a.c.Do(ctx, http.MethodPost, path+"/"+verb, body, nil); err != nil {
			return err
		}
		a.report.add("api", decl.ID, string(cur))
	}
	return nil
}

// detailed spells out the details of an EINVALID error.
func detailed(err error) error {
	ds := obhub.ErrorDetails(err)
	if len(ds) == 0 {
		return err
	}
	var b strings.Builder
	b.WriteString(obhub.ErrorMessage(err))
	for _, d := range ds {
		b.WriteString("\n  ")
		if d.Location != "" {
			b.WriteString(d.Location + ": ")
		}
		b.WriteString(d.Message)
	}
	return errors.New(b.String())
}

func (a *applier) products(ctx context.Context, d *Declaration) error {
	for _, p := range d.Products {
		path := "/products/" + url.PathEscape(p.ID)
		want := productBody{Name: p.Name, Description: p.Description, APIs: p.APIs, Plan: p.Plan, Approval: catalog.Approval(p.Approval)}
		var cur catalog.Product
		err := a.c.Do(ctx, http.MethodGet, path, nil, &cur)
		switch {
		case isStatus(err, http.StatusNotFound):
			create := want
			create.ID = &p.ID
			if err := a.c.Do(ctx, http.MethodPost, "/products", create, nil); err != nil {
				return fmt.Errorf("product %s: %w", p.ID, err)
			}
			a.report.add("product", p.ID, "created")
		case err != nil:
			return fmt.Errorf("product %s: %w", p.ID, err)
		case cur.Name != p.Name || cur.Description != p.Description || !slices.Equal(cur.APIs, p.APIs) ||
			!sameJSON(cur.Plan, p.Plan) || string(cur.Approval) != p.Approval:
			if err := a.c.Do(ctx, http.MethodPut, path, want, nil); err != nil {
				return fmt.Errorf("product %s: %w", p.ID, err)
			}
			a.report.add("product", p.ID, "updated")
		default:
			a.report.add("product", p.ID, "unchanged")
		}
	}
	return nil
}

func (a *applier) apps(ctx context.Context, d *Declaration) error {
	byPartner := map[string][]config.AppView{}
	for _, decl := range d.Apps {
		key := decl.Partner + "/" + decl.Name
		existing, ok := byPartner[decl.Partner]
		if !ok {
			var err error
			existing, err = listAll[config.AppView](ctx, a.c, "/partners/"+url.PathEscape(decl.Partner)+"/apps")
			if err != nil {
				return fmt.Errorf("app %s: %w", key, err)
			}
			byPartner[decl.Partner] = existing
		}
		clientID, err := a.app(ctx, decl, existing)
		if err != nil {
			return fmt.Errorf("app %s: %w", key, err)
		}
		if err := a.subscriptions(ctx, decl, clientID); err != nil {
			return fmt.Errorf("app %s: %w", key, err)
		}
	}
	return nil
}

func (a *applier) app(ctx context.Context, decl AppDecl, existing []config.AppView) (clientID string, err error) {
	key := decl.Partner + "/" + decl.Name
	method := decl.TokenEndpointAuthMethod
	if method == "" {
		method = partners.AuthSecretBasic
	}
	var jwks map[string]any
	if decl.JWKS != nil {
		jwks = jsonValue(decl.JWKS).(map[string]any) // YAML may give non-string keys
	}
	want := appBody{
		Name: decl.Name, Environment: partners.Environment(decl.Environment), GrantTypes: decl.GrantTypes,
		RedirectURIs: decl.RedirectURIs, Scopes: decl.Scopes, TokenEndpointAuthMethod: method, JWKS: jwks,
		IPRules: decl.IPRules, FAPI: decl.FAPI, DPoPBound: decl.DPoPBound,
	}
	mtls := partners.MTLS{TLSClientAuthSubjectDN: decl.TLSClientAuthSubjectDN, TLSClientAuthSANDNS: decl.TLSClientAuthSANDNS, TLSBound: decl.TLSBound}
	want.setMTLS(mtls)
	i := slices.IndexFunc(existing, func(v config.AppView) bool { return v.Name == decl.Name })
	if i < 0 {
		var out newCredentials
		if err := a.c.Do(ctx, http.MethodPost, "/partners/"+url.PathEscape(decl.Partner)+"/apps", want, &out); err != nil {
			return "", err
		}
		c := a.report.add("app", key, "created")
		c.ClientID, c.ClientSecret = out.ClientID, out.ClientSecret
		return out.ClientID, nil
	}
	cur := existing[i]
	if string(cur.Environment) != decl.Environment {
		return "", fmt.Errorf("is a %s app: an app's environment cannot change (give the %s app another name)", cur.Environment, decl.Environment)
	}
	if sameStrings(cur.GrantTypes, decl.GrantTypes) && sameStrings(cur.RedirectURIs, decl.RedirectURIs) &&
		sameStrings(cur.Scopes, decl.Scopes) && cur.TokenEndpointAuthMethod == method && sameJSON(cur.JWKS, jwks) &&
		sameJSON(cur.IPRules, decl.IPRules) && cur.FAPI == decl.FAPI && cur.DPoPBound == decl.DPoPBound &&
		cur.MTLS == mtls {
		c := a.report.add("app", key, "unchanged")
		c.ClientID = cur.ClientID
		return cur.ClientID, nil
	}
	if err := a.c.Do(ctx, http.MethodPut, "/apps/"+url.PathEscape(cur.ClientID), want, nil); err != nil {
		return "", err
	}
	c := a.report.add("app", key, "updated")
	c.ClientID = cur.ClientID
	return cur.ClientID, nil
}

func (a *applier) subscriptions(ctx context.Context, decl AppDecl, clientID string) error {
	path := "/apps/" + url.PathEscape(clientID) + "/subscriptions"
	subs, err := listAll[partners.Subscription](ctx, a.c, path)
	if err != nil {
		return err
	}
	for _, product := range decl.Subscriptions {
		id := decl.Partner + "/" + decl.Name + "/" + product
		if slices.ContainsFunc(subs, func(s partners.Subscription) bool { return s.Product == product }) {
			a.report.add("subscription", id, "unchanged")
			continue
		}
		var s partners.Subscription
		if err := a.c.Do(ctx, http.MethodPost, path, subscriptionBody{Product: product}, &s); err != nil {
			return fmt.Errorf("subscription to %s: %w", product, err)
		}
		a.report.add("subscription", id, "created").Status = string(s.Status)
	}
	return nil
}

// sameStrings compares two lists, a nil list being equal to an empty one.
func sameStrings(a, b []string) bool { return slices.Equal(a, b) }

// sameJSON reports whether a and b have the same JSON form (numbers and
// key order normalised), nil and empty being the same.
func sameJSON(a, b any) bool {
	norm := func(v any) any {
		var out any
		_ = json.Unmarshal(mustJSON(v), &out)
		if m, ok := out.(map[string]any); ok && len(m) == 0 {
			return nil
		}
		return out
	}
	return reflect.DeepEqual(norm(a), norm(b))
}
