package admin

import (
	"net/http"
	"time"
)

// secretRotationBody is the optional body of POST /apps/{client_id}/secret.
type secretRotationBody struct {
	// PreviousSecretValidFor keeps the replaced secret working for this
	// long (a Go duration such as "24h"; at most 168h). Absent or "0s":
	// it stops at once, as before the field existed.
	PreviousSecretValidFor string `json:"previous_secret_valid_for"`
}

// rotateSecret issues a new client secret, shown in this answer only.
// With previous_secret_valid_for the old secret keeps working until
// previous_secret_expires_at (in the answer), so that the partner can
// redeploy without an outage; without it the old secret stops at once
// (a leaked secret).
func (h *Handler) rotateSecret(w http.ResponseWriter, r *http.Request) error {
	var body secretRotationBody
	if err := h.optionalBody(w, r, &body, "invalid secret rotation"); err != nil {
		return err
	}
	var keep time.Duration
	if body.PreviousSecretValidFor != "" {
		d, err := time.ParseDuration(body.PreviousSecretValidFor)
		if err != nil {
			var ps problems
			ps.add("/previous_secret_valid_for", `must be a duration such as "24h" or "30m"`)
			return ps.err("invalid secret rotation")
		}
		keep = d
	}
	v, secret, err := h.store.RotateAppSecret(r.Context(), r.PathValue("client_id"), keep)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, newCredentials{AppView: *v, ClientSecret: secret})
}

// optionalBody decodes a request body that may be absent into dst (a
// pointer to a struct): no body leaves dst as it is; a body must be a
// JSON object of dst's fields only.
func (h *Handler) optionalBody(w http.ResponseWriter, r *http.Request, dst any, title string) error {
	if !hasBody(r) {
		return nil
	}
	raw, err := readBody(w, r, h.maxBody)
	if err != nil {
		return err
	}
	var ps problems
	decodeObject(raw, dst, nil, &ps)
	return ps.err(title)
}
