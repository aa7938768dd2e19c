package portal

// textSizeCookie remembers the large-text choice (internal/websession
// TextSize serves /portal/text-size and /portal/text-size.css).
const textSizeCookie = "obhub_portal_text"
