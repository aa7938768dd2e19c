package portal

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/catalog"
	"github.com/obhub/obhub/config"
	"github.com/obhub/obhub/partners"
)

// The try-it console (GET/POST /portal/apis/{id}/try) sends one real
// call of an API's operation to the gateway's sandbox route, as one of
// the signed-in developer's sandbox apps.
//
// The portal cannot use the app's client secret (shown once, kept only
// as a hash), so it asks TokenIssuer for a short-lived access token of
// the app instead: only after checking that the app belongs to the
// visitor's partner, is a sandbox app, and is actively subscribed to a
// product holding the API; and only for the operation's scopes among
// those the app's subscriptions cover. Production apps are never offered
// nor accepted. The call itself is an ordinary gateway call — token
// check, subscription, limits, validation, audit record — made by the
// browser with fetch (portal.js, same origin) or, without JavaScript, by
// the server (form post) through Config.Gateway.

// TokenIssuer issues the try-it console's access tokens (implemented in
// cmd/obhub over oauth.Server.IssueSandboxToken and
// IssueSandboxCustomerToken). It must refuse any app that is not a
// sandbox app, and scopes the app does not hold.
type TokenIssuer interface {
	// SandboxToken is the app's own token (client credentials).
	SandboxToken(ctx context.Context, clientID string, scopes []string, lifetime time.Duration) (token string, expires time.Time, err error)
	// SandboxCustomers lists the sandbox's simulated customers of a bank,
	// those its sign-in page offers.
	SandboxCustomers(ctx context.Context, bank string) ([]SandboxCustomer, error)
	// SandboxCustomerToken is a token of the app on behalf of a sandbox
	// customer of bank, as if they had signed in and consented to scopes
	// (the authorization code grant). It must refuse a customer its
	// sign-in would refuse.
	SandboxCustomerToken(ctx context.Context, clientID, bank, login string, scopes []string, lifetime time.Duration) (token string, expires time.Time, err error)
}

// SandboxCustomer is one of a bank's simulated sandbox customers: Login
// is what they sign in with, Name their (synthetic) display name,
// Accounts the ids of the accounts they hold at the bank (nil if the
// sandbox does not say).
type SandboxCustomer struct {
	Login, Name string
	Accounts    []string
}

// Doer sends HTTP requests (an *http.Client).
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// tryTokenLifetime is how long a try-it token lives.
const tryTokenLifetime = 5 * time.Minute

// maxTryResponse bounds the part of a sandbox response the page shows.
const maxTryResponse = 64 << 10

// tryApp is a sandbox app in the console's app list.
type tryApp struct {
	App        config.AppView
	Subscribed bool // actively subscribed to a product holding the API
}

// tryField is one parameter's form field.
type tryField struct {
	refParam
	Key, Value string
}

// tryResult is the sandbox's answer, as the page shows it.
type tryResult struct {
	Method, URL string
	Status      int
	StatusText  string
	Headers     []header
	Body        string
	Truncated   bool
	Failed      string // the call could not be sent (network), translated
}

type tryPage struct {
	API      catalog.API
	BankName string
	Ops      []refOperation
	Op       *refOperation
	Apps     []tryApp
	App      *tryApp
	// Customers are the bank's sandbox customers, offered for an
	// operation that needs a customer's consent (refOperation.Consent);
	// Customer is the chosen one's login ("" for the app's own token,
	// allowed only when the operation also takes one: Op.AppToken).
	Customers []SandboxCustomer
	Customer  string
	Fields    []tryField
	Body      string
	Snippets  []snippet
	// SnippetsConsent: the snippets get the token by the authorization
	// code flow (a customer's consent), not with client credentials.
	SnippetsConsent bool
	// NoCodeGrant: the call is made for a customer but the app lacks the
	// authorization_code grant (portal apps have client_credentials
	// only), so no snippet is offered: the page says how to get one.
	NoCodeGrant bool
	Result      *tryResult
}

// tryContext is what every try-it request resolves first: the visitor,
// the API and its reference, the operation, and the chosen app.
type tryContext struct {
	v   *visitor
	api *catalog.API
	pg  *tryPage
}

// tryLoad resolves a try-it request. It writes the response itself (and
// returns nil) when it cannot go on.
func (h *Handler) tryLoad(w http.ResponseWriter, r *http.Request) *tryContext {
	v, err := h.visit(w, r)
	if err != nil {
		h.fail(w, r, v, err)
		return nil
	}
	if h.cfg.TryIt == nil {
		h.notFound(w, r, v)
		return nil
	}
	if !requireSignIn(w, r, v) {
		return nil
	}
	ctx := r.Context()
	a, err := h.cfg.Catalog.API(ctx, r.PathValue("id"))
	if err == nil && !visible(v.Partner, a) {
		err = obhub.Errorf(obhub.ENOTFOUND, "API not found")
	}
	if err != nil {
		h.fail(w, r, v, err)
		return nil
	}
	doc, err := h.cfg.Catalog.APISpec(ctx, a.ID)
	var ref *reference
	if err == nil {
		ref, err = parseReference(doc)
	}
	if err != nil {
		h.fail(w, r, v, err)
		return nil
	}
	names, err := h.bankNames(ctx)
	if err != nil {
		h.fail(w, r, v, err)
		return nil
	}
	apps, err := h.trySandboxApps(ctx, v, a)
	if err != nil {
		h.fail(w, r, v, err)
		return nil
	}
	pg := &tryPage{API: *a, BankName: names[a.Bank], Ops: ref.Operations, Apps: apps}
	if len(pg.Ops) == 0 {
		h.notFound(w, r, v)
		return nil
	}
	opID, appID := r.FormValue("op"), r.FormValue("app")
	pg.Op = &pg.Ops[0]
	for i := range pg.Ops {
		if pg.Ops[i].Anchor == opID {
			pg.Op = &pg.Ops[i]
		}
	}
	if len(apps) > 0 {
		pg.App = &pg.Apps[0]
		for i := range pg.Apps {
			if pg.Apps[i].App.ClientID == appID {
				pg.App = &pg.Apps[i]
			}
		}
	}
	if appID != "" && (pg.App == nil || pg.App.App.ClientID != appID) && r.Method == http.MethodPost {
		// A production app, another partner's app or an unknown one:
		// never used, and as absent as a missing page.
		h.notFound(w, r, v)
		return nil
	}
	if pg.Op.Consent {
		if pg.Customers, err = h.cfg.TryIt.SandboxCustomers(ctx, a.Bank); err != nil {
			h.fail(w, r, v, err)
			return nil
		}
		pg.Customer = r.FormValue("customer")
		if _, ok := r.Form["customer"]; !ok && !pg.Op.AppToken && len(pg.Customers) > 0 {
			pg.Customer = pg.Customers[0].Login // the form's default
		}
	}
	return &tryContext{v: v, api: a, pg: pg}
}

// trySandboxApps lists the visitor's partner's sandbox apps (production
// apps never appear), noting which are subscribed to the API.
func (h *Handler) trySandboxApps(ctx context.Context, v *visitor, a *catalog.API) ([]tryApp, error) {
	apps, _, err := h.cfg.Catalog.ListApps(ctx, v.Account.Partner, config.ListOptions{})
	if err != nil {
		return nil, err
	}
	products, _, err := h.cfg.Catalog.ListProducts(ctx, config.ListOptions{})
	if err != nil {
		return nil, err
	}
	holding := map[string]bool{} // products holding the API
	for _, p := range products {
		if slices.Contains(p.APIs, a.ID) {
			holding[p.ID] = true
		}
	}
	var out []tryApp
	for _, app := range apps {
		if app.Environment != partners.Sandbox || app.Partner != v.Account.Partner {
			continue
		}
		subs, _, err := h.cfg.Catalog.ListSubscriptions(ctx, app.ClientID, config.ListOptions{})
		if err != nil {
			return nil, err
		}
		ta := tryApp{App: app}
		for _, s := range subs {
			if s.Status == partners.SubscriptionActive && holding[s.Product] {
				ta.Subscribed = true
			}
		}
		out = append(out, ta)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].App.Name < out[j].App.Name })
	return out, nil
}

// fill sets the form fields and the body from value (the submitted form),
// or from the document's examples when prefill is true.
func (tc *tryContext) fill(value func(string) string, body string, prefill bool) {
	pg := tc.pg
	pg.Fields = pg.Fields[:0]
	for _, p := range pg.Op.Parameters {
		if p.In == "cookie" {
			continue
		}
		f := tryField{refParam: p, Key: paramKey(p)}
		if prefill {
			f.Value = tc.customerExample(p.Example)
		} else {
			f.Value = value(f.Key)
		}
		pg.Fields = append(pg.Fields, f)
	}
	pg.Body = body
	if prefill {
		pg.Body = pg.Op.BodyExample
	}
}

// customerExample is a parameter's example as the form prefills it:
// an account of another sandbox customer (the document's examples are
// one customer's) becomes the first account of the chosen customer,
// whose call would get 404 for anyone else's.
func (tc *tryContext) customerExample(example string) string {
	var chosen []string
	other := false
	for _, c := range tc.pg.Customers {
		if c.Login == tc.pg.Customer {
			chosen = c.Accounts
		}
		other = other || slices.Contains(c.Accounts, example)
	}
	if !other || len(chosen) == 0 || slices.Contains(chosen, example) {
		return example
	}
	return chosen[0]
}

// values returns the form fields as a lookup.
func (tc *tryContext) values() func(string) string {
	m := make(map[string]string, len(tc.pg.Fields))
	for _, f := range tc.pg.Fields {
		m[f.Key] = f.Value
	}
	return func(k string) string { return m[k] }
}

// sandboxBase is the sandbox path of the API.
func (tc *tryContext) sandboxBase() string {
	return "/sandbox/" + tc.api.Bank + tc.api.BasePath
}

// withSnippets adds the getting-started snippets for the chosen app and
// operation, with the values in the form.
func (h *Handler) withSnippets(tc *tryContext) {
	pg := tc.pg
	if pg.App == nil {
		return
	}
	c, _ := buildCall(tc.sandboxBase(), pg.Op, tc.values(), pg.Body)
	c.URL = h.cfg.PublicURL + c.Path
	scopes := pg.Op.Scopes
	if len(scopes) == 0 {
		scopes = pg.App.App.Scopes
	}
	// As a customer: the one chosen in the form, or always when the
	// operation takes no app token.
	consent := pg.Op.Consent && (pg.Customer != "" || !pg.Op.AppToken)
	if consent && !slices.Contains(pg.App.App.GrantTypes, partners.GrantAuthorizationCode) {
		// A customer-flow snippet for this app would fail at PAR.
		pg.NoCodeGrant = true
		return
	}
	sn, err := snippets(snippetInput{
		TokenURL: h.cfg.PublicURL + "/oauth2/token", ClientID: pg.App.App.ClientID,
		Scope: strings.Join(scopes, " "), Call: c, Consent: consent,
		PARURL: h.cfg.PublicURL + "/oauth2/par", AuthorizeURL: h.cfg.PublicURL + "/oauth2/authorize",
		DPoP: pg.App.App.DPoPBound || pg.App.App.FAPI,
	})
	if err != nil {
		h.cfg.Logger.Error("portal: snippets", "err", err)
		return
	}
	pg.Snippets, pg.SnippetsConsent = sn, consent
}

func (h *Handler) tryForm(w http.ResponseWriter, r *http.Request) {
	tc := h.tryLoad(w, r)
	if tc == nil {
		return
	}
	tc.fill(nil, "", true)
	h.withSnippets(tc)
	h.render(w, tc.v, http.StatusOK, "tryit", tc.v.L.T("try.title", tc.api.Name), nil, tc.pg)
}

// tryCall checks a submitted try-it form and returns the call with its
// access token, or the errors to show.
func (h *Handler) tryCall(r *http.Request, tc *tryContext) (call, string, []string) {
	v, pg := tc.v, tc.pg
	tc.fill(r.PostFormValue, r.PostFormValue("body"), false)
	if pg.App == nil {
		return call{}, "", []string{v.L.T("try.noapp")}
	}
	if !pg.App.Subscribed {
		return call{}, "", []string{v.L.T("try.nosub", pg.App.App.Name)}
	}
	c, missing := buildCall(tc.sandboxBase(), pg.Op, tc.values(), pg.Body)
	var errs []string
	for _, m := range missing {
		errs = append(errs, v.L.T("err.required", m))
	}
	if len(pg.Body) > maxForm/2 {
		errs = append(errs, v.L.T("try.body.large"))
	}
	if len(errs) > 0 {
		return call{}, "", errs
	}
	login, ok := tc.customer()
	if !ok {
		return call{}, "", []string{v.L.T("try.nocustomer")}
	}
	scopes, err := h.tryScopes(r.Context(), tc)
	if err != nil {
		return call{}, "", []string{v.L.T("try.noscope")}
	}
	var tok string
	if login != "" {
		tok, _, err = h.cfg.TryIt.SandboxCustomerToken(r.Context(), pg.App.App.ClientID, tc.api.Bank, login, scopes, tryTokenLifetime)
	} else {
		tok, _, err = h.cfg.TryIt.SandboxToken(r.Context(), pg.App.App.ClientID, scopes, tryTokenLifetime)
	}
	if err != nil {
		h.cfg.Logger.Warn("portal: try-it token refused", "client_id", pg.App.App.ClientID, "err", err)
		return call{}, "", []string{v.L.T("try.notoken")}
	}
	return c, tok, nil
}

// customer returns the login of the sandbox customer the call is made
// for ("" for the app's own token). It is false for a login that is not
// one of the API's bank's sandbox customers (another bank's, an unknown
// one, or none where the operation needs one).
func (tc *tryContext) customer() (string, bool) {
	pg := tc.pg
	if !pg.Op.Consent {
		return "", true
	}
	if pg.Customer == "" {
		return "", pg.Op.AppToken
	}
	for _, c := range pg.Customers {
		if c.Login == pg.Customer {
			return c.Login, true
		}
	}
	return "", false
}

// tryScopes are the scopes of the try-it token: the operation's (or, for
// an operation that needs none, every scope the app's subscriptions
// cover), each held by the app and covered by an active subscription.
func (h *Handler) tryScopes(ctx context.Context, tc *tryContext) ([]string, error) {
	app := tc.pg.App.App
	subs, _, err := h.cfg.Catalog.ListSubscriptions(ctx, app.ClientID, config.ListOptions{})
	if err != nil {
		return nil, err
	}
	products, _, err := h.cfg.Catalog.ListProducts(ctx, config.ListOptions{})
	if err != nil {
		return nil, err
	}
	active := map[string]bool{}
	for _, s := range subs {
		if s.Status == partners.SubscriptionActive {
			active[s.Product] = true
		}
	}
	covered := map[string]bool{}
	for _, p := range products {
		if !active[p.ID] {
			continue
		}
		for _, id := range p.APIs {
			a, err := h.cfg.Catalog.API(ctx, id)
			if err != nil {
				continue
			}
			for _, op := range a.Operations {
				for _, s := range op.Scopes {
					covered[s] = true
				}
			}
		}
	}
	want := tc.pg.Op.Scopes
	if len(want) == 0 {
		for s := range covered {
			want = append(want, s)
		}
		sort.Strings(want)
	}
	var out []string
	for _, s := range want {
		if !covered[s] || !slices.Contains(app.Scopes, s) {
			return nil, obhub.Errorf(obhub.EFORBIDDEN, "scope %q not covered", s)
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, obhub.Errorf(obhub.EFORBIDDEN, "no scope")
	}
	return out, nil
}

// tryPost resolves a posted try-it form (tryLoad, then the CSRF token)
// and checks it (tryCall). It writes the response itself and returns nil
// when it cannot go on.
func (h *Handler) tryPost(w http.ResponseWriter, r *http.Request) (tc *tryContext, c call, token string, errs []string) {
	if tc = h.tryLoad(w, r); tc == nil {
		return nil, call{}, "", nil
	}
	if !h.site.CheckCSRF(r, tc.v.Session.csrf()) {
		h.csrfFailed(w, tc.v)
		return nil, call{}, "", nil
	}
	c, token, errs = h.tryCall(r, tc)
	return tc, c, token, errs
}

// trySend is the console without JavaScript: the server sends the call
// to the gateway and shows the answer.
func (h *Handler) trySend(w http.ResponseWriter, r *http.Request) {
	tc, c, tok, errs := h.tryPost(w, r)
	if tc == nil {
		return
	}
	v := tc.v
	h.withSnippets(tc)
	if len(errs) > 0 {
		h.render(w, v, http.StatusUnprocessableEntity, "tryit", v.L.T("try.title", tc.api.Name), errs, tc.pg)
		return
	}
	tc.pg.Result = h.sendTry(r.Context(), v, c, tok)
	h.render(w, v, http.StatusOK, "tryit", v.L.T("try.title", tc.api.Name), nil, tc.pg)
}

// sendTry sends a call to the gateway and reads its answer.
func (h *Handler) sendTry(ctx context.Context, v *visitor, c call, token string) *tryResult {
	res := &tryResult{Method: c.Method, URL: h.cfg.PublicURL + c.Path}
	if h.cfg.Gateway == nil {
		res.Failed = v.L.T("try.failed")
		return res
	}
	var body io.Reader
	if c.Body != "" {
		body = strings.NewReader(c.Body)
	}
	req, err := http.NewRequestWithContext(ctx, c.Method, h.cfg.GatewayURL+c.Path, body)
	if err != nil {
		res.Failed = v.L.T("try.failed")
		return res
	}
	req.Header.Set("Authorization", "Bearer "+token)
	for _, hd := range c.Headers {
		req.Header.Set(hd.Name, hd.Value)
	}
	if c.Body != "" {
		req.Header.Set("Content-Type", c.BodyType)
	}
	resp, err := h.cfg.Gateway.Do(req)
	if err != nil {
		h.cfg.Logger.Warn("portal: try-it call failed", "err", err)
		res.Failed = v.L.T("try.failed")
		return res
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxTryResponse+1))
	if len(b) > maxTryResponse {
		b, res.Truncated = b[:maxTryResponse], true
	}
	res.Status, res.StatusText = resp.StatusCode, http.StatusText(resp.StatusCode)
	names := make([]string, 0, len(resp.Header))
	for k := range resp.Header {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		res.Headers = append(res.Headers, header{Name: k, Value: strings.Join(resp.Header[k], ", ")})
	}
	res.Body = prettyJSON(b)
	return res
}

// prettyJSON indents a JSON body; anything else is returned as text.
func prettyJSON(b []byte) string {
	var out bytes.Buffer
	if json.Valid(b) && json.Indent(&out, b, "", "  ") == nil {
		return out.String()
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// tryPrepared is what the page's script needs to send the call itself.
type tryPrepared struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"` // same origin: a path
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body,omitempty"`
	Errors  []string          `json:"errors,omitempty"`
}

// tryPrepare is the console with JavaScript: it checks the form like
// trySend and answers the call to make, with a fresh token, as JSON; the
// browser then sends it to the gateway with fetch.
func (h *Handler) tryPrepare(w http.ResponseWriter, r *http.Request) {
	tc, c, tok, errs := h.tryPost(w, r)
	if tc == nil {
		return
	}
	out, status := tryPrepared{Errors: errs}, http.StatusUnprocessableEntity
	if len(errs) == 0 {
		status = http.StatusOK
		out = tryPrepared{Method: c.Method, URL: c.Path, Body: c.Body,
			Headers: map[string]string{"Authorization": "Bearer " + tok}}
		for _, hd := range c.Headers {
			out.Headers[hd.Name] = hd.Value
		}
		if c.Body != "" {
			out.Headers["Content-Type"] = c.BodyType
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(out)
}
