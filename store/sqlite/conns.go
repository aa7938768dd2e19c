package sqlite

import (
	"database/sql"
	"errors"
)

// conns is what an opened store holds: a single writer connection, a pool
// of readers, and the lock on its database file.
type conns struct {
	wdb, rdb *sql.DB
	unlock   func() error
}

// release closes what Open opened. It is safe to call twice; the caller
// holds the store's mutex.
func (c *conns) release() error {
	var errs []error
	if c.rdb != nil {
		errs = append(errs, c.rdb.Close())
	}
	if c.wdb != nil {
		errs = append(errs, c.wdb.Close())
	}
	if c.unlock != nil {
		errs = append(errs, c.unlock())
	}
	c.rdb, c.wdb, c.unlock = nil, nil, nil
	return errors.Join(errs...)
}
