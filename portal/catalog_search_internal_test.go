package portal

import (
	"strings"
	"testing"

	"github.com/obhub/obhub/catalog"
)

// Every text of the catalog search is in both languages with the same
// placeholders, and every category has a name in both.
func TestCatalogMessagesBilingual(t *testing.T) {
	for _, pair := range [][2]lang{{langEN, langZH}, {langZH, langEN}} {
		for key, s := range catalogMessages[pair[0]] {
			other, ok := catalogMessages[pair[1]][key]
			if !ok {
				t.Errorf("%q has no %s text", key, pair[1])
				continue
			}
			if strings.Count(s, "%d") != strings.Count(other, "%d") {
				t.Errorf("%q: %q and %q differ in placeholders", key, s, other)
			}
		}
	}
	for _, c := range catalog.Categories {
		for _, l := range []lang{langEN, langZH} {
			if _, ok := catalogMessages[l]["cat."+string(c)]; !ok {
				t.Errorf("category %q has no %s name", c, l)
			}
		}
	}
}
