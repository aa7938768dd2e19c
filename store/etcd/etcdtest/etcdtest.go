// Package etcdtest runs a real, single-member etcd server inside the test
// process (go.etcd.io/etcd/server/v3/embed) on free 127.0.0.1 ports, for
// the tests of store/etcd and of cluster mode. A Server can be stopped and
// started again on the same data folder and ports, to simulate an outage.
//
// The server is configured as docs/cluster.md asks of a production etcd
// (--max-request-bytes 10 MiB), but without fsync: test data need not
// survive a power cut.
//
// Clients reach the server through a small TCP relay on the advertised
// endpoint. Stop cuts every relayed connection before stopping etcd, as a
// crash or a network failure would: without it, etcd's graceful stop
// waits seconds for open watch streams to end.
package etcdtest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// MaxRequestBytes is the --max-request-bytes the test server runs with:
// the value docs/cluster.md asks for.
const MaxRequestBytes = 10 << 20

// startTimeout bounds how long a start may take (leader election included).
const startTimeout = 30 * time.Second

// Server is one embedded etcd member.
type Server struct {
	dir       string
	clientURL url.URL // the relay: what clients use
	etcdURL   url.URL // etcd's own client listener
	peerURL   url.URL
	mu        sync.Mutex
	etcd      *embed.Etcd
	relay     *relay
}

// New returns a server that keeps its data in dir, on two free ports
// chosen now and kept across restarts. It does not start it.
func New(dir string) (*Server, error) {
	c, err := freePort()
	if err != nil {
		return nil, err
	}
	e, err := freePort()
	if err != nil {
		return nil, err
	}
	p, err := freePort()
	if err != nil {
		return nil, err
	}
	return &Server{
		dir:       dir,
		clientURL: url.URL{Scheme: "http", Host: c},
		etcdURL:   url.URL{Scheme: "http", Host: e},
		peerURL:   url.URL{Scheme: "http", Host: p},
	}, nil
}

// Start starts a server in a temporary folder and stops it when the test
// ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s, err := New(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Stop)
	return s
}

// Endpoints returns the client endpoints, for clientv3 or --etcd.
func (s *Server) Endpoints() []string { return []string{s.clientURL.String()} }

// Endpoint returns the one client endpoint.
func (s *Server) Endpoint() string { return s.clientURL.String() }

// Start starts the server (again) and waits until it serves. Starting a
// running server does nothing.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.etcd != nil {
		return nil
	}
	cfg := embed.NewConfig()
	cfg.Name = "obhub-test"
	cfg.Dir = s.dir
	cfg.ListenClientUrls = []url.URL{s.etcdURL}
	cfg.AdvertiseClientUrls = []url.URL{s.clientURL}
	cfg.ListenPeerUrls = []url.URL{s.peerURL}
	cfg.AdvertisePeerUrls = []url.URL{s.peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.MaxRequestBytes = MaxRequestBytes
	cfg.UnsafeNoFsync = true
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	cfg.LogLevel = "error"
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return fmt.Errorf("etcdtest: start: %w", err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return fmt.Errorf("etcdtest: start: %w", err)
	case <-time.After(startTimeout):
		e.Close()
		return errors.New("etcdtest: server not ready in time")
	}
	r, err := startRelay(s.clientURL.Host, s.etcdURL.Host)
	if err != nil {
		e.Close()
		return err
	}
	s.etcd, s.relay = e, r
	return nil
}

// Stop stops the server; its data stays in the folder for a later Start.
// Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.etcd == nil {
		return
	}
	s.relay.close()
	s.etcd.Close()
	s.etcd, s.relay = nil, nil
}

// Running reports whether the server is started.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.etcd != nil
}

// freePort returns a 127.0.0.1 address whose port was free a moment ago.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("etcdtest: free port: %w", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr, nil
}

// relay forwards TCP connections from one address to another, and can cut
// them all at once.
type relay struct {
	ln    net.Listener
	to    string
	mu    sync.Mutex
	conns map[net.Conn]bool
	done  bool
	wg    sync.WaitGroup
}

func startRelay(from, to string) (*relay, error) {
	ln, err := net.Listen("tcp", from)
	if err != nil {
		return nil, fmt.Errorf("etcdtest: relay: %w", err)
	}
	r := &relay{ln: ln, to: to, conns: map[net.Conn]bool{}}
	r.wg.Add(1)
	go r.accept()
	return r, nil
}

func (r *relay) accept() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", r.to)
		if err != nil {
			c.Close()
			continue
		}
		if !r.track(c, up) {
			return
		}
		r.wg.Add(2)
		go r.pipe(c, up)
		go r.pipe(up, c)
	}
}

// track registers a relayed pair, or closes it if the relay is closing.
func (r *relay) track(conns ...net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		for _, c := range conns {
			c.Close()
		}
		return false
	}
	for _, c := range conns {
		r.conns[c] = true
	}
	return true
}

func (r *relay) pipe(dst, src net.Conn) {
	defer r.wg.Done()
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
}

// close stops accepting and cuts every connection.
func (r *relay) close() {
	r.mu.Lock()
	r.done = true
	r.ln.Close()
	for c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}
