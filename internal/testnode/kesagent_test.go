package testnode

import (
	"context"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kesrotate/kesrotate/internal/kesagentdouble"
	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/opcert"
)

// A node on a KES agent (cardano-node 10.7.1+ --shelley-kes-agent-socket;
// sources in kesagent.go): it reads the VRF key and the op cert file, and
// forges only with the key the agent pushes.

// previewGenesis gives the agent double preview's KES periods (preview has
// no Byron era, so the agent's reckoning agrees with the chain).
const previewGenesis = `{"systemStart":"2022-10-25T00:00:00Z","slotLength":1,"slotsPerKESPeriod":129600}`

func startAgentDouble(t *testing.T, p *Pool) (*kesagentdouble.Agent, string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "tna") // short: a unix socket path
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	g, err := kesagentdouble.ParseGenesis([]byte(previewGenesis))
	if err != nil {
		t.Fatal(err)
	}
	at := network.SlotTime(tipSlot)
	cold := p.Cold.Public()
	a := kesagentdouble.NewAgent(ed25519.PublicKey(cold[:]), g, func() time.Time { at = at.Add(time.Millisecond); return at }, nil)
	srv, err := kesagentdouble.Listen(a, filepath.Join(dir, "service.sock"), filepath.Join(dir, "control.sock"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return a, filepath.Join(dir, "service.sock")
}

// agentConfig writes the VRF key and an op cert file (only its cold key
// matters) and configures the node on the agent's socket.
func agentConfig(t *testing.T, p *Pool, socket string) Config {
	t.Helper()
	cfg := mustWrite(t, p, t.TempDir(), mustIssue(t, p, 1, 1, 99))
	if err := os.Remove(cfg.KESKeyPath); err != nil {
		t.Fatal(err)
	}
	cfg.KESKeyPath, cfg.KESAgentSocket, cfg.NodeVersion = "", socket, Version110
	cfg.AgentRetry = 20 * time.Millisecond
	cfg.MetricsAddr = "127.0.0.1:0"
	return cfg
}

func waitState(t *testing.T, n *Node, what string, ok func(State) bool) State {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := n.State()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("node never showed %s; state %+v", what, s)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func installOnAgent(t *testing.T, a *kesagentdouble.Agent, p *Pool, counter, period uint64) keys.KESVKey {
	t.Helper()
	vk, err := a.GenStagedKey()
	if err != nil {
		t.Fatal(err)
	}
	c := opcert.Issue(p.Cold, keys.KESVKey(vk), counter, period)
	oc := kesagentdouble.OCert{VKHot: vk, N: c.Counter, KESPeriod: c.KESPeriod}
	copy(oc.Sigma[:], c.Sigma[:])
	if r := a.InstallKey(oc); r != kesagentdouble.RecvOK {
		t.Fatalf("install-key: %s", r.Reason())
	}
	return keys.KESVKey(vk)
}

// HotKey.hs mkEmptyHotKey and AgentClient.hs handleKey/handleDropKey.
func TestAgentModeForgesWithPushedKey(t *testing.T) {
	p := mustPool(t, 31)
	a, sock := startAgentDouble(t, p)
	n, _ := start(t, agentConfig(t, p, sock))
	s := n.State()
	if s.CanForge || !strings.Contains(s.CannotForge, "no KES key from the KES agent") || !s.Forging {
		t.Fatalf("before the agent has a key: %+v", s)
	}
	// Block forging is on (the credentials read), but the empty hot key
	// shows no cert's start period.
	if m := scrape(t, n.MetricsURL()); m["cardano_node_metrics_forging_enabled_int"] != 1 ||
		m["cardano_node_metrics_operationalCertificateStartKESPeriod_int"] != 0 {
		t.Errorf("metrics before a key: %v", m)
	}
	vk := installOnAgent(t, a, p, 2, 100)
	s = waitState(t, n, "the agent's key", func(s State) bool { return s.AgentKeys == 1 })
	if !s.CanForge || s.StartPeriod != 100 || s.CertCounter != 2 || s.KESVKey != vk || s.Evolution != 0 {
		t.Errorf("with the pushed key: %+v", s)
	}
	if m := scrape(t, n.MetricsURL()); m["cardano_node_metrics_operationalCertificateStartKESPeriod_int"] != 100 ||
		m["cardano_node_metrics_remainingKESPeriods_int"] != 62 {
		t.Errorf("metrics after the push: %v", m)
	}
	if r := a.DropKey(); r != kesagentdouble.RecvOK {
		t.Fatal(r.Reason())
	}
	s = waitState(t, n, "the dropped key", func(s State) bool { return !s.CanForge })
	if !strings.Contains(s.CannotForge, "no KES key") {
		t.Errorf("after drop-key: %q", s.CannotForge)
	}
}

// AgentClient.hs: the agent evolves; the node takes the key at the
// evolution it is pushed with and cannot sign for an earlier one.
func TestAgentModeEvolvedKey(t *testing.T) {
	p := mustPool(t, 32)
	a, sock := startAgentDouble(t, p)
	installOnAgent(t, a, p, 1, 98) // the agent evolves it to evolution 2
	n, _ := start(t, agentConfig(t, p, sock))
	s := waitState(t, n, "the agent's key", func(s State) bool { return s.AgentKeys == 1 })
	if !s.CanForge || s.Evolution != 2 {
		t.Errorf("key pushed at evolution 2 at period 100 of a cert from 98: %+v", s)
	}
	n.SetTipSlot(tipSlot - network.SlotsPerKESPeriod) // period 99: the key is past it
	if s := n.State(); s.CanForge {
		t.Errorf("a key at evolution 2 cannot sign at evolution 1: %+v", s)
	}
}

// The node connects to an agent that comes up after it (runKESAgentClient
// retries), and reads the op cert file for its cold key only: a file cert
// of another KES key does not matter.
func TestAgentModeLateAgentAndCertFile(t *testing.T) {
	p := mustPool(t, 33)
	dir, err := os.MkdirTemp("", "tnb")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "service.sock")
	n, _ := start(t, agentConfig(t, p, sock))
	g, _ := kesagentdouble.ParseGenesis([]byte(previewGenesis))
	cold := p.Cold.Public()
	at := network.SlotTime(tipSlot)
	a := kesagentdouble.NewAgent(ed25519.PublicKey(cold[:]), g, func() time.Time { at = at.Add(time.Millisecond); return at }, nil)
	srv, err := kesagentdouble.Listen(a, sock, "")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	installOnAgent(t, a, p, 3, 100)
	s := waitState(t, n, "the late agent's key", func(s State) bool { return s.AgentKeys == 1 })
	if !s.CanForge || s.CertCounter != 3 {
		t.Errorf("%+v", s)
	}
}

// cardano-node before 10.7.1 has no --shelley-kes-agent-socket; the two
// KES sources exclude each other.
func TestAgentModeRefused(t *testing.T) {
	p := mustPool(t, 34)
	for _, v := range []string{Version105, Version106} {
		cfg := agentConfig(t, p, "/nonexistent/s.sock")
		cfg.NodeVersion = v
		if _, err := Start(context.Background(), cfg); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "Invalid option `--shelley-kes-agent-socket'") {
			t.Errorf("node %s: %v", v, err)
		}
	}
	cfg := agentConfig(t, p, "/nonexistent/s.sock")
	cfg.KESKeyPath = filepath.Join(t.TempDir(), "kes.skey")
	if _, err := Start(context.Background(), cfg); !errors.Is(err, ErrConfig) {
		t.Errorf("both KES sources: %v", err)
	}
	cfg = agentConfig(t, p, "/nonexistent/s.sock")
	cfg.CertPath = ""
	if _, err := Start(context.Background(), cfg); !errors.Is(err, ErrPartialCredentials) {
		t.Errorf("agent socket without a cert: %v", err)
	}
}

// SIGHUP on a node on a KES agent re-reads the VRF key and the cert file
// and keeps the agent's key; a missing cert file disables forging.
func TestAgentModeReload(t *testing.T) {
	p := mustPool(t, 35)
	a, sock := startAgentDouble(t, p)
	cfg := agentConfig(t, p, sock)
	n, _ := start(t, cfg)
	installOnAgent(t, a, p, 2, 100)
	waitState(t, n, "the agent's key", func(s State) bool { return s.AgentKeys == 1 })
	if o, err := n.Reload(); o != Enabled || err != nil {
		t.Fatalf("reload: %v %v", o, err)
	}
	if s := n.State(); !s.CanForge || s.CertCounter != 2 {
		t.Errorf("after reload: %+v", s)
	}
	if err := os.Remove(cfg.CertPath); err != nil {
		t.Fatal(err)
	}
	if o, _ := n.Reload(); o != Disabled {
		t.Errorf("reload without the cert file: %v", o)
	}
	if s := n.State(); s.CanForge {
		t.Errorf("forging without a cert file: %+v", s)
	}
}
