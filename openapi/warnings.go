package openapi

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/obhub/obhub"
)

// Warnings.
//
// Import has two levels of findings. Errors mean the document cannot be
// served as written (not OpenAPI, unreadable, no paths, a broken or
// external $ref, a duplicate operationId, a malformed path template…):
// the import fails. Warnings are problems real documents often have that
// the hub can work around; the import succeeds and Document.Warnings
// lists them, each with a location and a message that names no value of
// the document:
//
//   - an example or default that does not match its schema (the sandbox
//     still answers with the example as written), or an Example Object
//     without a value;
//   - a pattern Go's regular expressions (RE2) cannot compile, such as
//     ECMAScript look-ahead: it is kept in the stored document but not
//     enforced by request validation nor used to generate data;
//   - a path key the router cannot use — with '?' or '#' (a query string
//     or fragment written into the path), two parameters side by side, or
//     the same requests as an earlier path (in sorted order) but for the
//     parameter names: its operations are skipped, left out of the
//     imported document;
//   - an empty operationId (the operation is then named "METHOD path");
//   - a problem in a server other than the first (only the first gives
//     the base path);
//   - fields beside a $ref, or unknown fields in a schema, which are
//     ignored.

// skipPath records that the path key p is left out of the document.
func (c *checker) skipPath(loc, p, why string) {
	c.skip[p] = true
	c.warn(loc, "%s: its operations are skipped", why)
}

// dropSkipped removes the skipped path keys from the document tree, and
// warns when no path is left.
func (c *checker) dropSkipped() {
	if len(c.skip) == 0 {
		return
	}
	paths, _ := c.root["paths"].(map[string]any)
	for p := range c.skip {
		delete(paths, p)
	}
	for k := range paths {
		if !strings.HasPrefix(k, "x-") {
			return
		}
	}
	c.warn("paths", "has no path left that the router can use: every call to this API is answered 404 Not Found")
}

// isWarning reports whether a kin-openapi finding is a warning, and gives
// its message then.
func isWarning(err error) (string, bool) {
	var pe *openapi3.SchemaPatternRegexError
	if errors.As(err, &pe) {
		return uncompilable(pe.Cause), true
	}
	var sve *openapi3.SchemaValueError
	if errors.As(err, &sve) {
		return "", true // message() words it
	}
	var ev *openapi3.ExampleValueOrExternalValueRequired
	if errors.As(err, &ev) {
		return "", true
	}
	var sib *openapi3.ExtraSiblingFieldsError
	if errors.As(err, &sib) {
		return fmt.Sprintf("has fields that are not allowed here (%s): they are ignored", strings.Join(sib.Fields, ", ")), true
	}
	return "", false
}

// uncompilable words the warning for a pattern RE2 cannot compile,
// without the pattern itself.
func uncompilable(err error) string {
	why := ""
	var se *syntax.Error
	if errors.As(err, &se) {
		why = " (" + string(se.Code) + ")"
	}
	return "pattern cannot be compiled by Go's regular expressions (RE2)" + why +
		": it is not enforced by request validation nor used to generate data"
}

// goPattern rewrites ECMAScript \uXXXX escapes as kin-openapi does before
// compiling a pattern.
var goPattern = regexp.MustCompile(`\\u([0-9A-F]{4})`)

// patternCompiles reports whether kin-openapi can compile the pattern.
func patternCompiles(p string) bool {
	_, err := regexp.Compile(goPattern.ReplaceAllString(p, `\x{$1}`))
	return err == nil
}

// dropUncompilablePatterns clears, in the model, the patterns RE2 cannot
// compile: request validation would otherwise refuse every value, and
// the generator falls back to plain text anyway. The stored JSON keeps
// them.
func dropUncompilablePatterns(t *openapi3.T) {
	_ = t.WalkSchemas(func(_ string, s *openapi3.SchemaRef) error {
		if s.Value.Pattern != "" && !patternCompiles(s.Value.Pattern) {
			s.Value.Pattern = ""
		}
		return nil
	})
}

// sortDetails sorts details by location and message and removes
// duplicates.
func sortDetails(ds []obhub.Detail) []obhub.Detail {
	if len(ds) == 0 {
		return nil
	}
	return compactDetails(ds)
}
