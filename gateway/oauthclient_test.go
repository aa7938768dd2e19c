package gateway

import "testing"

// The reason an OAuth2 endpoint's refusal is audited with: the OAuth2
// error code, or the problem type of a path no endpoint serves; nothing
// that is not a short code.
func TestOAuthErrorCode(t *testing.T) {
	for _, tt := range []struct {
		contentType, body, want string
	}{
		{"application/json", `{"error":"invalid_client","error_description":"x"}`, "invalid_client"},
		{"application/problem+json", `{"type":"https://obhub.dev/problems/method-not-allowed","status":405}`, "method_not_allowed"},
		{"application/json", `{"error":"Invalid Client"}`, ""},
		{"application/json", `{"error":"` + string(make([]byte, 65)) + `"}`, ""},
		{"text/plain", `{"error":"invalid_client"}`, ""},
		{"application/json", `not json`, ""},
	} {
		if got := oauthErrorCode([]byte(tt.contentType), []byte(tt.body)); got != tt.want {
			t.Errorf("oauthErrorCode(%s, %s) = %q, want %q", tt.contentType, tt.body, got, tt.want)
		}
	}
}
