//go:build !unix

package sqlite

// lockFile does not lock on this platform: obhub runs on Unix in
// production. SQLite's own locking still keeps the data sound.
func lockFile(path string) (func() error, error) {
	return func() error { return nil }, nil
}
