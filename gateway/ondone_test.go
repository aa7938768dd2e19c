package gateway

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"
)

// OnDone runs before a single byte of the response is written, for every
// kind of answer: the audit writer's strict mode relies on it to hold the
// response until the record is durable.
func TestOnDoneRunsBeforeTheResponseIsWritten(t *testing.T) {
	entered := make(chan *Outcome, 1)
	release := make(chan struct{})
	f := newFixture(t, func(c *Config) {
		c.OnDone = func(o *Outcome) {
			entered <- o
			<-release
		}
	})
	tok := f.sign(nil)
	cases := []struct {
		name, request string
		status        int
	}{
		{"health", "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 200},
		{"proxied call", "GET /bank1/v1/accounts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + tok + "\r\n\r\n", 200},
		{"refused call", "GET /bank1/v1/accounts HTTP/1.1\r\nHost: x\r\n\r\n", 401},
		{"mounted handler", "POST /oauth2/token HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab", 200},
		{"no route", "GET /nobank/x HTTP/1.1\r\nHost: x\r\n\r\n", 404},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", f.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := io.WriteString(conn, c.request); err != nil {
				t.Fatal(err)
			}
			var o *Outcome
			select {
			case o = <-entered:
			case <-time.After(5 * time.Second):
				t.Fatal("OnDone was not called")
			}
			// While OnDone blocks, nothing reaches the client.
			conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			var one [1]byte
			n, err := conn.Read(one[:])
			if n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("the client read %d bytes (%v) while OnDone was blocked", n, err)
			}
			release <- struct{}{}
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.status || o.Status != c.status {
				t.Fatalf("status %d, outcome status %d; want %d", resp.StatusCode, o.Status, c.status)
			}
			if resp.Header.Get("X-Request-Id") != o.RequestID {
				t.Fatalf("X-Request-Id %q, outcome %q", resp.Header.Get("X-Request-Id"), o.RequestID)
			}
		})
	}
}
