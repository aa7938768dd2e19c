package sqlite

import (
	"context"
	"encoding/binary"
	"io"
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
	for range 3000 {
		for i := range recs {
			seq++
			recs[i].Seq, recs[i].Time = seq, audittest.Base.Add(time.Duration(seq)*time.Millisecond)
			recs[i].Digest, recs[i].Hash = make([]byte, 32), make([]byte, 32)
		}
		if err := s.AppendBuffered(ctx, recs); err != nil {
			t.Fatal(err)
		}
	}
	// SQLite counts in the log's header how many times the log started
	// over (its checkpoint sequence number, bytes 12–15). The checkpointer
	// runs beside the writer on its own timer, so how large the log gets
	// between two restarts depends on how busy the machine is; that it
	// starts over does not. Without restartLog it never does: the log
	// holds every frame ever appended (over 400 MB here).
	hdr := make([]byte, 32)
	f, err := os.Open(s.abs + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadFull(f, hdr)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if restarts := binary.BigEndian.Uint32(hdr[12:16]); restarts < 2 {
		fi, _ := os.Stat(s.abs + "-wal")
		t.Errorf("the log started over %d times in 3000 appends, want several (its file is %d bytes)", restarts, fi.Size())
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := s.rdb.QueryRowContext(ctx, "SELECT sum(last_seq - first_seq + 1) FROM audit_blocks").Scan(&n); err != nil || n != seq {
		t.Fatalf("%d records stored (%v), want %d", n, err, seq)
	}
}
