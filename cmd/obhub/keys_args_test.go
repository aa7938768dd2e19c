package main

import (
	"flag"
	"slices"
	"testing"
)

// TestKeyIDArg: the key id of `obhub keys withdraw` is found wherever it
// stands among the flags, also when it begins with '-' as a base64url
// thumbprint may (a CI run met one: "flag provided but not defined").
func TestKeyIDArg(t *testing.T) {
	fs := flag.NewFlagSet("keys withdraw", flag.ContinueOnError)
	fs.String("data", "", "")
	fs.String("alg", "", "")
	fs.Bool("rp", false, "")
	for _, c := range []struct {
		args []string
		kid  string
		rest []string
	}{
		{[]string{"abc", "--data", "d"}, "abc", []string{"--data", "d"}},
		{[]string{"--data", "d", "abc"}, "abc", []string{"--data", "d"}},
		{[]string{"-iAV0M2-xdk4", "--rp", "--data", "d"}, "-iAV0M2-xdk4", []string{"--rp", "--data", "d"}},
		{[]string{"--rp", "--data=d", "-iAV0M2"}, "-iAV0M2", []string{"--rp", "--data=d"}},
		{[]string{"--data", "-d-", "--", "-x"}, "-x", []string{"--data", "-d-", "--"}},
		{[]string{"--rp"}, "", []string{"--rp"}},
		{[]string{"a", "b"}, "a", []string{"b"}},
	} {
		kid, rest := keyIDArg(fs, c.args)
		if kid != c.kid || !slices.Equal(rest, c.rest) {
			t.Errorf("%q: key id %q, rest %q; want %q, %q", c.args, kid, rest, c.kid, c.rest)
		}
	}
}
