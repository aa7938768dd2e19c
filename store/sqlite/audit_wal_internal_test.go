package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/obhub/obhub/audit/audittest"
)

// Under a steady stream of small appends — a strict node's groups — the
// write-ahead log stays bounded: it grew without end before (1.5 GB in
// half a minute of load), slowing every append.
func TestAuditLogStaysBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("appends a few thousand groups")
	}
	oldFrames, oldEvery := walRestartFrames, checkpointEvery
	walRestartFrames, checkpointEvery = 256, 20*time.Millisecond // 1 MiB
	t.Cleanup(func() { walRestartFrames, checkpointEvery = oldFrames, oldEvery })

	ctx := context.Background()
	s := NewAudit(filepath.Join(t.TempDir(), "audit.db"))
	if err := s.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	recs := audittest.Generate(10, audittest.Base)
	seq := int64(0)
	var largest int64
	for range 3000 {
		for i := range recs {
			seq++
			recs[i].Seq, recs[i].Time = seq, audittest.Base.Add(time.Duration(seq)*time.Millisecond)
			recs[i].Digest, recs[i].Hash = make([]byte, 32), make([]byte, 32)
		}
		if err := s.AppendBuffered(ctx, recs); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(s.abs + "-wal"); err == nil && fi.Size() > largest {
			largest = fi.Size()
		}
	}
	// 3000 groups write ~80 MB of log frames; the log may exceed the
	// threshold (1 MiB here) by what is appended during one of the
	// checkpointer's rounds, its own checkpoint included (~10 MB here).
	if limit := int64(24 << 20); largest > limit {
		t.Errorf("the log grew to %d bytes, want at most %d", largest, limit)
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := s.rdb.QueryRowContext(ctx, "SELECT count(*) FROM audit_records").Scan(&n); err != nil || n != seq {
		t.Fatalf("%d records stored (%v), want %d", n, err, seq)
	}
}
