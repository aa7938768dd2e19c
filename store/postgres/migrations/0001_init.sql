-- OAuth state: the same tables as store/sqlite/oauth.go, times in Unix
-- milliseconds.
CREATE TABLE oauth_codes (
	signature  TEXT PRIMARY KEY,
	request_id TEXT NOT NULL,
	client_id  TEXT NOT NULL,
	expires_at BIGINT NOT NULL,
	used       BOOLEAN NOT NULL DEFAULT false,
	data       BYTEA NOT NULL
);
CREATE TABLE oauth_requests (
	id         TEXT PRIMARY KEY,
	request_id TEXT NOT NULL,
	client_id  TEXT NOT NULL,
	expires_at BIGINT NOT NULL,
	data       BYTEA NOT NULL
);
CREATE TABLE oauth_access_tokens (
	signature  TEXT PRIMARY KEY,
	request_id TEXT NOT NULL,
	client_id  TEXT NOT NULL,
	jti        TEXT NOT NULL,
	expires_at BIGINT NOT NULL,
	revoked    BOOLEAN NOT NULL DEFAULT false,
	data       BYTEA NOT NULL
);
CREATE INDEX oauth_access_tokens_request ON oauth_access_tokens (request_id);
CREATE INDEX oauth_access_tokens_revoked ON oauth_access_tokens (expires_at) WHERE revoked;
CREATE TABLE oauth_refresh_tokens (
	signature  TEXT PRIMARY KEY,
	request_id TEXT NOT NULL,
	client_id  TEXT NOT NULL,
	expires_at BIGINT NOT NULL,
	used       BOOLEAN NOT NULL DEFAULT false,
	revoked    BOOLEAN NOT NULL DEFAULT false,
	data       BYTEA NOT NULL
);
CREATE INDEX oauth_refresh_tokens_request ON oauth_refresh_tokens (request_id);
CREATE TABLE oauth_revoked_grants (
	request_id TEXT PRIMARY KEY
);
CREATE TABLE oauth_assertions (
	client_id  TEXT NOT NULL,
	jti        TEXT NOT NULL,
	expires_at BIGINT NOT NULL,
	PRIMARY KEY (client_id, jti)
);

-- Audit ledger: one hash chain per writer (node), see docs/cluster.md.
-- Times in Unix nanoseconds, latency in microseconds.
CREATE TABLE audit_chains (
	chain      TEXT PRIMARY KEY,
	created_at BIGINT NOT NULL
);
CREATE TABLE audit_records (
	chain       TEXT NOT NULL,
	seq         BIGINT NOT NULL,
	time        BIGINT NOT NULL,
	category    TEXT NOT NULL,
	request_id  TEXT NOT NULL,
	bank        TEXT NOT NULL,
	api         TEXT NOT NULL,
	operation   TEXT NOT NULL,
	method      TEXT NOT NULL,
	path        TEXT NOT NULL,
	query       TEXT NOT NULL,
	client_id   TEXT NOT NULL,
	partner     TEXT NOT NULL,
	environment TEXT NOT NULL,
	status      INTEGER NOT NULL,
	latency_us  BIGINT NOT NULL,
	decision    TEXT NOT NULL,
	reason      TEXT NOT NULL,
	revision    BIGINT NOT NULL,
	actor       TEXT NOT NULL,
	object      TEXT NOT NULL,
	before      TEXT NOT NULL,
	after       TEXT NOT NULL,
	purged      BOOLEAN NOT NULL,
	digest      BYTEA NOT NULL,
	hash        BYTEA NOT NULL,
	PRIMARY KEY (chain, seq)
);
CREATE INDEX audit_time ON audit_records (chain, time);
CREATE INDEX audit_partner ON audit_records (partner, time);
CREATE INDEX audit_client ON audit_records (client_id, time);
CREATE INDEX audit_bank ON audit_records (bank, time);
CREATE INDEX audit_api ON audit_records (api, time);
CREATE INDEX audit_request ON audit_records (request_id);
CREATE INDEX audit_category ON audit_records (category, time);
CREATE TABLE audit_checkpoints (
	chain     TEXT NOT NULL,
	seq       BIGINT NOT NULL,
	time      BIGINT NOT NULL,
	algorithm TEXT NOT NULL,
	key_id    TEXT NOT NULL,
	hash      BYTEA NOT NULL,
	signature BYTEA NOT NULL,
	PRIMARY KEY (chain, seq)
);
