package console

import "testing"

// Every text of the later pages is in both languages.
func TestPageMessagesTranslated(t *testing.T) {
	for k := range pageMessages[langEN] {
		if pageMessages[langZH][k] == "" {
			t.Errorf("%q has no Chinese text", k)
		}
	}
	for k := range pageMessages[langZH] {
		if pageMessages[langEN][k] == "" {
			t.Errorf("%q has no English text", k)
		}
	}
}

// Every text of the Mail page is in both languages.
func TestMailMessagesTranslated(t *testing.T) {
	for _, pair := range [][2]lang{{langEN, langZH}, {langZH, langEN}} {
		for k := range mailMessages[pair[0]] {
			if mailMessages[pair[1]][k] == "" {
				t.Errorf("%q has no %s text", k, pair[1])
			}
		}
	}
}
