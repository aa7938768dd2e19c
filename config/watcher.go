package config

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/obhub/obhub/catalog"
	"github.com/obhub/obhub/partners"
)

// Watcher keeps a Holder's snapshot in step with the KV: it lists
// ConfigPrefix, builds a snapshot, then watches from the listed revision
// and rebuilds after every change. After a compaction or a broken watch it
// lists again (the etcd mirror pattern: get, then watch from revision+1).
type Watcher struct {
	kv     KV
	holder *Holder
	logger *slog.Logger

	mu      sync.Mutex
	state   map[string]KeyValue // key → current value under ConfigPrefix
	decoded map[string]decoded  // key → decoded object at a mod revision
	rev     int64
	changed chan struct{} // closed and replaced on every swap (for tests and waiters)

	lastKnown *LastKnown // optional on-disk copy, written after each swap (lastknown.go)
	savedRev  int64      // the revision lastKnown holds
}

type decoded struct {
	modRev int64
	obj    any
}

// NewWatcher returns a watcher that publishes into holder. It does no I/O.
func NewWatcher(kv KV, holder *Holder, logger *slog.Logger) *Watcher {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Watcher{kv: kv, holder: holder, logger: logger, changed: make(chan struct{})}
}

// Load lists the configuration and publishes the first snapshot.
func (w *Watcher) Load(ctx context.Context) error {
	l, err := w.kv.List(ctx, ConfigPrefix)
	if err != nil {
		return fmt.Errorf("load configuration: %w", err)
	}
	if err := w.saveDocuments(ctx); err != nil { // lastknown.go
		return fmt.Errorf("load configuration: %w", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.state = make(map[string]KeyValue, len(l.KVs))
	for _, kv := range l.KVs {
		w.state[kv.Key] = kv
	}
	w.rev = l.Revision
	w.publishLocked()
	return nil
}

// Run follows the store until ctx ends, rebuilding the snapshot after
// every change. Call Load first. It returns ctx's error.
func (w *Watcher) Run(ctx context.Context) error {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := w.follow(ctx)
		if ctx.Err() != nil {
			break
		}
		w.logger.Warn("configuration watch ended; listing again", "err", err, "revision", w.Revision())
		if err := w.Load(ctx); err != nil {
			w.logger.Error("configuration reload failed; serving the last snapshot", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
	}
	return ctx.Err()
}

// follow applies watch events until the watch breaks.
func (w *Watcher) follow(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Watch the whole root, not only ConfigPrefix, so that the revision
	// advances with writes elsewhere (documents, tokens) and WaitFor never
	// waits for a revision this watch would not show.
	ch := w.kv.Watch(ctx, Root, w.Revision()+1)
	for resp := range ch {
		switch {
		case resp.Compacted:
			return fmt.Errorf("watch revision compacted")
		case resp.Err != nil:
			return resp.Err
		}
		w.apply(resp)
	}
	return fmt.Errorf("watch closed")
}

func (w *Watcher) apply(resp WatchResponse) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if resp.Revision <= w.rev {
		return // already reflected by a listing
	}
	configChanged := false
	for _, ev := range resp.Events {
		w.documentEventLocked(ev) // lastknown.go
		if !strings.HasPrefix(ev.KV.Key, ConfigPrefix) {
			continue
		}
		configChanged = true
		if ev.Type == EventDelete {
			delete(w.state, ev.KV.Key)
			continue
		}
		w.state[ev.KV.Key] = ev.KV
	}
	w.rev = resp.Revision
	if !configChanged {
		w.signalLocked()
		return
	}
	w.publishLocked()
}

// signalLocked wakes everyone waiting for a change of revision.
func (w *Watcher) signalLocked() {
	close(w.changed)
	w.changed = make(chan struct{})
}

// Revision returns the store revision of the snapshot in force.
func (w *Watcher) Revision() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.rev
}

// Changed returns a channel closed at the next snapshot swap.
func (w *Watcher) Changed() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.changed
}

// WaitFor blocks until the snapshot in force reflects at least revision
// rev, or ctx ends. Admin writes use it to answer only once the local node
// serves the change.
func (w *Watcher) WaitFor(ctx context.Context, rev int64) error {
	for {
		w.mu.Lock()
		cur, ch := w.rev, w.changed
		w.mu.Unlock()
		if cur >= rev {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// publishLocked builds a snapshot from w.state and swaps it in. Objects
// that do not decode are left out and logged: one bad key must not take
// the whole configuration down.
func (w *Watcher) publishLocked() {
	if w.decoded == nil {
		w.decoded = make(map[string]decoded)
	}
	var (
		banks    []catalog.Bank
		apis     []catalog.API
		products []catalog.Product
		ps       []partners.Partner
		apps     []partners.App
		subs     []partners.Subscription
	)
	live := make(map[string]bool, len(w.state))
	for key, kv := range w.state {
		live[key] = true
		obj, err := w.decodeLocked(kv)
		if err != nil {
			w.logger.Error("configuration object does not decode; left out of the snapshot", "key", key, "revision", kv.ModRevision, "err", err)
			continue
		}
		switch v := obj.(type) {
		case *catalog.Bank:
			banks = append(banks, *v)
		case *catalog.API:
			apis = append(apis, *v)
		case *catalog.Product:
			products = append(products, *v)
		case *partners.Partner:
			ps = append(ps, *v)
		case *partners.App:
			apps = append(apps, *v)
		case *partners.Subscription:
			subs = append(subs, *v)
		}
	}
	for key := range w.decoded {
		if !live[key] {
			delete(w.decoded, key)
		}
	}
	w.holder.Swap(&Snapshot{
		Revision:  w.rev,
		Catalog:   catalog.New(banks, apis, products),
		Directory: partners.NewDirectory(ps, apps, subs, products),
	})
	w.saveLastKnownLocked()
	w.signalLocked()
}

// decodeLocked decodes kv into its domain type, reusing the previous
// decoding when the key has not changed.
func (w *Watcher) decodeLocked(kv KeyValue) (any, error) {
	if d, ok := w.decoded[kv.Key]; ok && d.modRev == kv.ModRevision {
		return d.obj, nil
	}
	var obj any
	switch {
	case strings.HasPrefix(kv.Key, BanksPrefix):
		obj = new(catalog.Bank)
	case strings.HasPrefix(kv.Key, APIsPrefix):
		obj = new(catalog.API)
	case strings.HasPrefix(kv.Key, ProductsPrefix):
		obj = new(catalog.Product)
	case strings.HasPrefix(kv.Key, PartnersPrefix):
		obj = new(partners.Partner)
	case strings.HasPrefix(kv.Key, AppsPrefix):
		obj = new(partners.App)
	case strings.HasPrefix(kv.Key, SubscriptionsPrefix):
		obj = new(partners.Subscription)
	default:
		return nil, nil // a key of a newer version of obhub: ignore
	}
	if err := json.Unmarshal(kv.Value, obj); err != nil {
		return nil, err
	}
	w.decoded[kv.Key] = decoded{modRev: kv.ModRevision, obj: obj}
	return obj, nil
}

// SyncKV wraps a KV so that a successful Txn returns only once the
// watcher's snapshot reflects it (or after MaxWait). Admin writes go
// through it, so a change answers after this node serves it: the next
// request sees it.
type SyncKV struct {
	KV
	Watcher *Watcher
	MaxWait time.Duration // default 2s
}

// Txn applies ops and waits for the local snapshot to catch up.
func (s SyncKV) Txn(ctx context.Context, ops ...Op) (int64, error) {
	rev, err := s.KV.Txn(ctx, ops...)
	if err != nil {
		return rev, err
	}
	wait := s.MaxWait
	if wait <= 0 {
		wait = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	_ = s.Watcher.WaitFor(ctx, rev) // written either way; a slow watch only delays visibility
	return rev, nil
}
