package config_test

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/obhub/obhub/config"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestParseServePrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "node.yaml")
	if err := os.WriteFile(file, []byte("listen: ':9000'\nadminListen: '127.0.0.1:9001'\ndata: /from/file\nmaxBody: 2MiB\nupstreamTimeout: 5s\nauditFlushInterval: 2ms\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want func(config.Static) string // "" when fine, else what is wrong
	}{
		{"defaults", nil, nil, func(s config.Static) string {
			if s.Listen != ":8080" || s.AdminListen != "127.0.0.1:8081" || s.Data != "./obhub-data" || s.MaxBody != 1<<20 || s.UpstreamTimeout != 30*time.Second {
				return "defaults differ from CONTRACT section 2"
			}
			if s.AuditMode != "written" || s.AuditFlushInterval != 5*time.Millisecond {
				return "audit defaults differ from docs/audit.md"
			}
			return ""
		}},
		{"file", []string{"--config", file}, nil, func(s config.Static) string {
			if s.Listen != ":9000" || s.Data != "/from/file" || s.MaxBody != 2<<20 || s.UpstreamTimeout != 5*time.Second || s.AuditFlushInterval != 2*time.Millisecond {
				return "file settings not applied"
			}
			return ""
		}},
		{"env beats file", []string{"--config", file}, map[string]string{"OBHUB_LISTEN": ":7000", "OBHUB_MAX_BODY": "512KiB"}, func(s config.Static) string {
			if s.Listen != ":7000" || s.MaxBody != 512<<10 || s.Data != "/from/file" {
				return "env did not win over file"
			}
			return ""
		}},
		{"flag beats env", []string{"--listen", ":6000"}, map[string]string{"OBHUB_LISTEN": ":7000"}, func(s config.Static) string {
			if s.Listen != ":6000" {
				return "flag did not win over env"
			}
			return ""
		}},
		{"admin token from env only", nil, map[string]string{"OBHUB_ADMIN_TOKEN": "t0ken"}, func(s config.Static) string {
			if s.AdminToken != "t0ken" {
				return "admin token not read from env"
			}
			return ""
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := config.ParseServe(tt.args, env(tt.env), io.Discard)
			if err != nil {
				t.Fatalf("ParseServe: %v", err)
			}
			if msg := tt.want(s); msg != "" {
				t.Fatalf("%s: %+v", msg, s)
			}
		})
	}
}

func TestParseServeRejects(t *testing.T) {
	dir := t.TempDir()
	unknown := filepath.Join(dir, "bad.yaml")
	os.WriteFile(unknown, []byte("listne: ':9000'\n"), 0o600)
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"same listeners", []string{"--listen", ":8080", "--admin-listen", ":8080"}, nil, "must differ"},
		{"bad listen", []string{"--listen", "8080"}, nil, "want host:port"},
		{"bad size", []string{"--max-body", "lots"}, nil, "invalid size"},
		{"bad env", nil, map[string]string{"OBHUB_UPSTREAM_TIMEOUT": "soon"}, "OBHUB_UPSTREAM_TIMEOUT"},
		{"bad issuer", []string{"--issuer", "ftp://x"}, nil, "--issuer"},
		{"bad audit mode", []string{"--audit-mode", "sync"}, nil, "want written, strict or async"},
		{"audit flush interval too long", nil, map[string]string{"OBHUB_AUDIT_FLUSH_INTERVAL": "10s"}, "--audit-flush-interval"},
		{"unknown file field", []string{"--config", unknown}, nil, "listne"},
		{"stray argument", []string{"extra"}, nil, "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.ParseServe(tt.args, env(tt.env), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

// Every problem is reported at once, the file's by file, line and key as
// the user wrote them.
func TestParseServeReportsEveryProblem(t *testing.T) {
	file := filepath.Join(t.TempDir(), "node.yaml")
	os.WriteFile(file, []byte("listen: ':9000'\ncolour: blue\nupstreamTimeout: soon\ndemo: perhaps\nlisten: ':9001'\n"), 0o600)
	_, err := config.ParseServe([]string{"--config", file, "--log-level", "loud"}, env(map[string]string{"OBHUB_MAX_BODY": "abc"}), io.Discard)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		file + `: line 2: unknown setting "colour"`,
		file + ": line 3: upstreamTimeout: want a duration",
		file + ": line 4: demo: want true or false",
		file + `: line 5: setting "listen" given twice`,
		"OBHUB_MAX_BODY: invalid size",
		`--log-level "loud"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "config.Static") || strings.Contains(err.Error(), "time.Duration") {
		t.Errorf("the error names Go types:\n%v", err)
	}
}

func TestByteSize(t *testing.T) {
	for in, want := range map[string]int64{"1MiB": 1 << 20, "512KiB": 512 << 10, "1MB": 1e6, "1048576": 1 << 20, "2 GiB": 2 << 30, "10B": 10} {
		var b config.ByteSize
		if err := b.Set(in); err != nil || int64(b) != want {
			t.Errorf("Set(%q) = %d, %v; want %d", in, b, err, want)
		}
	}
	if got := config.ByteSize(1 << 20).String(); got != "1MiB" {
		t.Errorf("String = %q", got)
	}
}

func TestIssuerURL(t *testing.T) {
	s := config.DefaultStatic()
	if got := s.IssuerURL("[::]:8080"); got != "http://localhost:8080" {
		t.Errorf("IssuerURL = %q", got)
	}
	s.Issuer = "https://hub.example.cn/"
	if got := s.IssuerURL("[::]:8080"); got != "https://hub.example.cn" {
		t.Errorf("IssuerURL = %q", got)
	}
}
