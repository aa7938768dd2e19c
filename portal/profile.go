package portal

import (
	"html/template"
	"net/http"
	"strings"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/audit"
	"github.com/obhub/obhub/partners"
)

// The organisation page (docs/portal.md, "A partner's first day"): every
// member sees the organisation's name, kind and onboarding status, and
// the profile operators read to decide its onboarding request; owners
// (MayOwn) edit the profile. The account page (account.go) shows the
// signed-in person and changes their password.

// profileRoutes adds the organisation and account pages.
func (h *Handler) profileRoutes(mux *http.ServeMux) {
	for _, name := range []string{"organisation", "account"} {
		h.pages[name] = template.Must(template.New("layout.html").Funcs(funcs).
			ParseFS(templateFiles, "templates/layout.html", "templates/"+name+".html"))
	}
	mux.HandleFunc("GET /portal/organisation", h.organisation)
	mux.HandleFunc("POST /portal/organisation", h.saveProfile)
	mux.HandleFunc("GET /portal/account", h.account)                  // account.go
	mux.HandleFunc("POST /portal/account/password", h.changePassword) // account.go
}

// profileField is one field of the profile form: its form name (the JSON
// name of partners.Profile), the text key of its label, and whether an
// owner must fill it in.
type profileField struct {
	Name, Label string
	Required    bool
}

var profileFields = []profileField{
	{"legalName", "org.legalName", true},
	{"creditCode", "org.creditCode", true},
	{"contactName", "org.contactName", true},
	{"contactPhone", "org.contactPhone", true},
	{"website", "org.website", false},
	{"purpose", "org.purpose", true},
}

type organisationPage struct {
	Partner *partners.Partner
	// Form is the profile as stored, or as typed when it was refused.
	Form    partners.Profile
	Message string
}

// organisation shows the organisation page.
func (h *Handler) organisation(w http.ResponseWriter, r *http.Request) {
	v, ok := h.formVisit(w, r, false)
	if !ok {
		return
	}
	pg := &organisationPage{Partner: v.Partner}
	if v.Partner.Profile != nil {
		pg.Form = *v.Partner.Profile
	}
	if r.URL.Query().Get("saved") == "1" {
		pg.Message = v.L.T("org.saved")
	}
	h.render(w, v, http.StatusOK, "organisation", v.L.T("org.title"), nil, pg)
}

// saveProfile replaces the organisation's profile: owners only, every
// field checked before anything is written.
func (h *Handler) saveProfile(w http.ResponseWriter, r *http.Request) {
	v, ok := h.formVisit(w, r, false)
	if !ok {
		return
	}
	if !v.MayOwn() {
		h.forbidden(w, v, forbiddenKey(v, "err.org.owner"))
		return
	}
	in := partners.Profile{
		LegalName:    r.PostFormValue("legalName"),
		CreditCode:   r.PostFormValue("creditCode"),
		ContactName:  r.PostFormValue("contactName"),
		ContactPhone: r.PostFormValue("contactPhone"),
		Website:      r.PostFormValue("website"),
		Purpose:      r.PostFormValue("purpose"),
	}
	in.Normalize()
	refuse := func(status int, errs []string) {
		h.render(w, v, status, "organisation", v.L.T("org.title"), errs, &organisationPage{Partner: v.Partner, Form: in})
	}
	if errs := profileErrors(v.L, &in); len(errs) > 0 {
		refuse(http.StatusUnprocessableEntity, errs)
		return
	}
	p, err := h.cfg.Catalog.SetPartnerProfile(r.Context(), v.Account.Partner, in)
	if obhub.ErrorCode(err) == obhub.EINVALID {
		// The form's checks are the store's; this is a second line.
		refuse(http.StatusUnprocessableEntity, []string{v.L.T("err.org.invalid")})
		return
	}
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	h.cfg.Logger.Info("portal: organisation profile saved", "partner", p.ID, "account", v.Account.ID, "profile", *p.Profile)
	h.recordChange(r, v.Account.Email, p.ID, audit.Change{Object: "partners/" + p.ID, Verb: "profile", Before: v.Partner, After: p})
	http.Redirect(w, r, "/portal/organisation?saved=1", http.StatusSeeOther)
}

// profileErrors checks a normalised profile as the form requires it:
// each message names its field, in the page's language.
func profileErrors(l lang, p *partners.Profile) []string {
	values := map[string]string{
		"legalName": p.LegalName, "creditCode": p.CreditCode, "contactName": p.ContactName,
		"contactPhone": p.ContactPhone, "website": p.Website, "purpose": p.Purpose,
	}
	bad := map[string]string{} // field → message key
	for _, d := range p.Validate() {
		field := strings.TrimPrefix(d.Location, "/profile/")
		key := "err.org." + field
		if field == "creditCode" && d.Message == partners.CreditCodeWrongCheck {
			key = "err.org.creditCode.check"
		}
		bad[field] = key
	}
	var errs []string
	for _, f := range profileFields {
		switch key, ok := bad[f.Name]; {
		case f.Required && values[f.Name] == "":
			errs = append(errs, l.T("err.required", l.T(f.Label)))
		case ok:
			errs = append(errs, l.T(key))
		}
	}
	return errs
}
