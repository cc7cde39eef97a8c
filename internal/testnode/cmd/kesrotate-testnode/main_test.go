package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/kesrotate/kesrotate/internal/testnode"
	"github.com/kesrotate/kesrotate/opcert"
)

// The test binary doubles as kesrotate-testnode when this variable is set,
// so the tests run the real process (signals included) without a build.
const asMain = "KESROTATE_TESTNODE_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMain) == "1" {
		os.Exit(testnode.Main(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func command(args ...string) (*exec.Cmd, *lockedBuffer, *lockedBuffer) {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), asMain+"=1")
	var out, errOut lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	return cmd, &out, &errOut
}

// eventually polls cond until it holds or a generous limit passes; it
// asserts on the outcome, never on how long it took.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func socketPath(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "tn")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return filepath.Join(dir, "node.socket")
}

// metrics scrapes the endpoint into name → value; labelled lines count
// under their name.
func metrics(t *testing.T, url string) (map[string]float64, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		if i := strings.IndexByte(line, '{'); i >= 0 {
			line = strings.TrimSpace(line[:i]) + line[strings.LastIndexByte(line, '}')+1:]
		}
		name, val, _ := strings.Cut(line, " ")
		v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", sc.Text(), err)
		}
		m[name] = v
	}
	return m, string(body)
}

// handshake proposes NtC 16..23 and returns the accepted version.
func handshake(t *testing.T, sock string, magic uint32) uint64 {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	versions := map[uint64]any{}
	for v := uint64(16); v <= 23; v++ {
		versions[v|0x8000] = []any{uint64(magic), false}
	}
	// Deterministic encoding writes the versions in ascending order, as
	// the handshake codec requires.
	em, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		t.Fatal(err)
	}
	msg, err := em.Marshal([]any{0, versions})
	if err != nil {
		t.Fatal(err)
	}
	h := make([]byte, 8)
	binary.BigEndian.PutUint16(h[6:], uint16(len(msg)))
	if _, err := c.Write(append(h, msg...)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, h); err != nil {
		t.Fatal(err)
	}
	reply := make([]byte, binary.BigEndian.Uint16(h[6:]))
	if _, err := io.ReadFull(c, reply); err != nil {
		t.Fatal(err)
	}
	var r []any
	if err := cbor.Unmarshal(reply, &r); err != nil || len(r) != 3 || r[0] != uint64(1) {
		t.Fatalf("got handshake reply %x (%v), want MsgAcceptVersion", reply, err)
	}
	return r[1].(uint64) &^ 0x8000
}

func TestBinaryReloadsOnSIGHUPAndRotatesOnSIGUSR1(t *testing.T) {
	pool, err := testnode.NewPool(1)
	if err != nil {
		t.Fatal(err)
	}
	n := opcert.Preprod
	tip := 300*n.SlotsPerKESPeriod + 1
	dir := t.TempDir()
	first, err := pool.Issue(5, 2, 299)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pool.WriteSet(dir, first)
	if err != nil {
		t.Fatal(err)
	}
	sock := socketPath(t)
	pidFile := filepath.Join(dir, "node.pid")
	addrFile := filepath.Join(dir, "metrics.addr")
	logFile := filepath.Join(dir, "node.log")

	cmd, _, errOut := command(
		"--shelley-kes-key", cfg.KESKeyPath, "--shelley-vrf-key", cfg.VRFKeyPath,
		"--shelley-operational-certificate", cfg.CertPath, "--socket-path", sock,
		"--network", "preprod", "--tip-slot", strconv.FormatUint(tip, 10), "--node-version", "10.6",
		"--metrics", "127.0.0.1:0", "--metrics-addr-file", addrFile, "--metrics-nosuffix",
		"--log-format", "json", "--log-file", logFile, "--trace-option", "Startup.BlockForgingUpdate=Info",
		"--onchain-counter", pool.ID().Bech32()+"=1", "--pid-file", pidFile,
	)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	eventually(t, "the pid file", func() bool { _, err := os.Stat(pidFile); return err == nil })
	pid, err := os.ReadFile(pidFile)
	if err != nil || strings.TrimSpace(string(pid)) != strconv.Itoa(cmd.Process.Pid) {
		t.Fatalf("got pid file %q (%v), want %d", pid, err, cmd.Process.Pid)
	}
	addr, err := os.ReadFile(addrFile)
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://%s/metrics", strings.TrimSpace(string(addr)))
	metric := func(name string) float64 {
		m, body := metrics(t, url)
		v, ok := m[name]
		if !ok {
			t.Fatalf("got metrics %s, want %s", body, name)
		}
		return v
	}
	if v := handshake(t, sock, n.Magic); v != 22 {
		t.Errorf("got NtC version %d from --node-version 10.6, want 22", v)
	}
	if got := metric("cardano_node_metrics_operationalCertificateStartKESPeriod"); got != 299 {
		t.Fatalf("got start period %v, want 299", got)
	}

	second, err := pool.Issue(6, 3, 300)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.WriteSet(dir, second); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the new cert in the metrics", func() bool {
		return metric("cardano_node_metrics_operationalCertificateStartKESPeriod") == 300
	})

	// Rotate the log behind its path, then disable forging: the disable
	// lands in the new file.
	if err := cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the rotated log", func() bool { _, err := os.Stat(logFile + ".1"); return err == nil })
	if err := os.Remove(cfg.KESKeyPath); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, "forging disabled", func() bool { return metric("cardano_node_metrics_forging_enabled") == 0 })

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-exited; err != nil {
		t.Errorf("got exit %v, want 0; stderr %q", err, errOut)
	}
	exited <- nil // for the cleanup
	old, err := os.ReadFile(logFile + ".1")
	if err != nil {
		t.Fatal(err)
	}
	cur, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(string(old), `"enabled":"EnabledBlockForging"`); got != 2 {
		t.Errorf("got %d enabled lines in the rotated log %s, want 2 (start and first SIGHUP)", got, old)
	}
	if !strings.Contains(string(cur), `{"enabled":"DisabledBlockForging","kind":"BlockForgingUpdate"}`) || strings.Contains(string(cur), "EnabledBlockForging") {
		t.Errorf("got current log %s, want only the disable", cur)
	}
	if _, err := os.Stat(pidFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("got %v for the pid file after exit, want it removed", err)
	}
}

func TestBinaryVersionsAndFormats(t *testing.T) {
	pool, err := testnode.NewPool(1)
	if err != nil {
		t.Fatal(err)
	}
	set, err := pool.Issue(5, 2, 299)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args        []string
		wantVersion uint64
		wantMetric  string // a line of the exposition
		wantLog     string
	}{
		{[]string{"--node-version", "10.5"}, 20, "cardano_node_metrics_forging_enabled 1", ":cardano.node.startup:Info:5]"},
		{[]string{"--node-version", "10.5", "--tracing", "new"}, 20, "cardano_node_metrics_forging_enabled_int 1", "Startup.NetworkConfigUpdate"},
		{nil, 23, "# EOF", ""},
		{[]string{"--node-version", "11.0", "--tracing", "legacy"}, 23, "cardano_node_metrics_cardano_build_info {", ":cardano.node.startup:Info:5]"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			dir := t.TempDir()
			cfg, err := pool.WriteSet(dir, set)
			if err != nil {
				t.Fatal(err)
			}
			sock := socketPath(t)
			pidFile := filepath.Join(dir, "node.pid")
			addrFile := filepath.Join(dir, "metrics.addr")
			args := append([]string{"--shelley-kes-key", cfg.KESKeyPath, "--shelley-vrf-key", cfg.VRFKeyPath,
				"--shelley-operational-certificate", cfg.CertPath, "--socket-path", sock, "--network", "preprod",
				"--tip-slot", strconv.FormatUint(300*opcert.Preprod.SlotsPerKESPeriod, 10),
				"--metrics", "127.0.0.1:0", "--metrics-addr-file", addrFile, "--pid-file", pidFile}, tt.args...)
			cmd, out, errOut := command(args...)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			t.Cleanup(func() {
				_ = cmd.Process.Kill()
				<-exited
			})
			eventually(t, "the pid file", func() bool { _, err := os.Stat(pidFile); return err == nil })
			if v := handshake(t, sock, opcert.Preprod.Magic); v != tt.wantVersion {
				t.Errorf("got NtC version %d, want %d", v, tt.wantVersion)
			}
			addr, err := os.ReadFile(addrFile)
			if err != nil {
				t.Fatal(err)
			}
			_, body := metrics(t, "http://"+strings.TrimSpace(string(addr))+"/metrics")
			if !strings.Contains(body, tt.wantMetric) {
				t.Errorf("got metrics %s, want %q in them", body, tt.wantMetric)
			}
			if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			if tt.wantLog != "" {
				eventually(t, tt.wantLog+" in the log", func() bool { return strings.Contains(out.String(), tt.wantLog) })
			}
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if err := <-exited; err != nil {
				t.Errorf("got exit %v, want 0; stderr %q", err, errOut)
			}
			exited <- nil
		})
	}
}

func TestBinaryRefusesToStart(t *testing.T) {
	pool, err := testnode.NewPool(1)
	if err != nil {
		t.Fatal(err)
	}
	set, err := pool.Issue(5, 2, 299)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		prepare  func(t *testing.T, cfg testnode.Config)
		extra    []string
		wantCode int
		wantErr  string
	}{
		{
			name: "VRF key readable by others",
			prepare: func(t *testing.T, cfg testnode.Config) {
				if err := os.Chmod(cfg.VRFKeyPath, 0o604); err != nil {
					t.Fatal(err)
				}
			},
			wantCode: 1, wantErr: `has "other" file permissions. Please remove all "other" file permissions.`,
		},
		{
			name: "missing KES key, even non-producing",
			prepare: func(t *testing.T, cfg testnode.Config) {
				if err := os.Remove(cfg.KESKeyPath); err != nil {
					t.Fatal(err)
				}
			},
			extra:    []string{"--start-as-non-producing-node"},
			wantCode: 1, wantErr: "kesrotate-testnode: Error file not found at: ",
		},
		{
			name:     "unknown network",
			prepare:  func(*testing.T, testnode.Config) {},
			extra:    []string{"--network", "testnet"},
			wantCode: 2, wantErr: "unknown network",
		},
		{
			name:     "unknown node version",
			prepare:  func(*testing.T, testnode.Config) {},
			extra:    []string{"--node-version", "9.2"},
			wantCode: 2, wantErr: "unknown node version",
		},
		{
			name:     "json lines from the legacy system",
			prepare:  func(*testing.T, testnode.Config) {},
			extra:    []string{"--tracing", "legacy", "--log-format", "json"},
			wantCode: 2, wantErr: "legacy tracing system writes legacy lines",
		},
		{
			name:     "tip slot and now",
			prepare:  func(*testing.T, testnode.Config) {},
			extra:    []string{"--tip-slot", "1", "--now", "2026-01-01T00:00:00Z"},
			wantCode: 2, wantErr: "exclude each other",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := pool.WriteSet(t.TempDir(), set)
			if err != nil {
				t.Fatal(err)
			}
			tt.prepare(t, cfg)
			args := []string{"--shelley-kes-key", cfg.KESKeyPath, "--shelley-vrf-key", cfg.VRFKeyPath,
				"--shelley-operational-certificate", cfg.CertPath}
			if !strings.Contains(strings.Join(tt.extra, " "), "--tip-slot") {
				args = append(args, "--tip-slot", strconv.FormatUint(300*opcert.Mainnet.SlotsPerKESPeriod, 10))
			}
			args = append(args, tt.extra...)
			cmd, _, errOut := command(args...)
			err = cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != tt.wantCode {
				t.Fatalf("got %v, want exit code %d; stderr %q", err, tt.wantCode, errOut)
			}
			if !strings.Contains(errOut.String(), tt.wantErr) {
				t.Errorf("got stderr %q, want %q in it", errOut, tt.wantErr)
			}
		})
	}
}

func relayTopology(producer string) string {
	return `{"localRoots":[{"accessPoints":[{"address":"` + producer + `","port":3001}],"advertise":false,"valency":1}],"publicRoots":[]}`
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A relay: no credential flags, a --topology file that SIGHUP re-reads.
// The roots appear in the log (JSON lines, Startup.NetworkConfig raised to
// Info); a file the node refuses prints its error call on stderr and the
// node carries on.
func TestBinaryRelayFollowsItsTopology(t *testing.T) {
	dir := t.TempDir()
	topology := filepath.Join(dir, "topology.json")
	writeFile(t, topology, relayTopology("bp1.example.com"))
	pidFile := filepath.Join(dir, "node.pid")
	cmd, out, errOut := command("--topology", topology, "--socket-path", socketPath(t), "--network", "preprod",
		"--tip-slot", strconv.FormatUint(300*opcert.Preprod.SlotsPerKESPeriod, 10), "--node-version", "10.6",
		"--log-format", "json", "--trace-option", "Startup.NetworkConfig=Info", "--pid-file", pidFile)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	eventually(t, "the pid file", func() bool { _, err := os.Stat(pidFile); return err == nil })
	roots := func(name string) string { return `"localRoots":[[1,1,[[{"address":"` + name + `.","port":3001}` }
	if !strings.Contains(out.String(), roots("bp1.example.com")) {
		t.Fatalf("got log %s, want the start's roots with bp1", out)
	}
	for _, step := range []struct {
		body, what string
		done       func() bool
	}{
		{relayTopology("bp2.example.com"), "the roots with bp2", func() bool { return strings.Contains(out.String(), roots("bp2.example.com")) }},
		{`{"localRoots":[]}`, "the error call on stderr", func() bool {
			return strings.Contains(errOut.String(), `cardano-node: Cardano.Node.Configuration.TopologyP2P.readTopologyFile: Is your topology file formatted correctly?`) &&
				strings.Contains(errOut.String(), `Error in $: key "publicRoots" not found`+"\nCallStack (from HasCallStack):\n")
		}},
		{relayTopology("bp3.example.com"), "the roots with bp3", func() bool { return strings.Contains(out.String(), roots("bp3.example.com")) }},
	} {
		writeFile(t, topology, step.body)
		if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		eventually(t, step.what, step.done)
	}
	if got := strings.Count(out.String(), `"enabled":"DisabledBlockForging"`); got != 0 {
		t.Errorf("got %d BlockForgingUpdate lines, want none at the shipped Notice severity", got)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-exited; err != nil {
		t.Errorf("got exit %v, want 0; stderr %q", err, errOut)
	}
	exited <- nil
}

// What stops a start that has no complete credential set or a topology
// the node refuses: exit 1 with the node's message.
func TestBinaryRefusesToStartARelay(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	writeFile(t, bad, `{"Producers":[]}`)
	tip := []string{"--tip-slot", "1"}
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"a partial credential set", []string{"--shelley-kes-key", filepath.Join(dir, "kes.skey")},
			`kesrotate-testnode: "To create blocks, the --shelley-operational-certificate must also be specified"` + "\n"},
		{"a legacy topology file", []string{"--topology", bad, "--node-version", "10.5"},
			"kesrotate-testnode: Cardano.Node.Configuration.TopologyP2P.readTopologyFile: Is your topology file formatted correctly? " +
				"Expecting P2P Topology file format. The port and valency fields should be numerical. If you specified the correct topology file " +
				`make sure that you correctly setup EnableP2P configuration flag. Error in $: key "localRoots" not found` + "\n" +
				"CallStack (from HasCallStack):\n  error, called at src/Cardano/Node/Configuration/TopologyP2P.hs:275:23 in " +
				"cardano-node-10.5.3-inplace:Cardano.Node.Configuration.TopologyP2P\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd, _, errOut := command(append(tt.args, tip...)...)
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("got %v, want exit code 1; stderr %q", err, errOut)
			}
			if errOut.String() != tt.wantErr {
				t.Errorf("got stderr %q, want %q", errOut, tt.wantErr)
			}
		})
	}
}
