package config

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/catalog"
	"github.com/obhub/obhub/partners"
)

// Store gives typed, validated access to the dynamic configuration kept in
// a KV: banks, APIs and their documents, products, partners, apps and
// subscriptions, and the bootstrap admin token.
//
// Every write is one KV transaction whose ops carry expectations, so two
// writers (on one node or on several) never lose each other's updates:
// creates expect the key to be absent, updates expect the revision they
// read. Referential rules hold under concurrency too: a write that relies
// on another object (an API on its bank, a product on its APIs, …) rewrites
// that object unchanged with the revision it read, and a delete expects
// the revision it checked for users, so the two cannot both succeed.
//
// Objects returned for display never hold secret hashes: apps are returned
// as AppView.
type Store struct {
	kv    KV
	clock obhub.Clock

	// adminHash caches the SHA-256 of the admin token once known.
	adminHash atomic.Pointer[[sha256.Size]byte]
}

// NewStore returns a store over kv. It does no I/O. A nil clock means
// time.Now.
func NewStore(kv KV, clock obhub.Clock) *Store {
	return &Store{kv: kv, clock: clock}
}

// ListOptions selects one page of a listing. Listings are in id order.
type ListOptions struct {
	// After skips every id up to and including it ("" starts at the
	// beginning). Pass the id of the last item of the previous page.
	After string
	// Limit is the largest number of items returned; 0 or less means all.
	Limit int
}

// maxAttempts bounds how often a write is retried after another writer
// changed one of the keys it read.
const maxAttempts = 8

// errStale marks a transaction whose expectations failed: the keys read
// changed meanwhile, and the whole read-check-write is tried again.
var errStale = errors.New("configuration changed concurrently")

// retry runs fn until it succeeds, fails for another reason than a stale
// read, or maxAttempts are used up.
func (s *Store) retry(ctx context.Context, fn func() error) error {
	for attempt := range maxAttempts {
		err := fn()
		if !errors.Is(err, errStale) {
			return err
		}
		// Writers that collide retry after a short random pause, so that
		// they do not collide again in lockstep.
		pause := time.Duration(rand.Int64N(int64(attempt+1) * int64(5*time.Millisecond)))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
	}
	return obhub.Errorf(obhub.ECONFLICT, "the configuration changed concurrently too often; try again")
}

// txn applies ops; a failed expectation becomes errStale (retried).
func (s *Store) txn(ctx context.Context, ops ...Op) error {
	_, err := s.kv.Txn(ctx, ops...)
	if err != nil {
		if obhub.ErrorCode(err) == obhub.ECONFLICT {
			return errStale
		}
		return fmt.Errorf("write configuration: %w", err)
	}
	return nil
}

// record is one stored object with the revision and bytes it was read at.
type record[T any] struct {
	v   T
	kv  KeyValue
	key string
}

// touch returns an op that rewrites the record unchanged, expecting the
// revision it was read at: the transaction fails if the object changed or
// disappeared meanwhile, and a concurrent delete of it fails in turn.
func (r *record[T]) touch() Op { return Put(r.key, r.kv.Value, r.kv.ModRevision) }

// load reads and decodes the object at key. what names it in the
// not-found message ("bank \"x\"").
func load[T any](ctx context.Context, kv KV, key, what string) (*record[T], error) {
	got, err := kv.Get(ctx, key)
	if err != nil {
		if obhub.ErrorCode(err) == obhub.ENOTFOUND {
			return nil, obhub.Errorf(obhub.ENOTFOUND, "%s not found", what)
		}
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	r := &record[T]{kv: got, key: key}
	if err := json.Unmarshal(got.Value, &r.v); err != nil {
		return nil, fmt.Errorf("decode %s: %w", what, err)
	}
	return r, nil
}

// mustExist reads a referenced object: a missing one is a conflict, not a
// not-found, because the object named in the URL does exist.
func mustExist[T any](ctx context.Context, kv KV, key, what string) (*record[T], error) {
	r, err := load[T](ctx, kv, key, what)
	if obhub.ErrorCode(err) == obhub.ENOTFOUND {
		return nil, obhub.Errorf(obhub.ECONFLICT, "%s does not exist", what)
	}
	return r, err
}

// loadAll decodes every object under prefix, in key order.
func loadAll[T any](ctx context.Context, kv KV, prefix string) ([]record[T], error) {
	l, err := kv.List(ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", strings.TrimPrefix(prefix, ConfigPrefix), err)
	}
	out := make([]record[T], 0, len(l.KVs))
	for _, got := range l.KVs {
		r := record[T]{kv: got, key: got.Key}
		if err := json.Unmarshal(got.Value, &r.v); err != nil {
			return nil, fmt.Errorf("decode %s: %w", got.Key, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// page lists the objects under prefix (whose keys are prefix + id) that
// keep accepts, one page at a time. more reports whether items follow.
func page[T any](ctx context.Context, kv KV, prefix string, opt ListOptions, keep func(*T) bool) (items []T, more bool, err error) {
	l, err := kv.List(ctx, prefix)
	if err != nil {
		return nil, false, fmt.Errorf("list %s: %w", strings.TrimPrefix(prefix, ConfigPrefix), err)
	}
	items = []T{}
	for _, got := range l.KVs {
		id := strings.TrimPrefix(got.Key, prefix)
		if opt.After != "" && id <= opt.After {
			continue
		}
		var v T
		if err := json.Unmarshal(got.Value, &v); err != nil {
			return nil, false, fmt.Errorf("decode %s: %w", got.Key, err)
		}
		if keep != nil && !keep(&v) {
			continue
		}
		if opt.Limit > 0 && len(items) == opt.Limit {
			return items, true, nil
		}
		items = append(items, v)
	}
	return items, false, nil
}

// encode marshals a stored object.
func encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil { // the domain types always marshal
		panic(fmt.Sprintf("config: encode %T: %v", v, err))
	}
	return b
}

// sameExceptUpdated reports whether a and b encode the same once their
// UpdatedAt is ignored; updates that change nothing are not written.
func sameExceptUpdated(a, b []byte) bool {
	strip := func(p []byte) []byte {
		var m map[string]json.RawMessage
		if json.Unmarshal(p, &m) != nil {
			return p
		}
		delete(m, "updatedAt")
		out, _ := json.Marshal(m)
		return out
	}
	return bytes.Equal(strip(a), strip(b))
}

// inUse builds the conflict returned when deleting an object others use.
func inUse(what, userKind string, users []string) error {
	const show = 3
	quoted := make([]string, 0, show)
	for i, u := range users {
		if i == show {
			break
		}
		quoted = append(quoted, fmt.Sprintf("%q", u))
	}
	list := strings.Join(quoted, ", ")
	if len(users) > show {
		list += fmt.Sprintf(" and %d more", len(users)-show)
	}
	plural := ""
	if len(users) > 1 {
		plural = "s"
	}
	return obhub.Errorf(obhub.ECONFLICT, "%s is in use by %s%s %s", what, userKind, plural, list)
}

// immutable adds a detail when an update changed a field that is fixed at
// creation.
func immutable(ds []obhub.Detail, location string, changed bool) []obhub.Detail {
	if changed {
		ds = append(ds, obhub.Detail{Location: location, Message: "cannot be changed"})
	}
	return ds
}

func bankKey(id string) string    { return BanksPrefix + id }
func apiKey(id string) string     { return APIsPrefix + id }
func specKey(id string) string    { return SpecPrefix + id }
func productKey(id string) string { return ProductsPrefix + id }
func partnerKey(id string) string { return PartnersPrefix + id }
func appKey(id string) string     { return AppsPrefix + id }
func subKey(clientID, product string) string {
	return SubscriptionsPrefix + clientID + "/" + product
}

// safeID reports whether id can be part of a key; ids from URLs that
// could not have been stored are simply not found.
func safeID(id string) bool {
	return id != "" && !strings.ContainsAny(id, "/\x00") && id != "." && id != ".."
}

func notFound(what string) error { return obhub.Errorf(obhub.ENOTFOUND, "%s not found", what) }

// --- Banks ---

// Bank returns the bank with the id.
func (s *Store) Bank(ctx context.Context, id string) (*catalog.Bank, error) {
	r, err := s.loadBank(ctx, id)
	if err != nil {
		return nil, err
	}
	return &r.v, nil
}

func (s *Store) loadBank(ctx context.Context, id string) (*record[catalog.Bank], error) {
	what := fmt.Sprintf("bank %q", id)
	if !safeID(id) {
		return nil, notFound(what)
	}
	return load[catalog.Bank](ctx, s.kv, bankKey(id), what)
}

// ListBanks returns one page of banks in id order, and whether more follow.
func (s *Store) ListBanks(ctx context.Context, opt ListOptions) ([]catalog.Bank, bool, error) {
	return page[catalog.Bank](ctx, s.kv, BanksPrefix, opt, nil)
}

// CreateBank stores a new bank. A bank with the id already existing is
// ECONFLICT. extra ops are written in the same transaction (the sealed
// client secret of the bank's OpenID provider, bank_secret.go).
func (s *Store) CreateBank(ctx context.Context, b catalog.Bank, extra ...Op) (*catalog.Bank, error) {
	if err := b.Validate(); err != nil {
		return nil, err
	}
	now := s.clock.Now().UTC()
	b.CreatedAt, b.UpdatedAt = now, now
	err := s.retry(ctx, func() error {
		return s.create(ctx, bankKey(b.ID), encode(&b), fmt.Sprintf("bank %q", b.ID), extra...)
	})
	if err != nil {
		return nil, err
	}
	return &b, nil
}

// create writes value at key, expecting it absent, along with extra ops.
// When the transaction fails because the key exists, it is ECONFLICT
// "already exists"; any other failed expectation is retried.
func (s *Store) create(ctx context.Context, key string, value []byte, what string, extra ...Op) error {
	err := s.txn(ctx, append([]Op{Put(key, value, Absent)}, extra...)...)
	if errors.Is(err, errStale) {
		if _, gerr := s.kv.Get(ctx, key); gerr == nil {
			return obhub.Errorf(obhub.ECONFLICT, "%s already exists", what)
		}
	}
	return err
}

// UpdateBank changes a bank: update gets a copy of the current bank and
// changes what it wants; the id and timestamps are kept. extra ops are
// written in the same transaction; a bank that loses its OpenID provider
// loses the provider's sealed client secret too.
func (s *Store) UpdateBank(ctx context.Context, id string, update func(*catalog.Bank) error, extra ...Op) (*catalog.Bank, error) {
	var out catalog.Bank
	err := s.retry(ctx, func() error {
		r, err := s.loadBank(ctx, id)
		if err != nil {
			return err
		}
		next := r.v
		if err := update(&next); err != nil {
			return err
		}
		if ds := immutable(nil, "/id", next.ID != r.v.ID); len(ds) > 0 {
			return obhub.Invalid("invalid bank", ds...)
		}
		next.CreatedAt, next.UpdatedAt = r.v.CreatedAt, s.clock.Now().UTC()
		if err := next.Validate(); err != nil {
			return err
		}
		out = next
		value := encode(&next)
		if sameExceptUpdated(value, r.kv.Value) && len(extra) == 0 {
			out = r.v
			return nil
		}
		ops := append([]Op{Put(r.key, value, r.kv.ModRevision)}, extra...)
		if next.OIDC == nil && r.v.OIDC != nil {
			ops = append(ops, Delete(BankOIDCSecretKey(id), Any))
		}
		return s.txn(ctx, ops...)
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteBank removes a bank that no API and no partner refers to.
func (s *Store) DeleteBank(ctx context.Context, id string) error {
	return s.retry(ctx, func() error {
		what := fmt.Sprintf("bank %q", id)
		r, err := s.loadBank(ctx, id)
		if err != nil {
			return err
		}
		apis, err := loadAll[catalog.API](ctx, s.kv, APIsPrefix)
		if err != nil {
			return err
		}
		var users []string
		for _, a := range apis {
			if a.v.Bank == id {
				users = append(users, a.v.ID)
			}
		}
		if len(users) > 0 {
			return inUse(what, "API", users)
		}
		ps, err := loadAll[partners.Partner](ctx, s.kv, PartnersPrefix)
		if err != nil {
			return err
		}
		for _, p := range ps {
			if p.v.Bank == id {
				users = append(users, p.v.ID)
			}
		}
		if len(users) > 0 {
			return inUse(what, "partner", users)
		}
		return s.txn(ctx, Delete(r.key, r.kv.ModRevision), Delete(BankOIDCSecretKey(id), Any))
	})
}
