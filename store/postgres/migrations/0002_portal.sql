-- Developer portal: accounts, signed-in sessions, the single-use tokens of
-- mailed links and the mail outbox, shared by every node (the same tables
-- as store/sqlite/portal.go). Times in Unix milliseconds, 0 for none.
-- E-mail addresses are stored lower-case; sessions and tokens are kept
-- under the SHA-256 of the secret the browser or the mail holds.
CREATE TABLE portal_accounts (
	id                TEXT PRIMARY KEY,
	email             TEXT NOT NULL UNIQUE,
	name              TEXT NOT NULL,
	partner           TEXT NOT NULL,
	role              TEXT NOT NULL,
	password_hash     TEXT NOT NULL,
	failures          INTEGER NOT NULL DEFAULT 0,
	locked_until      BIGINT NOT NULL DEFAULT 0,
	created_at        BIGINT NOT NULL,
	email_verified_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX portal_accounts_partner ON portal_accounts (partner);
CREATE TABLE portal_sessions (
	id_hash    TEXT PRIMARY KEY,
	account_id TEXT NOT NULL,
	csrf       TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL
);
CREATE INDEX portal_sessions_expiry ON portal_sessions (expires_at);
CREATE INDEX portal_sessions_account ON portal_sessions (account_id);
CREATE TABLE portal_tokens (
	hash       TEXT PRIMARY KEY,
	kind       TEXT NOT NULL,
	account_id TEXT NOT NULL,
	partner    TEXT NOT NULL,
	email      TEXT NOT NULL,
	role       TEXT NOT NULL,
	invited_by TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL
);
CREATE INDEX portal_tokens_partner ON portal_tokens (partner, kind);
CREATE INDEX portal_tokens_account ON portal_tokens (account_id, kind);
CREATE INDEX portal_tokens_expiry ON portal_tokens (expires_at);
CREATE TABLE portal_outbox (
	seq        BIGSERIAL PRIMARY KEY,
	kind       TEXT NOT NULL,
	recipient  TEXT NOT NULL,
	subject    TEXT NOT NULL,
	body       TEXT NOT NULL,
	created_at BIGINT NOT NULL
);
CREATE INDEX portal_outbox_recipient ON portal_outbox (recipient, seq);
CREATE INDEX portal_outbox_created ON portal_outbox (created_at);
