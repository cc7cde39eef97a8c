package producer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kesrotate/kesrotate/internal/durfmt"
	"github.com/kesrotate/kesrotate/producer/nodelog"
	"github.com/kesrotate/kesrotate/producer/nodequery"
)

// Finding levels.
const (
	LevelOK   = "ok"
	LevelInfo = "info"
	LevelWarn = "warn"
	LevelFail = "fail"
)

// Finding is one thing Inspect found out.
type Finding struct {
	Level string   `json:"level"`
	Topic string   `json:"topic"` // socket, metrics, log, node-config, signal, paths
	Text  string   `json:"text"`
	Fix   []string `json:"fix,omitempty"` // exact lines to add or commands to run
}

// Report is what Inspect found.
type Report struct {
	Findings []Finding `json:"findings"`
	// Confirmation says what install will be able to confirm a reload
	// from.
	Confirmation string `json:"confirmation"`
}

// Failed reports whether any finding is a failure.
func (r *Report) Failed() bool { return r.Failures() > 0 }

// Failures counts the failed findings.
func (r *Report) Failures() int {
	n := 0
	for _, f := range r.Findings {
		if f.Level == LevelFail {
			n++
		}
	}
	return n
}

func (r *Report) add(level, topic, text string, fix ...string) {
	r.Findings = append(r.Findings, Finding{Level: level, Topic: topic, Text: text, Fix: fix})
}

// InspectOptions configure Inspect.
type InspectOptions struct {
	Now     time.Time
	Timeout time.Duration // per probe; 10 s when 0
	// NodeConfig is the node's configuration file's content; when nil the
	// file the agent is configured with (if any) is read.
	NodeConfig []byte
}

// Inspect checks what install will need of the node: the socket answers on
// the agent's network and is synced, the metrics endpoint answers and in
// which format, the log can be read, the node's configuration logs and
// serves what confirmation looks at (with the exact lines to add when it
// does not), the node process can be found, and it can see the agent's
// files.
func (a *Agent) Inspect(ctx context.Context, o InspectOptions) *Report {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	r := &Report{Findings: []Finding{}} // an array in JSON, never null
	a.inspectSocket(ctx, o, r)
	scrape := a.inspectMetrics(ctx, o, r)
	a.inspectLog(ctx, o, r)
	nc := a.inspectNodeConfig(o, r, scrape)
	a.inspectSignal(r)
	if a.Config.MithrilSigner != "" {
		a.inspectMithril(ctx, r)
	}
	r.Confirmation = confirmationSummary(a, nc)
	if a.KESAgentMode() {
		a.inspectKESAgent(ctx, o, r)
		if a.Config.MetricsURL == "" {
			r.Confirmation = "kes-agent only: without the node's metrics install cannot see the node take the key"
		} else {
			r.Confirmation = "kes-agent (it holds the new key) and the node's metrics (the node forges with it)"
		}
		return r
	}
	if a.Config.MetricsURL == "" && a.Config.NodeLog == "" {
		r.add(LevelFail, "confirm", "neither a metrics URL nor a node log is configured: install cannot confirm that the node forges with a new cert",
			"kesrotate-agent config --metrics-url http://127.0.0.1:12798/metrics", "kesrotate-agent config --node-log journald (or the log file's path)")
	}
	return r
}

func (a *Agent) inspectSocket(ctx context.Context, o InspectOptions, r *Report) {
	if a.Config.Socket == "" {
		r.add(LevelInfo, "socket", "no node socket: snapshots need --tip-slot and --onchain-counter, and install takes the KES period from the clock",
			"kesrotate-agent config --socket /path/to/node.socket")
		return
	}
	cctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	q, err := nodequery.Query(cctx, a.Config.Socket, a.Network.Magic, a.ColdVKey().PoolID())
	if err == nil {
		err = q.CheckNetwork(a.Network)
	}
	if err != nil {
		fix := []string{}
		if errors.Is(err, nodequery.ErrConnect) {
			fix = append(fix, "start cardano-node with --socket-path "+a.Config.Socket+", or fix the path: kesrotate-agent config --socket PATH")
		}
		level := LevelFail
		if errors.Is(err, nodequery.ErrSyncing) {
			level = LevelWarn
		}
		r.add(level, "socket", fmt.Sprintf("%s: %v", a.Config.Socket, err), fix...)
		return
	}
	text := fmt.Sprintf("%s answers: %s (magic %d), node-to-client version %d, %s era, Praos state with %d fields, genesis layout %s",
		a.Config.Socket, a.Network.Name, q.NetworkMagic, q.NodeToClientVersion, q.EraName, q.PraosFields, q.GenesisLayout)
	if err := q.CheckSynced(a.Network, o.Now, 0); err != nil {
		r.add(LevelWarn, "socket", text+"; but "+err.Error())
		return
	}
	r.add(LevelOK, "socket", fmt.Sprintf("%s; tip %s behind the clock", text, durfmt.Format(q.Lag(a.Network, o.Now).Round(time.Second))))
}

func (a *Agent) inspectMetrics(ctx context.Context, o InspectOptions, r *Report) *nodequery.Scrape {
	if a.Config.MetricsURL == "" {
		r.add(LevelWarn, "metrics", "no metrics URL: install confirms from the node log only",
			"kesrotate-agent config --metrics-url http://127.0.0.1:12798/metrics")
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	s, err := nodequery.Metrics(cctx, a.Config.MetricsURL)
	if err != nil {
		r.add(LevelFail, "metrics", err.Error(), "check the node's Prometheus setting (PrometheusSimple backend, or hasPrometheus in a legacy config) and the URL: kesrotate-agent config --metrics-url URL")
		return nil
	}
	f := ReadForging(s)
	switch {
	case f.StartPeriod == nil:
		r.add(LevelWarn, "metrics", fmt.Sprintf("%s answers (%s format) but shows no op cert: the node is not forging now (the KES gauges appear once it holds credentials)", a.Config.MetricsURL, s.Format))
	default:
		r.add(LevelOK, "metrics", fmt.Sprintf("%s answers (%s format): %s", a.Config.MetricsURL, s.Format, strings.TrimPrefix(f.String(), "the node's metrics show ")))
	}
	return s
}

func (a *Agent) inspectLog(ctx context.Context, o InspectOptions, r *Report) {
	if a.Config.NodeLog == "" {
		r.add(LevelWarn, "log", "no node log: a cert re-issued within one KES period cannot be confirmed from the metrics alone",
			"kesrotate-agent config --node-log journald (the node under systemd logs to the journal), or the path of its log file")
		return
	}
	if unit, ok := nodelog.JournalUnit(a.Config.NodeLog, a.Config.Signal.SystemdUnit); ok {
		l, err := nodelog.Open(a.Config.NodeLog, a.Config.Signal.SystemdUnit, o.Now.Add(-time.Minute))
		if err == nil {
			_, err = l.Read(ctx)
		}
		if err != nil {
			r.add(LevelFail, "log", err.Error(), "kesrotate-agent config --node-log journald:UNIT (the node's unit), and run the agent as a user who may read the journal (group systemd-journal)")
			return
		}
		r.add(LevelOK, "log", "the journal of unit "+unit+" can be read")
		return
	}
	fi, err := os.Stat(a.Config.NodeLog)
	switch {
	case err != nil:
		r.add(LevelWarn, "log", fmt.Sprintf("%s: %v (it is read from where it is when install signals the node)", a.Config.NodeLog, unwrapPathError(err)))
	case !fi.Mode().IsRegular():
		r.add(LevelFail, "log", a.Config.NodeLog+" is not a regular file", "kesrotate-agent config --node-log PATH")
	default:
		f, err := os.Open(a.Config.NodeLog)
		if err != nil {
			r.add(LevelFail, "log", err.Error())
			return
		}
		_ = f.Close()
		r.add(LevelOK, "log", a.Config.NodeLog+" can be read (a file rotated behind its path is followed)")
	}
}

// The namespaces confirmation reads (new tracing) and their severities.
var watched = []struct{ ns, sev, why string }{
	{"Startup.BlockForgingUpdateError", "Error", "a refused reload and its reason"},
	{"Startup.NetworkConfigUpdate", "Notice", "the line the node logs after it has updated its credentials on SIGHUP"},
	{"Startup.BlockForgingUpdate", "Info", `"Enabling block forging" (or disabling) after a reload`},
	{"Forge.StateInfo", "Info", "the KES key the node forges with, every slot"},
}

func (a *Agent) inspectNodeConfig(o InspectOptions, r *Report, scrape *nodequery.Scrape) *NodeConfig {
	data := o.NodeConfig
	if data == nil && a.Config.NodeConfig != "" {
		b, err := os.ReadFile(a.Config.NodeConfig)
		if err != nil {
			r.add(LevelFail, "node-config", err.Error(), "kesrotate-agent config --node-config PATH (the file cardano-node runs with --config)")
			return nil
		}
		data = b
	}
	if data == nil {
		r.add(LevelInfo, "node-config", "no node configuration given: the agent cannot say what the node logs",
			"kesrotate-agent config --node-config /path/to/config.json (the file cardano-node runs with --config)")
		return nil
	}
	nc, err := ParseNodeConfig(data)
	if err != nil {
		r.add(LevelFail, "node-config", err.Error())
		return nil
	}
	if scrape != nil && (scrape.Format == nodequery.FormatNew) != nc.NewTracing {
		r.add(LevelWarn, "node-config", fmt.Sprintf("the configuration selects %s tracing but the metrics endpoint serves the %s format: is it this node's configuration?", nc.Tracing(), scrape.Format))
	}
	if nc.NewTracing {
		a.inspectNewTracing(nc, r)
	} else {
		a.inspectLegacyTracing(nc, r)
	}
	return nc
}

func (a *Agent) inspectNewTracing(nc *NodeConfig, r *Report) {
	r.add(LevelInfo, "node-config", "new tracing system (UseTraceDispatcher)")
	port := nc.MetricsPort()
	switch {
	case port == "":
		r.add(LevelWarn, "node-config", "no PrometheusSimple backend: the node serves no metrics",
			`add to TraceOptions."".backends:  "PrometheusSimple suffix 127.0.0.1 12798"`)
	case a.Config.MetricsURL != "" && !strings.Contains(a.Config.MetricsURL, ":"+port+"/"):
		r.add(LevelWarn, "node-config", fmt.Sprintf("the node serves metrics on port %s, the agent reads %s", port, a.Config.MetricsURL),
			"kesrotate-agent config --metrics-url http://127.0.0.1:"+port+"/metrics")
	default:
		r.add(LevelOK, "node-config", "metrics on port "+port)
	}
	if dest := nc.LogBackend("Startup"); dest == "" {
		r.add(LevelWarn, "node-config", "Startup messages go to no log backend",
			`add to TraceOptions."".backends:  "Stdout HumanFormatColoured" (or "Stdout MachineFormat")`)
	} else {
		r.add(LevelInfo, "node-config", "Startup messages are logged to "+dest)
	}
	for _, w := range watched {
		sev, from := nc.Severity(w.ns)
		if nc.Logs(w.ns, w.sev) {
			r.add(LevelOK, "node-config", fmt.Sprintf("%s (%s) is logged: %s", w.ns, w.sev, w.why))
			continue
		}
		level := LevelWarn
		if w.ns == "Startup.BlockForgingUpdate" {
			level = LevelInfo // the topology line stands in for it
		}
		r.add(level, "node-config", fmt.Sprintf("%s (%s) is not logged (severity %s from %s): %s is not seen", w.ns, w.sev, sev, from, w.why),
			fmt.Sprintf(`add to TraceOptions:  %q: { "severity": %q }`, w.ns, w.sev))
	}
}

func (a *Agent) inspectLegacyTracing(nc *NodeConfig, r *Report) {
	r.add(LevelInfo, "node-config", "legacy tracing system (UseTraceDispatcher false)")
	if !nc.TurnOnLogging {
		r.add(LevelWarn, "node-config", "TurnOnLogging is false: the node logs nothing and serves no KES gauges", `set  "TurnOnLogging": true`)
	}
	switch port := nc.MetricsPort(); {
	case port == "":
		r.add(LevelWarn, "node-config", "no hasPrometheus: the node serves no metrics", `add  "hasPrometheus": ["127.0.0.1", 12798]`)
	case a.Config.MetricsURL != "" && !strings.Contains(a.Config.MetricsURL, ":"+port+"/"):
		r.add(LevelWarn, "node-config", fmt.Sprintf("the node serves metrics on port %s, the agent reads %s", port, a.Config.MetricsURL),
			"kesrotate-agent config --metrics-url http://127.0.0.1:"+port+"/metrics")
	default:
		r.add(LevelOK, "node-config", "metrics on "+nc.LegacyPrometheus)
	}
	if !nc.TraceForgeStateInfo {
		r.add(LevelWarn, "node-config", "TraceForgeStateInfo is off: no KES gauges and no KES info lines", `set  "TraceForgeStateInfo": true`)
	}
	if nc.Logs("startup", "Info") {
		r.add(LevelOK, "node-config", fmt.Sprintf("minSeverity %s: every reload outcome is logged", orDefault(nc.MinSeverity, "Info")))
	} else {
		r.add(LevelWarn, "node-config", fmt.Sprintf("minSeverity %s hides the reload outcomes (logged at Info by the legacy system)", nc.MinSeverity), `set  "minSeverity": "Info"`)
	}
	for _, s := range nc.Scribes {
		r.add(LevelInfo, "node-config", "log scribe "+s)
		if f := strings.Fields(s); len(f) == 3 && f[0] == "FileSK" && a.Config.NodeLog != f[2] {
			r.add(LevelWarn, "log", fmt.Sprintf("the node writes its log to %s, the agent reads %s", f[2], orDefault(a.Config.NodeLog, "nothing")),
				"kesrotate-agent config --node-log "+f[2])
		}
	}
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func (a *Agent) inspectSignal(r *Report) {
	if a.Config.Signal.Mode == SignalNone {
		r.add(LevelWarn, "signal", "signalling is off: install stages the set and the node must be sent SIGHUP by hand",
			"kesrotate-agent config --pid-file F | --systemd-unit U | --match-process")
		return
	}
	pid, err := a.NodePID()
	if err != nil {
		r.add(LevelFail, "signal", err.Error(), "kesrotate-agent config --pid-file F | --systemd-unit U | --match-process")
		return
	}
	r.add(LevelOK, "signal", "the node is pid "+strconv.Itoa(pid))
	if cur, _ := a.CurrentSet(); cur != "" {
		checked, err := a.CheckNodeSees(pid)
		switch {
		case err != nil:
			r.add(LevelFail, "paths", err.Error(), "kesrotate-agent config --link-mode copy (or keep the agent folder inside a folder the node mounts, with --link-mode relative)")
		case checked:
			r.add(LevelOK, "paths", "in its own file-system view the node finds the active set at its three credential paths")
		default:
			r.add(LevelInfo, "paths", "the node's file-system view could not be inspected (another user?): the agent cannot check that it sees the links")
		}
		return
	}
	switch ok, detail := a.nodeSeesAgentDir(pid); {
	case ok:
		r.add(LevelOK, "paths", detail)
	case detail != "":
		r.add(LevelFail, "paths", detail, "kesrotate-agent config --link-mode copy (or keep the agent folder inside a folder the node mounts, with --link-mode relative)")
	}
}

// nodeSeesAgentDir checks, before the first install, that the links the
// agent will make lead somewhere the node can see.
func (a *Agent) nodeSeesAgentDir(pid int) (bool, string) {
	root := filepath.Join(a.procRoot(), strconv.Itoa(pid), "root")
	if _, err := os.Stat(root); err != nil {
		return false, ""
	}
	first := a.nodePaths()[0]
	args, err := nodeArgs(a.procRoot(), pid)
	theirs := args[first.flag]
	if err != nil || theirs == "" || !filepath.IsAbs(theirs) {
		return false, ""
	}
	var target string
	want := a.Dir
	switch a.linkMode() {
	case LinkCopy:
		target, want = filepath.Dir(theirs), filepath.Dir(first.path)
	case LinkRelative:
		t, err := a.linkTarget(first.path, first.file)
		if err != nil {
			return false, ""
		}
		target = filepath.Dir(filepath.Dir(filepath.Join(filepath.Dir(theirs), t)))
	default:
		abs, _ := filepath.Abs(a.Dir)
		target = abs
	}
	wfi, err := os.Stat(want)
	if err != nil {
		return false, ""
	}
	host, err := resolveIn(root, target)
	if err == nil {
		if gfi, err := os.Stat(host); err == nil && os.SameFile(gfi, wfi) {
			return true, fmt.Sprintf("the node (pid %d) will see the files the agent links (%s mode)", pid, a.linkMode())
		}
	}
	return false, fmt.Sprintf("the node (pid %d) cannot see %s in its file-system view: with %s links its credentials would dangle", pid, target, a.linkMode())
}

// confirmationSummary says in one line what install can confirm from.
func confirmationSummary(a *Agent, nc *NodeConfig) string {
	var parts []string
	if a.Config.MetricsURL != "" {
		parts = append(parts, "the metrics (a new cert with a new start period)")
	}
	if a.Config.NodeLog != "" {
		switch {
		case nc == nil:
			parts = append(parts, "the log")
		case nc.NewTracing && nc.Logs("Startup.BlockForgingUpdate", "Info"):
			parts = append(parts, `the log ("Enabling block forging")`)
		case nc.NewTracing && nc.Logs("Startup.NetworkConfigUpdate", "Notice"):
			parts = append(parts, "the log (the topology line after the reload, with no error)")
		case !nc.NewTracing && nc.Logs("startup", "Info"):
			parts = append(parts, `the log ("Enabling block forging")`)
		default:
			parts = append(parts, "nothing in the log (see above)")
		}
	}
	if len(parts) == 0 {
		return "nothing: install can only signal"
	}
	return strings.Join(parts, " and ")
}
