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

// Every text of the Mail page, every verb of a change and every text of
// the actions' refusals, outcomes and confirmations is in both
// languages.
func TestMailMessagesTranslated(t *testing.T) {
	for _, msgs := range []map[lang]map[string]string{mailMessages, verbMessages, actionMessages} {
		for _, pair := range [][2]lang{{langEN, langZH}, {langZH, langEN}} {
			for k := range msgs[pair[0]] {
				if msgs[pair[1]][k] == "" {
					t.Errorf("%q has no %s text", k, pair[1])
				}
			}
		}
	}
}
