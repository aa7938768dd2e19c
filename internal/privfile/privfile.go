// Package privfile writes files that hold secrets (signing keys, the
// HMAC secret): mode 0600 whatever the umask, synced to disk, and
// published atomically, so that a crash leaves the old file or the new
// one, never a part. It uses google/renameio for the temporary file and
// the atomic replace, and syncs the directory so that the new name is
// durable too.
package privfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/google/renameio/v2"
)

// Write replaces path with b.
func Write(path string, b []byte) error {
	t, err := pending(path, b)
	if err != nil {
		return err
	}
	defer t.Cleanup()
	if err := t.CloseAtomicallyReplace(); err != nil {
		return err
	}
	_ = SyncDir(filepath.Dir(path))
	return nil
}

// Create writes b to path only if path does not exist yet, and reports
// whether it did: when several processes create the same file at once,
// exactly one wins and the others find its file (a hard link publishes
// it without ever replacing one; where the file system has none, a rename
// does, and the last writer wins).
func Create(path string, b []byte) (created bool, err error) {
	t, err := pending(path, b)
	if err != nil {
		return false, err
	}
	defer t.Cleanup()
	if err := t.Sync(); err != nil {
		return false, err
	}
	switch err := os.Link(t.Name(), path); {
	case err == nil:
	case errors.Is(err, fs.ErrExist):
		return false, nil
	default:
		if err := t.CloseAtomicallyReplace(); err != nil {
			return false, err
		}
	}
	_ = SyncDir(filepath.Dir(path))
	return true, nil
}

// pending writes b to a temporary file beside path (mode 0600).
func pending(path string, b []byte) (*renameio.PendingFile, error) {
	t, err := renameio.NewPendingFile(path, renameio.WithTempDir(filepath.Dir(path)), renameio.WithStaticPermissions(0o600))
	if err != nil {
		return nil, err
	}
	if _, err := t.Write(b); err != nil {
		t.Cleanup()
		return nil, err
	}
	return t, nil
}

// SyncDir makes dir's entries (a new or renamed file's name) durable.
// Write ignores its failure, which only weakens durability where a
// platform cannot sync a directory; the audit ledger's files do not.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
