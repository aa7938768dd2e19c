package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/obhub/obhub/config"
	"github.com/obhub/obhub/store/sqlite"
)

// Every store's database, and its write-ahead log, is readable by the
// node's user only, whatever the umask; one an earlier version left
// readable by others is tightened when it is opened.
func TestDatabasesArePrivate(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix file modes")
	}
	ctx := context.Background()
	dir := t.TempDir()
	loose := filepath.Join(dir, "console.db")
	if err := os.WriteFile(loose, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	type store interface {
		Open(context.Context) error
		Close() error
	}
	kv := sqlite.New(filepath.Join(dir, "obhub.db"))
	for _, s := range []store{kv, sqlite.NewAudit(filepath.Join(dir, "audit.db")), sqlite.NewConsoleStore(loose),
		sqlite.NewOAuthStore(filepath.Join(dir, "oauth.db")), sqlite.NewPortalStore(filepath.Join(dir, "portal.db")),
		sqlite.NewSandboxStore(filepath.Join(dir, "sandbox.db"))} {
		if err := s.Open(ctx); err != nil {
			t.Fatal(err)
		}
		defer s.Close()
	}
	if _, err := kv.Txn(ctx, config.Put("/k", []byte("v"), config.Any)); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"obhub.db", "obhub.db-wal", "audit.db", "console.db", "oauth.db", "portal.db", "sandbox.db"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if m := fi.Mode().Perm(); m&0o077 != 0 {
			t.Errorf("%s has mode %v, want no access for group and others", name, m)
		}
	}
}
