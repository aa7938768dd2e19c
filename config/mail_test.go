package config_test

import (
	"io"
	"strings"
	"testing"

	"github.com/obhub/obhub/config"
)

func TestMailSettings(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	const from = "obhub <noreply@alliance.example>"
	for _, tt := range []struct {
		name     string
		args     []string
		env      map[string]string
		url      string
		password string
		bad      string
	}{
		{name: "off by default"},
		{name: "flags and the password from the environment",
			args: []string{"--smtp-url", "smtp://obhub@mail.example:587", "--mail-from", from},
			env:  map[string]string{"OBHUB_SMTP_PASSWORD": "pw"}, url: "smtp://obhub@mail.example:587", password: "pw"},
		{name: "environment", env: map[string]string{"OBHUB_SMTP_URL": "smtps://mail.example", "OBHUB_MAIL_FROM": from},
			url: "smtps://mail.example"},
		{name: "no sender", args: []string{"--smtp-url", "smtp://mail.example"}, bad: "--mail-from"},
		{name: "password in the URL", args: []string{"--smtp-url", "smtp://u:hunter2@mail.example", "--mail-from", from},
			bad: "OBHUB_SMTP_PASSWORD"},
		{name: "not a URL", args: []string{"--smtp-url", "mail.example", "--mail-from", from}, bad: "--smtp-url"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := config.ParseServe(tt.args, env(tt.env), io.Discard)
			if tt.bad != "" {
				if err == nil || !strings.Contains(err.Error(), tt.bad) || strings.Contains(err.Error(), "hunter2") {
					t.Fatalf("err = %v, want one naming %s and no password", err, tt.bad)
				}
				return
			}
			if err != nil || s.SMTPURL != tt.url || s.SMTPPassword != tt.password {
				t.Fatalf("SMTPURL %q, password %q, %v; want %q, %q", s.SMTPURL, s.SMTPPassword, err, tt.url, tt.password)
			}
		})
	}
}
