package policies

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/ulule/limiter/v3"
	redisstore "github.com/ulule/limiter/v3/drivers/store/redis"
)

// redisTimeout bounds every exchange with Redis: a counter that does not
// answer quickly is treated as down (the call goes on under the fallback).
const redisTimeout = 250 * time.Millisecond

// Redis is the shared counter store of a cluster: ulule/limiter's Redis
// store over a go-redis client.
type Redis struct {
	client *redis.Client

	store atomic.Pointer[limiter.Store] // built on first success: building loads scripts (I/O)

	mu     sync.Mutex // guards building and closing
	closed bool
}

// NewRedis parses a redis:// or rediss:// URL, honouring its database
// number (redis://host:6379/3), user and password. It does no I/O.
func NewRedis(rawURL string) (*Redis, error) {
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("--redis: %s", redact(err))
	}
	opt.DialTimeout = redisTimeout
	opt.ReadTimeout = redisTimeout
	opt.WriteTimeout = redisTimeout
	opt.PoolTimeout = redisTimeout
	opt.MaxRetries = -1 // a failure goes to the fallback at once
	opt.ContextTimeoutEnabled = true
	return &Redis{client: redis.NewClient(opt)}, nil
}

// LogRedisClient sends the go-redis client's own log lines (a pool that
// cannot dial, say), which it otherwise prints to standard error in its
// own format, to logger as warnings, so that a node's log stays one
// format (--log-format json). The client's logger is process-wide.
func LogRedisClient(logger *slog.Logger) {
	redis.SetLogger(redisLog{logger})
}

type redisLog struct{ l *slog.Logger }

func (r redisLog) Printf(ctx context.Context, format string, v ...any) {
	r.l.WarnContext(ctx, "redis client", "detail", strings.TrimPrefix(fmt.Sprintf(format, v...), "redis: "))
}

// DB returns the database number in use.
func (r *Redis) DB() int { return r.client.Options().DB }

// Ping checks that Redis answers.
func (r *Redis) Ping(ctx context.Context) error {
	return r.client.Ping(ctx).Err()
}

// Close closes the client's connections. It is idempotent.
func (r *Redis) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	return r.client.Close()
}

var errClosed = errors.New("redis store closed")

func (r *Redis) get(ctx context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	s, err := r.ensure(ctx)
	if err != nil {
		return limiter.Context{}, err
	}
	return s.Get(ctx, key, rate)
}

// ensure returns the ulule store, building it (which loads its Lua
// scripts into Redis) on first use.
func (r *Redis) ensure(ctx context.Context) (limiter.Store, error) {
	if s := r.store.Load(); s != nil {
		return *s, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, errClosed
	}
	if s := r.store.Load(); s != nil {
		return *s, nil
	}
	ctx, cancel := context.WithTimeout(ctx, redisTimeout)
	defer cancel()
	if err := r.client.Ping(ctx).Err(); err != nil {
		return nil, err
	}
	s, err := redisstore.NewStoreWithOptions(r.client, limiter.StoreOptions{Prefix: "obhub:limit"})
	if err != nil {
		return nil, err
	}
	r.store.Store(&s)
	return s, nil
}
