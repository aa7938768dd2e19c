package audittest

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/obhub/obhub/audit"
)

// BenchAppend measures a store's side of a group commit: appending
// batches of batch chained records, each in one transaction, without the
// flush (AppendBuffered). It reports the time per record too. Each
// record gets the time of its append and a fresh request id made at that
// time, as the gateway writes them (UUIDv7, internal/requestid), so that
// a store's keys are what they are in production.
func BenchAppend(b *testing.B, s audit.BufferedAppender, batch int) {
	ctx := context.Background()
	recs := Generate(batch, Base)
	for i := range recs {
		recs[i].Digest, recs[i].Hash = make([]byte, 32), make([]byte, 32)
	}
	b.ReportAllocs()
	seq := int64(0)
	for b.Loop() {
		for i := range recs {
			seq++
			recs[i].Seq = seq
			recs[i].Time = time.Now()
			recs[i].RequestID = uuid.Must(uuid.NewV7()).String()
		}
		if err := s.AppendBuffered(ctx, recs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/record")
}
