package portaltest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/internal/mail"
	"github.com/obhub/obhub/portal"
)

// PorterStore is a portal store that can be exported and imported.
type PorterStore interface {
	portal.Store
	portal.Porter
}

// RunPorter runs the conformance suite of portal.Porter: a store's Dump
// imported into a fresh store reads back the same (accounts with their
// hashes, verification and lockout; the outbox with its numbers and
// delivery states), later mails are numbered after the imported ones,
// and a store that holds accounts refuses an import and stays as it was.
// open returns a fresh, empty, open store.
func RunPorter(t *testing.T, open func(t *testing.T) PorterStore) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	src := open(t)
	for i, a := range []portal.Account{
		{ID: "a1", Email: "li@example.com", Name: "Li", Partner: "p1", Role: portal.RoleOwner, PasswordHash: "$argon2id$h1", CreatedAt: now},
		{ID: "a2", Email: "wang@example.com", Name: "王芳", Partner: "p1", Role: portal.RoleDeveloper, PasswordHash: "$argon2id$h2", CreatedAt: now.Add(time.Second)},
	} {
		mustOK(t, src.CreateAccount(ctx, a))
		if i == 0 {
			mustOK(t, src.SetEmailVerified(ctx, a.ID, now.Add(time.Minute)))
			mustOK(t, src.SetLoginState(ctx, a.ID, 2, now.Add(time.Hour)))
		}
	}
	for _, m := range []mail.Message{
		{Kind: mail.KindVerify, To: "li@example.com", Subject: "Verify", Text: "one", CreatedAt: now},
		{Kind: mail.KindReset, To: "wang@example.com", Subject: "Reset", Text: "two", CreatedAt: now, Delivery: mail.DeliveryPending},
	} {
		_, err := src.AddMail(ctx, m)
		mustOK(t, err)
	}
	d, err := src.Export(ctx)
	mustOK(t, err)
	if len(d.Accounts) != 2 || len(d.Outbox) != 2 {
		t.Fatalf("Export = %d accounts, %d mails; want 2 and 2", len(d.Accounts), len(d.Outbox))
	}

	dst := open(t)
	mustOK(t, dst.Import(ctx, d))
	got, err := dst.Export(ctx)
	mustOK(t, err)
	if !reflect.DeepEqual(got, d) {
		t.Errorf("Export after Import = %+v\nwant %+v", got, d)
	}
	a, err := dst.AccountByEmail(ctx, "LI@example.com")
	mustOK(t, err)
	if a.ID != "a1" || a.PasswordHash != "$argon2id$h1" || !a.Verified() || a.Failures != 2 || !a.LockedUntil.Equal(now.Add(time.Hour)) {
		t.Errorf("imported account = %+v", a)
	}
	seq, err := dst.AddMail(ctx, mail.Message{Kind: mail.KindVerify, To: "x@example.com", Subject: "s", Text: "t", CreatedAt: now})
	mustOK(t, err)
	if last := d.Outbox[len(d.Outbox)-1].Seq; seq <= last {
		t.Errorf("a mail added after the import got seq %d, want after %d", seq, last)
	}

	before, err := dst.Export(ctx)
	mustOK(t, err)
	if err := dst.Import(ctx, portal.Dump{Accounts: []portal.Account{{ID: "a9", Email: "z@example.com", Partner: "p", Role: portal.RoleOwner,
		PasswordHash: "h", CreatedAt: now}}}); obhub.ErrorCode(err) != obhub.ECONFLICT {
		t.Errorf("Import into a store with accounts = %v, want ECONFLICT", err)
	}
	after, err := dst.Export(ctx)
	mustOK(t, err)
	if !reflect.DeepEqual(after, before) {
		t.Error("a refused Import changed the store")
	}
	mustOK(t, open(t).Import(ctx, portal.Dump{})) // an empty dump into an empty store
}
