package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/obhub/obhub/audit"
	"github.com/obhub/obhub/audit/audittest"
	"github.com/obhub/obhub/store/sqlite"
)

// BenchmarkWriter measures what recording costs a request: in strict mode
// Write waits for the group commit (an fsync shared by every record of the
// batch); in async mode it only queues. Run in parallel, as requests are.
//
//	go test ./store/sqlite -run XXX -bench Writer -benchtime 20000x
func BenchmarkWriter(b *testing.B) {
	for _, mode := range []audit.Mode{audit.Strict, audit.Async} {
		b.Run(string(mode), func(b *testing.B) {
			s := sqlite.NewAudit(filepath.Join(b.TempDir(), "audit.db"))
			if err := s.Open(context.Background()); err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			w, err := audit.NewWriter(s, audit.WriterConfig{Mode: mode, Queue: 1 << 20})
			if err != nil {
				b.Fatal(err)
			}
			if err := w.Start(context.Background()); err != nil {
				b.Fatal(err)
			}
			recs := audittest.Generate(1024, audittest.Base)
			b.SetParallelism(16) // 16 × GOMAXPROCS concurrent requests
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					_ = w.Write(recs[i%len(recs)])
					i++
				}
			})
			b.StopTimer()
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
			st := w.Stats()
			if st.Batches > 0 {
				b.ReportMetric(float64(st.Written)/float64(st.Batches), "records/commit")
			}
			b.ReportMetric(float64(st.Dropped), "dropped")
		})
	}
}

// BenchmarkAppend measures the store's side of a group commit: appending
// a batch of 256 chained records in one transaction, without the flush
// (AppendBuffered), per record (audittest.BenchAppend).
func BenchmarkAppend(b *testing.B) {
	s := sqlite.NewAudit(filepath.Join(b.TempDir(), "audit.db"))
	if err := s.Open(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	audittest.BenchAppend(b, s, 256)
}
