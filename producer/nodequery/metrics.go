package nodequery

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// cardano-node's KES and forging gauges (node.md; cardano-node
// Cardano/Node/Tracing/Tracers/ForgingStats.hs, Consensus.hs and Startup.hs
// for the new tracing system, Cardano/Tracing/Tracers.hs for the legacy
// one). Names are given without the _int suffix: both systems add it to
// the KES gauges, the new system to forging_enabled too, and a nosuffix
// setup drops it; Lookup finds either form. The node serves no op-cert
// counter metric, so the metrics alone cannot tell two certs that start in
// the same KES period apart.
const (
	MetricCurrentKESPeriod = "cardano_node_metrics_currentKESPeriod"
	MetricRemainingKES     = "cardano_node_metrics_remainingKESPeriods"
	MetricCertStartPeriod  = "cardano_node_metrics_operationalCertificateStartKESPeriod"
	MetricCertExpiryPeriod = "cardano_node_metrics_operationalCertificateExpiryKESPeriod"
	MetricForgingEnabled   = "cardano_node_metrics_forging_enabled"
)

// Exposition formats the node serves.
const (
	// FormatNew: the new tracing system (trace-dispatcher's
	// PrometheusSimple backend; the default from node 10.6): # TYPE lines,
	// labels as name{k="v"}, # EOF at the end.
	FormatNew = "new tracing"
	// FormatLegacy: the legacy system (iohk-monitoring's EKG-to-Prometheus
	// bridge; 10.5's default, selectable up to 11.0): no TYPE lines,
	// labelled samples written "name {k="v"} 1".
	FormatLegacy = "legacy tracing"
)

// maxMetricsSize bounds what Metrics reads from the endpoint.
const maxMetricsSize = 8 << 20

// Scrape is one read of a Prometheus text endpoint.
type Scrape struct {
	// Samples by series: the bare name for unlabelled samples,
	// name{labels} (without a space) for labelled ones.
	Samples map[string]float64
	// Format is FormatNew or FormatLegacy.
	Format string
	// Skipped counts lines that were neither comments nor samples this
	// parser understands; they never fail a scrape.
	Skipped int
}

// Lookup finds a metric under its name with or without the _int suffix.
func (s *Scrape) Lookup(name string) (float64, bool) {
	if s == nil {
		return 0, false
	}
	return Lookup(s.Samples, name)
}

// Metrics scrapes a Prometheus text endpoint such as
// http://127.0.0.1:12798/metrics.
func Metrics(ctx context.Context, url string) (*Scrape, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMetrics, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMetrics, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: %s answered %s", ErrMetrics, url, resp.Status)
	}
	s, err := ParseMetrics(io.LimitReader(resp.Body, maxMetricsSize))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	return s, nil
}

// ParseMetrics reads the Prometheus text exposition format in either of
// the node's dialects. A line it cannot read is skipped and counted, never
// fatal; only a body without a single sample is an error.
func ParseMetrics(r io.Reader) (*Scrape, error) {
	s := &Scrape{Samples: make(map[string]float64), Format: FormatLegacy}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		text := strings.TrimSpace(sc.Text())
		switch {
		case text == "":
			continue
		case strings.HasPrefix(text, "#"):
			if f := strings.Fields(text); len(f) >= 2 && (f[1] == "TYPE" || f[1] == "EOF") {
				s.Format = FormatNew
			}
			continue
		}
		series, v, ok := parseSample(text)
		if !ok {
			s.Skipped++
			continue
		}
		s.Samples[series] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMetrics, err)
	}
	if len(s.Samples) == 0 {
		return nil, fmt.Errorf("%w: no Prometheus samples in the answer", ErrMetrics)
	}
	return s, nil
}

// parseSample reads `name[ ]{labels} value [timestamp]`.
func parseSample(text string) (series string, v float64, ok bool) {
	i := 0
	for i < len(text) && isNameChar(text[i], i == 0) {
		i++
	}
	if i == 0 {
		return "", 0, false
	}
	name, rest := text[:i], strings.TrimLeft(text[i:], " \t")
	series = name
	if strings.HasPrefix(rest, "{") {
		end := labelsEnd(rest)
		if end < 0 {
			return "", 0, false
		}
		series, rest = name+rest[:end+1], rest[end+1:]
	}
	fields := strings.Fields(rest)
	if len(fields) < 1 || len(fields) > 2 {
		return "", 0, false
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return "", 0, false
	}
	return series, v, true
}

// labelsEnd is the index of the brace closing the label set at s[0],
// skipping quoted values (with their escapes), or -1.
func labelsEnd(s string) int {
	quoted := false
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && c == '}':
			return i
		}
	}
	return -1
}

func isNameChar(c byte, first bool) bool {
	return c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (!first && c >= '0' && c <= '9')
}

// Lookup finds a metric under its name with or without the _int suffix.
func Lookup(m map[string]float64, name string) (float64, bool) {
	base := strings.TrimSuffix(name, "_int")
	if v, ok := m[base+"_int"]; ok {
		return v, true
	}
	v, ok := m[base]
	return v, ok
}
