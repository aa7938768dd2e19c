package audit

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"
)

func storedSample() []Record {
	base := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	recs := []Record{
		{Time: base, Category: CategoryAccess, RequestID: "req-1", Bank: "qingshan-rcb", API: "accounts", Operation: "listAccounts",
			Method: "GET", Path: "/qingshan-rcb/accounts/v1/accounts", Query: "page=1", ClientID: "c1", Partner: "agrifin",
			Environment: "production", Status: 200, Latency: 1234 * time.Microsecond, Decision: DecisionAllow, Revision: 7},
		{Time: base.Add(time.Second), Category: CategoryAdmin, Actor: "admin", Object: "apis/accounts", Before: `{"a":1}`, After: `{"a":2}`, Status: 200},
		{Time: base.Add(2 * time.Second), Category: CategoryAccess, RequestID: "req-3", Environment: "sandbox", Status: 201,
			RequestBody: `{"amount":"1.00"}`, ResponseBody: `{"ok":true}`, Decision: DecisionAllow},
		{Time: base.Add(3 * time.Second), Category: CategoryAccess, RequestID: "req-4", Partner: "farmpay", Status: 401, Decision: DecisionDeny, Reason: "token_missing"},
	}
	SealAfter(recs, Head{}, DefaultHash)
	return recs
}

// Every recorded field, the chain's digest and hash, and captured bodies
// come back as they went in; a purged record keeps only what the chain
// needs.
func TestStoredFormRoundTrip(t *testing.T) {
	recs := storedSample()
	recs[3].Purged = true
	var b []byte
	for i := range recs {
		b = AppendStored(b, &recs[i])
	}
	var got []Record
	if err := DecodeStored(b, func(r *Record) error {
		c := *r
		c.Digest, c.Hash = bytes.Clone(r.Digest), bytes.Clone(r.Hash)
		got = append(got, c)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(recs) {
		t.Fatalf("%d records decoded, want %d", len(got), len(recs))
	}
	for i := range 3 {
		if !reflect.DeepEqual(got[i], recs[i]) {
			t.Errorf("record %d:\n got %+v\nwant %+v", i, got[i], recs[i])
		}
	}
	p := got[3]
	want := Record{Seq: recs[3].Seq, Time: recs[3].Time, Category: recs[3].Category, Purged: true, Digest: recs[3].Digest, Hash: recs[3].Hash}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("purged record:\n got %+v\nwant %+v", p, want)
	}
	if bytes.Contains(b, []byte("farmpay")) || bytes.Contains(b, []byte("token_missing")) {
		t.Error("the purged record's content is still in the stored bytes")
	}
}

// Damaged or hand-edited bytes are refused with ErrStoredForm, never
// misread into a record that looks whole.
func TestStoredFormRefusesDamage(t *testing.T) {
	recs := storedSample()
	var b []byte
	for i := range recs {
		b = AppendStored(b, &recs[i])
	}
	for _, cut := range []int{1, 3, 10, len(b) / 2, len(b) - 1} {
		err := DecodeStored(b[:cut], func(*Record) error { return nil })
		if !errors.Is(err, ErrStoredForm) {
			t.Errorf("cut at %d of %d bytes: %v, want ErrStoredForm", cut, len(b), err)
		}
	}
	bad := bytes.Clone(b)
	bad[4] = 9 // the first record's encoding version
	if err := DecodeStored(bad, func(*Record) error { return nil }); !errors.Is(err, ErrStoredForm) {
		t.Errorf("unknown encoding version: %v", err)
	}
}

func FuzzDecodeStored(f *testing.F) {
	recs := storedSample()
	var b []byte
	for i := range recs {
		b = AppendStored(b, &recs[i])
	}
	f.Add(b)
	f.Add([]byte{0, 0, 0, 1, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		// Whatever the bytes, decoding ends with records or an error.
		_ = DecodeStored(b, func(r *Record) error {
			if r.Digest != nil && cap(r.Digest) != len(r.Digest) {
				t.Fatal("Digest may be appended to past its end")
			}
			return nil
		})
		// Where a record decodes, storedSeq (the journal's reader
		// skipping records) finds the same Seq and the same end.
		var r Record
		if rest, err := decodeStored(b, &r); err == nil {
			seq, n, err := storedSeq(b)
			if err != nil || seq != r.Seq || n != len(b)-len(rest) {
				t.Fatalf("storedSeq = %d, %d, %v; decodeStored read Seq %d in %d bytes", seq, n, err, r.Seq, len(b)-len(rest))
			}
		}
	})
}
