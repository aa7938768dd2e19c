package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/catalog"
	"github.com/obhub/obhub/config"
	"github.com/obhub/obhub/openapi"
)

// updateDoc returns the document an update decodes: the body of a PUT, or
// for a PATCH the current settings (cur) with the body merged in (RFC
// 7396).
func updateDoc(r *http.Request, body json.RawMessage, cur any) (json.RawMessage, error) {
	if r.Method == http.MethodPatch {
		return patched(cur, body)
	}
	return body, nil
}

// checkSame adds a problem when an update body repeats an immutable field
// with another value than the current one.
func checkSame(ps *problems, loc string, got *string, want string) {
	if got != nil && *got != want {
		ps.add(loc, "cannot be changed")
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// --- Banks ---

type bankBody struct {
	ID   *string `json:"id,omitempty"`
	Name string  `json:"name"`
	// Limits protect the bank's core system (docs/policies.md).
	Limits *catalog.BankLimits `json:"limits,omitempty"`
	// OIDC is the bank's customer identity provider (bank_oidc.go).
	OIDC *bankOIDCBody `json:"oidc,omitempty"`
}

// bankLimits returns l, or nil when it sets no ceiling, so that an empty
// object is stored (and compared by apply) as no limits.
func bankLimits(l *catalog.BankLimits) *catalog.BankLimits {
	if l == nil || (l.Rate == nil && l.MaxInFlight == 0) {
		return nil
	}
	return l
}

var bankReadOnly = []string{"createdAt", "updatedAt"}

func bankID(b *catalog.Bank) string { return b.ID }

func (h *Handler) listBanks(w http.ResponseWriter, r *http.Request) error {
	return list(w, r, h.store.ListBanks, bankID)
}

func (h *Handler) getBank(w http.ResponseWriter, r *http.Request) error {
	b, err := h.store.Bank(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, b)
}

func (h *Handler) createBank(w http.ResponseWriter, r *http.Request) error {
	raw, err := readBody(w, r, h.maxBody)
	if err != nil {
		return err
	}
	var (
		body bankBody
		ps   problems
	)
	decodeObject(raw, &body, bankReadOnly, &ps)
	secret := h.oidcSecretOps(deref(body.ID), raw, &ps)
	b := catalog.Bank{ID: deref(body.ID), Name: body.Name, Limits: bankLimits(body.Limits),
		OIDC: bankOIDC(body.OIDC, nil, secret != nil, &ps)}
	h.checkClientCert(b.OIDC, &ps)
	if err := ps.merge(b.Validate()); err != nil {
		return err
	}
	if err := ps.err("invalid bank"); err != nil {
		return err
	}
	out, err := h.store.CreateBank(r.Context(), b, secret...)
	if err != nil {
		return err
	}
	return created(w, Prefix+"/banks/"+out.ID, out)
}

func (h *Handler) updateBank(w http.ResponseWriter, r *http.Request) error {
	raw, err := readBody(w, r, h.maxBody)
	if err != nil {
		return err
	}
	var secretProblems problems
	secret := h.oidcSecretOps(r.PathValue("id"), raw, &secretProblems)
	out, err := h.store.UpdateBank(r.Context(), r.PathValue("id"), func(b *catalog.Bank) error {
		doc, err := updateDoc(r, raw, bankBody{ID: &b.ID, Name: b.Name, Limits: b.Limits, OIDC: oidcBody(b.OIDC)})
		if err != nil {
			return err
		}
		ps := slices.Clone(secretProblems)
		var body bankBody
		decodeObject(doc, &body, bankReadOnly, &ps)
		checkSame(&ps, "/id", body.ID, b.ID)
		b.Name, b.Limits = body.Name, bankLimits(body.Limits)
		b.OIDC = bankOIDC(body.OIDC, b.OIDC, secret != nil, &ps)
		h.checkClientCert(b.OIDC, &ps)
		if err := ps.merge(b.Validate()); err != nil {
			return err
		}
		return ps.err("invalid bank")
	}, secret...)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}

func (h *Handler) deleteBank(w http.ResponseWriter, r *http.Request) error {
	if err := h.store.DeleteBank(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	return noContent(w)
}

// --- APIs ---

// apiBody is what an admin sends to create or change an API.
type apiBody struct {
	ID   *string `json:"id,omitempty"`
	Bank *string `json:"bank,omitempty"`
	// Spec is the OpenAPI document: a JSON object, or a string holding
	// JSON or YAML. Required to create; on an update, absent keeps it.
	Spec            json.RawMessage    `json:"spec,omitempty"`
	Upstream        string             `json:"upstream"`
	BasePath        *string            `json:"basePath,omitempty"`
	Name            *string            `json:"name,omitempty"`
	Visibility      catalog.Visibility `json:"visibility,omitempty"`
	UpstreamTimeout obhub.Duration     `json:"upstreamTimeout,omitzero"`
	MaxBody         int64              `json:"maxBody,omitempty"`
	// The API's policies (docs/policies.md).
	Validation catalog.Validation `json:"validation,omitempty"`
	CORS       *catalog.CORS      `json:"cors,omitempty"`
	IPRules    *catalog.IPRules   `json:"ipRules,omitempty"`
	// Category is one of catalog.Categories; absent, the document's tags
	// give it (catalog.CategoryFromTags).
	Category catalog.Category `json:"category,omitempty"`
}

var apiReadOnly = []string{"status", "operations", "specDigest", "version", "sunset", "deprecatedAt", "createdAt", "updatedAt", "warnings"}

// apiView is an API as the admin API shows it: the operations are counted
// (GET …/spec has the document).
type apiView struct {
	ID              string             `json:"id"`
	Bank            string             `json:"bank"`
	Name            string             `json:"name"`
	Version         string             `json:"version,omitempty"`
	BasePath        string             `json:"basePath"`
	Upstream        string             `json:"upstream"`
	Visibility      catalog.Visibility `json:"visibility"`
	Status          catalog.Status     `json:"status"`
	Operations      int                `json:"operations"`
	SpecDigest      string             `json:"specDigest"`
	Sunset          time.Time          `json:"sunset,omitzero"`
	DeprecatedAt    time.Time          `json:"deprecatedAt,omitzero"`
	UpstreamTimeout obhub.Duration     `json:"upstreamTimeout,omitzero"`
	MaxBody         int64              `json:"maxBody,omitempty"`
	Validation      catalog.Validation `json:"validation"` // "on" or "off"
	CORS            *catalog.CORS      `json:"cors,omitempty"`
	IPRules         *catalog.IPRules   `json:"ipRules,omitempty"`
	Category        catalog.Category   `json:"category"`
	CreatedAt       time.Time          `json:"createdAt"`
	UpdatedAt       time.Time          `json:"updatedAt"`
	// Warnings are the problems the import of the document sent worked
	// around: only in the answer to a create or update that sends a spec.
	Warnings []obhub.Detail `json:"warnings,omitempty"`
}

func viewAPI(a *catalog.API) apiView {
	return apiView{
		ID: a.ID, Bank: a.Bank, Name: a.Name, Version: a.Version, BasePath: a.BasePath, Upstream: a.Upstream,
		Visibility: a.Visibility, Status: a.Status, Operations: len(a.Operations), SpecDigest: a.SpecDigest,
		Sunset: a.Sunset, DeprecatedAt: a.DeprecatedAt, UpstreamTimeout: a.UpstreamTimeout, MaxBody: a.MaxBody,
		Validation: effectiveValidation(a.Validation), CORS: a.CORS, IPRules: a.IPRules, Category: a.Category.OrOther(),
		CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt,
	}
}

// effectiveValidation spells the stored setting ("" is on) as shown.
func effectiveValidation(v catalog.Validation) catalog.Validation {
	if v.Enabled() {
		return catalog.ValidationOn
	}
	return catalog.ValidationOff
}

func (h *Handler) listAPIs(w http.ResponseWriter, r *http.Request) error {
	opt, err := listOptions(r)
	if err != nil {
		return err
	}
	apis, more, err := h.store.ListAPIs(r.Context(), opt)
	if err != nil {
		return err
	}
	views := make([]apiView, len(apis))
	for i := range apis {
		views[i] = viewAPI(&apis[i])
	}
	return writePage(w, views, more, func(v *apiView) string { return v.ID })
}

func (h *Handler) getAPI(w http.ResponseWriter, r *http.Request) error {
	a, err := h.store.API(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, viewAPI(a))
}

func (h *Handler) getSpec(w http.ResponseWriter, r *http.Request) error {
	doc, err := h.store.APISpec(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(doc)
	return nil
}

// importSpec reads the spec field (a JSON object, or a string holding JSON
// or YAML) with package openapi. Findings of an invalid document are added
// to ps with the validator's locations; it returns nil then. The
// document's warnings (problems the import worked around) are returned
// for the answer; they are not stored.
func importSpec(ctx context.Context, raw json.RawMessage, ps *problems) (*config.Spec, []obhub.Detail, error) {
	raw = bytes.TrimSpace(raw)
	var data []byte
	switch {
	case len(raw) > 0 && raw[0] == '{':
		data = raw
	case len(raw) > 0 && raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil || s == "" {
			ps.add("/spec", "must not be empty")
			return nil, nil, nil
		}
		data = []byte(s)
	default:
		ps.add("/spec", "must be an OpenAPI document: a JSON object, or a string holding JSON or YAML")
		return nil, nil, nil
	}
	doc, err := openapi.Import(ctx, data)
	if err != nil {
		if obhub.ErrorCode(err) != obhub.EINVALID {
			return nil, nil, err
		}
		ds := obhub.ErrorDetails(err)
		if len(ds) == 0 {
			ps.add("/spec", obhub.ErrorMessage(err))
		}
		for _, d := range ds {
			if d.Location == "" {
				d.Location = "/spec"
			}
			*ps = append(*ps, d)
		}
		return nil, nil, nil
	}
	return doc.Spec(), specWarnings(doc.Warnings), nil
}

// specWarnings locates the document's warnings under /spec, as its
// findings are.
func specWarnings(ws []obhub.Detail) []obhub.Detail {
	if len(ws) == 0 {
		return nil
	}
	out := make([]obhub.Detail, len(ws))
	for i, w := range ws {
		if w.Location == "" {
			w.Location = "/spec"
		}
		out[i] = w
	}
	return out
}

// specGiven reports whether the spec field was sent (and is not null).
func specGiven(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && !bytes.Equal(raw, []byte("null"))
}

func (h *Handler) createAPI(w http.ResponseWriter, r *http.Request) error {
	raw, err := readBody(w, r, h.maxBody)
	if err != nil {
		return err
	}
	var (
		body     apiBody
		ps       problems
		spec     *config.Spec
		warnings []obhub.Detail
	)
	decodeObject(raw, &body, apiReadOnly, &ps)
	if specGiven(body.Spec) {
		if spec, warnings, err = importSpec(r.Context(), body.Spec, &ps); err != nil {
			return err
		}
	} else if !ps.has("/spec") {
		ps.add("/spec", "is required")
	}
	in := config.APIInput{
		ID: deref(body.ID), Bank: deref(body.Bank), Name: deref(body.Name), BasePath: body.BasePath,
		Upstream: body.Upstream, Visibility: body.Visibility, UpstreamTimeout: body.UpstreamTimeout, MaxBody: body.MaxBody,
		Validation: body.Validation, CORS: body.CORS, IPRules: body.IPRules, Category: body.Category,
		Spec: spec,
	}
	preview := catalog.API{ID: in.ID, Bank: in.Bank}
	in.ApplyTo(&preview)
	if spec == nil && preview.Name == "" {
		preview.Name = "-" // the document's title is unknown: do not also report the name
	}
	if err := ps.merge(config.ValidateAPI(&preview)); err != nil {
		return err
	}
	if err := ps.err("invalid API"); err != nil {
		return err
	}
	a, err := h.store.CreateAPI(r.Context(), in)
	if err != nil {
		return err
	}
	v := viewAPI(a)
	v.Warnings = warnings
	return created(w, Prefix+"/apis/"+a.ID, v)
}

func (h *Handler) updateAPI(w http.ResponseWriter, r *http.Request) error {
	raw, err := readBody(w, r, h.maxBody)
	if err != nil {
		return err
	}
	ctx := r.Context()
	id := r.PathValue("id")
	var warnings []obhub.Detail
	a, err := h.store.UpdateAPI(ctx, id, func(in *config.APIInput) error {
		warnings = nil
		cur := apiBody{
			ID: &in.ID, Bank: &in.Bank, Name: &in.Name, BasePath: in.BasePath, Upstream: in.Upstream,
			Visibility: in.Visibility, UpstreamTimeout: in.UpstreamTimeout, MaxBody: in.MaxBody,
			Validation: in.Validation, CORS: in.CORS, IPRules: in.IPRules, Category: in.Category,
		}
		doc, err := updateDoc(r, raw, cur)
		if err != nil {
			return err
		}
		var (
			body apiBody
			ps   problems
			spec *config.Spec
		)
		decodeObject(doc, &body, apiReadOnly, &ps)
		checkSame(&ps, "/id", body.ID, in.ID)
		checkSame(&ps, "/bank", body.Bank, in.Bank)
		switch {
		case specGiven(body.Spec):
			if spec, warnings, err = importSpec(ctx, body.Spec, &ps); err != nil {
				return err
			}
		case body.Name == nil || body.BasePath == nil || body.Category == "":
			// Defaults come from the stored document.
			if spec, err = h.storedSpec(ctx, id); err != nil {
				return err
			}
		}
		next := config.APIInput{
			ID: in.ID, Bank: in.Bank, Name: deref(body.Name), BasePath: body.BasePath,
			Upstream: body.Upstream, Visibility: body.Visibility, UpstreamTimeout: body.UpstreamTimeout, MaxBody: body.MaxBody,
			Validation: body.Validation, CORS: body.CORS, IPRules: body.IPRules, Category: body.Category,
			Spec: spec,
		}
		preview := catalog.API{ID: in.ID, Bank: in.Bank, Name: in.Name, BasePath: deref(in.BasePath)}
		next.ApplyTo(&preview)
		if err := ps.merge(config.ValidateAPI(&preview)); err != nil {
			return err
		}
		if err := ps.err("invalid API"); err != nil {
			return err
		}
		*in = next
		return nil
	})
	if err != nil {
		return err
	}
	v := viewAPI(a)
	v.Warnings = warnings
	return writeJSON(w, http.StatusOK, v)
}

// storedSpec loads the API's stored document, for the defaults of an
// update that sends no new one.
func (h *Handler) storedSpec(ctx context.Context, id string) (*config.Spec, error) {
	data, err := h.store.APISpec(ctx, id)
	if err != nil {
		return nil, err
	}
	doc, err := openapi.Load(ctx, data)
	if err != nil {
		return nil, err
	}
	return doc.Spec(), nil
}

func (h *Handler) deleteAPI(w http.ResponseWriter, r *http.Request) error {
	if err := h.store.DeleteAPI(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	return noContent(w)
}

func (h *Handler) publishAPI(w http.ResponseWriter, r *http.Request) error {
	return h.lifecycle(w, r, func(ctx context.Context, id string) (*catalog.API, error) {
		return h.store.PublishAPI(ctx, id)
	})
}

func (h *Handler) retireAPI(w http.ResponseWriter, r *http.Request) error {
	return h.lifecycle(w, r, func(ctx context.Context, id string) (*catalog.API, error) {
		return h.store.RetireAPI(ctx, id)
	})
}

func (h *Handler) lifecycle(w http.ResponseWriter, r *http.Request, move func(context.Context, string) (*catalog.API, error)) error {
	if err := h.emptyBody(w, r); err != nil {
		return err
	}
	a, err := move(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, viewAPI(a))
}

// deprecateBody is the optional body of POST …/deprecate.
type deprecateBody struct {
	// Sunset is when the API stops being routed, announced in the Sunset
	// header (RFC 8594); RFC 3339.
	Sunset time.Time `json:"sunset,omitzero"`
}

func (h *Handler) deprecateAPI(w http.ResponseWriter, r *http.Request) error {
	var body deprecateBody
	if hasBody(r) {
		raw, err := readBody(w, r, h.maxBody)
		if err != nil {
			return err
		}
		var ps problems
		decodeObject(raw, &body, nil, &ps)
		if err := ps.err("invalid request body"); err != nil {
			return err
		}
	}
	a, err := h.store.DeprecateAPI(r.Context(), r.PathValue("id"), body.Sunset)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, viewAPI(a))
}

// --- Products ---

type productBody struct {
	ID          *string          `json:"id,omitempty"`
	Name        string           `json:"name"`
	Description string           `json:"description,omitempty"`
	APIs        []string         `json:"apis"`
	Plan        catalog.Plan     `json:"plan"`
	Approval    catalog.Approval `json:"approval"`
}

var productReadOnly = []string{"createdAt", "updatedAt"}

func productID(p *catalog.Product) string { return p.ID }

func (h *Handler) listProducts(w http.ResponseWriter, r *http.Request) error {
	return list(w, r, h.store.ListProducts, productID)
}

func (h *Handler) getProduct(w http.ResponseWriter, r *http.Request) error {
	p, err := h.store.Product(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, p)
}

func (h *Handler) createProduct(w http.ResponseWriter, r *http.Request) error {
	raw, err := readBody(w, r, h.maxBody)
	if err != nil {
		return err
	}
	var (
		body productBody
		ps   problems
	)
	decodeObject(raw, &body, productReadOnly, &ps)
	p := catalog.Product{ID: deref(body.ID), Name: body.Name, Description: body.Description, APIs: body.APIs, Plan: body.Plan, Approval: body.Approval}
	if err := ps.merge(p.Validate()); err != nil {
		return err
	}
	if err := ps.err("invalid product"); err != nil {
		return err
	}
	out, err := h.store.CreateProduct(r.Context(), p)
	if err != nil {
		return err
	}
	return created(w, Prefix+"/products/"+out.ID, out)
}

func (h *Handler) updateProduct(w http.ResponseWriter, r *http.Request) error {
	raw, err := readBody(w, r, h.maxBody)
	if err != nil {
		return err
	}
	out, err := h.store.UpdateProduct(r.Context(), r.PathValue("id"), func(p *catalog.Product) error {
		cur := productBody{ID: &p.ID, Name: p.Name, Description: p.Description, APIs: p.APIs, Plan: p.Plan, Approval: p.Approval}
		doc, err := updateDoc(r, raw, cur)
		if err != nil {
			return err
		}
		var (
			body productBody
			ps   problems
		)
		decodeObject(doc, &body, productReadOnly, &ps)
		checkSame(&ps, "/id", body.ID, p.ID)
		p.Name, p.Description, p.APIs, p.Plan, p.Approval = body.Name, body.Description, body.APIs, body.Plan, body.Approval
		if err := ps.merge(p.Validate()); err != nil {
			return err
		}
		return ps.err("invalid product")
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}

func (h *Handler) deleteProduct(w http.ResponseWriter, r *http.Request) error {
	if err := h.store.DeleteProduct(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	return noContent(w)
}
