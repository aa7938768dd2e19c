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
	"testing"
	"time"
)

// TestPortalDPoPSnippetRuns: the Go, Python and Java snippets the try-it
// page shows for an app held to FAPI (DPoP-bound tokens, server nonces
// required) run as a developer would run them — go run, python3 call.py,
// java Call.java, with CLIENT_SECRET set — against a real node: each gets
// a DPoP-bound token (answering the token endpoint's use_dpop_nonce),
// calls the sandbox with a proof, and prints the answer.
func TestPortalDPoPSnippetRuns(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on this machine")
	}
	m := runMain(t, withDemo())
	h := newHub(t, m, testAdminToken)
	u := newPortalUser(t, m)
	app := onboard(t, m, h, u, "Green Valley Fintech", "li@greenvalley.example")
	h.adminCall(t, "PATCH", "/apps/"+app, map[string]any{"fapi": true, "dpop_bound_access_tokens": true}, http.StatusOK, nil)
	var secret struct {
		ClientSecret string `json:"client_secret"`
	}
	h.adminCall(t, "POST", "/apps/"+app+"/secret", nil, http.StatusOK, &secret)

	// Bearer tokens are refused for this app from now on: without a proof
	// the token endpoint says so.
	if code, _ := h.tokenStatus(t, app, secret.ClientSecret); code != http.StatusBadRequest {
		t.Fatalf("a token request without a proof: %d, want 400", code)
	}

	st, page := u.page("/portal/apis/qingshan-accounts/try?op=" + tryGetAccount + "&app=" + app)
	code := regexp.MustCompile(`(?s)<code id="snippet-go">(.*?)</code>`).FindStringSubmatch(page)
	if st != http.StatusOK || code == nil {
		t.Fatalf("try-it page: %d\n%.2000s", st, page)
	}
	src := html.UnescapeString(code[1])
	if !strings.Contains(src, "dpopDo") {
		t.Fatalf("the Go snippet of a FAPI app makes no DPoP proofs:\n%s", src)
	}

	dir := t.TempDir()
	for name, body := range map[string]string{"go.mod": "module snippet\n\ngo 1.22\n", "main.go": src} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, gobin, "run", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CLIENT_SECRET="+secret.ClientSecret, "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "200 OK\n") || !strings.Contains(string(out), "qs-10001") {
		t.Fatalf("go run of the snippet: %v\n%s\n%s", err, out, src)
	}
	// The call went through the gateway as the app, with a DPoP-bound
	// token: one audited sandbox call.
	waitSandboxCalls(t, h, app, "/sandbox/qingshan-rcb/open-banking/accounts/v1/accounts/qs-10001", 1)

	// The Python snippet does the same, where python3 has requests and
	// cryptography (what the snippet asks to pip install).
	calls := 1
	if py, err := exec.LookPath("python3"); err != nil || exec.Command(py, "-c", "import requests, cryptography").Run() != nil {
		t.Log("no python3 with requests and cryptography on this machine: the Python snippet is not run")
	} else {
		code = regexp.MustCompile(`(?s)<code id="snippet-python">(.*?)</code>`).FindStringSubmatch(page)
		if code == nil {
			t.Fatal("no Python snippet on the try-it page")
		}
		src = html.UnescapeString(code[1])
		if err := os.WriteFile(filepath.Join(dir, "call.py"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd = exec.CommandContext(ctx, py, "call.py")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CLIENT_SECRET="+secret.ClientSecret)
		out, err = cmd.CombinedOutput()
		if err != nil || !strings.HasPrefix(string(out), "200\n") || !strings.Contains(string(out), "qs-10001") {
			t.Fatalf("python3 call.py: %v\n%s\n%s", err, out, src)
		}
		calls++
		waitSandboxCalls(t, h, app, "/sandbox/qingshan-rcb/open-banking/accounts/v1/accounts/qs-10001", calls)
	}

	// The Java snippet does the same (java runs a single source file).
	java, err := exec.LookPath("java")
	if err != nil {
		t.Log("no java command on this machine: the Java snippet is not run")
		return
	}
	code = regexp.MustCompile(`(?s)<code id="snippet-java">(.*?)</code>`).FindStringSubmatch(page)
	if code == nil {
		t.Fatal("no Java snippet on the try-it page")
	}
	src = html.UnescapeString(code[1])
	if err := os.WriteFile(filepath.Join(dir, "Call.java"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd = exec.CommandContext(ctx, java, "Call.java")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CLIENT_SECRET="+secret.ClientSecret)
	out, err = cmd.CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "200\n") || !strings.Contains(string(out), "qs-10001") {
		t.Fatalf("java Call.java: %v\n%s\n%s", err, out, src)
	}
	waitSandboxCalls(t, h, app, "/sandbox/qingshan-rcb/open-banking/accounts/v1/accounts/qs-10001", calls+1)
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
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on this machine")
	}
	m := runMain(t, withDemo())
	h := newHub(t, m, testAdminToken)
	u := newPortalUser(t, m)
	app := onboard(t, m, h, u, "Green Valley Fintech", "li@greenvalley.example")
	const redirect = "http://127.0.0.1:9/callback" // never reached: the test reads the Location
	h.adminCall(t, "PATCH", "/apps/"+app, map[string]any{"fapi": true, "dpop_bound_access_tokens": true,
		"grant_types": []string{"client_credentials", "authorization_code"}, "redirect_uris": []string{redirect}}, http.StatusOK, nil)
	var secret struct {
		ClientSecret string `json:"client_secret"`
	}
	h.adminCall(t, "POST", "/apps/"+app+"/secret", nil, http.StatusOK, &secret)

	try := "/portal/apis/qingshan-accounts/try"
	const listAccounts = "op-get--accounts"
	st, page := u.post(try+"?op="+listAccounts, try, url.Values{"op": {listAccounts}, "app": {app}, "customer": {"zhangsan"}})
	if st != http.StatusOK {
		t.Fatalf("try-it page: %d\n%.2000s", st, page)
	}
	snippet := func(id string) string {
		code := regexp.MustCompile(`(?s)<code id="snippet-` + id + `">(.*?)</code>`).FindStringSubmatch(page)
		if code == nil {
			t.Fatalf("no %s snippet on the try-it page", id)
		}
		return html.UnescapeString(code[1])
	}
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := append(os.Environ(), "CLIENT_SECRET="+secret.ClientSecret, "REDIRECT_URI="+redirect, "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local")
	calls := 1 // the try-it form's own call
	run := func(name string, args ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Dir, cmd.Env = dir, env
		out := playCustomer(t, h, cmd, redirect)
		if !strings.Contains(out, "200") || !strings.Contains(out, "qs-10001") {
			t.Fatalf("the %s consent snippet:\n%s", name, out)
		}
		// zhangsan's accounts only: the call was made as the customer.
		if strings.Contains(out, "qs-10003") {
			t.Errorf("the %s snippet's call listed another customer's account:\n%s", name, out)
		}
		calls++
		waitSandboxCalls(t, h, app, "/sandbox/qingshan-rcb/open-banking/accounts/v1/accounts", calls)
	}

	src := snippet("go")
	if !strings.Contains(src, "dpopDo") || !strings.Contains(src, "code_verifier") {
		t.Fatalf("not the DPoP consent snippet:\n%s", src)
	}
	write("go.mod", "module snippet\n\ngo 1.22\n")
	write("main.go", src)
	run("Go", gobin, "run", ".")
	if py, err := exec.LookPath("python3"); err != nil || exec.Command(py, "-c", "import requests, cryptography").Run() != nil {
		t.Log("no python3 with requests and cryptography on this machine: the Python snippet is not run")
	} else {
		write("call.py", snippet("python"))
		run("Python", py, "call.py")
	}
	if java, err := exec.LookPath("java"); err != nil {
		t.Log("no java command on this machine: the Java snippet is not run")
	} else {
		write("Call.java", snippet("java"))
		run("Java", java, "Call.java")
	}
}

// playCustomer runs a consent snippet: it waits for the URL the snippet
// prints to open ("Open: …"), signs in at the sandbox as the demo customer
// zhangsan and allows, pastes the redirect URL into the snippet, and
// returns all it printed once it has ended.
func playCustomer(t *testing.T, h *hub, cmd *exec.Cmd, redirect string) string {
	t.Helper()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
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
		if rest, ok := strings.CutPrefix(sc.Text(), "Open: "); ok {
			authURL = strings.TrimSpace(rest)
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
	if _, err := io.WriteString(stdin, loc+"\n"); err != nil {
		t.Fatal(err)
	}
	stdin.Close()
	if err := <-done; err != nil {
		t.Fatalf("the snippet: %v\n%s", err, out.String())
	}
	return out.String()
}
