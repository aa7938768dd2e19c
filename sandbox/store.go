package sandbox

import (
	"bytes"
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/demo"
)

// Store keeps what each app did to its stateful sandbox bank, so that a
// restart (or the bank being dropped from memory) keeps its balances,
// payments and loan applications. The sandbox writes each accepted change
// through before answering, and replays an app's changes, in order, the
// first time the app calls after a start. store/sqlite implements it on
// <data>/sandbox.db.
type Store interface {
	// AppendChange records one more change of the app's bank.
	AppendChange(ctx context.Context, clientID string, c Change) error
	// Changes returns the app's changes, oldest first.
	Changes(ctx context.Context, clientID string) ([]Change, error)
	// ResetChanges forgets the app's changes.
	ResetChanges(ctx context.Context, clientID string) error
}

// A Change is one call that changed an app's sandbox bank: a payment or a
// loan application the bank accepted, replayed at its time At.
type Change struct {
	At     time.Time
	Method string
	Target string // /{bank}{path}?{query}
	Header http.Header
	Body   []byte
}

// MaxChanges bounds the changes kept per app; past it the bank refuses
// more until the app resets its sandbox.
const MaxChanges = 10_000

// appBank is one app's stateful sandbox bank in memory.
type appBank struct {
	used uint64 // under Sandbox.banksMu

	mu      sync.Mutex // serialises loading and changes
	core    http.Handler
	loaded  bool
	dropped bool      // reset or failed: callers fetch a new bank
	replay  time.Time // the clock while replaying
	changes int
}

// keptHeaders are the request headers a change keeps for its replay.
var keptHeaders = []string{"Content-Type", "Idempotency-Key", "X-Obhub-Client-Id", "X-Obhub-Partner-Id"}

// bank returns the app's bank, loaded from the store, with its mutex held
// when lock is true.
func (s *Sandbox) bank(ctx context.Context, clientID string, lock bool) (*appBank, error) {
	for {
		b := s.entry(clientID)
		b.mu.Lock()
		if b.dropped {
			b.mu.Unlock()
			continue
		}
		if !b.loaded {
			if err := s.load(ctx, clientID, b); err != nil {
				s.drop(clientID, b)
				b.mu.Unlock()
				return nil, err
			}
		}
		if !lock {
			b.mu.Unlock()
		}
		return b, nil
	}
}

// entry returns the app's bank from the map, adding an empty one (and
// dropping the least recently used over MaxApps).
func (s *Sandbox) entry(clientID string) *appBank {
	s.banksMu.Lock()
	defer s.banksMu.Unlock()
	s.tick++
	if b := s.banks[clientID]; b != nil {
		b.used = s.tick
		return b
	}
	if len(s.banks) >= s.cfg.MaxApps {
		oldest, at := "", uint64(0)
		for id, b := range s.banks {
			if oldest == "" || b.used < at {
				oldest, at = id, b.used
			}
		}
		delete(s.banks, oldest)
	}
	b := &appBank{used: s.tick}
	s.banks[clientID] = b
	return b
}

// drop removes b from the map (if it is still the app's bank); the caller
// holds b.mu.
func (s *Sandbox) drop(clientID string, b *appBank) {
	b.dropped = true
	s.banksMu.Lock()
	if s.banks[clientID] == b {
		delete(s.banks, clientID)
	}
	s.banksMu.Unlock()
}

// load seeds b and replays the app's stored changes; the caller holds b.mu.
func (s *Sandbox) load(ctx context.Context, clientID string, b *appBank) error {
	b.core = demo.NewSandboxCore(func() time.Time {
		if !b.replay.IsZero() {
			return b.replay
		}
		return s.cfg.Clock.Now()
	})
	b.loaded = true
	if s.cfg.Store == nil {
		return nil
	}
	changes, err := s.cfg.Store.Changes(ctx, clientID)
	if err != nil {
		return obhub.Errorf(obhub.EUNAVAILABLE, "sandbox: the app's sandbox bank cannot be read: %v", err)
	}
	for _, c := range changes {
		hr, err := http.NewRequestWithContext(ctx, c.Method, "http://sandbox.invalid"+c.Target, bytes.NewReader(c.Body))
		if err != nil {
			continue
		}
		hr.Header = c.Header.Clone()
		if hr.Header == nil {
			hr.Header = http.Header{}
		}
		b.replay = c.At
		b.core.ServeHTTP(&recorder{h: http.Header{}}, hr)
	}
	b.replay = time.Time{}
	b.changes = len(changes)
	if len(changes) > 0 {
		s.log.Debug("sandbox: bank loaded", "client_id", clientID, "changes", len(changes))
	}
	return nil
}

// changes reports whether a call may change the bank.
func changes(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// serve runs hr on the app's bank; a call that may change it runs alone
// and, when the bank accepts it, is written through to the store before
// the answer.
func (s *Sandbox) serve(ctx context.Context, clientID string, hr *http.Request, body []byte) (*recorder, error) {
	rec := &recorder{h: http.Header{}}
	if !changes(hr.Method) {
		b, err := s.bank(ctx, clientID, false)
		if err != nil {
			return nil, err
		}
		b.core.ServeHTTP(rec, hr)
		return rec, nil
	}
	b, err := s.bank(ctx, clientID, true)
	if err != nil {
		return nil, err
	}
	defer b.mu.Unlock()
	if s.cfg.Store != nil && b.changes >= MaxChanges {
		return nil, obhub.Errorf(obhub.ECONFLICT,
			"the sandbox bank keeps at most %d payments and applications per app: POST /sandbox/reset to start again (沙箱数据已达上限，请调用 POST /sandbox/reset 重置)", MaxChanges)
	}
	at := s.cfg.Clock.Now()
	b.replay = at // the bank sees the time the change records
	b.core.ServeHTTP(rec, hr)
	b.replay = time.Time{}
	if rec.status < 200 || rec.status > 299 || s.cfg.Store == nil {
		return rec, nil
	}
	h := http.Header{}
	for _, k := range keptHeaders {
		if v := hr.Header.Values(k); len(v) > 0 {
			h[k] = v
		}
	}
	c := Change{At: at, Method: hr.Method, Target: hr.URL.RequestURI(), Header: h, Body: body}
	if err := s.cfg.Store.AppendChange(context.WithoutCancel(ctx), clientID, c); err != nil {
		// Memory must not hold what the store lost: the next call reloads.
		s.drop(clientID, b)
		s.log.Error("sandbox: change not stored", "client_id", clientID, "err", err)
		return nil, obhub.Errorf(obhub.EUNAVAILABLE, "sandbox: the change cannot be stored; try again")
	}
	b.changes++
	return rec, nil
}
