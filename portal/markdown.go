package portal

import (
	"html"
	"html/template"
	"regexp"
	"strings"
)

// The descriptions of an OpenAPI document are CommonMark, which Swagger UI
// renders (and sanitises). The server-rendered reference shows the small
// subset the banks' descriptions use, safely: everything is escaped
// first, and only these become markup — paragraphs (blank lines), lists
// ("- " or "* " lines), `inline code`, **strong** and links to http(s)
// addresses. Anything else (raw HTML, images, other link schemes) shows
// as the text it is.

var (
	strongRE = regexp.MustCompile(`\*\*([^*]+)\*\*`)
	// linkRE runs on escaped text: the address may hold &amp; but never a
	// quote or an angle bracket, which escaping turned into entities.
	linkRE = regexp.MustCompile(`\[([^\]]+)\]\((https?://[^\s()]+)\)`)
)

// markdown renders a description as blocks: paragraphs and lists.
func markdown(s string) template.HTML {
	var b strings.Builder
	for _, block := range strings.Split(strings.ReplaceAll(strings.TrimSpace(s), "\r\n", "\n"), "\n\n") {
		lines := strings.Split(strings.TrimSpace(block), "\n")
		if lines[0] == "" {
			continue
		}
		if isList(lines) {
			b.WriteString("<ul>")
			for _, l := range lines {
				b.WriteString("<li>" + string(inline(strings.TrimSpace(l)[2:])) + "</li>")
			}
			b.WriteString("</ul>")
			continue
		}
		for i := range lines {
			lines[i] = strings.TrimSpace(lines[i])
		}
		b.WriteString("<p>" + string(inline(strings.Join(lines, " "))) + "</p>")
	}
	return template.HTML(b.String())
}

func isList(lines []string) bool {
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "- ") && !strings.HasPrefix(l, "* ") {
			return false
		}
	}
	return true
}

// inline renders one line of a description: code spans, strong text and
// links; everything else escaped.
func inline(s string) template.HTML {
	var b strings.Builder
	for i, part := range strings.Split(s, "`") {
		switch {
		case i%2 == 1 && i < strings.Count(s, "`"): // between a pair of backticks
			b.WriteString("<code>" + html.EscapeString(part) + "</code>")
		case i%2 == 1: // an unpaired backtick shows itself
			b.WriteString("`" + text(part))
		default:
			b.WriteString(text(part))
		}
	}
	return template.HTML(b.String())
}

// text escapes s and turns its **strong** and [links](https://…) into
// markup.
func text(s string) string {
	e := html.EscapeString(s)
	e = strongRE.ReplaceAllString(e, "<strong>$1</strong>")
	return linkRE.ReplaceAllString(e, `<a href="$2" rel="nofollow noopener">$1</a>`)
}
