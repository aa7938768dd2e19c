package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/internal/privfile"
)

// A Journal is a ledger's durable path in front of a store whose own
// append and flush are dear. SQLite's is a transaction touching several
// pages, then an fsync of its log; a strict response waited for about
// two of them. Through a Journal a group commit costs one write (all a
// Written caller waits for) and one fdatasync of a file that is
// overwritten in place (its room is written when it opens: reserve), so
// the flush touches no file-system metadata. The records then go into
// the store in larger groups behind the responses, as in async mode.
//
// The journal is two files, Path+".0" and Path+".1". Each holds frames
// (see journalMagic), written in Seq order from the start of the file. When
// the current file is full the journal turns to the other one. First
// the store must hold the other file's records and have flushed them,
// because they are about to be overwritten. So a record is always durable
// in the journal, in the store, or in both.
//
// Open moves into the store the records the journal holds and the store
// lacks: those of a node that stopped (killed, or a power cut) before
// its store had them. Each must follow the store's head and its chain,
// else Open refuses to start (the ledger was replaced or edited).
//
// Reads (Scan, Find, Checkpoints, …) first wait, for up to readWait,
// until the store holds every record journaled when they began. So a
// search made after a response finds its record. AddCheckpoint waits
// for the records its checkpoint covers, and fails after StoreWait
// rather than store the checkpoint ahead of them. While the store fails,
// nothing waits for it (waitStore).
type Journal struct {
	store JournalStore
	cfg   JournalConfig
	log   *slog.Logger
	hash  HashFunc

	// The writing side (AppendBuffered, under wmu): the two files, which
	// is current, where the next frame goes, and the last Seq each file
	// holds (0 when the store has flushed all it holds).
	wmu   sync.Mutex
	files [2]*os.File
	cur   int
	off   int64
	last  [2]int64
	frame []byte
	head  Head         // the last record journaled
	curF  atomic.Value // *os.File: the file Sync flushes
	seq   atomic.Int64 // head.Seq, read without wmu
	open  atomic.Bool  // Open has succeeded and Close not begun

	// The store's side: records journaled but not yet appended, what the
	// store holds and has flushed, and the appender's signals.
	mu        sync.Mutex
	pending   []Record
	spare     []Record // the last batch appended, cleared: pending's next array
	appended  int64
	synced    int64
	moved     chan struct{} // closed and replaced when appended or synced move
	urgent    bool          // a reader or a file turn waits: append without lingering
	appendErr error         // the store's last failure, until an append succeeds
	wake      chan struct{} // a record came (capacity 1)
	hurry     chan struct{} // append now: a full group, or someone waits (capacity 1)
	stop      chan struct{}
	done      chan struct{}
}

// JournalStore is what a Journal keeps its records in: a store that
// appends without flushing, and records its hash function.
type JournalStore interface {
	Store
	BufferedAppender
	HashRecorder
	RangeScanner
	Ping(ctx context.Context) error
	Close() error
}

// JournalConfig configures a Journal.
type JournalConfig struct {
	// Path names the journal's files: Path+".0" and Path+".1".
	Path string
	// Hash is the chain's hash function (the Writer's): Open checks with
	// it that journaled records follow the store's head.
	Hash string
	// SegmentSize is the size of each file, written (with zeros) when
	// the journal opens; DefaultJournalSegment. A file grows past it
	// only for a single group larger than it.
	SegmentSize int64
	// MaxBatch is how many records go into the store at most at a time;
	// DefaultMaxBatch.
	MaxBatch int
	// Linger is how long the journal waits, after a record, for more
	// before it appends them to the store; DefaultLinger.
	Linger time.Duration
	// StoreSyncEvery is how often the store is flushed while records
	// come, so that turning to the other file seldom waits for a flush;
	// a second.
	StoreSyncEvery time.Duration
	// StoreWait is how long AppendBuffered waits for a store that is
	// behind (journalMaxPending records waiting, or the other file's
	// records not yet flushed in it) before it fails as the store's own
	// append would; the Writer retries it. Five seconds.
	StoreWait time.Duration
	Logger    *slog.Logger
}

// Journal defaults.
const (
	DefaultJournalSegment = 16 << 20
	// journalMaxPending is how many records may wait for the store before
	// AppendBuffered waits for it (a store that has stopped taking
	// records holds the gateway back rather than the memory growing).
	journalMaxPending = 1 << 16
	// readWait is how long a read waits for the store to catch up with
	// the journal before it reads what the store holds.
	readWait = 5 * time.Second
)

// A journal frame: journalMagic, the payload's length and its CRC-32C
// (Castagnoli), each a big-endian uint32, then the payload: the records
// in their stored form (AppendStored), in Seq order.
const (
	journalMagic  = 0x6f626a31 // "obj1"
	journalHeader = 12
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// NewJournal returns a journal in front of store. It does no I/O: Open
// it (after opening store) before use.
func NewJournal(store JournalStore, cfg JournalConfig) (*Journal, error) {
	hf, err := LookupHash(cfg.Hash)
	if err != nil {
		return nil, err
	}
	if cfg.SegmentSize <= 0 {
		cfg.SegmentSize = DefaultJournalSegment
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	if cfg.Linger <= 0 {
		cfg.Linger = DefaultLinger
	}
	if cfg.StoreSyncEvery <= 0 {
		cfg.StoreSyncEvery = time.Second
	}
	if cfg.StoreWait <= 0 {
		cfg.StoreWait = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Journal{store: store, cfg: cfg, log: cfg.Logger, hash: hf,
		moved: make(chan struct{}), wake: make(chan struct{}, 1), hurry: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{})}, nil
}

// Open opens (or creates) the journal's files, moves into the store the
// records it lacks, and starts appending to the store.
func (j *Journal) Open(ctx context.Context) error {
	if err := j.openFiles(); err != nil {
		return err
	}
	head, err := j.recover(ctx)
	if err != nil {
		j.closeFiles()
		return err
	}
	j.head, j.appended, j.synced = head, head.Seq, head.Seq
	j.seq.Store(head.Seq)
	j.curF.Store(j.files[0])
	j.open.Store(true)
	go j.appender()
	return nil
}

// RecoverJournal moves into store the records a journal at cfg.Path holds
// and store lacks, if there is such a journal, and closes it: for a node
// that writes without one (async mode) after running with one.
func RecoverJournal(ctx context.Context, store JournalStore, cfg JournalConfig) error {
	if !JournalExists(cfg.Path) {
		return nil
	}
	j, err := NewJournal(store, cfg)
	if err != nil {
		return err
	}
	if err := j.openFiles(); err != nil {
		return err
	}
	defer j.closeFiles()
	_, err = j.recover(ctx)
	return err
}

// journalFile names a journal's file i (0 or 1).
func journalFile(path string, i int) string { return fmt.Sprintf("%s.%d", path, i) }

// JournalExists reports whether a journal was ever opened at path (a
// node ran alone in written or strict mode there).
func JournalExists(path string) bool {
	_, err := os.Stat(journalFile(path, 0))
	return err == nil
}

// JournalAhead returns how many records the journal at path holds past
// head, a store's head: records a stopped node moves into its store when
// it starts (a running node, within milliseconds). It only reads.
func JournalAhead(path string, head Head) (int64, error) {
	recs, err := ReadJournal(path, head.Seq)
	return int64(len(recs)), err
}

func (j *Journal) openFiles() error {
	created := false
	for i := range j.files {
		name := journalFile(j.cfg.Path, i)
		if _, err := os.Stat(name); errors.Is(err, os.ErrNotExist) {
			created = true
		}
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			j.closeFiles()
			return fmt.Errorf("audit journal: %w", err)
		}
		j.files[i] = f
		if err := reserve(f, j.cfg.SegmentSize); err != nil {
			j.closeFiles()
			return fmt.Errorf("audit journal: reserve %d bytes for %s: %w", j.cfg.SegmentSize, name, err)
		}
	}
	if created {
		if err := privfile.SyncDir(filepath.Dir(j.cfg.Path)); err != nil {
			j.closeFiles()
			return fmt.Errorf("audit journal: %w", err)
		}
	}
	return nil
}

// reserve makes f size bytes long, if it is shorter, by writing zeros
// after its end, and flushes them.
//
// So the journal's disk space is taken when the node starts: a full
// disk stops the start, not a response waiting for its record (on file
// systems that overwrite in place, as ext4 and XFS do; copy-on-write
// ones allocate anew for every write). And every frame after it
// overwrites blocks the file already has, so a flush writes the data
// alone: a frame appended past the end also makes fdatasync write the
// file's new size, through the file system's own journal.
//
// fallocate would reserve the blocks without writing them, but ext4 and
// XFS then mark them unwritten, and the first write to each changes that
// mark at its flush, which costs what an append does. Zeros end
// readJournal's scan.
func reserve(f *os.File, size int64) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() >= size {
		return nil
	}
	zeros := make([]byte, min(size-fi.Size(), 1<<20))
	for off := fi.Size(); off < size; {
		n, err := f.WriteAt(zeros[:min(int64(len(zeros)), size-off)], off)
		if err != nil {
			return err
		}
		off += int64(n)
	}
	return fdatasync(f)
}

func (j *Journal) closeFiles() {
	for i, f := range j.files {
		if f != nil {
			f.Close()
			j.files[i] = nil
		}
	}
}

// recover appends to the store, and flushes, the journaled records that
// follow its head, and returns the new head.
func (j *Journal) recover(ctx context.Context) (Head, error) {
	head, err := j.store.Head(ctx)
	if err != nil {
		return Head{}, fmt.Errorf("audit journal: %w", err)
	}
	lack, err := journalRecords(j.files[:], head.Seq)
	if err != nil {
		return Head{}, err
	}
	if len(lack) == 0 {
		return head, nil
	}
	c := newChain(j.hash)
	prev := head
	for i := range lack {
		r := &lack[i]
		if r.Seq != prev.Seq+1 || !bytes.Equal(c.digest(r), r.Digest) || !bytes.Equal(c.link(prev.Hash, r.Digest), r.Hash) {
			return Head{}, fmt.Errorf("audit journal %s.*: record %d does not follow the ledger's record %d: the ledger was replaced or edited while the node was stopped; move the journal's files aside to start without their records", j.cfg.Path, r.Seq, prev.Seq)
		}
		prev = Head{Seq: r.Seq, Hash: r.Hash}
	}
	for len(lack) > 0 {
		n := min(len(lack), j.cfg.MaxBatch)
		if err := j.store.AppendBuffered(ctx, lack[:n]); err != nil {
			return Head{}, fmt.Errorf("audit journal: move records into the ledger: %w", err)
		}
		lack = lack[n:]
	}
	if err := j.store.Sync(ctx); err != nil {
		return Head{}, fmt.Errorf("audit journal: %w", err)
	}
	j.log.Info("audit: records the ledger lacked moved in from the journal", "records", prev.Seq-head.Seq, "from_seq", head.Seq+1)
	return prev, nil
}

// journalRecords returns the records after Seq after that the journal's
// files hold, in Seq order: each file's run of frames, the runs sorted by
// their first record. A gap between them is left for the caller to find.
func journalRecords(files []*os.File, after int64) ([]Record, error) {
	var runs [][]Record
	for _, f := range files {
		if f == nil {
			continue
		}
		run, err := readJournal(f, after)
		if err != nil {
			return nil, err
		}
		if len(run) > 0 {
			runs = append(runs, run)
		}
	}
	sort.Slice(runs, func(a, b int) bool { return runs[a][0].Seq < runs[b][0].Seq })
	var recs []Record
	for _, run := range runs {
		recs = append(recs, run...)
	}
	return recs, nil
}

// ReadJournal returns the records after Seq after that the journal at
// path holds, in Seq order, as a node's start would move them into its
// store (Open), without checking that they chain on: Verify does
// (VerifyOptions.Journal). It only reads; a missing journal holds none.
func ReadJournal(path string, after int64) ([]Record, error) {
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	for i := range 2 {
		f, err := os.Open(journalFile(path, i))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("audit journal: %w", err)
		}
		files = append(files, f)
	}
	return journalRecords(files, after)
}

// readJournal returns the records after Seq after of f's frames from
// its start, up to the first frame that is torn, damaged, or does not
// follow the one before (a frame left from the file's earlier use), or
// the zeros that reserve wrote. It reads on from the start through a
// buffer, no further than the frames go, and decodes only the records
// it returns: a file holds up to 16 MiB of records, and at a start the
// store has nearly all of them.
func readJournal(f *os.File, after int64) ([]Record, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("audit journal: %w", err)
	}
	size := fi.Size()
	rd := bufio.NewReaderSize(io.NewSectionReader(f, 0, size), 1<<16)
	var recs []Record
	var hdr [journalHeader]byte
	var prev int64 // the last Seq of the frame before
	for off := int64(0); size-off >= journalHeader; {
		if _, err := io.ReadFull(rd, hdr[:]); err != nil {
			return nil, fmt.Errorf("audit journal: %w", err)
		}
		n := int64(binary.BigEndian.Uint32(hdr[4:]))
		if binary.BigEndian.Uint32(hdr[:]) != journalMagic || n > size-off-journalHeader {
			break
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(rd, payload); err != nil {
			return nil, fmt.Errorf("audit journal: %w", err)
		}
		if crc32.Checksum(payload, castagnoli) != binary.BigEndian.Uint32(hdr[8:]) {
			break
		}
		first, last, ok := frameSeqs(payload)
		if !ok || (prev != 0 && first != prev+1) {
			break
		}
		if last > after {
			var frame []Record
			if err := DecodeStored(payload, func(r *Record) error {
				if r.Seq > after {
					frame = append(frame, *r)
				}
				return nil
			}); err != nil {
				break
			}
			recs = append(recs, frame...)
		}
		prev = last
		off += journalHeader + n
	}
	return recs, nil
}

// frameSeqs returns the Seqs of the first and last records of a frame's
// payload, and whether it holds records whose stored forms parse.
func frameSeqs(payload []byte) (first, last int64, ok bool) {
	for b := payload; len(b) > 0; {
		seq, n, err := storedSeq(b)
		if err != nil {
			return 0, 0, false
		}
		if first == 0 {
			first = seq
		}
		last, b = seq, b[n:]
	}
	return first, last, first != 0
}

// AppendBuffered implements BufferedAppender: it writes recs to the
// journal, where Sync makes them durable, and hands them to the store.
func (j *Journal) AppendBuffered(ctx context.Context, recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	if !j.open.Load() {
		return obhub.Errorf(obhub.EUNAVAILABLE, "audit journal not open")
	}
	// A store that stops taking records holds the journal back (its
	// records wait in memory, and a file is overwritten only once the
	// store has them): after StoreWait, the append fails. The bound is
	// set only when a wait begins: a timer per append cost 2% of a busy
	// node's CPU.
	if err := j.roomFor(ctx); err != nil {
		return err
	}
	j.wmu.Lock()
	defer j.wmu.Unlock()
	if recs[0].Seq != j.head.Seq+1 {
		return obhub.Errorf(obhub.ECONFLICT, "audit journal: record %d does not follow the head %d", recs[0].Seq, j.head.Seq)
	}
	j.frame = appendFrame(j.frame[:0], recs)
	if j.off > 0 && j.off+int64(len(j.frame)) > j.cfg.SegmentSize {
		tctx, cancel := context.WithTimeout(ctx, j.cfg.StoreWait)
		err := j.turn(tctx)
		cancel()
		if err != nil {
			return err
		}
	}
	if _, err := j.files[j.cur].WriteAt(j.frame, j.off); err != nil {
		// The offset stays: the next frame overwrites whatever was written.
		return fmt.Errorf("audit journal: %w", err)
	}
	last := recs[len(recs)-1]
	j.off += int64(len(j.frame))
	j.last[j.cur] = last.Seq
	j.head = Head{Seq: last.Seq, Hash: last.Hash}
	j.seq.Store(last.Seq)

	j.mu.Lock()
	j.pending = append(j.pending, recs...)
	full := len(j.pending) >= j.cfg.MaxBatch
	j.mu.Unlock()
	signal(j.wake)
	if full {
		signal(j.hurry)
	}
	return nil
}

// appendFrame appends recs' frame to b.
func appendFrame(b []byte, recs []Record) []byte {
	start := len(b)
	b = binary.BigEndian.AppendUint32(b, journalMagic)
	b = append(b, 0, 0, 0, 0, 0, 0, 0, 0) // length and checksum, set below
	for i := range recs {
		b = AppendStored(b, &recs[i])
	}
	payload := b[start+journalHeader:]
	binary.BigEndian.PutUint32(b[start+4:], uint32(len(payload)))
	binary.BigEndian.PutUint32(b[start+8:], crc32.Checksum(payload, castagnoli))
	return b
}

// roomFor waits, for up to StoreWait, while journalMaxPending records
// wait for the store.
func (j *Journal) roomFor(ctx context.Context) error {
	room := func() bool { return len(j.pending) < journalMaxPending }
	j.mu.Lock()
	ok := room()
	j.mu.Unlock()
	if ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, j.cfg.StoreWait)
	defer cancel()
	return j.waitStore(ctx, false, room)
}

// waitStore waits until ready (called with mu held) holds, hurrying the
// appender (and, when urgent, without its linger). While the store fails
// it does not wait: what waits on it (an append, a turn, a read, a
// checkpoint) is told at once.
func (j *Journal) waitStore(ctx context.Context, urgent bool, ready func() bool) error {
	for {
		j.mu.Lock()
		if ready() {
			j.mu.Unlock()
			return nil
		}
		if err := j.appendErr; err != nil {
			j.mu.Unlock()
			return fmt.Errorf("audit journal: the ledger is not taking records: %w", err)
		}
		if urgent {
			j.urgent = true
		}
		moved := j.moved
		j.mu.Unlock()
		signal(j.hurry)
		select {
		case <-moved:
		case <-ctx.Done():
			return fmt.Errorf("audit journal: the ledger is behind: %w", ctx.Err())
		}
	}
}

// turn makes the other file current (wmu held): the current one's frames
// are flushed, and the other one's records must be flushed in the store
// before its frames are overwritten.
func (j *Journal) turn(ctx context.Context) error {
	next := 1 - j.cur
	if err := fdatasync(j.files[j.cur]); err != nil {
		return fmt.Errorf("audit journal: %w", err)
	}
	if err := j.storeFlushed(ctx, j.last[next]); err != nil {
		return err
	}
	j.cur, j.off, j.last[next] = next, 0, 0
	j.curF.Store(j.files[next])
	return nil
}

// Sync implements BufferedAppender: one fdatasync of the current file
// makes every frame written before it durable (turn flushed the other
// file's).
func (j *Journal) Sync(ctx context.Context) error {
	f, _ := j.curF.Load().(*os.File)
	if f == nil || !j.open.Load() {
		return obhub.Errorf(obhub.EUNAVAILABLE, "audit journal not open")
	}
	if err := fdatasync(f); err != nil {
		return fmt.Errorf("audit journal: %w", err)
	}
	return nil
}

// fdatasync flushes f's data, and of its metadata only what reading the
// data needs: a file overwritten in place needs none.
func fdatasync(f *os.File) error {
	for {
		err := unix.Fdatasync(int(f.Fd()))
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// Append implements Store: AppendBuffered, then Sync.
func (j *Journal) Append(ctx context.Context, recs []Record) error {
	if err := j.AppendBuffered(ctx, recs); err != nil {
		return err
	}
	return j.Sync(ctx)
}

// signal sends on a capacity-1 channel without waiting.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// advance records that the store holds (or has flushed) up to seq, and
// wakes those waiting for it (mu held).
func (j *Journal) advance(appended, synced int64) {
	j.appended = max(j.appended, appended)
	j.synced = max(j.synced, synced)
	close(j.moved)
	j.moved = make(chan struct{})
}

// appender appends journaled records to the store, in groups.
func (j *Journal) appender() {
	defer close(j.done)
	ctx := context.Background()
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	lastSync := time.Now()
	for {
		select {
		case <-j.wake:
		case <-j.hurry:
		case <-j.stop:
			j.appendPending(ctx, true)
			return
		}
		j.mu.Lock()
		wait := !j.urgent && len(j.pending) < j.cfg.MaxBatch
		j.mu.Unlock()
		if wait {
			linger.Reset(j.cfg.Linger)
			select {
			case <-linger.C:
			case <-j.hurry:
			case <-j.stop:
			}
			linger.Stop()
		}
		j.appendPending(ctx, false)
		if time.Since(lastSync) >= j.cfg.StoreSyncEvery {
			j.syncStore(ctx)
			lastSync = time.Now()
		}
	}
}

// appendPending appends every pending record to the store, retrying
// failures; once the journal is stopping (last), it gives up after a few
// attempts, the records left to the next Open.
func (j *Journal) appendPending(ctx context.Context, last bool) {
	j.mu.Lock()
	batch := j.pending
	j.pending, j.spare = j.spare, nil // the arrays take turns: no new one per batch
	j.urgent = false
	j.mu.Unlock()
	all := batch
	for attempt := 0; len(batch) > 0; {
		n := min(len(batch), j.cfg.MaxBatch)
		err := j.store.AppendBuffered(ctx, batch[:n])
		if err != nil {
			// The store may have taken the group before failing to answer.
			if h, herr := j.store.Head(ctx); herr == nil && h.Seq >= batch[n-1].Seq {
				err = nil
			}
		}
		if err == nil {
			j.mu.Lock()
			j.appendErr = nil
			j.advance(batch[n-1].Seq, 0)
			j.mu.Unlock()
			batch, attempt = batch[n:], 0
			continue
		}
		attempt++
		j.mu.Lock()
		j.appendErr = err
		j.mu.Unlock()
		if attempt&(attempt-1) == 0 { // 1, 2, 4, …: a trace, not a flood
			j.log.Error("audit: journaled records not yet in the ledger; retrying", "records", len(batch), "first_seq", batch[0].Seq, "err", err)
		}
		if last && attempt >= commitAttempts {
			j.log.Error("audit: journaled records left out of the ledger; the next start moves them in", "records", len(batch), "first_seq", batch[0].Seq)
			return
		}
		select {
		case <-time.After(retryDelay(attempt)):
		case <-j.stop:
			last = true
		}
	}
	// All appended: the array takes its next turn, unless a burst (the
	// store behind) made it large.
	if cap(all) <= 4*j.cfg.MaxBatch {
		clear(all) // without holding the records' strings
		j.mu.Lock()
		j.spare = all[:0]
		j.mu.Unlock()
	}
}

// syncStore flushes the store and records what the flush covered.
func (j *Journal) syncStore(ctx context.Context) error {
	j.mu.Lock()
	upTo := j.appended
	flushed := j.synced >= upTo
	j.mu.Unlock()
	if flushed {
		return nil
	}
	if err := j.store.Sync(ctx); err != nil {
		j.log.Error("audit: ledger flush failed", "err", err)
		return fmt.Errorf("audit journal: flush the ledger: %w", err)
	}
	j.mu.Lock()
	j.advance(0, upTo)
	j.mu.Unlock()
	return nil
}

// caughtUp waits until the store holds every record up to seq.
func (j *Journal) caughtUp(ctx context.Context, seq int64) error {
	return j.waitStore(ctx, true, func() bool { return j.appended >= seq })
}

// storeFlushed waits until the store has flushed every record up to seq.
func (j *Journal) storeFlushed(ctx context.Context, seq int64) error {
	if err := j.caughtUp(ctx, seq); err != nil {
		return err
	}
	j.mu.Lock()
	done := j.synced >= seq
	j.mu.Unlock()
	if done {
		return nil
	}
	return j.syncStore(ctx)
}

// forRead waits, for up to readWait, until the store holds every record
// journaled so far.
func (j *Journal) forRead(ctx context.Context) {
	if !j.open.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, readWait)
	defer cancel()
	_ = j.caughtUp(ctx, j.seq.Load()) // on time-out, read what the store holds
}

// Head implements Store: the last record journaled.
func (j *Journal) Head(ctx context.Context) (Head, error) {
	if !j.open.Load() {
		return j.store.Head(ctx)
	}
	j.wmu.Lock()
	defer j.wmu.Unlock()
	return j.head, nil
}

// Scan implements Store.
func (j *Journal) Scan(ctx context.Context, from int64, fn func(*Record) error) error {
	j.forRead(ctx)
	return j.store.Scan(ctx, from, fn)
}

// ScanRange implements RangeScanner.
func (j *Journal) ScanRange(ctx context.Context, from, to int64, fn func(*Record) error) error {
	j.forRead(ctx)
	return j.store.ScanRange(ctx, from, to, fn)
}

// Find implements Store.
func (j *Journal) Find(ctx context.Context, f Filter, fn func(*Record) error) error {
	j.forRead(ctx)
	return j.store.Find(ctx, f, fn)
}

// AddCheckpoint implements Store, once the store holds the records c
// covers; it fails after StoreWait if the store does not take them (the
// Writer signs a checkpoint again later).
func (j *Journal) AddCheckpoint(ctx context.Context, c Checkpoint) error {
	ctx, cancel := context.WithTimeout(ctx, j.cfg.StoreWait)
	defer cancel()
	if err := j.caughtUp(ctx, c.Seq); err != nil {
		return err
	}
	return j.store.AddCheckpoint(ctx, c)
}

// Checkpoints implements Store.
func (j *Journal) Checkpoints(ctx context.Context) ([]Checkpoint, error) {
	j.forRead(ctx)
	return j.store.Checkpoints(ctx)
}

// Purge implements Store.
func (j *Journal) Purge(ctx context.Context, category string, before time.Time) (int64, error) {
	return j.store.Purge(ctx, category, before)
}

// ChainHash implements HashRecorder.
func (j *Journal) ChainHash(ctx context.Context) (string, error) { return j.store.ChainHash(ctx) }

// SetChainHash implements HashRecorder.
func (j *Journal) SetChainHash(ctx context.Context, name string) error {
	return j.store.SetChainHash(ctx, name)
}

// Ping reports whether the store answers and takes the journal's
// records.
func (j *Journal) Ping(ctx context.Context) error {
	if err := j.store.Ping(ctx); err != nil {
		return err
	}
	j.mu.Lock()
	err := j.appendErr
	j.mu.Unlock()
	if err != nil {
		return fmt.Errorf("audit journal: the ledger is not taking records: %w", err)
	}
	return nil
}

// Lag returns how many journaled records the store does not hold yet.
func (j *Journal) Lag() int64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.seq.Load() - j.appended
}

// Close appends what the store lacks, flushes it, and closes the journal
// and the store. Call it after the Writer's Close.
func (j *Journal) Close() error {
	var errs []error
	if j.open.Swap(false) {
		close(j.stop)
		<-j.done
		errs = append(errs, j.syncStore(context.Background()))
		j.wmu.Lock()
		j.closeFiles()
		j.wmu.Unlock()
	}
	errs = append(errs, j.store.Close())
	return errors.Join(errs...)
}
