package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/audit"
	"github.com/obhub/obhub/internal/requestid"
)

// The ledger's records are kept in blocks: each group commit's records,
// in Seq order, packed in their stored form (audit.AppendStored) as one
// row of audit_blocks, with the block's Seq and time ranges and its last
// chain hash. audit_keys says which blocks hold records with a given
// value of a field Find selects by (the request id, bank, API, partner,
// client, category, status, decision) and of the hour of their time: Find
// reads only those blocks (for a time range, those of its hours) and
// checks each record they hold against the whole filter.
//
// One row per record, with an index per searchable field, cost about
// 16 µs of CPU per record on the gateway's two cores, most of a node's
// audit cost; a block costs one row for the group plus one key row per
// distinct value (docs/performance.md).
//
// The key rows of the latest blocks are written together, every
// keysEvery blocks or keysLag, in the transaction of the block that makes
// them due: each distinct key sits on a page of its own in audit_keys, and
// writing a small block's dozen keys with it made every commit write a
// dozen pages to the log. audit_state's keys_through is the last block
// whose keys are written; Find reads every block after it as a candidate,
// and Open writes their keys if the node stopped before it did.
const auditBlocksSchema = `
CREATE TABLE audit_blocks (
	first_seq INTEGER PRIMARY KEY,
	last_seq  INTEGER NOT NULL,
	min_time  INTEGER NOT NULL,
	max_time  INTEGER NOT NULL,
	last_hash BLOB NOT NULL,
	records   BLOB NOT NULL
);
CREATE TABLE audit_keys (
	field     TEXT NOT NULL,
	value     TEXT NOT NULL,
	first_seq INTEGER NOT NULL,
	PRIMARY KEY (field, value, first_seq)
) WITHOUT ROWID;
CREATE TABLE audit_state (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO audit_state (name, value) VALUES ('keys_through', 0);
`

// Key fields: a record's values of these are listed in audit_keys.
const (
	keyCategory = "category"
	keyRequest  = "request"
	keyBank     = "bank"
	keyAPI      = "api"
	keyPartner  = "partner"
	keyClient   = "client"
	keyStatus   = "status"
	keyDecision = "decision"
	keyHour     = "hour" // "2006-01-02T15", UTC: ordered as text as in time
)

// hourValue is the keyHour value of the hour t falls in.
func hourValue(t time.Time) string { return t.UTC().Truncate(time.Hour).Format("2006-01-02T15") }

// blockKeys adds the keys of recs, a block's records, to set.
func blockKeys(set map[blockKey]struct{}, recs []audit.Record) {
	var lastHour int64 = math.MinInt64
	for i := range recs {
		r := &recs[i]
		recordKeys(set, r)
		// Records come in time order, nearly: one hour key per block,
		// formatted once.
		if h := r.Time.Unix() / 3600; !r.Purged && h != lastHour {
			set[blockKey{keyHour, hourValue(r.Time)}] = struct{}{}
			lastHour = h
		}
	}
}

// blockKey is one row of audit_keys for a block.
type blockKey struct{ field, value string }

// idSkew bounds how far a request id made by the gateway (a UUIDv7,
// internal/requestid) may lie from its record's time. Such ids get no key
// row: a block holds one for nearly every record, and writing them was
// half a block's cost. Find looks for them in the blocks of records
// within idSkew of the id's own time instead. Ids sent by clients are
// keyed like any other value.
const idSkew = 2 * time.Second

// keyedID reports whether r's request id needs a key row.
func keyedID(r *audit.Record) bool {
	t, ok := requestid.Time(r.RequestID)
	return !ok || t.Sub(r.Time).Abs() > idSkew
}

// recordKeys adds r's keys to set. A purged record has none: Find never
// selects it.
func recordKeys(set map[blockKey]struct{}, r *audit.Record) {
	if r.Purged {
		return
	}
	if r.RequestID != "" && keyedID(r) {
		set[blockKey{keyRequest, r.RequestID}] = struct{}{}
	}
	for _, k := range [...]blockKey{{keyCategory, r.Category}, {keyBank, r.Bank},
		{keyAPI, r.API}, {keyPartner, r.Partner}, {keyClient, r.ClientID}, {keyDecision, r.Decision}} {
		if k.value != "" {
			set[k] = struct{}{}
		}
	}
	if r.Status != 0 {
		set[blockKey{keyStatus, strconv.Itoa(r.Status)}] = struct{}{}
	}
}

// filterKeys are the keys a block must hold for f to select any record
// in it, the request id's aside (findBlocks).
func filterKeys(f audit.Filter) []blockKey {
	var ks []blockKey
	for _, k := range [...]blockKey{{keyClient, f.ClientID}, {keyPartner, f.Partner},
		{keyAPI, f.API}, {keyBank, f.Bank}, {keyCategory, f.Category}, {keyDecision, f.Decision}} {
		if k.value != "" {
			ks = append(ks, k)
		}
	}
	if f.Status != 0 {
		ks = append(ks, blockKey{keyStatus, strconv.Itoa(f.Status)})
	}
	return ks
}

// selects reports whether f selects r.
func selects(f *audit.Filter, r *audit.Record) bool {
	switch {
	case r.Purged,
		!f.From.IsZero() && r.Time.Before(f.From),
		!f.To.IsZero() && !r.Time.Before(f.To),
		f.BeforeSeq > 0 && r.Seq >= f.BeforeSeq,
		f.Category != "" && r.Category != f.Category,
		f.Partner != "" && r.Partner != f.Partner,
		f.ClientID != "" && r.ClientID != f.ClientID,
		f.Bank != "" && r.Bank != f.Bank,
		f.API != "" && r.API != f.API,
		f.Status != 0 && r.Status != f.Status,
		f.Decision != "" && r.Decision != f.Decision,
		f.RequestID != "" && r.RequestID != f.RequestID:
		return false
	}
	return true
}

// keysPerInsert is how many audit_keys rows one prepared INSERT takes:
// a block's keys go in a few statements rather than one per key.
const keysPerInsert = 32

// Keys of new blocks are written every keysEvery blocks or keysLag,
// whichever comes first (at the next append), and at Close.
const keysEvery = 64

// keysLag is a variable for the tests.
var keysLag = time.Second

// blockWriter holds the writer connection's prepared statements and the
// keys of the blocks appended since keys were last written.
type blockWriter struct {
	last, insert, keys, key, through *sql.Stmt
	buf                              []byte // the block being packed (AppendBuffered only)
	set                              map[blockKey]struct{}
	args                             []any

	pending        []keyRow  // keys not written yet
	pendingBlocks  int       // blocks they are the keys of
	pendingSince   time.Time // when the first of those was appended
	pendingThrough int64     // the last of those blocks
}

// keyRow is one row of audit_keys.
type keyRow struct {
	blockKey
	first int64
}

// preparer is a database or a transaction: where a blockWriter's
// statements are prepared (a transaction for the migration's).
type preparer interface {
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

func prepareBlockWriter(ctx context.Context, db preparer) (*blockWriter, error) {
	bw := &blockWriter{set: make(map[blockKey]struct{})}
	var err error
	prep := func(q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var st *sql.Stmt
		st, err = db.PrepareContext(ctx, q)
		return st
	}
	bw.last = prep("SELECT coalesce((SELECT last_seq FROM audit_blocks ORDER BY first_seq DESC LIMIT 1), 0)")
	bw.insert = prep("INSERT INTO audit_blocks (first_seq, last_seq, min_time, max_time, last_hash, records) VALUES (?,?,?,?,?,?)")
	bw.keys = prep("INSERT OR IGNORE INTO audit_keys (field, value, first_seq) VALUES " + strings.TrimSuffix(strings.Repeat("(?,?,?),", keysPerInsert), ","))
	bw.key = prep("INSERT OR IGNORE INTO audit_keys (field, value, first_seq) VALUES (?,?,?)")
	bw.through = prep(setKeysThrough)
	if err != nil {
		bw.close()
		return nil, err
	}
	return bw, nil
}

const setKeysThrough = "UPDATE audit_state SET value = ? WHERE name = 'keys_through'"

func (bw *blockWriter) close() {
	for _, st := range []*sql.Stmt{bw.last, bw.insert, bw.keys, bw.key, bw.through} {
		if st != nil {
			st.Close()
		}
	}
}

// execer gives the statements writing a block uses in a transaction: a
// *sql.Tx for the writer's statements prepared on its connection, or
// preparedIn for statements prepared in the transaction itself.
type execer interface {
	StmtContext(ctx context.Context, st *sql.Stmt) *sql.Stmt
}

// preparedIn uses statements prepared in the transaction as they are.
type preparedIn struct{}

func (preparedIn) StmtContext(_ context.Context, st *sql.Stmt) *sql.Stmt { return st }

// writeBlock stores recs, packed in buf, as one block in tx, and adds
// its keys to the pending ones. recs is not empty and in Seq order.
func (bw *blockWriter) writeBlock(ctx context.Context, tx execer, recs []audit.Record, now time.Time) error {
	bw.buf = bw.buf[:0]
	clear(bw.set)
	minT, maxT := int64(math.MaxInt64), int64(math.MinInt64)
	for i := range recs {
		r := &recs[i]
		bw.buf = audit.AppendStored(bw.buf, r)
		t := r.Time.UnixNano()
		minT, maxT = min(minT, t), max(maxT, t)
	}
	first, last := recs[0].Seq, recs[len(recs)-1]
	if _, err := tx.StmtContext(ctx, bw.insert).ExecContext(ctx, first, last.Seq, minT, maxT, last.Hash, bw.buf); err != nil {
		return err
	}
	blockKeys(bw.set, recs)
	bw.addPending(first, now)
	return nil
}

// addPending adds bw.set as the keys of the block at first.
func (bw *blockWriter) addPending(first int64, now time.Time) {
	if bw.pendingBlocks == 0 {
		bw.pendingSince = now
	}
	for k := range bw.set {
		bw.pending = append(bw.pending, keyRow{k, first})
	}
	bw.pendingBlocks++
	bw.pendingThrough = first
}

// writeKeys writes the pending keys and moves keys_through to their last
// block, in tx. The caller forgets them once tx commits (keysWritten).
func (bw *blockWriter) writeKeys(ctx context.Context, tx execer) error {
	if bw.pendingBlocks == 0 {
		return nil
	}
	bw.args = bw.args[:0]
	var many, one *sql.Stmt
	for _, k := range bw.pending {
		bw.args = append(bw.args, k.field, k.value, k.first)
		if len(bw.args) == 3*keysPerInsert {
			if many == nil {
				many = tx.StmtContext(ctx, bw.keys)
			}
			if _, err := many.ExecContext(ctx, bw.args...); err != nil {
				return err
			}
			bw.args = bw.args[:0]
		}
	}
	for i := 0; i < len(bw.args); i += 3 {
		if one == nil {
			one = tx.StmtContext(ctx, bw.key)
		}
		if _, err := one.ExecContext(ctx, bw.args[i:i+3]...); err != nil {
			return err
		}
	}
	_, err := tx.StmtContext(ctx, bw.through).ExecContext(ctx, bw.pendingThrough)
	return err
}

// keysWritten forgets the pending keys, written and committed.
func (bw *blockWriter) keysWritten() {
	bw.pending, bw.pendingBlocks = bw.pending[:0], 0
}

// flushKeys writes the pending keys in a transaction of their own.
func (bw *blockWriter) flushKeys(ctx context.Context, w *sql.DB) (err error) {
	if bw.pendingBlocks == 0 {
		return nil
	}
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := bw.writeKeys(ctx, tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	bw.keysWritten()
	return nil
}

// recoverKeys writes the keys of the blocks after keys_through: the node
// stopped before it wrote them.
func (bw *blockWriter) recoverKeys(ctx context.Context, w *sql.DB) error {
	var through int64
	if err := w.QueryRowContext(ctx, "SELECT value FROM audit_state WHERE name = 'keys_through'").Scan(&through); err != nil {
		return err
	}
	rows, err := w.QueryContext(ctx, "SELECT first_seq, records FROM audit_blocks WHERE first_seq > ? ORDER BY first_seq", through)
	if err != nil {
		return err
	}
	now := time.Now()
	for rows.Next() {
		var first int64
		var data []byte
		if err := rows.Scan(&first, &data); err != nil {
			rows.Close()
			return err
		}
		var recs []audit.Record
		if err := audit.DecodeStored(data, func(r *audit.Record) error { recs = append(recs, *r); return nil }); err != nil {
			rows.Close()
			return fmt.Errorf("block %d: %w", first, err)
		}
		clear(bw.set)
		blockKeys(bw.set, recs)
		bw.addPending(first, now)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	return bw.flushKeys(ctx, w)
}

// appendBlock is AppendBuffered's transaction: recs must follow the head.
func (bw *blockWriter) appendBlock(ctx context.Context, w *sql.DB, recs []audit.Record) (err error) {
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	var last int64
	if err := tx.StmtContext(ctx, bw.last).QueryRowContext(ctx).Scan(&last); err != nil {
		return err
	}
	for i := range recs {
		if recs[i].Seq != last+1+int64(i) {
			return obhub.Errorf(obhub.ECONFLICT, "audit append: record %d does not follow the head %d", recs[i].Seq, last)
		}
	}
	// On failure the block's keys go with it.
	n0, b0, since, through := len(bw.pending), bw.pendingBlocks, bw.pendingSince, bw.pendingThrough
	defer func() {
		if err != nil {
			bw.pending, bw.pendingBlocks, bw.pendingSince, bw.pendingThrough = bw.pending[:n0], b0, since, through
		}
	}()
	now := time.Now()
	if err := bw.writeBlock(ctx, tx, recs, now); err != nil {
		return err
	}
	due := bw.pendingBlocks >= keysEvery || now.Sub(bw.pendingSince) >= keysLag
	if due {
		if err := bw.writeKeys(ctx, tx); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if due {
		bw.keysWritten()
	}
	return nil
}

// blocksHead reads the chain's head from the last block.
func blocksHead(ctx context.Context, db *sql.DB) (audit.Head, error) {
	var h audit.Head
	err := db.QueryRowContext(ctx, "SELECT last_seq, last_hash FROM audit_blocks ORDER BY first_seq DESC LIMIT 1").Scan(&h.Seq, &h.Hash)
	if errors.Is(err, sql.ErrNoRows) {
		return audit.Head{}, nil
	}
	return h, err
}

// scanBlocks is how many blocks one query of ScanRange reads: short read
// transactions, so that the log can be checkpointed during a long scan.
const scanBlocks = 64

// scanRange calls fn for every record with from <= Seq < to, in order.
func scanRange(ctx context.Context, db *sql.DB, from, to int64, fn func(*audit.Record) error) error {
	// The block holding from starts at or before it.
	var start int64
	err := db.QueryRowContext(ctx, "SELECT coalesce(max(first_seq), 0) FROM audit_blocks WHERE first_seq <= ?", from).Scan(&start)
	if err != nil {
		return err
	}
	for {
		n, next, err := scanBlocksFrom(ctx, db, start, to, func(r *audit.Record) error {
			if r.Seq < from || r.Seq >= to {
				return nil
			}
			return fn(r)
		})
		if err != nil || n < scanBlocks {
			return err
		}
		start = next
	}
}

// scanBlocksFrom reads up to scanBlocks blocks starting at or after
// start and before to, and returns how many it read and where the next
// read starts.
func scanBlocksFrom(ctx context.Context, db *sql.DB, start, to int64, fn func(*audit.Record) error) (n int, next int64, err error) {
	rows, err := db.QueryContext(ctx, "SELECT first_seq, records FROM audit_blocks WHERE first_seq >= ? AND first_seq < ? ORDER BY first_seq LIMIT ?", start, to, scanBlocks)
	if err != nil {
		return 0, 0, err
	}
	defer rows.Close()
	var first int64
	var data []byte
	for rows.Next() {
		if err := rows.Scan(&first, &data); err != nil {
			return n, 0, err
		}
		n++
		if err := audit.DecodeStored(data, fn); err != nil {
			return n, 0, err
		}
	}
	return n, first + 1, rows.Err()
}

// findQuery is the query of the blocks that may hold records f selects,
// in f's order, and its arguments.
func findQuery(f audit.Filter) (string, []any) {
	where := []string{"1"}
	var args []any
	// Each key condition also takes the blocks whose keys are not
	// written yet (blockWriter).
	const (
		tail  = " UNION ALL SELECT first_seq FROM audit_blocks WHERE first_seq > (SELECT value FROM audit_state WHERE name = 'keys_through'))"
		keyed = "first_seq IN (SELECT first_seq FROM audit_keys WHERE field = ? AND value = ?" + tail
		hours = "first_seq IN (SELECT first_seq FROM audit_keys WHERE field = '" + keyHour + "' AND value >= ? AND value <= ?" + tail
	)
	if !f.From.IsZero() || !f.To.IsZero() {
		// The blocks of the range's hours, found through their keys:
		// the query reads no block outside the range.
		lo, hi := "0", "9"
		if !f.From.IsZero() {
			lo = hourValue(f.From)
			where = append(where, "max_time >= ?")
			args = append(args, f.From.UnixNano())
		}
		if !f.To.IsZero() {
			hi = hourValue(f.To.Add(-time.Nanosecond))
			where = append(where, "min_time < ?")
			args = append(args, f.To.UnixNano())
		}
		where = append(where, hours)
		args = append(args, lo, hi)
	}
	if f.BeforeSeq > 0 {
		where = append(where, "first_seq < ?")
		args = append(args, f.BeforeSeq)
	}
	for _, k := range filterKeys(f) {
		where = append(where, keyed)
		args = append(args, k.field, k.value)
	}
	if f.RequestID != "" {
		// A keyed id, or one the gateway made, in a block of its time.
		if t, ok := requestid.Time(f.RequestID); ok {
			from, to := t.Add(-idSkew), t.Add(idSkew)
			where = append(where, "("+keyed+" OR ("+hours+" AND max_time >= ? AND min_time <= ?))")
			args = append(args, keyRequest, f.RequestID, hourValue(from), hourValue(to), from.UnixNano(), to.UnixNano())
		} else {
			where = append(where, keyed)
			args = append(args, keyRequest, f.RequestID)
		}
	}
	q := "SELECT records FROM audit_blocks WHERE " + strings.Join(where, " AND ") + " ORDER BY first_seq"
	if !f.OldestFirst {
		q += " DESC"
	}
	return q, args
}

// findBlocks calls fn for the records f selects, in f's order.
func findBlocks(ctx context.Context, db *sql.DB, f audit.Filter, fn func(*audit.Record) error) error {
	q, args := findQuery(f)
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var (
		data     []byte
		selected []audit.Record // one block's, newest first
		sent     int
		done     = errors.New("limit reached")
	)
	emit := func(r *audit.Record) error {
		if f.Limit > 0 && sent == f.Limit {
			return done
		}
		sent++
		return fn(r)
	}
	for rows.Next() {
		if err := rows.Scan(&data); err != nil {
			return err
		}
		selected = selected[:0]
		err := audit.DecodeStored(data, func(r *audit.Record) error {
			if !selects(&f, r) {
				return nil
			}
			if f.OldestFirst {
				return emit(r)
			}
			selected = append(selected, *r)
			return nil
		})
		if err == nil {
			for i := len(selected) - 1; i >= 0 && err == nil; i-- {
				err = emit(&selected[i])
			}
		}
		if errors.Is(err, done) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return rows.Err()
}

// purgeBatch is how many blocks one transaction of purgeBlocks rewrites:
// a first purge of a large ledger neither holds it all in memory nor
// grows the log by all of it at once.
const purgeBatch = 256

// purgeBlocks removes the content of category's records older than before,
// block by block, purgeBatch blocks per transaction, and returns how many
// it purged. A purge cut short leaves whole blocks purged or not; the next
// one goes on where it stopped.
func (bw *blockWriter) purgeBlocks(ctx context.Context, w *sql.DB, category string, before time.Time) (int64, error) {
	var total int64
	var after int64
	for {
		n, last, more, err := bw.purgeBatch(ctx, w, category, before, after)
		total += n
		if err != nil || !more {
			return total, err
		}
		after = last
	}
}

// purgeBatch purges the next purgeBatch blocks after the block at after
// that hold category's records older than before, in one transaction. It
// returns how many records it purged, the last block it read, and whether
// there may be more.
func (bw *blockWriter) purgeBatch(ctx context.Context, w *sql.DB, category string, before time.Time, after int64) (n, last int64, more bool, err error) {
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, false, err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	cut := before.UnixNano()
	rows, err := tx.QueryContext(ctx, `SELECT first_seq, records FROM audit_blocks WHERE first_seq > ? AND min_time < ?
		AND first_seq IN (SELECT first_seq FROM audit_keys WHERE field = ? AND value = ?) ORDER BY first_seq LIMIT ?`,
		after, cut, keyCategory, category, purgeBatch)
	if err != nil {
		return 0, 0, false, err
	}
	type block struct {
		first int64
		data  []byte
	}
	var blocks []block
	for rows.Next() {
		var b block
		if err := rows.Scan(&b.first, &b.data); err != nil {
			rows.Close()
			return 0, 0, false, err
		}
		blocks = append(blocks, b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, 0, false, err
	}
	if len(blocks) == 0 {
		return 0, after, false, tx.Commit()
	}
	old := make(map[blockKey]struct{})
	for _, b := range blocks {
		var recs []audit.Record
		err := audit.DecodeStored(b.data, func(r *audit.Record) error {
			recs = append(recs, *r)
			return nil
		})
		if err != nil {
			return 0, 0, false, fmt.Errorf("block %d: %w", b.first, err)
		}
		clear(old)
		blockKeys(old, recs)
		purged := 0
		for i, r := range recs {
			if !r.Purged && r.Category == category && r.Time.UnixNano() < cut {
				recs[i] = audit.Record{Seq: r.Seq, Time: r.Time, Category: r.Category, Purged: true, Digest: r.Digest, Hash: r.Hash}
				purged++
			}
		}
		if purged == 0 {
			continue
		}
		clear(bw.set)
		bw.buf = bw.buf[:0]
		for i := range recs {
			bw.buf = audit.AppendStored(bw.buf, &recs[i])
		}
		blockKeys(bw.set, recs)
		if _, err := tx.ExecContext(ctx, "UPDATE audit_blocks SET records = ? WHERE first_seq = ?", bw.buf, b.first); err != nil {
			return 0, 0, false, err
		}
		// The keys of values only purged records held go too: a purged
		// record's request id, partner or client is content.
		for k := range old {
			if _, still := bw.set[k]; !still {
				if _, err := tx.ExecContext(ctx, "DELETE FROM audit_keys WHERE field = ? AND value = ? AND first_seq = ?", k.field, k.value, b.first); err != nil {
					return 0, 0, false, err
				}
			}
		}
		n += int64(purged)
	}
	return n, blocks[len(blocks)-1].first, len(blocks) == purgeBatch, tx.Commit()
}

// blocksFromRows is schema step 4: it packs the rows of audit_records
// (schema 3 and before) into blocks of up to migrateBlock records, then
// drops the table. It runs once, in the migration's transaction.
func blocksFromRows(ctx context.Context, tx *sql.Tx) error {
	bw, err := prepareBlockWriter(ctx, tx)
	if err != nil {
		return err
	}
	defer bw.close()
	const migrateBlock = 512
	var from int64
	for {
		recs, err := legacyRows(ctx, tx, from, migrateBlock)
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			break
		}
		if err := bw.writeBlock(ctx, preparedIn{}, recs, time.Now()); err != nil {
			return err
		}
		if bw.pendingBlocks >= keysEvery {
			if err := bw.writeKeys(ctx, preparedIn{}); err != nil {
				return err
			}
			bw.keysWritten()
		}
		from = recs[len(recs)-1].Seq + 1
	}
	if err := bw.writeKeys(ctx, preparedIn{}); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, "DROP TABLE audit_records")
	return err
}

// legacyRows reads up to n rows of the row-per-record table from seq on.
func legacyRows(ctx context.Context, tx *sql.Tx, from int64, n int) ([]audit.Record, error) {
	rows, err := tx.QueryContext(ctx, `SELECT seq, time, category, request_id, bank, api, operation, method, path, query, client_id,
		partner, environment, status, latency_us, decision, reason, revision, actor, object, before, after, purged, digest, hash,
		request_body, response_body FROM audit_records WHERE seq >= ? ORDER BY seq LIMIT ?`, from, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var recs []audit.Record
	for rows.Next() {
		var r audit.Record
		var t, lat int64
		if err := rows.Scan(&r.Seq, &t, &r.Category, &r.RequestID, &r.Bank, &r.API, &r.Operation, &r.Method, &r.Path, &r.Query,
			&r.ClientID, &r.Partner, &r.Environment, &r.Status, &lat, &r.Decision, &r.Reason, &r.Revision, &r.Actor, &r.Object,
			&r.Before, &r.After, &r.Purged, &r.Digest, &r.Hash, &r.RequestBody, &r.ResponseBody); err != nil {
			return nil, err
		}
		r.Time = time.Unix(0, t).UTC()
		r.Latency = time.Duration(lat) * time.Microsecond
		recs = append(recs, r)
	}
	return recs, rows.Err()
}
