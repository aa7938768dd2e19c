package oauth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"net/http"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/obhub/obhub"
)

// BankSignIn signs in a member bank's customers at the bank's own OpenID
// Connect provider, for production apps: the hub is the relying party.
// The server keeps the pending authorization and the values that bind
// the sign-in to it (SignInParams); the implementation talks to the
// provider. Implementation: package oauth/bankoidc.
type BankSignIn interface {
	// Banks lists the banks whose customers can sign in at their own
	// provider, for the bank choice of a production app's sign-in screen.
	Banks(ctx context.Context) ([]Bank, error)
	// AuthCodeURL returns the provider's authorization URL for one
	// sign-in, carrying p's state, nonce and PKCE challenge (S256). An
	// unknown bank, or one without a provider, is ENOTFOUND; a provider
	// that cannot be reached is EUNAVAILABLE.
	AuthCodeURL(ctx context.Context, bank string, p SignInParams) (string, error)
	// Exchange redeems the provider's authorization code with p's PKCE
	// verifier, verifies the ID token (signature, issuer, audience,
	// expiry, p's nonce) and returns the customer, whose ID is
	// "<bank>:<customer id at the bank>". iss is the authorization
	// response's RFC 9207 issuer, "" when the provider sent none; when
	// given (or when the provider announces it) it must be the bank's
	// issuer. A code, iss or ID token that fails is EUNAUTHORIZED; a
	// provider that cannot be reached EUNAVAILABLE.
	Exchange(ctx context.Context, bank string, p SignInParams, code, iss string) (Customer, error)
}

// SignInParams bind one sign-in at a bank's provider to the pending
// authorization request: the server makes them, keeps them with the
// request, and hands them to both BankSignIn calls.
type SignInParams struct {
	// RedirectURI is the hub's callback: Issuer + PathBankCallback.
	RedirectURI string
	// State finds the pending request when the browser comes back.
	State string
	// Nonce must come back in the ID token.
	Nonce string
	// Verifier is the PKCE code verifier.
	Verifier string
}

// PathBankCallback is where a bank's provider sends the customer's
// browser back: the redirect URI to register at every bank's provider.
const PathBankCallback = PathAuthorize + "/callback"

const (
	// bankStatePrefix keys a request waiting for the bank's provider.
	bankStatePrefix = "bank:"
	// bankStateCookie binds the sign-in to the browser that started it.
	bankStateCookie = "obhub_bank_signin"

	// Form fields the server keeps in a pending request (never from the
	// client: authorize drops every obhub_ parameter it is sent).
	internalParamPrefix = "obhub_"
	formBank            = "obhub_signin_bank"
	formNonce           = "obhub_signin_nonce"
	formVerifier        = "obhub_signin_verifier"
	formCustomerID      = "obhub_customer_id"
	formCustomerName    = "obhub_customer_name"

	msgBankUnreachable = "您的银行登录服务暂时无法访问，请稍后再试 · Your bank's sign-in service cannot be reached; try again later."
	msgChooseBank      = "请选择您的开户银行 · Choose your bank."
)

// dropInternalParams removes what a client sent under the server's own
// parameter prefix, so that no client can pose as a signed-in customer.
func dropInternalParams(ar fosite.AuthorizeRequester) {
	form := ar.GetRequestForm()
	for k := range form {
		if strings.HasPrefix(k, internalParamPrefix) {
			delete(form, k)
		}
	}
}

// startBankSignIn keeps the pending request under a new state and sends
// the browser to bank's provider. A provider that cannot be reached
// shows the sign-in screen again with the reason.
func (s *Server) startBankSignIn(ctx context.Context, w http.ResponseWriter, ar fosite.AuthorizeRequester, bank string) {
	if s.bankSignIn == nil {
		s.showSignIn(ctx, w, ar, http.StatusBadRequest, msgChooseBank, "", "")
		return
	}
	p := s.signInParams(rand.Text())
	p.Nonce, p.Verifier = rand.Text(), rand.Text()+rand.Text()
	target, err := s.bankSignIn.AuthCodeURL(ctx, bank, p)
	switch obhub.ErrorCode(err) {
	case "":
	case obhub.ENOTFOUND:
		s.showSignIn(ctx, w, ar, http.StatusBadRequest, msgChooseBank, "", "")
		return
	default:
		s.showSignIn(ctx, w, ar, http.StatusServiceUnavailable, msgBankUnreachable, bank, "")
		return
	}
	form := ar.GetRequestForm()
	form.Set(formBank, bank)
	form.Set(formNonce, p.Nonce)
	form.Set(formVerifier, p.Verifier)
	rec, err := encodeRequest(ar)
	if err != nil {
		s.authorizeError(ctx, w, nil, ar, fosite.ErrServerError.WithWrap(err))
		return
	}
	rec.ExpiresAt = s.clock.Now().Add(interactionLifetime)
	if err := s.store.PutRequest(ctx, bankStatePrefix+p.State, rec); err != nil {
		s.log.ErrorContext(ctx, "store bank sign-in", "err", err)
		s.authorizeFailure(w, http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: bankStateCookie, Value: s.mac("bank-state:" + p.State), Path: PathAuthorize, HttpOnly: true,
		Secure: s.secure, SameSite: http.SameSiteLaxMode, MaxAge: int(interactionLifetime / time.Second),
	})
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", target)
	w.WriteHeader(http.StatusSeeOther)
}

// signInParams returns the parameters of a sign-in with state; the nonce
// and verifier come from the pending request.
func (s *Server) signInParams(state string) SignInParams {
	return SignInParams{RedirectURI: s.endpoint(PathBankCallback), State: state}
}

// bankCallback serves GET PathBankCallback: the customer's browser back
// from the bank's provider. The state must be one this browser started
// (cookie) and still pending (single use, 10 minutes); then the code is
// redeemed, the ID token verified, and the consent screen shown for the
// signed-in customer.
func (s *Server) bankCallback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	state := q.Get("state")
	cookie, cerr := r.Cookie(bankStateCookie)
	if state == "" || cerr != nil || !hmac.Equal([]byte(cookie.Value), []byte(s.mac("bank-state:"+state))) {
		s.authorizeFailure(w, http.StatusForbidden, "此登录不是在本浏览器中开始的，或已失效，请从应用重新开始 · This sign-in was not started in this browser, or has ended; start again from the app.")
		return
	}
	rec, err := s.store.TakeRequest(ctx, bankStatePrefix+state, s.clock.Now())
	switch {
	case obhub.ErrorCode(err) == obhub.ENOTFOUND:
		s.authorizeFailure(w, http.StatusBadRequest, msgExpired)
		return
	case err != nil:
		s.authorizeFailure(w, http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: bankStateCookie, Value: "", Path: PathAuthorize, HttpOnly: true, Secure: s.secure, MaxAge: -1})
	ar, err := s.fositeStore.decodeRequest(ctx, rec, newSession())
	if err != nil {
		s.authorizeFailure(w, http.StatusBadRequest, "应用已不可用 · The app is no longer available.")
		return
	}
	bank := ar.Form.Get(formBank)
	p := s.signInParams(state)
	p.Nonce, p.Verifier = ar.Form.Get(formNonce), ar.Form.Get(formVerifier)
	ar.Form.Del(formNonce)
	ar.Form.Del(formVerifier)
	if q.Has("error") {
		s.authorizeError(ctx, w, r, ar, fosite.ErrAccessDenied.WithHint("The customer did not sign in at the bank."))
		return
	}
	if s.bankSignIn == nil || q.Get("code") == "" {
		s.authorizeFailure(w, http.StatusBadGateway, msgNotVerified)
		return
	}
	cust, err := s.bankSignIn.Exchange(ctx, bank, p, q.Get("code"), q.Get("iss"))
	switch code := obhub.ErrorCode(err); {
	case err == nil:
	case code == obhub.EUNAUTHORIZED:
		s.authorizeFailure(w, http.StatusBadGateway, msgNotVerified)
		return
	default:
		s.authorizeFailure(w, http.StatusServiceUnavailable, "您的银行登录服务暂时无法访问，请从应用重新开始 · Your bank's sign-in service cannot be reached; start again from the app.")
		return
	}
	ar.Form.Set(formCustomerID, cust.ID)
	ar.Form.Set(formCustomerName, cust.Name)
	s.showSignIn(ctx, w, ar, http.StatusOK, "", bank, "")
}

const (
	msgUnavailable = "服务暂不可用 · The service is unavailable; try again later."
	msgExpired     = "登录已过期，请从应用重新开始 · This sign-in has expired or was already used; start again from the app."
	msgNotVerified = "无法验证您银行的登录结果，请从应用重新开始 · Your bank's sign-in could not be verified; start again from the app."
)
