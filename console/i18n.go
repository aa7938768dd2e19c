package console

import (
	"fmt"
	"github.com/obhub/obhub/internal/websession"
	"net/http"
	"time"
)

// lang is the language a page is shown in: "en" or "zh" (Simplified
// Chinese), switched with ?lang= and remembered in a cookie.
type lang string

const (
	langEN lang = websession.LangEN
	langZH lang = websession.LangZH
)

// HTML is the value of the html element's lang attribute.
func (l lang) HTML() string {
	if l == langZH {
		return "zh-Hans"
	}
	return "en"
}

// Other is the language the switch offers.
func (l lang) Other() lang {
	if l == langZH {
		return langEN
	}
	return langZH
}

// Name is the language's name in itself.
func (l lang) Name() string {
	if l == langZH {
		return "简体中文"
	}
	return "English"
}

// T translates key; a key missing in Chinese falls back to English, a
// missing key shows itself (the tests catch it).
func (l lang) T(key string, args ...any) string {
	s, ok := messages[l][key]
	if !ok {
		if s, ok = messages[langEN][key]; !ok {
			return key
		}
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

// pickLang chooses the page language and remembers an explicit choice.
func (h *Handler) pickLang(w http.ResponseWriter, r *http.Request) lang {
	l, explicit := websession.NegotiateLang(r, langCookie)
	if explicit {
		http.SetCookie(w, h.cookie(r, langCookie, l, 365*24*time.Hour))
	}
	return lang(l)
}

// messages are the console's texts: the first pages' (baseMessages) and
// the pages added after (i18n_pages.go).
var messages = mergeMessages(baseMessages, pageMessages, profileMessages)

func mergeMessages(sets ...map[lang]map[string]string) map[lang]map[string]string {
	out := map[lang]map[string]string{}
	for _, set := range sets {
		for l, m := range set {
			if out[l] == nil {
				out[l] = map[string]string{}
			}
			for k, v := range m {
				out[l][k] = v
			}
		}
	}
	return out
}

var baseMessages = map[lang]map[string]string{
	langEN: {
		"site.name":                  "obhub console",
		"skip":                       "Skip to main content",
		"nav.label":                  "Console",
		"nav.approvals":              "Approvals",
		"nav.partners":               "Partners",
		"nav.apis":                   "APIs",
		"nav.audit":                  "Audit",
		"nav.reports":                "Reports",
		"nav.signin":                 "Sign in",
		"nav.signout":                "Sign out",
		"signed.in.as":               "%s (%s)",
		"role.alliance-admin":        "alliance admin",
		"role.bank-admin":            "bank admin, %s",
		"role.auditor":               "compliance auditor",
		"role.auditor.bank":          "compliance auditor, %s",
		"roleopt.alliance-admin":     "Alliance admin: everything",
		"roleopt.bank-admin":         "Bank admin: one bank's APIs, approvals and audit",
		"roleopt.auditor":            "Compliance auditor: read-only audit and reports",
		"footer":                     "obhub admin console: operators only. Every change is recorded in the audit log.",
		"signin.title":               "Operator sign-in",
		"signin.lead":                "For alliance and bank staff. Partners and developers sign in to the developer portal instead.",
		"signin.submit":              "Sign in",
		"signin.setup":               "First time? Create an operator with the admin token:",
		"field.email":                "E-mail address",
		"field.password":             "Password",
		"field.name":                 "Full name",
		"field.role":                 "Role",
		"field.bank":                 "Bank",
		"field.token":                "Admin token",
		"field.token.hint":           "The admin API's bearer token, printed at the first start or set with OBHUB_ADMIN_TOKEN.",
		"field.bank.hint":            "Required for a bank admin; optional for an auditor (empty: every bank).",
		"setup.title":                "Create an operator",
		"setup.lead":                 "Anyone holding the admin token already controls the hub; this form turns it into named operator accounts with narrower roles.",
		"setup.submit":               "Create operator",
		"setup.done":                 "Operator %s created. They can sign in now.",
		"approvals.title":            "Approvals",
		"approvals.partners":         "Partners waiting for approval",
		"approvals.partners.none":    "No partner is waiting.",
		"approvals.subs":             "Subscriptions waiting for approval",
		"approvals.subs.none":        "No subscription is waiting.",
		"approvals.partner.approved": "%s is approved: it may now create production apps.",
		"approvals.partner.rejected": "%s was rejected and removed.",
		"approvals.sub.approved":     "The subscription of %s to %s is active.",
		"approvals.sub.rejected":     "The subscription of %s to %s was rejected.",
		"action.approve":             "Approve",
		"action.reject":              "Reject",
		"action.publish":             "Publish",
		"action.deprecate":           "Deprecate",
		"action.retire":              "Retire",
		"action.search":              "Search",
		"action.show":                "Show",
		"col.partner":                "Partner",
		"col.id":                     "Id",
		"col.kind":                   "Kind",
		"col.status":                 "Status",
		"col.created":                "Signed up",
		"col.requested":              "Requested",
		"col.apps":                   "Apps",
		"col.products":               "Products",
		"col.app":                    "App",
		"col.product":                "Product",
		"col.actions":                "Actions",
		"col.api":                    "API",
		"col.bank":                   "Bank",
		"col.version":                "Version",
		"col.visibility":             "Visibility",
		"col.base":                   "Base path",
		"col.time":                   "Time (UTC)",
		"col.request":                "Request",
		"col.decision":               "Decision",
		"col.category":               "Category",
		"col.calls":                  "Calls",
		"col.errors":                 "Errors",
		"col.denials":                "Denials",
		"col.p95":                    "p95 latency (ms)",
		"col.key":                    "Group",
		"partners.title":             "Partners",
		"partners.none":              "No partner to show.",
		"apis.title":                 "APIs",
		"apis.none":                  "No API to show.",
		"apis.sunset":                "Sunset date",
		"apis.done.publish":          "%s is published.",
		"apis.done.deprecate":        "%s is deprecated.",
		"apis.done.retire":           "%s is retired: it is no longer routed.",
		"audit.title":                "Audit search",
		"audit.none":                 "No record matches.",
		"audit.more":                 "Only the newest 100 records are shown: narrow the search to see older ones.",
		"audit.scope":                "Only %s's records are searched.",
		"filter.from":                "From (YYYY-MM-DD)",
		"filter.to":                  "To (YYYY-MM-DD)",
		"filter.by":                  "Group by",
		"reports.title":              "Usage report",
		"reports.total":              "Total",
		"reports.none":               "No API call in this period.",
		"by.partner":                 "partner",
		"by.app":                     "app",
		"by.bank":                    "bank",
		"by.api":                     "API",
		"by.day":                     "day",
		"by.month":                   "month",
		"err.form":                   "Please correct the following:",
		"err.title":                  "Something went wrong",
		"err.notfound":               "Not found",
		"err.notfound.lead":          "There is nothing here, or it is outside what your role may see.",
		"err.unavailable":            "A store the console needs is not answering. Try again in a moment.",
		"err.internal":               "An internal error occurred; it has been logged.",
		"err.csrf":                   "The form expired or did not come from this console. Go back, reload the page and try again.",
		"err.signin":                 "The e-mail address or password is not correct.",
		"err.locked":                 "Too many failed sign-ins: this account is locked for 15 minutes.",
		"err.required":               "%s is required.",
		"err.email":                  "Enter a valid e-mail address.",
		"err.password":               "The password must be 10 to 128 characters long.",
		"err.token":                  "The admin token is not correct.",
		"err.role":                   "Choose a role.",
		"err.bank":                   "There is no bank with this id.",
		"err.taken":                  "An operator with this e-mail address already exists.",
		"err.status":                 "The status must be an HTTP status from 100 to 599.",
		"err.date":                   "Dates are written YYYY-MM-DD.",
		"err.by":                     "Unknown grouping.",
	},
	langZH: {
		"site.name":                  "obhub 管理控制台",
		"skip":                       "跳到主要内容",
		"nav.label":                  "控制台",
		"nav.approvals":              "审批",
		"nav.partners":               "合作方",
		"nav.apis":                   "API",
		"nav.audit":                  "审计",
		"nav.reports":                "报表",
		"nav.signin":                 "登录",
		"nav.signout":                "退出",
		"role.alliance-admin":        "联盟管理员",
		"role.bank-admin":            "银行管理员，%s",
		"role.auditor":               "合规审计员",
		"role.auditor.bank":          "合规审计员，%s",
		"roleopt.alliance-admin":     "联盟管理员：全部权限",
		"roleopt.bank-admin":         "银行管理员：本行的 API、审批和审计",
		"roleopt.auditor":            "合规审计员：只读审计和报表",
		"footer":                     "obhub 管理控制台：仅限运营人员。每项变更都记入审计日志。",
		"signin.title":               "运营人员登录",
		"signin.lead":                "供联盟和银行工作人员使用。合作方和开发者请在开发者门户登录。",
		"signin.submit":              "登录",
		"signin.setup":               "首次使用？用管理令牌创建运营人员：",
		"field.email":                "电子邮箱",
		"field.password":             "密码",
		"field.name":                 "姓名",
		"field.role":                 "角色",
		"field.bank":                 "银行",
		"field.token":                "管理令牌",
		"field.token.hint":           "管理 API 的 Bearer 令牌，首次启动时打印，或由 OBHUB_ADMIN_TOKEN 设置。",
		"field.bank.hint":            "银行管理员必填；审计员可选（留空：所有银行）。",
		"setup.title":                "创建运营人员",
		"setup.lead":                 "持有管理令牌者已可控制整个平台；此表单将其转为权限更窄的具名运营账户。",
		"setup.submit":               "创建运营人员",
		"setup.done":                 "已创建运营人员 %s，现在即可登录。",
		"approvals.title":            "审批",
		"approvals.partners":         "待审批的合作方",
		"approvals.partners.none":    "没有待审批的合作方。",
		"approvals.subs":             "待审批的订阅",
		"approvals.subs.none":        "没有待审批的订阅。",
		"approvals.partner.approved": "已批准 %s：现在可以创建生产应用。",
		"approvals.partner.rejected": "已拒绝并删除 %s。",
		"approvals.sub.approved":     "%s 对 %s 的订阅已生效。",
		"approvals.sub.rejected":     "已拒绝 %s 对 %s 的订阅。",
		"action.approve":             "批准",
		"action.reject":              "拒绝",
		"action.publish":             "发布",
		"action.deprecate":           "弃用",
		"action.retire":              "下线",
		"action.search":              "搜索",
		"action.show":                "显示",
		"col.partner":                "合作方",
		"col.id":                     "标识",
		"col.kind":                   "类型",
		"col.status":                 "状态",
		"col.created":                "注册日期",
		"col.requested":              "申请日期",
		"col.apps":                   "应用",
		"col.products":               "产品",
		"col.app":                    "应用",
		"col.product":                "产品",
		"col.actions":                "操作",
		"col.api":                    "API",
		"col.bank":                   "银行",
		"col.version":                "版本",
		"col.visibility":             "可见范围",
		"col.base":                   "基础路径",
		"col.time":                   "时间（UTC）",
		"col.request":                "请求",
		"col.decision":               "决定",
		"col.category":               "类别",
		"col.calls":                  "调用",
		"col.errors":                 "错误",
		"col.denials":                "拒绝",
		"col.p95":                    "p95 延迟（毫秒）",
		"col.key":                    "分组",
		"partners.title":             "合作方",
		"partners.none":              "没有可显示的合作方。",
		"apis.title":                 "API",
		"apis.none":                  "没有可显示的 API。",
		"apis.sunset":                "停用日期",
		"apis.done.publish":          "%s 已发布。",
		"apis.done.deprecate":        "%s 已弃用。",
		"apis.done.retire":           "%s 已下线，不再路由。",
		"audit.title":                "审计查询",
		"audit.none":                 "没有匹配的记录。",
		"audit.more":                 "仅显示最新的 100 条记录：请缩小查询范围查看更早的记录。",
		"audit.scope":                "只查询 %s 的记录。",
		"filter.from":                "起始日期（YYYY-MM-DD）",
		"filter.to":                  "截止日期（YYYY-MM-DD）",
		"filter.by":                  "分组方式",
		"reports.title":              "用量报表",
		"reports.total":              "合计",
		"reports.none":               "此期间没有 API 调用。",
		"by.partner":                 "合作方",
		"by.app":                     "应用",
		"by.bank":                    "银行",
		"by.api":                     "API",
		"by.day":                     "日",
		"by.month":                   "月",
		"err.form":                   "请更正以下内容：",
		"err.title":                  "出错了",
		"err.notfound":               "未找到",
		"err.notfound.lead":          "此处没有内容，或超出了您的角色可查看的范围。",
		"err.unavailable":            "控制台所需的存储暂时无响应，请稍后再试。",
		"err.internal":               "发生内部错误，已记录。",
		"err.csrf":                   "表单已过期或并非来自本控制台。请返回、刷新页面后重试。",
		"err.signin":                 "电子邮箱或密码不正确。",
		"err.locked":                 "登录失败次数过多：此账户已锁定 15 分钟。",
		"err.required":               "%s为必填项。",
		"err.email":                  "请输入有效的电子邮箱。",
		"err.password":               "密码长度须为 10 到 128 个字符。",
		"err.token":                  "管理令牌不正确。",
		"err.role":                   "请选择角色。",
		"err.bank":                   "没有此标识的银行。",
		"err.taken":                  "已存在使用此电子邮箱的运营人员。",
		"err.status":                 "状态须为 100 到 599 之间的 HTTP 状态码。",
		"err.date":                   "日期格式为 YYYY-MM-DD。",
		"err.by":                     "未知的分组方式。",
	},
}
