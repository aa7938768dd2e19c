package catalog

import (
	"net/netip"
	"testing"

	"github.com/obhub/obhub"
)

func TestPolicyValidation(t *testing.T) {
	ds := CheckPolicies(nil, "maybe",
		&CORS{AllowOrigins: []string{"*", "https://App.example/x"}, AllowCredentials: true},
		&IPRules{Allow: []string{"10.0.0.0/8", "nonsense"}, Deny: []string{"300.1.1.1"}})
	want := map[string]bool{"/validation": true, "/cors/allowOrigins/0": true, "/cors/allowOrigins/1": true, "/ipRules/allow/1": true, "/ipRules/deny/0": true}
	for _, d := range ds {
		delete(want, d.Location)
	}
	if len(want) > 0 {
		t.Fatalf("missing problems %v in %+v", want, ds)
	}
	b := Bank{ID: "b", Name: "B", Limits: &BankLimits{Rate: &Limit{}, MaxInFlight: -1}}
	if err := b.Validate(); len(obhub.ErrorDetails(err)) != 3 {
		t.Fatalf("bank limits: %+v", obhub.ErrorDetails(err))
	}
	p := Product{ID: "p", Name: "P", APIs: []string{"a"}, Approval: ApprovalAuto,
		Plan: Plan{Operations: []OperationLimit{{API: "a", Operation: "x", Rate: Limit{Limit: 1, Period: obhub.Duration(1e9)}}, {API: "a", Operation: "x"}}}}
	if err := p.Validate(); len(obhub.ErrorDetails(err)) != 3 {
		t.Fatalf("operation overrides: %+v", obhub.ErrorDetails(err))
	}
}

func TestIPRules(t *testing.T) {
	r := &IPRules{Allow: []string{"10.0.0.0/8"}, Deny: []string{"10.9.0.0/16"}}
	for ip, want := range map[string]bool{"10.1.1.1": true, "10.9.1.1": false, "192.0.2.1": false, "::ffff:10.1.1.1": true} {
		if got := r.Admits(netip.MustParseAddr(ip)); got != want {
			t.Errorf("%s: %v, want %v", ip, got, want)
		}
	}
	if !(*IPRules)(nil).Admits(netip.MustParseAddr("192.0.2.1")) {
		t.Error("no rules admit everyone")
	}
}
