package config

import (
	"sync/atomic"

	"github.com/obhub/obhub/catalog"
	"github.com/obhub/obhub/partners"
)

// Snapshot is one immutable, consistent view of the dynamic configuration
// at a store revision. A request takes the current snapshot once and uses
// it throughout, so it sees the old or the new configuration, never a mix.
type Snapshot struct {
	Revision  int64
	Catalog   *catalog.Catalog
	Directory *partners.Directory
}

// Holder publishes the current snapshot to any number of readers; swaps are
// atomic. The zero Holder has no snapshot (Current returns nil).
type Holder struct {
	p atomic.Pointer[Snapshot]
}

// Current returns the snapshot in force, or nil before the first load.
func (h *Holder) Current() *Snapshot { return h.p.Load() }

// Swap makes s the snapshot in force.
func (h *Holder) Swap(s *Snapshot) { h.p.Store(s) }
