package producer

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kesrotate/kesrotate/internal/testnode"
	"github.com/kesrotate/kesrotate/transfer"
)

// producerHost is one block producer: its node and its agent.
type producerHost struct {
	a    *Agent
	node *testnode.Node
	dir  string
}

// newProducerHost starts a node on its own credential folder holding the
// pool's cert #4 from period 199 and sets up an agent with role. A standby's
// node is started with --start-as-non-producing-node, as a standby must be
// to be promotable by SIGHUP (the real node will not start without its
// files, and forges on SIGHUP once they are there).
func newProducerHost(t *testing.T, f *fixture, name, role string) *producerHost {
	t.Helper()
	dir := t.TempDir()
	set, err := f.pool.Issue(9, oldCounter, oldPeriod)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := f.pool.WriteSet(dir, set)
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(t.TempDir(), "node.log")
	cfg.Network, cfg.TipSlot, cfg.MetricsAddr, cfg.LogFile = f.net, f.tip, "127.0.0.1:0", logPath
	cfg.StartNonProducing = role == RoleStandby
	n, err := testnode.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	a, err := Init(filepath.Join(t.TempDir(), "agent"), InitOptions{Config: Config{Network: "preview", Name: name, Role: role,
		KESKey: cfg.KESKeyPath, VRFKey: cfg.VRFKeyPath, Cert: cfg.CertPath, Signal: Signal{Mode: "none"},
		MetricsURL: n.MetricsURL(), NodeLog: logPath}, ColdVKey: f.pool.Cold.Public().MarshalEnvelope(), Now: testNow, Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	return &producerHost{a: a, node: n, dir: dir}
}

func (h *producerHost) signal() (string, error) { _, _ = h.node.Reload(); return "test node", nil }
func (h *producerHost) pid() (int, error)       { return os.Getpid(), nil }

// bundleFor seals set for producer h (the same cert and KES key for every
// producer, as one rotation sealed to all of them).
func (h *producerHost) bundleFor(t *testing.T, f *fixture, set *testnode.Set) *transfer.Bundle {
	t.Helper()
	e, _, err := h.a.Enrollment()
	if err != nil {
		t.Fatal(err)
	}
	return &transfer.Bundle{Magic: f.net.Magic, PoolID: f.pool.ID(), Cold: f.pool.Cold.Public(), Cert: set.Cert, KES: set.KES,
		VRF: cloneVRF(t, f.pool.VRF), Producer: e.Fingerprint(), Created: testNow}
}

func (h *producerHost) deploy(t *testing.T, f *fixture, set *testnode.Set) *InstallResult {
	t.Helper()
	res, err := h.a.Install(context.Background(), h.bundleFor(t, f, set), InstallOptions{ActivateOptions: f.opts(),
		Signal: h.signal, NodePID: h.pid, ConfirmTimeout: 20 * time.Second, Poll: 10 * time.Millisecond})
	if err != nil {
		t.Fatalf("%s: deploy: %v", h.a.Config.Name, err)
	}
	return res
}

// demote demotes h; each demotion signs at a later minute, as real ones do.
func (h *producerHost) demote(t *testing.T) *DemoteResult {
	t.Helper()
	demotions++
	res, err := h.a.Demote(context.Background(), DemoteOptions{Now: testNow.Add(time.Duration(demotions) * time.Minute), TipSlot: 0, Signal: h.signal, NodePID: h.pid,
		ConfirmTimeout: 20 * time.Second, Poll: 10 * time.Millisecond})
	if err != nil {
		t.Fatalf("%s: demote: %v", h.a.Config.Name, err)
	}
	return res
}

func (h *producerHost) promote(f *fixture, o PromoteOptions) (*PromoteResult, error) {
	o.TipSlot, o.Signal, o.NodePID = f.tip, h.signal, h.pid
	if o.Now.IsZero() {
		o.Now = testNow.Add(time.Hour) // after the demotions of the test
	}
	o.ConfirmTimeout, o.Poll = 20*time.Second, 10*time.Millisecond
	return h.a.Promote(context.Background(), o)
}

var demotions int

func pin(t *testing.T, on, other *producerHost) {
	t.Helper()
	_, data, err := other.a.Enrollment()
	if err != nil {
		t.Fatal(err)
	}
	e, _, _ := other.a.Enrollment()
	if _, err := on.a.AddPeer(other.a.Config.Name, data, PeerOptions{Fingerprint: e.Fingerprint()}); err != nil {
		t.Fatal(err)
	}
}

// A peer is pinned after comparing fingerprints, or only when the
// operator says it compared them another way; the result says which.
func TestAddPeerComparesFingerprints(t *testing.T) {
	f := newFixture(t, true, nil)
	bp1 := newProducerHost(t, f, "bp1", RolePrimary)
	bp2 := newProducerHost(t, f, "bp2", RoleStandby)
	e, data, err := bp2.a.Enrollment()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		o        PeerOptions
		want     error
		compared bool
	}{
		{"no fingerprint", PeerOptions{}, ErrFingerprintNeeded, false},
		{"another fingerprint", PeerOptions{Fingerprint: "AAAA-BBBB-CCCC-DDDD"}, ErrPeer, false},
		{"unchecked, by the operator's word", PeerOptions{Unchecked: true}, nil, false},
		{"the fingerprint shown", PeerOptions{Fingerprint: e.Fingerprint()}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := bp1.a.AddPeer("bp2", data, tt.o)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if err == nil && p.Compared != tt.compared {
				t.Errorf("got Compared %v, want %v", p.Compared, tt.compared)
			}
			if peers, _ := bp1.a.Peers(); err != nil && tt.want == ErrFingerprintNeeded && len(peers) != 0 {
				t.Errorf("pinned %v without a fingerprint", peers)
			}
		})
	}
}

// watchForgers polls both nodes until stop and counts the instants at
// which both forge.
func watchForgers(hosts ...*producerHost) (stop func() int64) {
	var both atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			n := 0
			for _, h := range hosts {
				if s := h.node.State(); s.Forging {
					n++
				}
			}
			if n > 1 {
				both.Add(1)
			}
			time.Sleep(200 * time.Microsecond)
		}
	}()
	return func() int64 { close(done); wg.Wait(); return both.Load() }
}

// TestFailoverNeverTwoForgers runs promote and demote back and forth
// between a primary and a standby and checks at every instant that at most
// one of the two nodes forges.
func TestFailoverNeverTwoForgers(t *testing.T) {
	f := newFixture(t, true, nil)
	bp1 := newProducerHost(t, f, "bp1", RolePrimary)
	bp2 := newProducerHost(t, f, "bp2", RoleStandby)
	pin(t, bp1, bp2)
	pin(t, bp2, bp1)
	stop := watchForgers(bp1, bp2)

	// One rotation, sealed to both: the primary forges with it, the
	// standby only stages it.
	set5, _ := f.pool.Issue(10, 5, 200)
	bp1.deploy(t, f, set5)
	before, _ := os.ReadFile(bp2.a.Config.Cert)
	res := bp2.deploy(t, f, set5)
	if !res.Activated.Staged || res.Signalled != "" {
		t.Fatalf("standby: got %+v, want staged and not signalled", res)
	}
	if after, _ := os.ReadFile(bp2.a.Config.Cert); string(after) != string(before) {
		t.Errorf("the standby's node paths changed on install")
	}
	if s := bp2.node.State(); s.Forging || s.Sets != 1 {
		t.Fatalf("standby node %+v, want not forging and never reloaded", s)
	}

	// No proof, or proof that the primary still forges: refused.
	if _, err := bp2.promote(f, PromoteOptions{}); !errors.Is(err, ErrNoProof) {
		t.Errorf("promote without proof: got %v, want ErrNoProof", err)
	}
	if _, err := bp2.promote(f, PromoteOptions{PeerMetrics: bp1.node.MetricsURL()}); !errors.Is(err, ErrOtherForges) {
		t.Errorf("promote while bp1 forges: got %v, want ErrOtherForges", err)
	}

	for round := 0; round < 3; round++ {
		// bp1 → bp2 with a receipt.
		d := bp1.demote(t)
		if bp1.node.State().Forging || bp1.a.Role() != RoleStandby {
			t.Fatalf("round %d: bp1 still forges or is %s after demote", round, bp1.a.Role())
		}
		p, err := bp2.promote(f, PromoteOptions{Receipt: d.ReceiptBytes, ActivateOptions: ActivateOptions{Now: testNow.Add(time.Hour)}})
		if err != nil {
			t.Fatalf("round %d: promote bp2 with the receipt: %v", round, err)
		}
		if s := bp2.node.State(); !s.Forging || s.CertCounter != 5 || !p.Confirmation.Confirmed {
			t.Fatalf("round %d: bp2 node %+v (%+v), want forging #5", round, s, p.Confirmation)
		}
		// The same receipt never promotes twice.
		bp2.demote(t)
		if _, err := bp2.promote(f, PromoteOptions{Receipt: d.ReceiptBytes}); !errors.Is(err, ErrReceipt) {
			t.Errorf("round %d: a used receipt: got %v, want ErrReceipt", round, err)
		}
		// bp2 → bp1, proven by bp2's metrics.
		if _, err := bp1.promote(f, PromoteOptions{PeerMetrics: bp2.node.MetricsURL()}); err != nil {
			t.Fatalf("round %d: promote bp1 from bp2's metrics: %v", round, err)
		}
		if !bp1.node.State().Forging || bp1.a.Role() != RolePrimary {
			t.Fatalf("round %d: bp1 does not forge after its promotion", round)
		}
	}
	if n := stop(); n > 0 {
		t.Errorf("both nodes forged at %d sampled instants", n)
	}
}

// A promotion with a cert older than the other producer's is refused.
func TestPromoteRefusesAnOlderCert(t *testing.T) {
	f := newFixture(t, true, nil)
	bp1 := newProducerHost(t, f, "bp1", RolePrimary)
	bp2 := newProducerHost(t, f, "bp2", RoleStandby)
	pin(t, bp2, bp1)
	set5, _ := f.pool.Issue(10, 5, 200)
	set6, _ := f.pool.Issue(11, 6, 200)
	bp1.deploy(t, f, set5)
	bp2.deploy(t, f, set5)
	bp1.deploy(t, f, set6) // a rotation the standby missed
	d := bp1.demote(t)
	if _, err := bp2.promote(f, PromoteOptions{Receipt: d.ReceiptBytes}); !errors.Is(err, ErrOlderCert) {
		t.Fatalf("got %v, want ErrOlderCert", err)
	}
	if bp2.node.State().Forging || bp2.a.Role() != RoleStandby {
		t.Errorf("the refused promotion changed the standby")
	}
	// With the newest bundle staged it goes through.
	bp2.deploy(t, f, set6)
	if _, err := bp2.promote(f, PromoteOptions{Receipt: d.ReceiptBytes}); err != nil {
		t.Fatalf("promote with #6 staged: %v", err)
	}
}

// A receipt that is not from a pinned peer, or is for another pool, or
// is too old, does not promote.
func TestPromoteRefusesBadReceipts(t *testing.T) {
	f := newFixture(t, true, nil)
	bp1 := newProducerHost(t, f, "bp1", RolePrimary)
	bp2 := newProducerHost(t, f, "bp2", RoleStandby)
	set5, _ := f.pool.Issue(10, 5, 200)
	bp1.deploy(t, f, set5)
	bp2.deploy(t, f, set5)
	d := bp1.demote(t)
	if _, err := bp2.promote(f, PromoteOptions{Receipt: d.ReceiptBytes}); !errors.Is(err, ErrPeer) {
		t.Errorf("unpinned: got %v, want ErrPeer", err)
	}
	pin(t, bp2, bp1)
	tampered := append([]byte(nil), d.ReceiptBytes...)
	tampered[len(tampered)/2] ^= 1
	if _, err := bp2.promote(f, PromoteOptions{Receipt: tampered}); err == nil {
		t.Errorf("tampered: got no error")
	}
	if _, err := bp2.promote(f, PromoteOptions{Receipt: d.ReceiptBytes, ActivateOptions: ActivateOptions{Now: testNow.Add(25 * time.Hour)}}); !errors.Is(err, ErrReceipt) {
		t.Errorf("25 h old: got %v, want ErrReceipt", err)
	}
	if bp2.node.State().Forging {
		t.Errorf("a refused promotion made the standby forge")
	}
}

// A promotion restarts the Mithril signer once the node forges; a signer
// that cannot be restarted is reported and the promotion stands.
func TestPromoteRestartsTheSigner(t *testing.T) {
	f := newFixture(t, true, nil)
	bp2 := newProducerHost(t, f, "bp2", RoleStandby)
	set5, _ := f.pool.Issue(10, 5, 200)
	bp2.deploy(t, f, set5)
	bp2.a.Config.MithrilSigner = "mithril-signer"
	bp2.a.Config.MithrilEnvFile = filepath.Join(t.TempDir(), "missing.env")
	res, err := bp2.promote(f, PromoteOptions{PrimaryGone: true})
	if !errors.Is(err, ErrSignerEnv) || res == nil || res.Signer == nil || res.Signer.Unit != "mithril-signer" {
		t.Fatalf("got %+v, %v, want the signer's ErrSignerEnv with its result", res, err)
	}
	if bp2.a.Role() != RolePrimary || !bp2.node.State().Forging {
		t.Errorf("the promotion did not stand: role %s, node %+v", bp2.a.Role(), bp2.node.State())
	}
}

// The demotion receipt is the only proof a standby may take over with:
// its outputs are taken before forging is taken away, so an output that
// cannot be written stops the demotion before anything changes (it used to
// be written after, and a lost receipt could not be made again).
func TestDemoteTakesTheReceiptOutputsFirst(t *testing.T) {
	f := newFixture(t, true, nil)
	bp1 := newProducerHost(t, f, "bp1", RolePrimary)
	set5, _ := f.pool.Issue(10, 5, 200)
	bp1.deploy(t, f, set5)
	dir := t.TempDir()
	out, qrOut := filepath.Join(dir, "receipt.kdr"), filepath.Join(dir, "receipt.png")
	if err := os.WriteFile(qrOut, []byte("someone else's"), 0o644); err != nil {
		t.Fatal(err)
	}
	o := DemoteOptions{Now: testNow, Signal: bp1.signal, NodePID: bp1.pid, ConfirmTimeout: 20 * time.Second, Poll: 10 * time.Millisecond,
		ReceiptFile: out, ReceiptQR: qrOut}
	res, err := bp1.a.Demote(context.Background(), o)
	if !errors.Is(err, ErrReceiptOutput) || !errors.Is(err, fs.ErrExist) || res != nil {
		t.Fatalf("got %+v, %v, want ErrReceiptOutput before anything changed", res, err)
	}
	if bp1.a.Role() != RolePrimary || !bp1.node.State().Forging {
		t.Fatalf("role %s, node %+v: want the primary still forging", bp1.a.Role(), bp1.node.State())
	}
	if _, err := os.Stat(out); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the receipt file was left behind: %v", err)
	}
	if b, _ := os.ReadFile(qrOut); string(b) != "someone else's" {
		t.Errorf("the existing file was changed")
	}

	// With free outputs the demotion writes the receipt into both.
	o.ReceiptQR = filepath.Join(dir, "fresh.png")
	res, err = bp1.a.Demote(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(out); err != nil || !bytes.Equal(b, res.ReceiptBytes) {
		t.Errorf("receipt file: %v, want the signed receipt", err)
	}
	data, _, err := transfer.Scan([]string{o.ReceiptQR}, transfer.URReceipt)
	if err != nil || !bytes.Equal(data, res.ReceiptBytes) {
		t.Errorf("receipt QR code: %v, want the signed receipt", err)
	}
}

// A promotion that fails half way through making the node's paths lead to
// the staged set takes away what it wrote: a standby never keeps
// credential files at its node's paths after a failed promotion (copy
// mode used to leave the KES and VRF keys there, with a nil result).
func TestPromoteUndoesAHalfSwap(t *testing.T) {
	f := newFixture(t, true, nil)
	bp1 := newProducerHost(t, f, "bp1", RolePrimary)
	bp2 := newProducerHost(t, f, "bp2", RolePrimary)
	set5, _ := f.pool.Issue(10, 5, 200)
	bp1.deploy(t, f, set5)
	bp2.deploy(t, f, set5)
	bp2.demote(t) // a standby whose paths are gone
	bp2.a.Config.LinkMode = LinkCopy
	blockTmp(t, bp2.a.Config.Cert)
	res, err := bp2.promote(f, PromoteOptions{PrimaryGone: true})
	var ue *UndoError
	if !errors.As(err, &ue) || ue.UndoErr != nil {
		t.Fatalf("got %v, want an UndoError", err)
	}
	if s := res.State(); s != PromoteNothingChanged {
		t.Errorf("state %q, want %q", s, PromoteNothingChanged)
	}
	for _, p := range []string{bp2.a.Config.KESKey, bp2.a.Config.VRFKey, bp2.a.Config.Cert} {
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: got %v, want it gone again", p, err)
		}
	}
	if bp2.a.Role() != RoleStandby || bp2.node.State().Forging {
		t.Errorf("role %s, node %+v, want a standby that does not forge", bp2.a.Role(), bp2.node.State())
	}
}

// A node that forges after the promotion's signal, whose promotion could
// not be recorded, is reported as forging while still a standby; a
// promotion the node does not take is undone and the node shown not to
// forge (the undo used to discard the signal's result).
func TestPromoteStatesAfterTheSignal(t *testing.T) {
	f := newFixture(t, true, nil)
	bp1 := newProducerHost(t, f, "bp1", RolePrimary)
	bp2 := newProducerHost(t, f, "bp2", RoleStandby)
	pin(t, bp2, bp1)
	set5, _ := f.pool.Issue(10, 5, 200)
	bp1.deploy(t, f, set5)
	bp2.deploy(t, f, set5)
	d := bp1.demote(t)

	// Not taken: the staged KES key is damaged, the node refuses it.
	staged, _ := bp2.a.StagedSet()
	kesFile := filepath.Join(bp2.a.Dir, SetsDir, staged, SetKESFile)
	good, _ := os.ReadFile(kesFile)
	if err := os.WriteFile(kesFile, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := bp2.promote(f, PromoteOptions{Receipt: d.ReceiptBytes})
	if err == nil || res.State() != PromoteRestoredOff || res.Off == nil || !res.Off.Confirmed {
		t.Fatalf("got %+v, %v, want %q with forging off confirmed", res, err, PromoteRestoredOff)
	}
	if bp2.node.State().Forging {
		t.Errorf("the node forges after the undo")
	}
	if err := os.WriteFile(kesFile, good, 0o600); err != nil {
		t.Fatal(err)
	}

	// Taken, not recorded: the used-receipts file cannot be written.
	if err := os.MkdirAll(filepath.Join(bp2.a.Dir, UsedReceiptsFile, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	res, err = bp2.promote(f, PromoteOptions{Receipt: d.ReceiptBytes})
	if err == nil || res.State() != PromoteForgingNotRecorded {
		t.Fatalf("got %+v, %v, want %q", res, err, PromoteForgingNotRecorded)
	}
	if !bp2.node.State().Forging || bp2.a.Role() != RoleStandby {
		t.Errorf("node %+v, role %s: want forging while a standby", bp2.node.State(), bp2.a.Role())
	}
}
