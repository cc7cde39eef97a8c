package producer

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/kesrotate/kesrotate/internal/textsafe"
	"go.yaml.in/yaml/v3"
)

// What a cardano-node configuration file (JSON or YAML) says about what
// the agent can observe. Facts from cardano-node's sources:
//
//   - Configuration/POM.hs: UseTraceDispatcher defaults to true (10.5.3,
//     10.6.4, 11.0.1); the shipped 10.5 configs set it false.
//   - trace-dispatcher: TraceOptions maps namespace prefixes to severity
//     and backends, the most specific prefix winning; "" is the root.
//     Backends "Stdout HumanFormatColoured|HumanFormatUncoloured|
//     MachineFormat" log to stdout, "Forwarder" to cardano-tracer,
//     "PrometheusSimple [suffix|nosuffix] [host] port" serves /metrics.
//     Metrics are not filtered by severity (Tracer/Composed.hs).
//   - Startup.hs severityFor: BlockForgingUpdate Info,
//     BlockForgingUpdateError Error, NetworkConfigUpdate Notice;
//     KESInfo.hs: Forge.StateInfo Info.
//   - legacy (Tracing/Config.hs, iohk-monitoring): minSeverity;
//     TraceForgeStateInfo (default on) feeds the KES gauges and lines;
//     hasPrometheus [host, port]; setupScribes with scKind StdoutSK,
//     FileSK or JournalSK and scFormat ScText or ScJson.
type NodeConfig struct {
	NewTracing bool
	// New tracing.
	options map[string]traceOption
	// Legacy tracing.
	MinSeverity         string
	LegacyPrometheus    string // host:port, "" if none
	TraceForgeStateInfo bool
	Scribes             []string // "StdoutSK ScText", "FileSK ScJson /var/log/node.json", …
	TurnOnLogging       bool
}

type traceOption struct {
	Severity string   `json:"severity" yaml:"severity"`
	Backends []string `json:"backends" yaml:"backends"`
}

// ParseNodeConfig reads a node configuration file, JSON or YAML.
func ParseNodeConfig(data []byte) (*NodeConfig, error) {
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		if yerr := yaml.Unmarshal(data, &raw); yerr != nil || raw == nil {
			return nil, fmt.Errorf("%w: not a node configuration (JSON or YAML): %v", ErrConfig, err)
		}
	}
	c := &NodeConfig{NewTracing: true, TraceForgeStateInfo: true, TurnOnLogging: true, options: map[string]traceOption{}}
	if v, ok := raw["UseTraceDispatcher"].(bool); ok {
		c.NewTracing = v
	}
	if v, ok := raw["TurnOnLogging"].(bool); ok {
		c.TurnOnLogging = v
	}
	if v, ok := raw["TraceForgeStateInfo"].(bool); ok {
		c.TraceForgeStateInfo = v
	}
	c.MinSeverity, _ = raw["minSeverity"].(string)
	if hp, ok := raw["hasPrometheus"].([]any); ok && len(hp) == 2 {
		c.LegacyPrometheus = fmt.Sprintf("%v:%v", hp[0], number(hp[1]))
	}
	if scribes, ok := raw["setupScribes"].([]any); ok {
		for _, s := range scribes {
			if m, ok := s.(map[string]any); ok {
				c.Scribes = append(c.Scribes, strings.TrimSpace(fmt.Sprintf("%v %v %v", m["scKind"], m["scFormat"], m["scName"])))
			}
		}
	}
	if opts, ok := raw["TraceOptions"].(map[string]any); ok {
		for ns, v := range opts {
			b, err := json.Marshal(v)
			if err != nil {
				return nil, fmt.Errorf("%w: TraceOptions %q: %w", ErrConfig, ns, err)
			}
			var o traceOption
			if err := json.Unmarshal(b, &o); err != nil {
				// A setting the agent cannot read is not taken as absent:
				// what it would conclude about the node's log could be wrong.
				return nil, fmt.Errorf("%w: TraceOptions %q: %v", ErrConfig, ns, textsafe.JSONError(err))
			}
			c.options[ns] = o
		}
	}
	return c, nil
}

func number(v any) string {
	switch n := v.(type) {
	case float64:
		return strconv.FormatFloat(n, 'f', -1, 64)
	case int:
		return strconv.Itoa(n)
	}
	return fmt.Sprint(v)
}

// Tracing names the tracing system ("new" or "legacy").
func (c *NodeConfig) Tracing() string {
	if c.NewTracing {
		return "new"
	}
	return "legacy"
}

// option finds the most specific TraceOptions entry with a field set for
// namespace ns (dotted), as trace-dispatcher does; "" is the root entry.
func (c *NodeConfig) option(ns string, field func(traceOption) bool) (traceOption, string, bool) {
	parts := strings.Split(ns, ".")
	for i := len(parts); i >= 0; i-- {
		key := strings.Join(parts[:i], ".")
		if o, ok := c.options[key]; ok && field(o) {
			return o, key, true
		}
	}
	return traceOption{}, "", false
}

// Severity is the configured severity filter for namespace ns, and where
// it comes from (`TraceOptions."KEY"`, or trace-dispatcher's default).
func (c *NodeConfig) Severity(ns string) (string, string) {
	o, key, ok := c.option(ns, func(o traceOption) bool { return o.Severity != "" })
	if !ok {
		return "Warning", "trace-dispatcher's default" // Configuration.hs getSeverity
	}
	return o.Severity, fmt.Sprintf("TraceOptions.%q", key)
}

// Backends are the backends for namespace ns.
func (c *NodeConfig) Backends(ns string) []string {
	o, _, _ := c.option(ns, func(o traceOption) bool { return o.Backends != nil })
	return o.Backends
}

// severities in increasing order, as trace-dispatcher and iohk-monitoring
// order them.
var severities = []string{"Debug", "Info", "Notice", "Warning", "Error", "Critical", "Alert", "Emergency", "Silence"}

func sevRank(s string) int {
	for i, v := range severities {
		if strings.EqualFold(v, s) {
			return i
		}
	}
	return -1
}

// Logs reports whether a message of severity sev in namespace ns (new
// tracing) or of the startup tracer (legacy) reaches the log.
func (c *NodeConfig) Logs(ns, sev string) bool {
	if !c.NewTracing {
		min := c.MinSeverity
		if min == "" {
			min = "Info"
		}
		return c.TurnOnLogging && sevRank(sev) >= sevRank(min)
	}
	conf, _ := c.Severity(ns)
	return sevRank(conf) >= 0 && sevRank(conf) < sevRank("Silence") && sevRank(sev) >= sevRank(conf) && c.LogBackend(ns) != ""
}

// LogBackend is where namespace ns logs to ("stdout human", "stdout
// json", "cardano-tracer"), or "" when nowhere (new tracing).
func (c *NodeConfig) LogBackend(ns string) string {
	var out []string
	for _, b := range c.Backends(ns) {
		switch strings.Join(strings.Fields(b), " ") {
		case "Stdout HumanFormatColoured", "Stdout HumanFormatUncoloured":
			out = append(out, "stdout (human)")
		case "Stdout MachineFormat":
			out = append(out, "stdout (JSON)")
		case "Forwarder":
			out = append(out, "cardano-tracer")
		}
	}
	return strings.Join(out, " and ")
}

// MetricsPort is the port the node serves Prometheus metrics on, or "".
func (c *NodeConfig) MetricsPort() string {
	if !c.NewTracing {
		if i := strings.LastIndexByte(c.LegacyPrometheus, ':'); i >= 0 {
			return c.LegacyPrometheus[i+1:]
		}
		return ""
	}
	for _, b := range c.Backends("") {
		f := strings.Fields(b)
		if len(f) >= 2 && f[0] == "PrometheusSimple" {
			return f[len(f)-1]
		}
	}
	return ""
}
