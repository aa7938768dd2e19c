package portal

import (
	"strings"
	"testing"
)

// Every text of accounts, teams and mails is in both languages, with the
// same placeholders.
func TestAccountMessagesBilingual(t *testing.T) {
	for _, pair := range [][2]lang{{langEN, langZH}, {langZH, langEN}} {
		for key, s := range accountMessages[pair[0]] {
			other, ok := accountMessages[pair[1]][key]
			if !ok {
				t.Errorf("%q has no %s text", key, pair[1])
				continue
			}
			if strings.Count(s, "%s") != strings.Count(other, "%s") {
				t.Errorf("%q: %q and %q differ in placeholders", key, s, other)
			}
		}
	}
}
