package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"sync"

	"github.com/obhub/obhub"
)

// single is a store kept in one SQLite file behind one connection (SQLite
// serialises writers anyway): the OAuth, portal, console and sandbox
// stores embed it for their lifecycle. Constructors set the fields and do
// no I/O; Open creates the file and its tables.
type single struct {
	name   string // for messages: "oauth", "portal", …
	path   string
	schema string // CREATE … IF NOT EXISTS statements run at Open
	sync   string // synchronous pragma: NORMAL, or FULL when an acknowledged write must survive a power cut

	mu     sync.Mutex
	db     *sql.DB
	closed bool
}

// Open creates or opens the database and its tables. After a failed Open,
// Close is safe.
func (s *single) Open(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return obhub.Errorf(obhub.EUNAVAILABLE, "%s store closed", s.name)
	}
	if s.db != nil {
		return fmt.Errorf("sqlite %s: open %s: already open", s.name, s.path)
	}
	abs, err := filepath.Abs(s.path)
	if err != nil {
		return fmt.Errorf("sqlite %s: open %s: %w", s.name, s.path, err)
	}
	if err := privateFiles(abs); err != nil {
		return fmt.Errorf("sqlite %s: open %s: %w", s.name, s.path, err)
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous("+s.sync+")")
	q.Set("_txlock", "immediate")
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return fmt.Errorf("sqlite %s: open %s: %w", s.name, s.path, err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	if _, err := db.ExecContext(ctx, s.schema); err != nil {
		db.Close()
		return fmt.Errorf("sqlite %s: open %s: create tables: %w", s.name, s.path, err)
	}
	s.db = db
	return nil
}

// Close closes the database. It is idempotent and safe after a failed or
// no Open.
func (s *single) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.db == nil {
		return nil
	}
	err := s.db.Close()
	s.db = nil
	if err != nil {
		return fmt.Errorf("sqlite %s: close %s: %w", s.name, s.path, err)
	}
	return nil
}

// conn returns the open database, or EUNAVAILABLE.
func (s *single) conn() (*sql.DB, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return nil, obhub.Errorf(obhub.EUNAVAILABLE, "%s store not open", s.name)
	}
	return s.db, nil
}
