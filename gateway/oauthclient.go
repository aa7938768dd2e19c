package gateway

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/obhub/obhub/internal/httpx"
)

// maxClientIDLen bounds the client id copied into an outcome.
const maxClientIDLen = 128

// claimedClientID returns the client id an OAuth2 endpoint request names —
// the user part of HTTP Basic credentials (RFC 6749 section 2.3.1, form
// encoded), else the client_id form field — so that token, PAR,
// introspection and revocation requests are audited with the client that
// made them. It is the claimed id: the outcome's status says whether the
// client authenticated. The body must already be buffered.
func claimedClientID(in *fasthttp.Request) string {
	if auth := in.Header.Peek(fasthttp.HeaderAuthorization); len(auth) > 6 && bytes.EqualFold(auth[:6], []byte("basic ")) {
		raw, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(auth[6:])))
		if err == nil {
			user, _, _ := bytes.Cut(raw, []byte(":"))
			if id, err := url.QueryUnescape(string(user)); err == nil {
				return safeClientID(id)
			}
		}
		return ""
	}
	if bytes.HasPrefix(in.Header.ContentType(), []byte("application/x-www-form-urlencoded")) {
		return safeClientID(string(in.PostArgs().Peek("client_id")))
	}
	return safeClientID(string(in.URI().QueryArgs().Peek("client_id")))
}

// safeClientID keeps id only when it is short and printable ASCII.
func safeClientID(id string) string {
	if len(id) > maxClientIDLen {
		return ""
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return ""
		}
	}
	return id
}

// oauthOutcome completes the outcome of an OAuth2 endpoint request from
// the authorization server's answer, so that compliance staff see what
// they see for API calls: the partner of the client it names (when that
// client exists; the status says whether it authenticated), and a refusal
// as a denial (the client failed to authenticate, or its grant was
// refused: OAuth2 error invalid_client, invalid_grant, …), a rejection
// (a malformed or unsupported request) or an error, with the OAuth2 error
// code as the reason. A success stays "local".
func (g *Gateway) oauthOutcome(c *fiber.Ctx, rq *request) {
	if id := rq.out.ClientID; id != "" {
		if snap := g.snaps.Current(); snap != nil && snap.Directory != nil {
			if app, ok := snap.Directory.App(id); ok {
				rq.out.Partner, rq.out.Environment = app.Partner, string(app.Environment)
			}
		}
	}
	resp := &c.Context().Response
	status := resp.StatusCode()
	if status < 400 {
		return
	}
	code := oauthErrorCode(resp.Header.ContentType(), resp.Body())
	reason := code
	if reason == "" {
		reason = "status_" + strconv.Itoa(status)
	}
	switch {
	case status >= 500:
		rq.decide(DecisionError, reason)
	case status == fasthttp.StatusUnauthorized || oauthDenials[code]:
		rq.decide(DecisionDeny, reason)
	default:
		rq.decide(DecisionReject, reason)
	}
}

// oauthDenials are the OAuth2 error codes that refuse who the client is
// or what it holds, rather than how it asked.
var oauthDenials = map[string]bool{
	"invalid_client": true, "unauthorized_client": true, "invalid_grant": true,
	"access_denied": true, "invalid_token": true, "invalid_dpop_proof": true,
}

// oauthErrorCode returns the error member of an OAuth2 error response
// (RFC 6749 section 5.2), or the type of a problem document (a path no
// endpoint serves: "not_found"), when it is a short code; "" otherwise.
func oauthErrorCode(contentType, body []byte) string {
	if len(body) > 4096 || !bytes.Contains(contentType, []byte("json")) {
		return ""
	}
	var e struct {
		Error string `json:"error"`
		Type  string `json:"type"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	code := e.Error
	if code == "" {
		code = strings.ReplaceAll(strings.TrimPrefix(e.Type, httpx.TypeBase), "-", "_")
	}
	if len(code) > 64 {
		return ""
	}
	for i := 0; i < len(code); i++ {
		if c := code[i]; c != '_' && (c < 'a' || c > 'z') {
			return ""
		}
	}
	return code
}
