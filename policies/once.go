package policies

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/obhub/obhub"
)

// SetOnce sets key (with value "1") for ttl if, and only if, it is not
// set: one SET key 1 NX PX ttl, atomic in Redis, so of any number of
// nodes setting one key exactly one succeeds. A key set already is
// ECONFLICT; a Redis that does not answer within the client's timeout
// (250 ms), or a closed client, is EUNAVAILABLE. Unlike limit counting
// there is no local fallback here: the caller decides (the gateway's
// DPoP replay store refuses the call, see docs/security.md).
func (r *Redis) SetOnce(ctx context.Context, key string, ttl time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, redisTimeout)
	defer cancel()
	ok, err := r.client.SetNX(ctx, key, "1", ttl).Result()
	switch {
	case errors.Is(err, redis.Nil): // not set (some servers answer nil)
		return obhub.Errorf(obhub.ECONFLICT, "redis key already set")
	case err != nil:
		return obhub.Errorf(obhub.EUNAVAILABLE, "redis: %s", redact(err))
	case !ok:
		return obhub.Errorf(obhub.ECONFLICT, "redis key already set")
	}
	return nil
}
