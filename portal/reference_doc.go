package portal

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/catalog"
	"github.com/obhub/obhub/internal/httpx"
)

// The interactive reference: an API page draws the API's OpenAPI document
// with Swagger UI (swagger-ui-dist from the npm registry, vendored by
// scripts/vendor-renderer.sh into static/vendor/swagger-ui and embedded
// with the rest of static/). The server-rendered tables of reference.go
// stay on the page for browsers without JavaScript, and the try-it
// console stays ours: Swagger UI's own is turned off (static/reference.js).
//
// Two routes serve it:
//   - GET /portal/apis/{id}/openapi.json, the document as the visitor may
//     see it (the catalog's visibility rule; 404 otherwise), its servers
//     replaced by the hub's production and sandbox URLs;
//   - GET /portal/static/vendor/…, the vendored files, cached for a year
//     when asked for under the current version key and gzip-compressed
//     for browsers that accept it (the bundle is 1.7 MB, 0.5 MB gzipped).

// rendererDir is where scripts/vendor-renderer.sh puts Swagger UI, inside
// the embedded static folder.
const rendererDir = "vendor/swagger-ui"

// vendorPrefix is the URL path of static/vendor/.
const vendorPrefix = "/portal/static/vendor/"

// immutable is the Cache-Control of a vendored file asked for under the
// current version key: the URL changes with the content.
const immutable = "public, max-age=31536000, immutable"

// vendorKey identifies the vendored renderer's version in its URLs
// (?v=…): the hash of the VERSION file the script writes, which names the
// package version and the SHA-256 of every file it copied.
func vendorKey() string {
	b, err := fs.ReadFile(staticFiles, "static/"+rendererDir+"/VERSION")
	if err != nil {
		return "none"
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// vendoredURL is the template function that gives the URL of a file of
// the vendored renderer, with its version key.
func vendoredURL(name string) string {
	return vendorPrefix + path.Join(strings.TrimPrefix(rendererDir, "vendor/"), name) + "?v=" + vendorKey()
}

// vendorFiles serves static/vendor/ from the embedded files, keeping a
// gzip copy of each file once a browser has asked for one.
type vendorFiles struct {
	key   string
	files fs.FS
	mu    sync.Mutex
	gz    map[string][]byte
}

func newVendorFiles() *vendorFiles {
	sub, err := fs.Sub(staticFiles, "static/vendor")
	if err != nil {
		panic(err) // the embed pattern guarantees the folder
	}
	return &vendorFiles{key: vendorKey(), files: sub, gz: map[string][]byte{}}
}

func (vf *vendorFiles) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, vendorPrefix)
	if !fs.ValidPath(name) || name == "." {
		http.NotFound(w, r)
		return
	}
	data, err := fs.ReadFile(vf.files, name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	hd := w.Header()
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" {
		ctype = "text/plain; charset=utf-8" // LICENSE, NOTICE, VERSION
	}
	hd.Set("Content-Type", ctype)
	if r.URL.Query().Get("v") == vf.key {
		hd.Set("Cache-Control", immutable)
	} else {
		hd.Set("Cache-Control", "public, max-age=3600")
	}
	hd.Set("Vary", "Accept-Encoding")
	etag := vf.key + "-" + strings.ReplaceAll(name, "/", "-")
	if acceptsGzip(r) && len(data) > 1024 {
		data = vf.gzipped(name, data)
		hd.Set("Content-Encoding", "gzip")
		etag += "-gz"
	}
	hd.Set("ETag", `"`+etag+`"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}

// gzipped returns the gzip encoding of the file, made once.
func (vf *vendorFiles) gzipped(name string, data []byte) []byte {
	vf.mu.Lock()
	defer vf.mu.Unlock()
	if gz, ok := vf.gz[name]; ok {
		return gz
	}
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression) // the level is valid
	_, _ = zw.Write(data)                                  // a bytes.Buffer does not fail
	_ = zw.Close()
	vf.gz[name] = b.Bytes()
	return vf.gz[name]
}

// acceptsGzip reports whether the request's Accept-Encoding allows gzip.
func acceptsGzip(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept-Encoding") {
		for part := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
				continue
			}
			q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}

// visibleAPI returns the API if the visitor may see it, ENOTFOUND (like
// an unknown id) if not: the catalog page's rule (visible, catalog.go).
func (h *Handler) visibleAPI(ctx context.Context, v *visitor, id string) (*catalog.API, error) {
	a, err := h.cfg.Catalog.API(ctx, id)
	if err != nil {
		return nil, err
	}
	if !visible(v.Partner, a) {
		return nil, obhub.Errorf(obhub.ENOTFOUND, "API not found")
	}
	return a, nil
}

// apiDocument serves GET /portal/apis/{id}/openapi.json: the API's
// OpenAPI document for the reference renderer and for download, to
// whoever may see the API's page. Errors are problem+json.
func (h *Handler) apiDocument(w http.ResponseWriter, r *http.Request) {
	v, err := h.visit(w, r)
	var a *catalog.API
	if err == nil {
		a, err = h.visibleAPI(r.Context(), v, r.PathValue("id"))
	}
	var doc []byte
	if err == nil {
		doc, err = h.cfg.Catalog.APISpec(r.Context(), a.ID)
	}
	if err == nil {
		doc, err = hubDocument(doc, h.hubServers(a))
	}
	switch obhub.ErrorCode(err) {
	case "":
	case obhub.ENOTFOUND:
		// The same answer for an unknown API and one the visitor may
		// not see.
		httpx.Write(w, httpx.NotFound.New("API not found"))
		return
	case obhub.EUNAVAILABLE:
		httpx.Write(w, httpx.FromError(err))
		return
	default:
		h.cfg.Logger.Error("portal: API document", "path", r.URL.Path, "err", err)
		httpx.Write(w, httpx.Internal.New(""))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("inline", map[string]string{"filename": a.ID + ".openapi.json"}))
	_, _ = w.Write(doc)
}

// hubServer is one entry of an OpenAPI servers list.
type hubServer struct {
	URL         string `json:"url"`
	Description string `json:"description"`
}

// hubServers are the URLs a partner calls the API at: the hub's
// production and sandbox routes, never the bank's upstream.
func (h *Handler) hubServers(a *catalog.API) []hubServer {
	return []hubServer{
		{URL: h.cfg.PublicURL + "/" + a.Bank + a.BasePath, Description: "Production, through the alliance hub · 生产环境（经联盟枢纽）"},
		{URL: h.cfg.PublicURL + "/sandbox/" + a.Bank + a.BasePath, Description: "Sandbox · 沙箱环境"},
	}
}

// hubDocument returns the canonical JSON document with its servers
// replaced by the hub's, and the servers that path items and operations
// may declare removed: a bank's document may name its upstream (an
// internal address), which partners neither can nor should call.
func hubDocument(doc []byte, servers []hubServer) ([]byte, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(doc, &top); err != nil {
		return nil, fmt.Errorf("read API document: %w", err)
	}
	s, err := json.Marshal(servers)
	if err != nil {
		return nil, err
	}
	top["servers"] = s
	if p, ok := top["paths"]; ok {
		if top["paths"], err = withoutServers(p); err != nil {
			return nil, fmt.Errorf("read API document paths: %w", err)
		}
	}
	return json.Marshal(top)
}

// withoutServers rewrites a paths object without the servers of its path
// items and their operations. (The stored canonical document has its keys
// sorted, as encoding/json writes them, so re-encoding keeps the order.)
func withoutServers(raw json.RawMessage) (json.RawMessage, error) {
	var paths map[string]map[string]json.RawMessage
	if err := json.Unmarshal(raw, &paths); err != nil {
		return nil, err
	}
	for _, item := range paths {
		delete(item, "servers")
		for m, raw := range item {
			var op map[string]json.RawMessage
			if !slices.Contains(methodOrder, m) || json.Unmarshal(raw, &op) != nil {
				continue
			}
			if _, ok := op["servers"]; ok {
				delete(op, "servers")
				b, err := json.Marshal(op)
				if err != nil {
					return nil, err
				}
				item[m] = b
			}
		}
	}
	return json.Marshal(paths)
}

// refMessages are the texts around the interactive reference.
var refMessages = map[lang]map[string]string{
	langEN: {
		"ref.title":    "Reference",
		"ref.download": "Download the OpenAPI document (JSON)",
		"ref.loading":  "Loading the interactive reference…",
		"ref.failed":   "The interactive reference could not be drawn; the tables below show the same document.",
		"ref.plain":    "Show as plain tables",
		"ref.rich":     "Show the interactive reference",
		"ref.note":     "The interactive reference is drawn in your browser by Swagger UI, whose own labels are in English. To call an operation, use Try it above: it calls the sandbox as one of your apps.",
	},
	langZH: {
		"ref.title":    "参考文档",
		"ref.download": "下载 OpenAPI 文档（JSON）",
		"ref.loading":  "正在加载交互式参考文档…",
		"ref.failed":   "无法显示交互式参考文档；下方表格内容相同。",
		"ref.plain":    "以纯表格显示",
		"ref.rich":     "显示交互式参考文档",
		"ref.note":     "交互式参考文档由 Swagger UI 在浏览器中绘制，其自身界面文字为英文。如需调用某个操作，请使用上方的“在线试用”：它以您的应用身份调用沙箱。",
	},
}

// refText is the template function that translates the texts above.
func refText(l lang, key string) string {
	if s, ok := refMessages[l][key]; ok {
		return s
	}
	if s, ok := refMessages[langEN][key]; ok {
		return s
	}
	return key
}

// referenceRoutes adds the document and vendored-file routes.
func (h *Handler) referenceRoutes(mux *http.ServeMux) {
	mux.Handle("GET "+vendorPrefix, newVendorFiles())
	mux.HandleFunc("GET /portal/apis/{id}/openapi.json", h.apiDocument)
}
