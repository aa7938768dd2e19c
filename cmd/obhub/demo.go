package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/obhub/obhub/admin"
	"github.com/obhub/obhub/demo"
)

// demoEnvFile holds the demo credentials (mode 0600) so that later starts
// can print them again: client secrets are shown once by the admin API.
const demoEnvFile = "demo.env"

// demoCore is the demo banks' core system: an HTTP server on a loopback
// port that the demo APIs' upstreams point at.
type demoCore struct {
	srv *http.Server
	url string
}

func (d *demoCore) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return d.srv.Shutdown(ctx)
}

// seedDemo starts the demo core and applies the demo alliance when the
// store is empty. When an earlier --demo start seeded the store, it only
// points the demo APIs at this start's core (its port changes at every
// start): what the operator changed since — a deprecated API, a new
// subscription, an edited plan — stays as it is.
func (m *Main) seedDemo(ctx context.Context) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	m.demo = &demoCore{
		srv: &http.Server{Handler: demo.NewUpstream(m.Clock), ReadHeaderTimeout: 10 * time.Second},
		url: "http://" + ln.Addr().String(),
	}
	m.bg.Add(1)
	go func() {
		defer m.bg.Done()
		if err := m.demo.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.Logger.Error("demo core stopped", "err", err)
		}
	}()

	envPath := filepath.Join(m.Config.Data, demoEnvFile)
	env, err := readEnvFile(envPath)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	seededBefore := err == nil
	if !seededBefore && !m.storeEmpty() {
		m.Logger.Warn("--demo: the store already holds an alliance; not seeding the demo")
		return nil
	}

	dir, err := os.MkdirTemp("", "obhub-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := demo.WriteDir(dir, m.demo.url); err != nil {
		return err
	}
	decl, err := admin.LoadDeclaration(filepath.Join(dir, "alliance.yaml"))
	if err != nil {
		return err
	}
	c := &admin.Client{
		BaseURL: "http://in-process",
		HTTP:    &http.Client{Transport: admin.HandlerTransport{Handler: admin.New(m.store, m.Logger, admin.InProcess())}},
	}
	var changes []admin.Change
	if seededBefore && !m.storeEmpty() {
		err = repointDemo(ctx, c, decl)
	} else {
		var rep admin.Report
		if rep, err = admin.Apply(ctx, c, decl); err == nil {
			changes = rep.Changes
		}
	}
	if err != nil {
		return err
	}

	if env == nil {
		env = map[string]string{}
	}
	for _, ch := range changes {
		if ch.Kind != "app" || ch.ClientSecret == "" {
			continue
		}
		prefix := "SANDBOX_"
		if strings.HasSuffix(ch.ID, "/"+demo.ProductionApp) {
			prefix = "PRODUCTION_"
		}
		env[prefix+"CLIENT_ID"] = ch.ClientID
		env[prefix+"CLIENT_SECRET"] = ch.ClientSecret
	}
	if m.AdminToken != "" {
		env["OBHUB_ADMIN_TOKEN"] = m.AdminToken
	} else if m.Config.AdminToken != "" {
		delete(env, "OBHUB_ADMIN_TOKEN") // the operator's own token: not ours to write down
	}
	env["OBHUB_URL"] = m.PublicURL
	env["OBHUB_ADMIN_URL"] = m.AdminURL
	if err := writeEnvFile(envPath, env); err != nil {
		return err
	}
	m.demoEnv = env
	m.demoEnvPath = envPath
	return nil
}

// repointDemo points each demo API still served by an earlier start's
// demo core (the same URL but for the port) at this start's core, and
// changes nothing else. An API the operator deleted or pointed elsewhere
// is left alone.
func repointDemo(ctx context.Context, c *admin.Client, decl *admin.Declaration) error {
	for _, api := range decl.APIs {
		path := "/apis/" + url.PathEscape(api.ID)
		var cur struct {
			Upstream string `json:"upstream"`
		}
		var re *admin.ResponseError
		err := c.Do(ctx, http.MethodGet, path, nil, &cur)
		if errors.As(err, &re) && re.Status == http.StatusNotFound {
			continue
		}
		if err != nil {
			return err
		}
		if cur.Upstream == api.Upstream || !samePortAside(cur.Upstream, api.Upstream) {
			continue
		}
		if err := c.Do(ctx, http.MethodPatch, path, map[string]string{"upstream": api.Upstream}, nil); err != nil {
			return err
		}
	}
	return nil
}

// samePortAside reports whether two URLs differ at most in their port.
func samePortAside(a, b string) bool {
	ua, errA := url.Parse(a)
	ub, errB := url.Parse(b)
	if errA != nil || errB != nil {
		return false
	}
	ua.Host, ub.Host = ua.Hostname(), ub.Hostname()
	return ua.String() == ub.String()
}

// storeEmpty reports whether the configuration holds no banks or partners.
func (m *Main) storeEmpty() bool {
	s := m.holder.Current()
	return s == nil || (len(s.Catalog.Banks()) == 0 && s.Directory.Len() == 0)
}

// printDemo shows the demo credentials and a first call.
func (m *Main) printDemo() {
	if m.demoEnv == nil {
		return
	}
	w := m.Stdout
	e := m.demoEnv
	fmt.Fprintf(w, "\nDemo alliance: banks %s and %s; fintech partner %q.\n", demo.Qingshan, demo.Hexi, demo.Partner)
	fmt.Fprintf(w, "Demo credentials are in %s (mode 0600). Load them with:\n  . %s\n\n", m.demoEnvPath, m.demoEnvPath)
	fmt.Fprintf(w, "  sandbox app:     client_id=%s\n", e["SANDBOX_CLIENT_ID"])
	fmt.Fprintf(w, "  production app:  client_id=%s\n", e["PRODUCTION_CLIENT_ID"])
	if e["OBHUB_ADMIN_TOKEN"] != "" {
		fmt.Fprintf(w, "  admin token:     in OBHUB_ADMIN_TOKEN\n")
	}
	fmt.Fprintf(w, "\nTry it:\n")
	fmt.Fprintf(w, "  TOKEN=$(curl -s -u \"$PRODUCTION_CLIENT_ID:$PRODUCTION_CLIENT_SECRET\" -d grant_type=client_credentials %s/oauth2/token | sed 's/.*\"access_token\":\"\\([^\"]*\\)\".*/\\1/')\n", m.PublicURL)
	fmt.Fprintf(w, "  curl -s -H \"Authorization: Bearer $TOKEN\" %s/%s%s/accounts\n", m.PublicURL, demo.Qingshan, demo.AccountsBasePath)
}

// readEnvFile reads KEY=VALUE lines (export prefixes and quotes allowed).
func readEnvFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		env[k] = strings.Trim(v, `'"`)
	}
	return env, sc.Err()
}

// writeEnvFile writes env as a shell file of exports, mode 0600,
// atomically.
func writeEnvFile(path string, env map[string]string) error {
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("# obhub demo credentials: load with `. " + path + "`. Secrets: keep this file private.\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "export %s='%s'\n", k, env[k])
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
