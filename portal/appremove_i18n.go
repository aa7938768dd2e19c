package portal

// appMessages are the texts of cancelling subscriptions, deleting apps
// (appremove.go) and of a suspended app, kept apart from messages
// (i18n.go); lang.T looks in every table.
var appMessages = map[lang]map[string]string{
	langEN: {
		"confirm.back": "Back to the app",
		"confirm.keep": "No, keep it",

		"unsub.link":       "Cancel subscription",
		"unsub.link.of":    "Cancel the subscription to %s",
		"unsub.title":      "Cancel the subscription to %s of %s?",
		"unsub.stop":       "The app's calls to the APIs of %s stop at once: from the moment you confirm, the gateway refuses them.",
		"unsub.again":      "You may subscribe again later; a product that needs the alliance's approval needs it again.",
		"unsub.apis":       "APIs the app can no longer call",
		"unsub.button":     "Cancel the subscription",
		"app.unsubscribed": "The subscription to %s is cancelled: the gateway refuses the app's calls to its APIs from now on.",

		"delete.heading":   "Delete this app",
		"delete.help":      "Deleting the app ends its subscriptions, and its credentials stop working at once. You are asked to confirm first.",
		"delete.link":      "Delete app…",
		"delete.title":     "Delete the app %s?",
		"delete.creds":     "Its client ID and credentials stop working at once: the token endpoint refuses them, and the gateway refuses the tokens already issued to it.",
		"delete.prod":      "This is a production app: its calls to the banks' real systems stop, for every customer who uses it.",
		"delete.undo":      "This cannot be undone. A new app gets a new client ID and new credentials.",
		"delete.subs":      "Subscriptions that end with it",
		"delete.subs.none": "It has no subscriptions.",
		"delete.sub":       "%s (%s)",
		"delete.button":    "Delete the app",
		"apps.deleted":     "The app is deleted: its credentials and the tokens issued to it no longer work.",

		"err.app.delete.owner":     "Only owners of the organisation with a verified e-mail address can delete apps.",
		"err.app.delete.suspended": "This app is suspended by the alliance, so it cannot be deleted here. Contact the alliance.",

		"app.suspended":     "This app is suspended by the alliance: the gateway refuses its calls and the token endpoint refuses its token requests. Contact the alliance to learn why and to have it reactivated.",
		"app.suspended.tag": "Suspended",
		"apps.suspended":    "An app of yours is suspended by the alliance (marked below): its calls and token requests are refused. Contact the alliance to learn why and to have it reactivated.",
	},
	langZH: {
		"confirm.back": "返回应用",
		"confirm.keep": "不，保留",

		"unsub.link":       "取消订阅",
		"unsub.link.of":    "取消 %s 的订阅",
		"unsub.title":      "取消 %s 的订阅（应用 %s）？",
		"unsub.stop":       "应用对 %s 的 API 的调用将立即停止：从您确认之时起，网关会拒绝这些调用。",
		"unsub.again":      "您以后可以重新订阅；需要联盟审批的产品须重新审批。",
		"unsub.apis":       "应用将无法再调用的 API",
		"unsub.button":     "取消订阅",
		"app.unsubscribed": "已取消 %s 的订阅：从现在起，网关会拒绝应用对其 API 的调用。",

		"delete.heading":   "删除此应用",
		"delete.help":      "删除应用会结束其全部订阅，其凭证也会立即失效。删除前需要您确认。",
		"delete.link":      "删除应用…",
		"delete.title":     "删除应用 %s？",
		"delete.creds":     "其客户端 ID 和凭证立即失效：令牌端点会拒绝它们，网关也会拒绝已向其签发的令牌。",
		"delete.prod":      "这是生产应用：它对银行真实系统的调用将停止，影响使用它的每一位客户。",
		"delete.undo":      "此操作无法撤销。新应用会获得新的客户端 ID 和新凭证。",
		"delete.subs":      "随之结束的订阅",
		"delete.subs.none": "它没有订阅。",
		"delete.sub":       "%s（%s）",
		"delete.button":    "删除应用",
		"apps.deleted":     "应用已删除：其凭证及已向其签发的令牌均已失效。",

		"err.app.delete.owner":     "只有已验证电子邮件地址的机构所有者才能删除应用。",
		"err.app.delete.suspended": "此应用已被联盟暂停，因此不能在此删除。请联系联盟。",

		"app.suspended":     "此应用已被联盟暂停：网关拒绝其调用，令牌端点拒绝其令牌请求。请联系联盟了解原因并申请恢复。",
		"app.suspended.tag": "已暂停",
		"apps.suspended":    "您有应用已被联盟暂停（见下方标记）：其调用和令牌请求均被拒绝。请联系联盟了解原因并申请恢复。",
	},
}
