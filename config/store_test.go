package config_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/catalog"
	"github.com/obhub/obhub/config"
	"github.com/obhub/obhub/partners"
	"github.com/obhub/obhub/store/sqlite"
)

// t0 is the test clock's first reading; every reading is a second later.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func stepClock() obhub.Clock {
	var n atomic.Int64
	return func() time.Time { return t0.Add(time.Duration(n.Add(1)) * time.Second) }
}

// openKV opens a real SQLite KV in a temporary folder.
func openKV(tb testing.TB) config.KV {
	tb.Helper()
	kv := sqlite.New(filepath.Join(tb.TempDir(), "hub.db"))
	if err := kv.Open(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { kv.Close() })
	return kv
}

func newStore(tb testing.TB) (*config.Store, config.KV) {
	tb.Helper()
	kv := openKV(tb)
	return config.NewStore(kv, stepClock()), kv
}

// must fails the test on err.
func must[T any](tb testing.TB) func(T, error) T {
	return func(v T, err error) T {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
		return v
	}
}

// wantCode fails unless err has the code and its message holds substr.
func wantCode(tb testing.TB, err error, code, substr string) {
	tb.Helper()
	if got := obhub.ErrorCode(err); got != code {
		tb.Fatalf("error = %v (code %q), want code %q", err, got, code)
	}
	if code != "" && !strings.Contains(obhub.ErrorMessage(err), substr) {
		tb.Fatalf("error message %q does not hold %q", obhub.ErrorMessage(err), substr)
	}
}

func testSpec(basePath string) *config.Spec {
	doc := fmt.Sprintf(`{"openapi":"3.0.3","info":{"title":"Accounts","version":"1.2"},"servers":[{"url":"%s"}],"paths":{}}`, basePath)
	return &config.Spec{
		Title: "Accounts", Version: "1.2", BasePath: basePath,
		Operations: []catalog.Operation{{ID: "listAccounts", Method: "GET", Path: "/accounts"}},
		JSON:       []byte(doc),
	}
}

// fixture builds a small alliance: banks alpha and beta; APIs pub (public),
// all (alliance) and priv (private), all of alpha; products p-pub, p-all,
// p-priv holding one each, and p-manual (manual approval, pub); partners
// fin (fintech, approved), fin-new (fintech, pending), alpha-p (bank
// alpha, approved), beta-p (bank beta, approved).
type fixture struct {
	s  *config.Store
	kv config.KV
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	s, kv := newStore(tb)
	ctx := context.Background()
	f := &fixture{s, kv}
	for _, id := range []string{"alpha", "beta"} {
		must[*catalog.Bank](tb)(s.CreateBank(ctx, catalog.Bank{ID: id, Name: strings.ToUpper(id)}))
	}
	for i, v := range []catalog.Visibility{catalog.VisibilityPublic, catalog.VisibilityAlliance, catalog.VisibilityPrivate} {
		id := []string{"pub", "all", "priv"}[i]
		f.api(tb, id, "alpha", "/"+id, v)
	}
	for _, p := range []struct{ id, api string }{{"p-pub", "pub"}, {"p-all", "all"}, {"p-priv", "priv"}} {
		must[*catalog.Product](tb)(s.CreateProduct(ctx, catalog.Product{ID: p.id, Name: p.id, APIs: []string{p.api}, Approval: catalog.ApprovalAuto}))
	}
	must[*catalog.Product](tb)(s.CreateProduct(ctx, catalog.Product{ID: "p-manual", Name: "manual", APIs: []string{"pub"}, Approval: catalog.ApprovalManual}))
	for _, p := range []partners.Partner{
		{ID: "fin", Name: "Fin", Kind: partners.KindFintech},
		{ID: "fin-new", Name: "New", Kind: partners.KindFintech},
		{ID: "alpha-p", Name: "Alpha as partner", Kind: partners.KindBank, Bank: "alpha"},
		{ID: "beta-p", Name: "Beta as partner", Kind: partners.KindBank, Bank: "beta"},
	} {
		must[*partners.Partner](tb)(s.CreatePartner(ctx, p))
		if p.ID != "fin-new" {
			must[*partners.Partner](tb)(s.ApprovePartner(ctx, p.ID))
		}
	}
	return f
}

func (f *fixture) api(tb testing.TB, id, bank, basePath string, v catalog.Visibility) *catalog.API {
	tb.Helper()
	return must[*catalog.API](tb)(f.s.CreateAPI(context.Background(), config.APIInput{
		ID: id, Bank: bank, BasePath: &basePath, Upstream: "http://10.0.0.5:8080/core", Visibility: v, Spec: testSpec(basePath),
	}))
}

// app creates a client_credentials app with a secret.
// retire publishes the API and retires it.
func (f *fixture) retire(tb testing.TB, id string) {
	tb.Helper()
	must[*catalog.API](tb)(f.s.PublishAPI(context.Background(), id))
	must[*catalog.API](tb)(f.s.RetireAPI(context.Background(), id))
}

func (f *fixture) app(tb testing.TB, partner, name string, env partners.Environment) *config.AppView {
	tb.Helper()
	v, _, err := f.s.CreateApp(context.Background(), appOf(partner, name, env))
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

func appOf(partner, name string, env partners.Environment) partners.App {
	return partners.App{
		Partner: partner, Name: name, Environment: env, GrantTypes: []string{partners.GrantClientCredentials},
		TokenEndpointAuthMethod: partners.AuthSecretBasic,
	}
}

func TestReferentialRules(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		do       func(t *testing.T, f *fixture) error
		code     string
		contains string
	}{
		{"API of a missing bank", func(t *testing.T, f *fixture) error {
			_, err := f.s.CreateAPI(ctx, config.APIInput{ID: "x", Bank: "gamma", Upstream: "https://core.gamma", Spec: testSpec("/x")})
			return err
		}, obhub.ECONFLICT, `bank "gamma" does not exist`},
		{"product of a missing API", func(t *testing.T, f *fixture) error {
			_, err := f.s.CreateProduct(ctx, catalog.Product{ID: "x", Name: "x", APIs: []string{"pub", "nope"}, Approval: catalog.ApprovalAuto})
			return err
		}, obhub.ECONFLICT, `API "nope" does not exist`},
		{"product updated to a missing API", func(t *testing.T, f *fixture) error {
			_, err := f.s.UpdateProduct(ctx, "p-pub", func(p *catalog.Product) error { p.APIs = []string{"nope"}; return nil })
			return err
		}, obhub.ECONFLICT, `API "nope" does not exist`},
		{"product of a retired API", func(t *testing.T, f *fixture) error {
			f.retire(t, "pub")
			_, err := f.s.CreateProduct(ctx, catalog.Product{ID: "x", Name: "x", APIs: []string{"pub"}, Approval: catalog.ApprovalAuto})
			return err
		}, obhub.ECONFLICT, `API "pub" is retired`},
		{"product holding an API retired since is still updated", func(t *testing.T, f *fixture) error {
			f.retire(t, "pub")
			_, err := f.s.UpdateProduct(ctx, "p-pub", func(p *catalog.Product) error { p.Name = "renamed"; return nil })
			return err
		}, "", ""},
		{"bank partner of a missing bank", func(t *testing.T, f *fixture) error {
			_, err := f.s.CreatePartner(ctx, partners.Partner{ID: "x", Name: "x", Kind: partners.KindBank, Bank: "gamma"})
			return err
		}, obhub.ECONFLICT, `bank "gamma" does not exist`},
		{"bank partner without a bank", func(t *testing.T, f *fixture) error {
			_, err := f.s.CreatePartner(ctx, partners.Partner{ID: "x", Name: "x", Kind: partners.KindBank})
			return err
		}, "", ""},
		{"app of a missing partner", func(t *testing.T, f *fixture) error {
			_, _, err := f.s.CreateApp(ctx, appOf("nobody", "a", partners.Sandbox))
			return err
		}, obhub.ECONFLICT, `partner "nobody" does not exist`},
		{"production app of a pending partner", func(t *testing.T, f *fixture) error {
			_, _, err := f.s.CreateApp(ctx, appOf("fin-new", "a", partners.Production))
			return err
		}, obhub.ECONFLICT, "not approved"},
		{"sandbox app of a pending partner", func(t *testing.T, f *fixture) error {
			_, _, err := f.s.CreateApp(ctx, appOf("fin-new", "a", partners.Sandbox))
			return err
		}, "", ""},
		{"two apps of a partner with one name", func(t *testing.T, f *fixture) error {
			f.app(t, "fin", "mobile", partners.Sandbox)
			_, _, err := f.s.CreateApp(ctx, appOf("fin", "mobile", partners.Production))
			return err
		}, obhub.ECONFLICT, `already has an app named "mobile"`},
		{"subscription to a missing product", func(t *testing.T, f *fixture) error {
			a := f.app(t, "fin", "a", partners.Production)
			_, err := f.s.Subscribe(ctx, a.ClientID, "nope")
			return err
		}, obhub.ECONFLICT, `product "nope" does not exist`},
		{"subscription of a missing app", func(t *testing.T, f *fixture) error {
			_, err := f.s.Subscribe(ctx, "app_missing", "p-pub")
			return err
		}, obhub.ECONFLICT, `app "app_missing" does not exist`},
		{"fintech subscribes to a public API", func(t *testing.T, f *fixture) error {
			_, err := f.s.Subscribe(ctx, f.app(t, "fin", "a", partners.Production).ClientID, "p-pub")
			return err
		}, "", ""},
		{"fintech subscribes to an alliance API", func(t *testing.T, f *fixture) error {
			_, err := f.s.Subscribe(ctx, f.app(t, "fin", "a", partners.Production).ClientID, "p-all")
			return err
		}, obhub.ECONFLICT, "member banks only"},
		{"fintech subscribes to a private API", func(t *testing.T, f *fixture) error {
			_, err := f.s.Subscribe(ctx, f.app(t, "fin", "a", partners.Sandbox).ClientID, "p-priv")
			return err
		}, obhub.ECONFLICT, `private to bank "alpha"`},
		{"member bank subscribes to an alliance API", func(t *testing.T, f *fixture) error {
			_, err := f.s.Subscribe(ctx, f.app(t, "beta-p", "a", partners.Production).ClientID, "p-all")
			return err
		}, "", ""},
		{"member bank subscribes to another bank's private API", func(t *testing.T, f *fixture) error {
			_, err := f.s.Subscribe(ctx, f.app(t, "beta-p", "a", partners.Production).ClientID, "p-priv")
			return err
		}, obhub.ECONFLICT, `private to bank "alpha"`},
		{"member bank subscribes to its own private API", func(t *testing.T, f *fixture) error {
			_, err := f.s.Subscribe(ctx, f.app(t, "alpha-p", "a", partners.Production).ClientID, "p-priv")
			return err
		}, "", ""},
		{"sandbox app of a pending partner subscribes to a public API", func(t *testing.T, f *fixture) error {
			_, err := f.s.Subscribe(ctx, f.app(t, "fin-new", "a", partners.Sandbox).ClientID, "p-pub")
			return err
		}, "", ""},
		{"subscribing twice", func(t *testing.T, f *fixture) error {
			a := f.app(t, "fin", "a", partners.Sandbox)
			must[*partners.Subscription](t)(f.s.Subscribe(ctx, a.ClientID, "p-pub"))
			_, err := f.s.Subscribe(ctx, a.ClientID, "p-pub")
			return err
		}, obhub.ECONFLICT, "already exists"},
		{"delete a bank with APIs", func(t *testing.T, f *fixture) error {
			return f.s.DeleteBank(ctx, "alpha")
		}, obhub.ECONFLICT, `bank "alpha" is in use by APIs "all", "priv", "pub"`},
		{"delete a bank with a partner", func(t *testing.T, f *fixture) error {
			return f.s.DeleteBank(ctx, "beta")
		}, obhub.ECONFLICT, `bank "beta" is in use by partner "beta-p"`},
		{"delete an unused bank", func(t *testing.T, f *fixture) error {
			must[*catalog.Bank](t)(f.s.CreateBank(ctx, catalog.Bank{ID: "gamma", Name: "G"}))
			return f.s.DeleteBank(ctx, "gamma")
		}, "", ""},
		{"delete an API in a product", func(t *testing.T, f *fixture) error {
			return f.s.DeleteAPI(ctx, "pub")
		}, obhub.ECONFLICT, `API "pub" is in use by products "p-manual", "p-pub"`},
		{"delete a product with subscriptions", func(t *testing.T, f *fixture) error {
			a := f.app(t, "fin", "a", partners.Sandbox)
			must[*partners.Subscription](t)(f.s.Subscribe(ctx, a.ClientID, "p-pub"))
			return f.s.DeleteProduct(ctx, "p-pub")
		}, obhub.ECONFLICT, `product "p-pub" is in use by subscribed app`},
		{"delete a partner with apps", func(t *testing.T, f *fixture) error {
			f.app(t, "fin", "a", partners.Sandbox)
			return f.s.DeletePartner(ctx, "fin")
		}, obhub.ECONFLICT, `partner "fin" is in use by app`},
		{"delete an unknown partner", func(t *testing.T, f *fixture) error {
			return f.s.DeletePartner(ctx, "nobody")
		}, obhub.ENOTFOUND, `partner "nobody" not found`},
		{"a second live API of a bank on one base path", func(t *testing.T, f *fixture) error {
			p := "/pub"
			_, err := f.s.CreateAPI(ctx, config.APIInput{ID: "pub2", Bank: "alpha", BasePath: &p, Upstream: "https://x.example", Spec: testSpec(p)})
			return err
		}, obhub.ECONFLICT, `API "pub" of bank "alpha" already has the base path "/pub"`},
		{"an API moved onto another's base path", func(t *testing.T, f *fixture) error {
			_, err := f.s.UpdateAPI(ctx, "all", func(in *config.APIInput) error { p := "/pub"; in.BasePath = &p; return nil })
			return err
		}, obhub.ECONFLICT, `already has the base path "/pub"`},
		{"another bank's API on the same base path", func(t *testing.T, f *fixture) error {
			p := "/pub"
			_, err := f.s.CreateAPI(ctx, config.APIInput{ID: "beta-pub", Bank: "beta", BasePath: &p, Upstream: "https://x.example", Spec: testSpec(p)})
			return err
		}, "", ""},
		{"a retired API frees its base path", func(t *testing.T, f *fixture) error {
			must[*catalog.API](t)(f.s.PublishAPI(ctx, "pub"))
			must[*catalog.API](t)(f.s.RetireAPI(ctx, "pub"))
			p := "/pub"
			_, err := f.s.CreateAPI(ctx, config.APIInput{ID: "pub2", Bank: "alpha", BasePath: &p, Upstream: "https://x.example", Spec: testSpec(p)})
			return err
		}, "", ""},
		{"an API id taken", func(t *testing.T, f *fixture) error {
			p := "/other"
			_, err := f.s.CreateAPI(ctx, config.APIInput{ID: "pub", Bank: "beta", BasePath: &p, Upstream: "https://x.example", Spec: testSpec(p)})
			return err
		}, obhub.ECONFLICT, `API "pub" already exists`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			wantCode(t, tt.do(t, f), tt.code, tt.contains)
		})
	}
}

func TestAPIValidation(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	must[*catalog.Bank](t)(s.CreateBank(ctx, catalog.Bank{ID: "alpha", Name: "A"}))
	bad := "v1/"
	_, err := s.CreateAPI(ctx, config.APIInput{ID: "Bad", Bank: "alpha", BasePath: &bad, Upstream: "ftp://x?y", Visibility: "secret", Spec: testSpec("/v1")})
	wantCode(t, err, obhub.EINVALID, "invalid API")
	got := map[string]bool{}
	for _, d := range obhub.ErrorDetails(err) {
		got[d.Location] = true
	}
	for _, loc := range []string{"/id", "/basePath", "/upstream", "/visibility"} {
		if !got[loc] {
			t.Errorf("no problem reported at %s; got %v", loc, obhub.ErrorDetails(err))
		}
	}

	for _, tt := range []struct{ upstream, problem string }{
		{"https://core.alpha.example:8443/api", ""},
		{"http://10.1.2.3:8080", ""},
		{"http://localhost:9000/core", ""},
		{"", "is required"},
		{"/relative", "absolute"},
		{"ftp://x.example", "http or https"},
		{"https://user:pw@x.example", "user information"},
		{"https://x.example/api?key=1", "query"},
		{"https://x.example/api#frag", "fragment"},
		{"https://x.example/api/", "slash"},
		{"https://", "host"},
	} {
		if msg := config.CheckUpstream(tt.upstream); (tt.problem == "") != (msg == "") || !strings.Contains(msg, tt.problem) {
			t.Errorf("CheckUpstream(%q) = %q, want a message with %q", tt.upstream, msg, tt.problem)
		}
	}

	// Defaults from the document: name from info.title, base path from servers.
	a := must[*catalog.API](t)(s.CreateAPI(ctx, config.APIInput{ID: "acc", Bank: "alpha", Upstream: "https://x.example", Spec: testSpec("/accounts/v1")}))
	if a.Name != "Accounts" || a.BasePath != "/accounts/v1" || a.Visibility != catalog.VisibilityPublic || a.Status != catalog.StatusDraft || a.Version != "1.2" || len(a.Operations) != 1 {
		t.Errorf("defaults not applied: %+v", a)
	}
	sum := sha256.Sum256(testSpec("/accounts/v1").JSON)
	if a.SpecDigest != hex.EncodeToString(sum[:]) {
		t.Errorf("SpecDigest = %s, want the SHA-256 of the document", a.SpecDigest)
	}
	doc := must[[]byte](t)(s.APISpec(ctx, "acc"))
	if string(doc) != string(testSpec("/accounts/v1").JSON) {
		t.Errorf("APISpec = %s", doc)
	}
	// A given base path overrides the document's.
	p := "/custom"
	b := must[*catalog.API](t)(s.CreateAPI(ctx, config.APIInput{ID: "acc2", Bank: "alpha", Name: "Mine", BasePath: &p, Upstream: "https://x.example", Spec: testSpec("/accounts/v1")}))
	if b.Name != "Mine" || b.BasePath != "/custom" {
		t.Errorf("given name and base path not kept: %+v", b)
	}
}

func TestLifecycle(t *testing.T) {
	ctx := context.Background()
	type move func(s *config.Store, id string) (*catalog.API, error)
	publish := func(s *config.Store, id string) (*catalog.API, error) { return s.PublishAPI(ctx, id) }
	deprecate := func(s *config.Store, id string) (*catalog.API, error) { return s.DeprecateAPI(ctx, id, time.Time{}) }
	retire := func(s *config.Store, id string) (*catalog.API, error) { return s.RetireAPI(ctx, id) }
	// reach brings a new draft API to the state by allowed moves.
	reach := map[catalog.Status][]move{
		catalog.StatusDraft:      nil,
		catalog.StatusPublished:  {publish},
		catalog.StatusDeprecated: {publish, deprecate},
		catalog.StatusRetired:    {publish, retire},
	}
	moves := map[string]move{"publish": publish, "deprecate": deprecate, "retire": retire}
	tests := []struct {
		from catalog.Status
		move string
		to   catalog.Status // "" when the move is refused (ECONFLICT)
	}{
		{catalog.StatusDraft, "publish", catalog.StatusPublished},
		{catalog.StatusDraft, "deprecate", ""},
		{catalog.StatusDraft, "retire", ""},
		{catalog.StatusPublished, "publish", ""},
		{catalog.StatusPublished, "deprecate", catalog.StatusDeprecated},
		{catalog.StatusPublished, "retire", catalog.StatusRetired},
		{catalog.StatusDeprecated, "publish", ""},
		{catalog.StatusDeprecated, "deprecate", ""},
		{catalog.StatusDeprecated, "retire", catalog.StatusRetired},
		{catalog.StatusRetired, "publish", ""},
		{catalog.StatusRetired, "deprecate", ""},
		{catalog.StatusRetired, "retire", ""},
	}
	s, _ := newStore(t)
	must[*catalog.Bank](t)(s.CreateBank(ctx, catalog.Bank{ID: "alpha", Name: "A"}))
	for i, tt := range tests {
		t.Run(fmt.Sprintf("%s/%s", tt.from, tt.move), func(t *testing.T) {
			id := fmt.Sprintf("api-%d", i)
			bp := "/" + id
			must[*catalog.API](t)(s.CreateAPI(ctx, config.APIInput{ID: id, Bank: "alpha", BasePath: &bp, Upstream: "https://x.example", Spec: testSpec(bp)}))
			for _, m := range reach[tt.from] {
				must[*catalog.API](t)(m(s, id))
			}
			a, err := moves[tt.move](s, id)
			if tt.to == "" {
				wantCode(t, err, obhub.ECONFLICT, "cannot "+tt.move)
				if got := must[*catalog.API](t)(s.API(ctx, id)); got.Status != tt.from {
					t.Errorf("status changed to %s by a refused move", got.Status)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a.Status != tt.to {
				t.Errorf("status = %s, want %s", a.Status, tt.to)
			}
		})
	}

	t.Run("deprecate with a sunset", func(t *testing.T) {
		bp := "/sun"
		must[*catalog.API](t)(s.CreateAPI(ctx, config.APIInput{ID: "sun", Bank: "alpha", BasePath: &bp, Upstream: "https://x.example", Spec: testSpec(bp)}))
		must[*catalog.API](t)(s.PublishAPI(ctx, "sun"))
		_, err := s.DeprecateAPI(ctx, "sun", t0.Add(-time.Hour))
		wantCode(t, err, obhub.EINVALID, "sunset")
		sunset := t0.Add(90 * 24 * time.Hour)
		a := must[*catalog.API](t)(s.DeprecateAPI(ctx, "sun", sunset))
		if !a.Sunset.Equal(sunset) || a.DeprecatedAt.IsZero() {
			t.Errorf("sunset %v, deprecatedAt %v", a.Sunset, a.DeprecatedAt)
		}
	})
}

func TestConcurrentCreatesOneWins(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	const n = 12
	var (
		wg       sync.WaitGroup
		wins     atomic.Int64
		errsMu   sync.Mutex
		unwanted []error
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.CreateBank(ctx, catalog.Bank{ID: "same", Name: fmt.Sprintf("writer %d", i)})
			switch obhub.ErrorCode(err) {
			case "":
				wins.Add(1)
			case obhub.ECONFLICT:
				if !strings.Contains(obhub.ErrorMessage(err), "already exists") {
					errsMu.Lock()
					unwanted = append(unwanted, err)
					errsMu.Unlock()
				}
			default:
				errsMu.Lock()
				unwanted = append(unwanted, err)
				errsMu.Unlock()
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 || len(unwanted) > 0 {
		t.Fatalf("%d creates won (want 1); other errors: %v", wins.Load(), unwanted)
	}
}

// A create that relies on an object and the delete of that object never
// both succeed.
func TestConcurrentReferenceAndDelete(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	for i := range 10 {
		bank := fmt.Sprintf("bank-%d", i)
		must[*catalog.Bank](t)(s.CreateBank(ctx, catalog.Bank{ID: bank, Name: "B"}))
		var apiErr, delErr error
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, apiErr = s.CreateAPI(ctx, config.APIInput{ID: "api-" + bank, Bank: bank, Upstream: "https://x.example", Spec: testSpec("/" + bank)})
		}()
		go func() {
			defer wg.Done()
			delErr = s.DeleteBank(ctx, bank)
		}()
		wg.Wait()
		if (apiErr == nil) == (delErr == nil) {
			t.Fatalf("round %d: create API err=%v, delete bank err=%v: exactly one must succeed", i, apiErr, delErr)
		}
		if _, err := s.API(ctx, "api-"+bank); (err == nil) != (apiErr == nil) {
			t.Fatalf("round %d: API stored = %v, but create said %v", i, err == nil, apiErr)
		}
	}
}

func TestAppSecrets(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	storedHash := func(clientID string) string {
		t.Helper()
		kv := must[config.KeyValue](t)(f.kv.Get(ctx, config.AppsPrefix+clientID))
		var a partners.App
		if err := json.Unmarshal(kv.Value, &a); err != nil {
			t.Fatal(err)
		}
		return a.SecretHash
	}

	v, secret, err := f.s.CreateApp(ctx, appOf("fin", "web", partners.Production))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(v.ClientID, "app_") || len(v.ClientID) != 24 {
		t.Errorf("client id %q: want app_ and 20 characters", v.ClientID)
	}
	if secret == "" || !v.HasSecret {
		t.Fatalf("no secret generated: %q, %+v", secret, v)
	}
	if strings.Contains(storedHash(v.ClientID), secret) || !partners.VerifySecret(storedHash(v.ClientID), secret) {
		t.Fatal("the stored hash does not verify the secret shown")
	}
	for _, view := range []any{v, must[*config.AppView](t)(f.s.App(ctx, v.ClientID))} {
		b, _ := json.Marshal(view)
		if strings.Contains(string(b), "secret_hash") || strings.Contains(string(b), "sha256:") {
			t.Errorf("a view holds the secret hash: %s", b)
		}
	}

	// Rotation: a new secret, the old one stops working.
	_, rotated, err := f.s.RotateAppSecret(ctx, v.ClientID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if rotated == secret || !partners.VerifySecret(storedHash(v.ClientID), rotated) || partners.VerifySecret(storedHash(v.ClientID), secret) {
		t.Fatal("rotation did not replace the secret")
	}

	// private_key_jwt: no secret, nothing to rotate.
	jwt := appOf("fin", "jwt", partners.Sandbox)
	jwt.TokenEndpointAuthMethod, jwt.JWKS = partners.AuthPrivateKeyJWT, map[string]any{"keys": []any{}}
	jv, jsecret, err := f.s.CreateApp(ctx, jwt)
	if err != nil {
		t.Fatal(err)
	}
	if jsecret != "" || jv.HasSecret || storedHash(jv.ClientID) != "" {
		t.Errorf("private_key_jwt app got a secret")
	}
	_, _, err = f.s.RotateAppSecret(ctx, jv.ClientID, 0)
	wantCode(t, err, obhub.ECONFLICT, "no client secret")

	// Switching the web app to private_key_jwt drops its secret.
	u := must[*config.AppView](t)(f.s.UpdateApp(ctx, v.ClientID, func(a *config.AppView) error {
		a.TokenEndpointAuthMethod, a.JWKS = partners.AuthPrivateKeyJWT, map[string]any{"keys": []any{}}
		return nil
	}))
	if u.HasSecret || storedHash(v.ClientID) != "" {
		t.Error("the secret survived the switch to private_key_jwt")
	}
	// Immutable fields.
	_, err = f.s.UpdateApp(ctx, v.ClientID, func(a *config.AppView) error { a.Environment = partners.Sandbox; return nil })
	wantCode(t, err, obhub.EINVALID, "invalid app")
}

func TestDeleteAppCascades(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	a := f.app(t, "fin", "a", partners.Sandbox)
	b := f.app(t, "fin", "b", partners.Sandbox)
	for _, p := range []string{"p-pub", "p-manual"} {
		must[*partners.Subscription](t)(f.s.Subscribe(ctx, a.ClientID, p))
	}
	must[*partners.Subscription](t)(f.s.Subscribe(ctx, b.ClientID, "p-pub"))

	if err := f.s.DeleteApp(ctx, a.ClientID); err != nil {
		t.Fatal(err)
	}
	_, err := f.s.App(ctx, a.ClientID)
	wantCode(t, err, obhub.ENOTFOUND, "not found")
	l := must[config.Listing](t)(f.kv.List(ctx, config.SubscriptionsPrefix))
	if len(l.KVs) != 1 || !strings.HasPrefix(l.KVs[0].Key, config.SubscriptionsPrefix+b.ClientID+"/") {
		t.Fatalf("subscriptions left: %d, want only b's", len(l.KVs))
	}
	// The product is free again once its last subscriber is gone.
	if err := f.s.DeleteProduct(ctx, "p-manual"); err != nil {
		t.Fatal(err)
	}
}

func TestSubscriptionApprovals(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	a := f.app(t, "fin", "a", partners.Production)
	if s := must[*partners.Subscription](t)(f.s.Subscribe(ctx, a.ClientID, "p-pub")); s.Status != partners.SubscriptionActive {
		t.Errorf("auto product: status %s, want active", s.Status)
	}
	if s := must[*partners.Subscription](t)(f.s.Subscribe(ctx, a.ClientID, "p-manual")); s.Status != partners.SubscriptionPending {
		t.Errorf("manual product: status %s, want pending", s.Status)
	}
	_, err := f.s.ApproveSubscription(ctx, a.ClientID, "p-pub")
	wantCode(t, err, obhub.ECONFLICT, "not pending")
	if s := must[*partners.Subscription](t)(f.s.ApproveSubscription(ctx, a.ClientID, "p-manual")); s.Status != partners.SubscriptionActive {
		t.Errorf("approved: status %s", s.Status)
	}
	_, err = f.s.RejectSubscription(ctx, a.ClientID, "p-manual")
	wantCode(t, err, obhub.ECONFLICT, "not pending")

	b := f.app(t, "fin", "b", partners.Production)
	must[*partners.Subscription](t)(f.s.Subscribe(ctx, b.ClientID, "p-manual"))
	if s := must[*partners.Subscription](t)(f.s.RejectSubscription(ctx, b.ClientID, "p-manual")); s.Status != partners.SubscriptionRejected {
		t.Errorf("rejected: status %s", s.Status)
	}
	subs, more := must2(t)(f.s.ListSubscriptions(ctx, a.ClientID, config.ListOptions{}))
	if len(subs) != 2 || more || subs[0].Product != "p-manual" || subs[1].Product != "p-pub" {
		t.Errorf("subscriptions of a: %+v", subs)
	}
	if err := f.s.DeleteSubscription(ctx, a.ClientID, "p-pub"); err != nil {
		t.Fatal(err)
	}
	_, err = f.s.Subscription(ctx, a.ClientID, "p-pub")
	wantCode(t, err, obhub.ENOTFOUND, "not found")
}

func must2(tb testing.TB) func([]partners.Subscription, bool, error) ([]partners.Subscription, bool) {
	return func(s []partners.Subscription, more bool, err error) ([]partners.Subscription, bool) {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
		return s, more
	}
}

func TestUpdates(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)

	// An update that changes nothing writes nothing.
	before := must[config.KeyValue](t)(f.kv.Get(ctx, config.BanksPrefix+"alpha"))
	same := must[*catalog.Bank](t)(f.s.UpdateBank(ctx, "alpha", func(b *catalog.Bank) error { return nil }))
	after := must[config.KeyValue](t)(f.kv.Get(ctx, config.BanksPrefix+"alpha"))
	if after.ModRevision != before.ModRevision || !same.UpdatedAt.Equal(must[*catalog.Bank](t)(f.s.Bank(ctx, "alpha")).UpdatedAt) {
		t.Error("a no-op update was written")
	}

	b := must[*catalog.Bank](t)(f.s.UpdateBank(ctx, "alpha", func(b *catalog.Bank) error { b.Name = "Alpha Rural Bank"; return nil }))
	if b.Name != "Alpha Rural Bank" || !b.UpdatedAt.After(b.CreatedAt) {
		t.Errorf("update: %+v", b)
	}
	_, err := f.s.UpdateBank(ctx, "alpha", func(b *catalog.Bank) error { b.ID = "other"; return nil })
	wantCode(t, err, obhub.EINVALID, "invalid bank")
	_, err = f.s.UpdateBank(ctx, "nope", func(b *catalog.Bank) error { return nil })
	wantCode(t, err, obhub.ENOTFOUND, `bank "nope" not found`)

	// Partners keep their status through updates.
	p := must[*partners.Partner](t)(f.s.UpdatePartner(ctx, "fin", func(p *partners.Partner) error {
		p.Name, p.Status = "Fin Ltd", partners.PartnerPending
		return nil
	}))
	if p.Name != "Fin Ltd" || p.Status != partners.PartnerApproved {
		t.Errorf("partner update: %+v", p)
	}
	_, err = f.s.ApprovePartner(ctx, "fin")
	wantCode(t, err, obhub.ECONFLICT, "already approved")

	// An API keeps its document when the update has none, and takes a new one.
	a := must[*catalog.API](t)(f.s.UpdateAPI(ctx, "pub", func(in *config.APIInput) error { in.Upstream = "https://new.example"; return nil }))
	if a.Upstream != "https://new.example" || a.Status != catalog.StatusDraft || len(a.Operations) != 1 || a.BasePath != "/pub" {
		t.Errorf("API update: %+v", a)
	}
	spec := testSpec("/pub")
	spec.JSON = []byte(`{"openapi":"3.0.3","info":{"title":"Accounts v2","version":"2"},"paths":{}}`)
	spec.Title, spec.Version = "Accounts v2", "2"
	a = must[*catalog.API](t)(f.s.UpdateAPI(ctx, "pub", func(in *config.APIInput) error { in.Spec, in.Name = spec, ""; return nil }))
	if a.Version != "2" || a.Name != "Accounts v2" || a.SpecDigest != spec.Digest() {
		t.Errorf("API update with a document: %+v", a)
	}
	if doc := must[[]byte](t)(f.s.APISpec(ctx, "pub")); string(doc) != string(spec.JSON) {
		t.Errorf("stored document not replaced: %s", doc)
	}
	_, err = f.s.UpdateAPI(ctx, "pub", func(in *config.APIInput) error { in.Bank = "beta"; return nil })
	wantCode(t, err, obhub.EINVALID, "invalid API")
}

func TestListPages(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	for i := range 120 {
		must[*catalog.Bank](t)(s.CreateBank(ctx, catalog.Bank{ID: fmt.Sprintf("bank-%03d", i), Name: "B"}))
	}
	var all []string
	opt := config.ListOptions{Limit: 50}
	for pages := 0; ; pages++ {
		banks, more, err := s.ListBanks(ctx, opt)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range banks {
			all = append(all, b.ID)
		}
		if !more {
			if pages != 2 || len(banks) != 20 {
				t.Errorf("last page %d has %d items", pages, len(banks))
			}
			break
		}
		opt.After = banks[len(banks)-1].ID
	}
	if len(all) != 120 || all[0] != "bank-000" || all[119] != "bank-119" {
		t.Errorf("listed %d banks, %v … %v", len(all), all[0], all[len(all)-1])
	}
}

func TestAdminToken(t *testing.T) {
	ctx := context.Background()

	t.Run("from the environment", func(t *testing.T) {
		kv := openKV(t)
		s := config.NewStore(kv, nil)
		gen, err := s.EnsureAdminToken(ctx, "env-token-123")
		if err != nil || gen != "" {
			t.Fatalf("EnsureAdminToken = %q, %v", gen, err)
		}
		if _, err := kv.Get(ctx, config.AdminTokenKey); obhub.ErrorCode(err) != obhub.ENOTFOUND {
			t.Errorf("a token from the environment was stored: %v", err)
		}
		if !s.CheckAdminToken(ctx, "env-token-123") || s.CheckAdminToken(ctx, "env-token-124") || s.CheckAdminToken(ctx, "") {
			t.Error("CheckAdminToken does not match the environment token")
		}
	})

	t.Run("generated once, shared by nodes", func(t *testing.T) {
		kv := openKV(t)
		nodes := make([]*config.Store, 4)
		tokens := make([]string, len(nodes))
		var wg sync.WaitGroup
		errs := make([]error, len(nodes))
		for i := range nodes {
			nodes[i] = config.NewStore(kv, nil)
			wg.Add(1)
			go func() {
				defer wg.Done()
				tokens[i], errs[i] = nodes[i].EnsureAdminToken(ctx, "")
			}()
		}
		wg.Wait()
		var token string
		for i, tok := range tokens {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			if tok != "" {
				if token != "" {
					t.Fatal("two nodes generated a token")
				}
				token = tok
			}
		}
		if !strings.HasPrefix(token, "oba_") || len(token) < 40 {
			t.Fatalf("generated token %q", token)
		}
		stored := must[config.KeyValue](t)(kv.Get(ctx, config.AdminTokenKey))
		sum := sha256.Sum256([]byte(token))
		if string(stored.Value) != hex.EncodeToString(sum[:]) {
			t.Error("the stored value is not the token's SHA-256")
		}
		for i, s := range nodes {
			if !s.CheckAdminToken(ctx, token) || s.CheckAdminToken(ctx, token+"x") {
				t.Errorf("node %d does not accept exactly the token", i)
			}
		}
		// A restart finds the hash and prints nothing; a fresh store
		// checks against the stored hash.
		again := config.NewStore(kv, nil)
		if gen, err := again.EnsureAdminToken(ctx, ""); gen != "" || err != nil {
			t.Errorf("restart: %q, %v", gen, err)
		}
		if !config.NewStore(kv, nil).CheckAdminToken(ctx, token) {
			t.Error("a store that did not ensure the token rejects it")
		}
	})

	t.Run("no token at all", func(t *testing.T) {
		s := config.NewStore(openKV(t), nil)
		if s.CheckAdminToken(ctx, "anything") || s.CheckAdminToken(ctx, "") {
			t.Error("a store without a token accepted one")
		}
	})
}

// Writers that rely on the same object (here: APIs on one bank) all land,
// retried after a collision, and none is lost; two that would share a base
// path never both land.
func TestConcurrentWritersOnOneBank(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	must[*catalog.Bank](t)(s.CreateBank(ctx, catalog.Bank{ID: "alpha", Name: "A"}))
	const n = 6
	run := func(basePath func(i int) string) []error {
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				bp := basePath(i)
				_, errs[i] = s.CreateAPI(ctx, config.APIInput{
					ID: fmt.Sprintf("api-%s-%d", strings.Trim(bp, "/"), i), Bank: "alpha", BasePath: &bp,
					Upstream: "https://x.example", Spec: testSpec(bp),
				})
			}()
		}
		wg.Wait()
		return errs
	}
	for i, err := range run(func(i int) string { return fmt.Sprintf("/own-%d", i) }) {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	wins := 0
	for _, err := range run(func(int) string { return "/shared" }) {
		switch {
		case err == nil:
			wins++
		case obhub.ErrorCode(err) != obhub.ECONFLICT || !strings.Contains(err.Error(), "base path"):
			t.Errorf("unexpected error: %v", err)
		}
	}
	if wins != 1 {
		t.Errorf("%d APIs created on one base path, want 1", wins)
	}
	apis, _, err := s.ListAPIs(ctx, config.ListOptions{})
	if err != nil || len(apis) != n+1 {
		t.Errorf("%d APIs stored (%v), want %d", len(apis), err, n+1)
	}
}
