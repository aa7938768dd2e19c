package portal_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/obhub/obhub/audit"
	"github.com/obhub/obhub/internal/mail"
)

// A developer's self-service changes are administrative changes in the
// audit ledger, like an operator's: who (portal:<e-mail>), on what, the
// states before and after — and never a secret.
func TestChangesAreRecorded(t *testing.T) {
	e, recorded := recorded(t)
	b := e.browser()
	b.signup("Hemu Pay", "dev@hemupay.example")
	clientID, created := b.createApp("ledger")
	path := "/portal/apps/" + clientID
	rotated := b.post(path+"/secret", url.Values{"csrf_token": {b.csrf(path)}, "overlap": {"0s"}})
	if rotated.status != http.StatusOK {
		t.Fatalf("rotate: %d", rotated.status)
	}
	secrets := []string{secretOf(t, rotated)}
	m := regexp.MustCompile(`id="new-client-secret">([^<]+)<`).FindStringSubmatch(created.body)
	if m == nil {
		t.Fatal("the new app's secret is not shown")
	}
	secrets = append(secrets, m[1])
	e.verifyEmail(b, "dev@hemupay.example") // following a mailed link is recorded too
	anon := e.browser()
	if p := anon.post("/portal/reset", url.Values{"csrf_token": {anon.csrf("/portal/reset")}, "email": {"dev@hemupay.example"}}); p.status != http.StatusOK {
		t.Fatalf("reset request: %d", p.status)
	}
	_, tok := e.lastLink("dev@hemupay.example", mail.KindReset)
	if p := anon.post("/portal/reset/new", url.Values{"csrf_token": {anon.csrf("/portal/reset/new")}, "token": {tok},
		"password": {"another horse battery"}}); p.status != http.StatusOK {
		t.Fatalf("reset: %d", p.status)
	}

	recs := recorded()
	want := []struct{ verb, object string }{
		{"signup", "partners/"},
		{"create", "apps/" + clientID},
		{"rotate_secret", "apps/" + clientID},
		{"verify_email", "partners/"},
		{"reset_password", "partners/"},
	}
	if len(recs) != len(want) {
		t.Fatalf("%d change records, want %d: %+v", len(recs), len(want), recs)
	}
	for i, w := range want {
		r := recs[i]
		if r.Category != audit.CategoryAdmin || r.Reason != w.verb || !strings.HasPrefix(r.Object, w.object) ||
			r.Actor != "portal:dev@hemupay.example" || r.Partner == "" || r.Status != http.StatusOK {
			t.Errorf("record %d = %+v, want %s of %s by portal:dev@hemupay.example", i, r, w.verb, w.object)
		}
		for _, s := range secrets {
			if strings.Contains(r.Before+r.After, s) {
				t.Errorf("record %d holds a client secret: %s", i, r.After)
			}
		}
	}
	if rot := recs[2]; rot.Before == "" || rot.After == "" || rot.ClientID != clientID || rot.Before == rot.After {
		t.Errorf("the rotation's record lacks the app's states before and after: %+v", rot)
	}
	if !strings.Contains(recs[1].After, `"ledger"`) {
		t.Errorf("the new app's state is missing from its record: %s", recs[1].After)
	}
}
