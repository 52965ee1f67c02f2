package client

import (
	"encoding/binary"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	vexilrt "github.com/vexilhq/vexil/runtime"
	"github.com/vexilhq/vexil/runtime/internal/eventkey"
)

// metrics are the client's Prometheus metrics. They exist whether or not a
// Registerer was given, so the code that counts never checks.
type metrics struct {
	countEvals bool // evaluations are counted only when someone can read them

	version          prometheus.Gauge
	age              prometheus.GaugeFunc
	syncErrors       *prometheus.CounterVec
	rejected         prometheus.Counter
	ignored          *prometheus.CounterVec
	authFailures     prometheus.Counter
	warnings         prometheus.Gauge
	cacheErrors      prometheus.Counter
	staleFlags       *prometheus.GaugeVec
	staleTransitions *prometheus.CounterVec
	exported         prometheus.Counter
	dropped          prometheus.Counter
	exportErrors     prometheus.Counter

	evalDesc *prometheus.Desc
	evalMu   sync.Mutex
	evals    map[string]*flagCounts // by flag name and variants, so counts survive config swaps
}

// flagCounts are one flag's evaluations by variant and reason, counted on
// the request path with one atomic add. A flag whose variants change (a
// FeaFea document without definitions) gets new counts; the old ones are
// kept, so nothing counted is lost.
type flagCounts struct {
	name     string
	variants []string
	n        []atomic.Uint64 // [variant<<3 | reason]
}

func newMetrics(c *Client) *metrics {
	const ns = "vexil_client_"
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: ns + name, Help: help})
	}
	gauge := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Name: ns + name, Help: help})
	}
	counterVec := func(name, help, label string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + name, Help: help}, []string{label})
	}
	return &metrics{
		version: gauge("config_version",
			"The server version of the config being served (0 for a file, cache-less defaults or content hash)."),
		age: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: ns + "config_age_seconds",
			Help: "Seconds since the source last confirmed the config is current: for a server, since the last byte it sent (an event, a ping or an answer)."},
			func() float64 { return c.Status().Age.Seconds() }),
		syncErrors: counterVec("sync_errors_total",
			"Failed syncs with the source, by operation (stream, fetch, compile, read).", "op"),
		rejected: counter("config_rejected_total",
			"Configs refused because they do not compile; the previous one kept serving."),
		ignored: counterVec("config_ignored_total",
			"Configs the server offered and the client did not take: older (an older version of the served config's database) or empty (an empty config from another database).", "reason"),
		authFailures: counter("auth_failures_total",
			"Requests the server refused with 401 or 403 (a revoked or wrong token)."),
		warnings: gauge("config_warnings",
			"Parts of the served config this binary does not know and ignores (rules on unknown flags, unknown attributes)."),
		cacheErrors: counter("cache_ignored_total",
			"Config cache files ignored as corrupt, truncated, foreign or not compiling."),
		staleFlags: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: ns + "flag_stale",
			Help: "1 while a flag is past its max_staleness (answering its safe value, or its last one)."}, []string{"flag"}),
		staleTransitions: counterVec("flag_stale_total",
			"Times a flag went past its max_staleness.", "flag"),
		exported: counter("exposures_exported_total",
			"Exposure and metric events handed to the exporter successfully."),
		dropped: counter("exposures_dropped_total",
			"Exposure and metric events dropped: the buffer was full, the exporter failed, or a metric value was not finite."),
		exportErrors: counter("export_errors_total",
			"Exporter calls that failed."),
		evalDesc: prometheus.NewDesc(ns+"evaluations_total",
			"Evaluations through generated accessors and Evaluate, by flag and reason.", []string{"flag", "reason"}, nil),
		evals: map[string]*flagCounts{},
	}
}

func (m *metrics) register(r prometheus.Registerer) error {
	m.countEvals = true
	for _, c := range []prometheus.Collector{m.version, m.age, m.syncErrors, m.rejected, m.ignored, m.authFailures, m.warnings,
		m.cacheErrors, m.staleFlags, m.staleTransitions, m.exported, m.dropped, m.exportErrors, (*evalCollector)(m)} {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// countsFor returns the counters of a config's flags, by FlagID.
func (m *metrics) countsFor(cfg *vexilrt.Config) []*flagCounts {
	m.evalMu.Lock()
	defer m.evalMu.Unlock()
	names := cfg.FlagNames()
	out := make([]*flagCounts, len(names))
	for i, name := range names {
		var variants []string
		for _, v := range cfg.Values(vexilrt.FlagID(i)) {
			variants = append(variants, v.Variant())
		}
		key := name + "\x00" + strings.Join(variants, "\x00")
		fc := m.evals[key]
		if fc == nil {
			fc = &flagCounts{name: name, variants: variants, n: make([]atomic.Uint64, len(variants)<<3)}
			m.evals[key] = fc
		}
		out[i] = fc
	}
	return out
}

// evalCollector reads the atomic counters at scrape time, so counting costs
// the request path no label lookup.
type evalCollector metrics

func (e *evalCollector) Describe(ch chan<- *prometheus.Desc) { ch <- e.evalDesc }

func (e *evalCollector) Collect(ch chan<- prometheus.Metric) {
	e.evalMu.Lock()
	defer e.evalMu.Unlock()
	type key struct {
		flag   string
		reason vexilrt.Reason
	}
	sums := map[key]uint64{}
	for _, fc := range e.evals {
		for i := range fc.n {
			if n := fc.n[i].Load(); n > 0 {
				sums[key{fc.name, vexilrt.Reason(i & 7)}] += n
			}
		}
	}
	for k, n := range sums {
		ch <- prometheus.MustNewConstMetric(e.evalDesc, prometheus.CounterValue, float64(n), k.flag, k.reason.String())
	}
}

// observer is attached to each served config: it counts evaluations,
// queues exposure events and metric events (it is a vexilrt.Tracker),
// without allocating.
type observer struct {
	counts []*flagCounts // by FlagID; nil: not counting
	expose []uint64      // by FlagID: the flag's fingerprint, 0 for no exposures; nil: no events
	pipe   *pipeline
}

func (o *observer) Observe(e vexilrt.Evaluation, key vexilrt.TargetKey) {
	o.ObserveKey(e, lendTargetKey(&key))
}

// ObserveKey is Observe with the key lent rather than copied: what the
// runtime calls, as the client's observer is one that takes lent keys.
func (o *observer) ObserveKey(e vexilrt.Evaluation, key eventkey.Key) {
	id := e.FlagID()
	if id < 0 {
		return
	}
	if o.counts != nil {
		if n := o.counts[id].n; uint(e.ValueIndex()<<3) < uint(len(n)) {
			n[e.ValueIndex()<<3|int(e.Reason()&7)].Add(1)
		}
	}
	if o.expose != nil {
		// Without a targeting key there is no unit to expose or to join a
		// metric event to.
		if f := o.expose[id]; f != 0 && !key.IsZero() && !o.pipe.exposed(f, key, e.ValueIndex()) && !o.pipe.exposure(e, key) {
			o.pipe.forget(f, key, e.ValueIndex())
		}
	}
}

// Track queues a metric event (a generated View.Track<Metric> call).
func (o *observer) Track(m *vexilrt.MetricDef, key vexilrt.TargetKey, value float64) {
	o.TrackKey(m, lendTargetKey(&key), value)
}

// TrackKey is Track with the key lent.
func (o *observer) TrackKey(m *vexilrt.MetricDef, key eventkey.Key, value float64) {
	if o.pipe != nil && !key.IsZero() {
		o.pipe.metric(m, key, value)
	}
}

// lendTargetKey lends k's bytes for the length of the caller's call.
func lendTargetKey(k *vexilrt.TargetKey) eventkey.Key {
	raw, isInt := k.Raw()
	if isInt {
		return eventkey.Int(int64(binary.LittleEndian.Uint64(raw)))
	}
	return eventkey.Bytes(raw)
}

// observerFor builds the observer of a config, or nil when nothing needs
// one (then evaluations pay a single nil check).
func (c *Client) observerFor(cfg *vexilrt.Config) vexilrt.Observer {
	o := &observer{pipe: c.exp}
	if c.metrics.countEvals {
		o.counts = c.metrics.countsFor(cfg)
	}
	if c.exp != nil {
		o.expose = c.exp.selectFlags(cfg)
	}
	if o.counts == nil && o.expose == nil {
		return nil
	}
	return o
}
