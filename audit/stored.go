package audit

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// A record's stored form, for stores that keep records packed together
// (store/sqlite keeps a group commit's records as one block): its
// canonical encoding (AppendEncoding, which carries every recorded field,
// Seq and Time included) prefixed by its length, then a flags byte, then
// Digest and Hash, each prefixed by its length. A purged record's
// encoding is that of the record with only Seq, Time and Category left,
// so nothing of its content remains in the store. Packing records this way
// costs a store one write per group instead of one row and several index
// entries per record (docs/performance.md).
const storedPurged = 1 // flags: the record was purged

// ErrStoredForm is returned when stored records do not decode: the store
// was damaged or edited by hand. Verify reports such a ledger as bad.
var ErrStoredForm = errors.New("audit: stored records do not decode")

// AppendStored appends r's stored form to b.
func AppendStored(b []byte, r *Record) []byte {
	var flags byte
	src := r
	if r.Purged {
		flags |= storedPurged
		src = &Record{Seq: r.Seq, Time: r.Time, Category: r.Category}
	}
	start := len(b)
	b = append(b, 0, 0, 0, 0) // the encoding's length, set below
	b = src.AppendEncoding(b)
	binary.BigEndian.PutUint32(b[start:], uint32(len(b)-start-4))
	b = append(b, flags)
	b = binary.AppendUvarint(b, uint64(len(r.Digest)))
	b = append(b, r.Digest...)
	b = binary.AppendUvarint(b, uint64(len(r.Hash)))
	return append(b, r.Hash...)
}

// DecodeStored calls fn for each record stored in b, in order. The
// Record passed to fn is reused for the next one, and its Digest and Hash
// point into b: fn must copy what it keeps. An error from fn stops the
// decoding and is returned.
func DecodeStored(b []byte, fn func(*Record) error) error {
	var r Record
	for len(b) > 0 {
		rest, err := decodeStored(b, &r)
		if err != nil {
			return err
		}
		b = rest
		if err := fn(&r); err != nil {
			return err
		}
	}
	return nil
}

// storedForm is a record's stored form, split into its parts.
type storedForm struct {
	enc          []byte // the canonical encoding
	flags        byte
	digest, hash []byte
}

// splitStored splits the stored form at the start of b into its parts
// and returns the bytes after it.
func splitStored(b []byte) (f storedForm, rest []byte, err error) {
	if len(b) < 4 {
		return f, nil, ErrStoredForm
	}
	n := int64(binary.BigEndian.Uint32(b))
	b = b[4:]
	if n >= int64(len(b)) { // the encoding, then at least the flags
		return f, nil, ErrStoredForm
	}
	f.enc, f.flags, b = b[:n], b[n], b[n+1:]
	var ok bool
	if f.digest, b, ok = lengthPrefixed(b); !ok {
		return f, nil, ErrStoredForm
	}
	if f.hash, b, ok = lengthPrefixed(b); !ok {
		return f, nil, ErrStoredForm
	}
	return f, b, nil
}

// decodeStored decodes one record from the start of b into r and
// returns the bytes after it.
func decodeStored(b []byte, r *Record) ([]byte, error) {
	f, rest, err := splitStored(b)
	if err != nil {
		return nil, err
	}
	if err := r.decodeEncoding(f.enc); err != nil {
		return nil, err
	}
	r.Purged = f.flags&storedPurged != 0
	r.Digest, r.Hash = f.digest, f.hash
	return rest, nil
}

// storedSeq returns the Seq of the record whose stored form begins b,
// and that form's length, without decoding its other fields: for a
// reader that skips the records it has.
func storedSeq(b []byte) (seq int64, n int, err error) {
	f, rest, err := splitStored(b)
	if err != nil {
		return 0, 0, err
	}
	d := decoder{b: f.enc}
	if v := d.byte(); v != encodingV1 && v != encodingV2 {
		return 0, 0, ErrStoredForm
	}
	if seq = d.varint(); d.bad {
		return 0, 0, ErrStoredForm
	}
	return seq, len(b) - len(rest), nil
}

func lengthPrefixed(b []byte) (v, rest []byte, ok bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return nil, nil, false
	}
	return b[k : k+int(n) : k+int(n)], b[k+int(n):], true
}

// decodeEncoding is AppendEncoding's inverse: it sets every recorded
// field of r from enc (Purged, Digest and Hash are not part of it).
func (r *Record) decodeEncoding(enc []byte) error {
	d := decoder{b: enc}
	version := d.byte()
	if version != encodingV1 && version != encodingV2 {
		return fmt.Errorf("%w: record encoding version %d", ErrStoredForm, version)
	}
	r.Seq = d.varint()
	r.Time = time.Unix(0, d.varint()).UTC()
	for _, f := range [...]*string{&r.Category, &r.RequestID, &r.Bank, &r.API, &r.Operation, &r.Method, &r.Path, &r.Query,
		&r.ClientID, &r.Partner, &r.Environment, &r.Decision, &r.Reason, &r.Actor, &r.Object, &r.Before, &r.After} {
		*f = d.string()
	}
	r.Status = int(d.varint())
	r.Latency = time.Duration(d.varint()) * time.Microsecond
	r.Revision = d.varint()
	r.RequestBody, r.ResponseBody = "", ""
	if version == encodingV2 {
		r.RequestBody = d.string()
		r.ResponseBody = d.string()
	}
	if d.bad || len(d.b) != 0 {
		return ErrStoredForm
	}
	return nil
}

// decoder reads AppendEncoding's fields; a read past the end or a bad
// varint sets bad and returns zero values from then on.
type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) byte() byte {
	if d.bad || len(d.b) == 0 {
		d.bad = true
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) varint() int64 {
	if d.bad {
		return 0
	}
	v, k := binary.Varint(d.b)
	if k <= 0 {
		d.bad = true
		return 0
	}
	d.b = d.b[k:]
	return v
}

func (d *decoder) string() string {
	if d.bad {
		return ""
	}
	n, k := binary.Uvarint(d.b)
	if k <= 0 || n > uint64(len(d.b)-k) {
		d.bad = true
		return ""
	}
	s := string(d.b[k : k+int(n)])
	d.b = d.b[k+int(n):]
	return s
}
