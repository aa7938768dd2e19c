package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/obhub/obhub/gateway"
	"github.com/obhub/obhub/internal/dpop"
	"github.com/obhub/obhub/oauth"
)

// dpopRedisPrefix namespaces the gateway's DPoP proof ids in Redis.
const dpopRedisPrefix = "obhub:dpop:"

// gatewayDPoPReplay chooses where the gateway remembers the ids of DPoP
// proofs, so that a proof is accepted once by the whole cluster: Redis
// with --redis (one SET NX PX per DPoP-bound call, the fastest), else
// PostgreSQL with --db (the OAuth store's replay table, where the token
// endpoint keeps its proofs), else this node's memory. A shared store
// that does not answer makes the gateway refuse the DPoP-bound call with
// 503 (docs/security.md), counted by obhub_dpop_replay_unavailable_total.
// It runs after gatewayPolicies (policies.go), which opens the Redis
// client, and does no I/O.
func (m *Main) gatewayDPoPReplay(cfg *gateway.Config) {
	switch {
	case m.limitsRedis != nil:
		cfg.DPoPReplay = dpop.NewOnceReplay(dpopRedisPrefix, m.limitsRedis.SetOnce)
	case m.Config.DB != "":
		cfg.DPoPReplay = oauth.DPoPReplay(m.oauthStore)
	}
	if m.metrics != nil {
		m.metrics.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "obhub_dpop_replay_unavailable_total",
			Help: "DPoP-bound calls refused (503) because the shared DPoP replay store did not answer.",
		}, func() float64 {
			if m.gateway == nil {
				return 0
			}
			return float64(m.gateway.DPoPReplayUnavailable())
		}))
	}
}
