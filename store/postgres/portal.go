package postgres

import (
	"cmp"
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/internal/mail"
	"github.com/obhub/obhub/portal"
)

var _ portal.Store = (*PortalStore)(nil)

// PortalStore implements portal.Store on a DB shared by every node: a
// developer signed in on one node is signed in on all of them, a mailed
// link works on whichever node the browser reaches (once: taking a token
// is one DELETE … RETURNING), and the outbox is one for the cluster. The
// last-owner rule locks the organisation's account rows, so two owners
// demoting each other at once on two nodes leave one owner.
type PortalStore struct{ db *DB }

// Portal returns the DB's portal store.
func (d *DB) Portal() *PortalStore { return &PortalStore{db: d} }

// portalNotFound gives a missing row ENOTFOUND and database failures
// EUNAVAILABLE.
func portalNotFound(op string, err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return obhub.Errorf(obhub.ENOTFOUND, "%s: not found", op)
	}
	return unavailable(op, err)
}

// execOne runs a statement that must change one row; none is ENOTFOUND.
func (s *PortalStore) execOne(ctx context.Context, op, q string, args ...any) error {
	p, err := s.db.conn()
	if err != nil {
		return err
	}
	tag, err := p.Exec(ctx, q, args...)
	if err != nil {
		return unavailable(op, err)
	}
	if tag.RowsAffected() == 0 {
		return obhub.Errorf(obhub.ENOTFOUND, "%s: not found", op)
	}
	return nil
}

// inTx runs fn in one transaction.
func (s *PortalStore) inTx(ctx context.Context, op string, fn func(tx pgx.Tx) error) error {
	p, err := s.db.conn()
	if err != nil {
		return err
	}
	tx, err := p.Begin(ctx)
	if err != nil {
		return unavailable(op, err)
	}
	defer tx.Rollback(ctx)
	if err := fn(tx); err != nil {
		return portalNotFound(op, err)
	}
	return unavailable(op, tx.Commit(ctx))
}

// CreateAccount implements portal.Store.
func (s *PortalStore) CreateAccount(ctx context.Context, a portal.Account) error {
	p, err := s.db.conn()
	if err != nil {
		return err
	}
	_, err = p.Exec(ctx,
		`INSERT INTO portal_accounts (`+portalAccountColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		a.ID, strings.ToLower(a.Email), a.Name, a.Partner, a.Role, a.PasswordHash, a.Failures,
		msOrZero(a.LockedUntil), msOrZero(a.CreatedAt), msOrZero(a.EmailVerifiedAt))
	if err != nil && isUnique(err) {
		return obhub.Errorf(obhub.ECONFLICT, "an account with this e-mail address already exists")
	}
	return unavailable("create account", err)
}

const portalAccountColumns = `id, email, name, partner, role, password_hash, failures, locked_until, created_at, email_verified_at`

func scanPortalAccount(row pgx.Row) (*portal.Account, error) {
	var (
		a                         portal.Account
		locked, created, verified int64
	)
	if err := row.Scan(&a.ID, &a.Email, &a.Name, &a.Partner, &a.Role, &a.PasswordHash, &a.Failures, &locked, &created, &verified); err != nil {
		return nil, err
	}
	a.LockedUntil, a.CreatedAt, a.EmailVerifiedAt = fromMSOrZero(locked), fromMSOrZero(created), fromMSOrZero(verified)
	return &a, nil
}

func (s *PortalStore) account(ctx context.Context, column, value string) (*portal.Account, error) {
	p, err := s.db.conn()
	if err != nil {
		return nil, err
	}
	a, err := scanPortalAccount(p.QueryRow(ctx, `SELECT `+portalAccountColumns+` FROM portal_accounts WHERE `+column+` = $1`, value))
	if err != nil {
		return nil, portalNotFound("read account", err)
	}
	return a, nil
}

// Account implements portal.Store.
func (s *PortalStore) Account(ctx context.Context, id string) (*portal.Account, error) {
	return s.account(ctx, "id", id)
}

// AccountByEmail implements portal.Store.
func (s *PortalStore) AccountByEmail(ctx context.Context, email string) (*portal.Account, error) {
	return s.account(ctx, "email", strings.ToLower(email))
}

// SetLoginState implements portal.Store.
func (s *PortalStore) SetLoginState(ctx context.Context, accountID string, failures int, lockedUntil time.Time) error {
	return s.execOne(ctx, "set login state", `UPDATE portal_accounts SET failures = $1, locked_until = $2 WHERE id = $3`,
		failures, msOrZero(lockedUntil), accountID)
}

// CreateSession implements portal.Store. Expired sessions are swept on
// the way.
func (s *PortalStore) CreateSession(ctx context.Context, sess portal.Session) error {
	p, err := s.db.conn()
	if err != nil {
		return err
	}
	if _, err := p.Exec(ctx, `DELETE FROM portal_sessions WHERE expires_at <= $1`, ms(sess.CreatedAt)); err != nil {
		return unavailable("sweep sessions", err)
	}
	_, err = p.Exec(ctx,
		`INSERT INTO portal_sessions (id_hash, account_id, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		sess.IDHash, sess.AccountID, sess.CSRF, ms(sess.CreatedAt), ms(sess.ExpiresAt))
	if err != nil && isUnique(err) {
		return obhub.Errorf(obhub.ECONFLICT, "session already exists")
	}
	return unavailable("create session", err)
}

// Session implements portal.Store.
func (s *PortalStore) Session(ctx context.Context, idHash string, now time.Time) (*portal.Session, error) {
	p, err := s.db.conn()
	if err != nil {
		return nil, err
	}
	var (
		sess             portal.Session
		created, expires int64
	)
	err = p.QueryRow(ctx,
		`SELECT id_hash, account_id, csrf, created_at, expires_at FROM portal_sessions WHERE id_hash = $1 AND expires_at > $2`,
		idHash, ms(now)).Scan(&sess.IDHash, &sess.AccountID, &sess.CSRF, &created, &expires)
	if err != nil {
		return nil, portalNotFound("read session", err)
	}
	sess.CreatedAt, sess.ExpiresAt = fromMS(created), fromMS(expires)
	return &sess, nil
}

// DeleteSession implements portal.Store.
func (s *PortalStore) DeleteSession(ctx context.Context, idHash string) error {
	p, err := s.db.conn()
	if err != nil {
		return err
	}
	_, err = p.Exec(ctx, `DELETE FROM portal_sessions WHERE id_hash = $1`, idHash)
	return unavailable("delete session", err)
}

// SetEmailVerified implements portal.Store.
func (s *PortalStore) SetEmailVerified(ctx context.Context, accountID string, t time.Time) error {
	return s.execOne(ctx, "set e-mail verified", `UPDATE portal_accounts SET email_verified_at = $1 WHERE id = $2`,
		msOrZero(t), accountID)
}

// SetPassword implements portal.Store.
func (s *PortalStore) SetPassword(ctx context.Context, accountID, hash string) error {
	return s.inTx(ctx, "set password", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE portal_accounts SET password_hash = $1, failures = 0, locked_until = 0 WHERE id = $2`,
			hash, accountID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return pgx.ErrNoRows
		}
		_, err = tx.Exec(ctx, `DELETE FROM portal_sessions WHERE account_id = $1`, accountID)
		return err
	})
}

// ListAccounts implements portal.Store.
func (s *PortalStore) ListAccounts(ctx context.Context, partner string) ([]portal.Account, error) {
	p, err := s.db.conn()
	if err != nil {
		return nil, err
	}
	rows, err := p.Query(ctx, `SELECT `+portalAccountColumns+` FROM portal_accounts WHERE partner = $1 ORDER BY created_at, id`, partner)
	if err != nil {
		return nil, unavailable("list accounts", err)
	}
	defer rows.Close()
	var out []portal.Account
	for rows.Next() {
		a, err := scanPortalAccount(rows)
		if err != nil {
			return nil, unavailable("list accounts", err)
		}
		out = append(out, *a)
	}
	return out, unavailable("list accounts", rows.Err())
}

// memberChange locks the partner's accounts, then checks that accountID
// is one of them and that, when it loses the owner role, another owner
// remains. Concurrent changes of one partner's team wait for each other.
func memberChange(ctx context.Context, tx pgx.Tx, partner, accountID string, losesOwner bool) error {
	rows, err := tx.Query(ctx, `SELECT id, role FROM portal_accounts WHERE partner = $1 ORDER BY id FOR UPDATE`, partner)
	if err != nil {
		return err
	}
	defer rows.Close()
	found, owners, isOwner := false, 0, false
	for rows.Next() {
		var id, role string
		if err := rows.Scan(&id, &role); err != nil {
			return err
		}
		if role == portal.RoleOwner {
			owners++
		}
		if id == accountID {
			found, isOwner = true, role == portal.RoleOwner
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	switch {
	case !found:
		return pgx.ErrNoRows
	case isOwner && losesOwner && owners <= 1:
		return obhub.Errorf(obhub.ECONFLICT, "the organisation's last owner cannot be removed or made a developer")
	}
	return nil
}

// SetRole implements portal.Store.
func (s *PortalStore) SetRole(ctx context.Context, partner, accountID, role string) error {
	return s.inTx(ctx, "set role", func(tx pgx.Tx) error {
		if err := memberChange(ctx, tx, partner, accountID, role != portal.RoleOwner); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE portal_accounts SET role = $1 WHERE id = $2`, role, accountID)
		return err
	})
}

// DeleteAccount implements portal.Store.
func (s *PortalStore) DeleteAccount(ctx context.Context, partner, accountID string) error {
	return s.inTx(ctx, "delete account", func(tx pgx.Tx) error {
		if err := memberChange(ctx, tx, partner, accountID, true); err != nil {
			return err
		}
		for _, q := range []string{
			`DELETE FROM portal_sessions WHERE account_id = $1`,
			`DELETE FROM portal_tokens WHERE account_id = $1`,
			`DELETE FROM portal_accounts WHERE id = $1`,
		} {
			if _, err := tx.Exec(ctx, q, accountID); err != nil {
				return err
			}
		}
		return nil
	})
}

const portalTokenColumns = `hash, kind, account_id, partner, email, role, invited_by, created_at, expires_at`

func scanPortalToken(row pgx.Row) (*portal.Token, error) {
	var (
		t                portal.Token
		created, expires int64
	)
	if err := row.Scan(&t.Hash, &t.Kind, &t.AccountID, &t.Partner, &t.Email, &t.Role, &t.InvitedBy, &created, &expires); err != nil {
		return nil, err
	}
	t.CreatedAt, t.ExpiresAt = fromMS(created), fromMS(expires)
	return &t, nil
}

// CreateToken implements portal.Store.
func (s *PortalStore) CreateToken(ctx context.Context, t portal.Token) error {
	return s.inTx(ctx, "create token", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM portal_tokens WHERE expires_at <= $1`, ms(t.CreatedAt)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM portal_tokens WHERE kind = $1 AND account_id = $2 AND partner = $3 AND email = $4`,
			t.Kind, t.AccountID, t.Partner, strings.ToLower(t.Email)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO portal_tokens (`+portalTokenColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			t.Hash, t.Kind, t.AccountID, t.Partner, strings.ToLower(t.Email), t.Role, t.InvitedBy, ms(t.CreatedAt), ms(t.ExpiresAt))
		if err != nil && isUnique(err) {
			return obhub.Errorf(obhub.ECONFLICT, "token already exists")
		}
		return err
	})
}

// UseToken implements portal.Store.
func (s *PortalStore) UseToken(ctx context.Context, kind, hash string, now time.Time) (*portal.Token, error) {
	p, err := s.db.conn()
	if err != nil {
		return nil, err
	}
	t, err := scanPortalToken(p.QueryRow(ctx,
		`DELETE FROM portal_tokens WHERE hash = $1 AND kind = $2 AND expires_at > $3 RETURNING `+portalTokenColumns,
		hash, kind, ms(now)))
	if err != nil {
		return nil, portalNotFound("use token", err)
	}
	return t, nil
}

// ListTokens implements portal.Store.
func (s *PortalStore) ListTokens(ctx context.Context, kind, partner string, now time.Time) ([]portal.Token, error) {
	p, err := s.db.conn()
	if err != nil {
		return nil, err
	}
	rows, err := p.Query(ctx, `SELECT `+portalTokenColumns+` FROM portal_tokens
		WHERE kind = $1 AND partner = $2 AND expires_at > $3 ORDER BY created_at, hash`, kind, partner, ms(now))
	if err != nil {
		return nil, unavailable("list tokens", err)
	}
	defer rows.Close()
	var out []portal.Token
	for rows.Next() {
		t, err := scanPortalToken(rows)
		if err != nil {
			return nil, unavailable("list tokens", err)
		}
		out = append(out, *t)
	}
	return out, unavailable("list tokens", rows.Err())
}

// DeleteToken implements portal.Store.
func (s *PortalStore) DeleteToken(ctx context.Context, kind, partner, hash string) error {
	return s.execOne(ctx, "delete token", `DELETE FROM portal_tokens WHERE hash = $1 AND kind = $2 AND partner = $3`,
		hash, kind, partner)
}

// AddMail implements mail.Store.
func (s *PortalStore) AddMail(ctx context.Context, m mail.Message) (int64, error) {
	p, err := s.db.conn()
	if err != nil {
		return 0, err
	}
	var seq int64
	err = p.QueryRow(ctx, `INSERT INTO portal_outbox (kind, recipient, subject, body, created_at, delivery)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq`,
		m.Kind, strings.ToLower(m.To), m.Subject, m.Text, ms(m.CreatedAt), cmp.Or(m.Delivery, mail.DeliveryNone)).Scan(&seq)
	return seq, unavailable("add mail", err)
}

const portalMailColumns = `seq, kind, recipient, subject, body, created_at, delivery, attempts, sent_at, last_error`

// scanPortalMail reads a row of portalMailColumns.
func scanPortalMail(row pgx.Row) (mail.Message, error) {
	var (
		m             mail.Message
		created, sent int64
	)
	if err := row.Scan(&m.Seq, &m.Kind, &m.To, &m.Subject, &m.Text, &created, &m.Delivery, &m.Attempts, &sent, &m.LastError); err != nil {
		return mail.Message{}, err
	}
	m.CreatedAt, m.SentAt = fromMS(created), fromMSOrZero(sent)
	return m, nil
}

// ListMail implements mail.Store.
func (s *PortalStore) ListMail(ctx context.Context, q mail.Query) ([]mail.Message, error) {
	p, err := s.db.conn()
	if err != nil {
		return nil, err
	}
	where, args := "true", []any{}
	if q.To != "" {
		args = append(args, strings.ToLower(q.To))
		where += " AND recipient = $" + strconv.Itoa(len(args))
	}
	if q.Delivery != "" {
		args = append(args, q.Delivery)
		where += " AND delivery = $" + strconv.Itoa(len(args))
	}
	if q.BeforeSeq > 0 {
		args = append(args, q.BeforeSeq)
		where += " AND seq < $" + strconv.Itoa(len(args))
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	args = append(args, limit)
	rows, err := p.Query(ctx, `SELECT `+portalMailColumns+` FROM portal_outbox
		WHERE `+where+` ORDER BY seq DESC LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, unavailable("list mail", err)
	}
	defer rows.Close()
	out := []mail.Message{}
	for rows.Next() {
		m, err := scanPortalMail(rows)
		if err != nil {
			return nil, unavailable("list mail", err)
		}
		out = append(out, m)
	}
	return out, unavailable("list mail", rows.Err())
}

// PurgeMail implements mail.Store.
func (s *PortalStore) PurgeMail(ctx context.Context, before time.Time) (int64, error) {
	p, err := s.db.conn()
	if err != nil {
		return 0, err
	}
	tag, err := p.Exec(ctx, `DELETE FROM portal_outbox WHERE created_at < $1`, ms(before))
	if err != nil {
		return 0, unavailable("purge mail", err)
	}
	return tag.RowsAffected(), nil
}

// DueMail implements mail.Store.
func (s *PortalStore) DueMail(ctx context.Context, now time.Time, limit int) ([]int64, error) {
	p, err := s.db.conn()
	if err != nil {
		return nil, err
	}
	rows, err := p.Query(ctx, `SELECT seq FROM portal_outbox WHERE delivery = $1 AND lease_until <= $2 ORDER BY seq LIMIT $3`,
		mail.DeliveryPending, ms(now), limit)
	if err != nil {
		return nil, unavailable("due mail", err)
	}
	seqs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	return seqs, unavailable("due mail", err)
}

// ClaimMail implements mail.Store: one conditional UPDATE … RETURNING.
// Of nodes claiming a message at once, the first takes the row's lock;
// the others, waiting for it, find the claim's lease in the future and
// update nothing.
func (s *PortalStore) ClaimMail(ctx context.Context, seq int64, claim string, now, until time.Time) (mail.Message, bool, error) {
	p, err := s.db.conn()
	if err != nil {
		return mail.Message{}, false, err
	}
	m, err := scanPortalMail(p.QueryRow(ctx, `UPDATE portal_outbox SET claim = $1, lease_until = $2
		WHERE seq = $3 AND delivery = $4 AND lease_until <= $5 RETURNING `+portalMailColumns,
		claim, ms(until), seq, mail.DeliveryPending, ms(now)))
	if errors.Is(err, pgx.ErrNoRows) {
		return mail.Message{}, false, nil
	}
	if err != nil {
		return mail.Message{}, false, unavailable("claim mail", err)
	}
	return m, true, nil
}

// MarkMail implements mail.Store.
func (s *PortalStore) MarkMail(ctx context.Context, seq int64, claim string, mk mail.Mark) (bool, error) {
	p, err := s.db.conn()
	if err != nil {
		return false, err
	}
	var until int64
	if mk.KeepsClaim() {
		until = ms(mk.Until)
	}
	attempted := 0
	if mk.Attempted {
		attempted = 1
	}
	tag, err := p.Exec(ctx, `UPDATE portal_outbox SET delivery = $1, attempts = attempts + $2, last_error = $3, sent_at = $4,
		lease_until = $5, claim = CASE WHEN $6 THEN claim ELSE '' END
		WHERE seq = $7 AND delivery = $8 AND claim = $9 AND claim <> ''`,
		mk.Delivery, attempted, mk.LastError, msOrZero(mk.SentAt), until, mk.KeepsClaim(), seq, mail.DeliveryPending, claim)
	if err != nil {
		return false, unavailable("mark mail", err)
	}
	return tag.RowsAffected() == 1, nil
}

// RetryMail implements mail.Store.
func (s *PortalStore) RetryMail(ctx context.Context, seq int64, notBefore time.Time) (mail.Message, bool, error) {
	p, err := s.db.conn()
	if err != nil {
		return mail.Message{}, false, err
	}
	m, err := scanPortalMail(p.QueryRow(ctx, `UPDATE portal_outbox SET delivery = $1, lease_until = 0, claim = ''
		WHERE seq = $2 AND delivery = $3 AND created_at >= $4 RETURNING `+portalMailColumns,
		mail.DeliveryPending, seq, mail.DeliveryFailed, ms(notBefore)))
	if err == nil {
		return m, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return mail.Message{}, false, unavailable("retry mail", err)
	}
	m, err = scanPortalMail(p.QueryRow(ctx, `SELECT `+portalMailColumns+` FROM portal_outbox WHERE seq = $1`, seq))
	if err != nil {
		return mail.Message{}, false, portalNotFound("retry mail", err)
	}
	return m, false, nil
}
