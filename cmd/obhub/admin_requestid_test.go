package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// The admin listener gives every answer a request id, as the public one
// does: in X-Request-Id and in a problem's request_id, the client's own
// when it sent a well-formed one; and an admin change's audit record
// carries the same id.
func TestAdminAnswersCarryTheRequestID(t *testing.T) {
	m := runMain(t)
	h := newHub(t, m, testAdminToken)
	problemID := func(r result) string {
		t.Helper()
		var p struct {
			RequestID string `json:"request_id"`
		}
		if err := json.Unmarshal(r.body, &p); err != nil {
			t.Fatalf("problem %s: %v", r, err)
		}
		return p.RequestID
	}

	r := h.do(t, newRequest(t, "GET", h.admin+"/admin/v1/apis", nil)) // no admin token
	id := r.header.Get("X-Request-Id")
	if r.status != http.StatusUnauthorized || id == "" || problemID(r) != id {
		t.Fatalf("unauthenticated call: %s, X-Request-Id %q", r, id)
	}

	req := newRequest(t, "POST", h.admin+"/admin/v1/banks", strings.NewReader(`{"id":"bad id!","name":"x"}`))
	req.Header.Set("Authorization", "Bearer "+h.adminToken)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-Id", "ops-ticket-42")
	r = h.do(t, req)
	if r.status != http.StatusUnprocessableEntity || r.header.Get("X-Request-Id") != "ops-ticket-42" || problemID(r) != "ops-ticket-42" {
		t.Fatalf("invalid bank with the operator's request id: %s, X-Request-Id %q", r, r.header.Get("X-Request-Id"))
	}

	req = newRequest(t, "POST", h.admin+"/admin/v1/banks", strings.NewReader(`{"id":"hill-bank","name":"Hill Bank"}`))
	req.Header.Set("Authorization", "Bearer "+h.adminToken)
	req.Header.Set("Content-Type", "application/json")
	r = h.do(t, req)
	id = r.header.Get("X-Request-Id")
	if r.status != http.StatusCreated || id == "" {
		t.Fatalf("create bank: %s, X-Request-Id %q", r, id)
	}
	var page struct {
		Items []struct {
			Object string `json:"object"`
		} `json:"items"`
	}
	h.adminCall(t, "GET", "/audit?request_id="+id, nil, http.StatusOK, &page)
	if len(page.Items) != 1 || page.Items[0].Object != "banks/hill-bank" {
		t.Errorf("the audit record of request %s: %+v", id, page.Items)
	}
}
