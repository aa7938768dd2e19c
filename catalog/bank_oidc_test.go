package catalog

import (
	"slices"
	"testing"
	"time"

	"github.com/obhub/obhub"
)

func TestBankOIDCValidation(t *testing.T) {
	set := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	valid := func() *BankOIDC {
		return &BankOIDC{Issuer: "https://id.vale.example/realms/customers", ClientID: "obhub",
			Scopes: []string{"openid"}, CustomerIDClaim: "sub", ClientSecretUpdatedAt: set}
	}
	tests := []struct {
		name   string
		change func(o *BankOIDC)
		want   []string // locations of the problems; none for a valid provider
	}{
		{"valid", func(*BankOIDC) {}, nil},
		{"http on loopback (tests)", func(o *BankOIDC) { o.Issuer = "http://127.0.0.1:8443" }, nil},
		{"http on localhost", func(o *BankOIDC) { o.Issuer = "http://localhost:9000/idp" }, nil},
		{"http on IPv6 loopback", func(o *BankOIDC) { o.Issuer = "http://[::1]:9000" }, nil},
		{"acr values", func(o *BankOIDC) { o.ACRValues = []string{"urn:vale:acr:sms", "2"} }, nil},
		{"no issuer", func(o *BankOIDC) { o.Issuer = "" }, []string{"/issuer"}},
		{"http elsewhere", func(o *BankOIDC) { o.Issuer = "http://id.vale.example" }, []string{"/issuer"}},
		{"http on a private address", func(o *BankOIDC) { o.Issuer = "http://10.0.0.5" }, []string{"/issuer"}},
		{"not a URL", func(o *BankOIDC) { o.Issuer = "id.vale.example" }, []string{"/issuer"}},
		{"other scheme", func(o *BankOIDC) { o.Issuer = "ftp://id.vale.example" }, []string{"/issuer"}},
		{"query", func(o *BankOIDC) { o.Issuer = "https://id.vale.example?tenant=1" }, []string{"/issuer"}},
		{"fragment", func(o *BankOIDC) { o.Issuer = "https://id.vale.example#x" }, []string{"/issuer"}},
		{"user information", func(o *BankOIDC) { o.Issuer = "https://u:p@id.vale.example" }, []string{"/issuer"}},
		{"no client id", func(o *BankOIDC) { o.ClientID = " " }, []string{"/clientId"}},
		{"control characters in the client id", func(o *BankOIDC) { o.ClientID = "a\nb" }, []string{"/clientId"}},
		{"no secret yet", func(o *BankOIDC) { o.ClientSecretUpdatedAt = time.Time{} }, []string{"/clientSecret"}},
		{"scopes without openid", func(o *BankOIDC) { o.Scopes = []string{"profile"} }, []string{"/scopes"}},
		{"scope with a space", func(o *BankOIDC) { o.Scopes = []string{"openid", "a b"} }, []string{"/scopes/1"}},
		{"scope twice", func(o *BankOIDC) { o.Scopes = []string{"openid", "openid"} }, []string{"/scopes/1"}},
		{"claim name", func(o *BankOIDC) { o.CustomerIDClaim = "cust id" }, []string{"/customerIdClaim"}},
		{"acr with a quote", func(o *BankOIDC) { o.ACRValues = []string{`"x"`} }, []string{"/acrValues/0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := valid()
			tt.change(o)
			b := Bank{ID: "vale-rcb", Name: "Vale", OIDC: o}
			var got []string
			for _, d := range obhub.ErrorDetails(b.Validate()) {
				got = append(got, d.Location)
			}
			want := make([]string, len(tt.want))
			for i, w := range tt.want {
				want[i] = "/oidc" + w
			}
			if !slices.Equal(got, want) {
				t.Fatalf("problems at %v, want %v", got, want)
			}
		})
	}
	if (&Bank{ID: "b", Name: "B"}).Validate() != nil {
		t.Fatal("a bank without a provider is valid")
	}
}

func TestBankOIDCDefaults(t *testing.T) {
	got := BankOIDC{Issuer: "https://id.example", ClientID: "c"}.WithDefaults()
	if !slices.Equal(got.Scopes, []string{"openid"}) || got.CustomerIDClaim != "sub" {
		t.Fatalf("defaults: %+v", got)
	}
	kept := BankOIDC{Scopes: []string{"openid", "profile"}, CustomerIDClaim: "cif"}.WithDefaults()
	if !slices.Equal(kept.Scopes, []string{"openid", "profile"}) || kept.CustomerIDClaim != "cif" {
		t.Fatalf("explicit values replaced: %+v", kept)
	}
}
