package sqlite

import (
	"context"
	"database/sql"
	"strings"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/console"
	"github.com/obhub/obhub/internal/mail"
	"github.com/obhub/obhub/portal"
)

var (
	_ portal.Porter  = (*PortalStore)(nil)
	_ console.Porter = (*ConsoleStore)(nil)
)

// Export implements portal.Porter.
func (s *PortalStore) Export(ctx context.Context) (portal.Dump, error) {
	var d portal.Dump
	err := s.inTx(ctx, "export", func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+accountColumns+` FROM portal_accounts ORDER BY created_at, id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			a, err := scanAccount(rows)
			if err != nil {
				return err
			}
			d.Accounts = append(d.Accounts, *a)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		mrows, err := tx.QueryContext(ctx, `SELECT `+mailColumns+` FROM portal_outbox ORDER BY seq`)
		if err != nil {
			return err
		}
		defer mrows.Close()
		for mrows.Next() {
			m, err := scanMail(mrows)
			if err != nil {
				return err
			}
			d.Outbox = append(d.Outbox, m)
		}
		return mrows.Err()
	})
	return d, err
}

// Import implements portal.Porter.
func (s *PortalStore) Import(ctx context.Context, d portal.Dump) error {
	return s.inTx(ctx, "import", func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM portal_accounts`).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return obhub.Errorf(obhub.ECONFLICT, "the portal store holds %d accounts already", n)
		}
		for _, a := range d.Accounts {
			if _, err := tx.ExecContext(ctx, `INSERT INTO portal_accounts (`+accountColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				a.ID, strings.ToLower(a.Email), a.Name, a.Partner, a.Role, a.PasswordHash, a.Failures, unixMS(a.LockedUntil),
				unixMS(a.CreatedAt), unixMS(a.EmailVerifiedAt)); err != nil {
				return err
			}
		}
		for _, m := range d.Outbox {
			if _, err := tx.ExecContext(ctx, `INSERT INTO portal_outbox (`+mailColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				m.Seq, m.Kind, strings.ToLower(m.To), m.Subject, m.Text, unixMS(m.CreatedAt), orNone(m.Delivery), m.Attempts,
				unixMS(m.SentAt), m.LastError); err != nil {
				return err
			}
		}
		return nil
	})
}

func orNone(delivery string) string {
	if delivery == "" {
		return mail.DeliveryNone
	}
	return delivery
}

// ExportOperators implements console.Porter.
func (s *ConsoleStore) ExportOperators(ctx context.Context) ([]console.Operator, error) {
	db, err := s.conn()
	if err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, `SELECT `+operatorColumns+` FROM console_operators ORDER BY created_at, id`)
	if err != nil {
		return nil, consoleErr("export operators", err)
	}
	defer rows.Close()
	var ops []console.Operator
	for rows.Next() {
		o, err := scanOperator(rows)
		if err != nil {
			return nil, consoleErr("export operators", err)
		}
		ops = append(ops, *o)
	}
	return ops, consoleErr("export operators", rows.Err())
}

// ImportOperators implements console.Porter.
func (s *ConsoleStore) ImportOperators(ctx context.Context, ops []console.Operator) error {
	db, err := s.conn()
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return consoleErr("import operators", err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM console_operators`).Scan(&n); err != nil {
		return consoleErr("import operators", err)
	}
	if n > 0 {
		return obhub.Errorf(obhub.ECONFLICT, "the console store holds %d operators already", n)
	}
	for _, o := range ops {
		if _, err := tx.ExecContext(ctx, `INSERT INTO console_operators (`+operatorColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			o.ID, strings.ToLower(o.Email), o.Name, o.Role, o.Bank, o.PasswordHash, o.Failures, unixMS(o.LockedUntil), unixMS(o.CreatedAt)); err != nil {
			return consoleErr("import operators", err)
		}
	}
	return consoleErr("import operators", tx.Commit())
}
