package console

import (
	"strings"

	"github.com/obhub/obhub/audit"
)

// changeLabel names what an administrative record did in the page
// language (audit.Record.Verb: "create", "publish", "rotate_secret", …),
// followed by the reason of a refusal when the record keeps one apart
// from its verb (the admin API's problem type). A verb without a text
// shows itself, underscores as spaces.
func changeLabel(l lang, rec audit.Record) string {
	verb := rec.Verb()
	var c texts
	s, ok := c.Text(string(l), "verb."+verb)
	if !ok {
		if s, ok = c.Text(string(langEN), "verb."+verb); !ok {
			s = strings.ReplaceAll(verb, "_", " ")
		}
	}
	if rec.Reason != "" && rec.Reason != verb {
		s += " (" + rec.Reason + ")"
	}
	return s
}

// verbMessages name the verbs of change records (see changeLabel).
var verbMessages = map[lang]map[string]string{
	langEN: {
		"verb.create":            "create",
		"verb.update":            "update",
		"verb.delete":            "delete",
		"verb.publish":           "publish",
		"verb.deprecate":         "deprecate",
		"verb.retire":            "retire",
		"verb.approve":           "approve",
		"verb.reject":            "reject",
		"verb.retry":             "send again",
		"verb.rotate_secret":     "rotate secret",
		"verb.suspend":           "suspend",
		"verb.reactivate":        "reactivate",
		"verb.password":          "reset password",
		"verb.disable":           "disable",
		"verb.enable":            "enable",
		"verb.signup":            "sign up",
		"verb.subscribe":         "subscribe",
		"verb.profile":           "onboarding details",
		"verb.invite":            "invite",
		"verb.accept_invitation": "accept invitation",
		"verb.remove_member":     "remove member",
		"verb.set_role":          "change role",
		"verb.verify_email":      "verify e-mail address",
		"verb.reset_password":    "reset password",
		"verb.change_password":   "change password",
		"verb.issue":             "issue",
		"verb.revoke":            "revoke",
		"verb.client_register":   "register client",
		"verb.client_update":     "update client",
		"verb.client_delete":     "delete client",
	},
	langZH: {
		"verb.create":            "创建",
		"verb.update":            "修改",
		"verb.delete":            "删除",
		"verb.publish":           "发布",
		"verb.deprecate":         "弃用",
		"verb.retire":            "下线",
		"verb.approve":           "批准",
		"verb.reject":            "拒绝",
		"verb.retry":             "重新发送",
		"verb.rotate_secret":     "轮换密钥",
		"verb.suspend":           "暂停",
		"verb.reactivate":        "恢复",
		"verb.password":          "重置密码",
		"verb.disable":           "停用",
		"verb.enable":            "启用",
		"verb.signup":            "注册",
		"verb.subscribe":         "订阅",
		"verb.profile":           "入驻信息",
		"verb.invite":            "邀请",
		"verb.accept_invitation": "接受邀请",
		"verb.remove_member":     "移除成员",
		"verb.set_role":          "修改角色",
		"verb.verify_email":      "验证电子邮件地址",
		"verb.reset_password":    "重置密码",
		"verb.change_password":   "修改密码",
		"verb.issue":             "签发",
		"verb.revoke":            "吊销",
		"verb.client_register":   "注册客户端",
		"verb.client_update":     "修改客户端",
		"verb.client_delete":     "删除客户端",
	},
}
