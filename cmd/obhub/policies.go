package main

import (
	"github.com/obhub/obhub/gateway"
	"github.com/obhub/obhub/openapi"
	"github.com/obhub/obhub/policies"
)

// gatewayPolicies wires the gateway's policy settings: the limit counters
// (Redis when --redis is set, else this node's memory), request
// validation over the stored API documents, and the trusted proxies. It
// does no I/O: Redis is dialled on first use, and a Redis that does not
// answer sends the node to its local fallback limit.
func (m *Main) gatewayPolicies(cfg *gateway.Config) error {
	proxies, err := m.Config.TrustedProxyPrefixes()
	if err != nil {
		return err
	}
	opts := policies.Options{Logger: m.Logger}
	if m.Config.Redis != "" {
		policies.LogRedisClient(m.Logger)
		r, err := policies.NewRedis(m.Config.Redis)
		if err != nil {
			return err
		}
		m.limitsRedis = r
		opts.Shared = r
	}
	m.limits = policies.NewLimiter(opts)
	cfg.Limits = m.limits
	cfg.Validator = openapi.NewValidators(m.store)
	cfg.TrustedProxies = proxies
	return nil
}

// LimitFallbacks returns how many limit checks this node decided alone
// because Redis failed (for the metrics of the cluster issue).
func (m *Main) LimitFallbacks() uint64 {
	if m.limits == nil {
		return 0
	}
	return m.limits.Fallbacks()
}
