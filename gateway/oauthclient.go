package gateway

import (
	"bytes"
	"encoding/base64"
	"net/url"

	"github.com/valyala/fasthttp"
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
