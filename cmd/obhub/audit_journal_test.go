package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/obhub/obhub/audit"
	"github.com/obhub/obhub/audit/audittest"
	"github.com/obhub/obhub/store/sqlite"
)

// writeAlone writes n records to the data folder's ledger as a node
// alone does (written or strict mode): through the journal.
func writeAlone(t *testing.T, data string, n int, at time.Time) {
	t.Helper()
	writeAloneSegments(t, data, n, at, 0)
}

// writeAloneSegments is writeAlone with journal files of seg bytes (the
// default when 0): small ones keep only the last records.
func writeAloneSegments(t *testing.T, data string, n int, at time.Time, seg int64) {
	t.Helper()
	ctx := context.Background()
	s := sqlite.NewAudit(filepath.Join(data, auditFile))
	if err := s.Open(ctx); err != nil {
		t.Fatal(err)
	}
	j, err := audit.NewJournal(s, audit.JournalConfig{Path: filepath.Join(data, auditJournal), SegmentSize: seg})
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Open(ctx); err != nil {
		t.Fatal(err)
	}
	audittest.Fill(t, j, nil, audittest.Generate(n, at))
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
}

// copyLedger copies the SQLite ledger's files from one folder to another.
func copyLedger(t *testing.T, from, to string) {
	t.Helper()
	names, _ := filepath.Glob(filepath.Join(to, auditFile+"*"))
	for _, n := range names {
		os.Remove(n)
	}
	names, _ = filepath.Glob(filepath.Join(from, auditFile+"*"))
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, filepath.Base(n)), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// A node ran alone (written or strict mode) and a power cut took SQLite's last
// records (here: its files put back as they were before them), but not
// the journal's. Started again, alone or as a cluster node (--db, where
// the local ledger stays the archive of its time alone), it moves them in.
func TestAuditJournalSettledAtStart(t *testing.T) {
	for _, cluster := range []bool{false, true} {
		name := "alone"
		if cluster {
			name = "joining a cluster"
		}
		t.Run(name, func(t *testing.T) {
			data, before := t.TempDir(), t.TempDir()
			at := time.Now().Add(-2 * time.Hour) // within retention: the node purges at start
			writeAlone(t, data, 50, at)
			copyLedger(t, data, before)
			writeAlone(t, data, 20, at.Add(time.Hour))
			copyLedger(t, before, data)
			if n := len(readLedger(t, data)); n != 50 {
				t.Fatalf("the ledger holds %d records before the start; the test needs the 50 of before", n)
			}
			// The CLI, reading the stopped node's audit.db, verifies what
			// only its journal holds too.
			var out, errOut strings.Builder
			if code := run(context.Background(), []string{"audit", "verify", "--data", data}, &out, &errOut, noEnv); code != 0 ||
				!strings.Contains(out.String(), "ok: 70 records, 20 of them only in the journal") {
				t.Fatalf("audit verify on the stopped node: %d\n%s%s", code, out.String(), errOut.String())
			}
			opts := []mainOption{withData(data)}
			if cluster {
				dsn, _, _ := pgThroughProxy(t)
				opts = append(opts, withDB(dsn))
			}
			m := runMain(t, opts...)
			m.Close()
			recs := readLedger(t, data)
			var alone int
			for _, r := range recs {
				if strings.HasPrefix(r.RequestID, "req-") {
					alone++
				}
			}
			if alone != 70 {
				t.Fatalf("the local ledger holds %d of the 70 records written alone", alone)
			}
			res, err := audit.Verify(context.Background(), mustOpenLedger(t, data), audit.VerifyOptions{})
			if err != nil || !res.OK {
				t.Fatalf("verify after the start: %+v, %v", res, err)
			}
			out.Reset()
			errOut.Reset()
			if code := run(context.Background(), []string{"audit", "export", "--data", data}, &out, &errOut, noEnv); code != 0 || strings.Contains(errOut.String(), "note:") {
				t.Fatalf("audit export after the start: %d\n%s", code, errOut.String())
			}
		})
	}
}

func mustOpenLedger(t *testing.T, data string) audit.Store {
	t.Helper()
	s, err := openLedger(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// audit verify on a stopped node's data folder whose audit.db lacks its
// last records reads them from the journal: they must continue the chain
// of audit.db's last record, with no gap between the two.
func TestAuditVerifyReadsJournal(t *testing.T) {
	at := time.Now().Add(-2 * time.Hour)
	// cut leaves a data folder whose journal holds `total` records and
	// whose audit.db only the first `kept` (its tail cut).
	cut := func(t *testing.T, kept, total int, seg int64) string {
		data, before := t.TempDir(), t.TempDir()
		writeAloneSegments(t, data, kept, at, seg)
		copyLedger(t, data, before)
		writeAloneSegments(t, data, total-kept, at.Add(time.Minute), seg)
		copyLedger(t, before, data)
		return data
	}
	tests := []struct {
		name     string
		data     func(t *testing.T) string
		wantCode int
		want     string
	}{
		{"the journal continues the chain", func(t *testing.T) string { return cut(t, 61, 94, 0) },
			0, "ok: 94 records, 33 of them only in the journal"},
		{"the journal is another ledger's", func(t *testing.T) string {
			data, other := cut(t, 61, 94, 0), t.TempDir()
			writeAlone(t, other, 61, at.Add(-time.Minute)) // other records, same numbers
			copyLedger(t, other, data)
			return data
		}, 1, "BAD: record 62 (request req-"},
		{"the journal does not cover the cut", func(t *testing.T) string { return cut(t, 40, 300, 4096) },
			1, "are in neither the ledger nor the journal (the ledger's tail was cut)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := tt.data(t)
			code, stdout, stderr := runCLI(t, nil, "audit", "verify", "--data", data)
			if code != tt.wantCode || !strings.Contains(stdout, tt.want) {
				t.Fatalf("exit status %d, want %d; stdout lacks %q?\n%s%s", code, tt.wantCode, tt.want, stdout, stderr)
			}
			if code != 0 && !strings.Contains(stdout, "in the journal only") {
				t.Errorf("the bad record is not said to be in the journal only:\n%s", stdout)
			}
		})
	}
}

// Without keys/, verify warns about the file docs/audit.md tells users to
// copy beside audit.db: the checkpoints' public key.
func TestAuditVerifyNamesPublicKey(t *testing.T) {
	data := t.TempDir()
	writeAlone(t, data, 3, time.Now().Add(-time.Hour))
	code, stdout, stderr := runCLI(t, nil, "audit", "verify", "--data", data)
	if code != 0 || !strings.Contains(stderr, "audit-checkpoint.pub") || strings.Contains(stderr, "audit-checkpoint.key") {
		t.Fatalf("exit status %d\n%s%s", code, stdout, stderr)
	}
}
