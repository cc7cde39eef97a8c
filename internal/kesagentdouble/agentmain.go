package kesagentdouble

// kes-agent's command line (kes-agent/cli/AgentMain.hs), run mode only.

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

const agentUsage = `Usage: kes-agent [-F|--config-file|--config FILE] COMMAND`

// AgentMain runs `kes-agent run …` in the foreground until SIGINT or
// SIGTERM and returns its exit code. Besides kes-agent's options it takes
// --now T (RFC 3339), the time its clock starts at, and --pid-file F,
// written once both sockets listen (tests only).
func AgentMain(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "run" {
		if len(args) > 0 && (args[0] == "start" || args[0] == "stop" || args[0] == "restart" || args[0] == "status") {
			fmt.Fprintf(stderr, "kes-agent: the test double has no service mode (%s); use run\n", args[0])
			return 1
		}
		fmt.Fprintf(stderr, "Missing: COMMAND\n\n%s\n", agentUsage)
		return 1
	}
	opts := map[string]string{
		"service-address":       getenv("KES_AGENT_SERVICE_PATH"),
		"control-address":       getenv("KES_AGENT_CONTROL_PATH"),
		"cold-verification-key": getenv("KES_AGENT_COLD_VK"),
		"genesis-file":          getenv("KES_AGENT_GENESIS_FILE"),
	}
	controlSet := opts["control-address"] != ""
	var bootstrap []string
	if p := getenv("KES_AGENT_BOOTSTRAP_PATHS"); p != "" {
		bootstrap = strings.Split(p, ":")
	}
	var now, pidFile string
	rest := args[1:]
	for i := 0; i < len(rest); i++ {
		name := rest[i]
		short := map[string]string{"-s": "--service-address", "-c": "--control-address", "-b": "--bootstrap-address", "-l": "--log-level"}
		if long, ok := short[name]; ok {
			name = long
		}
		if !strings.HasPrefix(name, "--") || i+1 >= len(rest) {
			fmt.Fprintf(stderr, "Invalid argument `%s'\n\n%s\n", rest[i], agentUsage)
			return 1
		}
		v := rest[i+1]
		i++
		switch key := strings.TrimPrefix(name, "--"); key {
		case "service-address", "cold-verification-key", "genesis-file", "log-level", "log-target":
			opts[key] = v
		case "control-address":
			opts[key], controlSet = v, true
		case "bootstrap-address":
			bootstrap = append(bootstrap, v)
		case "now":
			now = v
		case "pid-file":
			pidFile = v
		default:
			fmt.Fprintf(stderr, "Invalid option `%s'\n\n%s\n", name, agentUsage)
			return 1
		}
	}
	if opts["service-address"] == "" {
		opts["service-address"] = "/tmp/kes-agent-service.socket"
	}
	if !controlSet {
		opts["control-address"] = DefaultControlPath
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "kes-agent: "+format+"\n", a...)
		return 1
	}
	coldData, err := os.ReadFile(opts["cold-verification-key"])
	if err != nil {
		return fail("%s: openBinaryFile: %s", opts["cold-verification-key"], ioErrorText(err))
	}
	cold, err := ParseColdVKey(coldData)
	if err != nil {
		return fail("%v", err)
	}
	g := Genesis{SystemStart: time.Unix(1506203091, 0).UTC(), SlotLength: 1, SlotsPerKESPeriod: 129600} // defEvolutionConfig
	if f := opts["genesis-file"]; f != "" {
		data, err := os.ReadFile(f)
		if err != nil {
			return fail("%s: openBinaryFile: %s", f, ioErrorText(err))
		}
		if g, err = ParseGenesis(data); err != nil {
			return fail("%v", err)
		}
	}
	clock := time.Now
	if now != "" {
		t0, err := time.Parse(time.RFC3339, now)
		if err != nil {
			return fail("--now: %v", err)
		}
		started := time.Now()
		clock = func() time.Time { return t0.Add(time.Since(started)) }
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	srv, err := Listen(NewAgent(cold, g, clock, nil), opts["service-address"], opts["control-address"])
	if err != nil {
		return fail("%v", err)
	}
	srv.Bootstrap = bootstrap
	defer srv.Close()
	if pidFile != "" {
		if err := os.WriteFile(pidFile, []byte(fmt.Sprintf("%d\n", os.Getpid())), 0o644); err != nil {
			return fail("%v", err)
		}
		defer os.Remove(pidFile)
	}
	<-sigs
	return 0
}
