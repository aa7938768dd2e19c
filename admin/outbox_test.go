package admin_test

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/obhub/obhub/admin"
	"github.com/obhub/obhub/internal/mail"
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
	p := e.call("GET", "/admin/v1/outbox?to=nope&limit=0&cursor=!!", nil).want(t, http.StatusUnprocessableEntity).problem(t)
	if locs := p.locations(); len(locs) != 3 {
		t.Errorf("bad query problems at %v, want to, limit and cursor", locs)
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
