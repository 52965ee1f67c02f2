package server

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are one server's Prometheus collectors, in a registry of its own
// (no global state, so tests can run several servers in one process).
type metrics struct {
	reg           *prometheus.Registry
	requests      *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	saves         *prometheus.CounterVec
	conflicts     *prometheus.CounterVec
	breakGlass    *prometheus.CounterVec
	sseClients    *prometheus.GaugeVec
	configVersion *prometheus.GaugeVec
	// compilesWaiting counts requests queued for a compile slot.
	compilesWaiting prometheus.Gauge
	streamsRefused  prometheus.Counter
	unauthenticated prometheus.Counter
	// evaluations are the counts clients report, added as they arrive, and
	// the OFREP evaluations, added once a minute.
	evaluations *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vexil_http_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "vexil_http_request_duration_seconds", Help: "HTTP request latency by route (streams excluded).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
		saves: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vexil_saves_total", Help: "Attempts to change rules (save, rollback, kill, unkill) by outcome.",
		}, []string{"env", "action", "outcome"}),
		conflicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vexil_save_conflicts_total", Help: "Saves refused because If-Match was not the current version.",
		}, []string{"env"}),
		breakGlass: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vexil_break_glass_changes_total", Help: "Changes that skipped required approvals: kill switches on protected environments and admins' applies without approvals.",
		}, []string{"env"}),
		sseClients: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vexil_sse_clients", Help: "Connected SDK stream clients.",
		}, []string{"env"}),
		configVersion: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vexil_config_version", Help: "The rules version this replica serves, by environment.",
		}, []string{"env"}),
		compilesWaiting: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vexil_compiles_waiting", Help: "Draft evaluations and saves waiting for one of the MaxCompiles compile slots.",
		}),
	}
	m.streamsRefused = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "vexil_streams_refused_total", Help: "Streams refused with 503 because a token or the server held its maximum.",
	})
	m.unauthenticated = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "vexil_unauthenticated_requests_total", Help: "Requests and UI sign-ins refused for want of a valid token (audited at most once per source per minute).",
	})
	m.evaluations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vexil_flag_evaluations_total", Help: "Flag evaluations clients reported to this replica and this replica's OFREP evaluations, by project, environment, flag, variant and reason.",
	}, []string{"project", "env", "flag", "variant", "reason"})
	m.reg.MustRegister(m.evaluations, m.unauthenticated, m.streamsRefused, m.compilesWaiting, m.requests, m.latency, m.saves, m.conflicts, m.breakGlass, m.sseClients, m.configVersion,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
