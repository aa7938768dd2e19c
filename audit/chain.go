package audit

import (
	"crypto/sha256"
	"fmt"
	"hash"

	"github.com/emmansun/gmsm/sm3"
)

// DefaultHash is the chain's hash function unless configured otherwise.
const DefaultHash = "sha256"

// hashes are the chain hash functions by name: SHA-256, and SM3
// (GB/T 32905) from github.com/emmansun/gmsm. A ledger records the one
// it is chained with (HashRecorder).
var hashes = map[string]HashFunc{
	"sha256": sha256.New,
	"sm3":    sm3.New,
}

// LookupHash returns the hash function called name.
func LookupHash(name string) (HashFunc, error) {
	if name == "" {
		name = DefaultHash
	}
	h, ok := hashes[name]
	if !ok {
		return nil, fmt.Errorf("audit: unknown hash function %q", name)
	}
	return h, nil
}

func hashName(n string) string {
	if n == "" {
		return DefaultHash
	}
	return n
}

// chain computes digests and chain hashes with one hash function.
type chain struct {
	h   hash.Hash
	buf []byte
}

func newChain(f HashFunc) *chain { return &chain{h: f()} }

// digest returns the hash of r's encoding.
func (c *chain) digest(r *Record) []byte {
	c.buf = r.AppendEncoding(c.buf[:0])
	c.h.Reset()
	c.h.Write(c.buf)
	return c.h.Sum(nil)
}

// link returns the chain hash following prev for a record's digest.
func (c *chain) link(prev, digest []byte) []byte {
	c.h.Reset()
	c.h.Write(prev)
	c.h.Write(digest)
	return c.h.Sum(nil)
}

// seal sets r.Seq, r.Digest and r.Hash to follow prev.
func (c *chain) seal(r *Record, seq int64, prev []byte) {
	r.Seq = seq
	r.Digest = c.digest(r)
	r.Hash = c.link(prev, r.Digest)
}

// Result is the outcome of Verify.
type Result struct {
	OK          bool  `json:"ok"`
	Records     int64 `json:"records"`
	Purged      int64 `json:"purged"`
	Checkpoints int   `json:"checkpoints"`
	// JournalOnly counts the records, among Records, that only the
	// journal held (VerifyOptions.Journal).
	JournalOnly int64 `json:"journalOnly,omitempty"`
	FirstBad    *Bad  `json:"firstBad,omitempty"`
}

// Bad names the first record at which the ledger stops verifying.
type Bad struct {
	Seq       int64  `json:"seq"`
	RequestID string `json:"requestId,omitempty"`
	Problem   string `json:"problem"`
	// InJournal is set when the record is one only the journal holds.
	InJournal bool `json:"inJournal,omitempty"`
}

// VerifyOptions configures Verify.
type VerifyOptions struct {
	Hash string // the chain's hash function; DefaultHash when ""
	// Keys verify checkpoint signatures. With none, checkpoints are not
	// checked (and the result says so through Checkpoints == 0).
	Keys *KeyRing
	// Journal, when set, names a journal (JournalConfig.Path) whose
	// records past the store's last one are verified too, as continuing
	// its chain: a stopped node's records that its store lacks and its
	// next start moves in. A gap between the store and them fails.
	Journal string
}

// SealAfter chains recs in place to follow head (numbering them from
// head.Seq+1) with the named hash function, and returns the new head. It
// is for tools and tests that build ledgers directly; the Writer seals
// what it writes.
func SealAfter(recs []Record, head Head, hashName string) Head {
	hf, err := LookupHash(hashName)
	if err != nil {
		panic(err)
	}
	c := newChain(hf)
	for i := range recs {
		recs[i].normalise()
		c.seal(&recs[i], head.Seq+1, head.Hash)
		head = Head{Seq: recs[i].Seq, Hash: recs[i].Hash}
	}
	return head
}

// Reseal recomputes the digests and hashes of recs, in order, keeping
// their Seq: what an intruder who rewrites a ledger would do. Only signed
// checkpoints catch the result.
func Reseal(recs []Record, hashName string) []Record {
	hf, err := LookupHash(hashName)
	if err != nil {
		panic(err)
	}
	c := newChain(hf)
	var prev []byte
	for i := range recs {
		if !recs[i].Purged {
			recs[i].Digest = c.digest(&recs[i])
		}
		recs[i].Hash = c.link(prev, recs[i].Digest)
		prev = recs[i].Hash
	}
	return recs
}
