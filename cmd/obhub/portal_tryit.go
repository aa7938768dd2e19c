package main

import (
	"context"
	"crypto/tls"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/obhub/obhub/demo"
	"github.com/obhub/obhub/oauth"
	"github.com/obhub/obhub/portal"
)

// tryItTokens gives the portal's try-it console short-lived sandbox
// tokens from the authorization server. The portal has already checked
// that the app is the signed-in developer's partner's and that its
// subscriptions cover the scopes; the server refuses any app that is not
// a sandbox app and any scope the app does not hold.
type tryItTokens struct{ s *oauth.Server }

var _ portal.TokenIssuer = tryItTokens{}

func (t tryItTokens) SandboxToken(ctx context.Context, clientID string, scopes []string, lifetime time.Duration) (string, time.Time, error) {
	tok, err := t.s.IssueSandboxToken(ctx, clientID, scopes, lifetime)
	if err != nil {
		return "", time.Time{}, err
	}
	return tok.AccessToken, tok.ExpiresAt, nil
}

// SandboxCustomers lists the simulated customers the sandbox sign-in page
// offers (oauth.SandboxLogins), the same at every bank, by login, with
// the accounts each holds at bank in the demo's data
// (demo.CustomerAccounts; customer ids are "<bank>:<login>").
func (t tryItTokens) SandboxCustomers(_ context.Context, bank string) ([]portal.SandboxCustomer, error) {
	out := make([]portal.SandboxCustomer, 0, len(oauth.SandboxLogins))
	for _, login := range slices.Sorted(maps.Keys(oauth.SandboxLogins)) {
		out = append(out, portal.SandboxCustomer{Login: login, Name: oauth.SandboxLogins[login],
			Accounts: demo.CustomerAccounts(bank, bank+":"+login)})
	}
	return out, nil
}

// SandboxCustomerToken is a token of a sandbox app on behalf of a
// sandbox customer (oauth.Server.IssueSandboxCustomerToken).
func (t tryItTokens) SandboxCustomerToken(ctx context.Context, clientID, bank, login string, scopes []string, lifetime time.Duration) (string, time.Time, error) {
	tok, err := t.s.IssueSandboxCustomerToken(ctx, clientID, bank, login, scopes, lifetime)
	if err != nil {
		return "", time.Time{}, err
	}
	return tok.AccessToken, tok.ExpiresAt, nil
}

// selfClient sends the try-it console's server-side calls (a browser
// without JavaScript) to this node's own public listener, m.PublicURL:
// whatever host a request names, it dials that address, follows no
// redirect, and — with --tls-cert — does not verify the certificate,
// since the peer is this process's own socket.
func (m *Main) selfClient() portal.Doer {
	u, err := url.Parse(m.PublicURL)
	if err != nil || u.Host == "" {
		return nil
	}
	addr := u.Host
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{
		Timeout: m.Config.UpstreamTimeout + 10*time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return d.DialContext(ctx, network, addr)
			},
			TLSClientConfig:     &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}, //nolint:gosec // our own listener
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     30 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
