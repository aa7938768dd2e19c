package policies

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
)

// go-redis's own lines reach the node's log as one JSON record each, not
// as plain text beside it.
func TestRedisClientLogsThroughSlog(t *testing.T) {
	var buf bytes.Buffer
	l := redisLog{slog.New(slog.NewJSONHandler(&buf, nil))}
	l.Printf(context.Background(), "redis: %s:%d: connection pool: failed to dial after %d attempts", "pool.go", 770, 5)
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("not one JSON record: %q: %v", buf.String(), err)
	}
	if rec["level"] != "WARN" || rec["msg"] != "redis client" || rec["detail"] != "pool.go:770: connection pool: failed to dial after 5 attempts" {
		t.Errorf("record %v", rec)
	}
}
