package portal

import (
	"context"
	"strings"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/internal/mail"
	"github.com/obhub/obhub/internal/websession"
)

// Lifetimes of the links the portal mails.
const (
	verifyTTL = 24 * time.Hour
	resetTTL  = 30 * time.Minute
	inviteTTL = 7 * 24 * time.Hour
	// noticeTTL is how long a notice without a link of its own (a
	// sign-up with a taken address) is worth delivering.
	noticeTTL = 24 * time.Hour
)

// MailLifetimes is how long each kind of mail the portal sends is worth
// delivering: the lifetime of the link it carries
// (mail.SMTPConfig.Lifetimes). A reset mail the relay could not take
// within half an hour is not sent late with a dead link.
func MailLifetimes() map[string]time.Duration {
	return map[string]time.Duration{mail.KindVerify: verifyTTL, mail.KindReset: resetTTL, mail.KindInvite: inviteTTL, mail.KindSignup: noticeTTL}
}

// Pages the mailed links open. The token travels in the URL fragment
// (#token=…), which browsers never send to a server: it stays out of the
// audit log's query strings, proxies' access logs and Referer headers.
// static/token.js moves it into the page's form, which POSTs it; without
// JavaScript the person pastes the code the mail also gives.
const (
	verifyPath = "/portal/verify"
	signinPath = "/portal/signin"
	forgotPath = "/portal/reset"
	resetPath  = "/portal/reset/new"
	invitePath = "/portal/invitation"
)

// issueToken stores a new single-use token of t's kind, valid for ttl, and
// returns the secret for the link. Only its hash is stored.
func (h *Handler) issueToken(ctx context.Context, t Token, ttl time.Duration) (string, error) {
	secret := websession.RandomToken()
	now := h.cfg.Clock.Now().UTC()
	t.Hash, t.CreatedAt, t.ExpiresAt = websession.HashID(secret), now, now.Add(ttl)
	t.Email = strings.ToLower(t.Email)
	if err := h.cfg.Accounts.CreateToken(ctx, t); err != nil {
		return "", err
	}
	return secret, nil
}

// useToken takes the token whose secret the form carried: nil when it is
// unknown, of another kind, expired or already used.
func (h *Handler) useToken(ctx context.Context, kind, secret string) (*Token, error) {
	if secret == "" || len(secret) > 100 {
		return nil, nil
	}
	t, err := h.cfg.Accounts.UseToken(ctx, kind, websession.HashID(secret), h.cfg.Clock.Now().UTC())
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	return t, nil
}

// hashAndUse hashes a new password, then takes the token of the kind:
// the slow hash runs first, so the token is taken only when the change it
// allows follows at once. t is nil for a bad token.
func (h *Handler) hashAndUse(ctx context.Context, password, kind, secret string) (hash string, t *Token, err error) {
	if hash, err = h.hasher.Hash(ctx, password); err != nil {
		return "", nil, err
	}
	t, err = h.useToken(ctx, kind, secret)
	return hash, t, err
}

// letter is one mail: its kind and recipient, the subject key (with its
// arguments), the paragraph before the link and those after it, and the
// link's page and secret.
type letter struct {
	kind, to    string
	subject     string
	subjectArgs []any
	lead        para
	after       []para
	path        string
	secret      string
}

type para struct {
	key  string
	args []any
}

// send composes the letter in Simplified Chinese, then English, and
// hands it to the mailer. Each language gives the link and, for a
// letter with a secret, the code to paste and that the link works once.
func (h *Handler) send(ctx context.Context, l letter) error {
	link := h.cfg.PublicURL + l.path
	if l.secret != "" {
		link += "#token=" + l.secret
	}
	var b strings.Builder
	var subj []string
	for i, lg := range []lang{langZH, langEN} {
		if i > 0 {
			b.WriteString("\n-------- English --------\n\n")
		}
		subj = append(subj, oneLine(lg.T(l.subject, l.subjectArgs...)))
		b.WriteString(lg.T(l.lead.key, l.lead.args...))
		b.WriteString("\n\n" + link)
		if l.secret != "" {
			b.WriteString("\n\n" + lg.T("mail.code", l.secret) + "\n" + lg.T("mail.once"))
		}
		for _, p := range l.after {
			b.WriteString("\n\n" + lg.T(p.key, p.args...))
		}
		b.WriteString("\n\n" + lg.T("site.name") + "\n")
	}
	return h.mailer.Send(ctx, mail.Message{
		Kind: l.kind, To: l.to, Subject: strings.Join(subj, " | "), Text: b.String(),
	})
}

// sendVerification mails the account a new e-mail verification link.
func (h *Handler) sendVerification(ctx context.Context, a *Account) error {
	secret, err := h.issueToken(ctx, Token{Kind: TokenVerify, AccountID: a.ID, Email: a.Email}, verifyTTL)
	if err != nil {
		return err
	}
	return h.send(ctx, letter{kind: mail.KindVerify, to: a.Email, subject: "mail.verify.subject",
		lead: para{"mail.verify.body", []any{a.Name, a.Email}}, path: verifyPath, secret: secret})
}

// sendReset mails the account a password reset link.
func (h *Handler) sendReset(ctx context.Context, a *Account) error {
	secret, err := h.issueToken(ctx, Token{Kind: TokenReset, AccountID: a.ID, Email: a.Email}, resetTTL)
	if err != nil {
		return err
	}
	return h.send(ctx, letter{kind: mail.KindReset, to: a.Email, subject: "mail.reset.subject",
		lead: para{"mail.reset.body", []any{a.Name}}, after: []para{{"mail.reset.ignore", nil}}, path: resetPath, secret: secret})
}

// sendSignupNotice tells the owner of an address that someone tried to
// sign up with it, with the way to sign in and to reset the password.
// It carries no token: sign-up must not hand out a way into the account.
func (h *Handler) sendSignupNotice(ctx context.Context, a *Account) error {
	return h.send(ctx, letter{kind: mail.KindSignup, to: a.Email, subject: "mail.signup.subject",
		lead: para{"mail.signup.body", []any{a.Name}}, path: signinPath,
		after: []para{{"mail.signup.reset", []any{h.cfg.PublicURL + forgotPath}}, {"mail.signup.ignore", nil}}})
}

// sendInvitation mails an invitation to join the inviter's organisation
// as a developer.
func (h *Handler) sendInvitation(ctx context.Context, inviter *Account, org, email string) error {
	secret, err := h.issueToken(ctx, Token{Kind: TokenInvite, Partner: inviter.Partner, Email: email,
		Role: RoleDeveloper, InvitedBy: inviter.ID}, inviteTTL)
	if err != nil {
		return err
	}
	return h.send(ctx, letter{kind: mail.KindInvite, to: email, subject: "mail.invite.subject", subjectArgs: []any{inviter.Name, org},
		lead: para{"mail.invite.body", []any{inviter.Name, org}}, path: invitePath, secret: secret})
}

// oneLine drops control characters (line breaks above all) from a
// subject, which holds names people typed.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

func isNotFound(err error) bool { return obhub.ErrorCode(err) == obhub.ENOTFOUND }
