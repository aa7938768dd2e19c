package sqlite

import (
	"context"
	"database/sql"

	"github.com/obhub/obhub/console"
)

var _ console.Directory = (*ConsoleStore)(nil)

// ListOperators implements console.Directory.
func (s *ConsoleStore) ListOperators(ctx context.Context) ([]console.Operator, error) {
	db, err := s.conn()
	if err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, `SELECT `+operatorColumns+` FROM console_operators ORDER BY email`)
	if err != nil {
		return nil, consoleErr("list operators", err)
	}
	defer rows.Close()
	var out []console.Operator
	for rows.Next() {
		o, err := scanOperator(rows)
		if err != nil {
			return nil, consoleErr("list operators", err)
		}
		out = append(out, *o)
	}
	return out, consoleErr("list operators", rows.Err())
}

// SetPassword implements console.Directory: the new hash and the end of
// the operator's sessions, in one transaction.
func (s *ConsoleStore) SetPassword(ctx context.Context, operatorID, hash string) error {
	db, err := s.conn()
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return consoleErr("set password", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE console_operators SET password_hash = ? WHERE id = ?`, hash, operatorID)
	if err != nil {
		return consoleErr("set password", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return consoleErr("set password", cmpErr(err, sql.ErrNoRows))
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM console_sessions WHERE operator_id = ?`, operatorID); err != nil {
		return consoleErr("set password", err)
	}
	return consoleErr("set password", tx.Commit())
}
