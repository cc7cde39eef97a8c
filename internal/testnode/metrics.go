package testnode

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// Metric names, as cardano-node exposes them on its Prometheus endpoint
// (default 127.0.0.1:12798, path /metrics). In the node's nosuffix mode
// the _int suffix is dropped (Config.MetricsNoSuffix).
//
// MetricCertCounter is NOT a cardano-node metric: the real node does not
// expose the op cert's counter. The test node adds it so that tests can
// see which set is in use; the agent must treat it as optional and rely on
// MetricCertStartPeriod (and the log) against a real node.
const (
	MetricCurrentKESPeriod   = "cardano_node_metrics_currentKESPeriod_int"
	MetricRemainingKES       = "cardano_node_metrics_remainingKESPeriods_int"
	MetricCertStartPeriod    = "cardano_node_metrics_operationalCertificateStartKESPeriod_int"
	MetricCertExpiryPeriod   = "cardano_node_metrics_operationalCertificateExpiryKESPeriod_int"
	MetricCertCounter        = "cardano_node_metrics_operationalCertificateCounter_int"
	MetricForgingEnabled     = "cardano_node_metrics_forging_enabled"
	MetricSlotNum            = "cardano_node_metrics_slotNum_int"
	metricsPath              = "/metrics"
	metricsReadHeaderTimeout = 5 * time.Second
)

func (n *Node) listenMetrics(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", n.cfg.MetricsAddr)
	if err != nil {
		return fmt.Errorf("metrics endpoint: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc(metricsPath, n.serveMetrics)
	n.metricsLn = ln
	n.httpSrv = &http.Server{Handler: mux, ReadHeaderTimeout: metricsReadHeaderTimeout}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := n.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.logf("Error", "metrics", "metrics server: %v", err)
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

// Metrics renders the Prometheus text the endpoint serves. Before any
// credential set was taken only the forging and slot gauges appear; after
// forging is disabled the cert gauges keep their last values, as they do
// on cardano-node.
func (n *Node) Metrics() string {
	s := n.State()
	var b strings.Builder
	put := func(name string, v int64) {
		if n.cfg.MetricsNoSuffix {
			name = strings.TrimSuffix(name, "_int")
		}
		fmt.Fprintf(&b, "# TYPE %s gauge\n%s %d\n", name, name, v)
	}
	forging := int64(0)
	if s.Forging {
		forging = 1
	}
	put(MetricForgingEnabled, forging)
	put(MetricSlotNum, int64(s.TipSlot))
	if s.Loaded {
		put(MetricCurrentKESPeriod, int64(s.CurrentPeriod))
		put(MetricRemainingKES, s.RemainingPeriods)
		put(MetricCertStartPeriod, int64(s.StartPeriod))
		put(MetricCertExpiryPeriod, int64(s.ExpiryPeriod))
		put(MetricCertCounter, int64(s.CertCounter))
	}
	return b.String()
}

func (n *Node) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write([]byte(n.Metrics()))
}
