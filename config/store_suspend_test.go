package config_test

import (
	"context"
	"testing"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/config"
	"github.com/obhub/obhub/partners"
)

// Suspension is a state of the app, kept across updates, and changed
// only by SetAppSuspended.
func TestSetAppSuspended(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a := f.app(t, "fin", "ledger", partners.Production)
	if a.Suspended {
		t.Fatal("a new app is suspended")
	}
	v, err := f.s.SetAppSuspended(ctx, a.ClientID, true)
	if err != nil || !v.Suspended {
		t.Fatalf("suspend: %+v %v", v, err)
	}
	// An update keeps the state.
	if v, err = f.s.UpdateApp(ctx, a.ClientID, func(in *config.AppView) error { in.Name = "ledger 2"; return nil }); err != nil || !v.Suspended {
		t.Fatalf("update of a suspended app: %+v %v", v, err)
	}
	if got, _ := f.s.App(ctx, a.ClientID); !got.Suspended || got.Name != "ledger 2" {
		t.Errorf("stored app %+v", got)
	}
	if v, err = f.s.SetAppSuspended(ctx, a.ClientID, false); err != nil || v.Suspended {
		t.Fatalf("reactivate: %+v %v", v, err)
	}
	if got, _ := f.s.App(ctx, a.ClientID); got.Suspended {
		t.Error("the reactivated app is still suspended")
	}
	_, err = f.s.SetAppSuspended(ctx, "app_nosuch", true)
	wantCode(t, err, obhub.ENOTFOUND, "not found")
}
