package main

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/obhub/obhub/audit"
	"github.com/obhub/obhub/gateway"
)

// Prometheus metrics of a node, served at /metrics on the admin listener.
// The registry belongs to Main (no global registry): counters are fed by
// the gateway's OnDone, gauges are read at scrape time.
type nodeMetrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	limited  *prometheus.CounterVec
}

// runtimeLatencies adds two of Go's runtime histograms to the defaults
// of the Go collector: how long runnable goroutines waited for a
// processor (go_sched_latencies_seconds) and how long the garbage
// collector stopped the world (go_sched_pauses_total_gc_seconds). A
// request's tail latency that the gateway's own steps do not explain is
// usually one of the two: the node is short of CPU, or collecting
// (docs/performance.md).
var runtimeLatencies = collectors.GoRuntimeMetricsRule{
	Matcher: regexp.MustCompile(`^/sched/(latencies|pauses/total/gc):seconds$`),
}

// newMetrics builds the node's registry.
func (m *Main) newMetrics() *nodeMetrics {
	reg := prometheus.NewRegistry()
	nm := &nodeMetrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "obhub_requests_total", Help: "Requests on the public listener by bank, API, status and decision.",
		}, []string{"bank", "api", "status", "decision"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "obhub_request_duration_seconds", Help: "Time until the status was decided, by bank and API.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"bank", "api"}),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "obhub_limit_decisions_total", Help: "Requests refused by a rate limit or quota, by bank and API.",
		}, []string{"bank", "api", "reason"}),
	}
	gauge := func(name, help string, f func() float64) {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
	}
	counter := func(name, help string, f func() float64) {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f))
	}
	reg.MustRegister(nm.requests, nm.latency, nm.limited,
		collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(runtimeLatencies)),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	counter("obhub_limit_fallbacks_total", "Limit checks decided by this node alone because Redis failed.",
		func() float64 { return float64(m.LimitFallbacks()) })
	gauge("obhub_config_revision", "Revision of the configuration snapshot in force.", func() float64 {
		if s := m.holder.Current(); s != nil {
			return float64(s.Revision)
		}
		return 0
	})
	writerStat := func(f func(audit.Stats) float64) func() float64 {
		return func() float64 {
			if w := m.auditLog.writer; w != nil {
				return f(w.Stats())
			}
			return 0
		}
	}
	counter("obhub_audit_written_total", "Audit records made durable.",
		writerStat(func(st audit.Stats) float64 { return float64(st.Written) }))
	counter("obhub_audit_dropped_total", "Audit records dropped (queue full or writer closed).",
		writerStat(func(st audit.Stats) float64 { return float64(st.Dropped) }))
	counter("obhub_audit_failed_total", "Audit records the store would not take after every retry.",
		writerStat(func(st audit.Stats) float64 { return float64(st.Failed) }))
	counter("obhub_audit_batches_total", "Audit group commits; written records / batches is the mean group size.",
		writerStat(func(st audit.Stats) float64 { return float64(st.Batches) }))
	counter("obhub_audit_append_seconds_total", "Time spent appending audit batches to the store.",
		writerStat(func(st audit.Stats) float64 { return st.AppendTime.Seconds() }))
	counter("obhub_audit_flushes_total", "Flushes that made appended audit batches durable (fsync, or a synchronous commit).",
		writerStat(func(st audit.Stats) float64 { return float64(st.Flushes) }))
	counter("obhub_audit_waits_total", "Responses that waited for their audit record: to be written (written mode) or durable (strict mode).",
		writerStat(func(st audit.Stats) float64 { return float64(st.Waits) }))
	counter("obhub_audit_wait_seconds_total", "Time those responses waited, queueing included; divided by the waits, what the audit mode adds to a response.",
		writerStat(func(st audit.Stats) float64 { return st.WaitTime.Seconds() }))
	counter("obhub_audit_flush_seconds_total", "Time spent in those flushes; divided by the flushes, the disk's flush time (a strict response waits for about 1.5 of them; a written one for none).",
		writerStat(func(st audit.Stats) float64 { return st.FlushTime.Seconds() }))
	gauge("obhub_audit_ledger_verified", "What the last check of the whole audit ledger found (at start, then daily): 1 it verifies, 0 it does not (changed outside obhub: the log says where), -1 not checked yet.", func() float64 {
		switch m.auditLog.verified.Load() {
		case ledgerOK:
			return 1
		case ledgerBad:
			return 0
		}
		return -1
	})
	gauge("obhub_store_up", "1 when the node can serve: configuration loaded (from etcd or its last-known-good copy: etcd down does not lower it, obhub_store_health{store=\"config\"} does), the audit store and PostgreSQL answering; else 0.", func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if m.ready(ctx) != nil {
			return 0
		}
		if m.pg != nil && m.pg.Ping(ctx) != nil {
			return 0
		}
		return 1
	})
	reg.MustRegister(auditLatencies{m: m,
		flush: prometheus.NewDesc("obhub_audit_flush_duration_seconds",
			"Each flush that made appended audit records durable; a stalling disk shows in the high buckets.", nil, nil),
		wait: prometheus.NewDesc("obhub_audit_wait_duration_seconds",
			"What each response waited for its audit record (written or strict mode), queueing included.", nil, nil),
	})
	m.registerClusterMetrics(reg) // audit queue, spool and lag; per-store health (metrics_stores.go)
	m.registerCRLMetrics(reg)     // --tls-client-crl (crl.go)
	return nm
}

// observe records one request; it wraps the gateway's OnDone.
func (nm *nodeMetrics) observe(next func(*gateway.Outcome)) func(*gateway.Outcome) {
	return func(o *gateway.Outcome) {
		status := strconv.Itoa(o.Status)
		nm.requests.WithLabelValues(o.Bank, o.API, status, o.Decision).Inc()
		nm.latency.WithLabelValues(o.Bank, o.API).Observe(o.Latency.Seconds())
		if o.Status == http.StatusTooManyRequests {
			nm.limited.WithLabelValues(o.Bank, o.API, o.Reason).Inc()
		}
		if next != nil {
			next(o)
		}
	}
}

// auditLatencies serves the audit writer's latency histograms, read at
// scrape time (audit.Stats).
type auditLatencies struct {
	m           *Main
	flush, wait *prometheus.Desc
}

func (c auditLatencies) Describe(ch chan<- *prometheus.Desc) { ch <- c.flush; ch <- c.wait }

func (c auditLatencies) Collect(ch chan<- prometheus.Metric) {
	w := c.m.auditLog.writer
	if w == nil {
		return
	}
	st := w.Stats()
	ch <- constHistogram(c.flush, st.FlushLatency)
	ch <- constHistogram(c.wait, st.WaitLatency)
}

// constHistogram is h in Prometheus's cumulative form.
func constHistogram(d *prometheus.Desc, h audit.Histogram) prometheus.Metric {
	bounds := h.Bounds()
	buckets := make(map[float64]uint64, len(bounds))
	var n uint64
	for i, b := range bounds {
		n += uint64(h.Counts[i])
		buckets[b.Seconds()] = n
	}
	return prometheus.MustNewConstHistogram(d, uint64(h.Count()), h.Sum.Seconds(), buckets)
}

// handler serves the registry in the Prometheus text format.
func (nm *nodeMetrics) handler() http.Handler {
	return promhttp.HandlerFor(nm.reg, promhttp.HandlerOpts{})
}
