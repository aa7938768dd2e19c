package partners_test

import (
	"strings"
	"testing"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/catalog"
	"github.com/obhub/obhub/partners"
)

func TestSecrets(t *testing.T) {
	secret, hash, err := partners.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, "obs_") || len(secret) < 40 {
		t.Fatalf("secret %q: want obs_ and 256 bits", secret)
	}
	if strings.Contains(hash, secret) || !strings.HasPrefix(hash, "sha256:") {
		t.Fatalf("hash %q must not contain the secret", hash)
	}
	other, _, _ := partners.NewSecret()
	tests := []struct {
		name, hash, secret string
		want               bool
	}{
		{"right secret", hash, secret, true},
		{"wrong secret", hash, other, false},
		{"empty secret", hash, "", false},
		{"empty hash (unknown client)", "", secret, false},
		{"hash of the empty secret", partners.HashSecret(""), "", false},
		{"malformed hash", "sha256:zz", secret, false},
		{"other scheme", "bcrypt:" + hash[7:], secret, false},
		{"prefix of the secret", hash, secret[:len(secret)-1], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := partners.VerifySecret(tt.hash, tt.secret); got != tt.want {
				t.Fatalf("VerifySecret = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAppValidate(t *testing.T) {
	valid := func() partners.App {
		return partners.App{Name: "ledger", Environment: partners.Sandbox, GrantTypes: []string{partners.GrantClientCredentials}, TokenEndpointAuthMethod: partners.AuthSecretBasic}
	}
	tests := []struct {
		name     string
		change   func(*partners.App)
		wantLocs []string
	}{
		{"valid", func(*partners.App) {}, nil},
		{"everything wrong at once", func(a *partners.App) {
			a.Name, a.Environment, a.GrantTypes, a.TokenEndpointAuthMethod = "", "staging", []string{"password"}, "none"
		}, []string{"/name", "/environment", "/grant_types/0", "/token_endpoint_auth_method"}},
		{"code grant needs redirect URIs", func(a *partners.App) { a.GrantTypes = []string{partners.GrantAuthorizationCode} }, []string{"/redirect_uris"}},
		{"http redirect only for loopback", func(a *partners.App) {
			a.GrantTypes = []string{partners.GrantAuthorizationCode}
			a.RedirectURIs = []string{"http://127.0.0.1:9000/cb", "http://example.com/cb", "https://ok.example/cb#frag"}
		}, []string{"/redirect_uris/1", "/redirect_uris/2"}},
		{"scope with a space", func(a *partners.App) { a.Scopes = []string{"accounts:read", "a b"} }, []string{"/scopes/1"}},
		{"private_key_jwt needs keys", func(a *partners.App) { a.TokenEndpointAuthMethod = partners.AuthPrivateKeyJWT }, []string{"/jwks"}},
		{"FAPI app with DPoP-bound tokens", func(a *partners.App) { a.FAPI, a.DPoPBound = true, true }, nil},
		{"FAPI app: no client_secret_post, a binding required", func(a *partners.App) {
			a.FAPI, a.TokenEndpointAuthMethod = true, partners.AuthSecretPost
		}, []string{"/token_endpoint_auth_method", "/dpop_bound_access_tokens"}},
		{"DPoP-bound without FAPI", func(a *partners.App) { a.DPoPBound = true }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := valid()
			tt.change(&a)
			err := a.Validate()
			var locs []string
			for _, d := range obhub.ErrorDetails(err) {
				locs = append(locs, d.Location)
			}
			if strings.Join(locs, ",") != strings.Join(tt.wantLocs, ",") {
				t.Fatalf("problems at %v, want %v (err %v)", locs, tt.wantLocs, err)
			}
			if err != nil && obhub.ErrorCode(err) != obhub.EINVALID {
				t.Fatalf("code %s, want invalid", obhub.ErrorCode(err))
			}
		})
	}
}

func TestDirectoryGrantAndVisibility(t *testing.T) {
	products := []catalog.Product{
		{ID: "starter", APIs: []string{"accounts", "loans"}},
		{ID: "payments", APIs: []string{"payments"}},
	}
	d := partners.NewDirectory(
		[]partners.Partner{{ID: "agrifin", Kind: partners.KindFintech, Status: partners.PartnerApproved}},
		[]partners.App{{ClientID: "app1", Partner: "agrifin"}},
		[]partners.Subscription{
			{ClientID: "app1", Product: "starter", Status: partners.SubscriptionActive},
			{ClientID: "app1", Product: "payments", Status: partners.SubscriptionPending},
			{ClientID: "app1", Product: "gone", Status: partners.SubscriptionActive},
		},
		products,
	)
	for api, want := range map[string]bool{"accounts": true, "loans": true, "payments": false, "other": false} {
		if _, ok := d.Grant("app1", api); ok != want {
			t.Errorf("Grant(app1, %s) = %v, want %v", api, ok, want)
		}
	}
	if _, ok := d.Grant("nobody", "accounts"); ok {
		t.Error("an unknown app has a grant")
	}
	if got := len(d.Subscriptions("app1")); got != 3 {
		t.Errorf("Subscriptions = %d, want 3", got)
	}

	fintech := &partners.Partner{ID: "f", Kind: partners.KindFintech, Status: partners.PartnerApproved}
	qingshan := &partners.Partner{ID: "q", Kind: partners.KindBank, Bank: "qingshan-rcb", Status: partners.PartnerApproved}
	hexi := &partners.Partner{ID: "h", Kind: partners.KindBank, Bank: "hexi-rcc", Status: partners.PartnerApproved}
	pending := &partners.Partner{ID: "p", Kind: partners.KindFintech, Status: partners.PartnerPending}
	api := func(v catalog.Visibility) *catalog.API { return &catalog.API{Bank: "qingshan-rcb", Visibility: v} }
	tests := []struct {
		partner *partners.Partner
		api     *catalog.API
		want    bool
	}{
		{fintech, api(catalog.VisibilityPublic), true},
		{fintech, api(catalog.VisibilityAlliance), false},
		{fintech, api(catalog.VisibilityPrivate), false},
		{hexi, api(catalog.VisibilityAlliance), true},
		{hexi, api(catalog.VisibilityPrivate), false},
		{qingshan, api(catalog.VisibilityPrivate), true},
		{pending, api(catalog.VisibilityPublic), false},
		{nil, api(catalog.VisibilityPublic), false},
	}
	for _, tt := range tests {
		if got := partners.MayUse(tt.partner, tt.api); got != tt.want {
			t.Errorf("MayUse(%v, %s) = %v, want %v", tt.partner, tt.api.Visibility, got, tt.want)
		}
	}
}

// Every partner may use the sandbox from sign-up; production waits for
// approval. In the sandbox a pending partner sees what an approved one of
// its kind would, never more.
func TestMayCallAndMayUseIn(t *testing.T) {
	pending := &partners.Partner{ID: "p", Kind: partners.KindFintech, Status: partners.PartnerPending}
	approved := &partners.Partner{ID: "a", Kind: partners.KindFintech, Status: partners.PartnerApproved}
	for _, tt := range []struct {
		p    *partners.Partner
		env  partners.Environment
		want bool
	}{
		{pending, partners.Sandbox, true},
		{pending, partners.Production, false},
		{approved, partners.Sandbox, true},
		{approved, partners.Production, true},
		{nil, partners.Sandbox, false},
	} {
		if got := partners.MayCall(tt.p, tt.env); got != tt.want {
			t.Errorf("MayCall(%v, %s) = %v, want %v", tt.p, tt.env, got, tt.want)
		}
	}
	public := &catalog.API{Bank: "qingshan-rcb", Visibility: catalog.VisibilityPublic}
	private := &catalog.API{Bank: "qingshan-rcb", Visibility: catalog.VisibilityPrivate}
	if !partners.MayUseIn(pending, public, partners.Sandbox) || partners.MayUseIn(pending, public, partners.Production) {
		t.Error("a pending partner must use public APIs in the sandbox only")
	}
	if partners.MayUseIn(pending, private, partners.Sandbox) {
		t.Error("a pending fintech used a bank's private API in the sandbox")
	}
}
