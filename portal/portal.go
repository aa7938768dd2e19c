// Package portal is the developer portal at /portal/ on the public
// listener: fintech developers sign up (registering their organisation as
// a pending partner), sign in, read the API catalog and references, create
// sandbox apps and, once approved, production apps, and subscribe apps to
// products.
//
// It is an HTTP edge: server-rendered html/template pages with embedded
// CSS and a little progressive JavaScript, in Simplified Chinese and
// English. It reads and changes the alliance configuration through
// Catalog (implemented by *config.Store) and keeps developer accounts,
// their teams and sessions, the tokens of mailed links and the mail
// outbox in a Store (store/sqlite: portal.db; store/postgres with --db).
package portal

import (
	"context"
	"embed"
	"github.com/obhub/obhub/internal/mail"
	"github.com/obhub/obhub/internal/passwd"
	"github.com/obhub/obhub/internal/websession"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
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

// Catalog is what the portal reads and changes of the alliance
// configuration.
type Catalog interface {
	ListBanks(ctx context.Context, opt config.ListOptions) ([]catalog.Bank, bool, error)
	ListAPIs(ctx context.Context, opt config.ListOptions) ([]catalog.API, bool, error)
	API(ctx context.Context, id string) (*catalog.API, error)
	APISpec(ctx context.Context, id string) ([]byte, error)
	ListProducts(ctx context.Context, opt config.ListOptions) ([]catalog.Product, bool, error)
	Partner(ctx context.Context, id string) (*partners.Partner, error)
	// SetPartnerProfile: the organisation profile (profile.go).
	SetPartnerProfile(ctx context.Context, id string, p partners.Profile) (*partners.Partner, error)
	CreatePartner(ctx context.Context, p partners.Partner) (*partners.Partner, error)
	DeletePartner(ctx context.Context, id string) error
	ListApps(ctx context.Context, partner string, opt config.ListOptions) ([]config.AppView, bool, error)
	App(ctx context.Context, clientID string) (*config.AppView, error)
	CreateApp(ctx context.Context, a partners.App) (*config.AppView, string, error)
	ListSubscriptions(ctx context.Context, clientID string, opt config.ListOptions) ([]partners.Subscription, bool, error)
	Subscribe(ctx context.Context, clientID, product string) (*partners.Subscription, error)
	// Cancelling subscriptions and deleting apps (appremove.go): the
	// functions behind the admin API's DELETEs.
	Product(ctx context.Context, id string) (*catalog.Product, error)
	Subscription(ctx context.Context, clientID, product string) (*partners.Subscription, error)
	DeleteSubscription(ctx context.Context, clientID, product string) error
	DeleteApp(ctx context.Context, clientID string) error
	// Credentials (credentials.go).
	RotateAppSecret(ctx context.Context, clientID string, keepPrevious time.Duration) (*config.AppView, string, error)
	UpdateApp(ctx context.Context, clientID string, update func(*config.AppView) error) (*config.AppView, error)
}

var _ Catalog = (*config.Store)(nil)

// Config is what the portal needs.
type Config struct {
	Catalog  Catalog
	Accounts Store
	// PublicURL is the public listener's base URL, shown in API base URLs
	// and snippets ("" shows paths only).
	PublicURL string
	// SecureCookies marks cookies Secure even when the request reached
	// the node without TLS (TLS ended at a proxy in front).
	SecureCookies bool
	Clock         obhub.Clock
	Logger        *slog.Logger
	// Mailer sends the verification, password-reset and invitation
	// mails (mail.go); nil keeps them in the outbox of Accounts
	// (mail.Outbox), which the operator reads with the admin API.
	Mailer mail.Mailer
	// TryIt issues the try-it console's short-lived sandbox tokens
	// (tryit.go); nil turns the console off.
	TryIt TokenIssuer
	// Gateway sends the try-it calls made by the server (a browser
	// without JavaScript) to the public listener at GatewayURL.
	Gateway    Doer
	GatewayURL string
	// Usage reads the audit ledger for the apps' usage pages (usage.go);
	// nil turns them off.
	Usage UsageReader
	// Registration issues the owners' initial access tokens for dynamic
	// client registration (registration.go); nil answers 503 there.
	// RegistrationEndpoint is the URL the page's command posts to.
	Registration         RegistrationTokens
	RegistrationEndpoint string
	// Record writes a partner's self-service changes (sign-up, apps,
	// subscriptions, credentials, profile, team, registration tokens) to
	// the audit ledger as administrative changes (changes.go); nil records
	// none.
	Record func(audit.Record) error
}

// Handler serves the portal. Mount it at /portal/.
type Handler struct {
	cfg    Config
	site   websession.Site
	pages  map[string]*template.Template
	hasher *passwd.Hasher
	root   http.Handler
	mailer mail.Mailer
}

// maxForm bounds a form body.
const maxForm = 64 << 10

// New builds the portal. It does no I/O.
func New(cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.PublicURL = strings.TrimSuffix(cfg.PublicURL, "/")
	h := &Handler{cfg: cfg, pages: map[string]*template.Template{}, hasher: passwd.NewHasher(4), site: site(cfg)}
	for _, name := range []string{"home", "signup", "signin", "apis", "api", "apps", "app", "error", "tryit", "usage", "confirm"} {
		h.pages[name] = template.Must(template.New("layout.html").Funcs(funcs).
			ParseFS(templateFiles, "templates/layout.html", "templates/"+name+".html"))
	}
	static, err := fs.Sub(staticFiles, "static")
	if err != nil {
		panic(err)
	}
	h.mailer = cfg.Mailer
	if h.mailer == nil {
		h.mailer = mail.NewOutbox(cfg.Accounts, cfg.Clock, cfg.Logger)
	}
	mux := http.NewServeMux()
	h.routeAccounts(mux) // team.go: e-mail verification, password reset, team, invitations
	mux.Handle("GET /portal/static/", http.StripPrefix("/portal/static/", cacheFor(time.Hour, http.FileServerFS(static))))
	mux.HandleFunc("GET /portal/{$}", h.home)
	mux.HandleFunc("GET /portal/signup", h.signupForm)
	mux.HandleFunc("POST /portal/signup", h.signup)
	mux.HandleFunc("GET /portal/signup/sent", h.signupSent)
	mux.HandleFunc("GET /portal/signin", h.signinForm)
	mux.HandleFunc("POST /portal/signin", h.signin)
	mux.HandleFunc("POST /portal/signout", h.signout)
	mux.HandleFunc("GET /portal/apis", h.apis)
	mux.HandleFunc("GET /portal/apis/{id}", h.api)
	mux.HandleFunc("GET /portal/apps", h.apps)
	mux.HandleFunc("POST /portal/apps", h.createApp)
	mux.HandleFunc("GET /portal/apps/{id}", h.app)
	mux.HandleFunc("POST /portal/apps/{id}/subscriptions", h.subscribe)
	mux.HandleFunc("GET /portal/apis/{id}/try", h.tryForm)             // tryit.go
	mux.HandleFunc("POST /portal/apis/{id}/try", h.trySend)            // tryit.go
	mux.HandleFunc("POST /portal/apis/{id}/try/prepare", h.tryPrepare) // tryit.go
	mux.HandleFunc("GET /portal/apps/{id}/usage", h.usage)             // usage.go

	h.credentialRoutes(mux) // credentials.go: secret rotation, JWKS, redirect URIs
	h.removalRoutes(mux)    // appremove.go: cancelling subscriptions, deleting apps
	h.referenceRoutes(mux)  // reference_doc.go: OpenAPI document, vendored renderer
	// registration.go: owners' initial access tokens
	h.registrationRoutes(mux)
	h.profileRoutes(mux) // profile.go: organisation profile, account and password change
	mux.HandleFunc("GET /portal", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/portal/", http.StatusMovedPermanently)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		v, err := h.visit(w, r)
		if err != nil {
			h.fail(w, r, v, err)
			return
		}
		h.notFound(w, r, v)
	})
	// Cross-origin POSTs are refused by the browser's Sec-Fetch-Site and
	// Origin headers as well as by the CSRF tokens.
	h.root = http.NewCrossOriginProtection().Handler(mux)
	// Large-text mode: /portal/text-size and /portal/text-size.css.
	h.root = websession.TextSize(h.root, textSizeCookie, "/portal/", cfg.SecureCookies)
	h.root = websession.BaseCSS(h.root, "/portal/") // the stylesheet shared with the console
	return h
}

func cacheFor(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(int(d/time.Second)))
		next.ServeHTTP(w, r)
	})
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
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	}
	h.root.ServeHTTP(w, r)
}

// visitor is who is looking at a page.
type visitor struct {
	L       lang
	CSRF    string
	Session *Session
	Account *Account
	Partner *partners.Partner
	Path    string
}

// SignedIn reports whether the visitor is signed in.
func (v *visitor) SignedIn() bool { return v != nil && v.Account != nil }

// visit reads the language, the session and the CSRF token of a request.
func (h *Handler) visit(w http.ResponseWriter, r *http.Request) (*visitor, error) {
	v := &visitor{L: h.pickLang(w, r), Path: r.URL.Path}
	s, a, err := h.session(r.Context(), r)
	if err != nil {
		return v, err
	}
	if a != nil {
		p, err := h.cfg.Catalog.Partner(r.Context(), a.Partner)
		switch {
		case obhub.ErrorCode(err) == obhub.ENOTFOUND:
			// The partner was deleted by an operator: the account is
			// left with nothing to act for.
			s, a = nil, nil
		case err != nil:
			return v, err
		default:
			v.Partner = p
		}
	}
	v.Session, v.Account = s, a
	v.CSRF = h.site.CSRFToken(w, r, s.csrf())
	return v, nil
}

// page is what every template gets.
type page struct {
	V     *visitor
	L     lang
	Title string
	Errs  []string
	Data  any
}

func (h *Handler) render(w http.ResponseWriter, v *visitor, status int, name, title string, errs []string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	var b strings.Builder
	if err := h.pages[name].Execute(&b, page{V: v, L: v.L, Title: title, Errs: errs, Data: data}); err != nil {
		h.cfg.Logger.Error("portal: render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}

func (h *Handler) notFound(w http.ResponseWriter, r *http.Request, v *visitor) {
	h.render(w, v, http.StatusNotFound, "error", v.L.T("err.notfound"), nil, v.L.T("err.notfound.lead"))
}

// fail shows an error page for err: unknown and forbidden objects alike
// are 404, a store that is down 503, anything else 500 (logged here, once).
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, v *visitor, err error) {
	if v == nil {
		v = &visitor{L: langEN}
	}
	switch obhub.ErrorCode(err) {
	case obhub.ENOTFOUND:
		h.notFound(w, r, v)
	case obhub.EUNAVAILABLE:
		h.render(w, v, http.StatusServiceUnavailable, "error", v.L.T("err.title"), nil, v.L.T("err.unavailable"))
	default:
		h.cfg.Logger.Error("portal request failed", "path", r.URL.Path, "err", err)
		h.render(w, v, http.StatusInternalServerError, "error", v.L.T("err.title"), nil, v.L.T("err.internal"))
	}
}

// csrfFailed answers a POST without the right token.
func (h *Handler) csrfFailed(w http.ResponseWriter, v *visitor) {
	h.render(w, v, http.StatusForbidden, "error", v.L.T("err.title"), nil, v.L.T("err.csrf"))
}

// requireSignIn sends a visitor who is not signed in to the sign-in page.
// signedIn starts a handler that needs a signed-in developer: without one
// it has answered (an error page, or a redirect to sign-in) and returns
// nil.
func (h *Handler) signedIn(w http.ResponseWriter, r *http.Request) *visitor {
	v, err := h.visit(w, r)
	if err != nil {
		h.fail(w, r, v, err)
		return nil
	}
	if !requireSignIn(w, r, v) {
		return nil
	}
	return v
}

func requireSignIn(w http.ResponseWriter, r *http.Request, v *visitor) bool {
	if v.SignedIn() {
		return true
	}
	// The whole path and query come back after sign-in (try-it's ?op=,
	// say); signin checks it again with safeNext.
	http.Redirect(w, r, "/portal/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
	return false
}

var funcs = template.FuncMap{
	"date": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02")
	},
	"lower": strings.ToLower,
	// scope shows a scope that a narrow column may wrap only after a
	// colon ("transactions:<wbr>read"), never inside a word.
	"scope":    scopeHTML,
	"join":     strings.Join,
	"anchorOf": anchor,
	// md and mdInline show OpenAPI descriptions (markdown.go).
	"md":       markdown,
	"mdInline": inline,
	// vendored and refT serve the interactive reference (reference_doc.go).
	"vendored": vendoredURL,
	"refT":     refText,
	// pair hands a page and one media type's fields to the "fields"
	// template.
	"pair": func(p page, c refContent) fieldsArg { return fieldsArg{P: p, C: c} },
}

type fieldsArg struct {
	P page
	C refContent
}

// scopeHTML is a scope, escaped, with a line-break opportunity after
// each colon; the "scope" class (portal.css) stops breaks inside words.
func scopeHTML(s string) template.HTML {
	parts := strings.Split(s, ":")
	for i, p := range parts {
		parts[i] = template.HTMLEscapeString(p)
	}
	return template.HTML(`<code class="scope">` + strings.Join(parts, ":<wbr>") + `</code>`) //nolint:gosec // every part escaped
}
