package gateway

import (
	"net/http"
	"strings"
	"testing"
)

// Token requests are audited with the client they name, however it
// authenticates, and never with anything of its secret.
func TestOAuthOutcomeNamesTheClient(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name string
		mod  func(*http.Request)
		body string
		want string
	}{
		{"basic", func(r *http.Request) { r.SetBasicAuth("app_abc", "obs_secret") }, "grant_type=client_credentials", "app_abc"},
		{"basic, form-encoded id", func(r *http.Request) { r.SetBasicAuth("app%2Bx", "s") }, "grant_type=client_credentials", "app+x"},
		{"post", nil, "grant_type=client_credentials&client_id=app_post&client_secret=obs_secret", "app_post"},
		{"no client", nil, "grant_type=client_credentials", ""},
		{"control characters refused", nil, "client_id=a%0Ab", ""},
		{"over-long id refused", nil, "client_id=" + strings.Repeat("a", 200), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", f.base+"/oauth2/token", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tt.mod != nil {
				tt.mod(req)
			}
			resp, err := f.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			o := f.oneOutcome(t)
			if o.ClientID != tt.want {
				t.Fatalf("outcome client id %q, want %q", o.ClientID, tt.want)
			}
			if strings.Contains(o.Path+o.Query+o.Reason, "secret") {
				t.Fatalf("outcome carries the secret: %+v", o)
			}
		})
	}
}
