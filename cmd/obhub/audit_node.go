package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/obhub/obhub/admin"
	"github.com/obhub/obhub/audit"
	"github.com/obhub/obhub/gateway"
	"github.com/obhub/obhub/store/sqlite"
)

// The node's audit ledger: <data>/audit.db, its own SQLite file, written
// by one audit.Writer fed by the gateway's OnDone and the admin API's
// change hook; checkpoints signed with <data>/keys/audit-checkpoint.key.

// auditFile is the ledger's file in the data folder.
const auditFile = "audit.db"

// auditJournal names the journal files of a single node's ledger (written
// and strict modes) in the data folder: audit.journal.0 and .1.
const auditJournal = "audit.journal"

// auditSpoolFile keeps, with --db, the records PostgreSQL would not take
// until they are drained (audit.Spool).
const auditSpoolFile = "audit-spool.jsonl"

// purgeEvery is how often expired records are purged.
const purgeEvery = 24 * time.Hour

type auditNode struct {
	store  auditStore // SQLite, or this node's chain in PostgreSQL with --db (postgres.go)
	writer *audit.Writer
	keys   *audit.KeyRing
	// capture holds sandbox bodies for their records with
	// --audit-capture-sandbox-bodies; nil otherwise (audit_capture.go).
	capture *bodyCapture
	stop    chan struct{}
	done    chan struct{}
	// verified is what the last check of the whole ledger found
	// (checkLedger): ledgerUnchecked, ledgerOK or ledgerBad.
	verified atomic.Int32
}

// What checkLedger found.
const (
	ledgerUnchecked = iota
	ledgerOK
	ledgerBad
)

// openAudit opens the ledger and starts its writer and retention loop.
func (m *Main) openAudit(ctx context.Context) error {
	a := &m.auditLog
	mode, err := audit.ParseMode(m.Config.AuditMode)
	if err != nil {
		return err
	}
	if m.Config.DB != "" {
		if err := m.settleLocalJournal(ctx); err != nil {
			return err
		}
		s, err := m.openPostgresAudit(ctx)
		if err != nil {
			return err
		}
		a.store = s
	} else if err := m.openSQLiteAudit(ctx, mode); err != nil {
		return err
	}
	signer, err := m.loadAuditSigner(ctx) // shared through etcd with --db and --etcd (postgres.go)
	if err != nil {
		return err
	}
	a.keys = signer.Public()
	var spool *audit.Spool
	if m.Config.DB != "" { // records PostgreSQL cannot take wait in the data folder
		spool = audit.NewSpool(filepath.Join(m.Config.Data, auditSpoolFile))
	}
	w, err := audit.NewWriter(a.store, audit.WriterConfig{Mode: mode, Hash: m.Config.AuditHash, Signer: signer, Clock: m.Clock, Logger: m.Logger, Spool: spool,
		FlushEvery: m.Config.AuditFlushInterval})
	if err != nil {
		return err
	}
	if err := w.Start(ctx); err != nil {
		return err
	}
	a.writer = w
	a.stop, a.done = make(chan struct{}), make(chan struct{})
	go m.purgeLoop(a)
	return nil
}

// openSQLiteAudit opens the node's own ledger, <data>/audit.db. In the
// written and strict modes it is written through the journal
// (<data>/audit.journal.0 and .1, audit.Journal): a response waits for a
// write to the journal (written), or a write and an fdatasync (strict),
// not for SQLite's commit and log flush. In async mode nothing waits, so
// records go straight into SQLite, after the records a journal left from
// an earlier run (killed, or a power cut) are moved in.
func (m *Main) openSQLiteAudit(ctx context.Context, mode audit.Mode) error {
	a := &m.auditLog
	s := sqlite.NewAudit(filepath.Join(m.Config.Data, auditFile), sqlite.AuditLogger(m.Logger))
	a.store = s
	if err := s.Open(ctx); err != nil {
		return err
	}
	cfg := m.auditJournalConfig()
	if mode == audit.Async {
		return audit.RecoverJournal(ctx, s, cfg)
	}
	j, err := audit.NewJournal(s, cfg)
	if err != nil {
		return err
	}
	if err := j.Open(ctx); err != nil {
		return err
	}
	a.store = j
	return nil
}

// auditJournalConfig is the node's journal: in the data folder, chained
// with the node's hash function.
func (m *Main) auditJournalConfig() audit.JournalConfig {
	return audit.JournalConfig{Path: filepath.Join(m.Config.Data, auditJournal), Hash: m.Config.AuditHash, Logger: m.Logger}
}

// settleLocalJournal, on a node joining a cluster (--db), moves into its
// local audit.db, which stays the archive of its time alone, what the
// journal of a run alone left there (a node killed, then started with
// --db).
func (m *Main) settleLocalJournal(ctx context.Context) error {
	cfg := m.auditJournalConfig()
	if !audit.JournalExists(cfg.Path) {
		return nil // never ran alone in written or strict mode
	}
	s := sqlite.NewAudit(filepath.Join(m.Config.Data, auditFile), sqlite.AuditLogger(m.Logger))
	if err := s.Open(ctx); err != nil {
		return err
	}
	return errors.Join(audit.RecoverJournal(ctx, s, cfg), s.Close())
}

// purgeLoop purges expired records at start and every purgeEvery.
func (m *Main) purgeLoop(a *auditNode) {
	defer close(a.done)
	t := time.NewTicker(purgeEvery)
	defer t.Stop()
	stopped, cancelAll := context.WithCancel(context.Background())
	defer cancelAll()
	stop := a.stop // closeAudit clears the field once the loop is done
	go func() {
		<-stop
		cancelAll()
	}()
	for {
		m.checkLedger(stopped, a)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		n, err := audit.PurgeExpired(ctx, a.store, audit.DefaultRetention(), m.Clock.Now())
		cancel()
		switch {
		case err != nil:
			m.Logger.Error("audit: purge of expired records failed", "err", err)
		case n > 0:
			m.Logger.Info("audit: expired records purged", "records", n)
		}
		select {
		case <-a.stop:
			return
		case <-t.C:
		}
	}
}

// checkLedger verifies the whole ledger, as `obhub audit verify` and the
// admin API do, when the node starts and then once a day (purgeLoop): a
// ledger edited while the node was stopped, or behind its back, is logged
// at once as an error and shown by obhub_audit_ledger_verified, rather
// than found at the next audit. It runs beside the requests, reading.
func (m *Main) checkLedger(ctx context.Context, a *auditNode) {
	start := time.Now()
	res, err := m.verifyLedger(ctx, a.keys)
	switch {
	case ctx.Err() != nil:
		return // the node is stopping
	case err != nil:
		m.Logger.Error("audit: the ledger could not be verified", "err", err)
	case !res.OK:
		a.verified.Store(ledgerBad)
		m.Logger.Error("audit: THE LEDGER DOES NOT VERIFY: it was changed outside obhub; see docs/audit.md",
			"first_bad_record", res.FirstBad.Seq, "problem", res.FirstBad.Problem, "records_verified", res.Records)
	default:
		a.verified.Store(ledgerOK)
		m.Logger.Info("audit: ledger verified", "records", res.Records, "checkpoints", res.Checkpoints, "took", time.Since(start).Round(time.Millisecond))
	}
}

// closeAudit flushes the writer (every queued record and a final
// checkpoint) and closes the ledger. Call it after the listeners drained.
func (m *Main) closeAudit() error {
	a := &m.auditLog
	var errs []error
	if a.stop != nil {
		close(a.stop)
		<-a.done
		a.stop = nil
	}
	if a.writer != nil {
		errs = append(errs, a.writer.Close())
	}
	if a.store != nil {
		errs = append(errs, a.store.Close())
	}
	return errors.Join(errs...)
}

// auditReady reports whether the ledger answers (readiness).
func (m *Main) auditReady(ctx context.Context) error {
	if m.auditLog.store == nil {
		return nil
	}
	if err := m.auditLog.store.Ping(ctx); err != nil {
		return fmt.Errorf("audit store not answering: %w", err)
	}
	return nil
}

// auditOutcome is the gateway's OnDone: it records the request. In
// written and strict modes it returns once the record is written or
// durable, before the response leaves.
func (m *Main) auditOutcome(o *gateway.Outcome) {
	req, resp, captured := m.auditLog.capture.take(o) // removed even when no writer
	if w := m.auditLog.writer; w != nil {
		r := recordOf(o)
		if captured {
			r.RequestBody, r.ResponseBody = req, resp
		}
		_ = w.Write(r) // failures are logged and counted by the writer
	}
}

// auditAdmin wraps the admin API: its routes read the ledger, and its
// changes are recorded in it.
func (m *Main) auditAdmin(h http.Handler) http.Handler {
	if m.auditLog.writer == nil {
		return h
	}
	return admin.RecordChanges(h, m.auditLog.writer.Write, m.Clock)
}

// adminAuditOptions serves the audit and report routes of the admin API.
func (m *Main) adminAuditOptions() []admin.Option {
	a := &m.auditLog
	if a.store == nil {
		return nil
	}
	return []admin.Option{admin.WithAuditLog(m.auditReader(), func(ctx context.Context) (audit.Result, error) {
		return m.verifyLedger(ctx, a.keys)
	})}
}

// recordOf turns a gateway outcome into an audit record. A forwarded,
// state-changing production call is a payment operation, kept longer.
func recordOf(o *gateway.Outcome) audit.Record {
	cat := audit.CategoryAccess
	if o.API != "" && o.Decision == gateway.DecisionAllow && o.Environment == "production" {
		switch o.Method {
		case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
			cat = audit.CategoryPayment
		}
	}
	return audit.Record{
		Time:        o.Time,
		Category:    cat,
		RequestID:   o.RequestID,
		Bank:        o.Bank,
		API:         o.API,
		Operation:   o.Operation,
		Method:      o.Method,
		Path:        o.Path,
		Query:       o.Query,
		ClientID:    o.ClientID,
		Partner:     o.Partner,
		Environment: o.Environment,
		Status:      o.Status,
		Latency:     o.Latency,
		Decision:    o.Decision,
		Reason:      o.Reason,
		Revision:    o.Revision,
	}
}
