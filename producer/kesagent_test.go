package producer

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kesrotate/kesrotate/internal/kesagentdouble"
	"github.com/kesrotate/kesrotate/internal/testnode"
	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/opcert"
	"github.com/kesrotate/kesrotate/transfer"
)

// The agent drives kes-agent through kes-agent-control as a process; here
// that process is internal/kesagentdouble's, whose outputs and failure
// modes are written from input-output-hk/kes-agent (kes-agent/cli/
// ControlMain.hs, Processes/Agent/ControlActions.hs, CommonActions.hs,
// kes-agent-crypto/…/KES/Evolution.hs; see that package's doc).

// TestKESAgentControlHelper is kes-agent-control when run by the script
// kesAgentControl writes; it does nothing as a plain test.
func TestKESAgentControlHelper(t *testing.T) {
	if os.Getenv("KESROTATE_FAKE_KES_AGENT_CONTROL") == "" {
		return
	}
	os.Exit(kesagentdouble.ControlMain(flagArgs(), os.Getenv, os.Stdout, os.Stderr))
}

// kesAgentControl installs the stand-in for kes-agent-control.
func kesAgentControl(t *testing.T) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "kes-agent-control")
	script := fmt.Sprintf("#!/bin/sh\nKESROTATE_FAKE_KES_AGENT_CONTROL=1 exec %q -test.run='^TestKESAgentControlHelper$' -test.count=1 -- \"$@\"\n", os.Args[0])
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	old := KESAgentControl
	KESAgentControl = bin
	t.Cleanup(func() { KESAgentControl = old })
}

// previewGenesis gives kes-agent preview's KES periods (no Byron era).
const previewGenesis = `{"systemStart":"2022-10-25T00:00:00Z","slotLength":1,"slotsPerKESPeriod":129600}`

// kesAgentFixture is an agent in kes-agent mode beside a kes-agent (the
// double) at the fixture's tip, whose cold key is cold (the pool's when
// nil).
type kesAgentFixture struct {
	*fixture
	kad     *kesagentdouble.Agent
	srv     *kesagentdouble.Server
	control string
}

func newKESAgentFixture(t *testing.T, cold *keys.ColdVKey, at func(*fixture) time.Time) *kesAgentFixture {
	t.Helper()
	kesAgentControl(t)
	dir, err := os.MkdirTemp("", "pka") // short: a unix socket path
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	control := filepath.Join(dir, "control.sock")
	f := newFixture(t, false, func(c *Config) { c.KESKey, c.KESAgentSocket = "", control })
	if cold == nil {
		vk := f.pool.Cold.Public()
		cold = &vk
	}
	g, err := kesagentdouble.ParseGenesis([]byte(previewGenesis))
	if err != nil {
		t.Fatal(err)
	}
	now := f.net.SlotTime(f.tip)
	if at != nil {
		now = at(f)
	}
	kad := kesagentdouble.NewAgent(ed25519.PublicKey(cold[:]), g, func() time.Time { now = now.Add(time.Millisecond); return now }, nil)
	srv, err := kesagentdouble.Listen(kad, filepath.Join(dir, "service.sock"), control)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return &kesAgentFixture{fixture: f, kad: kad, srv: srv, control: control}
}

// certBundle is a cert-only bundle (KES-on-producer) for vk.
func (f *kesAgentFixture) certBundle(vk keys.KESVKey, counter, period uint64) *transfer.Bundle {
	f.t.Helper()
	e, _, err := f.a.Enrollment()
	if err != nil {
		f.t.Fatal(err)
	}
	return &transfer.Bundle{Magic: f.net.Magic, PoolID: f.pool.ID(), Cold: f.pool.Cold.Public(),
		Cert: opcert.Issue(f.pool.Cold, vk, counter, period), VRF: cloneVRF(f.t, f.pool.VRF), Producer: e.Fingerprint(), Created: testNow}
}

func (f *kesAgentFixture) deploy(b *transfer.Bundle, onchain *opcert.OnChain) (*InstallResult, error) {
	o := InstallOptions{ActivateOptions: f.opts()}
	o.OnChain = onchain
	return f.a.Install(context.Background(), b, o)
}

// noKESSecret fails if any file under the roots holds a KES signing key.
func noKESSecret(t *testing.T, roots ...string) {
	t.Helper()
	for _, root := range roots {
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || d.Type()&fs.ModeSymlink != 0 || d.Type()&fs.ModeSocket != 0 {
				return nil
			}
			b, err := os.ReadFile(p)
			if err == nil && bytes.Contains(b, []byte("KesSigningKey")) {
				t.Errorf("%s holds a KES signing key", p)
			}
			return nil
		})
	}
}

// A rotation through kes-agent: the key is made in kes-agent, only its
// vkey rides in the snapshot, the cert is installed through kes-agent, the
// node's cert file names it, and no KES signing key is written.
func TestKESAgentRotation(t *testing.T) {
	f := newKESAgentFixture(t, nil, nil)
	vk, err := f.a.NewPendingKES(nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if staged, ok := f.kad.StagedVKey(); !ok || keys.KESVKey(staged) != vk {
		t.Fatalf("kes-agent's staged key %x is not kes new's %x", staged, vk)
	}
	if _, err := f.a.NewPendingKES(nil, false); !errors.Is(err, ErrPendingExists) {
		t.Errorf("kes new again: %v, want ErrPendingExists", err)
	}
	s, _, err := f.a.Snapshot(ChainState{TipSlot: f.tip, OnChain: opcert.None(), OnChainKnown: true}, testNow)
	if err != nil || s.KESVKey == nil || *s.KESVKey != vk {
		t.Fatalf("snapshot: %v %+v", err, s)
	}
	res, err := f.deploy(f.certBundle(vk, 0, 200), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Confirmation.Unconfirmable || len(res.Confirmation.Sources) != 1 || res.Confirmation.Sources[0] != "kes-agent" {
		t.Errorf("without metrics: %+v", res.Confirmation)
	}
	info := f.kad.Info()
	if info.Bundle == nil || info.Bundle.Deleted || keys.KESVKey(info.Bundle.VKey) != vk || info.Bundle.N != 0 {
		t.Errorf("kes-agent holds %+v", info.Bundle)
	}
	c, err := f.a.InstalledCert()
	if err != nil || c == nil || c.KESVKey != vk {
		t.Errorf("the node's cert file: %v %v", c, err)
	}
	if _, err := os.Stat(filepath.Join(f.a.Dir, SetsDir, res.Activated.Set, SetKESFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the set holds a KES key file: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(f.nodeDir, "kes.skey")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a KES path was made for a node that reads none: %v", err)
	}
	if _, err := os.Stat(filepath.Join(f.a.Dir, KESDir, PendingKESVK)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the pending vkey outlived its install: %v", err)
	}
	noKESSecret(t, f.a.Dir, f.nodeDir)

	// The same bundle again: kes-agent already serves it; nothing is asked.
	if res, err := f.deploy(f.certBundle(vk, 0, 200), nil); err == nil || !errors.Is(err, ErrNoPendingKES) {
		t.Errorf("the same cert again without its pending vkey: %v %+v", err, res)
	}

	st, err := f.a.Status(ChainState{TipSlot: f.tip, OnChain: opcert.None()}, SourceGiven, nil, nil, testNow)
	if err != nil {
		t.Fatal(err)
	}
	f.a.KeyUsers(context.Background(), st)
	if st.KESAgent == nil || !st.KESAgent.MatchesCert || !st.KESAgent.PeriodOK || st.Verdict() != nil {
		t.Errorf("status: %+v %v", st.KESAgent, st.Verdict())
	}
	if !bytes.Contains(st.Prometheus(), []byte("kesrotate_agent_kes_agent_key_installed{")) {
		t.Error("no kes-agent gauge in the Prometheus output")
	}

	// Rollback means nothing here.
	if _, err := f.a.Rollback(context.Background(), RollbackOptions{}); !errors.Is(err, ErrKESAgentMode) {
		t.Errorf("rollback: %v, want ErrKESAgentMode", err)
	}
	// kes-agent restarts and loses its key: status alerts.
	f.kad.Close()
	f.a.KeyUsers(context.Background(), st)
	if err := st.Verdict(); !errors.Is(err, ErrKESAgentNoKey) {
		t.Errorf("after kes-agent lost its key: %v, want ErrKESAgentNoKey", err)
	}
}

// Before install-key, which would consume the staged key, the agent
// refuses what kes-agent would refuse or get wrong, and changes nothing.
func TestKESAgentChecksFirst(t *testing.T) {
	t.Run("period", func(t *testing.T) {
		// kes-agent's clock one period ahead of the chain (a genesis file
		// with the Byron start does that, by far more).
		f := newKESAgentFixture(t, nil, func(f *fixture) time.Time {
			return f.net.SlotTime(f.tip).Add(time.Duration(f.net.SlotsPerKESPeriod) * time.Second)
		})
		vk, err := f.a.NewPendingKES(nil, false)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.deploy(f.certBundle(vk, 0, 200), nil); !errors.Is(err, ErrKESAgentPeriod) {
			t.Fatalf("got %v, want ErrKESAgentPeriod", err)
		}
		if staged, ok := f.kad.StagedVKey(); !ok || keys.KESVKey(staged) != vk {
			t.Error("the staged key was consumed")
		}
		if cur, _ := f.a.CurrentSet(); cur != "" {
			t.Errorf("a set became active: %s", cur)
		}
	})
	t.Run("staged key lost", func(t *testing.T) {
		f := newKESAgentFixture(t, nil, nil)
		vk, err := f.a.NewPendingKES(nil, false)
		if err != nil {
			t.Fatal(err)
		}
		f.kad.DropStagedKey() // kes-agent restarted
		if _, _, err := f.a.Snapshot(ChainState{TipSlot: f.tip, OnChain: opcert.None(), OnChainKnown: true}, testNow); !errors.Is(err, ErrKESAgentStaged) {
			t.Errorf("snapshot: %v, want ErrKESAgentStaged", err)
		}
		if _, err := f.deploy(f.certBundle(vk, 0, 200), nil); !errors.Is(err, ErrKESAgentStaged) {
			t.Errorf("install: %v, want ErrKESAgentStaged", err)
		}
		// kes new makes a new one without --replace: the old one is gone.
		if vk2, err := f.a.NewPendingKES(nil, false); err != nil || vk2 == vk {
			t.Errorf("kes new after the loss: %v", err)
		}
	})
	t.Run("snapshot before kes new", func(t *testing.T) {
		f := newKESAgentFixture(t, nil, nil)
		if _, _, err := f.a.Snapshot(ChainState{TipSlot: f.tip, OnChain: opcert.None(), OnChainKnown: true}, testNow); !errors.Is(err, ErrNoPendingKES) {
			t.Errorf("got %v, want ErrNoPendingKES: the cold machine would make a KES key kes-agent cannot take", err)
		}
	})
	t.Run("a bundle with a KES key", func(t *testing.T) {
		f := newKESAgentFixture(t, nil, nil)
		if _, err := f.deploy(f.bundle(3, 0, 200, true), nil); !errors.Is(err, ErrKESAgentMode) {
			t.Errorf("got %v, want ErrKESAgentMode", err)
		}
		noKESSecret(t, f.a.Dir, f.nodeDir)
	})
	t.Run("unknown staged key", func(t *testing.T) {
		f := newKESAgentFixture(t, nil, nil)
		if _, err := f.kad.GenStagedKey(); err != nil {
			t.Fatal(err)
		}
		if _, err := f.a.NewPendingKES(nil, false); !errors.Is(err, ErrPendingExists) {
			t.Errorf("kes new over a staged key it did not make: %v", err)
		}
		if _, err := f.a.NewPendingKES(nil, true); err != nil {
			t.Errorf("kes new --replace: %v", err)
		}
	})
}

// kes-agent refuses a cert the agent accepted (it runs with another cold
// key): the staged key is gone, so is the pending vkey; the node is left
// as it was.
func TestKESAgentRefusal(t *testing.T) {
	other, err := testnode.NewPool(2)
	if err != nil {
		t.Fatal(err)
	}
	ovk := other.Cold.Public()
	f := newKESAgentFixture(t, &ovk, nil)
	vk, err := f.a.NewPendingKES(nil, false)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.deploy(f.certBundle(vk, 0, 200), nil)
	if !errors.Is(err, ErrKESAgentRefused) || !strings.Contains(err.Error(), "OpCert validation failed") {
		t.Fatalf("got %v, want ErrKESAgentRefused with kes-agent's reason", err)
	}
	if _, ok := f.kad.StagedVKey(); ok {
		t.Error("kes-agent kept the staged key after refusing")
	}
	if v, _ := f.a.pendingVKey(); v != nil {
		t.Error("the pending vkey names a key nobody holds")
	}
	if cur, _ := f.a.CurrentSet(); cur != "" {
		t.Errorf("a set became active: %s", cur)
	}
	if sets, _ := f.a.Sets(); len(sets) != 0 {
		t.Errorf("sets left behind: %v", sets)
	}
}

// kes-agent refuses a lower counter; the repair of an over-incremented
// cert goes through drop-key.
func TestKESAgentCounter(t *testing.T) {
	f := newKESAgentFixture(t, nil, nil)
	vk, _ := f.a.NewPendingKES(nil, false)
	if _, err := f.deploy(f.certBundle(vk, 5, 200), nil); err != nil {
		t.Fatal(err)
	}
	vk2, _ := f.a.NewPendingKES(nil, false)
	lower := f.certBundle(vk2, 4, 200)
	if _, err := f.deploy(lower, nil); !errors.Is(err, ErrDowngrade) {
		t.Fatalf("lower counter: %v, want ErrDowngrade", err)
	}
	if _, ok := f.kad.StagedVKey(); !ok {
		t.Fatal("the refusal consumed the staged key")
	}
	// The chain has #3: #5 is over-incremented, #4 is the repair.
	onchain := opcert.Recorded(3)
	res, err := f.deploy(lower, &onchain)
	if err != nil {
		t.Fatalf("repair: %v", err)
	}
	if info := f.kad.Info(); info.Bundle == nil || info.Bundle.N != 4 {
		t.Errorf("after the repair kes-agent holds %+v", info.Bundle)
	}
	if c, _ := f.a.InstalledCert(); c == nil || c.Counter != 4 || res.Activated.Set == "" {
		t.Errorf("the node's cert after the repair: %v", c)
	}
}

// The settings kes-agent mode cannot go with.
func TestKESAgentConfig(t *testing.T) {
	base := Config{VRFKey: "/n/vrf.skey", Cert: "/n/node.cert", Signal: Signal{Mode: "pid-file", PIDFile: "/n/pid"}, KESAgentSocket: "/run/kes-agent/control.socket"}
	for name, tc := range map[string]struct {
		edit func(*Config)
		want string
	}{
		"kes path too":   {func(c *Config) { c.KESKey = "/n/kes.skey" }, "a KES key path with a kes-agent socket"},
		"match process":  {func(c *Config) { c.Signal = Signal{Mode: "process"} }, "finding the node by its process"},
		"standby":        {func(c *Config) { c.Role = RoleStandby }, "standby"},
		"mithril signer": {func(c *Config) { c.MithrilSigner = "mithril-signer" }, "mithril#2522"},
	} {
		t.Run(name, func(t *testing.T) {
			c := base
			tc.edit(&c)
			if err := validateConfig(&c); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want ErrConfig naming %q", err, tc.want)
			}
		})
	}
	c := base
	if err := validateConfig(&c); err != nil {
		t.Errorf("a plain kes-agent config: %v", err)
	}
}

// config --kes-agent-socket: a fresh agent may switch, one with sets may
// not, and kes-agent mode is never left.
func TestKESAgentReconfigure(t *testing.T) {
	f := newFixture(t, true, nil)
	sock := "/run/kes-agent/control.socket"
	changes, err := f.a.Reconfigure(Change{KESAgentSocket: &sock}, testNow)
	if err != nil || f.a.Config.KESKey != "" || f.a.Config.KESAgentSocket != sock || len(changes) == 0 {
		t.Fatalf("switching a fresh agent: %v %+v", err, f.a.Config)
	}
	empty := ""
	if _, err := f.a.Reconfigure(Change{KESAgentSocket: &empty}, testNow); !errors.Is(err, ErrConfig) {
		t.Errorf("leaving kes-agent mode: %v", err)
	}
	g := newFixture(t, true, nil)
	if _, err := g.a.Install(context.Background(), g.bundle(3, oldCounter+1, 200, false), InstallOptions{ActivateOptions: g.opts(), NoSignal: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := g.a.Reconfigure(Change{KESAgentSocket: &sock}, testNow); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "new agent folder") {
		t.Errorf("switching an agent with sets: %v", err)
	}
}

// ControlMain.hs runGetInfo's layout, with colours (ColorsAuto on a
// terminal), a deleted key ("{KEY DELETED}" without a newline) and
// bootstrap peers.
func TestParseKESAgentInfo(t *testing.T) {
	vk := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		name, out string
		check     func(*KESAgentInfo) bool
	}{
		{"installed and staged", "--- Agent ---\nAgent version: 1.1.0.0\nConnected via: /run/kes-agent/control.socket\nCurrent time: 2025-01-10 12:05:00 UTC\nCurrent KES period: 521\nCurrent KES period started: 2025-01-10 12:00:00 UTC\nNext KES period starts: 2025-01-11 00:00:00 UTC\n--- Installed KES SignKey ---\nTimestamp: 2025-01-10 12:04:30 UTC\nVerKey: " + vk + "\nValid from period: 521\nCurrent evolution: 0 / 64\nOpCert number: 3\nOpCert signature: " + strings.Repeat("cd", 64) + "\n--- Staged KES SignKey ---\nVerKey: " + strings.Repeat("ef", 32) + "\n",
			func(in *KESAgentInfo) bool {
				return in.Period == 521 && in.Installed != nil && in.Installed.Counter == 3 && in.Installed.Start == 521 && in.Installed.VKeyHex == vk && in.Staged != nil && in.Staged[0] == 0xef
			}},
		{"coloured, deleted, peers", "\x1b[1m--- Agent ---\x1b[0m\nCurrent KES period: 7\n\x1b[1m--- Installed KES SignKey ---\x1b[0m\nTimestamp: n/a\n\x1b[31m{KEY DELETED}\x1b[0m\x1b[1m--- Bootstrap Peers ---\x1b[0m\n\x1b[32m      /run/kes-agent/peer.socket: up\x1b[0m\n",
			func(in *KESAgentInfo) bool {
				return in.Period == 7 && in.Installed == nil && in.Deleted && in.Peers["/run/kes-agent/peer.socket"] == "up"
			}},
		{"nothing held", "--- Agent ---\nAgent version: <unknown>\nCurrent KES period: 0\n",
			func(in *KESAgentInfo) bool { return in.Installed == nil && !in.Deleted && in.Staged == nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, err := ParseKESAgentInfo([]byte(tc.out))
			if err != nil || !tc.check(in) {
				t.Errorf("got %+v, %v", in, err)
			}
		})
	}
	for _, bad := range []string{"", "Connection refused\n", "--- Agent ---\nCurrent KES period: x\n", "Current KES period: 1\n--- Installed KES SignKey ---\nVerKey: zz\n"} {
		if _, err := ParseKESAgentInfo([]byte(bad)); !errors.Is(err, ErrKESAgent) {
			t.Errorf("%q: got %v, want ErrKESAgent", bad, err)
		}
	}
}

// kes-agent-control missing, or kes-agent not running: one error naming it.
func TestKESAgentUnreachable(t *testing.T) {
	f := newFixture(t, false, func(c *Config) { c.KESKey, c.KESAgentSocket = "", "/nonexistent/control.sock" })
	old := KESAgentControl
	KESAgentControl = filepath.Join(t.TempDir(), "no-such-program")
	_, err := f.a.KESAgentInfo(context.Background())
	KESAgentControl = old
	if !errors.Is(err, ErrKESAgent) || !strings.Contains(err.Error(), "not installed") {
		t.Errorf("missing kes-agent-control: %v", err)
	}
	kesAgentControl(t)
	_, err = f.a.KESAgentInfo(context.Background())
	if !errors.Is(err, ErrKESAgent) || !strings.Contains(err.Error(), "does not exist (No such file or directory)") {
		t.Errorf("kes-agent not running: %v", err)
	}
}

// kes-agent-control's output is read by the agent: whatever it prints, the
// parser returns a result or ErrKESAgent, and never panics.
func FuzzParseKESAgentInfo(f *testing.F) {
	f.Add([]byte("--- Agent ---\nAgent version: 1.1.0.0\nCurrent KES period: 521\n--- Installed KES SignKey ---\nTimestamp: 2025-01-10 12:04:30 UTC\nVerKey: " + strings.Repeat("ab", 32) + "\nValid from period: 521\nCurrent evolution: 0 / 64\nOpCert number: 3\n--- Staged KES SignKey ---\nVerKey: " + strings.Repeat("ef", 32) + "\n"))
	f.Add([]byte("Current KES period: 7\n--- Installed KES SignKey ---\n{KEY DELETED}--- Bootstrap Peers ---\n  /p: down\n"))
	f.Fuzz(func(t *testing.T, out []byte) {
		in, err := ParseKESAgentInfo(out)
		if err != nil && !errors.Is(err, ErrKESAgent) {
			t.Fatalf("error %v is not ErrKESAgent", err)
		}
		if err == nil && in.Installed != nil && len(in.Installed.VKeyHex) != 64 {
			t.Fatalf("installed key without a 32-byte vkey: %+v", in.Installed)
		}
	})
}
