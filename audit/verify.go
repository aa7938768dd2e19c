package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sort"
	"sync"
)

// RangeScanner is a Store that can scan part of the chain: the records
// with from <= Seq < to, in Seq order. Verify reads such a store with
// several connections at once.
type RangeScanner interface {
	ScanRange(ctx context.Context, from, to int64, fn func(r *Record) error) error
}

// verifyChunk is how many records one parallel worker reads at a time.
const verifyChunk = 25000

// entry is what the linking pass needs of one record.
type entry struct {
	seq       int64
	purged    bool
	digestOK  bool
	requestID string // only when !digestOK
	digest    []byte
	hash      []byte
}

// errStop ends a scan at the first bad record.
var errStop = errors.New("stop")

// Verify walks the whole chain from the first record: each record's
// digest must match its content (else edited), its Seq the one before
// plus one (else deleted or inserted), its hash the link from the one
// before (else reordered, inserted or edited), and every signed
// checkpoint must match the chain at its Seq (else rebuilt) and lie
// within it (else truncated). With opt.Journal, the journal's records
// past the store's last one are linked after it, and a gap between the
// two fails. It reports the first bad record.
func Verify(ctx context.Context, s Store, opt VerifyOptions) (Result, error) {
	if opt.Hash == "" {
		name, err := RecordedHash(ctx, s) // hashrecord.go
		if err != nil {
			return Result{}, fmt.Errorf("audit verify: %w", err)
		}
		opt.Hash = name
	}
	hf, err := LookupHash(opt.Hash)
	if err != nil {
		return Result{}, err
	}
	var res Result
	var cps []Checkpoint
	if opt.Keys != nil {
		if cps, err = s.Checkpoints(ctx); err != nil {
			return Result{}, fmt.Errorf("audit verify: %w", err)
		}
		sort.Slice(cps, func(i, j int) bool { return cps[i].Seq < cps[j].Seq })
		for _, cp := range cps {
			if !opt.Keys.Verify(&cp) {
				res.FirstBad = &Bad{Seq: cp.Seq, Problem: "checkpoint at this record has an invalid signature"}
				return res, nil
			}
			if cp.Algorithm != "" && cp.Algorithm != hashName(opt.Hash) {
				res.FirstBad = &Bad{Seq: cp.Seq, Problem: "checkpoint was made with hash function " + cp.Algorithm}
				return res, nil
			}
		}
	}
	res.Checkpoints = len(cps)

	l := linker{res: &res, cps: cps, c: newChain(hf), want: 1}
	rs, parallel := s.(RangeScanner)
	if parallel {
		err = verifyParallel(ctx, s, rs, hf, &l)
	} else {
		c := newChain(hf)
		err = s.Scan(ctx, math.MinInt64, func(r *Record) error {
			return l.add(digestEntry(c, r))
		})
	}
	if err == nil && opt.Journal != "" {
		err = verifyJournal(ctx, s, opt.Journal, hf, &l)
	}
	switch {
	case errors.Is(err, errStop):
		if res.FirstBad.RequestID == "" && res.FirstBad.Seq > 0 && !res.FirstBad.InJournal {
			res.FirstBad.RequestID = requestIDAt(ctx, s, res.FirstBad.Seq)
		}
		return res, nil
	case err != nil:
		return Result{}, fmt.Errorf("audit verify: %w", err)
	}
	if l.next < len(cps) {
		last := cps[len(cps)-1]
		res.FirstBad = &Bad{Seq: l.want, Problem: fmt.Sprintf("the chain ends at record %d but a signed checkpoint covers %d records (truncated)", l.want-1, last.Seq)}
		return res, nil
	}
	res.OK = true
	return res, nil
}

// verifyJournal links, after the store's records, those the journal at
// path holds past them. On a running node the store takes records behind
// the journal, which may overwrite them meanwhile: a gap between the two
// is first read again from the store, a few times.
func verifyJournal(ctx context.Context, s Store, path string, hf HashFunc, l *linker) error {
	c := newChain(hf)
	for attempt := 0; ; attempt++ {
		recs, err := ReadJournal(path, l.want-1)
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			return nil
		}
		if first := recs[0].Seq; first > l.want {
			n := l.res.Records
			if attempt < 3 {
				if err := s.Scan(ctx, l.want, func(r *Record) error { return l.add(digestEntry(c, r)) }); err != nil {
					return err
				}
			}
			if l.res.Records > n {
				continue
			}
			l.fail(first, recs[0].RequestID, fmt.Sprintf("records %d to %d are in neither the ledger nor the journal (the ledger's tail was cut)", l.want, first-1))
			l.res.FirstBad.InJournal = true
			return errStop
		}
		for i := range recs {
			r := &recs[i]
			if err := l.add(digestEntry(c, r)); err != nil {
				if bad := l.res.FirstBad; bad != nil && bad.Seq == r.Seq {
					bad.InJournal = true
					if bad.RequestID == "" {
						bad.RequestID = r.RequestID
					}
				}
				return err
			}
			l.res.JournalOnly++
		}
		return nil
	}
}

// requestIDAt returns the request id of the record at seq, "" if none.
func requestIDAt(ctx context.Context, s Store, seq int64) string {
	var id string
	_ = s.Scan(ctx, seq, func(r *Record) error {
		if r.Seq == seq {
			id = r.RequestID
		}
		return errStop
	})
	return id
}

func digestEntry(c *chain, r *Record) entry {
	e := entry{seq: r.Seq, purged: r.Purged, digest: r.Digest, hash: r.Hash, digestOK: true}
	if !r.Purged && !bytes.Equal(c.digest(r), r.Digest) {
		e.digestOK, e.requestID = false, r.RequestID
	}
	return e
}

// linker is the sequential pass: sequence numbers, chain hashes and
// checkpoints.
type linker struct {
	res  *Result
	cps  []Checkpoint
	c    *chain
	prev []byte
	want int64
	next int // the next checkpoint to meet
}

func (l *linker) fail(seq int64, requestID, problem string) error {
	l.res.FirstBad = &Bad{Seq: seq, RequestID: requestID, Problem: problem}
	return errStop
}

func (l *linker) add(e entry) error {
	if e.seq != l.want {
		if e.seq > l.want {
			return l.fail(e.seq, e.requestID, fmt.Sprintf("records %d to %d are missing (deleted)", l.want, e.seq-1))
		}
		return l.fail(e.seq, e.requestID, fmt.Sprintf("record number %d is out of sequence (inserted)", e.seq))
	}
	if !e.digestOK {
		return l.fail(e.seq, e.requestID, "content does not match its digest (edited, inserted or moved)")
	}
	h := l.c.link(l.prev, e.digest)
	if !bytes.Equal(h, e.hash) {
		return l.fail(e.seq, "", "chain hash does not follow from the record before (edited, inserted, deleted or reordered)")
	}
	for l.next < len(l.cps) && l.cps[l.next].Seq == e.seq {
		if !bytes.Equal(l.cps[l.next].Hash, h) {
			return l.fail(e.seq, "", "chain differs from the signed checkpoint at this record (rebuilt)")
		}
		l.next++
	}
	if l.next < len(l.cps) && l.cps[l.next].Seq < e.seq {
		return l.fail(l.cps[l.next].Seq, "", "checkpoint names a record that is not in the chain")
	}
	l.res.Records++
	if e.purged {
		l.res.Purged++
	}
	l.prev, l.want = h, l.want+1
	return nil
}

// verifyParallel reads the chain in chunks on several workers, which
// check digests, and links the chunks in order.
func verifyParallel(ctx context.Context, s Store, rs RangeScanner, hf HashFunc, l *linker) error {
	head, err := s.Head(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	workers := max(2, runtime.GOMAXPROCS(0))
	nChunks := int(head.Seq/verifyChunk) + 1
	type chunk struct {
		entries []entry
		err     error
	}
	results := make([]chan chunk, nChunks)
	for i := range results {
		results[i] = make(chan chunk, 1)
	}
	sem := make(chan struct{}, workers*2) // chunks read ahead of the linker, at most
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range nChunks {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			from, to := int64(i)*verifyChunk, int64(i+1)*verifyChunk
			if i == 0 {
				from = math.MinInt64
			}
			if i == nChunks-1 {
				to = math.MaxInt64
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := newChain(hf)
				var out chunk
				out.err = rs.ScanRange(ctx, from, to, func(r *Record) error {
					out.entries = append(out.entries, digestEntry(c, r))
					return nil
				})
				results[i] <- out
			}()
		}
	}()
	for i := range nChunks {
		var ch chunk
		select {
		case ch = <-results[i]:
		case <-ctx.Done():
			return ctx.Err()
		}
		<-sem
		if ch.err != nil {
			return ch.err
		}
		for _, e := range ch.entries {
			if err := l.add(e); err != nil {
				return err
			}
		}
	}
	return nil
}
