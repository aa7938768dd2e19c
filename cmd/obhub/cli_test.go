package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// runCLI runs one obhub command line in process and returns its exit
// status and output.
func runCLI(t testing.TB, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	code = run(ctx, args, &out, &errb, mapEnv(env))
	return code, out.String(), errb.String()
}

func TestCLI(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		wantCode   int // -1: any non-zero status
		wantStdout string
		wantStderr string
	}{
		{name: "version", args: []string{"version"}, wantCode: 0, wantStdout: "obhub "},
		{name: "--version", args: []string{"--version"}, wantCode: 0, wantStdout: "obhub "},
		{name: "help", args: []string{"help"}, wantCode: 0, wantStdout: "obhub serve"},
		{name: "no command", args: nil, wantCode: 2, wantStderr: "Usage:"},
		{name: "unknown command", args: []string{"frobnicate"}, wantCode: 2, wantStderr: `unknown command "frobnicate"`},
		{name: "serve -h", args: []string{"serve", "-h"}, wantCode: 0, wantStderr: "-listen"},
		{name: "serve with a bad listen address", args: []string{"serve", "--listen", "bad"}, wantCode: -1,
			wantStderr: `--listen "bad": want host:port`},
		{name: "serve with a bad listen address from the environment", args: []string{"serve"},
			env: map[string]string{"OBHUB_LISTEN": "nope"}, wantCode: -1, wantStderr: `--listen "nope"`},
		{name: "serve with a bad size", args: []string{"serve", "--max-body", "lots"}, wantCode: -1, wantStderr: "max-body"},
		{name: "serve with a stray argument", args: []string{"serve", "extra"}, wantCode: -1, wantStderr: `unexpected argument "extra"`},
		{name: "serve on etcd without a key-encryption key", args: []string{"serve", "--listen", "127.0.0.1:0", "--admin-listen", "localhost:0", "--etcd", "http://127.0.0.1:2379"},
			wantCode: -1, wantStderr: "OBHUB_KEY_ENCRYPTION_KEY"},
		{name: "serve on etcd with a short key-encryption key", args: []string{"serve", "--listen", "127.0.0.1:0", "--admin-listen", "localhost:0", "--etcd", "http://127.0.0.1:2379"},
			env: map[string]string{"OBHUB_KEY_ENCRYPTION_KEY": "c2hvcnQ="}, wantCode: -1, wantStderr: "want 32"},
		{name: "serve with RS256 in the config file", args: []string{"serve", "--config", filepath.Join("testdata", "node-rs256.yaml")},
			wantCode: -1, wantStderr: "--signing-alg"},
		{name: "serve with two bad settings reports both", args: []string{"serve", "--listen", "127.0.0.1:0", "--admin-listen", "localhost:0", "--signing-alg", "HS256"},
			env: map[string]string{"OBHUB_MAX_BODY": "abc"}, wantCode: -1, wantStderr: "OBHUB_MAX_BODY: invalid size"},
		{name: "serve with two bad settings reports both (the algorithm)", args: []string{"serve", "--listen", "127.0.0.1:0", "--admin-listen", "localhost:0", "--signing-alg", "HS256"},
			env: map[string]string{"OBHUB_MAX_BODY": "abc"}, wantCode: -1, wantStderr: `--signing-alg: signing algorithm "HS256"`},
		{name: "apply without a file", args: []string{"apply"}, env: map[string]string{"OBHUB_ADMIN_TOKEN": "x"}, wantCode: -1, wantStderr: "-f"},
		{name: "apply without a token", args: []string{"apply", "-f", filepath.Join("testdata", "alliance.yaml")}, wantCode: -1, wantStderr: "OBHUB_ADMIN_TOKEN"},
		{name: "apply a missing file", args: []string{"apply", "-f", filepath.Join("testdata", "missing.yaml")},
			env: map[string]string{"OBHUB_ADMIN_TOKEN": "x"}, wantCode: -1, wantStderr: "missing.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Nothing here may leave a data folder behind.
			data := filepath.Join(t.TempDir(), "data")
			env := map[string]string{"OBHUB_DATA": data}
			for k, v := range tt.env {
				env[k] = v
			}
			code, stdout, stderr := runCLI(t, env, tt.args...)
			switch {
			case tt.wantCode == -1 && code == 0, tt.wantCode != -1 && code != tt.wantCode:
				t.Errorf("exit status %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, stdout, stderr)
			}
			if !strings.Contains(stdout, tt.wantStdout) {
				t.Errorf("stdout lacks %q:\n%s", tt.wantStdout, stdout)
			}
			if !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.wantStderr, stderr)
			}
			if tt.wantCode != 0 {
				if _, err := os.Stat(data); err == nil {
					t.Errorf("a failed command created the data folder %s", data)
				}
			}
		})
	}
}

// Every command and subcommand answers -h, -help and --help with its
// usage and exit status 0, and does nothing else (a help flag is never
// taken for an argument, such as the key id of keys withdraw).
func TestCLIHelp(t *testing.T) {
	commands := [][]string{
		{"serve"}, {"apply"}, {"version"},
		{"keys"}, {"keys", "rotate"}, {"keys", "withdraw"}, {"keys", "withdraw", "some-kid"}, {"keys", "list"},
		{"audit"}, {"audit", "verify"}, {"audit", "export"}, {"audit", "report"},
		{"cluster"}, {"cluster", "import"},
	}
	for _, cmd := range commands {
		for _, h := range []string{"-h", "-help", "--help"} {
			args := append(append([]string(nil), cmd...), h)
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				data := filepath.Join(t.TempDir(), "data")
				code, stdout, stderr := runCLI(t, map[string]string{"OBHUB_DATA": data}, args...)
				if code != 0 || !strings.Contains(strings.ToLower(stdout+stderr), "usage") {
					t.Errorf("exit status %d, want 0 and a usage\nstdout: %s\nstderr: %s", code, stdout, stderr)
				}
				if _, err := os.Stat(data); err == nil {
					t.Errorf("asking for help created the data folder %s", data)
				}
			})
		}
	}
}

// TestApply applies testdata/alliance.yaml to a running node through its
// admin listener, twice: the second time changes nothing.
func TestApply(t *testing.T) {
	m := runMain(t)
	h := newHub(t, m, testAdminToken)
	file := filepath.Join("testdata", "alliance.yaml")
	env := map[string]string{"OBHUB_ADMIN_TOKEN": testAdminToken, "OBHUB_ADMIN_URL": m.AdminURL}

	code, stdout, stderr := runCLI(t, env, "apply", "-f", file)
	if code != 0 {
		t.Fatalf("first apply: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`bank\s+hill-rcb\s+created`),
		regexp.MustCompile(`partner\s+tiller\s+created`),
		regexp.MustCompile(`partner\s+tiller\s+approved`),
		regexp.MustCompile(`api\s+hill-farm\s+created`),
		regexp.MustCompile(`api\s+hill-farm\s+published`),
		regexp.MustCompile(`product\s+hill-open\s+created`),
		regexp.MustCompile(`app\s+tiller/tiller-web\s+created\s+client_id=\S+ client_secret=\S+`),
		regexp.MustCompile(`subscription\s+tiller/tiller-web/hill-open\s+created \(active\)`),
	} {
		if !want.MatchString(stdout) {
			t.Errorf("the first apply's report lacks %s:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "nothing to change") {
		t.Error("the first apply says nothing changed")
	}

	// What apply made is in the node.
	var api struct {
		Status     string `json:"status"`
		BasePath   string `json:"basePath"`
		Operations int    `json:"operations"`
	}
	h.adminCall(t, "GET", "/apis/hill-farm", nil, http.StatusOK, &api)
	if api.Status != "published" || api.BasePath != farmBase || api.Operations != 4 {
		t.Errorf("API after apply: %+v", api)
	}
	var apps listing
	h.adminCall(t, "GET", "/partners/tiller/apps", nil, http.StatusOK, &apps)
	if len(apps.Items) != 1 {
		t.Fatalf("apps after apply: %v", apps.Items)
	}

	code, stdout, stderr = runCLI(t, env, "apply", "-f", file)
	if code != 0 {
		t.Fatalf("second apply: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "nothing to change") {
		t.Errorf("the second apply does not say nothing changed:\n%s", stdout)
	}
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		if line != "nothing to change" && !strings.Contains(line, "unchanged") {
			t.Errorf("the second apply changed something: %q", line)
		}
		if strings.Contains(line, "client_secret") {
			t.Errorf("the second apply shows a secret: %q", line)
		}
	}
	h.adminCall(t, "GET", "/partners/tiller/apps", nil, http.StatusOK, &apps)
	if len(apps.Items) != 1 {
		t.Errorf("apps after the second apply: %v", apps.Items)
	}

	t.Run("a wrong token is refused clearly", func(t *testing.T) {
		bad := map[string]string{"OBHUB_ADMIN_TOKEN": "oba_wrong", "OBHUB_ADMIN_URL": m.AdminURL}
		code, _, stderr := runCLI(t, bad, "apply", "-f", file)
		if code == 0 || !strings.Contains(stderr, "401") {
			t.Errorf("apply with a wrong token: exit %d, stderr:\n%s", code, stderr)
		}
	})
	t.Run("--admin-url wins over OBHUB_ADMIN_URL", func(t *testing.T) {
		env := map[string]string{"OBHUB_ADMIN_TOKEN": testAdminToken, "OBHUB_ADMIN_URL": closedPort(t)}
		code, stdout, stderr := runCLI(t, env, "apply", "--admin-url", m.AdminURL+"/", "-f", file)
		if code != 0 || !strings.Contains(stdout, "nothing to change") {
			t.Errorf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
		}
	})
	t.Run("an unreachable node is reported", func(t *testing.T) {
		env := map[string]string{"OBHUB_ADMIN_TOKEN": testAdminToken, "OBHUB_ADMIN_URL": closedPort(t)}
		code, _, stderr := runCLI(t, env, "apply", "-f", file)
		if code == 0 || !strings.Contains(stderr, "alliance.yaml") {
			t.Errorf("exit %d, stderr:\n%s", code, stderr)
		}
	})
}

// Every flag of obhub serve, and the variable its help names, is in the
// settings table of docs/configuration.md.
func TestServeFlagsDocumented(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, _, help := runCLI(t, nil, "serve", "-h")
	flagLine := regexp.MustCompile(`(?m)^  -([a-z0-9-]+)`)
	envName := regexp.MustCompile(`env (OBHUB_[A-Z0-9_]+)`)
	blocks := flagLine.FindAllStringSubmatchIndex(help, -1)
	if len(blocks) < 30 {
		t.Fatalf("serve -h lists %d flags:\n%s", len(blocks), help)
	}
	for i, b := range blocks {
		end := len(help)
		if i+1 < len(blocks) {
			end = blocks[i+1][0]
		}
		name, text := help[b[2]:b[3]], help[b[0]:end]
		row := regexp.MustCompile("(?m)^\\|[^\\n]*`--" + regexp.QuoteMeta(name) + "`[^\\n]*$").Find(doc)
		if row == nil {
			t.Errorf("--%s is not in the settings table", name)
			continue
		}
		if m := envName.FindStringSubmatch(text); m != nil && !bytes.Contains(row, []byte("`"+m[1]+"`")) {
			t.Errorf("the row of --%s lacks %s: %s", name, m[1], row)
		}
	}
}
