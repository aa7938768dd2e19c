package portal

import (
	"strings"
	"testing"
)

// Descriptions show their Markdown as Swagger UI does for the subset the
// banks use, and nothing a document holds becomes markup beyond it.
func TestMarkdown(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"`booked` 账面余额; `available` 可用余额", "<p><code>booked</code> 账面余额; <code>available</code> 可用余额</p>"},
		{"one\nline\n\nsecond", "<p>one line</p><p>second</p>"},
		{"- a `x`\n- **b**", "<ul><li>a <code>x</code></li><li><strong>b</strong></li></ul>"},
		{"see [the guide](https://bank.example/a?b=1&c=2)", `<p>see <a href="https://bank.example/a?b=1&amp;c=2" rel="nofollow noopener">the guide</a></p>`},
		{"<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"},
		{"`<img src=x onerror=alert(1)>`", "<p><code>&lt;img src=x onerror=alert(1)&gt;</code></p>"},
		{"[x](javascript:alert(1))", "<p>[x](javascript:alert(1))</p>"},
		{`[x](https://a.example/"onmouseover="alert(1))`, "<p>[x](https://a.example/&#34;onmouseover=&#34;alert(1))</p>"},
		{"an odd ` backtick", "<p>an odd ` backtick</p>"},
	} {
		if got := string(markdown(tt.in)); got != tt.want {
			t.Errorf("markdown(%q)\n got %s\nwant %s", tt.in, got, tt.want)
		}
	}
	if got := string(inline("`dateTime` <b>")); got != "<code>dateTime</code> &lt;b&gt;" {
		t.Errorf("inline: %s", got)
	}
}

// FuzzMarkdown: whatever a description holds, the only tags in the
// output are the subset's, and every link is http(s).
func FuzzMarkdown(f *testing.F) {
	f.Add("`a` **b** [c](https://d.example) <e>")
	f.Fuzz(func(t *testing.T, s string) {
		out := string(markdown(s))
		for i := strings.IndexByte(out, '<'); i >= 0; i = strings.IndexByte(out, '<') {
			tag := out[i:]
			ok := false
			for _, allowed := range []string{"<p>", "</p>", "<ul>", "</ul>", "<li>", "</li>", "<code>", "</code>", "<strong>", "</strong>", `<a href="http`, "</a>"} {
				if strings.HasPrefix(tag, allowed) {
					ok = true
				}
			}
			if !ok {
				t.Fatalf("markdown(%q) holds %.30q", s, tag)
			}
			out = out[i+1:]
		}
	})
}
