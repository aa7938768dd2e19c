package main

import (
	"context"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/obhub/obhub/audit"
	"github.com/obhub/obhub/store/postgres"
	"github.com/obhub/obhub/store/sqlite"
)

// auditCommand runs `obhub audit verify|export|report`. Each reads
// <data>/audit.db directly and read-only, so it works beside a running
// node and on a copy of the data folder.
func auditCommand(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, auditUsage)
		return errors.New("audit: name a subcommand: verify, export or report")
	}
	if isHelp(args[0]) {
		fmt.Fprint(stdout, auditUsage)
		return nil
	}
	switch args[0] {
	case "verify":
		return auditVerify(ctx, args[1:], stdout, stderr, getenv)
	case "export":
		return auditExport(ctx, args[1:], stdout, stderr, getenv)
	case "report":
		return auditReport(ctx, args[1:], stdout, stderr, getenv)
	}
	fmt.Fprint(stderr, auditUsage)
	return fmt.Errorf("audit: unknown subcommand %q", args[0])
}

const auditUsage = `Usage:
  obhub audit verify [--data DIR] [--db URL] [--json]
  obhub audit export [--data DIR] [--from T] [--to T] [--bank B] [--partner P] --format csv|jsonl
  obhub audit report [--data DIR] [--from T] [--to T] [--bank B] [--partner P]
                     [--by partner|app|bank|api|day|month] [--statement PARTNER] [--format json|csv|html]
Times are RFC 3339 (2026-03-01T00:00:00Z) or dates (2026-03-01, UTC).
`

// auditFlags are the flags every audit subcommand shares.
type auditFlags struct {
	fs                 *flag.FlagSet
	data, from, to     string
	bank, partner, fmt string
}

func newAuditFlags(name string, stderr io.Writer, getenv func(string) string, format string) *auditFlags {
	a := &auditFlags{fs: flag.NewFlagSet("audit "+name, flag.ContinueOnError)}
	a.fs.SetOutput(stderr)
	data := getenv("OBHUB_DATA")
	if data == "" {
		data = "./obhub-data"
	}
	a.fs.StringVar(&a.data, "data", data, "data folder of the node (env OBHUB_DATA)")
	if name != "verify" {
		a.fs.StringVar(&a.from, "from", "", "first time included (RFC 3339 or YYYY-MM-DD)")
		a.fs.StringVar(&a.to, "to", "", "first time excluded (RFC 3339 or YYYY-MM-DD)")
		a.fs.StringVar(&a.bank, "bank", "", "only this bank's records")
		a.fs.StringVar(&a.partner, "partner", "", "only this partner's records")
		a.fs.StringVar(&a.fmt, "format", format, "output format")
	}
	return a
}

func (a *auditFlags) parse(args []string) error {
	if err := a.fs.Parse(args); err != nil {
		return err
	}
	if a.fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q", a.fs.Name(), a.fs.Arg(0))
	}
	return nil
}

func (a *auditFlags) filter() (audit.Filter, error) {
	f := audit.Filter{Bank: a.bank, Partner: a.partner}
	var err error
	if f.From, err = audit.ParseTime(a.from); err != nil {
		return f, fmt.Errorf("--from: %w", err)
	}
	if f.To, err = audit.ParseTime(a.to); err != nil {
		return f, fmt.Errorf("--to: %w", err)
	}
	audit.MaskFilter(&f)
	return f, nil
}

// openLedger opens the data folder's ledger read-only.
func openLedger(ctx context.Context, data string) (*sqlite.AuditStore, error) {
	s := sqlite.NewAudit(filepath.Join(data, auditFile), sqlite.ReadOnly())
	if err := s.Open(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// noteJournal says on stderr when the journal holds records that
// audit.db, which export reads, does not hold yet: a node killed (or cut
// off) has them there until it starts again. (Verify reads them.)
func noteJournal(ctx context.Context, s audit.Store, data string, stderr io.Writer) {
	h, err := s.Head(ctx)
	if err != nil {
		return
	}
	if n, err := audit.JournalAhead(filepath.Join(data, auditJournal), h); err == nil && n > 0 {
		fmt.Fprintf(stderr, "note: %d more records are in the journal (%s.0 and .1) and not in %s yet: a running node moves them in within milliseconds, a stopped one when it starts; they are not read here\n", n, auditJournal, auditFile)
	}
}

func auditVerify(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	a := newAuditFlags("verify", stderr, getenv, "")
	asJSON := a.fs.Bool("json", false, "print the result as JSON")
	db := a.fs.String("db", getenv("OBHUB_DB"), "a cluster's PostgreSQL ledger (postgres:// URL; env OBHUB_DB): verify every node's chain there instead of --data's audit.db")
	if err := a.parse(args); err != nil {
		return err
	}
	keys, kerr := audit.LoadKeyRing(filepath.Join(a.data, "keys"))
	if kerr != nil {
		fmt.Fprintf(stderr, "warning: no checkpoint public key (%v): a cut tail or a rebuilt chain cannot be detected\n", kerr)
		keys = nil
	}
	if *db != "" {
		return verifyCluster(ctx, *db, keys, *asJSON, stdout)
	}
	s, err := openLedger(ctx, a.data)
	if err != nil {
		return err
	}
	defer s.Close()
	start := time.Now()
	// The records a stopped node's journal holds past audit.db are
	// verified as its chain's continuation.
	res, err := audit.Verify(ctx, s, audit.VerifyOptions{Keys: keys, Journal: filepath.Join(a.data, auditJournal)})
	if err != nil {
		return err
	}
	if *asJSON {
		b, _ := json.Marshal(res)
		fmt.Fprintln(stdout, string(b))
	} else if res.OK {
		fmt.Fprintf(stdout, "ok: %d records", res.Records)
		if res.JournalOnly > 0 {
			fmt.Fprintf(stdout, ", %d of them only in the journal (%s.0 and .1)", res.JournalOnly, auditJournal)
		}
		fmt.Fprintf(stdout, " (%d purged by retention), %d signed checkpoints, verified in %v\n",
			res.Purged, res.Checkpoints, time.Since(start).Round(time.Millisecond))
	} else {
		fmt.Fprintf(stdout, "BAD: record %d", res.FirstBad.Seq)
		var about []string
		if res.FirstBad.RequestID != "" {
			about = append(about, "request "+res.FirstBad.RequestID)
		}
		if res.FirstBad.InJournal {
			about = append(about, "in the journal only")
		}
		if len(about) > 0 {
			fmt.Fprintf(stdout, " (%s)", strings.Join(about, ", "))
		}
		fmt.Fprintf(stdout, ": %s\n%d records verified before it\n", res.FirstBad.Problem, res.Records)
	}
	if !res.OK {
		return errors.New("the audit log does not verify")
	}
	return nil
}

// verifyCluster verifies every chain of a cluster's ledger in PostgreSQL
// (one per node), printing a line per chain, and fails when one does not
// verify.
func verifyCluster(ctx context.Context, url string, keys *audit.KeyRing, asJSON bool, stdout io.Writer) error {
	db := postgres.New(url)
	if err := db.Open(ctx); err != nil {
		return fmt.Errorf("--db %s: %w", db.Redacted(), err)
	}
	defer db.Close()
	res, ok, err := db.VerifyAll(ctx, audit.VerifyOptions{Keys: keys})
	if err != nil {
		return err
	}
	if asJSON {
		b, _ := json.Marshal(struct {
			OK     bool                   `json:"ok"`
			Chains []postgres.ChainResult `json:"chains"`
		}{ok, res})
		fmt.Fprintln(stdout, string(b))
	} else {
		for _, r := range res {
			if r.OK {
				fmt.Fprintf(stdout, "chain %s: ok: %d records (%d purged by retention), %d signed checkpoints\n", r.Chain, r.Records, r.Purged, r.Checkpoints)
				continue
			}
			fmt.Fprintf(stdout, "chain %s: BAD: record %d", r.Chain, r.FirstBad.Seq)
			if r.FirstBad.RequestID != "" {
				fmt.Fprintf(stdout, " (request %s)", r.FirstBad.RequestID)
			}
			fmt.Fprintf(stdout, ": %s\n", r.FirstBad.Problem)
		}
		if len(res) == 0 {
			fmt.Fprintln(stdout, "no chain: the ledger holds no record")
		}
	}
	if !ok {
		return errors.New("the audit log does not verify")
	}
	return nil
}

func auditExport(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	a := newAuditFlags("export", stderr, getenv, "jsonl")
	if err := a.parse(args); err != nil {
		return err
	}
	if a.fmt != "csv" && a.fmt != "jsonl" {
		return fmt.Errorf("--format %q: want csv or jsonl", a.fmt)
	}
	f, err := a.filter()
	if err != nil {
		return err
	}
	f.OldestFirst = true
	s, err := openLedger(ctx, a.data)
	if err != nil {
		return err
	}
	defer s.Close()
	noteJournal(ctx, s, a.data, stderr)
	if a.fmt == "jsonl" {
		enc := json.NewEncoder(stdout)
		return s.Find(ctx, f, func(r *audit.Record) error { return enc.Encode(exportView(r)) })
	}
	cw := csv.NewWriter(stdout)
	cw.Write([]string{"seq", "time", "category", "request_id", "bank", "api", "operation", "method", "path", "query",
		"client_id", "partner", "environment", "status", "latency_ms", "decision", "reason", "revision", "actor", "object", "before", "after", "hash", "request_body", "response_body"})
	err = s.Find(ctx, f, func(r *audit.Record) error {
		return cw.Write([]string{strconv.FormatInt(r.Seq, 10), r.Time.Format(time.RFC3339Nano), r.Category, r.RequestID, r.Bank, r.API,
			r.Operation, r.Method, r.Path, r.Query, r.ClientID, r.Partner, r.Environment, strconv.Itoa(r.Status),
			strconv.FormatFloat(r.LatencyMS(), 'f', 3, 64), r.Decision, r.Reason, strconv.FormatInt(r.Revision, 10),
			r.Actor, r.Object, r.Before, r.After, hex.EncodeToString(r.Hash), r.RequestBody, r.ResponseBody})
	})
	cw.Flush()
	if err != nil {
		return err
	}
	return cw.Error()
}

// exportRecord is a record as exported in JSON lines.
type exportRecord struct {
	*audit.Record
	LatencyMS float64 `json:"latencyMs"`
	Digest    string  `json:"digest"`
	Hash      string  `json:"hash"`
}

func exportView(r *audit.Record) exportRecord {
	return exportRecord{Record: r, LatencyMS: r.LatencyMS(), Digest: hex.EncodeToString(r.Digest), Hash: hex.EncodeToString(r.Hash)}
}

func auditReport(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	a := newAuditFlags("report", stderr, getenv, "json")
	by := a.fs.String("by", "partner", "group by partner, app, bank, api, day or month")
	statement := a.fs.String("statement", "", "print this partner's activity statement instead")
	if err := a.parse(args); err != nil {
		return err
	}
	if a.fmt != "json" && a.fmt != "csv" && a.fmt != "html" {
		return fmt.Errorf("--format %q: want json, csv or html", a.fmt)
	}
	f, err := a.filter()
	if err != nil {
		return err
	}
	s, err := openLedger(ctx, a.data)
	if err != nil {
		return err
	}
	defer s.Close()
	var out interface {
		WriteCSV(io.Writer) error
		WriteHTML(io.Writer) error
	}
	if *statement != "" {
		// The CLI reads the ledger alone: a partner it holds no record of
		// is unknown, or has not called yet; either way there is nothing
		// to state.
		found, err := audit.HasPartnerRecords(ctx, s, *statement)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("--statement %s: the audit ledger holds no record of partner %q (no such partner, or it has made no call yet)", *statement, *statement)
		}
		st, err := audit.PartnerStatement(ctx, s, *statement, f.From, f.To, time.Now())
		if err != nil {
			return err
		}
		out = st
	} else {
		if err := audit.CheckBy(*by); err != nil {
			return fmt.Errorf("--by: %w", err)
		}
		u, err := audit.UsageReport(ctx, s, f, *by)
		if err != nil {
			return err
		}
		out = u
	}
	switch a.fmt {
	case "csv":
		return out.WriteCSV(stdout)
	case "html":
		return out.WriteHTML(stdout)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
