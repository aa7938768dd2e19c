package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/config"
)

// Watch bounds. A watcher holds at most watchBuffer responses in its
// channel and reads kv_log in batches of at most batchRevisions revisions
// or about batchBytes of values, whichever comes first; a slow consumer
// costs no more memory than that.
const (
	watchBuffer    = 16
	batchRevisions = 256
	batchBytes     = 8 << 20
)

// Watch sends the changes under prefix from revision fromRev on (0: from
// the revision after the current one) until ctx ends or the store closes.
// See config.KV and the package documentation.
func (k *KV) Watch(ctx context.Context, prefix string, fromRev int64) <-chan config.WatchResponse {
	out := make(chan config.WatchResponse, watchBuffer)
	k.mu.Lock()
	defer k.mu.Unlock()
	var err error
	switch {
	case k.state == stateNew:
		err = errNotOpen
	case k.state == stateClosed:
		err = errClosed
	case fromRev < 0:
		err = obhub.Errorf(obhub.EINVALID, "watch from revision %d", fromRev)
	}
	if err != nil {
		out <- config.WatchResponse{Err: fmt.Errorf("sqlite kv: watch %q: %w", prefix, err)}
		close(out)
		return out
	}
	if fromRev == 0 {
		fromRev = k.rev + 1
	}
	k.watchers.Add(1)
	go k.watch(ctx, k.rdb, out, prefix, fromRev)
	return out
}

// watch is the goroutine of one watch: it reads committed revisions from
// kv_log and sends them, waiting for a commit when it has caught up.
func (k *KV) watch(ctx context.Context, r *sql.DB, out chan<- config.WatchResponse, prefix string, next int64) {
	defer k.watchers.Done()
	defer close(out)
	send := func(resp config.WatchResponse) bool {
		select {
		case out <- resp:
			return true
		case <-ctx.Done():
		case <-k.done:
		}
		return false
	}
	for {
		k.mu.Lock()
		cur, changed := k.rev, k.changed
		k.mu.Unlock()
		if next > cur {
			select {
			case <-changed:
				continue
			case <-ctx.Done():
			case <-k.done:
				// Tell the consumer why, if it is listening.
				select {
				case out <- config.WatchResponse{Err: fmt.Errorf("sqlite kv: watch %q: %w", prefix, errClosed)}:
				default:
				}
			}
			return
		}

		b, err := readLog(ctx, r, prefix, next)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			send(config.WatchResponse{Err: fmt.Errorf("sqlite kv: watch %q from %d: %w", prefix, next, err)})
			return
		case b.compacted:
			send(config.WatchResponse{Revision: b.compactRev, Compacted: true})
			return
		}
		for _, resp := range b.resps {
			if !send(resp) {
				return
			}
		}
		next = max(next, b.next)
	}
}

// batch is what one read of kv_log found.
type batch struct {
	resps      []config.WatchResponse // one per revision with events under the prefix
	next       int64                  // the revision to read from next
	compacted  bool                   // the history from the asked revision is gone
	compactRev int64
}

// readLog reads the events under prefix from revision from on, in one
// read transaction that it ends before the caller sends anything.
func readLog(ctx context.Context, r *sql.DB, prefix string, from int64) (batch, error) {
	tx, err := r.BeginTx(ctx, nil)
	if err != nil {
		return batch{}, err
	}
	defer tx.Rollback()
	var b batch
	var cur int64
	if err := tx.QueryRowContext(ctx, "SELECT rev, compact_rev FROM meta WHERE id = 1").Scan(&cur, &b.compactRev); err != nil {
		return batch{}, err
	}
	if from < b.compactRev {
		b.compacted = true
		return b, nil
	}

	where, args := rangeSQL(prefix)
	rows, err := tx.QueryContext(ctx,
		"SELECT rev, key, deleted, create_rev, value FROM kv_log WHERE rev >= ? AND "+where+" ORDER BY rev, seq",
		append([]any{from}, args...)...)
	if err != nil {
		return batch{}, err
	}
	defer rows.Close()
	b.next = cur + 1
	size := 0
	for rows.Next() {
		var (
			ev      config.Event
			rev     int64
			deleted bool
		)
		if err := rows.Scan(&rev, &ev.KV.Key, &deleted, &ev.KV.CreateRevision, &ev.KV.Value); err != nil {
			return batch{}, err
		}
		if n := len(b.resps); n == 0 || b.resps[n-1].Revision != rev {
			if n >= batchRevisions || size >= batchBytes {
				// Stop at a revision boundary; the caller reads on.
				b.next = rev
				break
			}
			b.resps = append(b.resps, config.WatchResponse{Revision: rev})
		}
		ev.KV.ModRevision = rev
		if deleted {
			ev.Type = config.EventDelete
			ev.KV.Value = nil
		}
		resp := &b.resps[len(b.resps)-1]
		resp.Events = append(resp.Events, ev)
		size += len(ev.KV.Value)
	}
	return b, rows.Err()
}
