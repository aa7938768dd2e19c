package mail_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/obhub/obhub/internal/mail"
	"github.com/obhub/obhub/store/sqlite"
)

// The outbox stamps each message with the clock's time, keeps it in the
// store with delivery none, and purges what is older than Retention.
func TestOutboxSendAndRetention(t *testing.T) {
	ctx := context.Background()
	store := sqlite.NewPortalStore(filepath.Join(t.TempDir(), "portal.db"))
	if err := store.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	now := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	out := mail.NewOutbox(store, func() time.Time { return now }, nil)
	send := func(to string) {
		t.Helper()
		if err := out.Send(ctx, mail.Message{Kind: mail.KindReset, To: to, Subject: "s", Text: "t", Seq: 99,
			CreatedAt: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)}); err != nil {
			t.Fatal(err)
		}
	}
	send("old@x.example")
	now = now.Add(mail.Retention - time.Minute)
	send("kept@x.example")
	list, err := store.ListMail(ctx, mail.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || !list[1].CreatedAt.Equal(time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)) || list[0].Seq == 99 {
		t.Fatalf("outbox = %+v, want two messages stamped by the clock with store-given numbers", list)
	}
	if list[0].Delivery != mail.DeliveryNone {
		t.Errorf("delivery %q: without a relay the operator forwards the message (none)", list[0].Delivery)
	}
	now = now.Add(2 * time.Minute) // the first is now older than Retention
	send("new@x.example")
	list, _ = store.ListMail(ctx, mail.Query{})
	if len(list) != 2 || list[0].To != "new@x.example" || list[1].To != "kept@x.example" {
		t.Errorf("after Retention: %+v, want new and kept only", list)
	}
}
