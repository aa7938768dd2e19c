package audit_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/obhub/obhub/audit"
	"github.com/obhub/obhub/audit/audittest"
	"github.com/obhub/obhub/store/sqlite"
)

// The journal in front of SQLite is a ledger like any other.
func TestJournalConformance(t *testing.T) {
	audittest.Run(t, func(t testing.TB) audit.Store {
		dir := t.TempDir()
		s := openSQLite(t, dir)
		j := openJournal(t, s, audit.JournalConfig{Path: filepath.Join(dir, "audit.journal")})
		t.Cleanup(func() { j.Close() })
		return j
	})
}

func openSQLite(t testing.TB, dir string) *refusing {
	t.Helper()
	s := sqlite.NewAudit(filepath.Join(dir, "audit.db"))
	if err := s.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	return &refusing{AuditStore: s}
}

func openJournal(t testing.TB, s audit.JournalStore, cfg audit.JournalConfig) *audit.Journal {
	t.Helper()
	j, err := audit.NewJournal(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	return j
}

// refusing is the SQLite ledger, made to stop taking records on demand:
// what a full disk or a damaged database file does.
type refusing struct {
	*sqlite.AuditStore
	refuse atomic.Bool
}

var errRefused = errors.New("disk full (test)")

func (s *refusing) AppendBuffered(ctx context.Context, recs []audit.Record) error {
	if s.refuse.Load() {
		return errRefused
	}
	return s.AuditStore.AppendBuffered(ctx, recs)
}

func (s *refusing) Append(ctx context.Context, recs []audit.Record) error {
	if err := s.AppendBuffered(ctx, recs); err != nil {
		return err
	}
	return s.Sync(ctx)
}

// strictWriter starts a strict writer on s that signs checkpoints every
// 50 records.
func strictWriter(t *testing.T, s audit.Store, signer *audit.Signer) *audit.Writer {
	t.Helper()
	w, err := audit.NewWriter(s, audit.WriterConfig{Mode: audit.Strict, Signer: signer, CheckpointEvery: 50})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return w
}

func verify(t *testing.T, s audit.Store, keys *audit.KeyRing, records int64) {
	t.Helper()
	res, err := audit.Verify(context.Background(), s, audit.VerifyOptions{Keys: keys})
	if err != nil || !res.OK || res.Records != records || res.Checkpoints == 0 {
		t.Fatalf("Verify = %+v, %v; want OK with %d records and checkpoints", res, err, records)
	}
}

// lacking leaves in dir a ledger that lacks records its journal holds:
// the state of a node stopped while SQLite was not taking records (or
// killed before SQLite had them). Before that, records turned the
// journal's small files over many times, so both files hold frames left
// from earlier turns. It returns the journal's configuration, how many
// records strict Writes acknowledged, and the checkpoints' signer.
func lacking(t *testing.T, dir string) (audit.JournalConfig, int64, *audit.Signer) {
	t.Helper()
	ctx := context.Background()
	signer := audittest.NewSigner(t)
	cfg := audit.JournalConfig{Path: filepath.Join(dir, "audit.journal"), SegmentSize: 8 << 10, StoreWait: 100 * time.Millisecond}
	s := openSQLite(t, dir)
	j := openJournal(t, s, cfg)
	w := strictWriter(t, j, signer)
	recs := audittest.Generate(400, audittest.Base)
	for i := range recs[:300] {
		if err := w.Write(recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Ping(ctx); err != nil {
		t.Fatalf("Ping with a working ledger: %v", err)
	}

	// The ledger holds those 300 before it stops taking records (a read
	// waits for it): else the first turn of the files could find records
	// of the other file still on their way, and the test would measure
	// that race instead of the journal's room.
	if err := j.Scan(ctx, 300, func(*audit.Record) error { return nil }); err != nil {
		t.Fatal(err)
	}
	// The ledger stops taking records: strict Writes still return, for as
	// long as the journal holds them.
	s.refuse.Store(true)
	acknowledged := int64(300)
	for i := range recs[300:] {
		if err := w.Write(recs[300+i]); err != nil {
			break
		}
		acknowledged++
	}
	if acknowledged < 310 || acknowledged == 400 {
		t.Fatalf("%d records acknowledged with the ledger refusing; want the journal to hold some, and no more than its two files", acknowledged)
	}
	if err := j.Ping(ctx); err == nil || !strings.Contains(err.Error(), "not taking records") {
		t.Fatalf("Ping with the ledger refusing = %v; want it to say so", err)
	}
	w.Close()
	j.Close() // the journal gives up on the ledger

	ro := sqlite.NewAudit(filepath.Join(dir, "audit.db"), sqlite.ReadOnly())
	if err := ro.Open(ctx); err != nil {
		t.Fatal(err)
	}
	h, _ := ro.Head(ctx)
	ro.Close()
	if h.Seq >= acknowledged {
		t.Fatalf("the ledger holds %d records; the test needs it to lack some of the %d", h.Seq, acknowledged)
	}
	return cfg, acknowledged, signer
}

// A record whose Write returned is durable in the journal even when the
// ledger never took it: the next Open moves it in, and the chain
// verifies with its signed checkpoints.
func TestJournalMovesInWhatTheLedgerLacks(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg, acknowledged, signer := lacking(t, dir)
	s := openSQLite(t, dir)
	j := openJournal(t, s, cfg)
	defer j.Close()
	h, err := j.Head(ctx)
	if err != nil || h.Seq != acknowledged {
		t.Fatalf("Head after the restart = %d, %v; want every acknowledged record, %d", h.Seq, err, acknowledged)
	}
	verify(t, j, signer.Public(), acknowledged)
	// And the ledger goes on from there.
	w := strictWriter(t, j, signer)
	if err := w.Write(audittest.Generate(1, audittest.Base)[0]); err != nil {
		t.Fatal(err)
	}
	w.Close()
	verify(t, j, signer.Public(), acknowledged+1)
}

// A node that starts without the journal (async mode, or a cluster node
// keeping its old ledger) still moves in what the journal held.
func TestRecoverJournal(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg, acknowledged, signer := lacking(t, dir)
	s := openSQLite(t, dir)
	defer s.Close()
	if err := audit.RecoverJournal(ctx, s, cfg); err != nil {
		t.Fatal(err)
	}
	verify(t, s, signer.Public(), acknowledged)
	// Again: nothing more to move in.
	if err := audit.RecoverJournal(ctx, s, cfg); err != nil {
		t.Fatal(err)
	}
	verify(t, s, signer.Public(), acknowledged)
	// No journal at all is nothing to do.
	if err := audit.RecoverJournal(ctx, s, audit.JournalConfig{Path: filepath.Join(dir, "none")}); err != nil {
		t.Fatal(err)
	}
}

// A journal whose records do not follow the ledger (the ledger was
// replaced while the node was stopped) is not silently dropped: Open
// refuses, and says what to do.
func TestJournalRefusesALedgerItDoesNotFollow(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := audit.JournalConfig{Path: filepath.Join(dir, "audit.journal"), StoreWait: 100 * time.Millisecond}
	s := openSQLite(t, dir)
	j := openJournal(t, s, cfg)
	w := strictWriter(t, j, audittest.NewSigner(t))
	recs := audittest.Generate(60, audittest.Base)
	for i := range recs[:50] {
		if err := w.Write(recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	s.refuse.Store(true)
	for i := range recs[50:] {
		if err := w.Write(recs[50+i]); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	j.Close()

	// Another ledger in place of the old one: a chain of its own.
	other := t.TempDir()
	s = openSQLite(t, other)
	defer s.Close()
	audittest.Fill(t, s, nil, audittest.Generate(5, audittest.Base.Add(time.Hour)))
	j, err := audit.NewJournal(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = j.Open(ctx)
	if err == nil || !strings.Contains(err.Error(), "does not follow") || !strings.Contains(err.Error(), "move the journal's files aside") {
		t.Fatalf("Open on a ledger the journal does not follow = %v", err)
	}
}

// Reads wait for the ledger to hold what the journal holds: a search made
// right after strict Writes return finds every record, under concurrent
// writes.
func TestJournalReadsSeeEveryAcknowledgedRecord(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openSQLite(t, dir)
	j := openJournal(t, s, audit.JournalConfig{Path: filepath.Join(dir, "audit.journal"), Linger: time.Hour})
	defer j.Close()
	w := strictWriter(t, j, nil)
	defer w.Close()
	recs := audittest.Generate(200, audittest.Base)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < len(recs); i += 4 {
				if err := w.Write(recs[i]); err != nil {
					t.Error(err)
					return
				}
				id := recs[i].RequestID
				found := 0
				if err := j.Find(ctx, audit.Filter{RequestID: id}, func(*audit.Record) error { found++; return nil }); err != nil {
					t.Error(err)
					return
				}
				if found != 1 {
					t.Errorf("record %s found %d times right after its Write returned", id, found)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// aliased returns a string that shares buf's memory, as the strings of
// fiber's net/http adaptor share fasthttp's request buffers.
func aliased(buf []byte) string { return unsafe.String(&buf[0], len(buf)) }

// A strict Write through the journal returns before SQLite has the
// record: what SQLite stores is still the record written, whatever the
// caller does with its buffers afterwards (the next request on the
// connection), and the chain verifies.
func TestJournalKeepsNothingOfTheCallers(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openSQLite(t, dir)
	j := openJournal(t, s, audit.JournalConfig{Path: filepath.Join(dir, "audit.journal"), Linger: time.Hour})
	w := strictWriter(t, j, nil)
	const path = "/qingshan-rcb/accounts/v1/accounts"
	buf := []byte(path)
	if err := w.Write(audit.Record{Time: audittest.Base, Category: audit.CategoryAccess, Method: "GET", Path: aliased(buf), Status: 200}); err != nil {
		t.Fatal(err)
	}
	copy(buf, strings.Repeat("X", len(buf)))
	w.Close()
	j.Close()
	ro := sqlite.NewAudit(filepath.Join(dir, "audit.db"), sqlite.ReadOnly())
	if err := ro.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	var got []string
	ro.Scan(ctx, 1, func(r *audit.Record) error { got = append(got, r.Path); return nil })
	if len(got) != 1 || got[0] != path {
		t.Fatalf("stored paths %q, want [%q]", got, path)
	}
	if res, err := audit.Verify(ctx, ro, audit.VerifyOptions{}); err != nil || !res.OK {
		t.Fatalf("verify: %+v, %v", res, err)
	}
}
