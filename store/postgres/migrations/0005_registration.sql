-- Dynamic client registration (RFC 7591/7592): initial access tokens that
-- operators issue to partners, and each registered client's registration
-- access token. Only SHA-256 hashes of tokens are stored. The same tables
-- as store/sqlite/oauth_register.go; times in Unix milliseconds.
CREATE TABLE oauth_initial_tokens (
	id         TEXT PRIMARY KEY,
	partner    TEXT NOT NULL,
	hash       TEXT NOT NULL,
	uses       INTEGER NOT NULL,
	uses_left  INTEGER NOT NULL,
	expires_at BIGINT NOT NULL,
	created_at BIGINT NOT NULL
);
CREATE INDEX oauth_initial_tokens_partner ON oauth_initial_tokens (partner, created_at);
CREATE TABLE oauth_registrations (
	client_id     TEXT PRIMARY KEY,
	partner       TEXT NOT NULL,
	token_hash    TEXT NOT NULL,
	initial_token TEXT NOT NULL,
	created_at    BIGINT NOT NULL
);
