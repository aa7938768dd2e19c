package sqlite_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/config"
	"github.com/obhub/obhub/config/configtest"
	"github.com/obhub/obhub/store/sqlite"
)

func TestKV(t *testing.T) {
	configtest.Run(t, func(t *testing.T) config.KV {
		return open(t, filepath.Join(t.TempDir(), "hub.db"))
	})
}

// open opens a KV on path and closes it when the test ends.
func open(t testing.TB, path string, opts ...sqlite.Option) *sqlite.KV {
	t.Helper()
	kv := sqlite.New(path, opts...)
	if err := kv.Open(t.Context()); err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := kv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return kv
}

func put(t testing.TB, kv config.KV, key, value string) int64 {
	t.Helper()
	rev, err := kv.Txn(t.Context(), config.Put(key, []byte(value), config.Any))
	if err != nil {
		t.Fatalf("Txn: %v", err)
	}
	return rev
}

// collect reads n responses, failing on an error, a compaction or a wait
// longer than 10s.
func collect(t testing.TB, ch <-chan config.WatchResponse, n int) []config.WatchResponse {
	t.Helper()
	var got []config.WatchResponse
	for len(got) < n {
		select {
		case resp, ok := <-ch:
			if !ok || resp.Err != nil || resp.Compacted {
				t.Fatalf("after %d responses: got %+v (open %v), want %d responses", len(got), resp, ok, n)
			}
			got = append(got, resp)
		case <-time.After(10 * time.Second):
			t.Fatalf("after %d responses: nothing more in 10s, want %d", len(got), n)
		}
	}
	return got
}

func TestReopenKeepsDataAndRevision(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub.db")
	first := sqlite.New(path)
	if err := first.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	r1 := put(t, first, "/a", "1")
	r2 := put(t, first, "/b", "2")
	if _, err := first.Txn(t.Context(), config.Delete("/a", r1)); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	kv := open(t, path)
	l, err := kv.List(t.Context(), "/")
	if err != nil {
		t.Fatal(err)
	}
	if l.Revision != r2+1 || len(l.KVs) != 1 || l.KVs[0].Key != "/b" || string(l.KVs[0].Value) != "2" || l.KVs[0].ModRevision != r2 {
		t.Errorf("after reopen, List = %+v, want /b=2 at revision %d", l, r2+1)
	}
	if rev := put(t, kv, "/c", "3"); rev != r2+2 {
		t.Errorf("first Txn after reopen: revision %d, want %d", rev, r2+2)
	}
	// The watch history survives too.
	got := collect(t, kv.Watch(t.Context(), "/", r1), 4)
	for i, resp := range got {
		if resp.Revision != r1+int64(i) {
			t.Errorf("replayed response %d has revision %d, want %d", i, resp.Revision, r1+int64(i))
		}
	}
}

func TestSecondOpenIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub.db")
	holder := sqlite.New(path)
	if err := holder.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	put(t, holder, "/a", "1")

	second := sqlite.New(path)
	err := second.Open(t.Context())
	if !errors.Is(err, sqlite.ErrLocked) || !strings.Contains(err.Error(), "data folder in use by another obhub process") {
		t.Fatalf("second Open error = %v, want ErrLocked", err)
	}
	if err := second.Close(); err != nil {
		t.Errorf("Close after a refused Open: %v", err)
	}

	// Once the holder closes, the folder is free.
	if err := holder.Close(); err != nil {
		t.Fatal(err)
	}
	kv := open(t, path)
	if got, err := kv.Get(t.Context(), "/a"); err != nil || string(got.Value) != "1" {
		t.Errorf("Get after the lock moved = %+v, %v; want 1", got, err)
	}
}

// TestSecondProcessIsRefused runs this test binary again as another
// process that tries to open a database this one holds.
func TestSecondProcessIsRefused(t *testing.T) {
	if path := os.Getenv("OBHUB_SQLITE_TEST_OPEN"); path != "" {
		// The child: report what Open says.
		err := sqlite.New(path).Open(t.Context())
		fmt.Printf("open error: %v\n", err)
		return
	}
	path := filepath.Join(t.TempDir(), "hub.db")
	open(t, path)
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestSecondProcessIsRefused$")
	cmd.Env = append(os.Environ(), "OBHUB_SQLITE_TEST_OPEN="+path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child process: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("data folder in use by another obhub process")) {
		t.Errorf("child process output:\n%s\nwant the data folder in use error", out)
	}
}

func TestLifecycle(t *testing.T) {
	t.Run("Close is safe after a failed Open", func(t *testing.T) {
		kv := sqlite.New(filepath.Join(t.TempDir(), "no", "such", "folder", "hub.db"))
		if err := kv.Open(t.Context()); err == nil {
			t.Fatal("Open in a missing folder succeeded")
		}
		for range 2 {
			if err := kv.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		}
	})
	t.Run("not a database", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "hub.db")
		if err := os.WriteFile(path, bytes.Repeat([]byte("not sqlite "), 1000), 0o600); err != nil {
			t.Fatal(err)
		}
		kv := sqlite.New(path)
		defer kv.Close()
		if err := kv.Open(t.Context()); err == nil {
			t.Error("Open of a file that is not a database succeeded")
		}
	})
	t.Run("unavailable before Open and after Close", func(t *testing.T) {
		kv := sqlite.New(filepath.Join(t.TempDir(), "hub.db"))
		check := func(when string) {
			t.Helper()
			_, err := kv.Get(t.Context(), "/a")
			if code := obhub.ErrorCode(err); code != obhub.EUNAVAILABLE {
				t.Errorf("Get %s: %v (code %q), want code %q", when, err, code, obhub.EUNAVAILABLE)
			}
			_, err = kv.Txn(t.Context(), config.Put("/a", nil, config.Any))
			if code := obhub.ErrorCode(err); code != obhub.EUNAVAILABLE {
				t.Errorf("Txn %s: %v (code %q), want code %q", when, err, code, obhub.EUNAVAILABLE)
			}
			resp, ok := <-kv.Watch(t.Context(), "/", 0)
			if code := obhub.ErrorCode(resp.Err); !ok || code != obhub.EUNAVAILABLE {
				t.Errorf("Watch %s: %+v, want an EUNAVAILABLE response", when, resp)
			}
		}
		check("before Open")
		if err := kv.Open(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := kv.Close(); err != nil {
			t.Fatal(err)
		}
		check("after Close")
		if err := kv.Open(t.Context()); err == nil {
			t.Error("Open after Close succeeded")
		}
	})
}

func TestCloseEndsWatches(t *testing.T) {
	kv := sqlite.New(filepath.Join(t.TempDir(), "hub.db"))
	if err := kv.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	first := put(t, kv, "/a", "1")
	for range 40 {
		put(t, kv, "/a", "x")
	}
	idle := kv.Watch(t.Context(), "/", 0)
	unread := kv.Watch(t.Context(), "/", first) // more than its buffer, never read

	closed := make(chan error, 1)
	go func() { closed <- kv.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close blocked on a watcher nobody reads")
	}
	for name, ch := range map[string]<-chan config.WatchResponse{"idle": idle, "unread": unread} {
		timeout := time.After(10 * time.Second)
	drain:
		for {
			select {
			case resp, ok := <-ch:
				if !ok {
					break drain
				}
				if resp.Err != nil && obhub.ErrorCode(resp.Err) != obhub.EUNAVAILABLE {
					t.Errorf("%s watch: error %v, want EUNAVAILABLE", name, resp.Err)
				}
			case <-timeout:
				t.Fatalf("%s watch: channel still open 10s after Close", name)
			}
		}
	}
}

func TestAutomaticCompaction(t *testing.T) {
	const history = 10
	kv := open(t, filepath.Join(t.TempDir(), "hub.db"), sqlite.WithHistory(history))
	first := put(t, kv, "/k", "0")
	var last int64
	for i := range 3 * history {
		last = put(t, kv, "/k", fmt.Sprint(i+1))
	}

	resp := <-kv.Watch(t.Context(), "/", first)
	if !resp.Compacted {
		t.Errorf("watch from the first revision: %+v, want Compacted", resp)
	}
	oldest := last - history + 1
	got := collect(t, kv.Watch(t.Context(), "/", oldest), history)
	if got[0].Revision != oldest || got[history-1].Revision != last {
		t.Errorf("watch from %d replayed %d..%d, want %d..%d", oldest, got[0].Revision, got[history-1].Revision, oldest, last)
	}
}

func TestCompactFutureRevision(t *testing.T) {
	kv := open(t, filepath.Join(t.TempDir(), "hub.db"))
	rev := put(t, kv, "/a", "1")
	err := kv.Compact(t.Context(), rev+1)
	if code := obhub.ErrorCode(err); code != obhub.EINVALID {
		t.Errorf("Compact(%d) at revision %d: %v (code %q), want code %q", rev+1, rev, err, code, obhub.EINVALID)
	}
	if err := kv.Compact(t.Context(), rev); err != nil {
		t.Errorf("Compact(current): %v", err)
	}
	if err := kv.Compact(t.Context(), rev-1); err != nil {
		t.Errorf("Compact(older than the last compaction): %v", err)
	}
}

// TestWatchReplaysInBatches replays more history than one read of the log
// holds, by count and by size, and checks nothing is lost at the seams.
func TestWatchReplaysInBatches(t *testing.T) {
	tests := []struct {
		name  string
		txns  int
		value int
	}{
		{"many revisions", 300, 10},
		{"large values", 4, 3 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kv := open(t, filepath.Join(t.TempDir(), "hub.db"))
			value := bytes.Repeat([]byte("v"), tt.value)
			var revs []int64
			for i := range tt.txns {
				rev, err := kv.Txn(t.Context(),
					config.Put(fmt.Sprintf("/w/%04d/a", i), value, config.Any),
					config.Put(fmt.Sprintf("/w/%04d/b", i), value, config.Any))
				if err != nil {
					t.Fatal(err)
				}
				revs = append(revs, rev)
			}
			got := collect(t, kv.Watch(t.Context(), "/w/", revs[0]), tt.txns)
			for i, resp := range got {
				if resp.Revision != revs[i] || len(resp.Events) != 2 ||
					resp.Events[1].KV.Key != fmt.Sprintf("/w/%04d/b", i) || len(resp.Events[1].KV.Value) != tt.value {
					t.Fatalf("response %d: revision %d with %d events, want revision %d with /w/%04d/a and b", i, resp.Revision, len(resp.Events), revs[i], i)
				}
			}
		})
	}
}

func BenchmarkPut(b *testing.B) {
	kv := open(b, filepath.Join(b.TempDir(), "hub.db"))
	value := bytes.Repeat([]byte("x"), 1024)
	for i := 0; b.Loop(); i++ {
		if _, err := kv.Txn(b.Context(), config.Put(fmt.Sprintf("/bench/%06d", i%1000), value, config.Any)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkList(b *testing.B) {
	kv := open(b, filepath.Join(b.TempDir(), "hub.db"))
	value := bytes.Repeat([]byte("x"), 1024)
	for i := range 10 {
		ops := make([]config.Op, 100)
		for j := range ops {
			ops[j] = config.Put(fmt.Sprintf("/bench/%d/%03d", i, j), value, config.Any)
		}
		if _, err := kv.Txn(b.Context(), ops...); err != nil {
			b.Fatal(err)
		}
	}
	for _, prefix := range []string{"/bench/3/", "/bench/"} {
		b.Run(prefix, func(b *testing.B) {
			for b.Loop() {
				if _, err := kv.List(b.Context(), prefix); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
