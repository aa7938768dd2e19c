-- Admin console: operators and their signed-in sessions, shared by every
-- node (the same tables as store/sqlite/console.go). Times in Unix
-- milliseconds, 0 for none. E-mail addresses are stored lower-case.
CREATE TABLE console_operators (
	id            TEXT PRIMARY KEY,
	email         TEXT NOT NULL UNIQUE,
	name          TEXT NOT NULL,
	role          TEXT NOT NULL,
	bank          TEXT NOT NULL DEFAULT '',
	password_hash TEXT NOT NULL,
	failures      INTEGER NOT NULL DEFAULT 0,
	locked_until  BIGINT NOT NULL DEFAULT 0,
	created_at    BIGINT NOT NULL
);
CREATE TABLE console_sessions (
	id_hash     TEXT PRIMARY KEY,
	operator_id TEXT NOT NULL,
	csrf        TEXT NOT NULL,
	created_at  BIGINT NOT NULL,
	expires_at  BIGINT NOT NULL
);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);
