package dpop_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/obhub/obhub/internal/dpop"
	"github.com/obhub/obhub/internal/dpop/dpoptest"
)

func TestNonces(t *testing.T) {
	secret := bytes.Repeat([]byte{7}, 32)
	const period = time.Minute
	node1, err := dpop.NewNonces(secret, dpop.PurposeHub, period)
	if err != nil {
		t.Fatal(err)
	}
	// Another node with the same secret: no state shared but the secret.
	node2, _ := dpop.NewNonces(bytes.Clone(secret), dpop.PurposeHub, period)
	stranger, _ := dpop.NewNonces(bytes.Repeat([]byte{8}, 32), dpop.PurposeHub, period)
	other, _ := dpop.NewNonces(secret, "another purpose", period)

	t0 := time.Date(2026, 11, 27, 10, 0, 30, 0, time.UTC)
	n := node1.Issue(t0)
	if len(n) != 22 || strings.ContainsAny(n, "+/=") {
		t.Fatalf("nonce %q is not 22 base64url characters", n)
	}
	cases := []struct {
		name  string
		by    *dpop.Nonces
		nonce string
		at    time.Time
		want  bool
	}{
		{"same node, same bucket", node1, n, t0, true},
		{"other node with the same secret", node2, n, t0.Add(10 * time.Second), true},
		{"next bucket", node2, n, t0.Add(period), true},
		{"two buckets later (stale)", node1, n, t0.Add(2 * period), false},
		{"from the future", node1, node1.Issue(t0.Add(2 * period)), t0, false},
		{"other secret (forged)", stranger, n, t0, false},
		{"other purpose", other, n, t0, false},
		{"empty", node1, "", t0, false},
		{"not base64url", node1, "!!!!!!!!!!!!!!!!!!!!!!", t0, false},
		{"truncated", node1, n[:20], t0, false},
		{"one character changed", node1, flip(n), t0, false},
		{"huge", node1, strings.Repeat("A", 10000), t0, false},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.by.Valid(tt.nonce, tt.at); got != tt.want {
				t.Errorf("Valid = %v, want %v", got, tt.want)
			}
		})
	}
	if node1.Issue(t0) != node2.Issue(t0.Add(time.Second)) {
		t.Error("two nodes with one secret issue different nonces in one bucket")
	}
	if node1.Issue(t0) == node1.Issue(t0.Add(period)) {
		t.Error("the nonce does not change with the bucket")
	}
}

func TestNewNoncesRefusesWeakSettings(t *testing.T) {
	if _, err := dpop.NewNonces(make([]byte, 31), dpop.PurposeHub, 0); err == nil {
		t.Error("a 31-byte secret was accepted")
	}
	if _, err := dpop.NewNonces(make([]byte, 32), "", 0); err == nil {
		t.Error("no purpose was accepted")
	}
	if _, err := dpop.NewNonces(make([]byte, 32), dpop.PurposeHub, time.Millisecond); err == nil {
		t.Error("a 1 ms period was accepted")
	}
}

func TestVerifyReturnsNonce(t *testing.T) {
	k := dpoptest.NewKey(t)
	p, err := dpop.Verify(k.Proof(t, "POST", url, "", func(c jwt.MapClaims, _ map[string]any) { c["nonce"] = "abc" }),
		dpop.Want{Method: "POST", URL: url, Now: time.Now()})
	if err != nil || p.Nonce != "abc" {
		t.Fatalf("proof with a nonce: %+v, %v", p, err)
	}
	if p, _ := dpop.Verify(k.Proof(t, "POST", url, ""), dpop.Want{Method: "POST", URL: url, Now: time.Now()}); p.Nonce != "" {
		t.Errorf("proof without a nonce reports %q", p.Nonce)
	}
}

// flip changes the nonce's first character.
func flip(s string) string {
	c := byte('A')
	if s[0] == 'A' {
		c = 'B'
	}
	return string(c) + s[1:]
}

// FuzzNonceValid: no input panics, and none but the two nonces of the
// current and previous period is accepted.
func FuzzNonceValid(f *testing.F) {
	n, _ := dpop.NewNonces(bytes.Repeat([]byte{9}, 32), dpop.PurposeHub, time.Minute)
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	good, prev := n.Issue(now), n.Issue(now.Add(-time.Minute))
	for _, s := range []string{good, "", "AAAA", strings.Repeat("=", 30), good + "A"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n.Valid(s, now) != (s == good || s == prev) {
			t.Fatalf("Valid(%q) = %v", s, !(s == good || s == prev))
		}
	})
}
