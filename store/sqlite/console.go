package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/console"
)

var _ console.Store = (*ConsoleStore)(nil)

// ConsoleStore implements console.Store on its own SQLite file
// (console.db in the data folder): operators and their sessions.
type ConsoleStore struct {
	single
}

// NewConsoleStore returns a store for the database file at path. It does
// no I/O: Open creates or opens the file. The folder must exist.
func NewConsoleStore(path string) *ConsoleStore {
	return &ConsoleStore{single{name: "console", path: path, schema: consoleSchema, sync: "NORMAL"}}
}

const consoleSchema = `
CREATE TABLE IF NOT EXISTS console_operators (
	id            TEXT PRIMARY KEY,
	email         TEXT NOT NULL UNIQUE,
	name          TEXT NOT NULL,
	role          TEXT NOT NULL,
	bank          TEXT NOT NULL DEFAULT '',
	password_hash TEXT NOT NULL,
	failures      INTEGER NOT NULL DEFAULT 0,
	locked_until  INTEGER NOT NULL DEFAULT 0,
	created_at    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS console_sessions (
	id_hash     TEXT PRIMARY KEY,
	operator_id TEXT NOT NULL,
	csrf        TEXT NOT NULL,
	created_at  INTEGER NOT NULL,
	expires_at  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS console_sessions_expiry ON console_sessions (expires_at);
`

func consoleErr(op string, err error) error { return webErr("console", op, err) }

// CreateOperator implements console.Store.
func (s *ConsoleStore) CreateOperator(ctx context.Context, o console.Operator) error {
	db, err := s.conn()
	if err != nil {
		return err
	}
	_, err = db.ExecContext(ctx,
		`INSERT INTO console_operators (id, email, name, role, bank, password_hash, failures, locked_until, created_at)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		o.ID, strings.ToLower(o.Email), o.Name, o.Role, o.Bank, o.PasswordHash, o.Failures, unixMS(o.LockedUntil), unixMS(o.CreatedAt))
	if err != nil && isConstraint(err) {
		return obhub.Errorf(obhub.ECONFLICT, "an operator with this e-mail address already exists")
	}
	return consoleErr("create operator", err)
}

func (s *ConsoleStore) operator(ctx context.Context, where string, arg any) (*console.Operator, error) {
	db, err := s.conn()
	if err != nil {
		return nil, err
	}
	o, err := scanOperator(db.QueryRowContext(ctx, `SELECT `+operatorColumns+` FROM console_operators WHERE `+where, arg))
	if err != nil {
		return nil, consoleErr("read operator", err)
	}
	return o, nil
}

// operatorColumns are the columns scanOperator reads, in its order.
const operatorColumns = `id, email, name, role, bank, password_hash, failures, locked_until, created_at`

func scanOperator(row interface{ Scan(...any) error }) (*console.Operator, error) {
	var (
		o               console.Operator
		locked, created int64
	)
	if err := row.Scan(&o.ID, &o.Email, &o.Name, &o.Role, &o.Bank, &o.PasswordHash, &o.Failures, &locked, &created); err != nil {
		return nil, err
	}
	o.LockedUntil, o.CreatedAt = timeMS(locked), timeMS(created)
	return &o, nil
}

// Operator implements console.Store.
func (s *ConsoleStore) Operator(ctx context.Context, id string) (*console.Operator, error) {
	return s.operator(ctx, "id = ?", id)
}

// OperatorByEmail implements console.Store.
func (s *ConsoleStore) OperatorByEmail(ctx context.Context, email string) (*console.Operator, error) {
	return s.operator(ctx, "email = ?", strings.ToLower(email))
}

// SetLoginState implements console.Store.
func (s *ConsoleStore) SetLoginState(ctx context.Context, operatorID string, failures int, lockedUntil time.Time) error {
	db, err := s.conn()
	if err != nil {
		return err
	}
	res, err := db.ExecContext(ctx, `UPDATE console_operators SET failures = ?, locked_until = ? WHERE id = ?`,
		failures, unixMS(lockedUntil), operatorID)
	if err != nil {
		return consoleErr("set login state", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return consoleErr("set login state", cmpErr(err, sql.ErrNoRows))
	}
	return nil
}

// consoleSessions is the console's sessions table.
var consoleSessions = sessionTable{store: "console", table: "console_sessions", owner: "operator_id"}

// CreateSession implements console.Store; expired sessions are swept.
func (s *ConsoleStore) CreateSession(ctx context.Context, sess console.Session) error {
	db, err := s.conn()
	if err != nil {
		return err
	}
	return consoleSessions.create(ctx, db, sessionRow{IDHash: sess.IDHash, Owner: sess.OperatorID, CSRF: sess.CSRF,
		CreatedAt: sess.CreatedAt, ExpiresAt: sess.ExpiresAt})
}

// Session implements console.Store.
func (s *ConsoleStore) Session(ctx context.Context, idHash string, now time.Time) (*console.Session, error) {
	db, err := s.conn()
	if err != nil {
		return nil, err
	}
	r, err := consoleSessions.get(ctx, db, idHash, now)
	if err != nil {
		return nil, err
	}
	return &console.Session{IDHash: r.IDHash, OperatorID: r.Owner, CSRF: r.CSRF, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt}, nil
}

// DeleteSession implements console.Store.
func (s *ConsoleStore) DeleteSession(ctx context.Context, idHash string) error {
	db, err := s.conn()
	if err != nil {
		return err
	}
	return consoleSessions.delete(ctx, db, idHash)
}
