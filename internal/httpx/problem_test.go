package httpx_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/internal/httpx"
)

func TestFromError(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantType   string
		wantDetail string
	}{
		{"invalid lists details", obhub.Invalid("invalid bank", obhub.Detail{Location: "/id", Message: "is required"}), 422, "invalid", "invalid bank"},
		{"not found", obhub.Errorf(obhub.ENOTFOUND, "no bank %q", "x"), 404, "not-found", `no bank "x"`},
		{"conflict", obhub.Errorf(obhub.ECONFLICT, "in use"), 409, "conflict", "in use"},
		{"wrapped code survives", errorsWrap(obhub.Errorf(obhub.EUNAVAILABLE, "store down")), 503, "unavailable", "store down"},
		{"plain error hides internals", errors.New("dial tcp 10.0.0.3:5432: secret detail"), 500, "internal", "internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := httpx.FromError(tt.err)
			if p.Status != tt.wantStatus || p.Type != httpx.TypeBase+tt.wantType || p.Detail != tt.wantDetail {
				t.Fatalf("got %d %s %q", p.Status, p.Type, p.Detail)
			}
		})
	}
}

func errorsWrap(err error) error { return errors.Join(errors.New("context"), err) }

func TestWrite(t *testing.T) {
	rec := httptest.NewRecorder()
	p := httpx.FromError(obhub.Invalid("invalid app", obhub.Detail{Location: "/name", Message: "is required"}, obhub.Detail{Location: "/environment", Message: "must be <sandbox>"}))
	httpx.Write(rec, p)
	if rec.Code != http.StatusUnprocessableEntity || rec.Header().Get("Content-Type") != httpx.ContentType {
		t.Fatalf("status %d, content type %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	if strings.Contains(rec.Body.String(), `\u003c`) {
		t.Errorf("body escapes HTML: %s", rec.Body)
	}
	var got httpx.Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Errors) != 2 || got.Errors[1].Location != "/environment" {
		t.Errorf("errors = %+v, want both problems", got.Errors)
	}
}
