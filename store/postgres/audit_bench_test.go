package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/obhub/obhub/audit/audittest"
	"github.com/obhub/obhub/store/postgres/pgtest"
)

// BenchmarkAppend measures the PostgreSQL store's side of a group commit:
// appending a batch of chained records in one transaction, without the
// flush (AppendBuffered), for the group sizes strict mode makes (8) and
// async mode makes (256); per group and per record.
//
//	go test ./store/postgres -run XXX -bench Append
func BenchmarkAppend(b *testing.B) {
	for _, batch := range []int{8, 256} {
		b.Run(fmt.Sprint(batch), func(b *testing.B) {
			ctx := context.Background()
			s := pgtest.Open(b).Audit("bench")
			recs := audittest.Generate(batch, audittest.Base)
			for i := range recs {
				recs[i].Digest, recs[i].Hash = make([]byte, 32), make([]byte, 32)
			}
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
		})
	}
}
