package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/internal/mail"
	"github.com/obhub/obhub/portal"
)

var _ portal.Store = (*PortalStore)(nil)

// PortalStore implements portal.Store on its own SQLite file (portal.db in
// the data folder): developer accounts, their sessions, the tokens of
// e-mailed links and the mail outbox. It is apart from the configuration
// database, which holds the partners themselves.
type PortalStore struct {
	single
}

// NewPortalStore returns a store for the database file at path. It does
// no I/O: Open creates or opens the file. The folder must exist.
func NewPortalStore(path string) *PortalStore {
	return &PortalStore{single{name: "portal", path: path, schema: portalSchema, sync: "NORMAL"}}
}

const portalSchema = `
CREATE TABLE IF NOT EXISTS portal_accounts (
	id            TEXT PRIMARY KEY,
	email         TEXT NOT NULL UNIQUE,
	name          TEXT NOT NULL,
	partner       TEXT NOT NULL,
	role          TEXT NOT NULL,
	password_hash TEXT NOT NULL,
	failures      INTEGER NOT NULL DEFAULT 0,
	locked_until  INTEGER NOT NULL DEFAULT 0,
	created_at    INTEGER NOT NULL,
	email_verified_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS portal_accounts_partner ON portal_accounts (partner);
CREATE TABLE IF NOT EXISTS portal_sessions (
	id_hash    TEXT PRIMARY KEY,
	account_id TEXT NOT NULL,
	csrf       TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS portal_sessions_expiry ON portal_sessions (expires_at);
CREATE INDEX IF NOT EXISTS portal_sessions_account ON portal_sessions (account_id);
CREATE TABLE IF NOT EXISTS portal_tokens (
	hash       TEXT PRIMARY KEY,
	kind       TEXT NOT NULL,
	account_id TEXT NOT NULL,
	partner    TEXT NOT NULL,
	email      TEXT NOT NULL,
	role       TEXT NOT NULL,
	invited_by TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS portal_tokens_partner ON portal_tokens (partner, kind);
CREATE INDEX IF NOT EXISTS portal_tokens_account ON portal_tokens (account_id, kind);
CREATE TABLE IF NOT EXISTS portal_outbox (
	seq         INTEGER PRIMARY KEY AUTOINCREMENT,
	kind        TEXT NOT NULL,
	recipient   TEXT NOT NULL,
	subject     TEXT NOT NULL,
	body        TEXT NOT NULL,
	created_at  INTEGER NOT NULL,
	delivery    TEXT NOT NULL DEFAULT 'none',
	attempts    INTEGER NOT NULL DEFAULT 0,
	sent_at     INTEGER NOT NULL DEFAULT 0,
	last_error  TEXT NOT NULL DEFAULT '',
	lease_until INTEGER NOT NULL DEFAULT 0,
	claim       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS portal_outbox_recipient ON portal_outbox (recipient, seq);
CREATE INDEX IF NOT EXISTS portal_outbox_created ON portal_outbox (created_at);
`

// portalAdded are the columns added to portal.db since its first release,
// in order, with their definitions: Open adds those a file lacks, and the
// defaults say what the rows made before them hold.
var portalAdded = []struct{ table, column, def string }{
	// Accounts made before e-mail verification existed start
	// unverified: their owners verify from the banner the portal shows.
	{"portal_accounts", "email_verified_at", "INTEGER NOT NULL DEFAULT 0"},
	// Mails kept before delivery states existed read as delivery "none":
	// the operator forwarded them by hand. lease_until and claim hold a
	// node's claim on a pending mail (store/postgres migration 0006).
	{"portal_outbox", "delivery", "TEXT NOT NULL DEFAULT 'none'"},
	{"portal_outbox", "attempts", "INTEGER NOT NULL DEFAULT 0"},
	{"portal_outbox", "sent_at", "INTEGER NOT NULL DEFAULT 0"},
	{"portal_outbox", "last_error", "TEXT NOT NULL DEFAULT ''"},
	{"portal_outbox", "lease_until", "INTEGER NOT NULL DEFAULT 0"},
	{"portal_outbox", "claim", "TEXT NOT NULL DEFAULT ''"},
}

// portalIndexes are made after portalAdded, on columns older files lack.
const portalIndexes = `
CREATE INDEX IF NOT EXISTS portal_outbox_delivery ON portal_outbox (delivery, seq);
`

// Open creates or opens the database (see single.Open) and adds the
// columns that portal.db files made by earlier releases lack.
func (s *PortalStore) Open(ctx context.Context) error {
	if err := s.single.Open(ctx); err != nil {
		return err
	}
	db, err := s.conn()
	if err != nil {
		return err
	}
	for _, c := range portalAdded {
		var n int
		if err := db.QueryRowContext(ctx,
			`SELECT count(*) FROM pragma_table_info(?) WHERE name = ?`, c.table, c.column).Scan(&n); err != nil {
			return fmt.Errorf("sqlite portal: open %s: %w", s.path, err)
		}
		if n > 0 {
			continue
		}
		if _, err := db.ExecContext(ctx, `ALTER TABLE `+c.table+` ADD COLUMN `+c.column+` `+c.def); err != nil {
			return fmt.Errorf("sqlite portal: open %s: add %s.%s: %w", s.path, c.table, c.column, err)
		}
	}
	if _, err := db.ExecContext(ctx, portalIndexes); err != nil {
		return fmt.Errorf("sqlite portal: open %s: create indexes: %w", s.path, err)
	}
	return nil
}

// portalErr gives database failures the EUNAVAILABLE code and a missing
// row ENOTFOUND.
func portalErr(op string, err error) error { return webErr("portal", op, err) }

func unixMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func timeMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// CreateAccount implements portal.Store.
func (s *PortalStore) CreateAccount(ctx context.Context, a portal.Account) error {
	db, err := s.conn()
	if err != nil {
		return err
	}
	_, err = db.ExecContext(ctx,
		`INSERT INTO portal_accounts (id, email, name, partner, role, password_hash, failures, locked_until, created_at, email_verified_at)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, strings.ToLower(a.Email), a.Name, a.Partner, a.Role, a.PasswordHash, a.Failures, unixMS(a.LockedUntil), unixMS(a.CreatedAt),
		unixMS(a.EmailVerifiedAt))
	if err != nil && isConstraint(err) {
		return obhub.Errorf(obhub.ECONFLICT, "an account with this e-mail address already exists")
	}
	return portalErr("create account", err)
}

const accountColumns = `id, email, name, partner, role, password_hash, failures, locked_until, created_at, email_verified_at`

// scanAccount reads a row of accountColumns.
func scanAccount(row interface{ Scan(...any) error }) (*portal.Account, error) {
	var (
		a                         portal.Account
		locked, created, verified int64
	)
	if err := row.Scan(&a.ID, &a.Email, &a.Name, &a.Partner, &a.Role, &a.PasswordHash, &a.Failures, &locked, &created, &verified); err != nil {
		return nil, err
	}
	a.LockedUntil, a.CreatedAt, a.EmailVerifiedAt = timeMS(locked), timeMS(created), timeMS(verified)
	return &a, nil
}

func (s *PortalStore) account(ctx context.Context, where string, arg any) (*portal.Account, error) {
	db, err := s.conn()
	if err != nil {
		return nil, err
	}
	a, err := scanAccount(db.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM portal_accounts WHERE `+where, arg))
	if err != nil {
		return nil, portalErr("read account", err)
	}
	return a, nil
}

// Account implements portal.Store.
func (s *PortalStore) Account(ctx context.Context, id string) (*portal.Account, error) {
	return s.account(ctx, "id = ?", id)
}

// AccountByEmail implements portal.Store.
func (s *PortalStore) AccountByEmail(ctx context.Context, email string) (*portal.Account, error) {
	return s.account(ctx, "email = ?", strings.ToLower(email))
}

// SetLoginState implements portal.Store.
func (s *PortalStore) SetLoginState(ctx context.Context, accountID string, failures int, lockedUntil time.Time) error {
	db, err := s.conn()
	if err != nil {
		return err
	}
	res, err := db.ExecContext(ctx, `UPDATE portal_accounts SET failures = ?, locked_until = ? WHERE id = ?`,
		failures, unixMS(lockedUntil), accountID)
	if err != nil {
		return portalErr("set login state", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return portalErr("set login state", cmpErr(err, sql.ErrNoRows))
	}
	return nil
}

func cmpErr(err, otherwise error) error {
	if err != nil {
		return err
	}
	return otherwise
}

// portalSessions is the portal's sessions table.
var portalSessions = sessionTable{store: "portal", table: "portal_sessions", owner: "account_id"}

// CreateSession implements portal.Store. Expired sessions are swept on
// the way.
func (s *PortalStore) CreateSession(ctx context.Context, sess portal.Session) error {
	db, err := s.conn()
	if err != nil {
		return err
	}
	return portalSessions.create(ctx, db, sessionRow{IDHash: sess.IDHash, Owner: sess.AccountID, CSRF: sess.CSRF,
		CreatedAt: sess.CreatedAt, ExpiresAt: sess.ExpiresAt})
}

// Session implements portal.Store.
func (s *PortalStore) Session(ctx context.Context, idHash string, now time.Time) (*portal.Session, error) {
	db, err := s.conn()
	if err != nil {
		return nil, err
	}
	r, err := portalSessions.get(ctx, db, idHash, now)
	if err != nil {
		return nil, err
	}
	return &portal.Session{IDHash: r.IDHash, AccountID: r.Owner, CSRF: r.CSRF, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt}, nil
}

// DeleteSession implements portal.Store.
func (s *PortalStore) DeleteSession(ctx context.Context, idHash string) error {
	db, err := s.conn()
	if err != nil {
		return err
	}
	return portalSessions.delete(ctx, db, idHash)
}

// execOne runs a statement that must change one row; none is ENOTFOUND.
func (s *PortalStore) execOne(ctx context.Context, op, q string, args ...any) error {
	db, err := s.conn()
	if err != nil {
		return err
	}
	res, err := db.ExecContext(ctx, q, args...)
	if err != nil {
		return portalErr(op, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return portalErr(op, cmpErr(err, sql.ErrNoRows))
	}
	return nil
}

// SetEmailVerified implements portal.Store.
func (s *PortalStore) SetEmailVerified(ctx context.Context, accountID string, t time.Time) error {
	return s.execOne(ctx, "set e-mail verified",
		`UPDATE portal_accounts SET email_verified_at = ? WHERE id = ?`, unixMS(t), accountID)
}

// inTx runs fn in a transaction (BEGIN IMMEDIATE: the write lock is taken
// first, so checks inside see no concurrent change).
func (s *PortalStore) inTx(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	db, err := s.conn()
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return portalErr(op, err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return portalErr(op, err)
	}
	return portalErr(op, tx.Commit())
}

// SetPassword implements portal.Store.
func (s *PortalStore) SetPassword(ctx context.Context, accountID, hash string) error {
	return s.inTx(ctx, "set password", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`UPDATE portal_accounts SET password_hash = ?, failures = 0, locked_until = 0 WHERE id = ?`, hash, accountID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return cmpErr(err, sql.ErrNoRows)
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM portal_sessions WHERE account_id = ?`, accountID)
		return err
	})
}

// ListAccounts implements portal.Store.
func (s *PortalStore) ListAccounts(ctx context.Context, partner string) ([]portal.Account, error) {
	db, err := s.conn()
	if err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx,
		`SELECT `+accountColumns+` FROM portal_accounts WHERE partner = ? ORDER BY created_at, id`, partner)
	if err != nil {
		return nil, portalErr("list accounts", err)
	}
	defer rows.Close()
	var out []portal.Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, portalErr("list accounts", err)
		}
		out = append(out, *a)
	}
	return out, portalErr("list accounts", rows.Err())
}

// memberChange checks, inside tx, that the account belongs to partner and
// that taking the owner role from it leaves another owner.
func memberChange(ctx context.Context, tx *sql.Tx, partner, accountID string, losesOwner bool) error {
	var role string
	err := tx.QueryRowContext(ctx, `SELECT role FROM portal_accounts WHERE id = ? AND partner = ?`, accountID, partner).Scan(&role)
	if err != nil {
		return err
	}
	if role != portal.RoleOwner || !losesOwner {
		return nil
	}
	var owners int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM portal_accounts WHERE partner = ? AND role = ?`,
		partner, portal.RoleOwner).Scan(&owners); err != nil {
		return err
	}
	if owners <= 1 {
		return obhub.Errorf(obhub.ECONFLICT, "the organisation's last owner cannot be removed or made a developer")
	}
	return nil
}

// SetRole implements portal.Store.
func (s *PortalStore) SetRole(ctx context.Context, partner, accountID, role string) error {
	return s.inTx(ctx, "set role", func(tx *sql.Tx) error {
		if err := memberChange(ctx, tx, partner, accountID, role != portal.RoleOwner); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE portal_accounts SET role = ? WHERE id = ?`, role, accountID)
		return err
	})
}

// DeleteAccount implements portal.Store.
func (s *PortalStore) DeleteAccount(ctx context.Context, partner, accountID string) error {
	return s.inTx(ctx, "delete account", func(tx *sql.Tx) error {
		if err := memberChange(ctx, tx, partner, accountID, true); err != nil {
			return err
		}
		for _, q := range []string{
			`DELETE FROM portal_sessions WHERE account_id = ?`,
			`DELETE FROM portal_tokens WHERE account_id = ?`,
			`DELETE FROM portal_accounts WHERE id = ?`,
		} {
			if _, err := tx.ExecContext(ctx, q, accountID); err != nil {
				return err
			}
		}
		return nil
	})
}

const tokenColumns = `hash, kind, account_id, partner, email, role, invited_by, created_at, expires_at`

func scanToken(row interface{ Scan(...any) error }) (*portal.Token, error) {
	var (
		t                portal.Token
		created, expires int64
	)
	if err := row.Scan(&t.Hash, &t.Kind, &t.AccountID, &t.Partner, &t.Email, &t.Role, &t.InvitedBy, &created, &expires); err != nil {
		return nil, err
	}
	t.CreatedAt, t.ExpiresAt = timeMS(created), timeMS(expires)
	return &t, nil
}

// CreateToken implements portal.Store.
func (s *PortalStore) CreateToken(ctx context.Context, t portal.Token) error {
	err := s.inTx(ctx, "create token", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM portal_tokens WHERE expires_at <= ?`, unixMS(t.CreatedAt)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx,
			`DELETE FROM portal_tokens WHERE kind = ? AND account_id = ? AND partner = ? AND email = ?`,
			t.Kind, t.AccountID, t.Partner, strings.ToLower(t.Email)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO portal_tokens (`+tokenColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			t.Hash, t.Kind, t.AccountID, t.Partner, strings.ToLower(t.Email), t.Role, t.InvitedBy, unixMS(t.CreatedAt), unixMS(t.ExpiresAt))
		if err != nil && isConstraint(err) {
			return obhub.Errorf(obhub.ECONFLICT, "token already exists")
		}
		return err
	})
	return err
}

// UseToken implements portal.Store: one DELETE … RETURNING, so a token is
// handed out once.
func (s *PortalStore) UseToken(ctx context.Context, kind, hash string, now time.Time) (*portal.Token, error) {
	db, err := s.conn()
	if err != nil {
		return nil, err
	}
	t, err := scanToken(db.QueryRowContext(ctx,
		`DELETE FROM portal_tokens WHERE hash = ? AND kind = ? AND expires_at > ? RETURNING `+tokenColumns,
		hash, kind, unixMS(now)))
	if err != nil {
		return nil, portalErr("use token", err)
	}
	return t, nil
}

// ListTokens implements portal.Store.
func (s *PortalStore) ListTokens(ctx context.Context, kind, partner string, now time.Time) ([]portal.Token, error) {
	db, err := s.conn()
	if err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, `SELECT `+tokenColumns+` FROM portal_tokens
		WHERE kind = ? AND partner = ? AND expires_at > ? ORDER BY created_at, hash`, kind, partner, unixMS(now))
	if err != nil {
		return nil, portalErr("list tokens", err)
	}
	defer rows.Close()
	var out []portal.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, portalErr("list tokens", err)
		}
		out = append(out, *t)
	}
	return out, portalErr("list tokens", rows.Err())
}

// DeleteToken implements portal.Store.
func (s *PortalStore) DeleteToken(ctx context.Context, kind, partner, hash string) error {
	return s.execOne(ctx, "delete token",
		`DELETE FROM portal_tokens WHERE hash = ? AND kind = ? AND partner = ?`, hash, kind, partner)
}

// AddMail implements mail.Store.
func (s *PortalStore) AddMail(ctx context.Context, m mail.Message) (int64, error) {
	db, err := s.conn()
	if err != nil {
		return 0, err
	}
	res, err := db.ExecContext(ctx, `INSERT INTO portal_outbox (kind, recipient, subject, body, created_at, delivery) VALUES (?, ?, ?, ?, ?, ?)`,
		m.Kind, strings.ToLower(m.To), m.Subject, m.Text, unixMS(m.CreatedAt), cmp.Or(m.Delivery, mail.DeliveryNone))
	if err != nil {
		return 0, portalErr("add mail", err)
	}
	seq, err := res.LastInsertId()
	return seq, portalErr("add mail", err)
}

const mailColumns = `seq, kind, recipient, subject, body, created_at, delivery, attempts, sent_at, last_error`

// scanMail reads a row of mailColumns.
func scanMail(row interface{ Scan(...any) error }) (mail.Message, error) {
	var (
		m             mail.Message
		created, sent int64
	)
	if err := row.Scan(&m.Seq, &m.Kind, &m.To, &m.Subject, &m.Text, &created, &m.Delivery, &m.Attempts, &sent, &m.LastError); err != nil {
		return mail.Message{}, err
	}
	m.CreatedAt, m.SentAt = timeMS(created), timeMS(sent)
	return m, nil
}

// ListMail implements mail.Store.
func (s *PortalStore) ListMail(ctx context.Context, q mail.Query) ([]mail.Message, error) {
	db, err := s.conn()
	if err != nil {
		return nil, err
	}
	where, args := "1 = 1", []any{}
	if q.To != "" {
		where, args = where+" AND recipient = ?", append(args, strings.ToLower(q.To))
	}
	if q.Delivery != "" {
		where, args = where+" AND delivery = ?", append(args, q.Delivery)
	}
	if q.BeforeSeq > 0 {
		where, args = where+" AND seq < ?", append(args, q.BeforeSeq)
	}
	rows, err := db.QueryContext(ctx, `SELECT `+mailColumns+` FROM portal_outbox
		WHERE `+where+` ORDER BY seq DESC LIMIT ?`, append(args, mailLimit(q))...)
	if err != nil {
		return nil, portalErr("list mail", err)
	}
	defer rows.Close()
	out := []mail.Message{}
	for rows.Next() {
		m, err := scanMail(rows)
		if err != nil {
			return nil, portalErr("list mail", err)
		}
		out = append(out, m)
	}
	return out, portalErr("list mail", rows.Err())
}

// mailLimit is q's page size: 50 unless given.
func mailLimit(q mail.Query) int {
	if q.Limit <= 0 {
		return 50
	}
	return q.Limit
}

// PurgeMail implements mail.Store.
func (s *PortalStore) PurgeMail(ctx context.Context, before time.Time) (int64, error) {
	db, err := s.conn()
	if err != nil {
		return 0, err
	}
	res, err := db.ExecContext(ctx, `DELETE FROM portal_outbox WHERE created_at < ?`, unixMS(before))
	if err != nil {
		return 0, portalErr("purge mail", err)
	}
	n, err := res.RowsAffected()
	return n, portalErr("purge mail", err)
}

// DueMail implements mail.Store.
func (s *PortalStore) DueMail(ctx context.Context, now time.Time, limit int) ([]int64, error) {
	db, err := s.conn()
	if err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, `SELECT seq FROM portal_outbox WHERE delivery = ? AND lease_until <= ? ORDER BY seq LIMIT ?`,
		mail.DeliveryPending, unixMS(now), limit)
	if err != nil {
		return nil, portalErr("due mail", err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var seq int64
		if err := rows.Scan(&seq); err != nil {
			return nil, portalErr("due mail", err)
		}
		out = append(out, seq)
	}
	return out, portalErr("due mail", rows.Err())
}

// ClaimMail implements mail.Store: one conditional UPDATE … RETURNING, so
// a message is claimed once.
func (s *PortalStore) ClaimMail(ctx context.Context, seq int64, claim string, now, until time.Time) (mail.Message, bool, error) {
	db, err := s.conn()
	if err != nil {
		return mail.Message{}, false, err
	}
	m, err := scanMail(db.QueryRowContext(ctx, `UPDATE portal_outbox SET claim = ?, lease_until = ?
		WHERE seq = ? AND delivery = ? AND lease_until <= ? RETURNING `+mailColumns,
		claim, unixMS(until), seq, mail.DeliveryPending, unixMS(now)))
	if errors.Is(err, sql.ErrNoRows) {
		return mail.Message{}, false, nil
	}
	if err != nil {
		return mail.Message{}, false, portalErr("claim mail", err)
	}
	return m, true, nil
}

// MarkMail implements mail.Store.
func (s *PortalStore) MarkMail(ctx context.Context, seq int64, claim string, mk mail.Mark) (bool, error) {
	db, err := s.conn()
	if err != nil {
		return false, err
	}
	var until time.Time
	if mk.KeepsClaim() {
		until = mk.Until
	}
	res, err := db.ExecContext(ctx, `UPDATE portal_outbox SET delivery = ?, attempts = attempts + ?, last_error = ?, sent_at = ?,
		lease_until = ?, claim = CASE WHEN ? THEN claim ELSE '' END
		WHERE seq = ? AND delivery = ? AND claim = ? AND claim <> ''`,
		mk.Delivery, attempts(mk), mk.LastError, unixMS(mk.SentAt), unixMS(until), mk.KeepsClaim(), seq, mail.DeliveryPending, claim)
	if err != nil {
		return false, portalErr("mark mail", err)
	}
	n, err := res.RowsAffected()
	return n == 1, portalErr("mark mail", err)
}

// attempts is how many attempts mk adds.
func attempts(mk mail.Mark) int {
	if mk.Attempted {
		return 1
	}
	return 0
}

// RetryMail implements mail.Store.
func (s *PortalStore) RetryMail(ctx context.Context, seq int64, notBefore time.Time) (mail.Message, bool, error) {
	db, err := s.conn()
	if err != nil {
		return mail.Message{}, false, err
	}
	m, err := scanMail(db.QueryRowContext(ctx, `UPDATE portal_outbox SET delivery = ?, lease_until = 0, claim = ''
		WHERE seq = ? AND delivery = ? AND created_at >= ? RETURNING `+mailColumns,
		mail.DeliveryPending, seq, mail.DeliveryFailed, unixMS(notBefore)))
	if err == nil {
		return m, true, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return mail.Message{}, false, portalErr("retry mail", err)
	}
	m, err = scanMail(db.QueryRowContext(ctx, `SELECT `+mailColumns+` FROM portal_outbox WHERE seq = ?`, seq))
	if err != nil {
		return mail.Message{}, false, portalErr("retry mail", err)
	}
	return m, false, nil
}
