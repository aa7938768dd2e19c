package portal

import (
	"regexp"
	"strings"
	"testing"
)

// TestChineseTerms: the Chinese texts use one term each — 电子邮件地址
// (not 电子邮箱), 重定向 URI (not 回调地址), 客户端 ID — and a full-width
// colon after Chinese text.
func TestChineseTerms(t *testing.T) {
	asciiColon := regexp.MustCompile(`\p{Han}[:;,]`)
	for key, s := range allMessages[langZH] {
		for _, bad := range []string{"电子邮箱", "回调地址", "客户端ID", "Client ID"} {
			if strings.Contains(s, bad) {
				t.Errorf("%s: %q uses %q", key, s, bad)
			}
		}
		if asciiColon.MatchString(s) {
			t.Errorf("%s: %q has a half-width colon, semicolon or comma after Chinese text", key, s)
		}
	}
}
