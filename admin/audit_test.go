package admin_test

import (
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/admin"
	"github.com/obhub/obhub/audit"
)

// recorder keeps what admin.RecordChanges records.
type recorder struct {
	mu   sync.Mutex
	recs []audit.Record
}

func (r *recorder) write(rec audit.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec)
	return nil
}

func (r *recorder) last(t testing.TB) audit.Record {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.recs) == 0 {
		t.Fatal("nothing recorded")
	}
	return r.recs[len(r.recs)-1]
}

// A refused creation is recorded on the object it tried to make when its
// body names a valid id, and nothing else of the body is kept.
func TestRefusedCreationNamesItsObject(t *testing.T) {
	e := newEnv(t)
	rec := &recorder{}
	e.srv.Close()
	e.srv = httptest.NewServer(admin.RecordChanges(admin.New(e.store, nil), rec.write, obhub.Clock(time.Now)))
	t.Cleanup(e.srv.Close)

	e.call("POST", "/admin/v1/banks", map[string]any{"id": "alpha", "name": "Alpha Rural Bank"}).want(t, 201)
	if r := rec.last(t); r.Object != "banks/alpha" || r.Verb() != "create" {
		t.Errorf("created: object %q, verb %q", r.Object, r.Verb())
	}
	e.call("POST", "/admin/v1/banks", map[string]any{"id": "alpha", "name": "Again"}).want(t, 409)
	if r := rec.last(t); r.Object != "banks/alpha" || r.Decision != audit.DecisionReject || r.Verb() != "create" {
		t.Errorf("refused duplicate: object %q, decision %q, verb %q", r.Object, r.Decision, r.Verb())
	}
	for _, tt := range []struct {
		name string
		body string
		want string
	}{
		{"secret beside the id", `{"id":"beta","name":"B","client_secret":"s3cret-value-42"}`, "banks/beta"},
		{"invalid id", `{"id":"../x s3cret-value-42","name":"B"}`, "banks"},
		{"no id", `{"name":"s3cret-value-42"}`, "banks"},
		{"not JSON", `s3cret-value-42`, "banks"},
	} {
		e.call("POST", "/admin/v1/banks", tt.body)
		r := rec.last(t)
		if r.Object != tt.want {
			t.Errorf("%s: object %q, want %q", tt.name, r.Object, tt.want)
		}
		if r.Decision == audit.DecisionAllow {
			t.Errorf("%s: allowed", tt.name)
		}
		for _, s := range []string{r.Object, r.Before, r.After, r.Reason, r.Query} {
			if strings.Contains(s, "s3cret") {
				t.Errorf("%s: the record keeps the body: %+v", tt.name, r)
			}
		}
	}
}
