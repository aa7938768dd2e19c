// Package audit is the hub's audit ledger: one Record per request on the
// public listener and per administrative change, masked for personal data
// (Mask), chained by hash so that any edit, deletion, insertion or
// reordering is detected (Verify), sealed by signed checkpoints so that a
// cut tail or a rebuilt chain is detected too (Signer), written durably in
// groups (Writer), kept for a retention period per category (Store.Purge)
// and summarised for compliance staff (Usage, Statement).
//
// The package is storage-agnostic: Store is implemented under store/*
// (store/sqlite now) and every implementation runs the conformance suite in
// audit/audittest. It imports neither HTTP frameworks nor SQL.
package audit

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash"
	"time"
)

// Categories of records, each with its own retention (see Retention).
const (
	CategoryAccess  = "access"  // a request on the public listener
	CategoryPayment = "payment" // a state-changing API call that was forwarded (kept longer)
	CategoryAdmin   = "admin"   // a change made through the admin API
)

// Decisions, as the gateway reports them (gateway.Decision*).
const (
	DecisionAllow  = "allow"
	DecisionDeny   = "deny"
	DecisionReject = "reject"
	DecisionLocal  = "local"
	DecisionError  = "error"
)

// Record is one entry of the ledger. The fields up to Hash are what was
// recorded; Seq, Digest and Hash are set by the Writer when it chains the
// record. Every string is masked for personal data before it is chained.
type Record struct {
	Seq      int64     `json:"seq"`
	Time     time.Time `json:"time"`
	Category string    `json:"category"`

	RequestID   string        `json:"requestId,omitempty"`
	Bank        string        `json:"bank,omitempty"`
	API         string        `json:"api,omitempty"`
	Operation   string        `json:"operation,omitempty"`
	Method      string        `json:"method,omitempty"`
	Path        string        `json:"path,omitempty"`
	Query       string        `json:"query,omitempty"`
	ClientID    string        `json:"clientId,omitempty"`
	Partner     string        `json:"partner,omitempty"`
	Environment string        `json:"environment,omitempty"`
	Status      int           `json:"status"`
	Latency     time.Duration `json:"-"` // kept to the microsecond
	Decision    string        `json:"decision,omitempty"`
	Reason      string        `json:"reason,omitempty"`
	Revision    int64         `json:"revision,omitempty"` // configuration revision the request used

	// Administrative changes: who changed which object, and the object
	// before and after as JSON with secrets redacted ("" when none).
	Actor  string `json:"actor,omitempty"`
	Object string `json:"object,omitempty"`
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`

	// RequestBody and ResponseBody are a sandbox call's masked bodies, each
	// cut to 4 KiB, kept only with --audit-capture-sandbox-bodies
	// (docs/audit.md); never on a production call.
	RequestBody  string `json:"requestBody,omitempty"`
	ResponseBody string `json:"responseBody,omitempty"`

	// Purged marks a record whose content was removed by retention: only
	// Seq, Time, Category, Digest and Hash remain, so the chain still
	// verifies.
	Purged bool   `json:"purged,omitempty"`
	Digest []byte `json:"digest"` // Hash of the record's encoding
	Hash   []byte `json:"hash"`   // chain hash: Hash(previous Hash || Digest)

	// Chain names the node whose hash chain holds the record, when it is
	// read from a cluster's shared ledger (PostgreSQL), where every node
	// chains its own records and their Seq numbers overlap; "" on a single
	// node. It is where the record is, not part of what is hashed.
	Chain string `json:"chain,omitempty"`
}

// LatencyMS is the latency in milliseconds, for reports and JSON.
func (r *Record) LatencyMS() float64 { return float64(r.Latency.Microseconds()) / 1000 }

// normalise rounds the fields to what every store keeps exactly: time in
// UTC nanoseconds, latency in microseconds.
func (r *Record) normalise() {
	r.Time = time.Unix(0, r.Time.UnixNano()).UTC()
	r.Latency = r.Latency.Truncate(time.Microsecond)
}

// Record encodings. Version 1 is every record without captured bodies,
// so ledgers written before bodies had fields of their own still verify;
// version 2 appends the two bodies.
const (
	encodingV1 = 1
	encodingV2 = 2
)

// AppendEncoding appends the record's canonical encoding (what Digest
// hashes) to b: every recorded field in a fixed order, strings length-
// prefixed, so that no two different records encode alike. The version
// byte keeps a record with bodies from encoding like one without.
func (r *Record) AppendEncoding(b []byte) []byte {
	bodies := r.RequestBody != "" || r.ResponseBody != ""
	if bodies {
		b = append(b, encodingV2)
	} else {
		b = append(b, encodingV1)
	}
	b = binary.AppendVarint(b, r.Seq)
	b = binary.AppendVarint(b, r.Time.UnixNano())
	for _, s := range [...]string{r.Category, r.RequestID, r.Bank, r.API, r.Operation, r.Method, r.Path, r.Query,
		r.ClientID, r.Partner, r.Environment, r.Decision, r.Reason, r.Actor, r.Object, r.Before, r.After} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendVarint(b, int64(r.Status))
	b = binary.AppendVarint(b, r.Latency.Microseconds())
	b = binary.AppendVarint(b, r.Revision)
	if bodies {
		for _, s := range [...]string{r.RequestBody, r.ResponseBody} {
			b = binary.AppendUvarint(b, uint64(len(s)))
			b = append(b, s...)
		}
	}
	return b
}

// Filter selects records. Zero fields select everything.
type Filter struct {
	From, To  time.Time // From <= Time < To
	Category  string
	Partner   string
	ClientID  string
	Bank      string // also the scope of a bank's staff
	API       string
	Status    int
	Decision  string
	RequestID string
	BeforeSeq int64 // only records with Seq < BeforeSeq (a page cursor)
	// Before is the page cursor of a cluster's ledger read across its
	// chains (records ordered by time, chain, seq, newest first): only
	// records before it in that order. It replaces BeforeSeq there; a
	// single chain's store ignores it.
	Before      *Position
	Limit       int  // at most this many; 0 means all
	OldestFirst bool // default newest first
}

// Position is a record's place in a cluster's ledger read across its
// chains: its time, then its chain, then its Seq.
type Position struct {
	Time  time.Time
	Chain string
	Seq   int64
}

// ParseTime reads a bound of a Filter's period as the admin API, the
// console and the command line take it: an RFC 3339 time, or a date
// (YYYY-MM-DD) meaning its midnight UTC. "" is the zero time (no bound).
func ParseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time or a YYYY-MM-DD date", s)
	}
	return t, nil
}

// Checkpoint seals the chain up to Seq: its head Hash at that point,
// signed with a key kept apart from the store.
type Checkpoint struct {
	Seq       int64     `json:"seq"`
	Hash      []byte    `json:"hash"`
	Time      time.Time `json:"time"`
	Algorithm string    `json:"algorithm"` // the chain's hash function
	KeyID     string    `json:"keyId"`
	Signature []byte    `json:"signature"`
}

// Head is the end of the chain.
type Head struct {
	Seq  int64
	Hash []byte
}

// Store keeps records and checkpoints. Implementations live under store/*
// and pass audittest.Run.
type Store interface {
	// Head returns the last record's Seq and Hash; Seq 0 when empty.
	Head(ctx context.Context) (Head, error)
	// Append stores chained records in one durable transaction: when it
	// returns nil they survive a crash. recs[0].Seq is Head+1 and the
	// Seqs follow without gaps, else it fails with ECONFLICT.
	Append(ctx context.Context, recs []Record) error
	// Scan calls fn for every record with Seq >= from, in Seq order, as
	// stored (fn may not keep r). An error from fn stops the scan and is
	// returned.
	Scan(ctx context.Context, from int64, fn func(r *Record) error) error
	// Find calls fn for the records f selects, newest first unless
	// f.OldestFirst. Purged records are never selected.
	Find(ctx context.Context, f Filter, fn func(r *Record) error) error
	// AddCheckpoint stores a checkpoint; Checkpoints lists them by Seq.
	AddCheckpoint(ctx context.Context, c Checkpoint) error
	Checkpoints(ctx context.Context) ([]Checkpoint, error)
	// Purge removes the content of the records of category older than
	// before (Record.Purged), keeping what the chain needs, and returns
	// how many it purged.
	Purge(ctx context.Context, category string, before time.Time) (int64, error)
}

// BufferedAppender is a Store whose durable Append comes apart in two:
// AppendBuffered stores records (in order, visible to reads, surviving
// the process being killed) and Sync makes every record stored before it
// durable against a power cut too. The Writer then pipelines its group
// commits: it writes the next batch while the previous one is flushed,
// and releases a Strict caller only after the flush that covers its
// record. (A Journal is one too, but its append is a single write to a
// file: the Writer appends to it and flushes it in turn.)
type BufferedAppender interface {
	AppendBuffered(ctx context.Context, recs []Record) error
	Sync(ctx context.Context) error
}

// HashFunc makes the chain's hash function.
type HashFunc func() hash.Hash

// Retention is how long records of each category keep their content.
type Retention map[string]time.Duration

// DefaultRetention: 180 days for access records, one year for payment
// operations and administrative changes.
func DefaultRetention() Retention {
	return Retention{
		CategoryAccess:  180 * 24 * time.Hour,
		CategoryPayment: 365 * 24 * time.Hour,
		CategoryAdmin:   365 * 24 * time.Hour,
	}
}

// PurgeExpired purges, in every category, the records older than the
// category's retention at now, and returns how many it purged.
func PurgeExpired(ctx context.Context, s Store, r Retention, now time.Time) (int64, error) {
	var total int64
	for cat, keep := range r {
		if keep <= 0 {
			continue
		}
		n, err := s.Purge(ctx, cat, now.Add(-keep))
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}
