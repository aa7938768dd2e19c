package dpop

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/obhub/obhub"
)

// ReplayStore remembers the ids of proofs already used, so that each
// proof is accepted once (RFC 9449 section 11.1). A proof id is its jti
// within the space of its key's thumbprint jkt; it must be remembered
// until the proof's iat plus ReplayWindow, after which Verify refuses the
// proof as too old anyway.
//
// Implementations: MemoryReplay (one node), OnceReplay over Redis
// (policies.Redis.SetOnce) and oauth.DPoPReplay over the shared OAuth
// store (SQLite, PostgreSQL). Every implementation runs the conformance
// suite dpoptest.RunReplay.
type ReplayStore interface {
	// Use records jti for jkt until expires if, and only if, it is not
	// recorded yet (a record whose expiry has passed may be forgotten):
	// of any number of concurrent calls, on one node or several sharing
	// the store, exactly one succeeds and the others get an ECONFLICT
	// error. A store that cannot answer returns another error
	// (EUNAVAILABLE): the proof must then not be accepted.
	Use(ctx context.Context, jkt, jti string, expires time.Time) error
}

// ReplayKey is the fixed-length key (43 base64url characters) under
// which a shared store keeps the proof id jti of key jkt: a client
// cannot make it long, nor make two keys' ids collide.
func ReplayKey(jkt, jti string) string {
	sum := replayID(jkt, jti)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// replayID hashes jkt and jti, the length of jkt first so that no two
// pairs make the same input.
func replayID(jkt, jti string) [sha256.Size]byte {
	return sha256.Sum256([]byte(strconv.Itoa(len(jkt)) + ":" + jkt + jti))
}

// errReplayed is the ECONFLICT of a proof id already used.
func errReplayed() error { return obhub.Errorf(obhub.ECONFLICT, "DPoP proof jti already used") }

// MemoryReplay remembers proof ids in this process only: a proof
// replayed at another node is not caught. It is bounded: once full, the
// ids recorded longest ago go first (each is about 100 bytes), so a size
// well above the number of proofs a node sees in ReplayWindow keeps it
// exact.
type MemoryReplay struct {
	now  func() time.Time
	seen *lru.Cache[[sha256.Size]byte, time.Time]
}

var _ ReplayStore = (*MemoryReplay)(nil)

// NewMemoryReplay returns an empty store of at most size ids (at least
// 1), whose expiry is judged by now.
func NewMemoryReplay(size int, now func() time.Time) *MemoryReplay {
	seen, err := lru.New[[sha256.Size]byte, time.Time](max(size, 1))
	if err != nil { // only for a size <= 0
		panic(err)
	}
	return &MemoryReplay{now: now, seen: seen}
}

// Use implements ReplayStore; it never fails but for a replay.
func (m *MemoryReplay) Use(_ context.Context, jkt, jti string, expires time.Time) error {
	id := replayID(jkt, jti)
	prev, found, _ := m.seen.PeekOrAdd(id, expires)
	if !found {
		return nil
	}
	if m.now().Before(prev) {
		return errReplayed()
	}
	// The old record expired: this use takes its place. Two uses racing
	// here both pass only when the first use's proof is too old anyway.
	m.seen.Add(id, expires)
	return nil
}

// SetOnceFunc sets key, with a time to live, if and only if it is not
// set: Redis's SET key value NX PX ttl. It returns an ECONFLICT error
// when the key is set already, another error when the store fails.
type SetOnceFunc func(ctx context.Context, key string, ttl time.Duration) error

// OnceReplay is a ReplayStore over a key-value store with expiring keys:
// one round trip per proof, under prefix + ReplayKey(jkt, jti). Time to
// live is measured from this machine's clock, so the store's own clock
// does not matter.
type OnceReplay struct {
	prefix string
	set    SetOnceFunc
}

var _ ReplayStore = OnceReplay{}

// NewOnceReplay returns a store keeping ids under prefix with set.
func NewOnceReplay(prefix string, set SetOnceFunc) OnceReplay {
	return OnceReplay{prefix: prefix, set: set}
}

// Use implements ReplayStore. An id whose expiry has already passed is
// not stored: it could not be replayed anyway.
func (o OnceReplay) Use(ctx context.Context, jkt, jti string, expires time.Time) error {
	ttl := time.Until(expires)
	if ttl < time.Millisecond {
		return nil
	}
	return o.set(ctx, o.prefix+ReplayKey(jkt, jti), ttl)
}
