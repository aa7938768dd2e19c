package portal

import (
	"flag"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// hostile holds what a document's example or a developer's input could
// put in a snippet: quotes of every language, a shell substitution,
// newlines and non-ASCII text.
const hostile = `it's "quoted" $(touch /tmp/pwned) \ back` + "\nline 2 青山 🌾"

func snippetCase(t *testing.T) (snippetInput, map[string]string) {
	t.Helper()
	op := &refOperation{
		Method: "POST", Path: "/accounts/{accountId}/notes", BodyType: "application/json",
		Parameters: []refParam{
			{Name: "accountId", In: "path", Required: true},
			{Name: "note", In: "query"},
			{Name: "X-Idempotency-Key", In: "header"},
			{Name: "Authorization", In: "header"}, // never sent: set by the snippet itself
		},
	}
	vals := map[string]string{
		"p.path.accountId": "qs-10001/../x", "p.query.note": hostile,
		"p.header.X-Idempotency-Key": "k-1", "p.header.Authorization": "Bearer stolen",
	}
	c, missing := buildCall("/sandbox/qingshan-rcb/open-banking/accounts/v1", op,
		func(k string) string { return vals[k] }, `{"text": `+strconv.Quote(hostile)+`}`)
	if len(missing) > 0 {
		t.Fatalf("missing %v", missing)
	}
	c.URL = "https://hub.example" + c.Path
	return snippetInput{TokenURL: "https://hub.example/oauth2/token", ClientID: "app_abc", Scope: "accounts:read notes:write", Call: c}, vals
}

func TestBuildCall(t *testing.T) {
	in, _ := snippetCase(t)
	c := in.Call
	if want := "/sandbox/qingshan-rcb/open-banking/accounts/v1/accounts/qs-10001%2F..%2Fx/notes?note="; !strings.HasPrefix(c.Path, want) {
		t.Errorf("path %q: want the path value escaped into one segment, prefix %q", c.Path, want)
	}
	if len(c.Headers) != 1 || c.Headers[0] != (header{"X-Idempotency-Key", "k-1"}) {
		t.Errorf("headers %v: want only X-Idempotency-Key (Authorization is never taken from input)", c.Headers)
	}
	op := &refOperation{Method: "GET", Path: "/a/{id}", Parameters: []refParam{{Name: "id", In: "path", Required: true}}}
	if _, missing := buildCall("", op, func(string) string { return " " }, ""); len(missing) != 1 || missing[0] != "id" {
		t.Errorf("missing %v, want [id]", missing)
	}
}

func TestSnippets(t *testing.T) {
	in, _ := snippetCase(t)
	sn, err := snippets(in)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range sn {
		got[s.ID] = s.Code
		if !strings.Contains(s.Code, "CLIENT_SECRET") {
			t.Errorf("%s: the secret is not read from CLIENT_SECRET", s.ID)
		}
		if strings.Contains(s.Code, "Bearer stolen") {
			t.Errorf("%s: an Authorization header parameter was copied in", s.ID)
		}
	}
	if len(got) != 4 {
		t.Fatalf("languages %v", got)
	}

	t.Run("go parses and builds", func(t *testing.T) {
		checkGoSnippet(t, got["go"])
		for _, want := range []string{`"POST"`, `os.Getenv("CLIENT_SECRET")`, `"https://hub.example/oauth2/token"`, `"X-Idempotency-Key"`} {
			if !strings.Contains(got["go"], want) {
				t.Errorf("Go snippet lacks %s", want)
			}
		}
	})

	t.Run("curl runs with the exact URL, method and headers", func(t *testing.T) {
		sh, err := exec.LookPath("sh")
		if err != nil {
			t.Skip("no sh")
		}
		// curl and sed replaced by functions that print their arguments:
		// the shell parses the snippet for real, and nothing in the
		// values is executed.
		pwned := t.TempDir() + "/pwned"
		in := in
		in.Call.Body = strings.ReplaceAll(in.Call.Body, "/tmp/pwned", pwned)
		sn, err := snippets(in)
		if err != nil {
			t.Fatal(err)
		}
		script := `curl() { for a in "$@"; do printf '<%s>\n' "$a"; done; }; sed() { cat; }; CLIENT_SECRET=s3cret; ` + sn[0].Code + `
printf 'TOKEN=<%s>\n' "$TOKEN"`
		out, err := exec.Command(sh, "-c", script).CombinedOutput()
		if err != nil {
			t.Fatalf("sh: %v\n%s", err, out)
		}
		for _, want := range []string{
			"<-X>\n<POST>\n<" + in.Call.URL + ">",
			"<Authorization: Bearer <-s>\n<-u>\n<app_abc:s3cret>", // $TOKEN holds the printed token request
			"<X-Idempotency-Key: k-1>",
			"<Content-Type: application/json>",
			"<--data-binary>\n<" + in.Call.Body + ">",
			"<scope=accounts:read notes:write>\n<https://hub.example/oauth2/token>",
		} {
			if !strings.Contains(string(out), want) {
				t.Errorf("curl snippet: arguments lack %q:\n%s", want, out)
			}
		}
		if _, err := os.Stat(pwned); err == nil {
			t.Error("a value in the curl snippet was executed by the shell")
		}
	})

	t.Run("python parses", func(t *testing.T) {
		checkPythonSnippet(t, got["python"])
	})

	t.Run("java literals", func(t *testing.T) {
		j := got["java"]
		if strings.Count(j, "{") != strings.Count(j, "}") || strings.Count(j, "(") != strings.Count(j, ")") {
			t.Errorf("unbalanced Java snippet:\n%s", j)
		}
		if !strings.Contains(j, javaQuote(in.Call.URL)) || !strings.Contains(j, `.method("POST"`) {
			t.Errorf("Java snippet lacks the call:\n%s", j)
		}
		if strings.ContainsAny(javaQuote(hostile), "\n青🌾") {
			t.Errorf("javaQuote left raw characters: %s", javaQuote(hostile))
		}
		checkJavaSnippet(t, j)
	})
}

// checkGoSnippet parses the Go snippet and, where go exists, vets it in
// a scratch module.
func checkGoSnippet(t *testing.T, code string) {
	t.Helper()
	if _, err := parser.ParseFile(token.NewFileSet(), "call.go", code, parser.AllErrors); err != nil {
		t.Fatalf("the Go snippet is not valid Go: %v\n%s", err, code)
	}
	// What a developer pastes is formatted as gofmt would.
	if formatted, err := format.Source([]byte(code)); err == nil && string(formatted) != code {
		t.Errorf("the Go snippet is not gofmt-formatted:\n%s", code)
	}
	// Parsing misses unused or doubled imports: compile it too.
	if gobin, err := exec.LookPath("go"); err == nil {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module snippet\n\ngo 1.22\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(code), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(gobin, "vet", ".")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go vet of the Go snippet: %v\n%s\n%s", err, out, code)
		}
	}
}

// checkShellSnippet has sh parse the curl snippet, where sh exists.
func checkShellSnippet(t *testing.T, code string) {
	t.Helper()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh on this machine")
	}
	if out, err := exec.Command(sh, "-n", "-c", code).CombinedOutput(); err != nil {
		t.Fatalf("sh -n: %v\n%s\n%s", err, out, code)
	}
}

// checkPythonSnippet parses the Python snippet where python3 exists.
func checkPythonSnippet(t *testing.T, code string) {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3 on this machine")
	}
	cmd := exec.Command(py, "-c", "import ast,sys; ast.parse(sys.stdin.read())")
	cmd.Stdin = strings.NewReader(code)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the Python snippet does not parse: %v\n%s\n%s", err, out, code)
	}
}

// checkJavaSnippet compiles the Java snippet where javac exists.
func checkJavaSnippet(t *testing.T, code string) {
	t.Helper()
	if javac, err := exec.LookPath("javac"); err == nil {
		dir := t.TempDir()
		if err := os.WriteFile(dir+"/Call.java", []byte(code), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(javac, "-d", dir, dir+"/Call.java").CombinedOutput(); err != nil {
			t.Fatalf("javac: %v\n%s", err, out)
		}
	}
}

// TestSnippetsConsent: for a call made as a customer, every language
// gets the token by the authorization code flow with PKCE (PAR,
// authorize URL, code exchange), never by client credentials.
func TestSnippetsConsent(t *testing.T) {
	in, _ := snippetCase(t)
	in.Consent = true
	in.PARURL, in.AuthorizeURL = "https://hub.example/oauth2/par", "https://hub.example/oauth2/authorize"
	sn, err := snippets(in)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range sn {
		got[s.ID] = s.Code
		for _, want := range []string{"CLIENT_SECRET", "REDIRECT_URI", "https://hub.example/oauth2/par",
			"https://hub.example/oauth2/authorize", "code_challenge", "S256", "state", "authorization_code",
			"code_verifier", "request_uri", "docs/oauth.md"} {
			if !strings.Contains(s.Code, want) {
				t.Errorf("%s: consent snippet lacks %q:\n%s", s.ID, want, s.Code)
			}
		}
		if strings.Contains(s.Code, "client_credentials") {
			t.Errorf("%s: consent snippet asks for a client_credentials token", s.ID)
		}
		if strings.Contains(s.Code, "Bearer stolen") {
			t.Errorf("%s: an Authorization header parameter was copied in", s.ID)
		}
	}
	if len(got) != 4 {
		t.Fatalf("languages %v", got)
	}
	t.Run("go", func(t *testing.T) { checkGoSnippet(t, got["go"]) })
	t.Run("python", func(t *testing.T) { checkPythonSnippet(t, got["python"]) })
	t.Run("java", func(t *testing.T) { checkJavaSnippet(t, got["java"]) })

	t.Run("curl runs the flow in order", func(t *testing.T) {
		sh, err := exec.LookPath("sh")
		if err != nil {
			t.Skip("no sh")
		}
		// curl, sed and openssl replaced by functions: the shell parses
		// the snippet for real, and nothing in the values is executed.
		pwned := t.TempDir() + "/pwned"
		in := in
		in.Call.Body = strings.ReplaceAll(in.Call.Body, "/tmp/pwned", pwned)
		in.Scope = "accounts:read $(touch " + pwned + ")"
		sn, err := snippets(in)
		if err != nil {
			t.Fatal(err)
		}
		script := `curl() { for a in "$@"; do printf '<%s>\n' "$a"; done; }; sed() { cat; }; openssl() { if [ "$1" != rand ]; then cat >/dev/null; fi; printf 'abc+/='; }; ` +
			`CLIENT_SECRET=s3cret; REDIRECT_URI=https://app.example/cb; ` + sn[0].Code
		cmd := exec.Command(sh, "-c", script)
		cmd.Stdin = strings.NewReader("the-code\n")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("sh: %v\n%s", err, out)
		}
		for _, want := range []string{
			"https://hub.example/oauth2/authorize?client_id=app_abc&request_uri=<-s>\n<-u>\n<app_abc:s3cret>\n<-d>\n<response_type=code>",
			"<redirect_uri=https://app.example/cb>",
			"<scope=accounts:read $(touch " + pwned + ")>",
			"<code_challenge=abc-_>", "<code_challenge_method=S256>",
			"<https://hub.example/oauth2/par>",
			"<grant_type=authorization_code>\n<--data-urlencode>\n<code=the-code>",
			"<code_verifier=abc-_>\n<https://hub.example/oauth2/token>",
			"<-X>\n<POST>\n<" + in.Call.URL + ">",
			"<--data-binary>\n<" + in.Call.Body + ">",
		} {
			if !strings.Contains(string(out), want) {
				t.Errorf("curl snippet: output lacks %q:\n%s", want, out)
			}
		}
		if _, err := os.Stat(pwned); err == nil {
			t.Error("a value in the curl snippet was executed by the shell")
		}
	})

	t.Run("curl stops when PAR fails", func(t *testing.T) {
		sh, err := exec.LookPath("sh")
		if err != nil {
			t.Skip("no sh")
		}
		// The real sed; the hub refuses the pushed request, as it does
		// for an app without the authorization_code grant.
		script := `curl() { printf '{"error":"unauthorized_client","error_description":"The client is not allowed to request authorization_code."}'; }; ` +
			`openssl() { if [ "$1" != rand ]; then cat >/dev/null; fi; printf 'abc+/='; }; ` +
			`CLIENT_SECRET=s3cret; REDIRECT_URI=https://app.example/cb; ` + got["curl"]
		cmd := exec.Command(sh, "-c", script)
		cmd.Stdin = strings.NewReader("the-code\n")
		out, _ := cmd.CombinedOutput()
		if !strings.Contains(string(out), `pushed authorization request failed: {"error":"unauthorized_client"`) {
			t.Errorf("no clear message:\n%s", out)
		}
		if strings.Contains(string(out), "oauth2/authorize") || strings.Contains(string(out), "code: ") {
			t.Errorf("the snippet went on after PAR failed (an authorize URL or the code prompt):\n%s", out)
		}
	})
}

var updateSnippets = flag.Bool("update", false, "rewrite testdata/snippets/*.golden")

// TestSnippetsAppGolden pins the client-credentials snippets: an
// operation the app calls as itself keeps exactly these.
func TestSnippetsAppGolden(t *testing.T) {
	in, _ := snippetCase(t)
	sn, err := snippets(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sn {
		golden := filepath.Join("testdata", "snippets", "app-"+s.ID+".golden")
		if *updateSnippets {
			if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(golden, []byte(s.Code), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if s.Code != string(want) {
			t.Errorf("%s snippet differs from %s:\n%s", s.ID, golden, s.Code)
		}
	}
}

// TestSnippetsDPoP: for an app whose tokens are DPoP-bound, every
// snippet (client credentials and consent) makes a key and sends a proof
// with every request; an app without DPoP gets no DPoP code at all.
// (cmd/obhub's TestPortalDPoPSnippetRuns runs them against a real node.)
func TestSnippetsDPoP(t *testing.T) {
	// What each language that makes proofs must show, how it writes a
	// Bearer header (which it must not), and the check that it compiles.
	makers := map[string]struct {
		want   []string
		bearer string
		check  func(*testing.T, string)
	}{
		"go": {[]string{`dpopDo(req, "")`, "dpopDo(req, tok.AccessToken)", `"DPoP "+token`, `"dpop+jwt"`, "use_dpop_nonce", `claims["ath"]`},
			`"Bearer "+`, checkGoSnippet},
		"python": {[]string{"dpop_request(", `"DPoP " + token`, "dpop+jwt", "use_dpop_nonce", "pip install requests cryptography", `claims["ath"]`},
			`"Bearer " +`, checkPythonSnippet},
		"java": {[]string{"send(call, token)", `"DPoP " + token`, "dpop+jwt", "SHA256withECDSAinP1363Format", "use_dpop_nonce", "ath"},
			`"Bearer " +`, checkJavaSnippet},
		"curl": {[]string{"dpop_curl POST", `"$TOKEN" -i`, `"Authorization: DPoP $t"`, "dpop+jwt", "openssl ecparam", "use_dpop_nonce", "ath"},
			"Bearer $TOKEN", checkShellSnippet},
	}
	for _, consent := range []bool{false, true} {
		in, _ := snippetCase(t)
		in.Consent, in.DPoP = consent, true
		in.PARURL, in.AuthorizeURL = "https://hub.example/oauth2/par", "https://hub.example/oauth2/authorize"
		sn, err := snippets(in)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range sn {
			mk, ok := makers[s.ID]
			if !ok {
				t.Fatalf("no DPoP check for the %s snippet", s.ID)
			}
			for _, want := range mk.want {
				if !strings.Contains(s.Code, want) {
					t.Errorf("consent %v: the %s snippet lacks %s", consent, s.ID, want)
				}
			}
			if strings.Contains(s.Code, mk.bearer) {
				t.Errorf("consent %v: the %s snippet sends its DPoP-bound token as Bearer", consent, s.ID)
			}
			mk.check(t, s.Code)
		}
		in.DPoP = false
		sn, err = snippets(in)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range sn {
			if strings.Contains(s.Code, "dpopProof") || strings.Contains(s.Code, "tokens are DPoP-bound") {
				t.Errorf("consent %v: the %s snippet of an app without DPoP has DPoP code", consent, s.ID)
			}
		}
	}
}
