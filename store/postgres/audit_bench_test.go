package postgres_test

import (
	"fmt"
	"testing"

	"github.com/obhub/obhub/audit/audittest"
	"github.com/obhub/obhub/store/postgres/pgtest"
)

// BenchmarkAppend measures the PostgreSQL store's side of a group commit
// (audittest.BenchAppend) for the group sizes strict mode makes (8) and
// async mode makes (256).
//
//	go test ./store/postgres -run XXX -bench Append
func BenchmarkAppend(b *testing.B) {
	for _, batch := range []int{8, 256} {
		b.Run(fmt.Sprint(batch), func(b *testing.B) {
			audittest.BenchAppend(b, pgtest.Open(b).Audit("bench"), batch)
		})
	}
}
