package config_test

import (
	"context"
	"testing"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/partners"
)

// SetPartnerProfile stores a normalised profile, changes nothing else of
// the partner, and writes nothing when the profile is invalid.
func TestSetPartnerProfile(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	must[*partners.Partner](t)(s.CreatePartner(ctx, partners.Partner{ID: "acme", Name: "Acme Pay", Kind: partners.KindFintech}))
	approved := must[*partners.Partner](t)(s.ApprovePartner(ctx, "acme"))

	p := must[*partners.Partner](t)(s.SetPartnerProfile(ctx, "acme", partners.Profile{
		LegalName: "  Acme Payments Ltd ", CreditCode: "91350100m000100y43", ContactName: "Li Ming",
		ContactPhone: "13812345678", Purpose: "Account information\r\nfor merchants", UpdatedAt: t0.AddDate(-1, 0, 0),
	}))
	pr := p.Profile
	if pr.LegalName != "Acme Payments Ltd" || pr.CreditCode != "91350100M000100Y43" || pr.Purpose != "Account information\nfor merchants" {
		t.Errorf("stored profile not normalised: %+v", pr)
	}
	if !pr.UpdatedAt.After(t0) {
		t.Errorf("profile time %v: the store's clock, not the caller's, stamps it", pr.UpdatedAt)
	}
	if p.Status != partners.PartnerApproved || !p.ApprovedAt.Equal(approved.ApprovedAt) || p.Name != "Acme Pay" {
		t.Errorf("setting the profile changed the partner: %+v", p)
	}

	_, err := s.SetPartnerProfile(ctx, "acme", partners.Profile{CreditCode: "91350100M000100Y44", ContactPhone: "13812345678"})
	if obhub.ErrorCode(err) != obhub.EINVALID {
		t.Fatalf("wrong check character: %v, want EINVALID", err)
	}
	if got := must[*partners.Partner](t)(s.Partner(ctx, "acme")); got.Profile.CreditCode != "91350100M000100Y43" || got.Profile.LegalName == "" {
		t.Errorf("a refused profile was written: %+v", got.Profile)
	}
	if _, err := s.SetPartnerProfile(ctx, "nobody", partners.Profile{}); obhub.ErrorCode(err) != obhub.ENOTFOUND {
		t.Errorf("unknown partner: %v, want ENOTFOUND", err)
	}
}
