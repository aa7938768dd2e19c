package audit

import (
	"strings"
	"testing"
)

func TestRedactQuery(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"page=2&size=20", "page=2&size=20"},
		{"code=SplxlOBeZQQYbYS6WxSbIA&state=af0ifjsldkj", "code=[redacted]&state=af0ifjsldkj"},
		{"state=xyz&code=abc&iss=https%3A%2F%2Fbank", "state=xyz&code=[redacted]&iss=https%3A%2F%2Fbank"},
		{"access_token=eyJhbGciOi.x.y", "access_token=[redacted]"},
		{"a=1&ACCESS_TOKEN=t&b=2&client_secret=s3cr3t", "a=1&ACCESS_TOKEN=[redacted]&b=2&client_secret=[redacted]"},
		{"code=", "code="},                   // nothing to hide
		{"countrycode=86", "countrycode=86"}, // a name is compared whole
		{"&&code=x&", "&&code=[redacted]&"},
	} {
		if got := RedactQuery(c.in); got != c.want {
			t.Errorf("RedactQuery(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// A credential in the query never reaches the ledger: the writer redacts
// before it masks and chains.
func TestWriterRedactsCredentialsInQueries(t *testing.T) {
	r := Record{Query: "code=4/0AX4XfWh-secret&state=s1&phone=13812345678"}
	maskRecord(&r)
	if strings.Contains(r.Query, "secret") || strings.Contains(r.Query, "13812345678") {
		t.Fatalf("query stored as %q", r.Query)
	}
	if r.Query != "code=[redacted]&state=s1&phone=138****5678" {
		t.Errorf("query = %q", r.Query)
	}
}

func FuzzRedactQuery(f *testing.F) {
	f.Add("code=abc&state=x")
	f.Add("a=b&&access_token=t")
	f.Fuzz(func(t *testing.T, q string) {
		got := RedactQuery(q)
		if strings.Count(got, "&") != strings.Count(q, "&") {
			t.Fatalf("RedactQuery(%q) = %q changed the parameters", q, got)
		}
		for pair := range strings.SplitSeq(got, "&") {
			if name, value, ok := strings.Cut(pair, "="); ok && value != "" && isCredentialParam(name) && value != redactedValue {
				t.Fatalf("RedactQuery(%q) = %q kept a credential", q, got)
			}
		}
	})
}
