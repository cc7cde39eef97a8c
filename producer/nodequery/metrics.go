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

// cardano-node metric names without the _int suffix the default mode adds;
// Lookup finds either form. MetricCertCounter is not served by cardano-node
// (only by the test node): treat it as optional.
const (
	MetricCurrentKESPeriod = "cardano_node_metrics_currentKESPeriod"
	MetricRemainingKES     = "cardano_node_metrics_remainingKESPeriods"
	MetricCertStartPeriod  = "cardano_node_metrics_operationalCertificateStartKESPeriod"
	MetricCertExpiryPeriod = "cardano_node_metrics_operationalCertificateExpiryKESPeriod"
	MetricCertCounter      = "cardano_node_metrics_operationalCertificateCounter"
	MetricForgingEnabled   = "cardano_node_metrics_forging_enabled"
)

// maxMetricsSize bounds what Metrics reads from the endpoint.
const maxMetricsSize = 8 << 20

// Metrics scrapes a Prometheus text endpoint such as
// http://127.0.0.1:12798/metrics and returns every sample by series name
// (with its {labels} when it has any).
func Metrics(ctx context.Context, url string) (map[string]float64, error) {
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
	return ParseMetrics(io.LimitReader(resp.Body, maxMetricsSize))
}

// ParseMetrics reads the Prometheus text exposition format. Comments and
// blank lines are skipped; a sample line is `name[{labels}] value
// [timestamp]`.
func ParseMetrics(r io.Reader) (map[string]float64, error) {
	m := make(map[string]float64)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		name, rest := text, ""
		if i := strings.IndexByte(text, '{'); i >= 0 && (!strings.ContainsAny(text, " \t") || i < strings.IndexAny(text, " \t")) {
			j := strings.LastIndexByte(text, '}')
			if j < i {
				return nil, fmt.Errorf("%w: line %d: unterminated labels", ErrMetrics, line)
			}
			name, rest = text[:j+1], text[j+1:]
		} else if i := strings.IndexAny(text, " \t"); i >= 0 {
			name, rest = text[:i], text[i:]
		} else {
			return nil, fmt.Errorf("%w: line %d: no value", ErrMetrics, line)
		}
		fields := strings.Fields(rest)
		if len(fields) < 1 || len(fields) > 2 || !validName(name) {
			return nil, fmt.Errorf("%w: line %d: not a sample", ErrMetrics, line)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: value %q", ErrMetrics, line, fields[0])
		}
		m[name] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMetrics, err)
	}
	return m, nil
}

func validName(series string) bool {
	name, _, _ := strings.Cut(series, "{")
	if name == "" {
		return false
	}
	for i, r := range name {
		ok := r == '_' || r == ':' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && r >= '0' && r <= '9')
		if !ok {
			return false
		}
	}
	return true
}

// Lookup finds a metric under its name with or without the _int suffix
// (cardano-node's default and nosuffix modes).
func Lookup(m map[string]float64, name string) (float64, bool) {
	base := strings.TrimSuffix(name, "_int")
	if v, ok := m[base+"_int"]; ok {
		return v, true
	}
	v, ok := m[base]
	return v, ok
}
