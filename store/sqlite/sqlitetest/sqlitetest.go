// Package sqlitetest helps tests of the SQLite stores do what an intruder
// with write access to the files would: edit the audit ledger in place.
package sqlitetest

import (
	"bytes"
	"database/sql"
	"testing"

	_ "modernc.org/sqlite" // the driver the stores use

	"github.com/obhub/obhub/audit"
)

// EditAuditLedger rewrites the closed audit ledger at path: every record,
// in stored order, goes through edit, and what edit returns is stored
// back in blocks of 50, keys left as they were. Verify then judges the
// result.
func EditAuditLedger(t testing.TB, path string, edit func([]audit.Record) []audit.Record) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT records FROM audit_blocks ORDER BY first_seq")
	if err != nil {
		t.Fatal(err)
	}
	var recs []audit.Record
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			t.Fatal(err)
		}
		if err := audit.DecodeStored(data, func(r *audit.Record) error {
			c := *r
			c.Digest, c.Hash = bytes.Clone(r.Digest), bytes.Clone(r.Hash)
			recs = append(recs, c)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	recs = edit(recs)
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec("DELETE FROM audit_blocks"); err != nil {
		t.Fatal(err)
	}
	for len(recs) > 0 {
		n := min(50, len(recs))
		block := recs[:n]
		recs = recs[n:]
		var data []byte
		minT, maxT := block[0].Time.UnixNano(), block[0].Time.UnixNano()
		for i := range block {
			data = audit.AppendStored(data, &block[i])
			minT, maxT = min(minT, block[i].Time.UnixNano()), max(maxT, block[i].Time.UnixNano())
		}
		last := block[n-1]
		if _, err := tx.Exec("INSERT INTO audit_blocks (first_seq, last_seq, min_time, max_time, last_hash, records) VALUES (?,?,?,?,?,?)",
			block[0].Seq, last.Seq, minT, maxT, last.Hash, data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}
