package requestid_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/obhub/obhub/internal/requestid"
)

func TestNewIsTimeOrderedUUIDv7(t *testing.T) {
	before := time.Now().Add(-time.Millisecond)
	prev := ""
	for i := range 1000 {
		id := requestid.New()
		u, err := uuid.Parse(id)
		if err != nil || u.Version() != 7 {
			t.Fatalf("New() = %q: not a UUIDv7 (%v)", id, err)
		}
		if !requestid.Valid(id) {
			t.Fatalf("New() = %q is not Valid", id)
		}
		// Ids made one after another sort after each other, so the audit
		// index appends at its right edge.
		if id <= prev {
			t.Fatalf("id %d %q does not sort after %q", i, id, prev)
		}
		prev = id
		sec, nsec := u.Time().UnixTime()
		if at := time.Unix(sec, nsec); at.Before(before.Truncate(time.Millisecond)) || at.After(time.Now().Add(time.Second)) {
			t.Fatalf("id %q carries time %v, want about now", id, at)
		}
	}
}

func TestValid(t *testing.T) {
	for s, want := range map[string]bool{
		"":                                      false,
		"abc-123_X.y":                           true,
		strings.Repeat("a", requestid.MaxLen):   true,
		strings.Repeat("a", requestid.MaxLen+1): false,
		"a b":                                   false,
		"a\r\nX-Evil: 1":                        false,
		"caf\u00e9":                             false,
		"a/b":                                   false,
	} {
		if got := requestid.Valid(s); got != want {
			t.Errorf("Valid(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestFromHeader(t *testing.T) {
	if got := requestid.FromHeader("client-42"); got != "client-42" {
		t.Errorf("a valid client id was replaced: %q", got)
	}
	got := requestid.FromHeader("bad id")
	if _, err := uuid.Parse(got); err != nil || got == "bad id" {
		t.Errorf("an invalid client id was kept or not replaced by a UUID: %q", got)
	}
}

func BenchmarkNew(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = requestid.New()
	}
}
