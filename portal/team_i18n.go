package portal

// accountMessages are the texts of e-mail verification, password reset,
// the team pages and the mails, kept apart from messages (i18n.go) so the
// two tables grow independently; lang.T looks in both.
var accountMessages = map[lang]map[string]string{
	langEN: {
		"nav.team": "Team",

		"token.label":      "Code from the e-mail",
		"token.help":       "Filled in for you when you open the link from the e-mail; otherwise paste the code the e-mail gives.",
		"err.token":        "This link is invalid, has expired or has already been used. Ask for a new one.",
		"err.unverified":   "Verify your e-mail address first: follow the link we sent you.",
		"err.prod.owner":   "Only owners of the organisation with a verified e-mail address can create or change production apps.",
		"err.team.owner":   "Only owners of the organisation with a verified e-mail address can invite colleagues, change roles and remove members.",
		"err.lastowner":    "The organisation must keep at least one owner.",
		"err.member":       "%s is already a member of your team.",
		"err.elsewhere":    "%s already has a developer account with another organisation; an account belongs to one organisation.",
		"err.role":         "Choose the role owner or developer.",
		"verify.banner":    "Confirm your e-mail address %s: follow the link we sent you. Until then you can use the sandbox, but not create production apps or invite colleagues.",
		"verify.resend":    "Send the link again",
		"verify.title":     "Verify your e-mail address",
		"verify.lead":      "Open the link from the e-mail we sent you and press the button.",
		"verify.submit":    "Verify my address",
		"verify.done":      "Your e-mail address %s is verified.",
		"verify.sent":      "We sent a new verification link to %s. It is valid for 24 hours.",
		"verify.already":   "Your e-mail address is already verified.",
		"verify.continue":  "Continue to your apps",
		"reset.title":      "Reset your password",
		"reset.lead":       "Enter the e-mail address of your account. We send it a link to choose a new password, valid for 30 minutes.",
		"reset.submit":     "Send the link",
		"reset.sent":       "If an account exists for %s, we have sent it a link to choose a new password. The link is valid for 30 minutes and works once.",
		"reset.new.title":  "Choose a new password",
		"reset.new.lead":   "Setting a new password signs you out everywhere else and lifts a lockout.",
		"reset.password":   "New password",
		"reset.new.submit": "Set the new password",
		"signin.forgot":    "Forgot your password?",

		"team.title":          "Team",
		"team.lead":           "The people of %s who use this portal. Owners invite colleagues, change roles and remove members; developers manage sandbox apps.",
		"team.members":        "Members",
		"team.name":           "Name",
		"team.email":          "E-mail address",
		"team.role":           "Role",
		"team.since":          "Member since",
		"team.you":            " (you)",
		"team.unverified":     "not verified",
		"team.change":         "Change role",
		"team.role.of":        "Role of %s",
		"team.remove":         "Remove",
		"team.remove.of":      "Remove %s",
		"team.invite.title":   "Invite a colleague",
		"team.invite.help":    "They join as a developer; the link in the invitation is valid for 7 days and works once.",
		"team.invite.submit":  "Send invitation",
		"team.invited":        "Invitation sent to %s.",
		"team.pending":        "Pending invitations",
		"team.pending.none":   "No invitation is pending.",
		"team.expires":        "Expires",
		"team.revoke":         "Revoke",
		"team.revoke.of":      "Revoke the invitation of %s",
		"team.revoked":        "Invitation revoked.",
		"team.role.changed":   "%s is now: %s.",
		"team.removed":        "%s was removed from the team.",
		"team.roles.title":    "What each role may do",
		"team.roles.owner":    "Owner: everything a developer may, plus production apps, inviting colleagues, changing roles and removing members.",
		"team.roles.dev":      "Developer: read the catalog, create sandbox apps and subscribe them to products; see the organisation's production apps.",
		"role.owner":          "Owner",
		"role.developer":      "Developer",
		"invite.title":        "Join your team",
		"invite.lead":         "Create your account to accept the invitation you received by e-mail. You sign in with the address the invitation was sent to.",
		"invite.submit":       "Accept and create my account",
		"mail.verify.subject": "Verify your e-mail address",
		"mail.verify.body":    "Hello %s,\n\nplease confirm that %s is your e-mail address for the obhub developer portal: open this link within 24 hours and press the button.",
		"mail.reset.subject":  "Reset your password",
		"mail.reset.body":     "Hello %s,\n\nsomeone, we hope you, asked to reset the password of your obhub developer portal account. Open this link within 30 minutes to choose a new one.",
		"mail.reset.ignore":   "If you did not ask for this, ignore this message: your password stays as it is.",
		"mail.invite.subject": "%s invites you to %s",
		"mail.invite.body":    "Hello,\n\n%s invites you to join %s on the obhub developer portal as a developer. Open this link within 7 days to create your account.",
		"mail.code":           "If the page asks for a code, paste: %s",
		"mail.once":           "The link works once. Never forward it.",
	},
	langZH: {
		"nav.team": "团队",

		"token.label":      "邮件中的验证码",
		"token.help":       "从邮件中的链接打开本页时会自动填写；否则请粘贴邮件中给出的验证码。",
		"err.token":        "此链接无效、已过期或已被使用。请重新申请。",
		"err.unverified":   "请先验证您的电子邮件地址：打开我们发给您的链接。",
		"err.prod.owner":   "只有已验证电子邮件地址的机构所有者才能创建或更改生产应用。",
		"err.team.owner":   "只有已验证电子邮件地址的机构所有者才能邀请同事、更改角色和移除成员。",
		"err.lastowner":    "机构必须至少保留一名所有者。",
		"err.member":       "%s 已是您团队的成员。",
		"err.elsewhere":    "%s 已在另一家机构拥有开发者账户；一个账户只属于一家机构。",
		"err.role":         "请选择角色：所有者或开发者。",
		"verify.banner":    "请验证您的电子邮件地址 %s：打开我们发给您的链接。验证之前，您可以使用沙箱，但不能创建生产应用或邀请同事。",
		"verify.resend":    "重新发送链接",
		"verify.title":     "验证电子邮件地址",
		"verify.lead":      "打开我们发给您的邮件中的链接，然后点击按钮。",
		"verify.submit":    "验证我的地址",
		"verify.done":      "您的电子邮件地址 %s 已验证。",
		"verify.sent":      "我们已向 %s 发送新的验证链接，24 小时内有效。",
		"verify.already":   "您的电子邮件地址已经验证。",
		"verify.continue":  "前往我的应用",
		"reset.title":      "重置密码",
		"reset.lead":       "请输入您账户的电子邮件地址。我们会向其发送设置新密码的链接，30 分钟内有效。",
		"reset.submit":     "发送链接",
		"reset.sent":       "如果存在 %s 的账户，我们已向其发送设置新密码的链接。链接 30 分钟内有效，且只能使用一次。",
		"reset.new.title":  "设置新密码",
		"reset.new.lead":   "设置新密码后，您在其他地方的登录都会退出，账户锁定也会解除。",
		"reset.password":   "新密码",
		"reset.new.submit": "设置新密码",
		"signin.forgot":    "忘记密码？",

		"team.title":          "团队",
		"team.lead":           "%s 使用本门户的成员。所有者可以邀请同事、更改角色和移除成员；开发者管理沙箱应用。",
		"team.members":        "成员",
		"team.name":           "姓名",
		"team.email":          "电子邮件地址",
		"team.role":           "角色",
		"team.since":          "加入时间",
		"team.you":            "（您）",
		"team.unverified":     "未验证",
		"team.change":         "更改角色",
		"team.role.of":        "%s 的角色",
		"team.remove":         "移除",
		"team.remove.of":      "移除 %s",
		"team.invite.title":   "邀请同事",
		"team.invite.help":    "受邀者以开发者身份加入；邀请中的链接 7 天内有效，且只能使用一次。",
		"team.invite.submit":  "发送邀请",
		"team.invited":        "已向 %s 发送邀请。",
		"team.pending":        "待接受的邀请",
		"team.pending.none":   "没有待接受的邀请。",
		"team.expires":        "到期时间",
		"team.revoke":         "撤销",
		"team.revoke.of":      "撤销对 %s 的邀请",
		"team.revoked":        "邀请已撤销。",
		"team.role.changed":   "%s 现在的角色：%s。",
		"team.removed":        "已将 %s 移出团队。",
		"team.roles.title":    "各角色的权限",
		"team.roles.owner":    "所有者：开发者的全部权限，外加生产应用、邀请同事、更改角色和移除成员。",
		"team.roles.dev":      "开发者：阅读目录，创建沙箱应用并订阅产品；查看机构的生产应用。",
		"role.owner":          "所有者",
		"role.developer":      "开发者",
		"invite.title":        "加入您的团队",
		"invite.lead":         "创建账户以接受您通过电子邮件收到的邀请。您将使用收到邀请的电子邮件地址登录。",
		"invite.submit":       "接受邀请并创建账户",
		"mail.verify.subject": "验证您的电子邮件地址",
		"mail.verify.body":    "%s，您好：\n\n请确认 %s 是您在 obhub 开发者门户使用的电子邮件地址：请在 24 小时内打开以下链接并点击按钮。",
		"mail.reset.subject":  "重置您的密码",
		"mail.reset.body":     "%s，您好：\n\n有人（希望是您本人）申请重置您在 obhub 开发者门户的账户密码。请在 30 分钟内打开以下链接设置新密码。",
		"mail.reset.ignore":   "如果这不是您本人的申请，请忽略本邮件：您的密码保持不变。",
		"mail.invite.subject": "%s 邀请您加入 %s",
		"mail.invite.body":    "您好：\n\n%s 邀请您以开发者身份加入 obhub 开发者门户上的 %s。请在 7 天内打开以下链接创建您的账户。",
		"mail.code":           "如果页面要求输入验证码，请粘贴：%s",
		"mail.once":           "此链接只能使用一次，请勿转发。",
	},
}

// lookup finds key in the language's tables.
func lookup(l lang, key string) (string, bool) {
	if s, ok := messages[l][key]; ok {
		return s, true
	}
	if s, ok := tryMessages[l][key]; ok { // tryit_i18n.go
		return s, true
	}
	if s, ok := credMessages[l][key]; ok { // credentials_i18n.go
		return s, true
	}
	if s, ok := regMessages[l][key]; ok { // registration_i18n.go
		return s, true
	}
	if s, ok := profileMessages[l][key]; ok { // profile_i18n.go
		return s, true
	}
	if s, ok := catalogMessages[l][key]; ok { // catalog_search_i18n.go
		return s, true
	}
	s, ok := accountMessages[l][key]
	return s, ok
}
