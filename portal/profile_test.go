package portal_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/obhub/obhub/internal/mail"
)

// A valid unified social credit code (GB 32100-2015) and the same code
// with its check character changed.
const (
	goodCreditCode  = "91350100M000100Y43"
	wrongCheckDigit = "91350100M000100Y44"
)

func profileForm(tok string, changes map[string]string) url.Values {
	f := url.Values{
		"csrf_token": {tok}, "legalName": {"杭州艾克姆支付科技有限公司"}, "creditCode": {strings.ToLower(goodCreditCode)},
		"contactName": {"李明"}, "contactPhone": {"138 1234 5678"}, "website": {"https://acme.example"},
		"purpose": {"Account information for small merchants.\nRead-only."},
	}
	for k, v := range changes {
		f.Set(k, v)
	}
	return f
}

func TestOrganisationProfile(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	owner := e.teamOf("Acme Pay", "li@acme.example")
	partner := e.partnerOf("li@acme.example")

	p := owner.get("/portal/organisation")
	mustContain(t, p, "Acme Pay", partner, "Pending approval", "You can use the sandbox now",
		"Fill in the details below", `action="/portal/organisation"`, `href="/portal/organisation" aria-current="page"`)
	mustContain(t, owner.get("/portal/organisation?lang=zh"), "待审批", "统一社会信用代码", "入驻申请")
	owner.get("/portal/organisation?lang=en")

	tok := owner.csrf("/portal/organisation")
	// Every problem is named by its field, and nothing is written.
	for _, c := range []struct {
		field, value, want string
	}{
		{"creditCode", wrongCheckDigit, "Unified social credit code: the check character (the 18th) does not match"},
		{"creditCode", "91350100M000100Y4", "Unified social credit code: 18 characters"},
		{"creditCode", "91350100M000100I43", "Unified social credit code: 18 characters"},
		{"contactPhone", "call me", "Contact phone: 7 to 15 digits"},
		{"website", "javascript:alert(1)", "Website: an http or https address"},
		{"legalName", "", "Legal name (as on the business licence) is required."},
		{"purpose", strings.Repeat("x", 1001), "Intended use: at most 1000 characters."},
	} {
		p := owner.post("/portal/organisation", profileForm(tok, map[string]string{c.field: c.value}))
		if p.status != http.StatusUnprocessableEntity {
			t.Errorf("%s %q: %d, want 422", c.field, c.value, p.status)
		}
		mustContain(t, p, c.want)
		if got, _ := e.store.Partner(ctx, partner); got.Profile != nil {
			t.Fatalf("%s %q: a refused profile was stored: %+v", c.field, c.value, got.Profile)
		}
	}
	// The form keeps what was typed.
	mustContain(t, owner.post("/portal/organisation", profileForm(tok, map[string]string{"creditCode": wrongCheckDigit})), wrongCheckDigit, "李明")

	// Without the CSRF token: 403, nothing written.
	if p := owner.post("/portal/organisation", profileForm("", nil)); p.status != http.StatusForbidden {
		t.Errorf("without CSRF token: %d, want 403", p.status)
	}
	if got, _ := e.store.Partner(ctx, partner); got.Profile != nil {
		t.Fatal("a profile posted without the CSRF token was stored")
	}

	p = owner.post("/portal/organisation", profileForm(tok, nil))
	if p.status != http.StatusOK || p.url != "/portal/organisation" {
		t.Fatalf("save: %d at %s\n%s", p.status, p.url, p.body)
	}
	mustContain(t, p, "The details are saved", goodCreditCode, "138 1234 5678")
	mustNotContain(t, p, "Fill in the details below")
	got, err := e.store.Partner(ctx, partner)
	if err != nil {
		t.Fatal(err)
	}
	if pr := got.Profile; pr == nil || pr.CreditCode != goodCreditCode || pr.ContactName != "李明" || pr.UpdatedAt.IsZero() {
		t.Fatalf("stored profile %+v", pr)
	}
	if got.Status != "pending" || got.Name != "Acme Pay" {
		t.Errorf("saving the profile changed the partner: %+v", got)
	}

	// A developer sees the details and cannot change them.
	dev := e.invite(owner, "wang@acme.example")
	p = dev.get("/portal/organisation")
	mustContain(t, p, goodCreditCode, "李明", "Only owners with a verified e-mail address can change these details")
	mustNotContain(t, p, `action="/portal/organisation"`)
	if p := dev.post("/portal/organisation", profileForm(dev.csrf("/portal/organisation"), map[string]string{"contactName": "Wang"})); p.status != http.StatusForbidden {
		t.Errorf("developer saving the profile: %d, want 403", p.status)
	}
	if got, _ := e.store.Partner(ctx, partner); got.Profile.ContactName != "李明" {
		t.Errorf("a developer changed the contact to %q", got.Profile.ContactName)
	}

	// Approved: the page says so with the date.
	if _, err := e.store.ApprovePartner(ctx, partner); err != nil {
		t.Fatal(err)
	}
	p = owner.get("/portal/organisation")
	mustContain(t, p, "Approved on ", "owners can create production apps")
	mustNotContain(t, p, "Pending approval")
}

// Partner B sees only its own organisation, and nothing it posts reaches
// partner A's.
func TestOrganisationProfileIsolation(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := e.teamOf("Acme Pay", "li@acme.example")
	b := e.teamOf("Beta Loans", "zhao@beta.example")
	partnerA, partnerB := e.partnerOf("li@acme.example"), e.partnerOf("zhao@beta.example")
	if p := a.post("/portal/organisation", profileForm(a.csrf("/portal/organisation"), nil)); p.status != http.StatusOK {
		t.Fatalf("A saves: %d", p.status)
	}
	p := b.get("/portal/organisation")
	mustContain(t, p, "Beta Loans", partnerB)
	mustNotContain(t, p, "Acme Pay", partnerA, goodCreditCode, "李明")
	for _, path := range []string{"/portal/organisation/" + partnerA, "/portal/organisations/" + partnerA} {
		if p := b.get(path); p.status != http.StatusNotFound {
			t.Errorf("B GET %s: %d, want 404", path, p.status)
		}
	}
	// A partner field in the form is not a way to choose the target.
	form := profileForm(b.csrf("/portal/organisation"), map[string]string{"contactName": "Zhao", "partner": partnerA, "id": partnerA})
	if p := b.post("/portal/organisation", form); p.status != http.StatusOK {
		t.Fatalf("B saves: %d", p.status)
	}
	if pa, _ := e.store.Partner(ctx, partnerA); pa.Profile.ContactName != "李明" {
		t.Errorf("B's post changed A's contact to %q", pa.Profile.ContactName)
	}
	if pb, _ := e.store.Partner(ctx, partnerB); pb.Profile == nil || pb.Profile.ContactName != "Zhao" {
		t.Errorf("B's profile: %+v", pb.Profile)
	}
}

func TestChangePassword(t *testing.T) {
	e := newEnv(t)
	const email, oldPW, newPW = "li@acme.example", "correct horse battery", "a much better passphrase"
	here := e.browser()
	here.signup("Acme Pay", email)
	elsewhere := e.browser()
	if p := signin(elsewhere, email, oldPW); p.url != "/portal/apps" {
		t.Fatalf("second sign-in: %s", p.url)
	}
	mustContain(t, here.get("/portal/account"), "Change your password", email, `autocomplete="current-password"`)
	change := func(b *browser, current, next string) page {
		return b.post("/portal/account/password", url.Values{"csrf_token": {b.csrf("/portal/account")}, "current": {current}, "password": {next}})
	}
	if p := here.post("/portal/account/password", url.Values{"current": {oldPW}, "password": {newPW}}); p.status != http.StatusForbidden {
		t.Errorf("without CSRF token: %d, want 403", p.status)
	}
	if p := change(here, oldPW, "short"); p.status != http.StatusUnprocessableEntity {
		t.Errorf("short new password: %d, want 422", p.status)
	} else {
		mustContain(t, p, "10 to 128 characters")
	}
	p := change(here, "not my password", newPW)
	if p.status != http.StatusUnauthorized {
		t.Errorf("wrong current password: %d, want 401", p.status)
	}
	mustContain(t, p, "The current password is wrong.")
	if p := signin(e.browser(), email, newPW); p.url == "/portal/apps" {
		t.Fatal("the new password works after a refused change")
	}

	p = change(here, oldPW, newPW)
	if p.status != http.StatusOK || p.url != "/portal/account" {
		t.Fatalf("change: %d at %s\n%s", p.status, p.url, p.body)
	}
	mustContain(t, p, "Your password is changed")
	// This browser stays signed in; the other session has ended.
	if p := here.get("/portal/apps"); p.url != "/portal/apps" {
		t.Errorf("this browser after the change is at %s", p.url)
	}
	if p := elsewhere.get("/portal/apps"); p.url != "/portal/signin" {
		t.Errorf("the other session after the change is at %s, want the sign-in page", p.url)
	}
	if p := signin(e.browser(), email, oldPW); p.url == "/portal/apps" {
		t.Error("the old password still signs in")
	}
	if p := signin(e.browser(), email, newPW); p.url != "/portal/apps" {
		t.Errorf("the new password does not sign in: %s", p.url)
	}
	if n := len(e.mails(email, mail.KindReset)); n != 0 {
		t.Errorf("%d reset mails", n)
	}
}

// The current-password check counts towards the sign-in lockout: guessing
// it from a stolen session locks the account.
func TestChangePasswordLockout(t *testing.T) {
	e := newEnv(t)
	const email, pw = "li@acme.example", "correct horse battery"
	b := e.browser()
	b.signup("Acme Pay", email)
	tok := b.csrf("/portal/account")
	var p page
	for i := range 6 {
		p = b.post("/portal/account/password", url.Values{"csrf_token": {tok}, "current": {"guess number " + string(rune('a'+i))}, "password": {"a much better passphrase"}})
	}
	mustContain(t, p, "locked")
	p = b.post("/portal/account/password", url.Values{"csrf_token": {tok}, "current": {pw}, "password": {"a much better passphrase"}})
	if p.status != http.StatusUnauthorized {
		t.Errorf("right current password while locked: %d, want 401", p.status)
	}
	mustContain(t, signin(e.browser(), email, pw), "locked")
}
