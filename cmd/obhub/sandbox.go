package main

import (
	"context"
	"path/filepath"

	"github.com/obhub/obhub/gateway"
	"github.com/obhub/obhub/sandbox"
	"github.com/obhub/obhub/store/sqlite"
)

// sandboxAdapter gives the gateway the sandbox: the two HTTP edges do not
// import each other, and their request and response types share one
// layout, so each converts into the other.
type sandboxAdapter struct {
	s       *sandbox.Sandbox
	capture *bodyCapture // nil unless --audit-capture-sandbox-bodies (audit_capture.go)
}

var _ gateway.Sandbox = sandboxAdapter{}

func (a sandboxAdapter) Respond(ctx context.Context, req gateway.SandboxRequest) (gateway.SandboxResponse, error) {
	resp, err := a.s.Respond(ctx, sandbox.Request(req))
	if err == nil {
		a.capture.put(req.ClientID, req.RequestID, req.Body, resp.Body)
	} else {
		a.capture.put(req.ClientID, req.RequestID, req.Body, nil)
	}
	return gateway.SandboxResponse(resp), err
}

func (a sandboxAdapter) Reset(ctx context.Context, clientID string) error {
	return a.s.Reset(ctx, clientID)
}

// openSandbox opens the sandbox banks' store (<data>/sandbox.db) and
// builds the sandbox the gateway answers sandbox calls with.
func (m *Main) openSandbox(ctx context.Context) (sandboxAdapter, error) {
	m.sandboxStore = sqlite.NewSandboxStore(filepath.Join(m.Config.Data, "sandbox.db"))
	if err := m.sandboxStore.Open(ctx); err != nil {
		return sandboxAdapter{}, err
	}
	if m.Config.AuditCaptureSandboxBodies {
		m.auditLog.capture = newBodyCapture()
	}
	return sandboxAdapter{s: sandbox.New(sandbox.Config{
		Specs: m.store, Clock: m.Clock, Logger: m.Logger, Store: m.sandboxStore,
	}), capture: m.auditLog.capture}, nil
}

// sandboxDB is the sandbox banks' store on this node.
type sandboxDB = sqlite.SandboxStore
