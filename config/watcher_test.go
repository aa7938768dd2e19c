package config_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/obhub/obhub/catalog"
	"github.com/obhub/obhub/config"
	"github.com/obhub/obhub/partners"
	"github.com/obhub/obhub/store/sqlite"
)

// The watcher is tested over the real single-node store (store/sqlite),
// the KV every obhub node runs on by default.

// watchTimeout bounds every wait of these tests; nothing should come near it.
const watchTimeout = 10 * time.Second

// openSQLite opens a real SQLite KV in a temporary folder, closed at the
// end of the test.
func openSQLite(tb testing.TB) *sqlite.KV {
	tb.Helper()
	kv := sqlite.New(filepath.Join(tb.TempDir(), "obhub.db"))
	if err := kv.Open(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { kv.Close() })
	return kv
}

// runWatcher starts w.Run and stops it (and waits for it) at the end of
// the test.
func runWatcher(tb testing.TB, w *config.Watcher) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != context.Canceled {
			tb.Errorf("Run returned %v, want context.Canceled", err)
		}
	})
}

// waitFor waits until the watcher's snapshot reflects revision rev.
func waitFor(tb testing.TB, w *config.Watcher, rev int64) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), watchTimeout)
	defer cancel()
	if err := w.WaitFor(ctx, rev); err != nil {
		tb.Fatalf("the snapshot did not reach revision %d (it is at %d): %v", rev, w.Revision(), err)
	}
}

func bankJSON(tb testing.TB, id, name string) []byte {
	tb.Helper()
	b, err := json.Marshal(catalog.Bank{ID: id, Name: name})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// putBank writes a bank straight into the KV and returns the revision.
func putBank(tb testing.TB, kv config.KV, id, name string) int64 {
	tb.Helper()
	rev, err := kv.Txn(context.Background(), config.Put(config.BanksPrefix+id, bankJSON(tb, id, name), config.Any))
	if err != nil {
		tb.Fatal(err)
	}
	return rev
}

func deleteKey(tb testing.TB, kv config.KV, key string) int64 {
	tb.Helper()
	rev, err := kv.Txn(context.Background(), config.Delete(key, config.Any))
	if err != nil {
		tb.Fatal(err)
	}
	return rev
}

// bankIDs returns the ids of the snapshot's banks, sorted.
func bankIDs(s *config.Snapshot) []string {
	var ids []string
	for _, b := range s.Catalog.Banks() {
		ids = append(ids, b.ID)
	}
	slices.Sort(ids)
	return ids
}

func wantBanks(tb testing.TB, s *config.Snapshot, want ...string) {
	tb.Helper()
	if s == nil {
		tb.Fatal("no snapshot published")
	}
	if got := bankIDs(s); !slices.Equal(got, want) {
		tb.Fatalf("snapshot at revision %d has banks %q, want %q", s.Revision, got, want)
	}
}

func TestWatcherLoadPublishesSnapshot(t *testing.T) {
	kv := openSQLite(t)
	putBank(t, kv, "alpha", "Alpha Rural Bank")
	rev := putBank(t, kv, "beta", "Beta Village Bank")
	// Keys outside the configuration prefix are not part of a snapshot.
	if _, err := kv.Txn(context.Background(), config.Put(config.SpecPrefix+"x", []byte("gz"), config.Any)); err != nil {
		t.Fatal(err)
	}
	rev++

	var h config.Holder
	if h.Current() != nil {
		t.Fatal("the zero Holder has a snapshot")
	}
	w := config.NewWatcher(kv, &h, nil)
	if err := w.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := h.Current()
	wantBanks(t, s, "alpha", "beta")
	if s.Revision != rev || w.Revision() != rev {
		t.Errorf("snapshot revision %d, watcher revision %d; want the store revision %d", s.Revision, w.Revision(), rev)
	}
	if b, ok := s.Catalog.Bank("alpha"); !ok || b.Name != "Alpha Rural Bank" {
		t.Errorf("bank alpha = %+v, %v", b, ok)
	}
	if s.Directory == nil || s.Directory.Len() != 0 {
		t.Errorf("directory = %+v, want an empty one", s.Directory)
	}
}

func TestWatcherFollowsPutsAndDeletes(t *testing.T) {
	kv := openSQLite(t)
	var h config.Holder
	w := config.NewWatcher(kv, &h, nil)
	if err := w.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantBanks(t, h.Current())
	runWatcher(t, w)

	t.Run("a put becomes visible", func(t *testing.T) {
		rev := putBank(t, kv, "alpha", "Alpha")
		waitFor(t, w, rev)
		wantBanks(t, h.Current(), "alpha")
		if h.Current().Revision < rev {
			t.Errorf("snapshot revision %d < %d", h.Current().Revision, rev)
		}
	})
	t.Run("an update replaces the object", func(t *testing.T) {
		rev := putBank(t, kv, "alpha", "Alpha, renamed")
		waitFor(t, w, rev)
		if b, _ := h.Current().Catalog.Bank("alpha"); b == nil || b.Name != "Alpha, renamed" {
			t.Errorf("bank alpha = %+v, want the new name", b)
		}
	})
	t.Run("a delete disappears", func(t *testing.T) {
		putBank(t, kv, "beta", "Beta")
		rev := deleteKey(t, kv, config.BanksPrefix+"alpha")
		waitFor(t, w, rev)
		wantBanks(t, h.Current(), "beta")
	})
	t.Run("writes outside the configuration advance the revision", func(t *testing.T) {
		before := h.Current()
		rev, err := kv.Txn(context.Background(), config.Put(config.AdminTokenKey, []byte("00"), config.Any))
		if err != nil {
			t.Fatal(err)
		}
		// WaitFor must not hang on a revision that holds no configuration.
		waitFor(t, w, rev)
		if h.Current() != before {
			t.Errorf("a write outside %s swapped the snapshot", config.ConfigPrefix)
		}
	})
	t.Run("Changed is closed at the next swap", func(t *testing.T) {
		ch := w.Changed()
		select {
		case <-ch:
			t.Fatal("Changed is closed before any change")
		default:
		}
		putBank(t, kv, "gamma", "Gamma")
		select {
		case <-ch:
		case <-time.After(watchTimeout):
			t.Fatal("Changed was not closed after a write")
		}
	})
}

func TestWatcherLeavesOutUndecodableObjects(t *testing.T) {
	kv := openSQLite(t)
	ctx := context.Background()
	putBank(t, kv, "alpha", "Alpha")
	if _, err := kv.Txn(ctx,
		config.Put(config.BanksPrefix+"broken", []byte(`{"id": "broken", "name": `), config.Any),
		config.Put(config.PartnersPrefix+"acme", []byte(`{"id": "acme", "kind": 42}`), config.Any),
		// A key of a newer obhub version: ignored, not an error.
		config.Put(config.ConfigPrefix+"future/x", []byte(`anything`), config.Any),
	); err != nil {
		t.Fatal(err)
	}
	putBank(t, kv, "beta", "Beta")

	var h config.Holder
	w := config.NewWatcher(kv, &h, nil)
	if err := w.Load(ctx); err != nil {
		t.Fatalf("one bad key took the whole configuration down: %v", err)
	}
	wantBanks(t, h.Current(), "alpha", "beta")
	if _, ok := h.Current().Directory.Partner("acme"); ok {
		t.Error("the undecodable partner is in the snapshot")
	}

	runWatcher(t, w)
	t.Run("a value that turns bad while watching is left out", func(t *testing.T) {
		rev, err := kv.Txn(ctx, config.Put(config.BanksPrefix+"alpha", []byte(`[1, 2]`), config.Any))
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, w, rev)
		wantBanks(t, h.Current(), "beta")
	})
	t.Run("and comes back once fixed", func(t *testing.T) {
		rev := putBank(t, kv, "alpha", "Alpha again")
		waitFor(t, w, rev)
		wantBanks(t, h.Current(), "alpha", "beta")
	})
	t.Run("fixing the bad key of the first listing", func(t *testing.T) {
		rev := putBank(t, kv, "broken", "Mended")
		waitFor(t, w, rev)
		wantBanks(t, h.Current(), "alpha", "beta", "broken")
	})
}

func TestWatcherRelistsAfterCompaction(t *testing.T) {
	kv := openSQLite(t)
	ctx := context.Background()
	putBank(t, kv, "alpha", "Alpha")
	var h config.Holder
	w := config.NewWatcher(kv, &h, nil)
	if err := w.Load(ctx); err != nil {
		t.Fatal(err)
	}
	loaded := w.Revision()

	// While the watcher is stopped, the store moves on and forgets the
	// history the watcher would need to replay.
	putBank(t, kv, "beta", "Beta")
	deleteKey(t, kv, config.BanksPrefix+"alpha")
	putBank(t, kv, "gamma", "Gamma")
	rev := putBank(t, kv, "delta", "Delta")
	if err := kv.Compact(ctx, rev); err != nil {
		t.Fatal(err)
	}
	// The history really is gone for the watcher's revision.
	probeCtx, cancel := context.WithCancel(ctx)
	resp := <-kv.Watch(probeCtx, config.Root, loaded+1)
	cancel()
	if !resp.Compacted {
		t.Fatalf("a watch from revision %d after compaction to %d got %+v, want Compacted", loaded+1, rev, resp)
	}
	wantBanks(t, h.Current(), "alpha") // still the last known configuration

	runWatcher(t, w)
	waitFor(t, w, rev)
	s := h.Current()
	wantBanks(t, s, "beta", "delta", "gamma")
	if s.Revision != rev {
		t.Errorf("snapshot revision %d, want %d", s.Revision, rev)
	}

	// And it goes on following from there.
	rev = putBank(t, kv, "epsilon", "Epsilon")
	waitFor(t, w, rev)
	wantBanks(t, h.Current(), "beta", "delta", "epsilon", "gamma")
}

func TestSyncKVTxnReturnsOnceTheSnapshotHasTheChange(t *testing.T) {
	kv := openSQLite(t)
	ctx := context.Background()
	var h config.Holder
	w := config.NewWatcher(kv, &h, nil)
	if err := w.Load(ctx); err != nil {
		t.Fatal(err)
	}
	runWatcher(t, w)
	// MaxWait far above any real delay: if Txn ever returned before the
	// snapshot caught up, the check below would see the old snapshot.
	skv := config.SyncKV{KV: kv, Watcher: w, MaxWait: time.Minute}

	var ids []string
	for i := range 30 {
		id := fmt.Sprintf("bank-%02d", i)
		rev, err := skv.Txn(ctx, config.Put(config.BanksPrefix+id, bankJSON(t, id, "Bank "+id), config.Absent))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		s := h.Current()
		if s.Revision < rev {
			t.Fatalf("Txn of revision %d returned while the snapshot is at %d", rev, s.Revision)
		}
		wantBanks(t, s, ids...)
	}

	// A delete is seen at once as well.
	rev, err := skv.Txn(ctx, config.Delete(config.BanksPrefix+ids[0], config.Any))
	if err != nil {
		t.Fatal(err)
	}
	if s := h.Current(); s.Revision < rev {
		t.Fatalf("delete of revision %d returned while the snapshot is at %d", rev, s.Revision)
	}
	wantBanks(t, h.Current(), ids[1:]...)

	// A Txn that changes nothing makes no revision and must not wait.
	start := time.Now()
	if _, err := skv.Txn(ctx, config.Delete(config.BanksPrefix+"missing", config.Any)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a no-op Txn took %s", d)
	}

	// A failed expectation is returned as it is, without waiting.
	if _, err := skv.Txn(ctx, config.Put(config.BanksPrefix+ids[1], bankJSON(t, ids[1], "x"), config.Absent)); err == nil {
		t.Error("a create of an existing key succeeded")
	}
}

// TestSnapshotsConsistentUnderSwaps reads the holder from many goroutines
// while a writer adds one bank per revision: every snapshot any reader
// sees must hold exactly the banks written up to its revision, never a
// mix of two revisions.
func TestSnapshotsConsistentUnderSwaps(t *testing.T) {
	kv := openSQLite(t)
	ctx := context.Background()
	var h config.Holder
	w := config.NewWatcher(kv, &h, nil)
	if err := w.Load(ctx); err != nil {
		t.Fatal(err)
	}
	base := h.Current().Revision
	runWatcher(t, w)

	const writes = 100
	const readers = 4
	stop := make(chan struct{})
	var (
		wg       sync.WaitGroup
		reads    atomic.Int64
		distinct atomic.Int64
		mu       sync.Mutex
		problems []string
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(problems) < 10 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	for range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var last *config.Snapshot
			for {
				select {
				case <-stop:
					return
				default:
				}
				s := h.Current()
				reads.Add(1)
				if s == last {
					runtime.Gosched() // leave the writer and the watcher room on small machines
					continue
				}
				distinct.Add(1)
				if last != nil && s.Revision < last.Revision {
					fail("the revision went back from %d to %d", last.Revision, s.Revision)
				}
				last = s
				// Every revision after base added bank-<n> with n = revision-base.
				n := int(s.Revision - base)
				banks := s.Catalog.Banks()
				if len(banks) != n {
					fail("snapshot at revision %d has %d banks, want %d", s.Revision, len(banks), n)
					continue
				}
				for i := 1; i <= n; i++ {
					id := fmt.Sprintf("bank-%04d", i)
					if b, ok := s.Catalog.Bank(id); !ok || b.Name != "Bank "+id {
						fail("snapshot at revision %d lacks %s", s.Revision, id)
						break
					}
				}
			}
		}()
	}

	var last int64
	for i := 1; i <= writes; i++ {
		id := fmt.Sprintf("bank-%04d", i)
		rev, err := kv.Txn(ctx, config.Put(config.BanksPrefix+id, bankJSON(t, id, "Bank "+id), config.Absent))
		if err != nil {
			close(stop)
			wg.Wait()
			t.Fatal(err)
		}
		if rev != base+int64(i) {
			close(stop)
			wg.Wait()
			t.Fatalf("write %d made revision %d, want %d: the test's premise is off", i, rev, base+int64(i))
		}
		last = rev
	}
	waitFor(t, w, last)
	close(stop)
	wg.Wait()
	for _, p := range problems {
		t.Error(p)
	}
	if got := len(h.Current().Catalog.Banks()); got != writes {
		t.Errorf("final snapshot has %d banks, want %d", got, writes)
	}
	t.Logf("%d reads saw %d distinct snapshots", reads.Load(), distinct.Load())
}

// TestWatcherSnapshotsHoldEveryKind checks that each kind of object under
// its prefix lands in the right part of the snapshot.
func TestWatcherSnapshotsHoldEveryKind(t *testing.T) {
	kv := openSQLite(t)
	ctx := context.Background()
	enc := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	api := catalog.API{ID: "alpha-accounts", Bank: "alpha", Name: "Accounts", BasePath: "/v1", Upstream: "http://10.0.0.1",
		Visibility: catalog.VisibilityPublic, Status: catalog.StatusPublished,
		Operations: []catalog.Operation{{ID: "list", Method: "GET", Path: "/accounts"}}}
	rev, err := kv.Txn(ctx,
		config.Put(config.BanksPrefix+"alpha", bankJSON(t, "alpha", "Alpha"), config.Any),
		config.Put(config.APIsPrefix+api.ID, enc(api), config.Any),
		config.Put(config.ProductsPrefix+"open", enc(catalog.Product{ID: "open", Name: "Open", APIs: []string{api.ID}, Approval: catalog.ApprovalAuto}), config.Any),
		config.Put(config.PartnersPrefix+"acme", enc(partners.Partner{ID: "acme", Name: "Acme", Kind: partners.KindFintech, Status: partners.PartnerApproved}), config.Any),
		config.Put(config.AppsPrefix+"c1", enc(partners.App{ClientID: "c1", Partner: "acme", Name: "web", Environment: partners.Production}), config.Any),
		config.Put(config.SubscriptionsPrefix+"c1/open", enc(partners.Subscription{ClientID: "c1", Product: "open", Status: partners.SubscriptionActive}), config.Any),
	)
	if err != nil {
		t.Fatal(err)
	}
	var h config.Holder
	w := config.NewWatcher(kv, &h, nil)
	if err := w.Load(ctx); err != nil {
		t.Fatal(err)
	}
	runWatcher(t, w)
	waitFor(t, w, rev)
	s := h.Current()
	if _, ok := s.Catalog.API(api.ID); !ok {
		t.Error("API missing")
	}
	if _, ok := s.Catalog.Product("open"); !ok {
		t.Error("product missing")
	}
	if _, ok := s.Directory.App("c1"); !ok {
		t.Error("app missing")
	}
	if p, ok := s.Directory.Grant("c1", api.ID); !ok || p != "open" {
		t.Errorf("grant = %q, %v; want the subscription to product open", p, ok)
	}
	m, err := s.Catalog.Route("alpha", "/v1/accounts", "GET")
	if err != nil || m.API.ID != api.ID {
		t.Errorf("route = %+v, %v", m, err)
	}

	// Removing the subscription through the watch removes the grant.
	rev = deleteKey(t, kv, config.SubscriptionsPrefix+"c1/open")
	waitFor(t, w, rev)
	if _, ok := h.Current().Directory.Grant("c1", api.ID); ok {
		t.Error("the deleted subscription still grants access")
	}
}
