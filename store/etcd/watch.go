package etcd

import (
	"context"
	"errors"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/config"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Watch sends the changes under prefix from revision fromRev on, one
// response per revision. From 0, it first reads the current revision (so
// that a write made after Watch returns is always seen) and watches from
// the next one; from a given revision it returns at once, even while
// etcd is unreachable, and the watch starts when etcd answers.
func (k *KV) Watch(ctx context.Context, prefix string, fromRev int64) <-chan config.WatchResponse {
	out := make(chan config.WatchResponse)
	c, err := k.cli()
	if err == nil && fromRev <= 0 {
		fromRev, err = k.currentRevision(ctx, c)
		fromRev++
	}
	if err != nil {
		go func() {
			defer close(out)
			if ctx.Err() == nil {
				select {
				case out <- config.WatchResponse{Err: err}:
				case <-ctx.Done():
				}
			}
		}()
		return out
	}
	go func() {
		defer close(out)
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		// clientv3.Watch returns once etcd has created the watch: while
		// etcd is down, that is when it comes back (or ctx ends).
		wch := c.Watch(ctx, k.opts.Prefix+prefix, clientv3.WithPrefix(), clientv3.WithRev(fromRev))
		k.forward(ctx, wch, out)
	}()
	return out
}

// currentRevision reads the store revision.
func (k *KV) currentRevision(ctx context.Context, c *clientv3.Client) (int64, error) {
	rctx, cancel := context.WithTimeout(ctx, k.opts.ReadTimeout)
	defer cancel()
	resp, err := c.Get(rctx, k.opts.Prefix+config.Root, clientv3.WithCountOnly())
	if err != nil {
		return 0, k.fail(ctx, "watch", err)
	}
	return resp.Header.Revision, nil
}

// forward turns etcd watch responses into config ones until the watch
// ends: ctx done (nothing more is sent), compaction (one Compacted
// response), or a failure (one response with Err).
func (k *KV) forward(ctx context.Context, wch clientv3.WatchChan, out chan<- config.WatchResponse) {
	send := func(r config.WatchResponse) bool {
		select {
		case out <- r:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for wresp := range wch {
		if ctx.Err() != nil {
			return
		}
		if wresp.CompactRevision != 0 {
			send(config.WatchResponse{Revision: wresp.CompactRevision, Compacted: true})
			return
		}
		if err := wresp.Err(); err != nil {
			send(config.WatchResponse{Err: k.watchErr(err)})
			return
		}
		// An answer on the watch is etcd reached: the calls that were
		// failing at once go to it again (kv.go).
		k.reached()
		if wresp.IsProgressNotify() {
			continue
		}
		// One etcd response may span revisions; its events are in
		// revision order.
		var cur *config.WatchResponse
		for _, ev := range wresp.Events {
			rev := ev.Kv.ModRevision
			if cur != nil && cur.Revision != rev {
				if !send(*cur) {
					return
				}
				cur = nil
			}
			if cur == nil {
				cur = &config.WatchResponse{Revision: rev}
			}
			cur.Events = append(cur.Events, k.event(ev))
		}
		if cur != nil && !send(*cur) {
			return
		}
	}
	if ctx.Err() == nil {
		send(config.WatchResponse{Err: obhub.Errorf(obhub.EUNAVAILABLE, "etcd watch closed")})
	}
}

func (k *KV) event(ev *clientv3.Event) config.Event {
	if ev.Type == mvccpb.DELETE {
		kv := k.keyValue(ev.Kv.Key, nil, 0, ev.Kv.ModRevision)
		kv.Value = nil
		return config.Event{Type: config.EventDelete, KV: kv}
	}
	return config.Event{Type: config.EventPut, KV: k.keyValue(ev.Kv.Key, ev.Kv.Value, ev.Kv.CreateRevision, ev.Kv.ModRevision)}
}

func (k *KV) watchErr(err error) error {
	if errors.Is(err, context.Canceled) {
		return obhub.Errorf(obhub.EUNAVAILABLE, "etcd watch canceled")
	}
	return k.fail(context.Background(), "watch", err)
}
