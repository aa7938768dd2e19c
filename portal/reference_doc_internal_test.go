package portal

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
)

func TestRefMessagesTranslated(t *testing.T) {
	for key := range refMessages[langEN] {
		if refMessages[langZH][key] == "" {
			t.Errorf("%s has no Chinese text", key)
		}
	}
	if len(refMessages[langZH]) != len(refMessages[langEN]) {
		t.Errorf("%d Chinese texts for %d English ones", len(refMessages[langZH]), len(refMessages[langEN]))
	}
}

func TestAcceptsGzip(t *testing.T) {
	for _, tt := range []struct {
		header string
		want   bool
	}{
		{"", false},
		{"gzip", true},
		{"br, gzip, deflate", true},
		{"GZIP;q=0.5", true},
		{"gzip;q=0", false},
		{"gzip; q=0.000", false},
		{"identity", false},
		{"x-gzip", false},
		{"*", false}, // served plain: always acceptable
	} {
		r, _ := http.NewRequest(http.MethodGet, "/", nil)
		if tt.header != "" {
			r.Header.Set("Accept-Encoding", tt.header)
		}
		if got := acceptsGzip(r); got != tt.want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", tt.header, got, tt.want)
		}
	}
}

// FuzzHubDocument: whatever a stored document holds, the rewrite neither
// panics nor lets a server other than the hub's through.
func FuzzHubDocument(f *testing.F) {
	f.Add([]byte(`{"openapi":"3.0.3","servers":[{"url":"https://core.internal/v1"}],"paths":{"/a":{"servers":[{"url":"https://core.internal"}],"get":{"servers":[{"url":"https://core.internal"}]}}}}`))
	f.Add([]byte(`{"paths":{"/a":{"get":"not an operation","parameters":[]}}}`))
	f.Add([]byte(`{"paths":[]}`))
	f.Add([]byte(`[]`))
	hub := []hubServer{{URL: "https://hub.example/bank/v1", Description: "Production"}}
	f.Fuzz(func(t *testing.T, doc []byte) {
		out, err := hubDocument(doc, hub)
		if err != nil {
			return
		}
		// Keys are matched exactly, as OpenAPI tools do ("pAths" is
		// not "paths").
		var top map[string]json.RawMessage
		if err := json.Unmarshal(out, &top); err != nil {
			t.Fatalf("output is not a document: %v\n%s", err, out)
		}
		var servers []hubServer
		if err := json.Unmarshal(top["servers"], &servers); err != nil || len(servers) != 1 || servers[0] != hub[0] {
			t.Fatalf("servers %s", top["servers"])
		}
		var paths map[string]map[string]json.RawMessage
		_ = json.Unmarshal(top["paths"], &paths) // only an object of objects can hold servers
		for p, item := range paths {
			if _, ok := item["servers"]; ok {
				t.Fatalf("path %s keeps its servers", p)
			}
			for m, raw := range item {
				var op map[string]json.RawMessage
				if json.Unmarshal(raw, &op) == nil && op["servers"] != nil && slices.Contains(methodOrder, m) {
					t.Fatalf("operation %s %s keeps its servers", m, p)
				}
			}
		}
	})
}
