package openapi

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/obhub/obhub"
)

// coveredCodes are kin-openapi findings that the structural checks report
// themselves, with a precise location.
var coveredCodes = map[string]bool{
	"openapi-required":             true,
	"info-required":                true,
	"info-title-required":          true,
	"info-version-required":        true,
	"paths-required":               true,
	"path-must-start-with-slash":   true,
	"path-parameters-mismatch":     true,
	"conflicting-paths":            true,
	"duplicate-operation-id":       true,
	"operation-responses-required": true,
	"responses-required":           true,
	"server-url-required":          true,
	"server-url-template-invalid":  true,
	"default-required":             true,
	"unresolved-ref":               true,
}

// componentSections maps the bucket names of ComponentValidationError to
// the keys of the components object.
var componentSections = map[string]string{
	"schema": "schemas", "parameter": "parameters", "header": "headers",
	"request body": "requestBodies", "response": "responses",
	"security scheme": "securitySchemes", "example": "examples",
	"link": "links", "callback": "callbacks", "path item": "pathItems",
}

// validationDetails turns the (multi-)error of openapi3.T.Validate into
// details, each located by the context kin-openapi wraps around it.
// Findings that are warnings (warnings.go) come back apart.
func validationDetails(err error) (errs, warns []obhub.Detail) {
	if err == nil {
		return nil, nil
	}
	var leaves []error
	var flatten func(error)
	flatten = func(e error) {
		if me, ok := e.(openapi3.MultiError); ok {
			for _, sub := range me {
				flatten(sub)
			}
			return
		}
		leaves = append(leaves, e)
	}
	flatten(err)
	for _, leaf := range leaves {
		d, ok := detailOf(leaf)
		if !ok {
			continue
		}
		if msg, warning := isWarning(leaf); warning {
			if msg != "" {
				d.Message = clip(msg)
			}
			warns = append(warns, d)
			continue
		}
		errs = append(errs, d)
	}
	return errs, warns
}

func detailOf(err error) (obhub.Detail, bool) {
	var coded openapi3.CodedError
	if errors.As(err, &coded) && coveredCodes[coded.Code()] {
		return obhub.Detail{}, false
	}
	var loc []string
	e := err
walk:
	for e != nil {
		switch w := e.(type) {
		case *openapi3.SectionValidationError:
			switch {
			case w.Section == "external docs":
				loc = append(loc, "externalDocs")
			case strings.HasPrefix(w.Section, "callback "):
				name, uerr := strconv.Unquote(strings.TrimPrefix(w.Section, "callback "))
				if uerr != nil {
					name = strings.TrimPrefix(w.Section, "callback ")
				}
				loc = append(loc, "callbacks", name)
			default:
				loc = append(loc, w.Section)
			}
			e = w.Cause
		case *openapi3.PathValidationError:
			loc = append(loc, w.Path)
			e = w.Cause
		case *openapi3.OperationValidationError:
			loc = append(loc, strings.ToLower(w.Method))
			e = w.Cause
		case *openapi3.ComponentValidationError:
			section := componentSections[w.Section]
			if section == "" {
				section = w.Section
			}
			loc = append(loc, section, w.Name)
			e = w.Cause
		case *openapi3.WebhookValidationError:
			loc = append(loc, w.Name)
			e = w.Cause
		case *openapi3.ParameterFieldValidationError:
			loc = append(loc, "parameters["+w.ParameterName+"]", w.Field)
			e = w.Cause
		case *openapi3.ParameterExampleValidationError:
			loc = append(loc, "examples", w.ExampleName)
			e = w.Cause
		case *openapi3.HeaderFieldValidationError:
			loc = append(loc, w.Field)
			e = w.Cause
		case *openapi3.MediaTypeExampleValidationError:
			loc = append(loc, "examples", w.ExampleName)
			e = w.Cause
		case *openapi3.MediaTypeEncodingValidationError:
			loc = append(loc, "encoding", w.EncodingName)
			e = w.Cause
		case *openapi3.SecuritySchemeFlowValidationError:
			loc = append(loc, "flows")
			e = w.Cause
		case *openapi3.OAuthFlowValidationError:
			loc = append(loc, w.FlowKind)
			e = w.Cause
		case *openapi3.OAuthFlowFieldValidationError:
			loc = append(loc, w.Field)
			e = w.Cause
		case *openapi3.SchemaCombinatorElementValidationError:
			loc = append(loc, w.Combinator)
			e = w.Cause
		case *openapi3.TagValidationError:
			loc = append(loc, "tags["+w.Name+"]")
			e = w.Cause
		case *openapi3.ExternalDocsURLValidationError:
			loc = append(loc, "url")
			e = w.Cause
		default:
			break walk
		}
	}
	if e == nil {
		e = err
	}
	return obhub.Detail{Location: joinLoc(loc), Message: clip(message(e))}, true
}

// message is the text of a leaf error without the document's values:
// schema errors print the schema and the value, so only their reason is
// kept.
func message(e error) string {
	var sve *openapi3.SchemaValueError
	if errors.As(e, &sve) {
		return fmt.Sprintf("%s does not match its schema: %s", sve.ValueKind, schemaReason(sve.Cause))
	}
	var se *openapi3.SchemaError
	if errors.As(e, &se) {
		return schemaReason(se)
	}
	return e.Error()
}

func schemaReason(err error) string {
	var me openapi3.MultiError
	if errors.As(err, &me) && len(me) > 0 {
		s := schemaReason(me[0])
		if len(me) > 1 {
			s += fmt.Sprintf(" (and %d more)", len(me)-1)
		}
		return s
	}
	var se *openapi3.SchemaError
	if !errors.As(err, &se) {
		return err.Error()
	}
	reason := se.Reason
	if reason == "" {
		reason = "does not satisfy " + se.SchemaField
	}
	if ptr := se.JSONPointer(); len(ptr) > 0 {
		return "at /" + strings.Join(ptr, "/") + ": " + reason
	}
	return reason
}
