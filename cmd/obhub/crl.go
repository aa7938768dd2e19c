package main

import (
	"context"
	"crypto/x509"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/obhub/obhub/gateway"
	"github.com/obhub/obhub/internal/crl"
	"github.com/obhub/obhub/oauth"
)

// Revocation of CA-issued client certificates (--tls-client-crl): the
// CRLs are read and verified against the --tls-client-ca CAs at start (a
// bad file refuses the start), re-read when a file changes (every
// crl.ReloadInterval; a bad file then keeps the CRLs in force), and
// checked by the authorization server's mTLS client authentication and
// the gateway's certificate-bound tokens (docs/oauth.md).

var (
	_ oauth.CertRevocation   = (*crl.List)(nil)
	_ gateway.CertRevocation = (*crl.List)(nil)
)

// openClientCRL loads the CRLs and starts watching their files.
func (m *Main) openClientCRL(ctx context.Context, cas []*x509.Certificate) error {
	files := m.Config.ClientCRLFiles()
	if len(files) == 0 {
		return nil
	}
	l := crl.New(crl.Config{Files: files, CAs: cas, Strict: m.Config.TLSClientCRLStrict, Clock: m.Clock, Logger: m.Logger})
	if err := l.Load(); err != nil {
		return fmt.Errorf("--tls-client-crl: %w", err)
	}
	l.LogLoaded()
	m.clientCRL = l
	m.goUntilClose(ctx, func(ctx context.Context) { l.Run(ctx, m.crlReload) })
	return nil
}

// oauthCRL and gatewayCRL hand the list to the HTTP edges: nil (no
// check) without --tls-client-crl, never a nil *crl.List in an interface.
func (m *Main) oauthCRL() oauth.CertRevocation {
	if m.clientCRL == nil {
		return nil
	}
	return m.clientCRL
}

func (m *Main) gatewayCRL() gateway.CertRevocation {
	if m.clientCRL == nil {
		return nil
	}
	return m.clientCRL
}

// registerCRLMetrics adds the CRL gauges to reg, with --tls-client-crl.
func (m *Main) registerCRLMetrics(reg *prometheus.Registry) {
	l := m.clientCRL
	if l == nil {
		return
	}
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "obhub_tls_client_crl_stale",
			Help: "Client CRLs in force that are past their nextUpdate (still enforced; with --tls-client-crl-strict their CA's certificates are refused)."},
			func() float64 { return float64(l.Stats().Stale) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "obhub_tls_client_crl_next_update_timestamp_seconds",
			Help: "Earliest nextUpdate of the client CRLs in force, in Unix seconds (0 when none has one): put a new CRL in place before it."},
			func() float64 {
				if t := l.Stats().NextUpdate; !t.IsZero() {
					return float64(t.Unix())
				}
				return 0
			}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "obhub_tls_client_crl_reload_failures_total",
			Help: "Changed client CRL files that were refused (unreadable, malformed or not signed by their CA); the CRLs in force stayed."},
			func() float64 { return float64(l.Stats().ReloadFailures) }),
	)
}
