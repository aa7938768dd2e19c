package console

import "testing"

// Every text of the onboarding details is in both languages.
func TestProfileMessagesTranslated(t *testing.T) {
	for _, pair := range [][2]lang{{langEN, langZH}, {langZH, langEN}} {
		for k := range profileMessages[pair[0]] {
			if profileMessages[pair[1]][k] == "" {
				t.Errorf("%q has no %s text", k, pair[1])
			}
		}
	}
}
