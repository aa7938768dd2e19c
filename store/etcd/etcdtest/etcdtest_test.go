package etcdtest

import (
	"context"
	"net"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// A port chosen by New and taken by another process before the first
// start (what made a CI run fail) is chosen again; the server then keeps
// its endpoint across a restart.
func TestFirstStartChoosesAgainWhenAPortWasTaken(t *testing.T) {
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var taken []string
	for _, addr := range []string{s.clientURL.Host, s.etcdURL.Host, s.peerURL.Host} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("occupying %s: %v", addr, err)
		}
		defer ln.Close()
		taken = append(taken, addr)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("Start with its ports taken: %v", err)
	}
	t.Cleanup(s.Stop)
	for _, addr := range []string{s.clientURL.Host, s.etcdURL.Host, s.peerURL.Host} {
		for _, tk := range taken {
			if addr == tk {
				t.Fatalf("server uses %s, which another listener holds", addr)
			}
		}
	}
	put(t, s, "k", "v1")

	endpoint := s.Endpoint()
	s.Stop()
	if err := s.Start(); err != nil {
		t.Fatalf("restart: %v", err)
	}
	if s.Endpoint() != endpoint {
		t.Fatalf("endpoint moved on restart: %s, then %s", endpoint, s.Endpoint())
	}
	c := client(t, s)
	resp, err := c.Get(t.Context(), "k")
	if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "v1" {
		t.Fatalf("after restart: %v, %v", resp, err)
	}
}

func client(t *testing.T, s *Server) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: s.Endpoints(), DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func put(t *testing.T, s *Server, k, v string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := client(t, s).Put(ctx, k, v); err != nil {
		t.Fatalf("Put: %v", err)
	}
}
