package main

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/audit"
	"github.com/obhub/obhub/config"
)

// Audit queue and spool gauges, and one health gauge per store the node
// uses, checked at scrape time (each with a 1 s deadline, concurrently).

// registerClusterMetrics adds the audit queue, journal, spool and lag gauges and
// obhub_store_health{store} to reg.
func (m *Main) registerClusterMetrics(reg *prometheus.Registry) {
	stat := func(f func(st audit.Stats) float64) func() float64 {
		return func() float64 {
			if w := m.auditLog.writer; w != nil {
				return f(w.Stats())
			}
			return 0
		}
	}
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "obhub_audit_queue_depth", Help: "Audit records waiting in the node's queue."},
			stat(func(st audit.Stats) float64 { return float64(st.Queued) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "obhub_audit_spool_depth", Help: "Audit records waiting in the local spool for PostgreSQL."},
			stat(func(st audit.Stats) float64 { return float64(st.Pending) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "obhub_audit_lag_seconds", Help: "Age of the oldest audit record not yet in the store (0 when none waits)."},
			stat(func(st audit.Stats) float64 { return st.Lag.Seconds() })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "obhub_audit_spooled_total", Help: "Audit records put in the local spool because the store failed."},
			stat(func(st audit.Stats) float64 { return float64(st.Spooled) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "obhub_audit_drained_total", Help: "Spooled audit records later appended to the store."},
			stat(func(st audit.Stats) float64 { return float64(st.Drained) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "obhub_audit_journal_depth", Help: "Audit records in the journal (written and strict modes) that the SQLite ledger does not hold yet (0 without a journal)."},
			func() float64 {
				if j, ok := m.auditLog.store.(*audit.Journal); ok {
					return float64(j.Lag())
				}
				return 0
			}),
		&storeHealth{m: m, desc: prometheus.NewDesc("obhub_store_health", "1 when the store answers, else 0; one series per store the node uses (config, audit, postgres, redis).", []string{"store"}, nil)},
	)
}

// storeHealth pings every store the node uses at scrape time.
type storeHealth struct {
	m    *Main
	desc *prometheus.Desc
}

func (c *storeHealth) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *storeHealth) Collect(ch chan<- prometheus.Metric) {
	m := c.m
	checks := map[string]func(context.Context) error{
		"config": func(ctx context.Context) error {
			if m.kv == nil {
				return obhub.Errorf(obhub.EUNAVAILABLE, "not open")
			}
			if _, err := m.kv.Get(ctx, config.AdminTokenKey); err != nil && obhub.ErrorCode(err) != obhub.ENOTFOUND {
				return err
			}
			return nil
		},
		"audit": m.auditReady,
	}
	if m.pg != nil {
		checks["postgres"] = m.pg.Ping
	}
	if m.limitsRedis != nil {
		checks["redis"] = m.limitsRedis.Ping
	}
	var wg sync.WaitGroup
	for name, check := range checks {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			v := 1.0
			if check(ctx) != nil {
				v = 0
			}
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, v, name)
		})
	}
	wg.Wait()
}
