package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/sandbox"
)

var _ sandbox.Store = (*SandboxStore)(nil)

// SandboxStore implements sandbox.Store on its own SQLite file
// (sandbox.db in the data folder): the changes each sandbox app made to
// its stateful sandbox bank. It is apart from the configuration and audit
// databases so that developers' sandbox traffic never contends with them.
type SandboxStore struct {
	single
}

// NewSandboxStore returns a store for the database file at path. It does
// no I/O: Open creates or opens the file. The folder must exist.
func NewSandboxStore(path string) *SandboxStore {
	return &SandboxStore{single{name: "sandbox", path: path, schema: sandboxSchema, sync: "NORMAL"}}
}

const sandboxSchema = `
CREATE TABLE IF NOT EXISTS sandbox_changes (
	seq       INTEGER PRIMARY KEY AUTOINCREMENT,
	client_id TEXT NOT NULL,
	at        INTEGER NOT NULL,
	method    TEXT NOT NULL,
	target    TEXT NOT NULL,
	header    TEXT NOT NULL,
	body      BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS sandbox_changes_client ON sandbox_changes (client_id, seq);
`

func sandboxErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if obhub.ErrorCode(err) != obhub.EINTERNAL {
		return err
	}
	return fmt.Errorf("sqlite sandbox: %s: %w", op, obhub.Errorf(obhub.EUNAVAILABLE, "%v", err))
}

// AppendChange records one more change of the app's sandbox bank.
func (s *SandboxStore) AppendChange(ctx context.Context, clientID string, c sandbox.Change) error {
	db, err := s.conn()
	if err != nil {
		return err
	}
	h, err := json.Marshal(c.Header)
	if err != nil {
		return sandboxErr("append change", err)
	}
	if c.Body == nil {
		c.Body = []byte{}
	}
	_, err = db.ExecContext(ctx,
		"INSERT INTO sandbox_changes (client_id, at, method, target, header, body) VALUES (?, ?, ?, ?, ?, ?)",
		clientID, c.At.UnixNano(), c.Method, c.Target, string(h), c.Body)
	return sandboxErr("append change", err)
}

// Changes returns the app's changes, oldest first.
func (s *SandboxStore) Changes(ctx context.Context, clientID string) ([]sandbox.Change, error) {
	db, err := s.conn()
	if err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx,
		"SELECT at, method, target, header, body FROM sandbox_changes WHERE client_id = ? ORDER BY seq", clientID)
	if err != nil {
		return nil, sandboxErr("read changes", err)
	}
	defer rows.Close()
	var out []sandbox.Change
	for rows.Next() {
		var (
			at  int64
			c   sandbox.Change
			hdr string
		)
		if err := rows.Scan(&at, &c.Method, &c.Target, &hdr, &c.Body); err != nil {
			return nil, sandboxErr("read changes", err)
		}
		c.At = time.Unix(0, at).UTC()
		c.Header = http.Header{}
		if err := json.Unmarshal([]byte(hdr), &c.Header); err != nil {
			return nil, sandboxErr("read changes", err)
		}
		out = append(out, c)
	}
	return out, sandboxErr("read changes", rows.Err())
}

// ResetChanges forgets the app's changes.
func (s *SandboxStore) ResetChanges(ctx context.Context, clientID string) error {
	db, err := s.conn()
	if err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, "DELETE FROM sandbox_changes WHERE client_id = ?", clientID)
	return sandboxErr("reset changes", err)
}
