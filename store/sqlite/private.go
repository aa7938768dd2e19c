package sqlite

import "os"

// privateFiles makes the database file at abs readable by the node's
// user only: it creates it with mode 0600 when it is missing (SQLite
// takes an empty file as a new database, and makes its -wal and -shm
// files with the database's mode), and takes the group's and others'
// bits off the database and those files when an earlier version left
// them there. The stores hold credential hashes, OAuth state and the
// audit ledger.
func privateFiles(abs string) error {
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	for _, p := range []string{abs, abs + "-wal", abs + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm()&0o077 == 0 {
			continue
		}
		if err := os.Chmod(p, fi.Mode().Perm()&0o700); err != nil {
			return err
		}
	}
	return nil
}
