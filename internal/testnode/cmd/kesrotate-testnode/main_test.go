package main

import (
	"bytes"
	"errors"
	"fmt"
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

	"github.com/kesrotate/kesrotate/internal/testnode"
	"github.com/kesrotate/kesrotate/opcert"
	"github.com/kesrotate/kesrotate/producer/nodequery"
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
	for i := 0; i < 600; i++ {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("gave up waiting for %s", what)
}

func TestBinaryReloadsOnSIGHUP(t *testing.T) {
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
	sockDir, err := os.MkdirTemp("", "tn")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(sockDir) })
	sock := filepath.Join(sockDir, "node.socket")
	pidFile := filepath.Join(dir, "node.pid")
	addrFile := filepath.Join(dir, "metrics.addr")

	cmd, out, errOut := command(
		"--shelley-kes-key", cfg.KESKeyPath, "--shelley-vrf-key", cfg.VRFKeyPath,
		"--shelley-operational-certificate", cfg.CertPath, "--socket-path", sock,
		"--network", "preprod", "--tip-slot", strconv.FormatUint(tip, 10),
		"--metrics", "127.0.0.1:0", "--metrics-addr-file", addrFile, "--metrics-nosuffix",
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
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		m, err := nodequery.ParseMetrics(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := m[strings.TrimSuffix(name, "_int")]; !ok {
			t.Fatalf("got metrics %v, want %s without the _int suffix", m, name)
		}
		v, _ := nodequery.Lookup(m, name)
		return v
	}
	if got := metric(testnode.MetricCertCounter); got != 2 {
		t.Fatalf("got counter %v, want 2", got)
	}
	st, err := nodequery.Query(t.Context(), sock, n.Magic, pool.ID())
	if err != nil {
		t.Fatal(err)
	}
	if st.TipSlot != tip || st.OnChain != opcert.Recorded(1) {
		t.Errorf("got tip %d counter %v, want %d and 1", st.TipSlot, st.OnChain, tip)
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
	eventually(t, "the new counter in the metrics", func() bool { return metric(testnode.MetricCertCounter) == 3 })
	if got := metric(testnode.MetricCertStartPeriod); got != 300 {
		t.Errorf("got start period %v, want 300", got)
	}

	if err := os.Remove(cfg.KESKeyPath); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, "forging disabled", func() bool { return metric(testnode.MetricForgingEnabled) == 0 })

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-exited; err != nil {
		t.Errorf("got exit %v, want 0; stderr %q", err, errOut)
	}
	exited <- nil // for the cleanup
	log := out.String()
	for _, want := range []string{"Enabling block forging", "Disabling block forging"} {
		if !strings.Contains(log, want) {
			t.Errorf("got log %q, want %q in it", log, want)
		}
	}
	if strings.Count(log, "Enabling block forging") != 2 {
		t.Errorf("got log %q, want forging enabled at start and after the first SIGHUP", log)
	}
	if _, err := os.Stat(pidFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("got %v for the pid file after exit, want it removed", err)
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
			wantCode: 1, wantErr: `"other" permissions`,
		},
		{
			name:     "expired cert",
			prepare:  func(*testing.T, testnode.Config) {},
			extra:    []string{"--tip-slot", strconv.FormatUint(400*opcert.Mainnet.SlotsPerKESPeriod, 10)},
			wantCode: 1, wantErr: "expired",
		},
		{
			name:     "unknown network",
			prepare:  func(*testing.T, testnode.Config) {},
			extra:    []string{"--network", "testnet"},
			wantCode: 2, wantErr: "unknown network",
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
				"--shelley-operational-certificate", cfg.CertPath, "--tip-slot", strconv.FormatUint(300*opcert.Mainnet.SlotsPerKESPeriod, 10)}
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
