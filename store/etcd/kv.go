// Package etcd implements config.KV on an etcd v3 cluster, for a hub that
// runs as several nodes sharing one configuration. It is the only package
// that imports the etcd client.
//
// Mapping. A config key is an etcd key (under an optional Prefix); a
// config revision is etcd's cluster-wide revision; CreateRevision and
// ModRevision are etcd's own. Get and List are linearizable reads; List
// returns the revision of its response header, so watching from
// Revision+1 follows it without a gap (the etcd mirror pattern).
//
// Transactions. A Txn is one etcd Txn: the expectations become Compare
// guards (Absent: CreateRevision = 0; a revision: ModRevision = rev) and
// the ops its Then branch, so all or none apply. A failed guard is
// ECONFLICT. etcd itself gives the contract's no-op rule: a Txn that
// changes nothing keeps the revision and makes no watch event.
//
// Watches. An etcd watch response may hold the events of several
// revisions; Watch splits it into one config.WatchResponse per revision.
// The etcd client resumes a broken watch stream by itself (from the next
// revision it has not delivered), so a watch survives etcd restarts; a
// watch from a compacted revision gets one Compacted response and closes.
//
// Sizes. etcd refuses requests over its --max-request-bytes (1.5 MiB by
// default). Configuration values are small, but OpenAPI documents can be
// several MB, so obhub needs etcd started with --max-request-bytes of at
// least 8 MiB (see docs/cluster.md); the client sends up to MaxRequestBytes.
// A write over the server's limit fails with ETOOLARGE and says so.
//
// Unreachable etcd. Every call has a deadline (ReadTimeout, WriteTimeout);
// a call that cannot reach a leader in time fails with EUNAVAILABLE, which
// the admin API answers with 503. Once one has, the KV remembers it: the
// calls that follow fail at once, and one call a second (ProbeInterval)
// is let through to find out whether etcd is back, so an admin request
// that reads several objects answers 503 after one deadline, not one per
// read. The first call that gets through ends it, and says so in the log.
package etcd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/config"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

var _ config.KV = (*KV)(nil)

// Defaults.
const (
	DefaultDialTimeout  = 2 * time.Second
	DefaultReadTimeout  = 3 * time.Second
	DefaultWriteTimeout = 3 * time.Second
	// ProbeInterval is how often, while etcd is known unreachable, a call
	// is let through to it; the others fail at once.
	ProbeInterval = time.Second
	// DefaultMaxRequestBytes is the largest request the client sends. The
	// etcd servers must accept as much (--max-request-bytes).
	DefaultMaxRequestBytes = 10 << 20
)

// Options configures a KV. The zero value uses the defaults.
type Options struct {
	// Prefix is prepended to every key in etcd, so several hubs (or
	// tests) can share one etcd cluster. Keys and listings seen through
	// the KV never show it.
	Prefix          string
	DialTimeout     time.Duration
	ReadTimeout     time.Duration // Get, List, and finding the current revision
	WriteTimeout    time.Duration // Txn: short, so admin writes fail fast (503) when etcd is down
	MaxRequestBytes int
	Username        string
	Password        string
	Logger          *slog.Logger
}

// KV is a config.KV on etcd. Build it with New, then Open it.
type KV struct {
	endpoints []string
	opts      Options

	mu     sync.Mutex
	client *clientv3.Client
	closed bool

	// down is set when a call found etcd unreachable, until one gets
	// through; lastProbe is when a call last was let through meanwhile
	// (unix nanoseconds).
	down      atomic.Bool
	lastProbe atomic.Int64
}

// New returns a KV for the etcd cluster at endpoints (host:port or URLs).
// It does no I/O.
func New(endpoints []string, opts Options) *KV {
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = DefaultDialTimeout
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = DefaultReadTimeout
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = DefaultWriteTimeout
	}
	if opts.MaxRequestBytes <= 0 {
		opts.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &KV{endpoints: endpoints, opts: opts}
}

// ParseEndpoints splits a comma-separated --etcd value into endpoints.
func ParseEndpoints(s string) []string {
	var eps []string
	for ep := range strings.SplitSeq(s, ",") {
		if ep = strings.TrimSpace(ep); ep != "" {
			eps = append(eps, ep)
		}
	}
	return eps
}

// Open creates the client. It does not wait for etcd to answer: a node
// may start while etcd is down (and serve its last-known-good
// configuration); calls fail with EUNAVAILABLE until etcd is back.
func (k *KV) Open(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	switch {
	case k.closed:
		return errors.New("etcd: open after close")
	case k.client != nil:
		return nil
	case len(k.endpoints) == 0:
		return errors.New("etcd: no endpoints given")
	}
	c, err := clientv3.New(clientv3.Config{
		Endpoints:          k.endpoints,
		DialTimeout:        k.opts.DialTimeout,
		DialKeepAliveTime:  10 * time.Second,
		MaxCallSendMsgSize: k.opts.MaxRequestBytes,
		Username:           k.opts.Username,
		Password:           k.opts.Password,
		Context:            context.WithoutCancel(ctx),
		Logger:             zap.NewNop(),
		// Reconnect within seconds of etcd's return, however long it was
		// down (gRPC's default backoff grows to two minutes).
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 2 * time.Second},
			MinConnectTimeout: k.opts.DialTimeout,
		})},
	})
	if err != nil {
		return fmt.Errorf("etcd: connect to %s: %w", strings.Join(k.endpoints, ","), err)
	}
	k.client = c
	return nil
}

// Close closes the client, which ends every watch. It is idempotent and
// safe after a failed Open.
func (k *KV) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.closed = true
	if k.client == nil {
		return nil
	}
	c := k.client
	k.client = nil
	if err := c.Close(); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("etcd: close: %w", err)
	}
	return nil
}

// cli returns the client, or an error when the KV is not open.
// cli returns the client for a call, or EUNAVAILABLE at once while etcd
// is known unreachable and this call is not the second's probe.
func (k *KV) cli() (*clientv3.Client, error) {
	k.mu.Lock()
	c := k.client
	k.mu.Unlock()
	if c == nil {
		return nil, obhub.Errorf(obhub.EUNAVAILABLE, "configuration store (etcd) is not open")
	}
	if k.down.Load() {
		now, last := time.Now().UnixNano(), k.lastProbe.Load()
		if now-last < int64(ProbeInterval) || !k.lastProbe.CompareAndSwap(last, now) {
			return nil, unreachable()
		}
	}
	return c, nil
}

// unreachable is the answer while etcd is unreachable.
func unreachable() error {
	return obhub.Errorf(obhub.EUNAVAILABLE, "the configuration store (etcd) is unreachable; try again later")
}

// reached records that a call got an answer from etcd.
func (k *KV) reached() {
	if k.down.CompareAndSwap(true, false) {
		k.opts.Logger.Info("etcd reachable again")
	}
}

// Get returns the value at key, or ENOTFOUND.
func (k *KV) Get(ctx context.Context, key string) (config.KeyValue, error) {
	c, err := k.cli()
	if err != nil {
		return config.KeyValue{}, err
	}
	rctx, cancel := context.WithTimeout(ctx, k.opts.ReadTimeout)
	defer cancel()
	resp, err := c.Get(rctx, k.opts.Prefix+key)
	if err != nil {
		return config.KeyValue{}, k.fail(ctx, "get", err)
	}
	k.reached()
	if len(resp.Kvs) == 0 {
		return config.KeyValue{}, obhub.Errorf(obhub.ENOTFOUND, "key %q not found", key)
	}
	return k.keyValue(resp.Kvs[0].Key, resp.Kvs[0].Value, resp.Kvs[0].CreateRevision, resp.Kvs[0].ModRevision), nil
}

// List returns every key under prefix in key order, with the revision of
// the read.
func (k *KV) List(ctx context.Context, prefix string) (config.Listing, error) {
	c, err := k.cli()
	if err != nil {
		return config.Listing{}, err
	}
	rctx, cancel := context.WithTimeout(ctx, k.opts.ReadTimeout)
	defer cancel()
	resp, err := c.Get(rctx, k.opts.Prefix+prefix, clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
	if err != nil {
		return config.Listing{}, k.fail(ctx, "list", err)
	}
	k.reached()
	l := config.Listing{Revision: resp.Header.Revision, KVs: make([]config.KeyValue, 0, len(resp.Kvs))}
	for _, kv := range resp.Kvs {
		l.KVs = append(l.KVs, k.keyValue(kv.Key, kv.Value, kv.CreateRevision, kv.ModRevision))
	}
	return l, nil
}

// Txn applies ops atomically, guarded by their expectations.
func (k *KV) Txn(ctx context.Context, ops ...config.Op) (int64, error) {
	if err := validate(ops); err != nil {
		return 0, err
	}
	c, err := k.cli()
	if err != nil {
		return 0, err
	}
	cmps := make([]clientv3.Cmp, 0, len(ops))
	then := make([]clientv3.Op, 0, len(ops))
	for _, op := range ops {
		key := k.opts.Prefix + op.Key
		switch op.Expect {
		case config.Any:
		case config.Absent:
			cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(key), "=", 0))
		default:
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(key), "=", op.Expect))
		}
		if op.Delete {
			then = append(then, clientv3.OpDelete(key))
		} else {
			then = append(then, clientv3.OpPut(key, string(op.Value)))
		}
	}
	wctx, cancel := context.WithTimeout(ctx, k.opts.WriteTimeout)
	defer cancel()
	resp, err := c.Txn(wctx).If(cmps...).Then(then...).Commit()
	if err != nil {
		return 0, k.fail(ctx, "write", err)
	}
	k.reached()
	if !resp.Succeeded {
		return 0, obhub.Errorf(obhub.ECONFLICT, "a key changed since it was read")
	}
	return resp.Header.Revision, nil
}

// Compact discards the history before rev: watches from an older
// revision get a Compacted response. It implements configtest.Compactor.
func (k *KV) Compact(ctx context.Context, rev int64) error {
	c, err := k.cli()
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, k.opts.WriteTimeout)
	defer cancel()
	if _, err := c.Compact(wctx, rev, clientv3.WithCompactPhysical()); err != nil {
		return k.fail(ctx, "compact", err)
	}
	return nil
}

// validate rejects ops that no store state could make valid. etcd would
// refuse some of them too, but with other words and codes.
func validate(ops []config.Op) error {
	seen := make(map[string]bool, len(ops))
	for _, op := range ops {
		switch {
		case op.Key == "":
			return obhub.Errorf(obhub.EINVALID, "empty key")
		case seen[op.Key]:
			return obhub.Errorf(obhub.EINVALID, "key %q appears twice in one transaction", op.Key)
		case op.Expect < config.Any:
			return obhub.Errorf(obhub.EINVALID, "key %q: invalid expectation %d", op.Key, op.Expect)
		}
		seen[op.Key] = true
	}
	return nil
}

// keyValue builds a config.KeyValue from etcd's fields, without the
// prefix. The value is copied: callers may keep or change it.
func (k *KV) keyValue(key, value []byte, create, mod int64) config.KeyValue {
	return config.KeyValue{
		Key:            strings.TrimPrefix(string(key), k.opts.Prefix),
		Value:          append([]byte(nil), value...),
		CreateRevision: create,
		ModRevision:    mod,
	}
}

// fail turns an etcd client error into an obhub error. ctx is the
// caller's: when it ended, its error is returned as such.
func (k *KV) fail(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("etcd %s: %w", what, ctx.Err())
	}
	switch {
	case errors.Is(err, rpctypes.ErrRequestTooLarge), status.Code(err) == codes.ResourceExhausted:
		return &obhub.Error{Code: obhub.ETOOLARGE, Message: "the value is too large for the configuration store: " +
			"etcd must run with a larger --max-request-bytes (see docs/cluster.md)"}
	case errors.Is(err, rpctypes.ErrTooManyOps):
		return obhub.Errorf(obhub.ETOOLARGE, "the change touches too many objects for one etcd transaction: "+
			"raise etcd's --max-txn-ops (see docs/cluster.md)")
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		errors.Is(err, rpctypes.ErrNoLeader), errors.Is(err, rpctypes.ErrTimeout),
		errors.Is(err, rpctypes.ErrTimeoutDueToLeaderFail), errors.Is(err, rpctypes.ErrTimeoutDueToConnectionLost),
		errors.Is(err, rpctypes.ErrLeaderChanged), errors.Is(err, rpctypes.ErrStopped),
		status.Code(err) == codes.Unavailable, status.Code(err) == codes.DeadlineExceeded:
		k.opts.Logger.Warn("etcd unreachable", "op", what, "err", err)
		k.lastProbe.Store(time.Now().UnixNano())
		k.down.Store(true)
		return unreachable()
	}
	return fmt.Errorf("etcd %s: %w", what, err)
}
