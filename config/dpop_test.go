package config_test

import (
	"io"
	"strings"
	"testing"

	"github.com/obhub/obhub/config"
)

func TestDPoPNonceSetting(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
		want string
		bad  bool
	}{
		{"default", nil, nil, "", false},
		{"flag", []string{"--dpop-nonce", "all"}, nil, "all", false},
		{"env", nil, map[string]string{"OBHUB_DPOP_NONCE": "off"}, "off", false},
		{"flag wins over env", []string{"--dpop-nonce", "fapi"}, map[string]string{"OBHUB_DPOP_NONCE": "off"}, "fapi", false},
		{"unknown", []string{"--dpop-nonce", "sometimes"}, nil, "", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := config.ParseServe(tt.args, env(tt.env), io.Discard)
			if tt.bad {
				if err == nil || !strings.Contains(err.Error(), "--dpop-nonce") {
					t.Fatalf("err = %v, want one naming --dpop-nonce", err)
				}
				return
			}
			if err != nil || s.DPoPNonce != tt.want {
				t.Fatalf("DPoPNonce = %q, %v; want %q", s.DPoPNonce, err, tt.want)
			}
		})
	}
}
