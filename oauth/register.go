package oauth

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/partners"
)

// Dynamic client registration (RFC 7591) and management (RFC 7592).
//
// An operator issues a partner an initial access token (admin API); with
// it the partner's software registers clients at POST /oauth2/register.
// Every registered client is a sandbox app of that partner, validated by
// the same rules as apps the operator creates (partners.App.Validate):
// production apps are still created only by the operator, after the
// partner's approval, so registration never bypasses the approval flow.
// The answer carries the client id, the client secret (secret-based
// methods only; shown once), a registration access token (shown once)
// and the registration_client_uri, where the client reads (GET), replaces
// (PUT) and deletes (DELETE) its registration with that token.
//
// Keys come as jwks only: jwks_uri would make the hub fetch URLs that
// partners choose (SSRF), and software statements are not accepted (the
// initial access token already names the partner).

// PathRegister is the registration endpoint; a client's
// registration_client_uri is PathRegister + "/" + its client id.
const PathRegister = "/oauth2/register"

// maxRegistrationBody caps a registration request body.
const maxRegistrationBody = 64 << 10

// RFC 7591 section 3.2.2 error codes, and RFC 6750's for bad tokens.
const (
	errInvalidRedirectURI    = "invalid_redirect_uri"
	errInvalidClientMetadata = "invalid_client_metadata"
	errInvalidSoftwareStmt   = "invalid_software_statement"
	errInvalidToken          = "invalid_token"
)

// Registration enables dynamic client registration.
type Registration struct {
	// Store keeps initial access tokens and registration records. Required.
	Store RegistrationStore
	// Apps creates, changes and deletes the registered apps. Required.
	Apps RegisteredApps
	// Changed, when set, is told of every registration, update and
	// deletion that succeeded, for the audit ledger.
	Changed func(ctx context.Context, c RegistrationChange)
}

// RegisteredApps is where registered apps live (the configuration store);
// implemented by the caller. Errors carry obhub codes: EINVALID with
// details for an app that fails validation, ECONFLICT for a name in use,
// ENOTFOUND, EUNAVAILABLE.
type RegisteredApps interface {
	// Partner returns a partner.
	Partner(ctx context.Context, id string) (*partners.Partner, error)
	// App returns an app.
	App(ctx context.Context, clientID string) (*partners.App, error)
	// CreateApp stores a new app with a generated client id, and returns
	// it with its client secret ("" for methods without one).
	CreateApp(ctx context.Context, a partners.App) (*partners.App, string, error)
	// UpdateApp changes an app: update edits a copy of the current one.
	UpdateApp(ctx context.Context, clientID string, update func(*partners.App) error) (*partners.App, error)
	// DeleteApp removes an app and its subscriptions.
	DeleteApp(ctx context.Context, clientID string) error
}

// RegistrationChange is one change made through the registration
// endpoint. Before and After are the client's metadata as JSON, without
// secrets ("" for none).
type RegistrationChange struct {
	Time         time.Time
	RequestID    string
	Action       string // "register", "update" or "delete"
	Method, Path string
	Status       int
	Partner      string
	ClientID     string
	InitialToken string // the initial access token's id (register only)
	Before       string
	After        string
}

// clientMetadata is the client metadata obhub understands (RFC 7591
// section 2, RFC 8705, RFC 9449), plus "fapi" (see partners.App).
type clientMetadata struct {
	RedirectURIs            []string       `json:"redirect_uris,omitempty"`
	GrantTypes              []string       `json:"grant_types,omitempty"`
	ResponseTypes           []string       `json:"response_types,omitempty"`
	TokenEndpointAuthMethod string         `json:"token_endpoint_auth_method,omitempty"`
	JWKS                    map[string]any `json:"jwks,omitempty"`
	ClientName              string         `json:"client_name,omitempty"`
	Scope                   string         `json:"scope,omitempty"`
	TLSClientAuthSubjectDN  string         `json:"tls_client_auth_subject_dn,omitempty"`
	TLSClientAuthSANDNS     string         `json:"tls_client_auth_san_dns,omitempty"`
	TLSBound                bool           `json:"tls_client_certificate_bound_access_tokens,omitempty"`
	DPoPBound               bool           `json:"dpop_bound_access_tokens,omitempty"`
	FAPI                    bool           `json:"fapi,omitempty"`
	// secret is the client_secret a PUT repeats, nil when none.
	secret *string
}

// registrationResponse is the client information response (RFC 7591
// section 3.2.1, RFC 7592 section 3).
type registrationResponse struct {
	ClientID                string `json:"client_id"`
	ClientSecret            string `json:"client_secret,omitempty"`
	ClientIDIssuedAt        int64  `json:"client_id_issued_at"`
	ClientSecretExpiresAt   *int64 `json:"client_secret_expires_at,omitempty"`
	RegistrationAccessToken string `json:"registration_access_token,omitempty"`
	RegistrationClientURI   string `json:"registration_client_uri"`
	clientMetadata
	// Environment is always "sandbox" (obhub extension).
	Environment partners.Environment `json:"obhub_environment"`
}

// regError is an error answer of the registration endpoints.
type regError struct {
	status      int
	code        string
	description string
}

func (e *regError) Error() string { return e.code + ": " + e.description }

func badMetadata(format string, args ...any) *regError {
	return &regError{http.StatusBadRequest, errInvalidClientMetadata, fmt.Sprintf(format, args...)}
}

func badToken(description string) *regError {
	return &regError{http.StatusUnauthorized, errInvalidToken, description}
}

// setupRegistration checks and keeps the registration settings.
func (s *Server) setupRegistration(r *Registration) error {
	if r == nil {
		return nil
	}
	if r.Store == nil || r.Apps == nil {
		return errors.New("oauth: registration needs a store and an app directory")
	}
	s.reg = r
	return nil
}

// registrationEndpoint is the metadata's registration_endpoint, "" when
// registration is off.
func (s *Server) registrationEndpoint() string {
	if s.reg == nil {
		return ""
	}
	return s.endpoint(PathRegister)
}

// routeRegistration adds the registration endpoints to the mux.
func (s *Server) routeRegistration() {
	if s.reg == nil {
		return
	}
	s.mux.HandleFunc(PathRegister, s.serveRegister)
	s.mux.HandleFunc(PathRegister+"/{client_id}", s.serveManage)
}

func (s *Server) serveRegister(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		s.regFail(w, r, &regError{http.StatusMethodNotAllowed, "invalid_request", "use POST to register a client"})
		return
	}
	if err := s.register(w, r); err != nil {
		s.regFail(w, r, err)
	}
}

func (s *Server) serveManage(w http.ResponseWriter, r *http.Request) {
	var err error
	switch r.Method {
	case http.MethodGet:
		err = s.readRegistration(w, r)
	case http.MethodPut:
		err = s.updateRegistration(w, r)
	case http.MethodDelete:
		err = s.deleteRegistration(w, r)
	default:
		w.Header().Set("Allow", "GET, PUT, DELETE")
		err = &regError{http.StatusMethodNotAllowed, "invalid_request", "use GET, PUT or DELETE on a registration"}
	}
	if err != nil {
		s.regFail(w, r, err)
	}
}

// register serves POST /oauth2/register (RFC 7591 section 3).
func (s *Server) register(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	iat, err := s.checkInitialToken(ctx, r)
	if err != nil {
		return err
	}
	md, err := readMetadata(w, r, false)
	if err != nil {
		return err
	}
	app, err := md.app(iat.Partner)
	if err != nil {
		return err
	}
	// Checked before a use is taken, so bad metadata costs no use.
	if err := app.Validate(); err != nil {
		return metadataError(err)
	}
	if err := s.undefinedScopes(ctx, app.Scopes); err != nil { // scopes.go
		return err
	}
	if err := s.reg.Store.UseInitialToken(ctx, iat.ID, s.clock.Now()); err != nil {
		if obhub.ErrorCode(err) == obhub.ENOTFOUND {
			return badToken("The initial access token is expired or used up.")
		}
		return err
	}
	created, secret, err := s.reg.Apps.CreateApp(ctx, app)
	if err != nil {
		return metadataError(err)
	}
	token, hash, err := newRegistrationToken()
	if err == nil {
		err = s.reg.Store.CreateClientRegistration(ctx, ClientRegistration{
			ClientID: created.ClientID, Partner: iat.Partner, TokenHash: hash,
			InitialToken: iat.ID, CreatedAt: s.clock.Now().UTC(),
		})
	}
	if err != nil {
		// Without its record the client could never be managed: undo.
		if derr := s.reg.Apps.DeleteApp(context.WithoutCancel(ctx), created.ClientID); derr != nil {
			s.log.ErrorContext(ctx, "registration: app left without its registration record",
				slog.String("client_id", created.ClientID), slog.Any("err", derr))
		}
		return err
	}
	out := s.clientInformation(created)
	out.ClientSecret, out.RegistrationAccessToken = secret, token
	if secret != "" {
		never := int64(0)
		out.ClientSecretExpiresAt = &never
	}
	s.changed(ctx, r, "register", http.StatusCreated, created, "", metadataJSON(out.clientMetadata), iat.ID)
	s.log.InfoContext(ctx, "client registered", slog.String("client_id", created.ClientID),
		slog.String("partner", iat.Partner), slog.String("initial_token", iat.ID))
	return writeRegistration(w, http.StatusCreated, out)
}

// readRegistration serves GET on a registration_client_uri (RFC 7592
// section 2.1).
func (s *Server) readRegistration(w http.ResponseWriter, r *http.Request) error {
	_, app, err := s.checkRegistrationToken(r.Context(), r)
	if err != nil {
		return err
	}
	return writeRegistration(w, http.StatusOK, s.clientInformation(app))
}

// updateRegistration serves PUT on a registration_client_uri (RFC 7592
// section 2.2): the body replaces the client's metadata; omitted fields
// take their defaults, an omitted client_name keeps the current name.
// The token endpoint authentication method cannot change (register a
// new client instead), so a client never loses or silently gains a
// secret.
func (s *Server) updateRegistration(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	reg, cur, err := s.checkRegistrationToken(ctx, r)
	if err != nil {
		return err
	}
	md, err := readMetadata(w, r, true)
	if err != nil {
		return err
	}
	if md.secret != nil && !s.secretMatches(ctx, cur.ClientID, *md.secret) {
		return badMetadata("client_secret does not match the client's current secret")
	}
	if md.ClientName == "" {
		md.ClientName = cur.Name
	}
	next, err := md.app(reg.Partner)
	if err != nil {
		return err
	}
	if next.TokenEndpointAuthMethod != cur.TokenEndpointAuthMethod {
		return badMetadata("token_endpoint_auth_method cannot be changed (it is %s): register a new client instead", cur.TokenEndpointAuthMethod)
	}
	if err := next.Validate(); err != nil {
		return metadataError(err)
	}
	if err := s.undefinedScopes(ctx, next.Scopes); err != nil {
		return err
	}
	before := metadataJSON(metadataOf(cur))
	updated, err := s.reg.Apps.UpdateApp(ctx, cur.ClientID, func(a *partners.App) error {
		a.Name, a.GrantTypes, a.RedirectURIs, a.Scopes = next.Name, next.GrantTypes, next.RedirectURIs, next.Scopes
		a.JWKS, a.FAPI, a.DPoPBound, a.MTLS = next.JWKS, next.FAPI, next.DPoPBound, next.MTLS
		return nil
	})
	if err != nil {
		return metadataError(err)
	}
	out := s.clientInformation(updated)
	s.changed(ctx, r, "update", http.StatusOK, updated, before, metadataJSON(out.clientMetadata), "")
	return writeRegistration(w, http.StatusOK, out)
}

// deleteRegistration serves DELETE on a registration_client_uri (RFC
// 7592 section 2.3): the app, its subscriptions and its registration go;
// the token endpoint refuses the client from then on, and the gateway
// its tokens.
func (s *Server) deleteRegistration(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	_, app, err := s.checkRegistrationToken(ctx, r)
	if err != nil {
		return err
	}
	if err := s.reg.Apps.DeleteApp(ctx, app.ClientID); err != nil && obhub.ErrorCode(err) != obhub.ENOTFOUND {
		return err
	}
	if err := s.reg.Store.DeleteClientRegistration(ctx, app.ClientID); err != nil && obhub.ErrorCode(err) != obhub.ENOTFOUND {
		return err
	}
	s.changed(ctx, r, "delete", http.StatusNoContent, app, metadataJSON(metadataOf(app)), "", "")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// checkInitialToken authenticates a registration request.
func (s *Server) checkInitialToken(ctx context.Context, r *http.Request) (InitialToken, error) {
	token, ok := bearerToken(r)
	if !ok {
		return InitialToken{}, badToken("Send an initial access token as Authorization: Bearer <token>.")
	}
	var t InitialToken
	if id := initialTokenID(token); id != "" {
		found, err := s.reg.Store.InitialToken(ctx, id)
		switch {
		case err == nil:
			t = found
		case obhub.ErrorCode(err) != obhub.ENOTFOUND:
			return InitialToken{}, err
		}
	}
	// Always one comparison, against "" for an unknown id: the same
	// work for every refusal.
	if !partners.VerifySecret(t.Hash, token) {
		return InitialToken{}, badToken("The initial access token is not valid.")
	}
	if t.UsesLeft < 1 || !s.clock.Now().Before(t.ExpiresAt) {
		return InitialToken{}, badToken("The initial access token is expired or used up.")
	}
	p, err := s.reg.Apps.Partner(ctx, t.Partner)
	switch {
	case obhub.ErrorCode(err) == obhub.ENOTFOUND:
		return InitialToken{}, badToken("The initial access token's partner no longer exists.")
	case err != nil:
		return InitialToken{}, err
	case p.Status != partners.PartnerApproved:
		return InitialToken{}, badToken("The initial access token's partner is not approved.")
	}
	return t, nil
}

// checkRegistrationToken authenticates a management request: the
// registration access token of the client in the path. An unknown
// client and a wrong token get the same answer after the same work.
func (s *Server) checkRegistrationToken(ctx context.Context, r *http.Request) (ClientRegistration, *partners.App, error) {
	token, ok := bearerToken(r)
	if !ok {
		return ClientRegistration{}, nil, badToken("Send the registration access token as Authorization: Bearer <token>.")
	}
	id := r.PathValue("client_id")
	reg, err := s.reg.Store.ClientRegistration(ctx, id)
	if err != nil && obhub.ErrorCode(err) != obhub.ENOTFOUND {
		return ClientRegistration{}, nil, err
	}
	if !partners.VerifySecret(reg.TokenHash, token) || reg.ClientID != id {
		return ClientRegistration{}, nil, badToken("The registration access token is not valid for this client.")
	}
	app, err := s.reg.Apps.App(ctx, id)
	switch {
	case obhub.ErrorCode(err) == obhub.ENOTFOUND:
		// The operator deleted the app: the registration goes with it
		// (RFC 7592 section 2.1: answer 401).
		if derr := s.reg.Store.DeleteClientRegistration(ctx, id); derr != nil && obhub.ErrorCode(derr) != obhub.ENOTFOUND {
			s.log.WarnContext(ctx, "registration: could not delete the record of a deleted app", slog.String("client_id", id), slog.Any("err", derr))
		}
		return ClientRegistration{}, nil, badToken("The client no longer exists.")
	case err != nil:
		return ClientRegistration{}, nil, err
	}
	return reg, app, nil
}

// secretMatches reports whether secret is the client's current secret
// (RFC 7592 section 2.2: a PUT may repeat it, and then it must match).
func (s *Server) secretMatches(ctx context.Context, clientID, secret string) bool {
	app, _, err := s.clients.Client(ctx, clientID)
	return err == nil && partners.VerifySecret(app.SecretHash, secret)
}

// bearerToken returns the Bearer token of the request's one
// Authorization header.
func bearerToken(r *http.Request) (string, bool) {
	values := r.Header.Values("Authorization")
	if len(values) != 1 || len(values[0]) > maxPresentedToken+len("Bearer ") {
		return "", false
	}
	scheme, token, ok := strings.Cut(values[0], " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}

// serverSetMembers are members of the client information response that
// only the server sets (RFC 7591 section 3.2.1, and obhub's
// obhub_environment: a registered client is always a sandbox app); a
// request that sends one is refused, not silently ignored.
var serverSetMembers = []string{
	"registration_access_token", "registration_client_uri", "client_id_issued_at",
	"client_secret_expires_at", "obhub_environment",
}

// readMetadata reads a request's client metadata. Members obhub does not
// know are ignored (RFC 7591 section 2); those it knows but refuses are
// errors. update is true for RFC 7592 PUT, whose body must name the
// client (its client_id) and may repeat its client_secret.
func readMetadata(w http.ResponseWriter, r *http.Request, update bool) (*clientMetadata, error) {
	if ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || ct != "application/json" {
		return nil, badMetadata("send the client metadata as a JSON object with Content-Type: application/json")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRegistrationBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &regError{http.StatusRequestEntityTooLarge, errInvalidClientMetadata, fmt.Sprintf("the metadata is over %d bytes", maxRegistrationBody)}
		}
		return nil, badMetadata("the request body could not be read")
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil || members == nil {
		return nil, badMetadata("the body is not a JSON object")
	}
	if _, ok := members["software_statement"]; ok {
		return nil, &regError{http.StatusBadRequest, errInvalidSoftwareStmt, "software statements are not accepted: the initial access token identifies your organisation"}
	}
	if _, ok := members["jwks_uri"]; ok {
		return nil, badMetadata("jwks_uri is not supported: send your public keys in jwks")
	}
	for _, k := range serverSetMembers {
		raw, ok := members[k]
		if ok && update && k == "obhub_environment" && string(raw) == `"sandbox"` {
			continue // echoed from a GET: what the server set, and no change
		}
		if ok {
			return nil, badMetadata("%s is set by the server and must not be sent", k)
		}
	}
	if !update {
		for _, k := range []string{"client_id", "client_secret"} {
			if _, ok := members[k]; ok {
				return nil, badMetadata("%s is issued by the server and must not be sent when registering", k)
			}
		}
	}
	var md clientMetadata
	for k, v := range members {
		if err := md.set(k, v); err != nil {
			return nil, err
		}
	}
	if update {
		var id, secret string
		if err := json.Unmarshal(members["client_id"], &id); err != nil || id != r.PathValue("client_id") {
			return nil, badMetadata("client_id must be sent and be this client's id")
		}
		if raw, ok := members["client_secret"]; ok {
			if err := json.Unmarshal(raw, &secret); err != nil {
				return nil, badMetadata("client_secret must be a string")
			}
			md.secret = &secret
		}
	}
	return &md, nil
}

// set decodes one known member; unknown ones are ignored.
func (md *clientMetadata) set(k string, v json.RawMessage) error {
	var dst any
	switch k {
	case "redirect_uris":
		dst = &md.RedirectURIs
	case "grant_types":
		dst = &md.GrantTypes
	case "response_types":
		dst = &md.ResponseTypes
	case "token_endpoint_auth_method":
		dst = &md.TokenEndpointAuthMethod
	case "jwks":
		dst = &md.JWKS
	case "client_name":
		dst = &md.ClientName
	case "scope":
		dst = &md.Scope
	case "tls_client_auth_subject_dn":
		dst = &md.TLSClientAuthSubjectDN
	case "tls_client_auth_san_dns":
		dst = &md.TLSClientAuthSANDNS
	case "tls_client_certificate_bound_access_tokens":
		dst = &md.TLSBound
	case "dpop_bound_access_tokens":
		dst = &md.DPoPBound
	case "fapi":
		dst = &md.FAPI
	default:
		return nil
	}
	if string(v) == "null" {
		return nil
	}
	if err := json.Unmarshal(v, dst); err != nil {
		if k == "redirect_uris" {
			return &regError{http.StatusBadRequest, errInvalidRedirectURI, "redirect_uris must be an array of strings"}
		}
		return badMetadata("%s has the wrong type", k)
	}
	return nil
}

// app returns the sandbox app the metadata describes, with the RFC 7591
// defaults: grant_types ["authorization_code"], token endpoint method
// client_secret_basic, and a generated client_name.
func (md *clientMetadata) app(partner string) (partners.App, error) {
	grants := md.GrantTypes
	if len(grants) == 0 {
		grants = []string{partners.GrantAuthorizationCode}
	}
	for _, rt := range md.ResponseTypes {
		if rt != "code" || !slices.Contains(grants, partners.GrantAuthorizationCode) {
			return partners.App{}, badMetadata(`response_types may only be ["code"], with the authorization_code grant`)
		}
	}
	method := md.TokenEndpointAuthMethod
	if method == "" {
		method = partners.AuthSecretBasic
	}
	name := md.ClientName
	if name == "" {
		var b [5]byte
		_, _ = rand.Read(b[:])
		name = "Registered client " + tokenIDEncoding.EncodeToString(b[:])
	}
	return partners.App{
		Partner: partner, Name: name, Environment: partners.Sandbox, GrantTypes: grants,
		RedirectURIs: md.RedirectURIs, Scopes: strings.Fields(md.Scope), TokenEndpointAuthMethod: method,
		JWKS: md.JWKS, FAPI: md.FAPI, DPoPBound: md.DPoPBound,
		MTLS: partners.MTLS{TLSClientAuthSubjectDN: md.TLSClientAuthSubjectDN, TLSClientAuthSANDNS: md.TLSClientAuthSANDNS, TLSBound: md.TLSBound},
	}, nil
}

// metadataOf returns an app's client metadata.
func metadataOf(a *partners.App) clientMetadata {
	md := clientMetadata{
		RedirectURIs: a.RedirectURIs, GrantTypes: a.GrantTypes, TokenEndpointAuthMethod: a.TokenEndpointAuthMethod,
		JWKS: a.JWKS, ClientName: a.Name, Scope: strings.Join(a.Scopes, " "),
		TLSClientAuthSubjectDN: a.TLSClientAuthSubjectDN, TLSClientAuthSANDNS: a.TLSClientAuthSANDNS, TLSBound: a.TLSBound,
		DPoPBound: a.DPoPBound, FAPI: a.FAPI,
	}
	if slices.Contains(a.GrantTypes, partners.GrantAuthorizationCode) {
		md.ResponseTypes = []string{"code"}
	}
	return md
}

// clientInformation is the answer about a registered app, without its
// secrets.
func (s *Server) clientInformation(a *partners.App) registrationResponse {
	return registrationResponse{
		ClientID:              a.ClientID,
		ClientIDIssuedAt:      a.CreatedAt.Unix(),
		RegistrationClientURI: s.endpoint(PathRegister + "/" + url.PathEscape(a.ClientID)),
		clientMetadata:        metadataOf(a),
		Environment:           a.Environment,
	}
}

// metadataError turns a refused app into an RFC 7591 error. Validation
// details name the partners.App fields; they are renamed to the metadata
// members a client sent. A problem with a redirect URI makes the whole
// error invalid_redirect_uri.
func metadataError(err error) error {
	var re *regError
	if errors.As(err, &re) {
		return re
	}
	switch obhub.ErrorCode(err) {
	case obhub.EINVALID:
	case obhub.ECONFLICT:
		// A name the partner already uses, mostly; the store's message
		// names only the caller's own partner and apps.
		return badMetadata("%s", obhub.ErrorMessage(err))
	default:
		return err
	}
	code := errInvalidClientMetadata
	var parts []string
	for _, d := range obhub.ErrorDetails(err) {
		field := strings.TrimPrefix(d.Location, "/")
		switch {
		case strings.HasPrefix(field, "redirect_uris"):
			code = errInvalidRedirectURI
		case field == "name":
			field = "client_name"
		case strings.HasPrefix(field, "scopes"):
			field = "scope"
		}
		parts = append(parts, field+" "+d.Message)
	}
	if len(parts) == 0 {
		parts = append(parts, obhub.ErrorMessage(err))
	}
	return &regError{http.StatusBadRequest, code, strings.Join(parts, "; ")}
}

// metadataJSON returns metadata as JSON for the audit ledger.
func metadataJSON(md clientMetadata) string {
	b, err := json.Marshal(md)
	if err != nil {
		return ""
	}
	return string(b)
}

// changed reports a successful change to Registration.Changed.
func (s *Server) changed(ctx context.Context, r *http.Request, action string, status int, a *partners.App, before, after, iat string) {
	if s.reg.Changed == nil {
		return
	}
	s.reg.Changed(ctx, RegistrationChange{
		Time: s.clock.Now(), RequestID: r.Header.Get("X-Request-Id"), Action: action,
		Method: r.Method, Path: r.URL.Path, Status: status,
		Partner: a.Partner, ClientID: a.ClientID, InitialToken: iat, Before: before, After: after,
	})
}

// writeRegistration answers with client information; never cached.
func writeRegistration(w http.ResponseWriter, status int, v registrationResponse) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	return nil
}

// regFail answers an error as RFC 7591 JSON: the endpoint's own errors
// as they are, an unavailable store as 503, anything else as 500 (and
// logged here, once).
func (s *Server) regFail(w http.ResponseWriter, r *http.Request, err error) {
	var re *regError
	if !errors.As(err, &re) {
		if obhub.ErrorCode(err) == obhub.EUNAVAILABLE {
			w.Header().Set("Retry-After", "5")
			re = &regError{http.StatusServiceUnavailable, "temporarily_unavailable", "The registration store is unavailable; try again later."}
		} else {
			s.log.ErrorContext(r.Context(), "registration request failed", slog.String("method", r.Method), slog.Any("err", err))
			re = &regError{http.StatusInternalServerError, "server_error", "The registration could not be completed."}
		}
	}
	h := w.Header()
	if re.status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(re.status)
	b, _ := json.Marshal(map[string]string{"error": re.code, "error_description": re.description})
	_, _ = w.Write(b)
}
