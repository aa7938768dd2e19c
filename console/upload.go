package console

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/catalog"
	"github.com/obhub/obhub/config"
	"github.com/obhub/obhub/openapi"
)

// Uploading an OpenAPI document, for a new API or as the new version of
// an existing one, in two steps: the upload is imported (every finding
// shown with its location when it is invalid, warnings shown when it is
// not) and compared with the current document, operation by operation;
// nothing is stored until the operator confirms. The confirmation form
// carries the imported document back, so no upload is kept on the server
// between the steps: it is imported again, and refused if the API changed
// in the meantime (its document digest is not the one compared with).

// maxUpload is the largest upload or confirmation body, as large as the
// admin API's (admin.DefaultMaxBody).
const maxUpload = 16 << 20

// uploadData is the upload form and, after an upload, its outcome.
type uploadData struct {
	// The target: an existing API (API set), or a new one.
	API        *catalog.API
	ID, Bank   string
	Upstream   string
	Visibility string
	// Category of a new API; "" takes it from the document's tags.
	Category   string
	Categories []catalog.Category
	Banks      []string // the banks the operator may add an API to
	Choices    []catalog.API

	// After an upload that imported.
	Imported   bool
	Title      string
	Version    string
	BasePath   string
	Operations int
	Diff       []openapi.OperationDiff
	Warnings   []obhub.Detail
	Spec       string // the canonical document, carried by the confirmation
	Base       string // digest of the document compared with ("" for a new API)
	Findings   []obhub.Detail
}

// Breaking counts the operations whose change may break a client.
func (d uploadData) Breaking() int {
	n := 0
	for i := range d.Diff {
		if d.Diff[i].Breaking() {
			n++
		}
	}
	return n
}

// uploadForm serves GET /console/apis/upload[?api=id].
func (h *Handler) uploadForm(w http.ResponseWriter, r *http.Request) {
	v, vw, ok := h.gateView(w, r, "apis")
	if !ok {
		return
	}
	d := uploadData{Visibility: string(catalog.VisibilityPublic), Bank: v.Bank(), Categories: catalog.Categories}
	if id := r.URL.Query().Get("api"); id != "" {
		a, found := vw.api(id)
		if !found {
			h.notFound(w, v)
			return
		}
		d.API = a
	}
	h.showUpload(w, r, v, vw, http.StatusOK, d)
}

func (h *Handler) showUpload(w http.ResponseWriter, r *http.Request, v *visitor, vw *view, status int, d uploadData) {
	for _, a := range vw.apis {
		if a.Status != catalog.StatusRetired {
			d.Choices = append(d.Choices, a)
		}
	}
	if b := v.Bank(); b != "" {
		d.Banks = []string{b}
	} else {
		banks, _, err := h.cfg.Catalog.ListBanks(r.Context(), config.ListOptions{})
		if err != nil {
			h.fail(w, r, v, err)
			return
		}
		for _, b := range banks {
			d.Banks = append(d.Banks, b.ID)
		}
	}
	h.render(w, v, status, "upload", v.L.T("upload.title"), findingLines(v.L, d.Findings, nil), d)
}

// target reads which API the form is about: the existing API named by
// the field api (in scope, else ok is false), or a new one.
func (h *Handler) target(r *http.Request, v *visitor, vw *view) (d uploadData, ok bool) {
	d = uploadData{
		ID: strings.TrimSpace(r.PostFormValue("id")), Bank: strings.TrimSpace(r.PostFormValue("bank")),
		Upstream: strings.TrimSpace(r.PostFormValue("upstream")), Visibility: r.PostFormValue("visibility"),
		Category: r.PostFormValue("category"), Categories: catalog.Categories,
	}
	if id := r.PostFormValue("api"); id != "" {
		a, found := vw.api(id)
		if !found {
			return d, false
		}
		d.API = a
		return d, true
	}
	if b := v.Bank(); b != "" && d.Bank != b {
		return d, false
	}
	return d, true
}

// upload serves POST /console/apis/upload: a multipart form with the
// document in the field "document".
func (h *Handler) upload(w http.ResponseWriter, r *http.Request) {
	v, vw, ok := h.gateView(w, r, "apis")
	if !ok {
		return
	}
	d, ok := h.target(r, v, vw)
	if !ok {
		h.notFound(w, v)
		return
	}
	raw, err := readUpload(r)
	if err != nil {
		d.Findings = []obhub.Detail{{Location: "document", Message: v.L.T("upload.err.file")}}
		h.showUpload(w, r, v, vw, http.StatusUnprocessableEntity, d)
		return
	}
	h.preview(w, r, v, vw, d, raw)
}

// preview imports raw and shows the findings, or the comparison with the
// current document and the confirmation form.
func (h *Handler) preview(w http.ResponseWriter, r *http.Request, v *visitor, vw *view, d uploadData, raw []byte) {
	ctx := r.Context()
	doc, err := openapi.Import(ctx, raw)
	if err != nil {
		ds, ok := findings(err, "document")
		if !ok || obhub.ErrorCode(err) != obhub.EINVALID {
			h.fail(w, r, v, err)
			return
		}
		d.Findings = ds
		h.showUpload(w, r, v, vw, http.StatusUnprocessableEntity, d)
		return
	}
	var prev *openapi.Document
	if d.API != nil {
		if prev, err = h.current(ctx, d.API.ID); err != nil {
			h.fail(w, r, v, err)
			return
		}
		d.Base = d.API.SpecDigest
	}
	d.Imported, d.Title, d.Version, d.BasePath, d.Operations = true, doc.Title, doc.Version, doc.BasePath, len(doc.Operations)
	d.Diff, d.Warnings, d.Spec = openapi.Diff(prev, doc), doc.Warnings, string(doc.JSON)
	status := http.StatusOK
	if len(d.Findings) > 0 {
		status = http.StatusConflict // the confirmation was refused: look again
	}
	h.showUpload(w, r, v, vw, status, d)
}

// current loads the API's stored document.
func (h *Handler) current(ctx context.Context, id string) (*openapi.Document, error) {
	stored, err := h.cfg.Catalog.APISpec(ctx, id)
	if err != nil {
		return nil, err
	}
	return openapi.Load(ctx, stored)
}

func readUpload(r *http.Request) ([]byte, error) {
	f, _, err := r.FormFile("document")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxUpload+1))
	if err != nil {
		return nil, err
	}
	if len(b) == 0 || len(b) > maxUpload {
		return nil, errors.New("empty or too large")
	}
	return b, nil
}

// confirmUpload serves POST /console/apis/upload/confirm: it stores the
// document the preview showed, as a new draft API or as the new version
// of the existing one (keeping its name, base path and status).
func (h *Handler) confirmUpload(w http.ResponseWriter, r *http.Request) {
	v, vw, ok := h.gateView(w, r, "apis")
	if !ok {
		return
	}
	ctx := r.Context()
	d, ok := h.target(r, v, vw)
	if !ok {
		h.notFound(w, v)
		return
	}
	raw := []byte(r.PostFormValue("spec"))
	doc, err := openapi.Import(ctx, raw)
	if err != nil {
		// The preview showed an importable document: show it again with
		// what is wrong now.
		h.preview(w, r, v, vw, d, raw)
		return
	}
	spec := doc.Spec()
	var (
		a    *catalog.API
		verb string
	)
	if d.API != nil {
		if r.PostFormValue("base") != d.API.SpecDigest {
			// Someone changed the API since the preview: compare again.
			h.renderStale(w, r, v, vw, d, raw)
			return
		}
		verb = "update"
		a, err = h.cfg.Catalog.UpdateAPI(ctx, d.API.ID, func(in *config.APIInput) error {
			in.Spec = spec
			return nil
		})
	} else {
		verb = "create"
		a, err = h.cfg.Catalog.CreateAPI(ctx, config.APIInput{
			ID: d.ID, Bank: d.Bank, Upstream: d.Upstream, Visibility: catalog.Visibility(d.Visibility),
			Category: catalog.Category(d.Category), Spec: spec,
		})
	}
	if ds, ok := findings(err, ""); !ok {
		h.fail(w, r, v, err)
		return
	} else if len(ds) > 0 {
		d.Findings = ds
		h.preview(w, r, v, vw, d, raw)
		return
	}
	h.cfg.Logger.Info("console: API document saved", "operator", v.Operator.ID, "api", a.ID, "verb", verb)
	var before any
	if d.API != nil {
		before = docState(d.API)
	}
	h.recordChange(r, v, a.Bank, "apis/"+a.ID, verb, before, docState(a))
	redirectDone(w, r, "/console/apis", verb, "api", a.ID)
}

func (h *Handler) renderStale(w http.ResponseWriter, r *http.Request, v *visitor, vw *view, d uploadData, raw []byte) {
	d.Findings = []obhub.Detail{{Message: v.L.T("upload.err.stale")}}
	h.preview(w, r, v, vw, d, raw)
}

// docState is what the audit record keeps of an API around a document
// change: the document's identity, not the document.
func docState(a *catalog.API) any {
	return struct {
		ID         string `json:"id"`
		Bank       string `json:"bank"`
		Name       string `json:"name"`
		Version    string `json:"version"`
		BasePath   string `json:"basePath"`
		Status     string `json:"status"`
		Operations int    `json:"operations"`
		SpecDigest string `json:"specDigest"`
	}{a.ID, a.Bank, a.Name, a.Version, a.BasePath, string(a.Status), len(a.Operations), a.SpecDigest}
}
