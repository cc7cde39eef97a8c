package testnode

// The Prometheus endpoint, in the two tracing systems' formats.
//
// New tracing (trace-dispatcher; cardano-node 10.6.4
// trace-dispatcher/src/Cardano/Logging/Tracer/EKG.hs ekgTracer and
// Prometheus/Exposition.hs renderExpositionFromSampleWith, served by
// Prometheus/TCPServer.hs): IntM metrics are EKG gauges named
// prefix ‖ name ‖ "_int" (prefix "cardano.node.metrics."), PrometheusM
// metrics are labels holding `{k="v",…} 1`. The exposition writes
// "# TYPE name gauge" before each gauge, "# TYPE name info" before each
// labelled metric, which it writes with no space before the brace, turns
// '.', '-' and ' ' into '_', and ends with "# EOF". "PrometheusSimple
// nosuffix …" strips "_int", "_counter" and "_real". It answers /metrics
// only (404 elsewhere), GET and HEAD, with Content-Type
// "text/plain;version=0.0.4;charset=utf-8".
//
// Legacy (iohk-monitoring; plugins/backend-ekg Cardano/BM/Backend/
// Prometheus.lhs renderSimpleOutput, EKGView.lhs): LogValue metrics are
// gauges named logger ‖ "." ‖ name ‖ ".int"; the node sets
// "cardano.node.metrics.forging_enabled" directly (no suffix) and the build
// info as a label `{k="v",…}` (cardano-node/src/Cardano/Tracing/Tracers.hs).
// Every metric is "name value"; a label is "name {labels} 1", with a space
// before the brace; names keep only letters and '_' after the same
// replacements; ekg-core's rts.gc.* metrics come along; no TYPE lines, no
// EOF. Warp answers any path, without a Content-Type.
//
// Metrics are not filtered by log severity. The KES gauges come from the
// forge state updates (KESInfo.hs asMetrics: start, expiry = start +
// maxKESEvolutions, current = start + evolution, remaining =
// max 0 (expiry − current)); when the key cannot be evolved the node sets
// start and expiry from the key's info and current and remaining to 0
// (Tracers/Consensus.hs asMetrics of TraceForgeStateUpdateError, and the
// legacy traceKESInfoIfKESExpired). No metric carries the op-cert counter.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Metric names as a scraper sees them in the new tracing system's default
// (suffixed) exposition. The legacy system writes the KES gauges with the
// same names and forging_enabled without the suffix (MetricForgingEnabled).
const (
	MetricCurrentKESPeriod    = "cardano_node_metrics_currentKESPeriod_int"
	MetricRemainingKES        = "cardano_node_metrics_remainingKESPeriods_int"
	MetricCertStartPeriod     = "cardano_node_metrics_operationalCertificateStartKESPeriod_int"
	MetricCertExpiryPeriod    = "cardano_node_metrics_operationalCertificateExpiryKESPeriod_int"
	MetricForgingEnabledInt   = "cardano_node_metrics_forging_enabled_int"
	MetricForgingEnabled      = "cardano_node_metrics_forging_enabled"
	MetricSlotNum             = "cardano_node_metrics_slotNum_int"
	MetricBuildInfo           = "cardano_node_metrics_cardano_build_info"
	metricsPath               = "/metrics"
	metricsReadHeaderTimeout  = 5 * time.Second
	contentTypePrometheus     = "text/plain;version=0.0.4;charset=utf-8"
	contentTypeOpenMetrics    = "application/openmetrics-text;version=1.0.0;charset=utf-8"
	contentTypeTextPlainError = "text/plain;charset=utf-8"
)

// storeEntry is one metric in the node's EKG store.
type storeEntry struct {
	name  string // the store name, dots and all
	gauge bool   // a gauge (else a label)
	value int64
	label string
}

// metricStore assembles what the node's EKG store holds now.
func (n *Node) metricStore() []storeEntry {
	n.mu.Lock()
	defer n.mu.Unlock()
	slot := n.tipLocked()
	legacy := n.tr.system == TracingLegacy
	const p = "cardano.node.metrics."
	intName := func(name string) string {
		if legacy {
			return p + name + ".int"
		}
		return p + name + "_int"
	}
	var s []storeEntry
	add := func(name string, v int64) { s = append(s, storeEntry{name: intName(name), gauge: true, value: v}) }
	forging := int64(0)
	if n.forgingMetric {
		forging = 1
	}
	// A fixed order standing in for the store's hash order: a scraper must
	// not rely on any.
	if legacy {
		s = append(s, storeEntry{name: "rts.gc.bytes_allocated", gauge: true, value: 81234567890})
		s = append(s, storeEntry{name: "rts.gc.num_gcs", gauge: true, value: 51234})
		s = append(s, storeEntry{name: p + "forging_enabled", gauge: true, value: forging})
	} else {
		add("RTS.gcLiveBytes", 3412345678)
		add("forging_enabled", forging)
		add("Mem.resident", 7012345678)
	}
	if n.kesMetrics.set {
		add("operationalCertificateStartKESPeriod", n.kesMetrics.start)
		add("remainingKESPeriods", n.kesMetrics.remaining)
	}
	s = append(s, storeEntry{name: p + "cardano_build_info", label: n.buildInfoLabel(legacy)})
	if legacy {
		add("nodeStartTime", n.started.Unix())
	} else {
		add("node.start.time", n.started.Unix())
		s = append(s, storeEntry{name: p + "basicInfo",
			label: `{nodeStartTime="` + n.started.UTC().Format("2006-01-02 15:04:05.999999999") + ` UTC"} 1`})
	}
	if n.consensusUp {
		add("slotNum", int64(slot))
		add("blockNum", int64(n.blockNoLocked(slot)))
		add("epoch", int64(n.epochOf(slot)))
	}
	if n.kesMetrics.set {
		add("currentKESPeriod", n.kesMetrics.current)
		add("operationalCertificateExpiryKESPeriod", n.kesMetrics.expiry)
		if n.kesMetrics.failedSlot != 0 && !legacy {
			add("Forge.StateUpdateError", int64(n.kesMetrics.failedSlot))
		}
	}
	return s
}

func (n *Node) buildInfoLabel(legacy bool) string {
	rel := strings.Split(n.ver.release, ".")
	ghc := strings.Split(n.ver.ghc, ".")
	pairs := [][2]string{
		{"version_major", rel[0]}, {"version_minor", rel[1]}, {"version_patch", rel[2]},
		{"version", n.ver.release}, {"revision", n.ver.revision},
		{"compiler_name", "ghc"}, {"compiler_version", n.ver.ghc},
		{"compiler_version_major", ghc[0]}, {"compiler_version_minor", ghc[1]}, {"compiler_version_patch", "0"},
		{"architecture", goarchName()}, {"os_name", runtime.GOOS},
	}
	parts := make([]string, len(pairs))
	for i, kv := range pairs {
		parts[i] = kv[0] + `="` + kv[1] + `"`
	}
	l := "{" + strings.Join(parts, ",") + "}"
	if !legacy {
		l += " 1" // trace-dispatcher's presentPrometheusM adds the value
	}
	return l
}

func goarchName() string {
	switch runtime.GOARCH {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	}
	return runtime.GOARCH
}

// Metrics renders the text the metrics endpoint serves now.
func (n *Node) Metrics() string {
	store := n.metricStore()
	var b strings.Builder
	if n.tr.system == TracingLegacy {
		for _, e := range store {
			name := legacyMetricName(e.name)
			if e.gauge {
				fmt.Fprintf(&b, "%s %d\n", name, e.value)
			} else {
				fmt.Fprintf(&b, "%s %s 1\n", name, e.label)
			}
		}
		return b.String()
	}
	for _, e := range store {
		name := newMetricName(e.name, n.cfg.MetricsNoSuffix)
		if e.gauge {
			fmt.Fprintf(&b, "# TYPE %s gauge\n%s %d\n", name, name, e.value)
		} else {
			fmt.Fprintf(&b, "# TYPE %s info\n%s%s\n", name, name, e.label)
		}
	}
	b.WriteString("# EOF\n")
	return b.String()
}

func newMetricName(name string, noSuffix bool) string {
	if noSuffix {
		for _, suf := range []string{"_int", "_counter", "_real"} {
			if strings.HasSuffix(name, suf) {
				name = strings.TrimSuffix(name, suf)
				break
			}
		}
	}
	r := strings.NewReplacer(".", "_", "-", "_", " ", "_").Replace(name)
	return strings.Map(func(c rune) rune {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' {
			return c
		}
		return -1
	}, r)
}

func legacyMetricName(name string) string {
	r := strings.NewReplacer(".", "_", "-", "_", " ", "_").Replace(name)
	return strings.Map(func(c rune) rune {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' {
			return c
		}
		return -1
	}, r)
}

func (n *Node) listenMetrics(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", n.cfg.MetricsAddr)
	if err != nil {
		return fmt.Errorf("metrics endpoint: %w", err)
	}
	n.metricsLn = ln
	n.httpSrv = &http.Server{Handler: http.HandlerFunc(n.serveMetrics), ReadHeaderTimeout: metricsReadHeaderTimeout}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := n.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.tr.emit(logEvent{plain: "metrics server: " + err.Error()})
		}
	}()
	return nil
}

func (n *Node) stopMetrics() {
	if n.httpSrv != nil {
		_ = n.httpSrv.Close()
	}
}

func (n *Node) metricsAddr() string {
	if n.metricsLn == nil {
		return ""
	}
	return n.metricsLn.Addr().String()
}

// MetricsAddr is the bound address of the metrics endpoint (host:port), or
// "" when the node serves no metrics.
func (n *Node) MetricsAddr() string { return n.metricsAddr() }

// MetricsURL is the URL to scrape, http://host:port/metrics, or "".
func (n *Node) MetricsURL() string {
	if a := n.metricsAddr(); a != "" {
		return "http://" + a + metricsPath
	}
	return ""
}

func (n *Node) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if n.tr.system == TracingLegacy {
		// Warp, as iohk-monitoring runs it: any request, no headers.
		w.Header()["Content-Type"] = nil
		_, _ = w.Write([]byte(n.Metrics()))
		return
	}
	fail := func(code int, text string) {
		w.Header().Set("Content-Type", contentTypeTextPlainError)
		w.WriteHeader(code)
		if r.Method == http.MethodGet {
			_, _ = w.Write([]byte(strconv.Itoa(code) + " " + text))
		}
	}
	switch {
	case r.URL.Path != metricsPath:
		fail(http.StatusNotFound, "Not Found")
		return
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		fail(http.StatusMethodNotAllowed, "Method Not Allowed")
		return
	}
	ct := contentTypePrometheus
	if accept := r.Header.Get("Accept"); accept != "" {
		switch {
		case strings.Contains(accept, "application/openmetrics-text"):
			ct = contentTypeOpenMetrics
		case strings.Contains(accept, "text/"), strings.Contains(accept, "*/*"):
		default:
			fail(http.StatusUnsupportedMediaType, "Unsupported Media Type")
			return
		}
	}
	body := n.Metrics()
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodGet {
		_, _ = w.Write([]byte(body))
	}
}
