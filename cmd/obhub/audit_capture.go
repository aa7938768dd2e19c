package main

import (
	"strings"
	"sync"

	"github.com/obhub/obhub/audit"
	"github.com/obhub/obhub/gateway"
)

// captureLimit is the most of a body the ledger keeps.
const captureLimit = 4 << 10

// bodyCapture holds, with --audit-capture-sandbox-bodies, the bodies of
// sandbox calls between the sandbox's answer and the call's audit record
// (docs/audit.md, "Sandbox body capture"). Bodies are masked and cut
// before they are kept. Only the sandbox adapter puts bodies here, so a
// production call never has one.
type bodyCapture struct {
	mu sync.Mutex
	m  map[string]*capturedBodies // by client id and request id
}

type capturedBodies struct {
	request, response string
	clash             bool // two calls in flight with one key: neither keeps a body
}

func newBodyCapture() *bodyCapture { return &bodyCapture{m: map[string]*capturedBodies{}} }

func captureKey(clientID, requestID string) string { return clientID + "\x00" + requestID }

// put keeps the bodies of the sandbox call requestID of clientID.
func (c *bodyCapture) put(clientID, requestID string, request, response []byte) {
	if c == nil {
		return
	}
	b := &capturedBodies{request: captureBody(request), response: captureBody(response)}
	k := captureKey(clientID, requestID)
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[k]; ok {
		old.clash = true // a client reused a request id: attribute neither
		return
	}
	c.m[k] = b
}

// take removes and returns the bodies kept for o; ok is false when none
// are (or o is not a sandbox call).
func (c *bodyCapture) take(o *gateway.Outcome) (request, response string, ok bool) {
	if c == nil || o.Environment != "sandbox" {
		return "", "", false
	}
	k := captureKey(o.ClientID, o.RequestID)
	c.mu.Lock()
	b, found := c.m[k]
	if found {
		request, response = b.request, b.response
		if b.clash {
			// The twin's record takes nothing either, then removes it.
			b.clash, b.request, b.response = false, "", ""
			request, response = "", ""
		} else {
			delete(c.m, k)
		}
	}
	c.mu.Unlock()
	return request, response, request != "" || response != ""
}

// captureBody masks personal numbers in the whole body, then cuts it to
// captureLimit bytes (masking keeps the length, so a number cut at the
// limit is already masked) and makes it valid, NUL-free text.
func captureBody(b []byte) string {
	s := audit.Mask(string(b))
	if len(s) > captureLimit {
		s = s[:captureLimit]
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}
