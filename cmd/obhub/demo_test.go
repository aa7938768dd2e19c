package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/obhub/obhub/demo"
)

// TestDemo is CONTRACT section 1: `obhub serve --demo` on an empty folder
// seeds a working alliance and prints how to use it; starting it again
// keeps it working without seeding anything twice.
func TestDemo(t *testing.T) {
	dir := t.TempDir()
	accounts := "/" + demo.Qingshan + demo.AccountsBasePath + "/accounts"

	var out bytes.Buffer
	m1 := newTestMain(t, withData(dir), withDemo(), withAdminToken(""), withStdout(&out))
	if err := m1.Run(t.Context()); err != nil {
		m1.Close()
		t.Fatal(err)
	}
	running := true
	t.Cleanup(func() {
		if running {
			m1.Close()
		}
	})
	envPath := filepath.Join(dir, "demo.env")
	env := readDemoEnv(t, envPath)
	printed := out.String()

	t.Run("demo.env is private and complete", func(t *testing.T) {
		fi, err := os.Stat(envPath)
		if err != nil {
			t.Fatal(err)
		}
		if mode := fi.Mode().Perm(); mode != 0o600 {
			t.Errorf("demo.env has mode %o, want 600", mode)
		}
		for _, k := range []string{"SANDBOX_CLIENT_ID", "SANDBOX_CLIENT_SECRET", "PRODUCTION_CLIENT_ID", "PRODUCTION_CLIENT_SECRET", "OBHUB_ADMIN_TOKEN", "OBHUB_URL", "OBHUB_ADMIN_URL"} {
			if env[k] == "" {
				t.Errorf("demo.env has no %s", k)
			}
		}
		if env["OBHUB_URL"] != m1.PublicURL || env["OBHUB_ADMIN_URL"] != m1.AdminURL || env["OBHUB_ADMIN_TOKEN"] != m1.AdminToken {
			t.Errorf("demo.env URLs %q %q / token: want %q %q and the generated token", env["OBHUB_URL"], env["OBHUB_ADMIN_URL"], m1.PublicURL, m1.AdminURL)
		}
	})

	t.Run("the banner shows URLs and credentials", func(t *testing.T) {
		for _, want := range []string{
			m1.PublicURL, m1.AdminURL, envPath, m1.AdminToken,
			env["SANDBOX_CLIENT_ID"], env["PRODUCTION_CLIENT_ID"],
			demo.Qingshan, demo.Hexi, demo.Partner,
			m1.PublicURL + "/oauth2/token", m1.PublicURL + accounts,
		} {
			if want == "" || !strings.Contains(printed, want) {
				t.Errorf("the output lacks %q:\n%s", want, printed)
			}
		}
		// Secrets go to demo.env (mode 0600), not to the terminal.
		for _, secret := range []string{env["SANDBOX_CLIENT_SECRET"], env["PRODUCTION_CLIENT_SECRET"]} {
			if secret != "" && strings.Contains(printed, secret) {
				t.Error("the output shows a client secret")
			}
		}
	})

	h1 := newHub(t, m1, m1.AdminToken)
	t.Run("the production app reads accounts", func(t *testing.T) {
		tok := h1.token(t, env["PRODUCTION_CLIENT_ID"], env["PRODUCTION_CLIENT_SECRET"], "")
		wantHanHolders(t, h1.call(t, "GET", accounts, tok, nil))
	})
	t.Run("the sandbox app's token is refused on production", func(t *testing.T) {
		tok := h1.token(t, env["SANDBOX_CLIENT_ID"], env["SANDBOX_CLIENT_SECRET"], "")
		wantProblem(t, h1.call(t, "GET", accounts, tok, nil), http.StatusForbidden, "wrong-environment")
	})
	apps1 := demoApps(t, h1)
	var apis1 listing
	h1.adminCall(t, "GET", "/apis?limit=500", nil, http.StatusOK, &apis1)

	// What the README's walkthrough has the operator do: deprecate the
	// branch locator, subscribe the production app to payments.
	h1.adminCall(t, "POST", "/apis/hexi-branches/deprecate", map[string]string{"sunset": "2027-06-30T00:00:00Z"}, http.StatusOK, nil)
	h1.adminCall(t, "POST", "/apps/"+env["PRODUCTION_CLIENT_ID"]+"/subscriptions", map[string]string{"product": demo.PaymentsProduct}, http.StatusCreated, nil)
	h1.adminCall(t, "POST", "/apps/"+env["PRODUCTION_CLIENT_ID"]+"/subscriptions/"+demo.PaymentsProduct+"/approve", nil, http.StatusOK, nil)

	h1.c.CloseIdleConnections()
	if err := m1.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	running = false

	// Second start on the same folder, --demo again, no token given.
	var out2 bytes.Buffer
	m2 := runMain(t, withData(dir), withDemo(), withAdminToken(""), withStdout(&out2))
	env2 := readDemoEnv(t, envPath)
	h2 := newHub(t, m2, env["OBHUB_ADMIN_TOKEN"])

	t.Run("restart keeps the credentials", func(t *testing.T) {
		for _, k := range []string{"SANDBOX_CLIENT_ID", "SANDBOX_CLIENT_SECRET", "PRODUCTION_CLIENT_ID", "PRODUCTION_CLIENT_SECRET", "OBHUB_ADMIN_TOKEN"} {
			if env2[k] != env[k] {
				t.Errorf("%s changed across the restart", k)
			}
		}
		if env2["OBHUB_URL"] != m2.PublicURL || env2["OBHUB_ADMIN_URL"] != m2.AdminURL {
			t.Errorf("demo.env URLs %q %q, want the new node's %q %q", env2["OBHUB_URL"], env2["OBHUB_ADMIN_URL"], m2.PublicURL, m2.AdminURL)
		}
		if !strings.Contains(out2.String(), env["PRODUCTION_CLIENT_ID"]) || !strings.Contains(out2.String(), m2.PublicURL) {
			t.Errorf("the second start does not show the demo credentials again:\n%s", out2.String())
		}
		if m2.AdminToken != "" {
			t.Error("the second start generated another admin token")
		}
	})
	t.Run("restart keeps working against the new demo core", func(t *testing.T) {
		tok := h2.token(t, env2["PRODUCTION_CLIENT_ID"], env2["PRODUCTION_CLIENT_SECRET"], "")
		wantHanHolders(t, h2.call(t, "GET", accounts, tok, nil))
	})
	t.Run("restart creates no duplicates", func(t *testing.T) {
		apps2 := demoApps(t, h2)
		if strings.Join(apps1, ",") != strings.Join(apps2, ",") || len(apps2) != 2 {
			t.Errorf("apps of %s: %q before, %q after the restart; want the same two", demo.Partner, apps1, apps2)
		}
		var apis2 listing
		h2.adminCall(t, "GET", "/apis?limit=500", nil, http.StatusOK, &apis2)
		if strings.Join(apis1.ids("id"), ",") != strings.Join(apis2.ids("id"), ",") {
			t.Errorf("APIs %q → %q", apis1.ids("id"), apis2.ids("id"))
		}
	})
	// A restart used to apply the demo declaration again, which failed on
	// the deprecated API ("cannot go back to published") and stopped the
	// node.
	t.Run("restart keeps what the operator changed", func(t *testing.T) {
		var subs listing
		h2.adminCall(t, "GET", "/apps/"+env2["PRODUCTION_CLIENT_ID"]+"/subscriptions", nil, http.StatusOK, &subs)
		got := subs.ids("product")
		slices.Sort(got)
		if want := []string{demo.PaymentsProduct, demo.StarterProduct}; !slices.Equal(got, want) {
			t.Errorf("production app subscriptions %q, want %q", got, want)
		}
		var api struct {
			Status string `json:"status"`
		}
		h2.adminCall(t, "GET", "/apis/hexi-branches", nil, http.StatusOK, &api)
		if api.Status != "deprecated" {
			t.Errorf("hexi-branches is %q after the restart, want deprecated", api.Status)
		}
		tok := h2.token(t, env2["PRODUCTION_CLIENT_ID"], env2["PRODUCTION_CLIENT_SECRET"], "")
		r := h2.call(t, "GET", "/"+demo.Hexi+demo.BranchesBasePath+"/branches", tok, nil)
		if r.status != http.StatusOK || r.header.Get("Sunset") == "" {
			t.Errorf("the deprecated API through the new demo core: %d, Sunset %q", r.status, r.header.Get("Sunset"))
		}
	})
}

// demoApps lists the client ids of the demo partner's apps, sorted.
func demoApps(t testing.TB, h *hub) []string {
	t.Helper()
	var l listing
	h.adminCall(t, "GET", "/partners/"+demo.Partner+"/apps", nil, http.StatusOK, &l)
	return l.ids("client_id")
}

// wantHanHolders checks a 200 answer listing accounts whose holders have
// Chinese names.
func wantHanHolders(t testing.TB, r result) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("GET accounts = %s, want 200", r)
	}
	var body struct {
		Data []struct {
			HolderName string `json:"holderName"`
		} `json:"data"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil || len(body.Data) == 0 {
		t.Fatalf("accounts %s: %v", r.body, err)
	}
	for _, a := range body.Data {
		if !strings.ContainsFunc(a.HolderName, func(r rune) bool { return unicode.Is(unicode.Han, r) }) {
			t.Errorf("holder name %q is not Chinese", a.HolderName)
		}
	}
}

// readDemoEnv reads demo.env as a shell would: `export KEY='value'` lines.
func readDemoEnv(t testing.TB, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("demo.env: %v", err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		kv, ok := strings.CutPrefix(line, "export ")
		k, v, ok2 := strings.Cut(kv, "=")
		if !ok || !ok2 || len(v) < 2 || v[0] != '\'' || v[len(v)-1] != '\'' {
			t.Errorf("demo.env line %q is not export KEY='value'", line)
			continue
		}
		env[k] = v[1 : len(v)-1]
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return env
}
