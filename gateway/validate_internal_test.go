package gateway

import (
	"net/http"
	"reflect"
	"testing"

	"github.com/valyala/fasthttp"
)

// The validator sees the same header as net/http would build from the
// request: canonical names, every value of a repeated field in order.
func TestCopyHeader(t *testing.T) {
	var in fasthttp.RequestHeader
	in.SetMethod("POST")
	in.SetRequestURI("/v1/payments")
	in.SetHost("hub.example")
	in.SetContentType("application/json")
	in.Set("Authorization", "DPoP abc")
	in.Set("dpop", "proof")
	in.Add("X-Custom-Thing", "one")
	in.Add("x-custom-thing", "two")
	in.Add("Accept", "application/json")

	want := http.Header{}
	in.VisitAll(func(k, v []byte) { want.Add(string(k), string(v)) })
	got := http.Header{}
	copyHeader(got, &in)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("copyHeader = %v\nwant %v", got, want)
	}
	if g := got.Values("X-Custom-Thing"); len(g) != 2 || g[0] != "one" || g[1] != "two" {
		t.Errorf("repeated field = %q, want [one two]", g)
	}
	if got.Get("DPoP") != "proof" || got.Get("Content-Type") != "application/json" {
		t.Errorf("fields lost: %v", got)
	}
	// Appending to one field never writes into another's values.
	got.Add("Accept", "text/plain")
	if got.Get("Authorization") != "DPoP abc" || got.Get("Dpop") != "proof" {
		t.Errorf("a later Add overwrote a neighbour: %v", got)
	}
}
