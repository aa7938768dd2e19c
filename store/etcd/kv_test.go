package etcd_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/config"
	"github.com/obhub/obhub/config/configtest"
	"github.com/obhub/obhub/store/etcd"
	"github.com/obhub/obhub/store/etcd/etcdtest"
)

// server is the one etcd every test of this binary shares; each test
// works under its own key prefix, so it starts from an empty store.
var server *etcdtest.Server

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "obhub-etcd-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	server, err = etcdtest.New(dir)
	if err == nil {
		err = server.Start()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	server.Stop()
	os.RemoveAll(dir)
	os.Exit(code)
}

var namespaces atomic.Int64

// open returns a KV on the shared server under a fresh prefix.
func open(t testing.TB, opts etcd.Options) *etcd.KV {
	t.Helper()
	if opts.Prefix == "" {
		opts.Prefix = fmt.Sprintf("/test-%d", namespaces.Add(1))
	}
	kv := etcd.New(server.Endpoints(), opts)
	if err := kv.Open(t.Context()); err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := kv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return kv
}

func TestKV(t *testing.T) {
	configtest.Run(t, func(t *testing.T) config.KV { return open(t, etcd.Options{}) })
}

func TestOversizedValueIsTooLarge(t *testing.T) {
	kv := open(t, etcd.Options{})
	big := make([]byte, etcdtest.MaxRequestBytes+1)
	rand.Read(big)
	_, err := kv.Txn(t.Context(), config.Put("/big", big, config.Any))
	if code := obhub.ErrorCode(err); code != obhub.ETOOLARGE {
		t.Fatalf("Txn of %d bytes: error %v (code %q), want %q", len(big), err, code, obhub.ETOOLARGE)
	}
}

func TestPrefixesAreSeparate(t *testing.T) {
	a := open(t, etcd.Options{Prefix: "/hub-a"})
	b := open(t, etcd.Options{Prefix: "/hub-b"})
	if _, err := a.Txn(t.Context(), config.Put("/k", []byte("a"), config.Absent)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(t.Context(), "/k"); obhub.ErrorCode(err) != obhub.ENOTFOUND {
		t.Errorf("Get on another prefix: %v, want not found", err)
	}
	l, err := a.List(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(l.KVs) != 1 || l.KVs[0].Key != "/k" || !bytes.Equal(l.KVs[0].Value, []byte("a")) {
		t.Errorf("List = %+v, want only /k=a without the prefix", l.KVs)
	}
}

// TestOutage stops and restarts a dedicated etcd: calls fail fast with
// EUNAVAILABLE while it is down, and a watch opened before the outage
// delivers the changes made after it, without a gap.
func TestOutage(t *testing.T) {
	srv := etcdtest.Start(t)
	kv := etcd.New(srv.Endpoints(), etcd.Options{ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond})
	if err := kv.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer kv.Close()
	r1, err := kv.Txn(t.Context(), config.Put("/w/a", []byte("1"), config.Any))
	if err != nil {
		t.Fatal(err)
	}
	ch := kv.Watch(t.Context(), "/w/", r1+1)

	srv.Stop()
	start := time.Now()
	_, err = kv.Txn(t.Context(), config.Put("/w/b", []byte("2"), config.Any))
	if code := obhub.ErrorCode(err); code != obhub.EUNAVAILABLE {
		t.Errorf("Txn while etcd is down: %v (code %q), want %q", err, code, obhub.EUNAVAILABLE)
	}
	// Once a call found etcd unreachable, the next ones do not wait for
	// their deadline: an admin request reading several objects answers
	// after one.
	second := time.Now()
	for range 5 {
		if _, err := kv.Get(t.Context(), "/w/a"); obhub.ErrorCode(err) != obhub.EUNAVAILABLE {
			t.Errorf("Get while etcd is down: %v, want %q", err, obhub.EUNAVAILABLE)
		}
	}
	if d := time.Since(second); d > 400*time.Millisecond {
		t.Errorf("five reads after the first failure took %v, want them at once (the read deadline is 500ms)", d)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("failing calls took %v, want them to fail fast", d)
	}

	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	var r2 int64
	deadline := time.Now().Add(10 * time.Second)
	for {
		r2, err = kv.Txn(t.Context(), config.Put("/w/c", []byte("3"), config.Any))
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond) // one call a second reaches etcd (etcd.ProbeInterval)
	}
	if err != nil {
		t.Fatalf("Txn after etcd came back: %v", err)
	}
	select {
	case resp := <-ch:
		if resp.Err != nil || resp.Revision != r2 || len(resp.Events) != 1 || resp.Events[0].KV.Key != "/w/c" {
			t.Errorf("watch after the outage: %+v, want /w/c at revision %d", resp, r2)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the watch opened before the outage saw nothing after it")
	}
}
