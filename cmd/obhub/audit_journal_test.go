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
	ctx := context.Background()
	s := sqlite.NewAudit(filepath.Join(data, auditFile))
	if err := s.Open(ctx); err != nil {
		t.Fatal(err)
	}
	j, err := audit.NewJournal(s, audit.JournalConfig{Path: filepath.Join(data, auditJournal)})
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
			// The CLI, reading the stopped node's audit.db, says what it
			// does not see.
			var out, errOut strings.Builder
			if code := run(context.Background(), []string{"audit", "verify", "--data", data}, &out, &errOut, noEnv); code != 0 ||
				!strings.Contains(errOut.String(), "note: 20 more records are in the journal") {
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
