package portal

import (
	"regexp"
	"strings"
	"testing"

	"github.com/obhub/obhub/internal/websession"
)

// Every text the registration token page shows, and every text of its
// table, exists in Chinese and English with the same placeholders.
func TestRegistrationPageBilingual(t *testing.T) {
	b, err := templateFiles.ReadFile("templates/registration.html")
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, m := range regexp.MustCompile(`\.L\.T "([a-z.]+)"`).FindAllStringSubmatch(string(b), -1) {
		keys[m[1]] = true
	}
	for _, l := range registrationLifetimes {
		keys[l.Key] = true
	}
	for _, s := range []string{regActive, regUsed, regExpired} {
		keys["reg.status."+s] = true
	}
	for k := range regMessages[langEN] {
		keys[k] = true
	}
	for key := range keys {
		en, okEN := texts{}.Text(websession.LangEN, key)
		zh, okZH := texts{}.Text(websession.LangZH, key)
		if !okEN || !okZH {
			t.Errorf("%q: English %v, Chinese %v", key, okEN, okZH)
			continue
		}
		for _, verb := range []string{"%s", "%d"} {
			if strings.Count(en, verb) != strings.Count(zh, verb) {
				t.Errorf("%q: %q and %q differ in placeholders", key, en, zh)
			}
		}
	}
}
