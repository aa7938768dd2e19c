package main

import (
	"context"

	"github.com/obhub/obhub/gateway"
	"github.com/obhub/obhub/sandbox"
)

// sandboxAdapter gives the gateway the sandbox: the two HTTP edges do not
// import each other, and their request and response types share one
// layout, so each converts into the other.
type sandboxAdapter struct{ s *sandbox.Sandbox }

var _ gateway.Sandbox = sandboxAdapter{}

func (a sandboxAdapter) Respond(ctx context.Context, req gateway.SandboxRequest) (gateway.SandboxResponse, error) {
	resp, err := a.s.Respond(ctx, sandbox.Request(req))
	return gateway.SandboxResponse(resp), err
}

func (a sandboxAdapter) Reset(ctx context.Context, clientID string) error {
	return a.s.Reset(ctx, clientID)
}
