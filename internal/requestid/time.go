package requestid

import (
	"time"

	"github.com/google/uuid"
)

// Time returns the time a UUIDv7 id carries (to the millisecond), and
// false for any other id. The audit ledger finds the records of the ids
// the gateway made by this time instead of indexing each one.
func Time(id string) (time.Time, bool) {
	if len(id) != 36 {
		return time.Time{}, false
	}
	u, err := uuid.Parse(id)
	if err != nil || u.Version() != 7 || u.Variant() != uuid.RFC4122 {
		return time.Time{}, false
	}
	ms := int64(u[0])<<40 | int64(u[1])<<32 | int64(u[2])<<24 | int64(u[3])<<16 | int64(u[4])<<8 | int64(u[5])
	return time.UnixMilli(ms).UTC(), true
}
