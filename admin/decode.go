package admin

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/internal/httpx"
)

// problems collects every problem with a request body, each located by a
// JSON pointer, so that one 422 answer lists them all.
type problems []obhub.Detail

func (ps *problems) add(loc, msg string) {
	*ps = append(*ps, obhub.Detail{Location: loc, Message: msg})
}

// has reports whether a problem is reported at loc.
func (ps problems) has(loc string) bool {
	return slices.ContainsFunc(ps, func(d obhub.Detail) bool { return d.Location == loc })
}

// merge adds the details of an EINVALID error, leaving out those at (or
// under) a location already reported: a field that did not decode is not
// also "required". Any other error is returned.
func (ps *problems) merge(err error) error {
	if err == nil {
		return nil
	}
	if obhub.ErrorCode(err) != obhub.EINVALID {
		return err
	}
	ds := obhub.ErrorDetails(err)
	if len(ds) == 0 {
		ps.add("", obhub.ErrorMessage(err))
		return nil
	}
	known := slices.Clone(*ps)
	for _, d := range ds {
		if !slices.ContainsFunc(known, func(k obhub.Detail) bool { return within(d.Location, k.Location) }) {
			*ps = append(*ps, d)
		}
	}
	return nil
}

// within reports whether the pointer loc is at or under the pointer at
// ("" is the whole document).
func within(loc, at string) bool {
	return at == "" || loc == at || strings.HasPrefix(loc, at+"/")
}

// err returns the EINVALID error listing the problems by location, or nil.
func (ps problems) err(message string) error {
	if len(ps) == 0 {
		return nil
	}
	ds := slices.Clone(ps)
	slices.SortStableFunc(ds, func(a, b obhub.Detail) int { return strings.Compare(a.Location, b.Location) })
	return obhub.Invalid(message, ds...)
}

// problemError carries a ready problem for the few statuses that have no
// application error code (415).
type problemError struct{ p *httpx.Problem }

func (e *problemError) Error() string { return e.p.Title + ": " + e.p.Detail }

// readBody reads a JSON request body: Content-Type application/json (or,
// for PATCH, application/merge-patch+json), at most max bytes, exactly
// one JSON value.
func readBody(w http.ResponseWriter, r *http.Request, max int64) (json.RawMessage, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && !(r.Method == http.MethodPatch && mt == "application/merge-patch+json")) {
		want := "application/json"
		if r.Method == http.MethodPatch {
			want += " or application/merge-patch+json"
		}
		return nil, &problemError{httpx.UnsupportedMedia.New("the request body must be " + want)}
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, obhub.Errorf(obhub.ETOOLARGE, "the request body is over %d bytes", max)
		}
		return nil, obhub.Errorf(obhub.EINVALID, "the request body could not be read")
	}
	return oneValue(data)
}

// oneValue checks that data holds exactly one JSON value.
func oneValue(data []byte) (json.RawMessage, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, obhub.Invalid("the request body is empty", obhub.Detail{Message: "send one JSON object"})
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var v json.RawMessage
	if err := dec.Decode(&v); err != nil {
		return nil, obhub.Invalid("the request body is not valid JSON", obhub.Detail{Message: syntaxMessage(err)})
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, obhub.Invalid("the request body is not valid JSON", obhub.Detail{Message: "must hold exactly one JSON value"})
	}
	return v, nil
}

func syntaxMessage(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return se.Error() + " (at byte " + strconv.FormatInt(se.Offset, 10) + ")"
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "unexpected end of JSON"
	}
	return "malformed JSON"
}

// hasBody reports whether r carries a non-empty body, for the calls whose
// body is optional (lifecycle, approvals).
func hasBody(r *http.Request) bool {
	return r.ContentLength > 0 || (r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody)
}

// decodeObject decodes the JSON object raw into the struct that dst points
// to, strictly: each unknown field, read-only field (in readOnly) and
// wrongly typed value is added to ps with its JSON pointer. Nested
// structs are decoded the same way; everything else with encoding/json.
func decodeObject(raw json.RawMessage, dst any, readOnly []string, ps *problems) {
	decodeStruct(raw, "", reflect.ValueOf(dst).Elem(), readOnly, ps)
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
	timeType        = reflect.TypeFor[time.Time]()
)

// plainStruct reports whether t is a struct decoded field by field (not
// one with its own JSON or text decoding).
func plainStruct(t reflect.Type) bool {
	if t.Kind() != reflect.Struct || t == timeType {
		return false
	}
	p := reflect.PointerTo(t)
	return !p.Implements(jsonUnmarshaler) && !p.Implements(textUnmarshaler)
}

func decodeStruct(raw json.RawMessage, loc string, v reflect.Value, readOnly []string, ps *problems) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		ps.add(loc, "must be a JSON object")
		return
	}
	t := v.Type()
	fields := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fields[name] = i
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		at := loc + "/" + escapePointer(k)
		i, ok := fields[k]
		switch {
		case slices.Contains(readOnly, k):
			ps.add(at, "is read-only")
		case !ok:
			ps.add(at, "is not a known field")
		default:
			decodeValue(m[k], at, v.Field(i), ps)
		}
	}
}

func decodeValue(raw json.RawMessage, loc string, v reflect.Value, ps *problems) {
	t := v.Type()
	isNull := bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
	switch {
	case plainStruct(t):
		if isNull {
			v.SetZero()
			return
		}
		decodeStruct(raw, loc, v, nil, ps)
	case t.Kind() == reflect.Pointer && plainStruct(t.Elem()):
		if isNull {
			v.SetZero()
			return
		}
		nv := reflect.New(t.Elem())
		decodeStruct(raw, loc, nv.Elem(), nil, ps)
		v.Set(nv)
	case t.Kind() == reflect.Slice && plainStruct(t.Elem()):
		// Each element strictly, so that problems point into the array.
		if isNull {
			v.SetZero()
			return
		}
		var elems []json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil {
			ps.add(loc, "must be "+describe(t))
			return
		}
		nv := reflect.MakeSlice(t, len(elems), len(elems))
		for i, e := range elems {
			decodeValue(e, loc+"/"+strconv.Itoa(i), nv.Index(i), ps)
		}
		v.Set(nv)
	default:
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		dec.UseNumber()
		if err := dec.Decode(v.Addr().Interface()); err != nil {
			ps.add(loc, valueMessage(err, t))
		}
	}
}

// valueMessage says what a value that did not decode into t should be.
func valueMessage(err error, t reflect.Type) string {
	if t == timeType {
		return "must be an RFC 3339 time such as 2030-01-31T00:00:00Z"
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return "must be " + describe(t)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return "is not valid JSON"
	}
	return err.Error() // from UnmarshalText: already says what is expected
}

func describe(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Pointer:
		return describe(t.Elem())
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.String {
			return "an array of strings"
		}
		return "an array"
	case reflect.Map, reflect.Struct:
		return "a JSON object"
	}
	return "a JSON value"
}

// escapePointer escapes one JSON pointer reference token (RFC 6901).
func escapePointer(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

// mergePatch applies an RFC 7396 JSON merge patch to target (both decoded
// with UseNumber) and returns the result.
func mergePatch(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
			continue
		}
		t[k] = mergePatch(t[k], v)
	}
	return t
}

// patched returns the JSON of cur (a body struct of the object's current
// settings) with the merge patch applied.
func patched(cur any, patch json.RawMessage) (json.RawMessage, error) {
	var target, p any
	if err := unmarshalNumber(mustJSON(cur), &target); err != nil {
		return nil, err
	}
	if err := unmarshalNumber(patch, &p); err != nil {
		return nil, obhub.Invalid("the request body is not valid JSON", obhub.Detail{Message: syntaxMessage(err)})
	}
	return mustJSON(mergePatch(target, p)), nil
}

func unmarshalNumber(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return dec.Decode(v)
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic("admin: marshal: " + err.Error())
	}
	return b
}
