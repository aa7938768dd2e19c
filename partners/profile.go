package partners

import (
	"log/slog"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/obhub/obhub"
)

// Profile is what a partner organisation tells the alliance about itself
// so that an operator can decide its onboarding request: who it legally
// is, whom to call, and what it means to build. Its owners edit it in the
// developer portal; operators read it on the console's approval page.
type Profile struct {
	// LegalName is the registered name on the business licence
	// (营业执照上的名称).
	LegalName string `json:"legalName,omitempty"`
	// CreditCode is the unified social credit code (统一社会信用代码,
	// GB 32100-2015): 18 characters, the last a check character.
	CreditCode   string `json:"creditCode,omitempty"`
	ContactName  string `json:"contactName,omitempty"`
	ContactPhone string `json:"contactPhone,omitempty"`
	// Website is an http(s) URL.
	Website string `json:"website,omitempty"`
	// Purpose says briefly what the partner intends to use the APIs for.
	Purpose   string    `json:"purpose,omitempty"`
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
}

// Profile field limits, in characters.
const (
	MaxProfileName    = 100
	MaxProfileWebsite = 200
	MaxProfilePurpose = 1000
)

// Complete reports whether every field an approver needs is filled in.
func (p *Profile) Complete() bool {
	return p != nil && p.LegalName != "" && p.CreditCode != "" && p.ContactName != "" &&
		p.ContactPhone != "" && p.Purpose != ""
}

// Normalize trims the fields and upper-cases the credit code, as they are
// stored.
func (p *Profile) Normalize() {
	p.LegalName = strings.TrimSpace(p.LegalName)
	p.CreditCode = strings.ToUpper(strings.TrimSpace(p.CreditCode))
	p.ContactName = strings.TrimSpace(p.ContactName)
	p.ContactPhone = strings.TrimSpace(p.ContactPhone)
	p.Website = strings.TrimSpace(p.Website)
	p.Purpose = strings.TrimSpace(strings.ReplaceAll(p.Purpose, "\r\n", "\n"))
}

// Validate checks a profile; locations are under /profile. Empty fields
// are allowed (a profile is filled in over time); Complete says whether
// it is ready for a decision.
func (p *Profile) Validate() []obhub.Detail {
	var ds []obhub.Detail
	text := func(loc, s string, max int, multiline bool) {
		if utf8.RuneCountInString(s) > max {
			ds = append(ds, obhub.Detail{Location: loc, Message: "is too long"})
			return
		}
		for _, r := range s {
			if unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\t')) {
				ds = append(ds, obhub.Detail{Location: loc, Message: "must not contain control characters"})
				return
			}
		}
	}
	text("/profile/legalName", p.LegalName, MaxProfileName, false)
	text("/profile/contactName", p.ContactName, MaxProfileName, false)
	text("/profile/purpose", p.Purpose, MaxProfilePurpose, true)
	if p.CreditCode != "" {
		if msg := CheckCreditCode(p.CreditCode); msg != "" {
			ds = append(ds, obhub.Detail{Location: "/profile/creditCode", Message: msg})
		}
	}
	if p.ContactPhone != "" && !validPhone(p.ContactPhone) {
		ds = append(ds, obhub.Detail{Location: "/profile/contactPhone", Message: "must be a phone number: digits, optionally with +, -, spaces and parentheses"})
	}
	if p.Website != "" {
		u, err := url.Parse(p.Website)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
			len(p.Website) > MaxProfileWebsite {
			ds = append(ds, obhub.Detail{Location: "/profile/website", Message: "must be an http or https URL"})
		}
	}
	return ds
}

// creditCodeChars are the characters of a unified social credit code in
// the order of their values (GB 32100-2015: digits and the capital
// letters without I, O, S, V and Z).
const creditCodeChars = "0123456789ABCDEFGHJKLMNPQRTUWXY"

// creditCodeWeights weigh characters 1 to 17 (3^(i-1) mod 31).
var creditCodeWeights = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

// CreditCodeWrongCheck is CheckCreditCode's answer for a code that is
// well formed but whose check character does not match: most often a
// typing mistake.
const CreditCodeWrongCheck = "has a wrong check character (the 18th); check the code on the business licence"

// CheckCreditCode checks a unified social credit code (GB 32100-2015):
// 18 characters from creditCodeChars, characters 3 to 8 an
// administrative division code (digits), and the 18th the check
// character of the first 17 (MOD 31). It returns "" when valid, else why
// not.
func CheckCreditCode(code string) string {
	if len(code) != 18 {
		return "must be 18 characters"
	}
	sum := 0
	for i := range 18 {
		v := strings.IndexByte(creditCodeChars, code[i])
		if v < 0 {
			return "may hold only digits and the capital letters A-Y without I, O, S, V and Z"
		}
		if i >= 2 && i < 8 && v > 9 {
			return "characters 3 to 8 must be digits (the administrative division code)"
		}
		if i < 17 {
			sum += v * creditCodeWeights[i]
		}
	}
	if creditCodeChars[(31-sum%31)%31] != code[17] {
		return CreditCodeWrongCheck
	}
	return ""
}

// validPhone accepts a mainland or international phone number as people
// write it: 7 to 15 digits, optionally a leading +, with spaces, '-' and
// parentheses between.
func validPhone(s string) bool {
	if len(s) > 25 {
		return false
	}
	digits := 0
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '+' && i == 0:
		case r == ' ' || r == '-' || r == '(' || r == ')':
		default:
			return false
		}
	}
	return digits >= 7 && digits <= 15
}

// MaskPhone keeps the first 3 and the last 4 digits of a phone number of
// 11 or more digits (a mobile number: 138****5678; after the country
// code 86: +86 138****5678), the last 4 of a shorter one, and replaces
// the other digits with '*'.
func MaskPhone(s string) string {
	var digits []byte
	for i := range len(s) {
		if s[i] >= '0' && s[i] <= '9' {
			digits = append(digits, s[i])
		}
	}
	n, head := len(digits), 0
	switch {
	case n == 13 && string(digits[:2]) == "86":
		head = 5 // country code 86 and the mobile number's first 3
	case n >= 11:
		head = 3
	}
	out := []byte(s)
	i := 0
	for j := range out {
		if out[j] < '0' || out[j] > '9' {
			continue
		}
		if i >= head && i < n-4 {
			out[j] = '*'
		}
		i++
	}
	return string(out)
}

// LogValue logs a profile without personal data: the contact's phone
// masked, the contact's name and the purpose left out.
func (p Profile) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("legalName", p.LegalName),
		slog.String("creditCode", p.CreditCode),
		slog.String("contactPhone", MaskPhone(p.ContactPhone)),
		slog.String("website", p.Website),
		slog.Bool("complete", p.Complete()),
	)
}
