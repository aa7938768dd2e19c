// Package configtest holds the conformance suite that every implementation
// of config.KV runs, so that store/sqlite and store/etcd keep the same
// user-visible semantics: revisions, transactions, listings and watches.
//
// A store's test calls Run with a function that opens a new, empty store
// and registers its own cleanup:
//
//	func TestKV(t *testing.T) {
//		configtest.Run(t, func(t *testing.T) config.KV {
//			kv := sqlite.New(filepath.Join(t.TempDir(), "hub.db"))
//			if err := kv.Open(t.Context()); err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { kv.Close() })
//			return kv
//		})
//	}
package configtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/config"
)

// Compactor is implemented by stores whose watch history can be compacted
// on demand. After Compact(ctx, rev), a watch from a revision below rev
// gets one Compacted response; a watch from rev or later still works. The
// suite skips the compaction tests for stores that do not implement it.
type Compactor interface {
	Compact(ctx context.Context, rev int64) error
}

// wait bounds every wait for a watch response; generous for -race on CI.
const wait = 10 * time.Second

// Run runs the conformance suite. open returns a new, empty store for one
// subtest, that nothing else writes to, and closes it in a t.Cleanup.
func Run(t *testing.T, open func(t *testing.T) config.KV) {
	tests := []struct {
		name string
		run  func(t *testing.T, kv config.KV)
	}{
		{"Get/missing key is not found", testGetMissing},
		{"Get/returns what Put wrote", testPutGet},
		{"Get/values round trip byte for byte", testValues},
		{"Get/values are not shared with the caller", testValuesCopied},
		{"Txn/one new revision per transaction", testRevisions},
		{"Txn/update keeps CreateRevision", testCreateRevisionKept},
		{"Txn/expectations that hold", testExpectationsHold},
		{"Txn/failed expectation writes nothing", testConflicts},
		{"Txn/invalid ops write nothing", testInvalid},
		{"Txn/nothing to change keeps the revision", testNoop},
		{"Txn/concurrent compare-and-swap loses no update", testConcurrentCAS},
		{"List/prefix, key order and revision", testList},
		{"Watch/from 0 sees only later changes", testWatchFromNow},
		{"Watch/from a past revision replays then follows", testWatchReplay},
		{"Watch/one transaction is one response", testWatchTxn},
		{"Watch/only keys under the prefix", testWatchPrefix},
		{"Watch/delete events", testWatchDelete},
		{"Watch/cancel closes the channel", testWatchCancel},
		{"Watch/slow consumer blocks no writer and loses nothing", testWatchSlowConsumer},
		{"Watch/from a compacted revision", testWatchCompacted},
		{"Close/is idempotent", testCloseTwice},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.run(t, open(t))
		})
	}
}

func testGetMissing(t *testing.T, kv config.KV) {
	txn(t, kv, config.Put("/a", []byte("1"), config.Any))
	for _, key := range []string{"/missing", "/a/", "/", "/A"} {
		_, err := kv.Get(t.Context(), key)
		if code := obhub.ErrorCode(err); code != obhub.ENOTFOUND {
			t.Errorf("Get(%q) error = %v (code %q), want code %q", key, err, code, obhub.ENOTFOUND)
		}
	}
}

func testPutGet(t *testing.T, kv config.KV) {
	rev := txn(t, kv, config.Put("/k", []byte("v1"), config.Any))
	got := get(t, kv, "/k")
	want := config.KeyValue{Key: "/k", Value: []byte("v1"), CreateRevision: rev, ModRevision: rev}
	if !equalKV(got, want) {
		t.Errorf("Get = %s, want %s", fmtKV(got), fmtKV(want))
	}
}

func testValues(t *testing.T, kv config.KV) {
	large := make([]byte, 4<<20) // an OpenAPI document can be several MB
	rand.Read(large)
	tests := []struct {
		name  string
		value []byte
	}{
		{"nil", nil},
		{"empty", []byte{}},
		{"binary", []byte{0, 1, 0xff, 0, '\n', 0}},
		{"utf-8", []byte("Überweisung €")},
		{"4 MB", large},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := "/values/" + tt.name
			txn(t, kv, config.Put(key, tt.value, config.Any))
			if got := get(t, kv, key); !bytes.Equal(got.Value, tt.value) {
				t.Errorf("Get value: %d bytes, not the %d bytes written", len(got.Value), len(tt.value))
			}
			l := list(t, kv, key)
			if len(l.KVs) != 1 || !bytes.Equal(l.KVs[0].Value, tt.value) {
				t.Errorf("List did not return the value written")
			}
		})
	}
}

func testValuesCopied(t *testing.T, kv config.KV) {
	buf := []byte("original")
	txn(t, kv, config.Put("/k", buf, config.Any))
	copy(buf, "CHANGED!")
	got := get(t, kv, "/k")
	if string(got.Value) != "original" {
		t.Fatalf("after the caller reused its buffer, Get = %q, want %q", got.Value, "original")
	}
	copy(got.Value, "CHANGED!")
	if again := get(t, kv, "/k"); string(again.Value) != "original" {
		t.Errorf("after the caller changed a returned value, Get = %q, want %q", again.Value, "original")
	}
}

func testRevisions(t *testing.T, kv config.KV) {
	r1 := txn(t, kv, config.Put("/a", []byte("1"), config.Any), config.Put("/b", []byte("1"), config.Any))
	r2 := txn(t, kv, config.Put("/c", []byte("1"), config.Any))
	r3 := txn(t, kv, config.Delete("/a", config.Any), config.Put("/b", []byte("2"), config.Any))
	if r1 <= 0 || r2 != r1+1 || r3 != r2+1 {
		t.Errorf("Txn revisions = %d, %d, %d; want consecutive and positive", r1, r2, r3)
	}
	if got := list(t, kv, "").Revision; got != r3 {
		t.Errorf("List revision = %d, want the last Txn's %d", got, r3)
	}
	want := map[string][2]int64{"/b": {r1, r3}, "/c": {r2, r2}}
	for key, revs := range want {
		got := get(t, kv, key)
		if got.CreateRevision != revs[0] || got.ModRevision != revs[1] {
			t.Errorf("Get(%q) revisions = create %d mod %d, want create %d mod %d",
				key, got.CreateRevision, got.ModRevision, revs[0], revs[1])
		}
	}
}

func testCreateRevisionKept(t *testing.T, kv config.KV) {
	created := txn(t, kv, config.Put("/k", []byte("1"), config.Absent))
	txn(t, kv, config.Put("/other", []byte("x"), config.Any))
	updated := txn(t, kv, config.Put("/k", []byte("2"), created))
	got := get(t, kv, "/k")
	want := config.KeyValue{Key: "/k", Value: []byte("2"), CreateRevision: created, ModRevision: updated}
	if !equalKV(got, want) {
		t.Errorf("after update, Get = %s, want %s", fmtKV(got), fmtKV(want))
	}

	// A key deleted and written again is a new key.
	txn(t, kv, config.Delete("/k", updated))
	recreated := txn(t, kv, config.Put("/k", []byte("3"), config.Absent))
	if got := get(t, kv, "/k"); got.CreateRevision != recreated {
		t.Errorf("after delete and put, CreateRevision = %d, want %d", got.CreateRevision, recreated)
	}
}

// existing writes /x twice and returns it: its CreateRevision is a stale
// ModRevision that the expectation tables use.
func existing(t *testing.T, kv config.KV) config.KeyValue {
	t.Helper()
	txn(t, kv, config.Put("/x", []byte("first"), config.Any))
	txn(t, kv, config.Put("/x", []byte("old"), config.Any))
	return get(t, kv, "/x")
}

func testExpectationsHold(t *testing.T, kv config.KV) {
	tests := []struct {
		name string
		ops  func(x config.KeyValue) []config.Op
	}{
		{"put Absent on a missing key", func(x config.KeyValue) []config.Op {
			return []config.Op{config.Put("/new", []byte("n"), config.Absent)}
		}},
		{"put Any on an existing key", func(x config.KeyValue) []config.Op {
			return []config.Op{config.Put("/x", []byte("v"), config.Any)}
		}},
		{"put with the current ModRevision", func(x config.KeyValue) []config.Op {
			return []config.Op{config.Put("/x", []byte("v"), x.ModRevision)}
		}},
		{"delete with the current ModRevision", func(x config.KeyValue) []config.Op {
			return []config.Op{config.Delete("/x", x.ModRevision)}
		}},
		{"several ops, each expectation holding", func(x config.KeyValue) []config.Op {
			return []config.Op{
				config.Put("/new", []byte("n"), config.Absent),
				config.Delete("/x", x.ModRevision),
				config.Put("/other", []byte("o"), config.Any),
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := existing(t, kv)
			before := list(t, kv, "").Revision
			rev := txn(t, kv, tt.ops(x)...)
			if rev != before+1 {
				t.Errorf("Txn revision = %d, want %d", rev, before+1)
			}
			for _, op := range tt.ops(x) {
				if op.Delete {
					missing(t, kv, op.Key)
					continue
				}
				got := get(t, kv, op.Key)
				if !bytes.Equal(got.Value, op.Value) || got.ModRevision != rev {
					t.Errorf("Get(%q) = %s, want value %q at revision %d", op.Key, fmtKV(got), op.Value, rev)
				}
			}
			// Reset for the next case.
			txn(t, kv, config.Delete("/x", config.Any), config.Delete("/new", config.Any), config.Delete("/other", config.Any))
		})
	}
}

func testConflicts(t *testing.T, kv config.KV) {
	newKey := config.Put("/new", []byte("n"), config.Any)
	tests := []struct {
		name string
		ops  func(x config.KeyValue) []config.Op
	}{
		{"put Absent on an existing key", func(x config.KeyValue) []config.Op {
			return []config.Op{newKey, config.Put("/x", []byte("v"), config.Absent)}
		}},
		{"put with a stale ModRevision", func(x config.KeyValue) []config.Op {
			return []config.Op{newKey, config.Put("/x", []byte("v"), x.CreateRevision)}
		}},
		{"put with a future ModRevision", func(x config.KeyValue) []config.Op {
			return []config.Op{newKey, config.Put("/x", []byte("v"), x.ModRevision+1)}
		}},
		{"put expecting a revision on a missing key", func(x config.KeyValue) []config.Op {
			return []config.Op{newKey, config.Put("/missing", []byte("v"), x.ModRevision)}
		}},
		{"delete with a stale ModRevision", func(x config.KeyValue) []config.Op {
			return []config.Op{newKey, config.Delete("/x", x.CreateRevision)}
		}},
		{"delete Absent on an existing key", func(x config.KeyValue) []config.Op {
			return []config.Op{newKey, config.Delete("/x", config.Absent)}
		}},
		{"delete expecting a revision on a missing key", func(x config.KeyValue) []config.Op {
			return []config.Op{newKey, config.Delete("/missing", x.ModRevision)}
		}},
		{"failing op first", func(x config.KeyValue) []config.Op {
			return []config.Op{config.Put("/x", []byte("v"), config.Absent), newKey}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := existing(t, kv)
			_, err := kv.Txn(t.Context(), tt.ops(x)...)
			if code := obhub.ErrorCode(err); code != obhub.ECONFLICT {
				t.Fatalf("Txn error = %v (code %q), want code %q", err, code, obhub.ECONFLICT)
			}
			unchanged(t, kv, x)
		})
	}
}

func testInvalid(t *testing.T, kv config.KV) {
	tests := []struct {
		name string
		ops  []config.Op
	}{
		{"empty key", []config.Op{config.Put("/new", []byte("n"), config.Any), config.Put("", []byte("v"), config.Any)}},
		{"same key twice", []config.Op{config.Put("/new", []byte("1"), config.Any), config.Put("/new", []byte("2"), config.Any)}},
		{"put and delete of one key", []config.Op{config.Put("/new", []byte("1"), config.Any), config.Delete("/new", config.Any)}},
		{"expectation below Any", []config.Op{config.Put("/new", []byte("n"), -2)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := existing(t, kv)
			_, err := kv.Txn(t.Context(), tt.ops...)
			if code := obhub.ErrorCode(err); code != obhub.EINVALID {
				t.Fatalf("Txn error = %v (code %q), want code %q", err, code, obhub.EINVALID)
			}
			unchanged(t, kv, x)
		})
	}
}

// unchanged fails unless the store still holds exactly x (from existing)
// at the same revision, and no "/new".
func unchanged(t *testing.T, kv config.KV, x config.KeyValue) {
	t.Helper()
	if got := get(t, kv, "/x"); !equalKV(got, x) {
		t.Errorf("after a failed Txn, Get(/x) = %s, want %s", fmtKV(got), fmtKV(x))
	}
	missing(t, kv, "/new")
	if rev := list(t, kv, "").Revision; rev != x.ModRevision {
		t.Errorf("after a failed Txn, store revision = %d, want %d", rev, x.ModRevision)
	}
}

func testNoop(t *testing.T, kv config.KV) {
	tests := []struct {
		name string
		ops  []config.Op
	}{
		{"no ops", nil},
		{"delete of a missing key, Any", []config.Op{config.Delete("/missing", config.Any)}},
		{"delete of a missing key, Absent", []config.Op{config.Delete("/missing", config.Absent)}},
		{"deletes of several missing keys", []config.Op{config.Delete("/m1", config.Any), config.Delete("/m2", config.Absent)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := txn(t, kv, config.Put("/x", []byte("x"), config.Any))
			ch := kv.Watch(t.Context(), "", before+1)
			if rev := txn(t, kv, tt.ops...); rev != before {
				t.Errorf("Txn revision = %d, want the unchanged %d", rev, before)
			}
			if rev := list(t, kv, "").Revision; rev != before {
				t.Errorf("store revision = %d, want the unchanged %d", rev, before)
			}
			sentinel := "/sentinel/" + tt.name
			next := txn(t, kv, config.Put(sentinel, []byte("s"), config.Absent))
			expectEvents(t, ch, next, put(sentinel, "s", next, next))
		})
	}

	t.Run("delete of a missing key beside a put", func(t *testing.T) {
		before := txn(t, kv, config.Put("/x", []byte("x"), config.Any))
		ch := kv.Watch(t.Context(), "", before+1)
		rev := txn(t, kv, config.Delete("/missing", config.Any), config.Put("/y", []byte("y"), config.Any))
		if rev != before+1 {
			t.Errorf("Txn revision = %d, want %d", rev, before+1)
		}
		expectEvents(t, ch, rev, put("/y", "y", rev, rev))
	})
}

func testConcurrentCAS(t *testing.T, kv config.KV) {
	const workers, increments = 20, 5
	const key = "/counter"
	txn(t, kv, config.Put(key, []byte("0"), config.Absent))

	var wg sync.WaitGroup
	errs := make(chan error, workers)
	revs := make(chan int64, workers*increments)
	for range workers {
		wg.Go(func() {
			for range increments {
				rev, err := increment(t.Context(), kv, key)
				if err != nil {
					errs <- err
					return
				}
				revs <- rev
			}
		})
	}
	wg.Wait()
	close(errs)
	close(revs)
	for err := range errs {
		t.Error(err)
	}

	got := get(t, kv, key)
	if want := strconv.Itoa(workers * increments); string(got.Value) != want {
		t.Errorf("counter = %s, want %s: an update was lost", got.Value, want)
	}
	seen := map[int64]bool{}
	for rev := range revs {
		if seen[rev] {
			t.Errorf("two successful Txns returned revision %d", rev)
		}
		seen[rev] = true
	}
}

// increment adds one to the counter at key by read-modify-write, retrying
// on conflict. It runs in a goroutine and so reports instead of failing.
func increment(ctx context.Context, kv config.KV, key string) (int64, error) {
	for range 10_000 {
		cur, err := kv.Get(ctx, key)
		if err != nil {
			return 0, err
		}
		n, err := strconv.Atoi(string(cur.Value))
		if err != nil {
			return 0, err
		}
		rev, err := kv.Txn(ctx, config.Put(key, []byte(strconv.Itoa(n+1)), cur.ModRevision))
		if obhub.ErrorCode(err) == obhub.ECONFLICT {
			continue
		}
		return rev, err
	}
	return 0, fmt.Errorf("increment %s: still conflicting after 10000 tries", key)
}

func testList(t *testing.T, kv config.KV) {
	keys := []string{"/b/1", "/a/2", "/ab", "/a/10", "/a", "/a/b/c", "/a/1", "/a/gone", "/z\xff", "/z\xff\x01", "/z\xfe"}
	revs := map[string]int64{}
	for _, key := range keys {
		revs[key] = txn(t, kv, config.Put(key, []byte("v"+key), config.Absent))
	}
	last := txn(t, kv, config.Delete("/a/gone", config.Any))

	tests := []struct {
		prefix string
		want   []string
	}{
		{"/a/", []string{"/a/1", "/a/10", "/a/2", "/a/b/c"}},
		{"/a", []string{"/a", "/a/1", "/a/10", "/a/2", "/a/b/c", "/ab"}},
		{"/a/1", []string{"/a/1", "/a/10"}},
		{"/b/", []string{"/b/1"}},
		{"/z\xff", []string{"/z\xff", "/z\xff\x01"}},
		{"/none/", nil},
		{"", []string{"/a", "/a/1", "/a/10", "/a/2", "/a/b/c", "/ab", "/b/1", "/z\xfe", "/z\xff", "/z\xff\x01"}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("prefix %q", tt.prefix), func(t *testing.T) {
			got := list(t, kv, tt.prefix)
			if got.Revision != last {
				t.Errorf("Revision = %d, want the store's %d", got.Revision, last)
			}
			var gotKeys []string
			for _, kv := range got.KVs {
				gotKeys = append(gotKeys, kv.Key)
				want := config.KeyValue{Key: kv.Key, Value: []byte("v" + kv.Key), CreateRevision: revs[kv.Key], ModRevision: revs[kv.Key]}
				if !equalKV(kv, want) {
					t.Errorf("List entry %s, want %s", fmtKV(kv), fmtKV(want))
				}
			}
			if !slices.Equal(gotKeys, tt.want) {
				t.Errorf("List keys = %q, want %q", gotKeys, tt.want)
			}
		})
	}
}

func testWatchFromNow(t *testing.T, kv config.KV) {
	txn(t, kv, config.Put("/w/before", []byte("b"), config.Any))
	ch := kv.Watch(t.Context(), "/w/", 0)
	rev := txn(t, kv, config.Put("/w/after", []byte("a"), config.Any))
	expectEvents(t, ch, rev, put("/w/after", "a", rev, rev))
}

func testWatchReplay(t *testing.T, kv config.KV) {
	r1 := txn(t, kv, config.Put("/w/a", []byte("1"), config.Any))
	r2 := txn(t, kv, config.Put("/w/b", []byte("2"), config.Any))
	r3 := txn(t, kv, config.Delete("/w/a", config.Any))
	r4 := txn(t, kv, config.Put("/w/b", []byte("3"), config.Any))

	all := kv.Watch(t.Context(), "/w/", r1)
	expectEvents(t, all, r1, put("/w/a", "1", r1, r1))
	expectEvents(t, all, r2, put("/w/b", "2", r2, r2))
	expectEvents(t, all, r3, del("/w/a", r3))
	expectEvents(t, all, r4, put("/w/b", "3", r2, r4))

	// From the middle of the history, then live.
	tail := kv.Watch(t.Context(), "/w/", r3)
	expectEvents(t, tail, r3, del("/w/a", r3))
	expectEvents(t, tail, r4, put("/w/b", "3", r2, r4))
	r5 := txn(t, kv, config.Put("/w/c", []byte("4"), config.Any))
	expectEvents(t, tail, r5, put("/w/c", "4", r5, r5))
	expectEvents(t, all, r5, put("/w/c", "4", r5, r5))
}

func testWatchTxn(t *testing.T, kv config.KV) {
	r0 := txn(t, kv, config.Put("/w/c", []byte("0"), config.Any))
	ch := kv.Watch(t.Context(), "/w/", 0)
	r1 := txn(t, kv,
		config.Put("/w/b", []byte("1"), config.Absent),
		config.Delete("/w/c", r0),
		config.Put("/w/a", []byte("1"), config.Any),
	)
	r2 := txn(t, kv, config.Put("/w/a", []byte("2"), r1))
	expectEvents(t, ch, r1, put("/w/b", "1", r1, r1), del("/w/c", r1), put("/w/a", "1", r1, r1))
	expectEvents(t, ch, r2, put("/w/a", "2", r1, r2))
}

func testWatchPrefix(t *testing.T, kv config.KV) {
	ch := kv.Watch(t.Context(), "/a/", 0)
	txn(t, kv, config.Put("/ab", []byte("x"), config.Any))
	txn(t, kv, config.Put("/a", []byte("x"), config.Any))
	txn(t, kv, config.Put("/b/1", []byte("x"), config.Any))
	r1 := txn(t, kv, config.Put("/b/2", []byte("x"), config.Any), config.Put("/a/2", []byte("y"), config.Any))
	r2 := txn(t, kv, config.Put("/a/1", []byte("z"), config.Any))
	expectEvents(t, ch, r1, put("/a/2", "y", r1, r1))
	expectEvents(t, ch, r2, put("/a/1", "z", r2, r2))
}

func testWatchDelete(t *testing.T, kv config.KV) {
	r0 := txn(t, kv, config.Put("/w/a", []byte("big value"), config.Any))
	ch := kv.Watch(t.Context(), "/w/", 0)
	r1 := txn(t, kv, config.Delete("/w/a", r0))
	expectEvents(t, ch, r1, del("/w/a", r1))
}

func testWatchCancel(t *testing.T, kv config.KV) {
	tests := []struct {
		name    string
		backlog int
	}{
		{"idle", 0},
		{"with unread events", 50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first := list(t, kv, "").Revision + 1
			for i := range tt.backlog {
				txn(t, kv, config.Put(fmt.Sprintf("/c/%d", i), []byte("x"), config.Any))
			}
			ctx, cancel := context.WithCancel(t.Context())
			ch := kv.Watch(ctx, "/c/", first)
			cancel()
			timeout := time.After(wait)
			for {
				select {
				case resp, ok := <-ch:
					if !ok {
						return
					}
					if resp.Err != nil || resp.Compacted {
						t.Errorf("after cancel, got %s, want events or the end", fmtResp(resp))
					}
				case <-timeout:
					t.Fatalf("channel still open %v after cancel", wait)
				}
			}
		})
	}
}

func testWatchSlowConsumer(t *testing.T, kv config.KV) {
	const n = 200
	ch := kv.Watch(t.Context(), "/slow/", 0)
	type result struct {
		revs []int64
		err  error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		for i := range n {
			rev, err := kv.Txn(t.Context(), config.Put(fmt.Sprintf("/slow/%03d", i), []byte(strconv.Itoa(i)), config.Any))
			if err != nil {
				r.err = err
				break
			}
			r.revs = append(r.revs, rev)
		}
		done <- r
	}()
	var r result
	select {
	case r = <-done:
	case <-time.After(wait):
		t.Fatalf("%d writes did not finish in %v while a watcher read nothing", n, wait)
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	for i, rev := range r.revs {
		key := fmt.Sprintf("/slow/%03d", i)
		expectEvents(t, ch, rev, put(key, strconv.Itoa(i), rev, rev))
	}
}

func testWatchCompacted(t *testing.T, kv config.KV) {
	c, ok := kv.(Compactor)
	if !ok {
		t.Skip("store does not implement configtest.Compactor")
	}
	r1 := txn(t, kv, config.Put("/w/a", []byte("1"), config.Any))
	txn(t, kv, config.Put("/w/b", []byte("2"), config.Any))
	r3 := txn(t, kv, config.Put("/w/c", []byte("3"), config.Any))
	if err := c.Compact(t.Context(), r3); err != nil {
		t.Fatalf("Compact(%d): %v", r3, err)
	}

	t.Run("older revision", func(t *testing.T) {
		ch := kv.Watch(t.Context(), "/w/", r1)
		if resp := next(t, ch); !resp.Compacted || len(resp.Events) != 0 {
			t.Errorf("got %s, want one Compacted response", fmtResp(resp))
		}
		closed(t, ch)
	})
	t.Run("compaction revision", func(t *testing.T) {
		ch := kv.Watch(t.Context(), "/w/", r3)
		expectEvents(t, ch, r3, put("/w/c", "3", r3, r3))
	})
	t.Run("data kept", func(t *testing.T) {
		if l := list(t, kv, "/w/"); len(l.KVs) != 3 || l.Revision != r3 {
			t.Errorf("after compaction, List = %d keys at revision %d, want 3 at %d", len(l.KVs), l.Revision, r3)
		}
	})
}

func testCloseTwice(t *testing.T, kv config.KV) {
	if err := kv.Close(); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	if err := kv.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// txn applies ops and returns the revision, failing the test on error.
func txn(t testing.TB, kv config.KV, ops ...config.Op) int64 {
	t.Helper()
	rev, err := kv.Txn(t.Context(), ops...)
	if err != nil {
		t.Fatalf("Txn: %v", err)
	}
	return rev
}

func get(t testing.TB, kv config.KV, key string) config.KeyValue {
	t.Helper()
	got, err := kv.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return got
}

func missing(t testing.TB, kv config.KV, key string) {
	t.Helper()
	got, err := kv.Get(t.Context(), key)
	if code := obhub.ErrorCode(err); code != obhub.ENOTFOUND {
		t.Errorf("Get(%q) = %s, %v; want code %q", key, fmtKV(got), err, obhub.ENOTFOUND)
	}
}

func list(t testing.TB, kv config.KV, prefix string) config.Listing {
	t.Helper()
	l, err := kv.List(t.Context(), prefix)
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return l
}

// next returns the next watch response, failing if none comes in time or
// the channel closes.
func next(t testing.TB, ch <-chan config.WatchResponse) config.WatchResponse {
	t.Helper()
	select {
	case resp, ok := <-ch:
		if !ok {
			t.Fatal("watch channel closed, want a response")
		}
		return resp
	case <-time.After(wait):
		t.Fatalf("no watch response in %v", wait)
	}
	panic("unreachable")
}

// closed fails unless ch closes without sending anything more.
func closed(t testing.TB, ch <-chan config.WatchResponse) {
	t.Helper()
	select {
	case resp, ok := <-ch:
		if ok {
			t.Errorf("got %s, want the channel closed", fmtResp(resp))
		}
	case <-time.After(wait):
		t.Errorf("watch channel still open after %v", wait)
	}
}

// expectEvents reads the next response and checks that it is revision rev
// with exactly the events described (see put and del), in that order.
func expectEvents(t testing.TB, ch <-chan config.WatchResponse, rev int64, want ...string) {
	t.Helper()
	resp := next(t, ch)
	var got []string
	for _, ev := range resp.Events {
		got = append(got, fmtEvent(ev))
	}
	if resp.Revision != rev || resp.Err != nil || resp.Compacted || !slices.Equal(got, want) {
		t.Errorf("watch response:\n got %s\nwant revision %d %q", fmtResp(resp), rev, want)
	}
}

// put describes a put event as fmtEvent prints it.
func put(key, value string, create, mod int64) string {
	return fmtEvent(config.Event{Type: config.EventPut, KV: config.KeyValue{
		Key: key, Value: []byte(value), CreateRevision: create, ModRevision: mod,
	}})
}

// del describes a delete event as fmtEvent prints it.
func del(key string, mod int64) string {
	return fmtEvent(config.Event{Type: config.EventDelete, KV: config.KeyValue{Key: key, ModRevision: mod}})
}

func fmtEvent(ev config.Event) string {
	switch ev.Type {
	case config.EventPut:
		return fmt.Sprintf("put %s=%s create=%d mod=%d", ev.KV.Key, ev.KV.Value, ev.KV.CreateRevision, ev.KV.ModRevision)
	case config.EventDelete:
		if len(ev.KV.Value) > 0 {
			return fmt.Sprintf("delete %s=%s (a delete has no value) mod=%d", ev.KV.Key, ev.KV.Value, ev.KV.ModRevision)
		}
		return fmt.Sprintf("delete %s mod=%d", ev.KV.Key, ev.KV.ModRevision)
	}
	return fmt.Sprintf("unknown event type %d on %s", ev.Type, ev.KV.Key)
}

func fmtResp(resp config.WatchResponse) string {
	var evs []string
	for _, ev := range resp.Events {
		evs = append(evs, fmtEvent(ev))
	}
	return fmt.Sprintf("revision %d %q compacted=%v err=%v", resp.Revision, evs, resp.Compacted, resp.Err)
}

func fmtKV(kv config.KeyValue) string {
	v := string(kv.Value)
	if len(v) > 40 {
		v = fmt.Sprintf("(%d bytes)", len(kv.Value))
	}
	return fmt.Sprintf("%s=%q create=%d mod=%d", kv.Key, v, kv.CreateRevision, kv.ModRevision)
}

func equalKV(a, b config.KeyValue) bool {
	return a.Key == b.Key && bytes.Equal(a.Value, b.Value) &&
		a.CreateRevision == b.CreateRevision && a.ModRevision == b.ModRevision
}
