package console_test

import (
	"context"
	"testing"

	"github.com/obhub/obhub/console"
	"github.com/obhub/obhub/partners"
)

// The approvals queue shows what a pending partner told the alliance
// about itself, so that the operator sees what they approve; a bank
// admin sees only the partners of its scope.
func TestApprovalsShowProfile(t *testing.T) {
	e := newEnv(t)
	if _, err := e.store.SetPartnerProfile(context.Background(), "green-valley", partners.Profile{
		LegalName: "青谷金融科技有限公司", CreditCode: "91350100M000100Y43", ContactName: "李明",
		ContactPhone: "13812345678", Website: "https://green.example", Purpose: "Loan pre-checks for farmers",
	}); err != nil {
		t.Fatal(err)
	}
	admin := e.operator("admin@alliance.example", console.RoleAllianceAdmin, "")
	p := admin.get("/console/approvals")
	mustContain(t, p, `id="partner-green-valley-profile"`, "青谷金融科技有限公司", "91350100M000100Y43",
		"李明 · 13812345678", "https://green.example", "Loan pre-checks for farmers", "Onboarding details of Green Valley Fintech",
		`id="partner-river-pay-profile"`, "No onboarding details yet")
	mustContain(t, admin.get("/console/approvals?lang=zh"), "统一社会信用代码", "拟使用用途")
	mustContain(t, admin.get("/console/partners?lang=en"), "青谷金融科技有限公司")

	bank := e.operator("staff@hexi.example", console.RoleBankAdmin, "hexi-bank")
	p = bank.get("/console/approvals")
	mustContain(t, p, "River Pay", "No onboarding details yet")
	mustNotContain(t, p, "青谷金融科技有限公司", "91350100M000100Y43", "13812345678")
}
