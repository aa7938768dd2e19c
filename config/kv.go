// Package config holds the hub's configuration: the static settings of a
// node (flags, environment, file) and the dynamic configuration shared by
// every node (banks, APIs, products, partners, apps, subscriptions).
//
// Dynamic configuration lives in a versioned key/value store with watch,
// shaped like etcd (KV). Store gives typed, validated access to it; Watcher
// turns it into immutable Snapshots that the data plane swaps atomically.
package config

import (
	"context"
)

// KV is a versioned key/value store with watch, the shape etcd has. Every
// successful write advances one store-wide revision; each key remembers the
// revision that created it and the one that last changed it.
//
// Implementations: store/sqlite (single node), store/etcd (cluster). Both
// pass the suite in config/configtest.
type KV interface {
	// Get returns the value at key, or an ENOTFOUND error.
	Get(ctx context.Context, key string) (KeyValue, error)
	// List returns every key with the prefix, in key order, and the store
	// revision the listing reflects (watch from Revision+1 to follow it).
	List(ctx context.Context, prefix string) (Listing, error)
	// Txn applies every op atomically, or none: if any op's expectation on
	// the current revision of its key fails, nothing is written and the
	// error has code ECONFLICT. It returns the new store revision.
	//
	// As in etcd, a Txn that changes nothing (no ops, or only deletes of
	// missing keys whose expectations hold) succeeds without a new
	// revision, returns the current one, and produces no watch event. The
	// keys of one Txn must be distinct and not empty (else EINVALID).
	Txn(ctx context.Context, ops ...Op) (int64, error)
	// Watch sends the changes under prefix from revision fromRev on (0:
	// from now) until ctx ends, in revision order, every event once. If
	// fromRev is older than the store still remembers, it sends one
	// WatchResponse with Compacted set and closes: re-list and watch again.
	// On any other failure it sends a response with Err and closes.
	Watch(ctx context.Context, prefix string, fromRev int64) <-chan WatchResponse
	// Close releases the store. It is idempotent.
	Close() error
}

// KeyValue is one stored key.
type KeyValue struct {
	Key            string
	Value          []byte
	CreateRevision int64
	ModRevision    int64
}

// Listing is the result of a prefix listing.
type Listing struct {
	KVs      []KeyValue
	Revision int64
}

// Expectations an Op places on the current state of its key.
const (
	// Any places no expectation.
	Any int64 = -1
	// Absent requires that the key does not exist.
	Absent int64 = 0
)

// Op is one write in a transaction: a put of Value, or a delete. Expect is
// Any, Absent, or the ModRevision the key must currently have.
type Op struct {
	Key    string
	Value  []byte
	Delete bool
	Expect int64
}

// Put returns an op that writes value at key.
func Put(key string, value []byte, expect int64) Op {
	return Op{Key: key, Value: value, Expect: expect}
}

// Delete returns an op that removes key.
func Delete(key string, expect int64) Op {
	return Op{Key: key, Delete: true, Expect: expect}
}

// EventType says what happened to a key.
type EventType int

// Event types.
const (
	EventPut EventType = iota
	EventDelete
)

// Event is one change seen by a watch. For deletes, KV holds the key and
// the revision of the delete (ModRevision) and no value.
type Event struct {
	Type EventType
	KV   KeyValue
}

// WatchResponse is a batch of events that share one revision (one
// transaction), or the end of the watch.
type WatchResponse struct {
	Revision  int64
	Events    []Event
	Compacted bool
	Err       error
}
