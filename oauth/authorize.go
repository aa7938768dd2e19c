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
	// AtBank: a production app's customer signs in at their bank's own
	// provider (banksignin.go); Customer and BankName are set once they
	// did, for the consent screen.
	AtBank             bool
	Customer, BankName string
}

// pageCSP is the Content-Security-Policy of the sign-in pages. A form
// that sends the customer on to their bank's provider (a redirect after
// the post) needs form-action to allow it.
const (
	pageCSP       = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
	pageCSPAtBank = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' https:; frame-ancestors 'none'"
)

// authorizeFailure renders an error page. It never redirects: used
// whenever the client or redirect URI cannot be trusted.
func (s *Server) authorizeFailure(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Content-Security-Policy", pageCSP)
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
		s.authorizeError(ctx, w, r, ar, codeGrantRefusal(ar, err))
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
	if c, ok := ar.GetClient().(*client); !ok || c.refusal() != nil {
		s.authorizeError(ctx, w, r, ar, fosite.ErrUnauthorizedClient.WithHint("The client is suspended or its partner has not been approved."))
		return
	}
	dropInternalParams(ar)
	s.showSignIn(ctx, w, ar, http.StatusOK, "", "", "")
}

// showSignIn stores the pending request under a new interaction id and
// renders the screen: the sandbox's login form, a production app's bank
// choice (banksignin.go), or the consent of a customer signed in at their
// bank.
func (s *Server) showSignIn(ctx context.Context, w http.ResponseWriter, ar fosite.AuthorizeRequester, status int, msg, bank, login string) {
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
	atBank := c.app.Environment != partners.Sandbox
	form := ar.GetRequestForm()
	var banks []Bank
	switch {
	case !atBank:
		banks, err = s.customers.Banks(ctx)
	case s.bankSignIn != nil:
		banks, err = s.bankSignIn.Banks(ctx)
	}
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
	csp := pageCSP
	if atBank && form.Get(formCustomerID) == "" { // the bank choice
		csp = pageCSPAtBank
	}
	w.Header().Set("Content-Security-Policy", csp)
	w.WriteHeader(status)
	bankName := bank
	for _, b := range banks {
		if b.ID == bank {
			bankName = b.Name
		}
	}
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
		AtBank:      atBank,
		Customer:    form.Get(formCustomerName),
		BankName:    bankName,
	})
}

// mac is the server's HMAC of msg: it binds a form or a cookie to the
// interaction or sign-in it belongs to.
func (s *Server) mac(msg string) string {
	m := hmac.New(sha256.New, s.hmacSecret)
	m.Write([]byte(msg))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// csrfToken binds the form to its interaction: the cookie and the form
// field must both carry it.
func (s *Server) csrfToken(interaction string) string {
	return s.mac("csrf:" + interaction)
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
	c := ar.GetClient().(*client)
	action := r.PostForm.Get("action")
	signedIn := ar.Form.Get(formCustomerID) != ""
	switch {
	case action != "allow" && (action != "signin" || signedIn):
		s.authorizeError(ctx, w, r, ar, fosite.ErrAccessDenied.WithHint("The customer denied the request."))
		return
	case !signedIn && c.app.Environment != partners.Sandbox:
		s.startBankSignIn(ctx, w, ar, r.PostForm.Get("bank"))
		return
	}
	var (
		cust Customer
		bank string
	)
	if signedIn { // at their bank's provider: bankCallback
		cust, bank = Customer{ID: ar.Form.Get(formCustomerID)}, ar.Form.Get(formBank)
	} else {
		cust, bank, err = s.signInSandbox(ctx, w, r, ar)
		if err != nil {
			return
		}
	}
	dropInternalParams(ar) // kept out of the code and its tokens

	sess := newSession()
	s.grantCustomer(ar, sess, c, ar.GetRequestedScopes(), cust.ID, bank)
	if jkt := ar.GetRequestForm().Get(ParamDPoPJKT); jkt != "" {
		if !validJKT(jkt) {
			s.authorizeError(ctx, w, r, ar, fosite.ErrInvalidRequest.WithHint("dpop_jkt must be the base64url SHA-256 thumbprint of a JWK (43 characters)."))
			return
		}
		sess.JWTClaims.Add(claimCodeJKT, jkt) // codeDPoPBinding checks it at the token endpoint
	}
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

// signInSandbox checks the login form of a sandbox app's customer. When
// it fails it has answered (the form again, or the end of the request
// after maxSignInAttempts) and returns an error.
func (s *Server) signInSandbox(ctx context.Context, w http.ResponseWriter, r *http.Request, ar *fosite.AuthorizeRequest) (Customer, string, error) {
	c := ar.GetClient().(*client)
	bank, login := r.PostForm.Get("bank"), r.PostForm.Get("login")
	cust, err := s.customers.Authenticate(ctx, c.app.Environment, bank, login, r.PostForm.Get("password"))
	if err == nil {
		return cust, bank, nil
	}
	if obhub.ErrorCode(err) != obhub.EUNAUTHORIZED {
		s.authorizeFailure(w, http.StatusServiceUnavailable, msgUnavailable)
		return Customer{}, "", err
	}
	attempts, _ := strconv.Atoi(ar.Form.Get(attemptsParam))
	attempts++
	if attempts >= maxSignInAttempts {
		s.authorizeError(ctx, w, r, ar, fosite.ErrAccessDenied.WithHint("Too many failed sign-in attempts."))
		return Customer{}, "", err
	}
	ar.Form.Set(attemptsParam, strconv.Itoa(attempts))
	s.showSignIn(ctx, w, ar, http.StatusUnauthorized, "登录名或密码错误 · "+obhub.ErrorMessage(err), bank, login)
	return Customer{}, "", err
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

// codeGrantRefusal corrects fosite's answer to response_type=code from
// an app without the authorization_code grant: fosite finds no "code"
// among the client's response types and says unsupported_response_type,
// as if the server lacked the flow; RFC 6749 section 4.1.2.1 calls it
// unauthorized_client. Other errors are returned as they are.
func codeGrantRefusal(ar fosite.AuthorizeRequester, err error) error {
	if !errors.Is(err, fosite.ErrUnsupportedResponseType) || ar == nil || ar.GetRequestForm().Get("response_type") != "code" {
		return err
	}
	c, ok := ar.GetClient().(*client)
	if !ok || c.placeholder || slices.Contains(c.app.GrantTypes, partners.GrantAuthorizationCode) {
		return err
	}
	return fosite.ErrUnauthorizedClient.WithWrap(err).
		WithHint("The app is not allowed the authorization_code grant: add it to the app's grant_types (the operator, or the app's registration) to ask for customers' consent.")
}

// par serves POST /oauth2/par (RFC 9126).
func (s *Server) par(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxTokenBody)
	if err := requireForm(r); err != nil {
		s.provider.WritePushedAuthorizeError(ctx, w, fosite.NewAuthorizeRequest(), err)
		return
	}
	ar, err := s.provider.NewPushedAuthorizeRequest(ctx, r)
	if err != nil {
		s.provider.WritePushedAuthorizeError(ctx, w, ar, codeGrantRefusal(ar, err))
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
	default:
		err = s.parDPoP(ctx, w, r, ar) // dpop.go: dpop_jkt, RFC 9449 section 10
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
