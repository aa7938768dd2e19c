// Package postgres keeps the hub's shared state in PostgreSQL (pgx v5):
// OAuth state (oauth.Store), the audit ledger (audit.Store, one hash
// chain per node) and the admin console's operators and sessions
// (console.Store). Every node of a cluster opens the same database.
//
// The schema is created by embedded, numbered SQL migrations applied by
// Open under a transaction-scoped advisory lock, with the applied versions
// in obhub_schema_migrations: nodes starting together migrate once.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/obhub/obhub"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is a pool of connections to one PostgreSQL database (and schema).
type DB struct {
	dsn    string
	schema string

	mu     sync.Mutex
	pool   *pgxpool.Pool
	closed bool
}

// Option configures a DB.
type Option func(*DB)

// WithSchema keeps every table in the named schema (created if missing)
// instead of the connection's default: several hubs, or tests, can share
// one database.
func WithSchema(name string) Option { return func(d *DB) { d.schema = name } }

// New returns a DB for the connection string dsn (postgres://…). It does
// no I/O: Open connects and migrates.
func New(dsn string, opts ...Option) *DB {
	d := &DB{dsn: dsn}
	for _, o := range opts {
		o(d)
	}
	return d
}

// Redacted returns the connection string without its password, for logs.
func (d *DB) Redacted() string {
	cfg, err := pgconn.ParseConfig(d.dsn)
	if err != nil {
		return "postgres://(unparseable)"
	}
	return fmt.Sprintf("postgres://%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
}

// Open connects and applies the migrations not yet applied. After a
// failed Open, Close is safe.
func (d *DB) Open(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return obhub.Errorf(obhub.EUNAVAILABLE, "postgres: closed")
	}
	if d.pool != nil {
		return errors.New("postgres: already open")
	}
	cfg, err := pgxpool.ParseConfig(d.dsn)
	if err != nil {
		return obhub.Errorf(obhub.EINVALID, "postgres: connection string: %v", err)
	}
	if d.schema != "" {
		if !validSchema(d.schema) {
			return obhub.Errorf(obhub.EINVALID, "postgres: schema %q: want letters, digits and _", d.schema)
		}
		cfg.ConnConfig.RuntimeParams["search_path"] = d.schema
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return unavailable("open", err)
	}
	if err := migrate(ctx, pool, d.schema); err != nil {
		pool.Close()
		return err
	}
	d.pool = pool
	return nil
}

// Close closes the pool. It is idempotent and safe after a failed or no
// Open.
func (d *DB) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	if d.pool != nil {
		d.pool.Close()
		d.pool = nil
	}
	return nil
}

// Ping reports whether the database answers.
func (d *DB) Ping(ctx context.Context) error {
	p, err := d.conn()
	if err != nil {
		return err
	}
	return unavailable("ping", p.Ping(ctx))
}

func (d *DB) conn() (*pgxpool.Pool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.pool == nil {
		return nil, obhub.Errorf(obhub.EUNAVAILABLE, "postgres: not open")
	}
	return d.pool, nil
}

func validSchema(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// migrationLockKey is the advisory lock nodes take while migrating a
// schema.
func migrationLockKey(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("obhub-migrate:" + schema))
	return int64(h.Sum64())
}

// migrate applies the embedded migrations not yet recorded, in one
// transaction holding an advisory lock, so that of nodes starting together
// one migrates and the others, waiting for the lock, find nothing to do.
func migrate(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	type mig struct {
		version int
		name    string
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	var all []mig
	for _, n := range names {
		base := strings.TrimPrefix(n, "migrations/")
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("postgres: migration %s: no version number", n)
		}
		all = append(all, mig{v, n})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].version < all[j].version })

	tx, err := pool.Begin(ctx)
	if err != nil {
		return unavailable("migrate", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLockKey(schema)); err != nil {
		return unavailable("migrate: lock", err)
	}
	if schema != "" {
		if _, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize()); err != nil {
			return fmt.Errorf("postgres: migrate: create schema: %w", err)
		}
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS obhub_schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("postgres: migrate: version table: %w", err)
	}
	applied := map[int]bool{}
	rows, err := tx.Query(ctx, "SELECT version FROM obhub_schema_migrations")
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return fmt.Errorf("postgres: migrate: %w", err)
		}
		applied[v] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	for _, m := range all {
		if applied[m.version] {
			continue
		}
		sql, err := migrations.ReadFile(m.name)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, string(sql)); err != nil {
			return fmt.Errorf("postgres: migration %s: %w", m.name, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO obhub_schema_migrations (version) VALUES ($1)", m.version); err != nil {
			return fmt.Errorf("postgres: migration %s: %w", m.name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return unavailable("migrate: commit", err)
	}
	return nil
}

// SchemaVersion returns the highest applied migration.
func (d *DB) SchemaVersion(ctx context.Context) (int, error) {
	p, err := d.conn()
	if err != nil {
		return 0, err
	}
	var v int
	err = p.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM obhub_schema_migrations").Scan(&v)
	return v, unavailable("schema version", err)
}

// unavailable gives a database failure the EUNAVAILABLE code (the caller
// answers 503); errors that already carry a code keep it.
func unavailable(op string, err error) error {
	if err == nil {
		return nil
	}
	if obhub.ErrorCode(err) != obhub.EINTERNAL {
		return err
	}
	return fmt.Errorf("postgres: %s: %w", op, obhub.Errorf(obhub.EUNAVAILABLE, "%v", err))
}

// isUnique reports a unique or primary key violation.
func isUnique(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}
