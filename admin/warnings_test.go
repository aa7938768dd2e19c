package admin_test

import (
	"strings"
	"testing"
)

// TestAPIWarnings checks that a document the import works around is
// accepted, and that the create and update answers list its warnings
// (read-only: not stored, not shown by GET).
func TestAPIWarnings(t *testing.T) {
	e := newEnv(t)
	e.call("POST", "/admin/v1/banks", map[string]any{"id": "alpha", "name": "Alpha"}).want(t, 201)
	const doc = `
openapi: 3.0.3
info: {title: Rates, version: "1"}
servers: [{url: /rates/v1}]
paths:
  /rates:
    get:
      parameters:
        - {name: code, in: query, schema: {type: string, pattern: '^(?!XX)[A-Z]{3}$'}}
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {type: integer}
              example: "not an integer"
  /rates?format=csv:
    get: {responses: {"200": {description: ok}}}
`
	warned := func(t *testing.T, r *resp) {
		t.Helper()
		var a struct {
			Operations int `json:"operations"`
			Warnings   []struct {
				Location, Message string
			} `json:"warnings"`
		}
		r.json(t, &a)
		var got []string
		for _, w := range a.Warnings {
			got = append(got, w.Location+": "+w.Message)
		}
		all := strings.Join(got, "\n")
		for _, want := range []string{
			"paths./rates.get: example does not match its schema",
			"paths./rates.get.parameters[code].schema: pattern cannot be compiled",
			"paths./rates?format=csv: contains '?' or '#'",
		} {
			if !strings.Contains(all, want) {
				t.Errorf("warnings =\n%s\nwant one starting %q", all, want)
			}
		}
		if strings.Contains(all, "not an integer") {
			t.Errorf("a warning quotes the document: %s", all)
		}
		if a.Operations != 1 {
			t.Errorf("operations = %d; want 1 (the path with '?' skipped)", a.Operations)
		}
	}
	warned(t, e.call("POST", "/admin/v1/apis", map[string]any{"id": "rates", "bank": "alpha", "spec": doc, "upstream": "https://core.alpha.example"}).want(t, 201))
	if a := e.call("GET", "/admin/v1/apis/rates", nil).want(t, 200).obj(t); a["warnings"] != nil {
		t.Errorf("GET shows warnings: %v", a["warnings"])
	}
	warned(t, e.call("PATCH", "/admin/v1/apis/rates", map[string]any{"spec": doc}).want(t, 200))
	// An update that sends no document has no warnings.
	if a := e.call("PATCH", "/admin/v1/apis/rates", map[string]any{"name": "Rates API"}).want(t, 200).obj(t); a["warnings"] != nil {
		t.Errorf("an update without a document shows warnings: %v", a["warnings"])
	}
}
