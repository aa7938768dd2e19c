-- A sandbox call's captured bodies (--audit-capture-sandbox-bodies) get
-- columns of their own instead of the admin-change before/after fields.
ALTER TABLE audit_records ADD COLUMN request_body TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_records ADD COLUMN response_body TEXT NOT NULL DEFAULT '';
