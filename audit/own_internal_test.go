package audit

import (
	"reflect"
	"testing"
	"unsafe"
)

// aliased returns a string that shares buf's memory, as the strings of
// fiber's net/http adaptor share fasthttp's request buffers.
func aliased(buf []byte) string { return unsafe.String(&buf[0], len(buf)) }

// own leaves no string of a record sharing its caller's memory: the
// caller's buffer, overwritten after Write (the next request on the
// connection), changes nothing in the record. Every string field is
// checked, so a field added later without own copying it fails here.
func TestOwnCopiesEveryString(t *testing.T) {
	var r Record
	v := reflect.ValueOf(&r).Elem()
	var bufs [][]byte
	var names []string
	for i := range v.NumField() {
		if v.Field(i).Kind() != reflect.String {
			continue
		}
		name := v.Type().Field(i).Name
		buf := []byte("value of " + name)
		v.Field(i).SetString(aliased(buf))
		bufs, names = append(bufs, buf), append(names, name)
	}
	r.own()
	for _, b := range bufs {
		for i := range b {
			b[i] = 'X'
		}
	}
	for _, name := range names {
		if got := v.FieldByName(name).String(); got != "value of "+name {
			t.Errorf("%s = %q after the caller's buffer changed; own did not copy it", name, got)
		}
	}
}
