package postgres

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/console"
)

var (
	_ console.Store     = (*ConsoleStore)(nil)
	_ console.Directory = (*ConsoleStore)(nil)
)

// ConsoleStore implements console.Store on a DB shared by every node: an
// operator created on one node signs in on any, and a console session
// cookie set by one node is honoured by all of them (and ends on all of
// them at sign-out). The unique index on the lower-cased e-mail address
// settles concurrent registrations, on any node, to one.
type ConsoleStore struct{ db *DB }

// Console returns the DB's console store.
func (d *DB) Console() *ConsoleStore { return &ConsoleStore{db: d} }

// msOrZero is ms for a time that may be unset: the zero time is 0.
func msOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return ms(t)
}

// fromMSOrZero reverses msOrZero.
func fromMSOrZero(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return fromMS(v)
}

// CreateOperator implements console.Store.
func (s *ConsoleStore) CreateOperator(ctx context.Context, o console.Operator) error {
	p, err := s.db.conn()
	if err != nil {
		return err
	}
	_, err = p.Exec(ctx,
		`INSERT INTO console_operators (id, email, name, role, bank, password_hash, failures, locked_until, created_at)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		o.ID, strings.ToLower(o.Email), o.Name, o.Role, o.Bank, o.PasswordHash, o.Failures, msOrZero(o.LockedUntil), msOrZero(o.CreatedAt))
	if err != nil && isUnique(err) {
		return obhub.Errorf(obhub.ECONFLICT, "an operator with this e-mail address already exists")
	}
	return unavailable("create operator", err)
}

const operatorColumns = `id, email, name, role, bank, password_hash, failures, locked_until, created_at`

// scanOperator reads one row of operatorColumns.
func scanOperator(row pgx.Row) (*console.Operator, error) {
	var (
		o               console.Operator
		locked, created int64
	)
	if err := row.Scan(&o.ID, &o.Email, &o.Name, &o.Role, &o.Bank, &o.PasswordHash, &o.Failures, &locked, &created); err != nil {
		return nil, err
	}
	o.LockedUntil, o.CreatedAt = fromMSOrZero(locked), fromMSOrZero(created)
	return &o, nil
}

func (s *ConsoleStore) operator(ctx context.Context, column, value string) (*console.Operator, error) {
	p, err := s.db.conn()
	if err != nil {
		return nil, err
	}
	// column is one of two constants of this file, never input.
	o, err := scanOperator(p.QueryRow(ctx, `SELECT `+operatorColumns+` FROM console_operators WHERE `+column+` = $1`, value))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, obhub.Errorf(obhub.ENOTFOUND, "operator not found")
	}
	return o, unavailable("read operator", err)
}

// Operator implements console.Store.
func (s *ConsoleStore) Operator(ctx context.Context, id string) (*console.Operator, error) {
	return s.operator(ctx, "id", id)
}

// OperatorByEmail implements console.Store.
func (s *ConsoleStore) OperatorByEmail(ctx context.Context, email string) (*console.Operator, error) {
	return s.operator(ctx, "email", strings.ToLower(email))
}

// SetLoginState implements console.Store.
func (s *ConsoleStore) SetLoginState(ctx context.Context, operatorID string, failures int, lockedUntil time.Time) error {
	p, err := s.db.conn()
	if err != nil {
		return err
	}
	tag, err := p.Exec(ctx, `UPDATE console_operators SET failures = $1, locked_until = $2 WHERE id = $3`,
		failures, msOrZero(lockedUntil), operatorID)
	if err != nil {
		return unavailable("set login state", err)
	}
	if tag.RowsAffected() == 0 {
		return obhub.Errorf(obhub.ENOTFOUND, "operator not found")
	}
	return nil
}

// CreateSession implements console.Store; expired sessions are swept in
// the same transaction.
func (s *ConsoleStore) CreateSession(ctx context.Context, sess console.Session) error {
	p, err := s.db.conn()
	if err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, p, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM console_sessions WHERE expires_at <= $1`, ms(sess.CreatedAt)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx,
			`INSERT INTO console_sessions (id_hash, operator_id, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
			sess.IDHash, sess.OperatorID, sess.CSRF, ms(sess.CreatedAt), ms(sess.ExpiresAt))
		return err
	})
	if err != nil && isUnique(err) {
		return obhub.Errorf(obhub.ECONFLICT, "session already exists")
	}
	return unavailable("create session", err)
}

// Session implements console.Store.
func (s *ConsoleStore) Session(ctx context.Context, idHash string, now time.Time) (*console.Session, error) {
	p, err := s.db.conn()
	if err != nil {
		return nil, err
	}
	var (
		sess             console.Session
		created, expires int64
	)
	err = p.QueryRow(ctx,
		`SELECT id_hash, operator_id, csrf, created_at, expires_at FROM console_sessions WHERE id_hash = $1 AND expires_at > $2`,
		idHash, ms(now)).Scan(&sess.IDHash, &sess.OperatorID, &sess.CSRF, &created, &expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, obhub.Errorf(obhub.ENOTFOUND, "session not found")
	}
	if err != nil {
		return nil, unavailable("read session", err)
	}
	sess.CreatedAt, sess.ExpiresAt = fromMS(created), fromMS(expires)
	return &sess, nil
}

// DeleteSession implements console.Store.
func (s *ConsoleStore) DeleteSession(ctx context.Context, idHash string) error {
	p, err := s.db.conn()
	if err != nil {
		return err
	}
	_, err = p.Exec(ctx, `DELETE FROM console_sessions WHERE id_hash = $1`, idHash)
	return unavailable("delete session", err)
}

// ListOperators implements console.Directory.
func (s *ConsoleStore) ListOperators(ctx context.Context) ([]console.Operator, error) {
	p, err := s.db.conn()
	if err != nil {
		return nil, err
	}
	rows, err := p.Query(ctx, `SELECT `+operatorColumns+` FROM console_operators ORDER BY email`)
	if err != nil {
		return nil, unavailable("list operators", err)
	}
	defer rows.Close()
	var out []console.Operator
	for rows.Next() {
		o, err := scanOperator(rows)
		if err != nil {
			return nil, unavailable("list operators", err)
		}
		out = append(out, *o)
	}
	return out, unavailable("list operators", rows.Err())
}

// SetPassword implements console.Directory: the new hash and the end of
// the operator's sessions on every node, in one transaction.
func (s *ConsoleStore) SetPassword(ctx context.Context, operatorID, hash string) error {
	p, err := s.db.conn()
	if err != nil {
		return err
	}
	found := true
	err = pgx.BeginFunc(ctx, p, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE console_operators SET password_hash = $1 WHERE id = $2`, hash, operatorID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			found = false
			return nil
		}
		_, err = tx.Exec(ctx, `DELETE FROM console_sessions WHERE operator_id = $1`, operatorID)
		return err
	})
	if err == nil && !found {
		return obhub.Errorf(obhub.ENOTFOUND, "operator not found")
	}
	return unavailable("set password", err)
}
