package partners_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/partners"
)

func TestCheckCreditCode(t *testing.T) {
	for _, code := range []string{"91350100M000100Y43", "91110000802100433B"} {
		if msg := partners.CheckCreditCode(code); msg != "" {
			t.Errorf("%s: %s, want valid", code, msg)
		}
	}
	for code, want := range map[string]string{
		"91350100M000100Y44":  partners.CreditCodeWrongCheck,
		"91110000802100433C":  partners.CreditCodeWrongCheck,
		"91350100M000100Y4":   "must be 18 characters",
		"91350100M000100Y433": "must be 18 characters",
		"91350100M000100O43":  "may hold only",
		"91350100m000100Y43":  "may hold only",
		"913501A0M000100Y43":  "characters 3 to 8 must be digits",
	} {
		if msg := partners.CheckCreditCode(code); !strings.HasPrefix(msg, want) {
			t.Errorf("%s: %q, want %q", code, msg, want)
		}
	}
}

func TestMaskPhone(t *testing.T) {
	for in, want := range map[string]string{
		"13812345678":       "138****5678",
		"138 1234 5678":     "138 **** 5678",
		"+86 138 1234 5678": "+86 138 **** 5678",
		"0571-8888123":      "057*-***8123",
		"":                  "",
	} {
		if got := partners.MaskPhone(in); got != want {
			t.Errorf("MaskPhone(%q) = %q, want %q", in, got, want)
		}
	}
}

// A profile in the logs shows no phone number and no contact name.
func TestProfileLogValue(t *testing.T) {
	var b bytes.Buffer
	log := slog.New(slog.NewTextHandler(&b, nil))
	log.Info("saved", "profile", partners.Profile{LegalName: "Acme", ContactName: "李明", ContactPhone: "13812345678"})
	if s := b.String(); strings.Contains(s, "13812345678") || strings.Contains(s, "李明") || !strings.Contains(s, "138****5678") {
		t.Errorf("log line: %s", s)
	}
}

func TestProfileValidate(t *testing.T) {
	p := partners.Partner{ID: "acme", Name: "Acme", Kind: partners.KindFintech, Profile: &partners.Profile{
		CreditCode: "91350100M000100Y44", ContactPhone: "x", Website: "ftp://acme.example", LegalName: "a\x00b",
	}}
	err := p.Validate()
	if err == nil {
		t.Fatal("invalid profile accepted")
	}
	got := map[string]bool{}
	for _, d := range obhub.ErrorDetails(err) {
		got[d.Location] = true
	}
	for _, loc := range []string{"/profile/creditCode", "/profile/contactPhone", "/profile/website", "/profile/legalName"} {
		if !got[loc] {
			t.Errorf("no problem at %s: %v", loc, obhub.ErrorDetails(err))
		}
	}
}
