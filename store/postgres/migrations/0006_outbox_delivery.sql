-- Delivery of the mail outbox through a relay (--smtp-url; the same
-- columns as store/sqlite/portal.go). delivery is 'none' (no relay: the
-- operator forwards the mail by hand; every mail kept before this
-- migration), 'pending', 'sent' or 'failed'; last_error is a short reason
-- such as 'smtp 451 (temporary)'. A node delivers a pending mail under a
-- claim: claim names it and lease_until (Unix milliseconds) ends it, after
-- which another node's sweep may take the mail.
ALTER TABLE portal_outbox
	ADD COLUMN delivery    TEXT    NOT NULL DEFAULT 'none',
	ADD COLUMN attempts    INTEGER NOT NULL DEFAULT 0,
	ADD COLUMN sent_at     BIGINT  NOT NULL DEFAULT 0,
	ADD COLUMN last_error  TEXT    NOT NULL DEFAULT '',
	ADD COLUMN lease_until BIGINT  NOT NULL DEFAULT 0,
	ADD COLUMN claim       TEXT    NOT NULL DEFAULT '';
CREATE INDEX portal_outbox_delivery ON portal_outbox (delivery, seq);
