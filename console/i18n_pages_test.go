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
