package config

import (
	"flag"
	"fmt"
	netmail "net/mail"
	"net/url"
)

// Mail delivery settings (docs/portal.md "Mail delivery").

// SMTPPasswordEnv holds the relay's password: never a flag or a file
// setting, so that it shows in no process list and no configuration file.
const SMTPPasswordEnv = "OBHUB_SMTP_PASSWORD"

// mailFlags declares --smtp-url and --mail-from.
func (s *Static) mailFlags(fs *flag.FlagSet) {
	fs.StringVar(&s.SMTPURL, "smtp-url", "", "deliver the portal's mails through this relay: smtp://[user@]host[:587] (STARTTLS), smtps://host[:465] or smtp+plain://localhost[:25]; password in "+SMTPPasswordEnv+"; empty keeps mails in the outbox only (env OBHUB_SMTP_URL)")
	fs.StringVar(&s.MailFrom, "mail-from", "", "the sender of the portal's mails, e.g. \"obhub <noreply@alliance.example>\"; required with --smtp-url (env OBHUB_MAIL_FROM)")
}

// validateMail checks --smtp-url and --mail-from (internal/mail checks
// the rest when the node starts).
func (s *Static) validateMail() []error {
	if s.SMTPURL == "" {
		return nil
	}
	var errs []error
	if u, err := url.Parse(s.SMTPURL); err != nil || u.Host == "" {
		errs = append(errs, fmt.Errorf("--smtp-url: want smtp://host[:587], smtps://host[:465] or smtp+plain://localhost[:25]"))
	} else if _, set := u.User.Password(); set {
		errs = append(errs, fmt.Errorf("--smtp-url: give the password in %s, not in the URL", SMTPPasswordEnv))
	}
	if _, err := netmail.ParseAddress(s.MailFrom); err != nil {
		errs = append(errs, fmt.Errorf("--mail-from %q: want an address such as \"obhub <noreply@alliance.example>\"", s.MailFrom))
	}
	return errs
}
