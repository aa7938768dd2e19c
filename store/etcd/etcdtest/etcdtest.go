// Package etcdtest runs a real, single-member etcd server inside the test
// process (go.etcd.io/etcd/server/v3/embed) on free 127.0.0.1 ports, for
// the tests of store/etcd and of cluster mode. A Server can be stopped and
// started again on the same data folder and ports, to simulate an outage.
//
// The server is configured as docs/cluster.md asks of a production etcd
// (--max-request-bytes 10 MiB), but without fsync: test data need not
// survive a power cut.
//
// Ports are chosen free and then bound a moment later, so another process
// can take one in between: the first start then chooses again (a restart
// keeps its ports, which clients already know).
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
	"syscall"
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
	started   bool // once started, the ports are known to clients and kept
	etcd      *embed.Etcd
	relay     *relay
}

// New returns a server that keeps its data in dir, on two free ports
// chosen now and kept across restarts. It does not start it.
func New(dir string) (*Server, error) {
	s := &Server{dir: dir}
	for _, u := range []*url.URL{&s.clientURL, &s.etcdURL, &s.peerURL} {
		if err := pickPort(u); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// portAttempts bounds how many times a first start chooses new ports
// because another process took one.
const portAttempts = 5

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
	ln, err := s.listen(&s.clientURL)
	if err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		err = s.startEtcd()
		if err == nil {
			break
		}
		if !s.retryable(err, attempt) {
			ln.Close()
			return err
		}
		if err := errors.Join(pickPort(&s.etcdURL), pickPort(&s.peerURL)); err != nil {
			ln.Close()
			return err
		}
	}
	s.relay = startRelay(ln, s.etcdURL.Host)
	s.started = true
	return nil
}

// listen binds the relay's address, choosing another port if this is the
// first start and the chosen one was taken meanwhile.
func (s *Server) listen(u *url.URL) (net.Listener, error) {
	for attempt := 1; ; attempt++ {
		ln, err := net.Listen("tcp", u.Host)
		if err == nil {
			return ln, nil
		}
		if !s.retryable(err, attempt) {
			return nil, fmt.Errorf("etcdtest: relay: %w", err)
		}
		if err := pickPort(u); err != nil {
			return nil, err
		}
	}
}

// retryable reports whether a failed first start may choose new ports
// and try again.
func (s *Server) retryable(err error, attempt int) bool {
	return !s.started && attempt < portAttempts && errors.Is(err, syscall.EADDRINUSE)
}

// startEtcd starts etcd on the server's ports and waits until it serves.
func (s *Server) startEtcd() error {
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
	s.etcd = e
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

// pickPort sets u's host to a 127.0.0.1 address whose port was free a
// moment ago.
func pickPort(u *url.URL) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("etcdtest: free port: %w", err)
	}
	*u = url.URL{Scheme: "http", Host: ln.Addr().String()}
	return ln.Close()
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

// startRelay forwards the connections ln accepts to the address to.
func startRelay(ln net.Listener, to string) *relay {
	r := &relay{ln: ln, to: to, conns: map[net.Conn]bool{}}
	r.wg.Add(1)
	go r.accept()
	return r
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
