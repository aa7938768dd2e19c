package admin

import (
	"encoding/base64"
	"testing"
	"time"

	"github.com/obhub/obhub/audit"
)

// A page's cursor names the last record: its Seq on a single node; its
// time, chain and Seq on a cluster's ledger, whose chains' Seqs overlap.
func TestAuditCursorRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 28, 9, 30, 0, 123456789, time.UTC)
	single := &recordView{Record: &audit.Record{Seq: 42, Time: at}}
	cluster := &recordView{Record: &audit.Record{Seq: 42, Time: at, Chain: "node:b-7"}}
	var f audit.Filter
	if !readAuditCursor(base64.RawURLEncoding.EncodeToString([]byte(auditCursor(single))), &f) || f.BeforeSeq != 42 || f.Before != nil {
		t.Errorf("single node cursor read as %+v", f)
	}
	f = audit.Filter{}
	if !readAuditCursor(base64.RawURLEncoding.EncodeToString([]byte(auditCursor(cluster))), &f) || f.Before == nil ||
		!f.Before.Time.Equal(at) || f.Before.Chain != "node:b-7" || f.Before.Seq != 42 || f.BeforeSeq != 0 {
		t.Errorf("cluster cursor read as %+v (%+v)", f, f.Before)
	}
	for _, bad := range []string{"", "0", "-3", "t1:2", "t1:x:n", "tx:1:n", "t1:1:"} {
		f = audit.Filter{}
		if readAuditCursor(base64.RawURLEncoding.EncodeToString([]byte(bad)), &f) {
			t.Errorf("cursor %q accepted: %+v", bad, f)
		}
	}
}
