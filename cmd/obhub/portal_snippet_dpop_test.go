package main

import (
	"context"
	"html"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestPortalDPoPSnippetRuns: the Go and Java snippets the try-it page
// shows for an app held to FAPI (DPoP-bound tokens, server nonces
// required) run as a developer would run them — go run, java Call.java,
// with CLIENT_SECRET set — against a real node: each gets a DPoP-bound
// token (answering the token endpoint's use_dpop_nonce), calls the
// sandbox with a proof, and prints the answer.
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
	waitSandboxCalls(t, h, app, "/sandbox/qingshan-rcb/open-banking/accounts/v1/accounts/qs-10001", 2)
}
