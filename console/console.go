// Package console is the operators' admin console at /console/ on the
// admin listener: alliance admins, bank admins and compliance auditors
// sign in (apart from the partners of the developer portal) and work the
// approvals queue, the partners and APIs, the audit log and the usage
// report; alliance admins also read the portal's mail outbox (mail.go).
//
// Like the portal it is server-rendered html/template pages with embedded
// CSS, in Simplified Chinese and English. It reads and changes the
// alliance configuration through Catalog (*config.Store), reads the audit
// ledger through audit.Store (the same reader the admin API's audit routes
// get), and keeps operators and sessions in a Store (store/sqlite:
// console.db).
//
// Scoping: a bank admin, and an auditor bound to a bank, see only their
// bank's objects; every object outside the scope answers 404, as an
// unknown one does.
package console

import (
	"context"
	"embed"
	"github.com/obhub/obhub/internal/passwd"
	"github.com/obhub/obhub/internal/websession"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/audit"
	"github.com/obhub/obhub/catalog"
	"github.com/obhub/obhub/config"
	"github.com/obhub/obhub/partners"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Catalog is what the console reads and changes of the alliance
// configuration.
type Catalog interface {
	ListBanks(ctx context.Context, opt config.ListOptions) ([]catalog.Bank, bool, error)
	ListAPIs(ctx context.Context, opt config.ListOptions) ([]catalog.API, bool, error)
	API(ctx context.Context, id string) (*catalog.API, error)
	PublishAPI(ctx context.Context, id string) (*catalog.API, error)
	DeprecateAPI(ctx context.Context, id string, sunset time.Time) (*catalog.API, error)
	RetireAPI(ctx context.Context, id string) (*catalog.API, error)
	APISpec(ctx context.Context, id string) ([]byte, error)
	CreateAPI(ctx context.Context, in config.APIInput) (*catalog.API, error)
	UpdateAPI(ctx context.Context, id string, update func(*config.APIInput) error) (*catalog.API, error)
	ListProducts(ctx context.Context, opt config.ListOptions) ([]catalog.Product, bool, error)
	CreateProduct(ctx context.Context, p catalog.Product) (*catalog.Product, error)
	UpdateProduct(ctx context.Context, id string, update func(*catalog.Product) error) (*catalog.Product, error)
	ListPartners(ctx context.Context, opt config.ListOptions) ([]partners.Partner, bool, error)
	Partner(ctx context.Context, id string) (*partners.Partner, error)
	ApprovePartner(ctx context.Context, id string) (*partners.Partner, error)
	DeletePartner(ctx context.Context, id string) error
	ListApps(ctx context.Context, partner string, opt config.ListOptions) ([]config.AppView, bool, error)
	DeleteApp(ctx context.Context, clientID string) error
	SetAppSuspended(ctx context.Context, clientID string, suspended bool) (*config.AppView, error)
	ListSubscriptions(ctx context.Context, clientID string, opt config.ListOptions) ([]partners.Subscription, bool, error)
	ApproveSubscription(ctx context.Context, clientID, product string) (*partners.Subscription, error)
	RejectSubscription(ctx context.Context, clientID, product string) (*partners.Subscription, error)
	// CheckAdminToken reports whether token is the admin API's bearer
	// token: the setup form requires it.
	CheckAdminToken(ctx context.Context, token string) bool
}

var _ Catalog = (*config.Store)(nil)

// Config is what the console needs.
type Config struct {
	Catalog   Catalog
	Operators Store
	// Directory lists operators and resets their passwords for the
	// operators page; nil leaves the page out.
	Directory Directory
	// Audit is the ledger the audit and report pages read; nil shows
	// those pages as unavailable.
	Audit audit.Store
	// Outbox is the portal's mail outbox for the Mail page (alliance
	// admins); nil leaves the page out.
	Outbox Outbox
	// MailRetry sends a failed mail again through the node's relay
	// (--smtp-url: mail.SMTP); nil offers no retry, the mails being
	// forwarded by hand.
	MailRetry MailRetry
	// Record writes an administrative change to the audit ledger (the
	// node's audit.Writer); nil records nothing.
	Record        func(audit.Record) error
	SecureCookies bool
	Clock         obhub.Clock
	Logger        *slog.Logger
}

// Handler serves the console. Mount it at /console/.
type Handler struct {
	cfg    Config
	site   websession.Site
	pages  map[string]*template.Template
	hasher *passwd.Hasher
	root   http.Handler
}

const maxForm = 64 << 10

// New builds the console. It does no I/O.
func New(cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{cfg: cfg, pages: map[string]*template.Template{}, hasher: passwd.NewHasher(2), site: site(cfg)}
	for _, name := range []string{"signin", "setup", "approvals", "partners", "apis", "audit", "reports", "error",
		"apps", "app", "products", "product", "upload", "history", "change", "operators", "mail", "confirm"} {
		h.pages[name] = template.Must(template.New("layout.html").Funcs(funcs).
			ParseFS(templateFiles, "templates/layout.html", "templates/"+name+".html"))
	}
	static, err := fs.Sub(staticFiles, "static")
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /console/static/", http.StripPrefix("/console/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /console/{$}", h.home)
	mux.HandleFunc("GET /console/signin", h.signinForm)
	mux.HandleFunc("POST /console/signin", h.signin)
	mux.HandleFunc("POST /console/signout", h.signout)
	mux.HandleFunc("GET /console/setup", h.setupForm)
	mux.HandleFunc("POST /console/setup", h.setup)
	mux.HandleFunc("GET /console/approvals", h.approvals)
	mux.HandleFunc("POST /console/partners/{id}/{verb}", h.decidePartner)
	mux.HandleFunc("GET /console/partners/{id}/reject", h.confirmReject)
	mux.HandleFunc("POST /console/subscriptions/{verb}", h.decideSubscription)
	mux.HandleFunc("GET /console/partners", h.partnersPage)
	mux.HandleFunc("GET /console/apis", h.apisPage)
	mux.HandleFunc("POST /console/apis/{id}/{verb}", h.lifecycle)
	mux.HandleFunc("GET /console/apis/{id}/retire", h.confirmRetire)
	mux.HandleFunc("GET /console/apis/upload", h.uploadForm)
	mux.HandleFunc("POST /console/apis/upload", h.upload)
	mux.HandleFunc("POST /console/apis/upload/confirm", h.confirmUpload)
	mux.HandleFunc("GET /console/apps", h.appsPage)
	mux.HandleFunc("GET /console/apps/{client_id}", h.appPage)
	mux.HandleFunc("POST /console/apps/{client_id}/{verb}", h.suspendApp)
	mux.HandleFunc("GET /console/apps/{client_id}/suspend", h.confirmSuspend)
	mux.HandleFunc("GET /console/products", h.productsPage)
	mux.HandleFunc("GET /console/products/{id}", h.productFormPage)
	mux.HandleFunc("POST /console/products/{id}", h.saveProduct)
	mux.HandleFunc("GET /console/history", h.historyPage)
	mux.HandleFunc("GET /console/history/{seq}", h.changePage)
	mux.HandleFunc("GET /console/operators", h.operatorsPage)
	mux.HandleFunc("POST /console/operators", h.addOperator)
	mux.HandleFunc("POST /console/operators/{id}/{verb}", h.changeOperator)
	mux.HandleFunc("GET /console/mail", h.mailPage)
	mux.HandleFunc("POST /console/mail/{seq}/retry", h.retryMail)
	mux.HandleFunc("GET /console/audit", h.auditPage)
	mux.HandleFunc("GET /console/reports", h.reportsPage)
	mux.HandleFunc("GET /console", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/console/", http.StatusMovedPermanently)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/console/") {
			// Not the console's (a browser's /favicon.ico): no page, and
			// above all no new CSRF cookie replacing the form's.
			http.NotFound(w, r)
			return
		}
		v, err := h.visit(w, r)
		if err != nil {
			h.fail(w, r, v, err)
			return
		}
		h.notFound(w, v)
	})
	h.root = http.NewCrossOriginProtection().Handler(mux)
	h.root = websession.BaseCSS(h.root, "/console/") // the stylesheet shared with the portal
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Cache-Control", "no-store")
	if r.Method == http.MethodPost {
		limit := int64(maxForm)
		if strings.HasPrefix(r.URL.Path, "/console/apis/upload") {
			limit = maxUpload // an OpenAPI document
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
	}
	h.root.ServeHTTP(w, r)
}

// visitor is who is looking at a page.
type visitor struct {
	L        lang
	CSRF     string
	Session  *Session
	Operator *Operator
	Path     string
	// directory tells whether the node has an operators page; outbox,
	// a Mail page.
	directory, outbox bool
}

// SignedIn reports whether an operator is signed in.
func (v *visitor) SignedIn() bool { return v != nil && v.Operator != nil }

// Can reports whether the operator may open a section: "approvals",
// "partners", "apps", "apis", "products" (admins), "operators", "mail"
// (alliance admins) or "audit", "reports", "history" (everyone).
func (v *visitor) Can(section string) bool {
	if !v.SignedIn() {
		return false
	}
	switch section {
	case "audit", "reports", "history":
		return true
	case "operators":
		return v.directory && v.Operator.Role == RoleAllianceAdmin
	case "mail":
		return v.outbox && v.Operator.Role == RoleAllianceAdmin
	}
	return v.Operator.Role == RoleAllianceAdmin || v.Operator.Role == RoleBankAdmin
}

// Bank is the operator's bank scope: "" sees every bank.
func (v *visitor) Bank() string {
	if v.Operator == nil || v.Operator.Role == RoleAllianceAdmin {
		return ""
	}
	return v.Operator.Bank
}

func (h *Handler) visit(w http.ResponseWriter, r *http.Request) (*visitor, error) {
	v := &visitor{L: h.pickLang(w, r), Path: r.URL.Path, directory: h.cfg.Directory != nil,
		outbox: h.cfg.Outbox != nil}
	s, o, err := h.session(r.Context(), r)
	if err != nil {
		return v, err
	}
	// A bank admin with no bank would see everything: refuse the session;
	// a disabled operator's sessions end with it.
	if o != nil && o.Role == RoleBankAdmin && o.Bank == "" || o != nil && (!ValidRole(o.Role) || o.Disabled()) {
		s, o = nil, nil
	}
	v.Session, v.Operator = s, o
	v.CSRF = h.site.CSRFToken(w, r, s.csrf())
	return v, nil
}

// gate reads the visitor of a page of section: not signed in goes to the
// sign-in page, a section the role may not open is 404. For a POST it
// checks the CSRF token. It reports whether to go on.
func (h *Handler) gate(w http.ResponseWriter, r *http.Request, section string) (*visitor, bool) {
	v, err := h.visit(w, r)
	if err != nil {
		h.fail(w, r, v, err)
		return nil, false
	}
	if !v.SignedIn() {
		if r.Method != http.MethodGet {
			h.csrfFailed(w, v)
			return nil, false
		}
		http.Redirect(w, r, "/console/signin", http.StatusSeeOther)
		return nil, false
	}
	if r.Method == http.MethodPost && !h.site.CheckCSRF(r, v.Session.csrf()) {
		h.csrfFailed(w, v)
		return nil, false
	}
	if r.Method == http.MethodPost && v.Operator.Role == RoleAuditor {
		// An auditor reads; whatever the form, it changes nothing.
		h.render(w, v, http.StatusForbidden, "error", v.L.T("err.title"), nil, v.L.T("err.readonly"))
		return nil, false
	}
	if !v.Can(section) {
		h.notFound(w, v)
		return nil, false
	}
	return v, true
}

type page struct {
	V     *visitor
	L     lang
	Title string
	Errs  []string
	Flash string
	Data  any
}

func (h *Handler) render(w http.ResponseWriter, v *visitor, status int, name, title string, errs []string, data any) {
	h.renderFlash(w, v, status, name, title, errs, "", data)
}

func (h *Handler) renderFlash(w http.ResponseWriter, v *visitor, status int, name, title string, errs []string, flash string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	var b strings.Builder
	if err := h.pages[name].Execute(&b, page{V: v, L: v.L, Title: title, Errs: errs, Flash: flash, Data: data}); err != nil {
		h.cfg.Logger.Error("console: render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}

func (h *Handler) notFound(w http.ResponseWriter, v *visitor) {
	h.render(w, v, http.StatusNotFound, "error", v.L.T("err.notfound"), nil, v.L.T("err.notfound.lead"))
}

// fail shows an error page: unknown and forbidden objects alike are 404,
// a conflict 409 and an invalid change 422 with their findings (an
// action shows these on its own page instead: see refusal), a store that
// is down 503, anything else 500 (logged here, once).
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, v *visitor, err error) {
	if v == nil {
		v = &visitor{L: langEN}
	}
	switch obhub.ErrorCode(err) {
	case obhub.ENOTFOUND:
		h.notFound(w, v)
	case obhub.ECONFLICT, obhub.EINVALID:
		lines, _ := refusal(v.L, err)
		h.render(w, v, refusalStatus(err), "error", v.L.T("err.refused"), lines, v.L.T("err.refused.lead"))
	case obhub.EUNAVAILABLE:
		h.render(w, v, http.StatusServiceUnavailable, "error", v.L.T("err.title"), nil, v.L.T("err.unavailable"))
	default:
		h.cfg.Logger.Error("console request failed", "path", r.URL.Path, "err", err)
		h.render(w, v, http.StatusInternalServerError, "error", v.L.T("err.title"), nil, v.L.T("err.internal"))
	}
}

func (h *Handler) csrfFailed(w http.ResponseWriter, v *visitor) {
	h.render(w, v, http.StatusForbidden, "error", v.L.T("err.title"), nil, v.L.T("err.csrf"))
}

var funcs = template.FuncMap{
	"date": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02")
	},
	"datetime": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"list": func(s ...string) []string { return s },
	// bankField is the data of the operator forms' bank field.
	"bankField": func(l lang, banks []catalog.Bank, bank string) any {
		return struct {
			L     lang
			Banks []catalog.Bank
			Bank  string
		}{l, banks, bank}
	},
	"change": changeLabel,
	"has":    func(s []string, x string) bool { return slices.Contains(s, x) },
	"lower":  strings.ToLower,
	"pct": func(n, of int64) int64 {
		if of <= 0 {
			return 0
		}
		return n * 100 / of
	},
}

// RoleLabel names the operator's role and scope in the page language.
func (v *visitor) RoleLabel() string {
	o := v.Operator
	switch {
	case o == nil:
		return ""
	case o.Role == RoleBankAdmin:
		return v.L.T("role.bank-admin", o.Bank)
	case o.Role == RoleAuditor && o.Bank != "":
		return v.L.T("role.auditor.bank", o.Bank)
	}
	return v.L.T("role." + o.Role)
}

// record writes a change an operator made to the audit ledger, as the
// admin API's changes are: the actor is "console:" and the operator's
// e-mail address, bank the bank the object belongs to ("" alliance-wide).
func (h *Handler) record(r *http.Request, v *visitor, bank, object, verb string) {
	h.recordChange(r, v, bank, object, verb, nil, nil)
}

// recordChange records a change with the object's state before and after
// it, as JSON (nil: none). The console's objects hold no secrets (apps'
// secret hashes never leave config.Store).
func (h *Handler) recordChange(r *http.Request, v *visitor, bank, object, verb string, before, after any) {
	if h.cfg.Record == nil {
		return
	}
	c := audit.Change{Actor: "console:" + v.Operator.Email, Bank: bank, Object: object, Verb: verb,
		Path: r.URL.Path, RequestID: obhub.RequestID(r.Context()), Before: before, After: after}
	if err := h.cfg.Record(c.Record(h.cfg.Clock.Now())); err != nil {
		h.cfg.Logger.Error("console: change not recorded in the audit log", "object", object, "verb", verb, "err", err)
	}
}
