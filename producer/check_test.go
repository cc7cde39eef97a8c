package producer

import (
	"context"
	"strings"
	"testing"
)

// Node configurations shaped like the ones cardano-node ships
// (configuration/cardano/mainnet-config.json at 10.6.4 and 11.0.1: new
// tracing, root severity Notice, Forge.StateInfo at Info, PrometheusSimple
// on 12798; mainnet-config-bp.json at 10.5.3: legacy tracing, minSeverity
// Info, hasPrometheus), trimmed to what the agent reads.
const (
	shippedNew = `{
  "UseTraceDispatcher": true,
  "TraceOptionMetricsPrefix": "cardano.node.metrics.",
  "TraceOptions": {
    "": {
      "backends": ["EKGBackend", "Forwarder", "PrometheusSimple suffix 127.0.0.1 12798", "Stdout HumanFormatColoured"],
      "detail": "DNormal",
      "severity": "Notice"
    },
    "ChainDB": {"severity": "Info"},
    "Forge.Loop": {"severity": "Info"},
    "Forge.StateInfo": {"severity": "Info"},
    "Startup.DiffusionInit": {"severity": "Info"}
  }
}`
	shippedLegacyBP = `{
  "UseTraceDispatcher": false,
  "TraceForge": true,
  "TurnOnLogMetrics": true,
  "TurnOnLogging": true,
  "hasPrometheus": ["127.0.0.1", 12798],
  "minSeverity": "Info",
  "setupScribes": [{"scFormat": "ScText", "scKind": "StdoutSK", "scName": "stdout", "scRotation": null}]
}`
	yamlNew = `
UseTraceDispatcher: true
TraceOptions:
  "":
    severity: Notice
    backends:
      - Stdout MachineFormat
      - PrometheusSimple 12798
  Startup.BlockForgingUpdate:
    severity: Info
`
)

func TestParseNodeConfig(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		tracing string
		port    string
		logs    map[string]bool // namespace/severity → logged
	}{
		{"shipped 10.6/11.0", shippedNew, "new", "12798", map[string]bool{
			"Startup.BlockForgingUpdate/Info": false, "Startup.NetworkConfigUpdate/Notice": true,
			"Startup.BlockForgingUpdateError/Error": true, "Forge.StateInfo/Info": true,
		}},
		{"shipped 10.5 block producer (legacy)", shippedLegacyBP, "legacy", "12798", map[string]bool{
			"startup/Info": true,
		}},
		{"YAML with the override the agent suggests", yamlNew, "new", "12798", map[string]bool{
			"Startup.BlockForgingUpdate/Info": true, "Startup.BlockForgingUpdateError/Error": true, "Forge.StateInfo/Info": false,
		}},
		{"nothing configured: trace-dispatcher's default Warning, no backends", `{}`, "new", "", map[string]bool{
			"Startup.BlockForgingUpdateError/Error": false, "Startup.NetworkConfigUpdate/Notice": false,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseNodeConfig([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if c.Tracing() != tt.tracing || c.MetricsPort() != tt.port {
				t.Errorf("got %s tracing, port %q, want %s, %q", c.Tracing(), c.MetricsPort(), tt.tracing, tt.port)
			}
			for k, want := range tt.logs {
				ns, sev, _ := strings.Cut(k, "/")
				if got := c.Logs(ns, sev); got != want {
					t.Errorf("Logs(%s, %s) = %v, want %v", ns, sev, got, want)
				}
			}
		})
	}
	if _, err := ParseNodeConfig([]byte("{not: [json")); err == nil {
		t.Errorf("got no error for a broken file")
	}
}

func TestInspectSaysWhatToAdd(t *testing.T) {
	f := newFixture(t, true, func(c *Config) { c.NodeLog = "" })
	f.a.Config.MetricsURL = metricsSeq(t, gauges(199, 200, 61, 1))
	r := f.a.Inspect(context.Background(), InspectOptions{Now: testNow, NodeConfig: []byte(shippedNew)})
	var all []string
	for _, fd := range r.Findings {
		all = append(all, fd.Level+" "+fd.Topic+": "+fd.Text+" | "+strings.Join(fd.Fix, " | "))
	}
	text := strings.Join(all, "\n")
	for _, want := range []string{
		"ok metrics: " + f.a.Config.MetricsURL + " answers (new tracing format)",
		`info node-config: Startup.BlockForgingUpdate (Info) is not logged (severity Notice from TraceOptions.""`,
		`add to TraceOptions:  "Startup.BlockForgingUpdate": { "severity": "Info" }`,
		"ok node-config: Startup.NetworkConfigUpdate (Notice) is logged",
		"warn log: no node log",
		"warn signal: signalling is off",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("findings lack %q:\n%s", want, text)
		}
	}
	if r.Failed() {
		t.Errorf("got a failure, want only warnings:\n%s", text)
	}

	// Neither source: install could confirm nothing.
	f.a.Config.MetricsURL = ""
	if r := f.a.Inspect(context.Background(), InspectOptions{Now: testNow}); !r.Failed() {
		t.Errorf("got no failure without metrics and log")
	}
}

func TestReconfigure(t *testing.T) {
	f := newFixture(t, true, nil)
	if _, err := f.a.Activate(f.bundle(11, 5, 200, false), f.opts()); err != nil {
		t.Fatal(err)
	}
	before, _ := readNode(f.a, f.pool)
	url, mode := "http://127.0.0.1:12798/metrics", LinkCopy
	changes, err := f.a.Reconfigure(Change{MetricsURL: &url, LinkMode: &mode}, testNow)
	if err != nil || len(changes) != 2 {
		t.Fatalf("got %v, %v, want two changes", changes, err)
	}
	a, err := Open(f.a.Dir)
	if err != nil || a.Config.MetricsURL != url || a.LinkMode() != LinkCopy {
		t.Fatalf("reopened: %+v, %v", a.Config, err)
	}
	after, err := readNode(a, f.pool)
	if err != nil || after != before {
		t.Errorf("the node reads %+v, %v after the mode change, want %+v", after, err, before)
	}
	bad := "sideways"
	if _, err := a.Reconfigure(Change{LinkMode: &bad}, testNow); err == nil {
		t.Errorf("got no error for link mode %q", bad)
	}
	if b, _ := Open(f.a.Dir); b.LinkMode() != LinkCopy {
		t.Errorf("a refused change was saved")
	}
}
