package postgres

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/console"
	"github.com/obhub/obhub/internal/mail"
	"github.com/obhub/obhub/portal"
)

var (
	_ portal.Porter  = (*PortalStore)(nil)
	_ console.Porter = (*ConsoleStore)(nil)
)

// Export implements portal.Porter: one REPEATABLE READ transaction, so
// the accounts and the outbox are of one moment.
func (s *PortalStore) Export(ctx context.Context) (portal.Dump, error) {
	p, err := s.db.conn()
	if err != nil {
		return portal.Dump{}, err
	}
	var d portal.Dump
	err = pgx.BeginTxFunc(ctx, p, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+portalAccountColumns+` FROM portal_accounts ORDER BY created_at, id`)
		if err != nil {
			return err
		}
		for rows.Next() {
			a, err := scanPortalAccount(rows)
			if err != nil {
				rows.Close()
				return err
			}
			d.Accounts = append(d.Accounts, *a)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if rows, err = tx.Query(ctx, `SELECT `+portalMailColumns+` FROM portal_outbox ORDER BY seq`); err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			m, err := scanPortalMail(rows)
			if err != nil {
				return err
			}
			d.Outbox = append(d.Outbox, m)
		}
		return rows.Err()
	})
	return d, unavailable("export portal", err)
}

// Import implements portal.Porter. The table lock keeps a node that
// signs a developer up meanwhile from slipping an account in between the
// check and the copy; the outbox's sequence goes on after the copied
// mails.
func (s *PortalStore) Import(ctx context.Context, d portal.Dump) error {
	p, err := s.db.conn()
	if err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, p, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE portal_accounts, portal_outbox IN EXCLUSIVE MODE`); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM portal_accounts`).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return obhub.Errorf(obhub.ECONFLICT, "PostgreSQL holds %d portal accounts already", n)
		}
		for _, a := range d.Accounts {
			if _, err := tx.Exec(ctx, `INSERT INTO portal_accounts (`+portalAccountColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
				a.ID, strings.ToLower(a.Email), a.Name, a.Partner, a.Role, a.PasswordHash, a.Failures,
				msOrZero(a.LockedUntil), msOrZero(a.CreatedAt), msOrZero(a.EmailVerifiedAt)); err != nil {
				return err
			}
		}
		for _, m := range d.Outbox {
			delivery := m.Delivery
			if delivery == "" {
				delivery = mail.DeliveryNone
			}
			if _, err := tx.Exec(ctx, `INSERT INTO portal_outbox (`+portalMailColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
				m.Seq, m.Kind, strings.ToLower(m.To), m.Subject, m.Text, msOrZero(m.CreatedAt), delivery, m.Attempts,
				msOrZero(m.SentAt), m.LastError); err != nil {
				return err
			}
		}
		if len(d.Outbox) > 0 {
			if _, err := tx.Exec(ctx, `SELECT setval(pg_get_serial_sequence('portal_outbox', 'seq'),
				GREATEST((SELECT max(seq) FROM portal_outbox), 1))`); err != nil {
				return err
			}
		}
		return nil
	})
	return unavailable("import portal", err)
}

// ExportOperators implements console.Porter.
func (s *ConsoleStore) ExportOperators(ctx context.Context) ([]console.Operator, error) {
	p, err := s.db.conn()
	if err != nil {
		return nil, err
	}
	rows, err := p.Query(ctx, `SELECT `+operatorColumns+` FROM console_operators ORDER BY created_at, id`)
	if err != nil {
		return nil, unavailable("export operators", err)
	}
	defer rows.Close()
	var ops []console.Operator
	for rows.Next() {
		o, err := scanOperator(rows)
		if err != nil {
			return nil, unavailable("export operators", err)
		}
		ops = append(ops, *o)
	}
	return ops, unavailable("export operators", rows.Err())
}

// ImportOperators implements console.Porter.
func (s *ConsoleStore) ImportOperators(ctx context.Context, ops []console.Operator) error {
	p, err := s.db.conn()
	if err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, p, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE console_operators IN EXCLUSIVE MODE`); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM console_operators`).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return obhub.Errorf(obhub.ECONFLICT, "PostgreSQL holds %d console operators already", n)
		}
		for _, o := range ops {
			if _, err := tx.Exec(ctx, `INSERT INTO console_operators (`+operatorColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
				o.ID, strings.ToLower(o.Email), o.Name, o.Role, o.Bank, o.PasswordHash, o.Failures,
				msOrZero(o.LockedUntil), msOrZero(o.CreatedAt)); err != nil {
				return err
			}
		}
		return nil
	})
	return unavailable("import operators", err)
}
