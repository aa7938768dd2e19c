package portal

import (
	"net/http"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/audit"
)

// recordChange writes a change the signed-in developer made to the audit
// ledger, as an administrative change of their partner: the same kind of
// record as a console operator's or an admin API call's, with the actor
// "portal:<e-mail>" and the states before and after (secrets redacted,
// see audit.State). A failure is logged: the change is made already, and
// the page still answers.
func (h *Handler) recordChange(r *http.Request, actorEmail, partner string, c audit.Change) {
	if h.cfg.Record == nil {
		return
	}
	c.Actor, c.Partner, c.Path, c.RequestID = "portal:"+actorEmail, partner, r.URL.Path, obhub.RequestID(r.Context())
	if err := h.cfg.Record(c.Record(h.cfg.Clock.Now())); err != nil {
		h.cfg.Logger.Error("portal: change not recorded in the audit log", "object", c.Object, "verb", c.Verb, "err", err)
	}
}

// memberState is what a change record keeps of a team member.
func memberState(a *Account) map[string]string {
	return map[string]string{"id": a.ID, "email": a.Email, "name": a.Name, "role": a.Role}
}
