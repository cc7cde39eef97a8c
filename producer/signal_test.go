package producer

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kesrotate/kesrotate/opcert"
	"github.com/kesrotate/kesrotate/plan"
	"github.com/kesrotate/kesrotate/producer/nodequery"
)

// TestHUPHelper stands in for a cardano-node process: it writes its pid,
// waits for SIGHUP and records it in a file.
func TestHUPHelper(t *testing.T) {
	out := os.Getenv("KESROTATE_HUP_FILE")
	if out == "" {
		return
	}
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	if err := os.WriteFile(out+".ready", nil, 0o600); err != nil {
		os.Exit(5)
	}
	select {
	case <-ch:
		_ = os.WriteFile(out, []byte("hup"), 0o600)
		os.Exit(0)
	case <-time.After(60 * time.Second):
		os.Exit(6)
	}
}

func startHUPHelper(t *testing.T, args ...string) (*exec.Cmd, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "hup")
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^TestHUPHelper$", "-test.count=1", "--"}, args...)...)
	cmd.Env = append(os.Environ(), "KESROTATE_HUP_FILE="+out)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	waitFile(t, out+".ready")
	return cmd, out
}

// waitFile waits for a file the helper writes (bounded by the test
// binary's own timeout, never asserted on).
func waitFile(t *testing.T, p string) {
	t.Helper()
	for i := 0; i < 2000; i++ {
		if _, err := os.Stat(p); err == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s never appeared", p)
}

func TestSignalModes(t *testing.T) {
	t.Run("process matched by its credential paths", func(t *testing.T) {
		f := newFixture(t, true, func(c *Config) { c.Signal = Signal{Mode: "process"} })
		c := f.a.Config
		// A process with only two of the paths must not match.
		startHUPHelper(t, "--shelley-kes-key", c.KESKey, "--shelley-vrf-key", c.VRFKey)
		cmd, out := startHUPHelper(t, "run", "--shelley-kes-key", c.KESKey, "--shelley-vrf-key="+c.VRFKey, "--shelley-operational-certificate", c.Cert)
		pid, err := f.a.NodePID()
		if err != nil || pid != cmd.Process.Pid {
			t.Fatalf("got pid %d, %v, want %d", pid, err, cmd.Process.Pid)
		}
		if _, err := f.a.SignalNode(); err != nil {
			t.Fatal(err)
		}
		waitFile(t, out)
		// Two candidates: refuse to guess.
		startHUPHelper(t, "--shelley-kes-key", c.KESKey, "--shelley-vrf-key", c.VRFKey, "--shelley-operational-certificate", c.Cert)
		startHUPHelper(t, "--shelley-kes-key", c.KESKey, "--shelley-vrf-key", c.VRFKey, "--shelley-operational-certificate", c.Cert)
		if _, err := f.a.NodePID(); !errors.Is(err, ErrNodeNotFound) || !strings.Contains(err.Error(), "configure a pid file") {
			t.Errorf("got %v with two matching processes, want ErrNodeNotFound", err)
		}
	})
	t.Run("pid file", func(t *testing.T) {
		pidFile := filepath.Join(t.TempDir(), "node.pid")
		f := newFixture(t, true, func(c *Config) { c.Signal = Signal{Mode: "pid-file", PIDFile: pidFile} })
		if _, err := f.a.NodePID(); !errors.Is(err, ErrNodeNotFound) {
			t.Errorf("got %v without a pid file, want ErrNodeNotFound", err)
		}
		cmd, out := startHUPHelper(t)
		if err := os.WriteFile(pidFile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := f.a.SignalNode(); err != nil {
			t.Fatal(err)
		}
		waitFile(t, out)
	})
	t.Run("no process", func(t *testing.T) {
		f := newFixture(t, true, func(c *Config) { c.Signal = Signal{Mode: "process"} })
		if _, err := f.a.NodePID(); !errors.Is(err, ErrNodeNotFound) {
			t.Errorf("got %v, want ErrNodeNotFound", err)
		}
	})
}

func TestStatus(t *testing.T) {
	f := newFixture(t, true, nil)
	n, _ := f.startNode(false)
	var m *nodequery.Scrape
	tests := []struct {
		name      string
		onchain   opcert.OnChain
		known     bool
		counterOK *bool
		verdict   string
	}{
		{"agrees", opcert.Recorded(3), true, ptr(true), "agrees with the node protocol state counter"},
		{"chain ahead", opcert.Recorded(5), true, ptr(false), "greater than"},
		{"over-incremented", opcert.Recorded(2), true, ptr(false), "more than one above"},
		{"unknown", opcert.None(), false, nil, "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			scrape, err := metricsOf(n.MetricsURL())
			if err != nil {
				t.Fatal(err)
			}
			m = scrape
			s, err := f.a.Status(ChainState{TipSlot: f.tip, OnChain: tt.onchain, OnChainKnown: tt.known}, "given", m, nil, testNow)
			if err != nil {
				t.Fatal(err)
			}
			if (s.CounterOK == nil) != (tt.counterOK == nil) || (s.CounterOK != nil && *s.CounterOK != *tt.counterOK) {
				t.Errorf("got counter ok %v, want %v", s.CounterOK, tt.counterOK)
			}
			if !strings.Contains(s.CounterVerdict, tt.verdict) {
				t.Errorf("got verdict %q, want it to contain %q", s.CounterVerdict, tt.verdict)
			}
			if s.CurrentPeriod != 200 || s.CertEndPeriod != oldPeriod+62 || s.RemainingPeriods != oldPeriod+62-200 || !s.PeriodOK {
				t.Errorf("got period %d, end %d, remaining %d, ok %v", s.CurrentPeriod, s.CertEndPeriod, s.RemainingPeriods, s.PeriodOK)
			}
			if s.Forging == nil || !s.Forging.MatchesInstalled || s.Forging.Enabled == nil || !*s.Forging.Enabled {
				t.Errorf("got forging %+v, want enabled with the installed cert", s.Forging)
			}
			// kesrotate plan reads the JSON.
			b, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			as, id, err := plan.ParseAgentStatus(b)
			if err != nil {
				t.Fatalf("plan cannot read the status: %v\n%s", err, b)
			}
			if id != f.pool.ID() || as.CertCounter != oldCounter || as.CertKESPeriod != oldPeriod || as.TipSlot != f.tip {
				t.Errorf("plan reads %+v", as)
			}
			if oc, known, _ := as.OnChain(); known != tt.known || (known && oc != tt.onchain) {
				t.Errorf("plan reads on-chain %v (known %v), want %v (%v)", oc, known, tt.onchain, tt.known)
			}
			prom := string(s.Prometheus())
			for _, want := range []string{"kesrotate_agent_remaining_kes_periods{", "kesrotate_agent_cert_counter{pool_id=\"" + f.pool.ID().Hex() + "\",network=\"preview\"} 4\n"} {
				if !strings.Contains(prom, want) {
					t.Errorf("prometheus output lacks %q:\n%s", want, prom)
				}
			}
		})
	}
	t.Run("no cert", func(t *testing.T) {
		g := newFixture(t, false, nil)
		if _, err := g.a.Status(ChainState{TipSlot: g.tip}, "given", nil, nil, testNow); !errors.Is(err, ErrNoCert) {
			t.Errorf("got %v, want ErrNoCert", err)
		}
	})
}

func ptr[T any](v T) *T { return &v }

func metricsOf(url string) (*nodequery.Scrape, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return nodequery.Metrics(ctx, url)
}

// --match-process signals only a process of the node's user: one of
// another user that names the same paths is not a candidate.
func TestMatchProcessOnlyTheNodesUser(t *testing.T) {
	proc := t.TempDir()
	paths := [3]string{"/keys/kes.skey", "/keys/vrf.skey", "/keys/node.cert"}
	dir := filepath.Join(proc, "4242")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmdline := "cardano-node\x00run\x00--shelley-kes-key\x00/keys/kes.skey\x00--shelley-vrf-key\x00/keys/vrf.skey\x00--shelley-operational-certificate\x00/keys/node.cert\x00"
	if err := os.WriteFile(filepath.Join(dir, "cmdline"), []byte(cmdline), 0o644); err != nil {
		t.Fatal(err)
	}
	me := uint32(os.Geteuid())
	if pid, err := MatchProcess(proc, paths, me); err != nil || pid != 4242 {
		t.Errorf("own user: got %d, %v, want 4242", pid, err)
	}
	if _, err := MatchProcess(proc, paths, me+1); !errors.Is(err, ErrNodeNotFound) || !strings.Contains(err.Error(), "belong to another user") {
		t.Errorf("another user's process: got %v, want it refused", err)
	}
}
