//go:build unix

package sqlite

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// lockFile takes an exclusive, non-blocking flock on path, creating it,
// and writes this process's id into it. The lock is per open file, so a
// second KV in the same process is refused too; the kernel drops it when
// the process dies. The returned func releases it.
func lockFile(path string) (func() error, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			if pid, _ := os.ReadFile(path); len(bytes.TrimSpace(pid)) > 0 {
				return nil, fmt.Errorf("%w (pid %s, lock %s)", ErrLocked, bytes.TrimSpace(pid), path)
			}
			return nil, fmt.Errorf("%w (lock %s)", ErrLocked, path)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	// The pid is for the error message of the next process only.
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f.Close, nil
}
