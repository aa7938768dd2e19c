package oauth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/ory/fosite"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/partners"
)

//go:embed templates/*.html
var templateFiles embed.FS

var authorizeTemplate = template.Must(template.ParseFS(templateFiles, "templates/authorize.html"))

const (
	// interactionLifetime is how long a customer has to sign in.
	interactionLifetime = 10 * time.Minute
	interactionPrefix   = "login:"
	// maxSignInAttempts ends the authorization with access_denied.
	maxSignInAttempts = 5
	csrfCookie        = "obhub_authz_csrf"
	attemptsParam     = "obhub_signin_attempts"
	maxAuthorizeBody  = 16 << 10
)

// permission is one scope in plain words.
type permission struct{ ZH, EN string }

// permissions describes the scopes the alliance's APIs use. An unknown
// scope is shown as itself.
var permissions = map[string]permission{
	"accounts:read":     {"查看您的账户和余额", "See your accounts and balances"},
	"transactions:read": {"查看您的交易明细", "See your transactions"},
	"payments:read":     {"查看您发起的付款", "See the payments you made"},
	"payments:write":    {"以您的名义发起付款", "Make payments on your behalf"},
	"loans:read":        {"查看贷款产品和您的贷款申请", "See loan products and your loan applications"},
	"loans:write":       {"以您的名义提交贷款申请", "Apply for loans on your behalf"},
	"branches:read":     {"查看网点和自助设备位置", "See branch and ATM locations"},
}

func describe(scopes []string) []permission {
	out := make([]permission, 0, len(scopes))
	for _, s := range scopes {
		if p, ok := permissions[s]; ok {
			out = append(out, p)
		} else {
			out = append(out, permission{s, s})
		}
	}
	return out
}

type authorizePage struct {
	Error                string
	Interaction, CSRF    string
	Action               string
	AppName, PartnerName string
	Sandbox              bool
	Permissions          []permission
	Banks                []Bank
	Bank, Login          string
}

// authorizeFailure renders an error page. It never redirects: used
// whenever the client or redirect URI cannot be trusted.
func (s *Server) authorizeFailure(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	w.WriteHeader(status)
	_ = authorizeTemplate.Execute(w, authorizePage{Error: msg})
}

// authorize serves GET /oauth2/authorize: it validates the request (PAR
// expanded by fosite), then shows the sign-in and consent screen.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	app, _, err := s.clients.Client(ctx, q.Get("client_id"))
	switch {
	case obhub.ErrorCode(err) == obhub.ENOTFOUND || (err == nil && app == nil):
		s.authorizeFailure(w, http.StatusBadRequest, "未知的应用 · Unknown client_id.")
		return
	case err != nil:
		s.authorizeFailure(w, http.StatusServiceUnavailable, "服务暂不可用 · The service is unavailable; try again later.")
		return
	}
	usesPAR := q.Has("request_uri")
	if !usesPAR {
		if app.FAPI {
			s.authorizeFailure(w, http.StatusBadRequest, "此应用必须使用推送授权请求 (PAR) · This app must use a pushed authorization request (request_uri).")
			return
		}
		if !slices.Contains(app.RedirectURIs, q.Get("redirect_uri")) {
			s.authorizeFailure(w, http.StatusBadRequest, "redirect_uri 与登记的不一致 · redirect_uri is missing or not exactly one of the app's registered redirect URIs.")
			return
		}
	} else if len(q) != 2 || !q.Has("client_id") {
		s.authorizeFailure(w, http.StatusBadRequest, "使用 request_uri 时只能带 client_id · With request_uri, send only client_id and request_uri.")
		return
	}

	ar, err := s.provider.NewAuthorizeRequest(ctx, r)
	if err != nil {
		s.authorizeError(ctx, w, r, ar, err)
		return
	}
	// PKCE is checked here, before the customer signs in (fosite checks
	// it only when the code is issued).
	switch form := ar.GetRequestForm(); {
	case form.Get("code_challenge") == "":
		s.authorizeError(ctx, w, r, ar, fosite.ErrInvalidRequest.WithHint("PKCE is required: send code_challenge and code_challenge_method=S256."))
		return
	case form.Get("code_challenge_method") != "S256":
		s.authorizeError(ctx, w, r, ar, fosite.ErrInvalidRequest.WithHint("Only code_challenge_method=S256 is supported."))
		return
	}
	if c, ok := ar.GetClient().(*client); !ok || c.partner.Status != partners.PartnerApproved {
		s.authorizeError(ctx, w, r, ar, fosite.ErrUnauthorizedClient.WithHint("The client's partner has not been approved."))
		return
	}
	s.showSignIn(ctx, w, ar, "", "", "")
}

// showSignIn stores the pending request under a new interaction id and
// renders the screen.
func (s *Server) showSignIn(ctx context.Context, w http.ResponseWriter, ar fosite.AuthorizeRequester, msg, bank, login string) {
	c := ar.GetClient().(*client)
	rec, err := encodeRequest(ar)
	if err != nil {
		s.authorizeError(ctx, w, nil, ar, fosite.ErrServerError.WithWrap(err))
		return
	}
	id := rand.Text()
	rec.ExpiresAt = s.clock.Now().Add(interactionLifetime)
	if err := s.store.PutRequest(ctx, interactionPrefix+id, rec); err != nil {
		s.log.ErrorContext(ctx, "store sign-in", "err", err)
		s.authorizeFailure(w, http.StatusServiceUnavailable, "服务暂不可用 · The service is unavailable; try again later.")
		return
	}
	banks, err := s.customers.Banks(ctx)
	if err != nil {
		s.authorizeFailure(w, http.StatusServiceUnavailable, "服务暂不可用 · The service is unavailable; try again later.")
		return
	}
	if bank == "" {
		bank = ar.GetRequestForm().Get("bank") // optional preselection
	}
	csrf := s.csrfToken(id)
	http.SetCookie(w, &http.Cookie{
		Name: csrfCookie, Value: csrf, Path: PathAuthorize, HttpOnly: true,
		Secure: s.secure, SameSite: http.SameSiteLaxMode, MaxAge: int(interactionLifetime / time.Second),
	})
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	status := http.StatusOK
	if msg != "" {
		status = http.StatusUnauthorized
	}
	w.WriteHeader(status)
	_ = authorizeTemplate.Execute(w, authorizePage{
		Error:       msg,
		Interaction: id,
		CSRF:        csrf,
		Action:      s.endpoint(PathAuthorize),
		AppName:     c.app.Name,
		PartnerName: c.partner.Name,
		Sandbox:     c.app.Environment == partners.Sandbox,
		Permissions: describe(ar.GetRequestedScopes()),
		Banks:       banks,
		Bank:        bank,
		Login:       login,
	})
}

// csrfToken binds the form to its interaction: the cookie and the form
// field must both carry it.
func (s *Server) csrfToken(interaction string) string {
	m := hmac.New(sha256.New, s.hmacSecret)
	m.Write([]byte("csrf:" + interaction))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// authorizeSubmit serves POST /oauth2/authorize: the customer's answer.
func (s *Server) authorizeSubmit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxAuthorizeBody)
	if err := r.ParseForm(); err != nil {
		s.authorizeFailure(w, http.StatusBadRequest, "请求无效 · Bad request.")
		return
	}
	id, csrf := r.PostForm.Get("interaction"), r.PostForm.Get("csrf")
	cookie, cerr := r.Cookie(csrfCookie)
	if id == "" || cerr != nil || !hmac.Equal([]byte(cookie.Value), []byte(csrf)) || !hmac.Equal([]byte(csrf), []byte(s.csrfToken(id))) {
		s.authorizeFailure(w, http.StatusForbidden, "表单已失效，请从应用重新开始 · This form is not valid; start again from the app.")
		return
	}
	rec, err := s.store.TakeRequest(ctx, interactionPrefix+id, s.clock.Now())
	switch {
	case obhub.ErrorCode(err) == obhub.ENOTFOUND:
		s.authorizeFailure(w, http.StatusBadRequest, "登录已过期，请从应用重新开始 · This sign-in has expired or was already used; start again from the app.")
		return
	case err != nil:
		s.authorizeFailure(w, http.StatusServiceUnavailable, "服务暂不可用 · The service is unavailable; try again later.")
		return
	}
	ar, err := s.fositeStore.decodeRequest(ctx, rec, newSession())
	if err != nil {
		s.authorizeFailure(w, http.StatusBadRequest, "应用已不可用 · The app is no longer available.")
		return
	}
	if r.PostForm.Get("action") != "allow" {
		s.authorizeError(ctx, w, r, ar, fosite.ErrAccessDenied.WithHint("The customer denied the request."))
		return
	}
	c := ar.GetClient().(*client)
	bank, login := r.PostForm.Get("bank"), r.PostForm.Get("login")
	cust, err := s.customers.Authenticate(ctx, c.app.Environment, bank, login, r.PostForm.Get("password"))
	if err != nil {
		if obhub.ErrorCode(err) != obhub.EUNAUTHORIZED {
			s.authorizeFailure(w, http.StatusServiceUnavailable, "服务暂不可用 · The service is unavailable; try again later.")
			return
		}
		attempts, _ := strconv.Atoi(ar.Form.Get(attemptsParam))
		attempts++
		if attempts >= maxSignInAttempts {
			s.authorizeError(ctx, w, r, ar, fosite.ErrAccessDenied.WithHint("Too many failed sign-in attempts."))
			return
		}
		ar.Form.Set(attemptsParam, strconv.Itoa(attempts))
		s.showSignIn(ctx, w, ar, "登录名或密码错误 · "+obhub.ErrorMessage(err), bank, login)
		return
	}
	ar.Form.Del(attemptsParam)

	sess := newSession()
	for _, sc := range ar.GetRequestedScopes() {
		ar.GrantScope(sc)
	}
	ar.GrantAudience(s.audience)
	sess.Subject = cust.ID
	sess.JWTClaims.Subject = cust.ID
	sess.JWTClaims.Add("client_id", c.app.ClientID)
	sess.JWTClaims.Add(ClaimEnvironment, string(c.app.Environment))
	sess.JWTClaims.Add(ClaimPartner, c.partner.ID)
	sess.JWTClaims.Add(ClaimBank, bank)
	resp, err := s.provider.NewAuthorizeResponse(ctx, ar, sess)
	if err != nil {
		s.authorizeError(ctx, w, r, ar, err)
		return
	}
	resp.AddParameter("iss", s.issuer) // RFC 9207
	s.log.InfoContext(ctx, "customer authorized app",
		slog.String("client_id", c.app.ClientID), slog.String("bank", bank), slog.String("sub", cust.ID))
	w.Header().Set("Cache-Control", "no-store")
	s.provider.WriteAuthorizeResponse(ctx, w, ar, resp)
}

// authorizeError answers an authorization request that failed. Only a
// request whose client and exact redirect URI are known is answered by a
// redirect (with iss, RFC 9207); anything else gets an error page.
func (s *Server) authorizeError(ctx context.Context, w http.ResponseWriter, _ *http.Request, ar fosite.AuthorizeRequester, err error) {
	rfc := fosite.ErrorToRFC6749Error(err)
	level := slog.LevelDebug
	if rfc.CodeField >= 500 {
		level = slog.LevelError
	}
	s.log.Log(ctx, level, "authorization request refused", "error", rfc.ErrorField, "description", rfc.GetDescription(), "debug", rfc.Debug())
	if ar == nil || ar.GetRedirectURI() == nil || ar.GetClient() == nil ||
		!slices.Contains(ar.GetClient().GetRedirectURIs(), ar.GetRedirectURI().String()) {
		s.authorizeFailure(w, http.StatusBadRequest, rfc.ErrorField+": "+rfc.GetDescription())
		return
	}
	u := *ar.GetRedirectURI()
	v := u.Query()
	v.Set("error", rfc.ErrorField)
	if d := rfc.GetDescription(); d != "" {
		v.Set("error_description", d)
	}
	if st := ar.GetState(); st != "" {
		v.Set("state", st)
	}
	v.Set("iss", s.issuer)
	u.RawQuery = v.Encode()
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, &http.Request{Method: http.MethodGet}, u.String(), http.StatusSeeOther)
}

// par serves POST /oauth2/par (RFC 9126).
func (s *Server) par(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxTokenBody)
	ar, err := s.provider.NewPushedAuthorizeRequest(ctx, r)
	if err != nil {
		s.provider.WritePushedAuthorizeError(ctx, w, ar, err)
		return
	}
	form := ar.GetRequestForm()
	switch {
	case !slices.Contains(ar.GetClient().GetRedirectURIs(), form.Get("redirect_uri")):
		err = fosite.ErrInvalidRequest.WithHint("redirect_uri is missing or not exactly one of the app's registered redirect URIs.")
	case form.Get("code_challenge") == "":
		err = fosite.ErrInvalidRequest.WithHint("PKCE is required: send code_challenge and code_challenge_method=S256.")
	case form.Get("code_challenge_method") != "S256":
		err = fosite.ErrInvalidRequest.WithHint("Only code_challenge_method=S256 is supported.")
	}
	if err != nil {
		s.provider.WritePushedAuthorizeError(ctx, w, ar, err)
		return
	}
	resp, err := s.provider.NewPushedAuthorizeResponse(ctx, ar, newSession())
	if err != nil {
		s.provider.WritePushedAuthorizeError(ctx, w, ar, err)
		return
	}
	s.provider.WritePushedAuthorizeResponse(ctx, w, ar, resp)
}

var _ = errors.New
var _ = url.Parse
