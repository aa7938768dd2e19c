package portal

import (
	"strings"
	"testing"
)

// checkBilingual fails unless every text of the table is in both
// languages with the same placeholders.
func checkBilingual(t *testing.T, name string, table map[lang]map[string]string) {
	t.Helper()
	for _, pair := range [][2]lang{{langEN, langZH}, {langZH, langEN}} {
		for key, s := range table[pair[0]] {
			other, ok := table[pair[1]][key]
			if !ok {
				t.Errorf("%s: %q has no %s text", name, key, pair[1])
				continue
			}
			if strings.Count(s, "%s") != strings.Count(other, "%s") {
				t.Errorf("%s: %q: %q and %q differ in placeholders", name, key, s, other)
			}
		}
	}
}

// Every text of the organisation and account pages, and of the
// registration and credentials pages, is in both languages. (The try-it
// table uses indexed verbs, %[2]d, which this count does not follow.)
func TestProfileMessagesBilingual(t *testing.T) {
	checkBilingual(t, "profileMessages", profileMessages)
	checkBilingual(t, "regMessages", regMessages)
	checkBilingual(t, "credMessages", credMessages)
	checkBilingual(t, "appMessages", appMessages)
}
