package portal

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"unicode/utf8"
)

// Getting-started snippets: for one app and one operation, the token
// request (client credentials, the secret read from the environment
// variable CLIENT_SECRET, never a real one) and the call, in curl, Go,
// Java and Python. They are generated on the server with text/template
// from the same call the try-it console sends, and every value is quoted
// for its language by a function of this file (sh, goStr, javaStr,
// pyStr), never pasted raw.

// snippetInput is what a snippet shows.
type snippetInput struct {
	TokenURL string
	ClientID string
	Scope    string // space-separated
	Call     call
}

// snippet is one language's code, ready for a <pre>.
type snippet struct {
	ID, Lang, Code string
}

// snippetLangs are the languages, in the order they are shown.
var snippetLangs = []struct{ ID, Lang string }{
	{"curl", "curl"}, {"go", "Go"}, {"java", "Java"}, {"python", "Python"},
}

var snippetTemplates = template.Must(template.New("snippets").Funcs(template.FuncMap{
	"sh":      shQuote,
	"goStr":   strconv.Quote,
	"javaStr": javaQuote,
	"pyStr":   pyQuote,
	"lower":   strings.ToLower,
}).Parse(`
{{define "curl"}}# 1. An access token (client credentials). Set CLIENT_SECRET first;
#    the secret was shown once, when the app was created.
TOKEN=$(curl -s -u {{sh .ClientID}}:"$CLIENT_SECRET" \
  -d grant_type=client_credentials -d scope={{sh .Scope}} \
  {{sh .TokenURL}} | sed -E 's/.*"access_token":"([^"]+)".*/\1/')

# 2. The call.
curl -i -X {{.Call.Method}} {{sh .Call.URL}} \
  -H "Authorization: Bearer $TOKEN"{{range .Call.Headers}} \
  -H {{sh (print .Name ": " .Value)}}{{end}}{{if .Call.Body}} \
  -H {{sh (print "Content-Type: " .Call.BodyType)}} \
  --data-binary {{sh .Call.Body}}{{end}}
{{end}}

{{define "go"}}// Command call gets an access token and calls the API once.
// Set CLIENT_SECRET first: the secret was shown once, when the app was
// created.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"strings"
)

func main() {
	// 1. An access token (client credentials).
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {{"{"}}{{goStr .Scope}}{{"}"}}}
	req, err := http.NewRequest("POST", {{goStr .TokenURL}}, strings.NewReader(form.Encode()))
	if err != nil {
		log.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth({{goStr .ClientID}}, os.Getenv("CLIENT_SECRET"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	var tok struct {
		AccessToken string ` + "`json:\"access_token\"`" + `
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil || tok.AccessToken == "" {
		log.Fatalf("token request failed: %s (%v)", resp.Status, err)
	}

	// 2. The call.
	var body io.Reader{{if .Call.Body}}
	body = strings.NewReader({{goStr .Call.Body}}){{end}}
	req, err = http.NewRequest({{goStr .Call.Method}}, {{goStr .Call.URL}}, body)
	if err != nil {
		log.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken){{range .Call.Headers}}
	req.Header.Set({{goStr .Name}}, {{goStr .Value}}){{end}}{{if .Call.Body}}
	req.Header.Set("Content-Type", {{goStr .Call.BodyType}}){{end}}
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.Status)
	fmt.Println(string(out))
}
{{end}}

{{define "java"}}// Call.java: gets an access token and calls the API once (Java 11+).
// Set CLIENT_SECRET first: the secret was shown once, when the app was
// created.
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

public class Call {
    public static void main(String[] args) throws Exception {
        HttpClient http = HttpClient.newHttpClient();

        // 1. An access token (client credentials).
        String basic = Base64.getEncoder().encodeToString(
            ({{javaStr .ClientID}} + ":" + System.getenv("CLIENT_SECRET")).getBytes(StandardCharsets.UTF_8));
        String form = "grant_type=client_credentials&scope="
            + URLEncoder.encode({{javaStr .Scope}}, StandardCharsets.UTF_8);
        HttpRequest tokenRequest = HttpRequest.newBuilder(URI.create({{javaStr .TokenURL}}))
            .header("Authorization", "Basic " + basic)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .POST(HttpRequest.BodyPublishers.ofString(form))
            .build();
        String tokenJson = http.send(tokenRequest, HttpResponse.BodyHandlers.ofString()).body();
        Matcher m = Pattern.compile("\"access_token\"\\s*:\\s*\"([^\"]+)\"").matcher(tokenJson);
        if (!m.find()) {
            throw new IllegalStateException("token request failed: " + tokenJson);
        }
        String token = m.group(1);

        // 2. The call.
        HttpRequest call = HttpRequest.newBuilder(URI.create({{javaStr .Call.URL}}))
            .header("Authorization", "Bearer " + token){{range .Call.Headers}}
            .header({{javaStr .Name}}, {{javaStr .Value}}){{end}}{{if .Call.Body}}
            .header("Content-Type", {{javaStr .Call.BodyType}})
            .method({{javaStr .Call.Method}}, HttpRequest.BodyPublishers.ofString({{javaStr .Call.Body}})){{else}}
            .method({{javaStr .Call.Method}}, HttpRequest.BodyPublishers.noBody()){{end}}
            .build();
        HttpResponse<String> response = http.send(call, HttpResponse.BodyHandlers.ofString());
        System.out.println(response.statusCode());
        System.out.println(response.body());
    }
}
{{end}}

{{define "python"}}# call.py: gets an access token and calls the API once.
# pip install requests; set CLIENT_SECRET first: the secret was shown
# once, when the app was created.
import os

import requests

# 1. An access token (client credentials).
token = requests.post(
    {{pyStr .TokenURL}},
    auth=({{pyStr .ClientID}}, os.environ["CLIENT_SECRET"]),
    data={"grant_type": "client_credentials", "scope": {{pyStr .Scope}}},
    timeout=30,
)
token.raise_for_status()
access_token = token.json()["access_token"]

# 2. The call.
headers = {"Authorization": "Bearer " + access_token}{{range .Call.Headers}}
headers[{{pyStr .Name}}] = {{pyStr .Value}}{{end}}{{if .Call.Body}}
headers["Content-Type"] = {{pyStr .Call.BodyType}}{{end}}
response = requests.request(
    {{pyStr .Call.Method}},
    {{pyStr .Call.URL}},
    headers=headers,{{if .Call.Body}}
    data={{pyStr .Call.Body}}.encode("utf-8"),{{end}}
    timeout=30,
)
print(response.status_code)
print(response.text)
{{end}}
`))

// snippets renders every language's snippet.
func snippets(in snippetInput) ([]snippet, error) {
	out := make([]snippet, 0, len(snippetLangs))
	for _, l := range snippetLangs {
		var b strings.Builder
		if err := snippetTemplates.ExecuteTemplate(&b, l.ID, in); err != nil {
			return nil, fmt.Errorf("snippet %s: %w", l.ID, err)
		}
		out = append(out, snippet{ID: l.ID, Lang: l.Lang, Code: strings.TrimLeft(b.String(), "\n")})
	}
	return out, nil
}

// shQuote quotes s for a POSIX shell: one single-quoted word.
func shQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// javaQuote quotes s as a Java string literal, with \uXXXX for anything
// outside printable ASCII so the file compiles whatever its encoding.
func javaQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		default:
			if r == utf8.RuneError {
				r = '\uFFFD'
			}
			for _, u := range utf16Units(r) {
				fmt.Fprintf(&b, `\u%04x`, u)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// utf16Units returns the UTF-16 code units of r.
func utf16Units(r rune) []uint16 {
	if r < 0x10000 {
		return []uint16{uint16(r)}
	}
	r -= 0x10000
	return []uint16{uint16(0xD800 + (r >> 10)), uint16(0xDC00 + (r & 0x3FF))}
}

// pyQuote quotes s as a Python 3 string literal. Go's quoting uses only
// escapes that Python reads the same way (\a \b \f \n \r \t \v \\ \"
// \xHH \uHHHH \UHHHHHHHH); printable characters stay as they are.
func pyQuote(s string) string {
	return strconv.Quote(s)
}

// header is one request header of a call.
type header struct{ Name, Value string }

// call is one HTTP request to the gateway's sandbox route.
type call struct {
	Method   string
	URL      string // absolute for snippets, or a path for the browser
	Path     string // path and query, for the server-side call
	Headers  []header
	BodyType string
	Body     string
}

// forbiddenHeaders are set by the console itself or by the browser; a
// document's header parameter with one of these names is not sent.
var forbiddenHeaders = map[string]bool{
	"Authorization": true, "Host": true, "Cookie": true, "Content-Length": true, "Content-Type": true,
	"Transfer-Encoding": true, "Connection": true, "Dpop": true,
}

// buildCall makes the sandbox call of op from form values (keyed by
// paramKey), or reports the required fields that are empty.
func buildCall(base string, op *refOperation, value func(key string) string, body string) (call, []string) {
	c := call{Method: op.Method}
	var missing []string
	path := op.Path
	q := make([]string, 0, len(op.Parameters))
	for _, p := range op.Parameters {
		v := strings.TrimSpace(value(paramKey(p)))
		if v == "" {
			if p.Required && (p.In == "path" || p.In == "query" || p.In == "header") {
				missing = append(missing, p.Name)
			}
			continue
		}
		switch p.In {
		case "path":
			// Escaped, so a value cannot leave the operation's path
			// ("../", "?", "#" stay inside one segment).
			path = strings.ReplaceAll(path, "{"+p.Name+"}", url.PathEscape(v))
		case "query":
			q = append(q, url.QueryEscape(p.Name)+"="+url.QueryEscape(v))
		case "header":
			name := http.CanonicalHeaderKey(p.Name)
			if !forbiddenHeaders[name] && validHeader(name, v) {
				c.Headers = append(c.Headers, header{Name: name, Value: v})
			}
		}
	}
	sort.SliceStable(c.Headers, func(i, j int) bool { return c.Headers[i].Name < c.Headers[j].Name })
	c.Path = base + path
	if len(q) > 0 {
		c.Path += "?" + strings.Join(q, "&")
	}
	if strings.TrimSpace(body) != "" && op.Method != http.MethodGet && op.Method != http.MethodHead {
		c.Body = body
		c.BodyType = op.BodyType
		if c.BodyType == "" {
			c.BodyType = "application/json"
		}
	}
	return c, missing
}

// paramKey is a parameter's form field name.
func paramKey(p refParam) string { return "p." + p.In + "." + p.Name }

// validHeader reports whether a header name and value may be sent as is.
func validHeader(name, value string) bool {
	if name == "" || len(value) > 1024 {
		return false
	}
	for _, r := range name {
		if !(r == '-' || r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z') {
			return false
		}
	}
	return !strings.ContainsAny(value, "\r\n\x00")
}
