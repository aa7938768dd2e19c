package gateway

import (
	"strings"

	"github.com/obhub/obhub/catalog"
	"github.com/obhub/obhub/internal/httpx"
	"github.com/obhub/obhub/partners"
)

// authorize decides whether the token's app may call the operation of api
// in environment env. It reads only dir, the request's one snapshot, so a
// configuration change applies from the next request on. The order gives
// the caller the most useful refusal first.
func authorize(dir *partners.Directory, t *token, env partners.Environment, api *catalog.API, op *catalog.Operation) (app *partners.App, d *denial) {
	app, ok := dir.App(t.clientID)
	if !ok || (t.partner != "" && t.partner != app.Partner) {
		// The app was deleted (or moved) after the token was issued: the
		// token no longer stands for anyone.
		return nil, invalidToken("unknown_client", detailInvalidToken)
	}
	switch {
	case app.Suspended:
		// Its tokens stay valid: reactivating the app lets them through again.
		return nil, &denial{kind: httpx.Forbidden, reason: "app_suspended",
			detail: "the app is suspended by the alliance's administrators"}
	case t.env != env:
		return nil, &denial{kind: httpx.WrongEnvironment, reason: "wrong_environment",
			detail: "a " + string(t.env) + " token cannot call " + string(env) + " paths"}
	case app.Environment != t.env:
		return nil, &denial{kind: httpx.WrongEnvironment, reason: "app_environment_mismatch",
			detail: "the token's environment is not the app's"}
	}
	partner, ok := dir.Partner(app.Partner)
	if !ok || !partners.MayCall(partner, app.Environment) {
		return nil, &denial{kind: httpx.Forbidden, reason: "partner_not_approved",
			detail: "the app's partner is not approved"}
	}
	if !partners.MayUseIn(partner, api, app.Environment) {
		return nil, &denial{kind: httpx.NotSubscribed, reason: "api_not_visible",
			detail: "the app's partner may not use this API"}
	}
	if t.bank != "" && t.bank != api.Bank {
		// A customer consented at their own bank: the token speaks for
		// them there and nowhere else.
		return nil, &denial{kind: httpx.Forbidden, reason: "customer_other_bank",
			detail: "the token was issued for a customer of another bank"}
	}
	if op.CustomerOnly && t.customer == "" {
		// The document gives the operation to customers' tokens only
		// (authorization code grant): the app may not act as itself.
		return nil, &denial{kind: httpx.ConsentRequired, reason: "consent_required",
			detail: "this operation acts for a customer: use a token the customer consented to (authorization code grant), not the app's own"}
	}
	var missing []string
	for _, s := range op.Scopes {
		if !t.hasScope(s) {
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 {
		return nil, &denial{kind: httpx.InsufficientScope, reason: "insufficient_scope",
			detail:    "this operation needs scope " + strings.Join(missing, " "),
			challenge: `Bearer error="insufficient_scope", scope="` + quotable(strings.Join(op.Scopes, " ")) + `"`}
	}
	if _, ok := dir.Grant(t.clientID, api.ID); !ok {
		return nil, &denial{kind: httpx.NotSubscribed, reason: "not_subscribed",
			detail: "the app has no active subscription to a product holding this API"}
	}
	return app, nil
}

// quotable drops what cannot appear in an RFC 7235 quoted-string without
// escaping (scope tokens never hold these; documents might).
func quotable(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}
