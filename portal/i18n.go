package portal

import (
	"fmt"
	"github.com/obhub/obhub/internal/websession"
	"net/http"
	"time"
)

// lang is the language a page is shown in: "en" or "zh" (Simplified
// Chinese). Visitors switch with ?lang=, remembered in a cookie; the
// first visit follows Accept-Language.
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

// T translates key, formatting args into it. A key missing in Chinese
// falls back to English, and a missing key shows itself (tests catch it).
func (l lang) T(key string, args ...any) string {
	s, ok := lookup(l, key) // team_i18n.go
	if !ok {
		if s, ok = lookup(langEN, key); !ok {
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

var messages = map[lang]map[string]string{
	langEN: {
		"site.name":            "obhub developer portal",
		"skip":                 "Skip to main content",
		"nav.label":            "Main",
		"nav.home":             "Home",
		"nav.apis":             "APIs",
		"nav.apps":             "My apps",
		"nav.signin":           "Sign in",
		"nav.signup":           "Sign up",
		"nav.signout":          "Sign out",
		"nav.lang":             "Language",
		"signed.in.as":         "Signed in as %s (%s)",
		"home.title":           "Build on the rural banks' open APIs",
		"home.lead":            "One alliance hub, many member banks: browse their APIs, create a sandbox app in a minute, and request production access when your organisation is approved.",
		"home.start":           "Create a developer account",
		"home.browse":          "Browse the APIs",
		"home.org":             "Your organisation",
		"home.org.pending":     "%s is waiting for approval by an alliance operator. You can use the sandbox now; production apps open once approved.",
		"home.org.approved":    "%s is approved: you can create production apps.",
		"home.steps":           "Your first day",
		"home.step1":           "Read an API's reference in the catalog.",
		"home.step2":           "Create a sandbox app and copy its credentials (shown once).",
		"home.step3":           "Subscribe the app to a product, get a token and call the sandbox.",
		"signup.title":         "Create a developer account",
		"signup.lead":          "Your organisation is registered as a fintech partner, pending approval by the alliance. The sandbox is open at once.",
		"signup.org":           "Organisation name",
		"signup.name":          "Your name",
		"signup.email":         "E-mail address",
		"signup.password":      "Password",
		"signup.password.help": "At least 10 characters.",
		"signup.submit":        "Create account",
		"signup.have":          "Already registered?",
		"signin.title":         "Sign in",
		"signin.submit":        "Sign in",
		"signin.new":           "New here?",
		"err.required":         "%s is required.",
		"err.email":            "Enter a valid e-mail address.",
		"err.password":         "The password must be 10 to 128 characters long.",
		"err.taken":            "An account with this e-mail address already exists.",
		"err.signin":           "The e-mail address or password is wrong.",
		"err.locked":           "Too many failed attempts: this account is locked for 15 minutes.",
		"err.csrf":             "This form has expired or did not come from this site. Reload the page and try again.",
		"err.notfound":         "Page not found",
		"err.notfound.lead":    "There is nothing here, or it is not yours to see.",
		"err.unavailable":      "The portal cannot reach its store right now. Try again in a moment.",
		"err.internal":         "Something went wrong on our side. Try again; if it persists, tell the alliance operator.",
		"err.title":            "Error",
		"err.form":             "The form has problems:",
		"apis.title":           "API catalog",
		"apis.lead":            "Published APIs of the alliance's member banks. Public APIs are readable by everyone; alliance and private APIs only by the member banks allowed to use them.",
		"apis.none":            "No API is published yet.",
		"apis.bank":            "Bank",
		"apis.name":            "API",
		"apis.version":         "Version",
		"apis.ops":             "Operations",
		"apis.status":          "Status",
		"apis.visibility":      "Visibility",
		"status.published":     "published",
		"status.deprecated":    "deprecated",
		"vis.public":           "public",
		"vis.alliance":         "alliance",
		"vis.private":          "private",
		"api.urls":             "Base URLs",
		"api.production":       "Production",
		"api.sandbox":          "Sandbox",
		"api.sunset":           "Deprecated: this API stops answering on %s.",
		"api.deprecated":       "Deprecated: plan to move off this API.",
		"api.operations":       "Operations",
		"api.op.scopes":        "Scopes",
		"api.op.none":          "none (subscription only)",
		"api.params":           "Parameters",
		"api.param.name":       "Name",
		"api.param.in":         "In",
		"api.param.type":       "Type",
		"api.param.required":   "Required",
		"api.param.desc":       "Description",
		"api.yes":              "yes",
		"api.no":               "no",
		"api.body":             "Request body",
		"api.responses":        "Responses",
		"api.resp.status":      "Status",
		"api.field":            "Field",
		"api.toc":              "On this page",
		"api.spec.bad":         "The stored document could not be read; the operations list above is what the gateway routes.",
		"apps.title":           "My apps",
		"apps.lead":            "Sandbox apps work at once with generated data. Production apps call the banks' real systems and need an approved organisation.",
		"apps.none":            "You have no app yet.",
		"apps.name":            "App name",
		"apps.env":             "Environment",
		"apps.client":          "Client ID",
		"apps.created":         "Created",
		"apps.new.sandbox":     "Create a sandbox app",
		"apps.new.prod":        "Create a production app",
		"apps.create":          "Create app",
		"apps.prod.pending":    "Production apps are available once an alliance operator approves %s. Your request is pending.",
		"apps.secret.title":    "Your app's credentials",
		"apps.secret.once":     "Copy the client secret now: it is shown only this once and cannot be shown again.",
		"apps.secret":          "Client secret",
		"apps.copy":            "Copy",
		"apps.copied":          "Copied",
		"apps.token":           "Get a token",
		"env.sandbox":          "sandbox",
		"env.production":       "production",
		"app.title":            "App %s",
		"app.details":          "Details",
		"app.auth":             "Token endpoint authentication",
		"app.grants":           "Grant types",
		"app.scopes":           "Scopes",
		"app.subs":             "Subscriptions",
		"app.subs.none":        "Not subscribed to any product yet: calls are refused until it is.",
		"app.product":          "Product",
		"app.substatus":        "Status",
		"app.approval":         "Approval",
		"app.subscribe":        "Subscribe",
		"app.subscribe.to":     "Subscribe to a product",
		"app.subscribed":       "Subscription to %s: %s.",
		"approval.auto":        "automatic",
		"approval.manual":      "by an operator",
		"sub.active":           "active",
		"sub.pending":          "pending approval",
		"sub.rejected":         "rejected",
		"app.back":             "Back to my apps",
		"footer":               "obhub — open banking hub for alliances of rural banks",
	},
	langZH: {
		"site.name":            "obhub 开发者门户",
		"skip":                 "跳到主要内容",
		"nav.label":            "主导航",
		"nav.home":             "首页",
		"nav.apis":             "API 目录",
		"nav.apps":             "我的应用",
		"nav.signin":           "登录",
		"nav.signup":           "注册",
		"nav.signout":          "退出",
		"nav.lang":             "语言",
		"signed.in.as":         "已登录：%s（%s）",
		"home.title":           "基于农村银行开放 API 构建服务",
		"home.lead":            "一个联盟平台，连接多家成员银行：浏览它们的 API，一分钟内创建沙箱应用，机构获批后申请生产接入。",
		"home.start":           "注册开发者账号",
		"home.browse":          "浏览 API",
		"home.org":             "您的机构",
		"home.org.pending":     "%s 正在等待联盟运营方审批。您现在即可使用沙箱；获批后可创建生产应用。",
		"home.org.approved":    "%s 已获批准：可以创建生产应用。",
		"home.steps":           "第一天",
		"home.step1":           "在目录中阅读 API 参考文档。",
		"home.step2":           "创建沙箱应用并复制凭证（仅显示一次）。",
		"home.step3":           "为应用订阅产品，获取令牌并调用沙箱。",
		"signup.title":         "注册开发者账号",
		"signup.lead":          "您的机构将登记为金融科技合作方，等待联盟审批。沙箱立即可用。",
		"signup.org":           "机构名称",
		"signup.name":          "您的姓名",
		"signup.email":         "电子邮箱",
		"signup.password":      "密码",
		"signup.password.help": "至少 10 个字符。",
		"signup.submit":        "注册",
		"signup.have":          "已有账号？",
		"signin.title":         "登录",
		"signin.submit":        "登录",
		"signin.new":           "还没有账号？",
		"err.required":         "请填写%s。",
		"err.email":            "请输入有效的电子邮箱。",
		"err.password":         "密码长度须为 10 至 128 个字符。",
		"err.taken":            "该电子邮箱已注册。",
		"err.signin":           "电子邮箱或密码错误。",
		"err.locked":           "失败次数过多：该账号已锁定 15 分钟。",
		"err.csrf":             "表单已过期或并非来自本站。请刷新页面后重试。",
		"err.notfound":         "页面不存在",
		"err.notfound.lead":    "这里没有内容，或您无权查看。",
		"err.unavailable":      "门户暂时无法访问存储，请稍后重试。",
		"err.internal":         "服务端出现问题。请重试；如仍然失败，请联系联盟运营方。",
		"err.title":            "错误",
		"err.form":             "表单有以下问题：",
		"apis.title":           "API 目录",
		"apis.lead":            "联盟成员银行已发布的 API。公开 API 所有人可读；联盟和私有 API 仅对获准使用的成员银行可见。",
		"apis.none":            "尚未发布任何 API。",
		"apis.bank":            "银行",
		"apis.name":            "API",
		"apis.version":         "版本",
		"apis.ops":             "操作数",
		"apis.status":          "状态",
		"apis.visibility":      "可见范围",
		"status.published":     "已发布",
		"status.deprecated":    "已弃用",
		"vis.public":           "公开",
		"vis.alliance":         "联盟",
		"vis.private":          "私有",
		"api.urls":             "基础地址",
		"api.production":       "生产",
		"api.sandbox":          "沙箱",
		"api.sunset":           "已弃用：该 API 将于 %s 停止服务。",
		"api.deprecated":       "已弃用：请计划迁移。",
		"api.operations":       "操作",
		"api.op.scopes":        "权限范围",
		"api.op.none":          "无（仅需订阅）",
		"api.params":           "参数",
		"api.param.name":       "名称",
		"api.param.in":         "位置",
		"api.param.type":       "类型",
		"api.param.required":   "必填",
		"api.param.desc":       "说明",
		"api.yes":              "是",
		"api.no":               "否",
		"api.body":             "请求体",
		"api.responses":        "响应",
		"api.resp.status":      "状态码",
		"api.field":            "字段",
		"api.toc":              "本页内容",
		"api.spec.bad":         "无法读取已存储的文档；上方操作列表即网关路由的内容。",
		"apps.title":           "我的应用",
		"apps.lead":            "沙箱应用立即可用，返回模拟数据。生产应用调用银行真实系统，需机构获批。",
		"apps.none":            "您还没有应用。",
		"apps.name":            "应用名称",
		"apps.env":             "环境",
		"apps.client":          "客户端 ID",
		"apps.created":         "创建时间",
		"apps.new.sandbox":     "创建沙箱应用",
		"apps.new.prod":        "创建生产应用",
		"apps.create":          "创建应用",
		"apps.prod.pending":    "联盟运营方批准 %s 后即可创建生产应用。您的申请正在审批中。",
		"apps.secret.title":    "应用凭证",
		"apps.secret.once":     "请立即复制客户端密钥：仅显示这一次，之后无法再次查看。",
		"apps.secret":          "客户端密钥",
		"apps.copy":            "复制",
		"apps.copied":          "已复制",
		"apps.token":           "获取令牌",
		"env.sandbox":          "沙箱",
		"env.production":       "生产",
		"app.title":            "应用 %s",
		"app.details":          "详情",
		"app.auth":             "令牌端点认证方式",
		"app.grants":           "授权类型",
		"app.scopes":           "权限范围",
		"app.subs":             "订阅",
		"app.subs.none":        "尚未订阅任何产品：订阅前调用会被拒绝。",
		"app.product":          "产品",
		"app.substatus":        "状态",
		"app.approval":         "审批方式",
		"app.subscribe":        "订阅",
		"app.subscribe.to":     "订阅产品",
		"app.subscribed":       "订阅 %s：%s。",
		"approval.auto":        "自动",
		"approval.manual":      "运营方审批",
		"sub.active":           "已生效",
		"sub.pending":          "待审批",
		"sub.rejected":         "已拒绝",
		"app.back":             "返回我的应用",
		"footer":               "obhub — 农村银行联盟开放银行平台",
	},
}
