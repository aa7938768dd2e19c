package main

import (
	"bufio"
	"context"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestPortalDPoPSnippetRuns: the Go, Python and Java snippets the try-it
// page shows for an app held to FAPI (DPoP-bound tokens, server nonces
// required) run as a developer would run them — go run, python3 call.py,
// java Call.java, with CLIENT_SECRET set — against a real node: each gets
// a DPoP-bound token (answering the token endpoint's use_dpop_nonce),
// calls the sandbox with a proof, and prints the answer. With a wrong
// secret each stops and prints the hub's reason (invalid_client).
func TestPortalDPoPSnippetRuns(t *testing.T) {
	runners := snippetRunners(t)
	m := runMain(t, withDemo())
	h := newHub(t, m, testAdminToken)
	app, secret := fapiSnippetApp(t, m, h, nil)

	// Bearer tokens are refused for this app: without a proof the token
	// endpoint says so.
	if code, _ := h.tokenStatus(t, app.id, secret); code != http.StatusBadRequest {
		t.Fatalf("a token request without a proof: %d, want 400", code)
	}
	st, page := app.user.page("/portal/apis/qingshan-accounts/try?op=" + tryGetAccount + "&app=" + app.id)
	if st != http.StatusOK {
		t.Fatalf("try-it page: %d\n%.2000s", st, page)
	}
	if src := snippetOn(t, page, "go"); !strings.Contains(src, "dpopDo") {
		t.Fatalf("the Go snippet of a FAPI app makes no DPoP proofs:\n%s", src)
	}
	for i, r := range runners {
		// A wrong secret: the snippet stops and shows the hub's reason.
		// (A shell snippet says so and goes on: exiting would close the
		// terminal it was pasted into.)
		out, err := r.command(t, snippetOn(t, page, r.lang), "CLIENT_SECRET=not-the-secret").CombinedOutput()
		if (err == nil && r.lang != "curl") || !strings.Contains(string(out), "invalid_client") {
			t.Errorf("the %s snippet with a wrong secret: %v, and it does not say invalid_client:\n%s", r.lang, err, out)
		}
		out, err = r.command(t, snippetOn(t, page, r.lang), "CLIENT_SECRET="+secret).CombinedOutput()
		if err != nil || !strings.HasPrefix(string(out), r.ok) || !strings.Contains(string(out), "qs-10001") {
			t.Fatalf("the %s snippet: %v\n%s", r.lang, err, out)
		}
		// Through the gateway as the app, with a DPoP-bound token: one
		// more audited sandbox call.
		waitSandboxCalls(t, h, app.id, "/sandbox/qingshan-rcb/open-banking/accounts/v1/accounts/qs-10001", i+1)
	}
}

// TestPortalDPoPConsentSnippetRuns: the Go, Python and Java snippets the
// try-it page shows for a call made as a customer, for an app held to
// FAPI, each run against a real node while the test plays the customer:
// the snippet pushes the authorization request with a DPoP proof (binding
// the code to its key, after the PAR endpoint's use_dpop_nonce) and
// prints the URL to open; the customer signs in at the sandbox and
// allows; the redirect URL is pasted into the snippet, which redeems the
// code with a proof and calls the API as the customer.
func TestPortalDPoPConsentSnippetRuns(t *testing.T) {
	runners := snippetRunners(t)
	m := runMain(t, withDemo())
	h := newHub(t, m, testAdminToken)
	const redirect = "http://127.0.0.1:9/callback" // never reached: the test reads the Location
	app, secret := fapiSnippetApp(t, m, h, map[string]any{
		"grant_types": []string{"client_credentials", "authorization_code"}, "redirect_uris": []string{redirect}})

	try := "/portal/apis/qingshan-accounts/try"
	const listAccounts = "op-get--accounts"
	st, page := app.user.post(try+"?op="+listAccounts, try, url.Values{"op": {listAccounts}, "app": {app.id}, "customer": {"zhangsan"}})
	if st != http.StatusOK {
		t.Fatalf("try-it page: %d\n%.2000s", st, page)
	}
	if src := snippetOn(t, page, "go"); !strings.Contains(src, "dpopDo") || !strings.Contains(src, "code_verifier") {
		t.Fatalf("not the DPoP consent snippet:\n%s", src)
	}
	calls := 1 // the try-it form's own call
	for _, r := range runners {
		cmd := r.command(t, snippetOn(t, page, r.lang), "CLIENT_SECRET="+secret, "REDIRECT_URI="+redirect)
		out := playCustomer(t, h, cmd, redirect, r.lang == "curl")
		if !strings.Contains(out, r.ok) || !strings.Contains(out, "qs-10001") {
			t.Fatalf("the %s consent snippet:\n%s", r.lang, out)
		}
		// zhangsan's accounts only: the call was made as the customer.
		if strings.Contains(out, "qs-10003") {
			t.Errorf("the %s snippet's call listed another customer's account:\n%s", r.lang, out)
		}
		calls++
		waitSandboxCalls(t, h, app.id, "/sandbox/qingshan-rcb/open-banking/accounts/v1/accounts", calls)
	}
}

// snippetApp is a developer's sandbox app, and the developer's browser.
type snippetApp struct {
	id   string
	user *portalUser
}

// fapiSnippetApp onboards a developer whose sandbox app is then marked
// fapi (DPoP-bound tokens, server nonces required), with more settings
// from extra, and returns it with a new client secret.
func fapiSnippetApp(t *testing.T, m *Main, h *hub, extra map[string]any) (snippetApp, string) {
	t.Helper()
	u := newPortalUser(t, m)
	id := onboard(t, m, h, u, "Green Valley Fintech", "li@greenvalley.example")
	patch := map[string]any{"fapi": true, "dpop_bound_access_tokens": true}
	for k, v := range extra {
		patch[k] = v
	}
	h.adminCall(t, "PATCH", "/apps/"+id, patch, http.StatusOK, nil)
	var secret struct {
		ClientSecret string `json:"client_secret"`
	}
	h.adminCall(t, "POST", "/apps/"+id+"/secret", nil, http.StatusOK, &secret)
	return snippetApp{id: id, user: u}, secret.ClientSecret
}

// snippetOn returns the code of the page's snippet in language id.
func snippetOn(t *testing.T, page, id string) string {
	t.Helper()
	code := regexp.MustCompile(`(?s)<code id="snippet-` + id + `">(.*?)</code>`).FindStringSubmatch(page)
	if code == nil {
		t.Fatalf("no %s snippet on the page", id)
	}
	return html.UnescapeString(code[1])
}

// snippetRunner runs one language's snippet as a developer would.
type snippetRunner struct {
	lang  string   // the snippet's id on the page
	file  string   // where the snippet goes
	extra []string // other files: name, content
	args  []string // the command, run in the snippet's folder
	ok    string   // how its output of a 200 answer starts
}

// snippetRunners returns the runners this machine can use: Go always
// (the test is skipped without it), Python where python3 has requests and
// cryptography (what the snippet asks to pip install), Java where java is
// installed (it runs a single source file).
func snippetRunners(t *testing.T) []snippetRunner {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on this machine")
	}
	rs := []snippetRunner{{lang: "go", file: "main.go", extra: []string{"go.mod", "module snippet\n\ngo 1.22\n"}, args: []string{gobin, "run", "."}, ok: "200 OK"}}
	if sh, err := exec.LookPath("sh"); err != nil || !commands("curl", "openssl", "xxd") {
		t.Log("no sh, curl, openssl and xxd on this machine: the curl snippets are not run")
	} else {
		rs = append(rs, snippetRunner{lang: "curl", file: "call.sh", args: []string{sh, "call.sh"}, ok: "HTTP/1.1 200"})
	}
	if py, err := exec.LookPath("python3"); err != nil || exec.Command(py, "-c", "import requests, cryptography").Run() != nil {
		t.Log("no python3 with requests and cryptography on this machine: the Python snippets are not run")
	} else {
		rs = append(rs, snippetRunner{lang: "python", file: "call.py", args: []string{py, "call.py"}, ok: "200"})
	}
	if java, err := exec.LookPath("java"); err != nil {
		t.Log("no java command on this machine: the Java snippets are not run")
	} else {
		rs = append(rs, snippetRunner{lang: "java", file: "Call.java", args: []string{java, "Call.java"}, ok: "200"})
	}
	return rs
}

// commands reports whether every named command is on the PATH.
func commands(names ...string) bool {
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			return false
		}
	}
	return true
}

// command writes src (and the runner's other files) to a folder of its
// own and returns the command that runs it, with env added; it is killed
// if it runs past two minutes.
func (r snippetRunner) command(t *testing.T, src string, env ...string) *exec.Cmd {
	t.Helper()
	dir := t.TempDir()
	files := append([]string{r.file, src}, r.extra...)
	for i := 0; i < len(files); i += 2 {
		if err := os.WriteFile(filepath.Join(dir, files[i]), []byte(files[i+1]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, r.args[0], r.args[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), append(env, "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local")...)
	return cmd
}

// playCustomer runs a consent snippet: it waits for the URL the snippet
// prints to open ("Open: …", or the URL alone), signs in at the sandbox as
// the demo customer zhangsan and allows, pastes the redirect URL into the
// snippet (only its code with pasteCode, as the curl one asks), and
// returns all it printed once it has ended.
func playCustomer(t *testing.T, h *hub, cmd *exec.Cmd, redirect string, pasteCode bool) string {
	t.Helper()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	// The command's standard output and error are copied by two
	// goroutines of os/exec into out: it must take them one at a time.
	var out lockedBuilder
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = io.MultiWriter(pw, &out), &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { err := cmd.Wait(); pw.Close(); done <- err }()
	authURL := ""
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		line := strings.TrimSpace(strings.TrimPrefix(sc.Text(), "Open: "))
		if strings.HasPrefix(line, "http") {
			authURL = line
			break
		}
	}
	go io.Copy(io.Discard, pr)
	if authURL == "" {
		err := <-done
		t.Fatalf("the snippet printed no URL to open: %v\n%s", err, out.String())
	}

	d := discover(t, h)
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: waitLimit, Transport: h.c.Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	signIn := browse(t, browser, newRequest(t, http.MethodGet, authURL, nil))
	if signIn.status != http.StatusOK {
		t.Fatalf("sign-in page: %s", signIn)
	}
	back := submitForm(t, browser, d, signIn, url.Values{"bank": {"qingshan-rcb"}, "login": {"zhangsan"}, "password": {"sandbox"}, "action": {"allow"}})
	loc := back.header.Get("Location")
	if back.status != http.StatusSeeOther || !strings.HasPrefix(loc, redirect+"?") {
		t.Fatalf("after sign-in: %s, Location %q", back, loc)
	}
	paste := loc
	if pasteCode {
		u, err := url.Parse(loc)
		if err != nil {
			t.Fatal(err)
		}
		paste = u.Query().Get("code")
	}
	if _, err := io.WriteString(stdin, paste+"\n"); err != nil {
		t.Fatal(err)
	}
	stdin.Close()
	if err := <-done; err != nil {
		t.Fatalf("the snippet: %v\n%s", err, out.String())
	}
	return out.String()
}

// lockedBuilder is a strings.Builder that several goroutines write to.
type lockedBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuilder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuilder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
