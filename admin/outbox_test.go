package admin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/obhub/obhub/admin"
	"github.com/obhub/obhub/internal/mail"
	"github.com/obhub/obhub/internal/mail/mailtest"
	"github.com/obhub/obhub/store/sqlite"
)

func TestOutbox(t *testing.T) {
	ctx := context.Background()
	if e := newEnv(t); e.call("GET", "/admin/v1/outbox", nil).want(t, http.StatusServiceUnavailable).problem(t).Status != 503 {
		t.Error("outbox without a store: want a 503 problem")
	}
	store := sqlite.NewPortalStore(filepath.Join(t.TempDir(), "portal.db"))
	if err := store.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	out := mail.NewOutbox(store, nil, nil)
	for _, m := range []mail.Message{
		{Kind: mail.KindVerify, To: "li@acme.example", Subject: "验证您的电子邮件地址 | Verify your e-mail address", Text: "链接 / link"},
		{Kind: mail.KindInvite, To: "wang@acme.example", Subject: "invite", Text: "x"},
		{Kind: mail.KindReset, To: "li@acme.example", Subject: "reset", Text: "y"},
	} {
		if err := out.Send(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	e := newEnv(t, admin.WithOutbox(store))

	var page struct {
		Items      []mail.Message `json:"items"`
		NextCursor string         `json:"next_cursor"`
	}
	e.call("GET", "/admin/v1/outbox?limit=2", nil).want(t, http.StatusOK).json(t, &page)
	if len(page.Items) != 2 || page.Items[0].Kind != mail.KindReset || page.Items[1].Kind != mail.KindInvite || page.NextCursor == "" {
		t.Fatalf("first page = %+v, want reset then invite and a cursor", page)
	}
	if time.Since(page.Items[0].CreatedAt) > time.Minute || page.Items[0].Seq <= page.Items[1].Seq {
		t.Errorf("stamps: %+v", page.Items)
	}
	var next struct {
		Items      []mail.Message `json:"items"`
		NextCursor string         `json:"next_cursor"`
	}
	e.call("GET", "/admin/v1/outbox?limit=2&cursor="+page.NextCursor, nil).want(t, http.StatusOK).json(t, &next)
	if len(next.Items) != 1 || next.Items[0].Subject != "验证您的电子邮件地址 | Verify your e-mail address" || next.NextCursor != "" {
		t.Fatalf("second page = %+v", next)
	}
	var toLi struct{ Items []mail.Message }
	e.call("GET", "/admin/v1/outbox?to=li@acme.example", nil).want(t, http.StatusOK).json(t, &toLi)
	if len(toLi.Items) != 2 {
		t.Errorf("mails to li: %d, want 2", len(toLi.Items))
	}
	for _, m := range toLi.Items {
		if m.Delivery != mail.DeliveryNone || m.Attempts != 0 {
			t.Errorf("a mail of the outbox alone: delivery %q, %d attempts; want none", m.Delivery, m.Attempts)
		}
	}
	var none, failed struct{ Items []mail.Message }
	e.call("GET", "/admin/v1/outbox?delivery=none", nil).want(t, http.StatusOK).json(t, &none)
	e.call("GET", "/admin/v1/outbox?delivery=failed", nil).want(t, http.StatusOK).json(t, &failed)
	if len(none.Items) != 3 || len(failed.Items) != 0 {
		t.Errorf("delivery filter: %d none, %d failed; want 3 and 0", len(none.Items), len(failed.Items))
	}
	p := e.call("GET", "/admin/v1/outbox?to=nope&limit=0&cursor=!!&delivery=lost", nil).want(t, http.StatusUnprocessableEntity).problem(t)
	if locs := p.locations(); !slices.Equal(locs, []string{"cursor", "delivery", "limit", "to"}) {
		t.Errorf("bad query problems at %v, want to, delivery, limit and cursor", locs)
	}
	// The admin token is required.
	req, _ := http.NewRequest("GET", e.srv.URL+"/admin/v1/outbox", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("outbox without the admin token: %d", res.StatusCode)
	}
}

// A mail the relay refused is failed in the outbox; the operator sends it
// again with POST /admin/v1/outbox/{seq}/retry once the relay accepts
// mail, and the outbox then says sent. The answer holds the delivery
// state only (it is kept in the audit ledger), never the address or the
// link.
func TestOutboxRetry(t *testing.T) {
	ctx := context.Background()
	if e := newEnv(t); e.call("POST", "/admin/v1/outbox/1/retry", nil).want(t, http.StatusConflict).problem(t).Status != 409 {
		t.Error("retry on a node without a relay: want a 409 problem")
	}
	store := sqlite.NewPortalStore(filepath.Join(t.TempDir(), "portal.db"))
	if err := store.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	relay := mailtest.Start(t, nil)
	relay.Refuse(550)
	smtp, err := mail.NewSMTP(mail.SMTPConfig{URL: "smtp+plain://" + relay.Addr, From: "noreply@alliance.example"},
		mail.NewOutbox(store, nil, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	smtp.Start()
	t.Cleanup(func() { smtp.Close() })
	const to, link = "li@acme.example", "https://hub.example/portal/reset/new#token=LIVE-LINK"
	if err := smtp.Send(ctx, mail.Message{Kind: mail.KindReset, To: to, Subject: "reset", Text: link}); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, admin.WithOutbox(store), admin.WithMailRetry(smtp))

	list := func(delivery string) []mail.Message {
		t.Helper()
		var page struct{ Items []mail.Message }
		e.call("GET", "/admin/v1/outbox?delivery="+delivery, nil).want(t, http.StatusOK).json(t, &page)
		return page.Items
	}
	var failed []mail.Message
	for deadline := time.Now().Add(20 * time.Second); len(failed) == 0 && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		failed = list(mail.DeliveryFailed)
	}
	if len(failed) != 1 || failed[0].Attempts != 1 || failed[0].LastError != "smtp 550 (permanent)" || failed[0].To != to {
		t.Fatalf("failed mails = %+v, want the refused one, 1 attempt, smtp 550", failed)
	}
	seq := strconv.FormatInt(failed[0].Seq, 10)

	for _, tt := range []struct {
		path   string
		body   any
		status int
	}{
		{"/admin/v1/outbox/999/retry", nil, http.StatusNotFound},
		{"/admin/v1/outbox/abc/retry", nil, http.StatusNotFound},
		{"/admin/v1/outbox/" + seq + "/retry", map[string]any{"now": true}, http.StatusUnprocessableEntity},
	} {
		e.call("POST", tt.path, tt.body).want(t, tt.status).problem(t)
	}
	e.call("GET", "/admin/v1/outbox/"+seq+"/retry", nil).want(t, http.StatusMethodNotAllowed)

	relay.Refuse(0)
	r := e.call("POST", "/admin/v1/outbox/"+seq+"/retry", nil).want(t, http.StatusAccepted)
	var state map[string]any
	r.json(t, &state)
	if state["delivery"] != mail.DeliveryPending || state["attempts"] != 1.0 || state["kind"] != mail.KindReset {
		t.Errorf("retry answer = %s", r.body)
	}
	if strings.Contains(string(r.body), to) || strings.Contains(string(r.body), "LIVE-LINK") {
		t.Errorf("the retry answer holds the address or the link: %s", r.body)
	}
	if d := relay.Next(t); d.To != to {
		t.Errorf("delivered to %q", d.To)
	}
	var sent []mail.Message
	for deadline := time.Now().Add(20 * time.Second); len(sent) == 0 && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		sent = list(mail.DeliverySent)
	}
	if len(sent) != 1 || sent[0].Attempts != 2 || sent[0].SentAt.IsZero() || sent[0].LastError != "" {
		t.Fatalf("sent mails = %+v, want the retried one after 2 attempts", sent)
	}
	if p := e.call("POST", "/admin/v1/outbox/"+seq+"/retry", nil).want(t, http.StatusConflict).problem(t); !strings.Contains(p.Detail, "sent") {
		t.Errorf("retrying a sent mail: %q", p.Detail)
	}
}

// The OpenAPI document describes every member of the outbox's answers,
// and no other.
func TestOutboxDescribed(t *testing.T) {
	e := newEnv(t)
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]any `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	e.call("GET", "/admin/v1/openapi.json", nil).want(t, http.StatusOK).json(t, &doc)
	at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	for schema, v := range map[string]any{
		"OutboxMessage": mail.Message{Seq: 1, Kind: mail.KindVerify, To: "a@b.example", Subject: "s", Text: "t", CreatedAt: at,
			Delivery: mail.DeliveryFailed, Attempts: 1, SentAt: at, LastError: "timeout"},
		"MailDelivery": admin.MailDelivery{Seq: 1, Kind: mail.KindVerify, CreatedAt: at, Delivery: mail.DeliveryFailed,
			Attempts: 1, SentAt: at, LastError: "timeout"},
	} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var members map[string]any
		if err := json.Unmarshal(b, &members); err != nil {
			t.Fatal(err)
		}
		described := doc.Components.Schemas[schema].Properties
		for k := range members {
			if _, ok := described[k]; !ok {
				t.Errorf("%s: member %q is not described", schema, k)
			}
		}
		for k := range described {
			if _, ok := members[k]; !ok {
				t.Errorf("%s: the document describes %q, which the answer does not have", schema, k)
			}
		}
	}
}
