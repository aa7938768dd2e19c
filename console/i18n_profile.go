package console

// profileMessages are the texts of a partner's onboarding profile
// (partners.Profile) on the approvals and partners pages.
var profileMessages = map[lang]map[string]string{
	langEN: {
		"profile.of":         "Onboarding details of %s",
		"profile.legalName":  "Legal name",
		"profile.creditCode": "Unified social credit code",
		"profile.contact":    "Contact",
		"profile.website":    "Website",
		"profile.purpose":    "Intended use",
		"profile.updated":    "Details last changed",
		"profile.none":       "No onboarding details yet: the partner's owners fill them in on the portal's Organisation page.",
	},
	langZH: {
		"profile.of":         "%s 的入驻申请信息",
		"profile.legalName":  "法定名称",
		"profile.creditCode": "统一社会信用代码",
		"profile.contact":    "联系人",
		"profile.website":    "网站",
		"profile.purpose":    "拟使用用途",
		"profile.updated":    "信息最近修改",
		"profile.none":       "尚无入驻申请信息：由合作方的所有者在门户的“机构”页面填写。",
	},
}
