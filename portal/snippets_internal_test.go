package portal

import (
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
		if _, err := parser.ParseFile(token.NewFileSet(), "call.go", got["go"], parser.AllErrors); err != nil {
			t.Fatalf("the Go snippet is not valid Go: %v\n%s", err, got["go"])
		}
		// Parsing misses unused or doubled imports: compile it too.
		if gobin, err := exec.LookPath("go"); err == nil {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module snippet\n\ngo 1.22\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(got["go"]), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(gobin, "vet", ".")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("go vet of the Go snippet: %v\n%s\n%s", err, out, got["go"])
			}
		}
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
		py, err := exec.LookPath("python3")
		if err != nil {
			t.Skip("no python3 on this machine")
		}
		cmd := exec.Command(py, "-c", "import ast,sys; ast.parse(sys.stdin.read())")
		cmd.Stdin = strings.NewReader(got["python"])
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("the Python snippet does not parse: %v\n%s\n%s", err, out, got["python"])
		}
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
		if javac, err := exec.LookPath("javac"); err == nil {
			dir := t.TempDir()
			if err := os.WriteFile(dir+"/Call.java", []byte(j), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(javac, "-d", dir, dir+"/Call.java").CombinedOutput(); err != nil {
				t.Fatalf("javac: %v\n%s", err, out)
			}
		}
	})
}
