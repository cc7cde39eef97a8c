package producer

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/kesrotate/kesrotate/internal/testnode"
	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/opcert"
	"github.com/kesrotate/kesrotate/transfer"
)

var testNow = time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)

// fixture is an agent for pool 1 on preview whose node paths are in
// nodeDir, at a tip in KES period 200.
type fixture struct {
	t       *testing.T
	a       *Agent
	pool    *testnode.Pool
	nodeDir string
	net     opcert.Network
	tip     uint64
}

const (
	oldCounter = 4
	oldPeriod  = 199
)

// newFixture sets up the agent; with initial, the node already has cert
// #4 from period 199 (KES seed 9) as plain files.
func newFixture(t *testing.T, initial bool, cfg func(*Config)) *fixture {
	t.Helper()
	pool, err := testnode.NewPool(1)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, pool: pool, nodeDir: t.TempDir(), net: opcert.Preview}
	f.tip = 200*f.net.SlotsPerKESPeriod + 17
	if initial {
		set, err := pool.Issue(9, oldCounter, oldPeriod)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pool.WriteSet(f.nodeDir, set); err != nil {
			t.Fatal(err)
		}
	}
	c := Config{Network: "preview", KESKey: filepath.Join(f.nodeDir, "kes.skey"), VRFKey: filepath.Join(f.nodeDir, "vrf.skey"),
		Cert: filepath.Join(f.nodeDir, "node.cert"), Signal: Signal{Mode: "none"}, Name: "bp1"}
	if cfg != nil {
		cfg(&c)
	}
	f.a, err = Init(filepath.Join(t.TempDir(), "agent"), InitOptions{Config: c, ColdVKey: pool.Cold.Public().MarshalEnvelope(), Now: testNow, Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// bundle makes a bundle from pool p (default the fixture's) with a fresh
// KES key from kesSeed.
func (f *fixture) bundle(kesSeed byte, counter, period uint64, withVRF bool) *transfer.Bundle {
	f.t.Helper()
	set, err := f.pool.Issue(kesSeed, counter, period)
	if err != nil {
		f.t.Fatal(err)
	}
	e, _, err := f.a.Enrollment()
	if err != nil {
		f.t.Fatal(err)
	}
	b := &transfer.Bundle{Magic: f.net.Magic, PoolID: f.pool.ID(), Cold: f.pool.Cold.Public(), Cert: set.Cert, KES: set.KES,
		Producer: e.Fingerprint(), Created: testNow}
	if withVRF {
		b.VRF = cloneVRF(f.t, f.pool.VRF)
	}
	return b
}

func cloneVRF(t *testing.T, k *keys.VRFKey) *keys.VRFKey {
	t.Helper()
	c, err := keys.NewVRFKey(k.Seed())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (f *fixture) opts() ActivateOptions { return ActivateOptions{TipSlot: f.tip, Now: testNow} }

// nodeView is what a reader of the three node paths sees.
type nodeView struct {
	counter uint64
	period  uint64
	missing bool
}

// readNode reads the three node paths as the node would, resolving each
// symlink chain first and re-resolving after the reads (sets are never
// changed in place, so equal resolutions mean one consistent read). It
// fails if the files do not form one valid set: the KES key must be the
// cert's and the VRF key the pool's.
func readNode(a *Agent, pool *testnode.Pool) (nodeView, error) {
	paths := []string{a.Config.KESKey, a.Config.VRFKey, a.Config.Cert}
	for attempt := 0; attempt < 100; attempt++ {
		var resolved []string
		for _, p := range paths {
			r, err := filepath.EvalSymlinks(p)
			if errors.Is(err, fs.ErrNotExist) {
				return nodeView{missing: true}, fmt.Errorf("%s resolves to nothing: %w", p, err)
			}
			if err != nil {
				return nodeView{}, err
			}
			resolved = append(resolved, r)
		}
		var data [3][]byte
		for i, r := range resolved {
			b, err := os.ReadFile(r)
			if err != nil {
				return nodeView{}, err
			}
			data[i] = b
		}
		again := true
		for i, p := range paths {
			if r, err := filepath.EvalSymlinks(p); err != nil || r != resolved[i] {
				again = false
			}
		}
		if !again {
			continue
		}
		kes, err := keys.ParseKESKey(data[0])
		if err != nil {
			return nodeView{}, fmt.Errorf("KES key: %w", err)
		}
		vrf, err := keys.ParseVRFKey(data[1])
		if err != nil {
			return nodeView{}, fmt.Errorf("VRF key: %w", err)
		}
		cert, err := opcert.Parse(data[2])
		if err != nil {
			return nodeView{}, fmt.Errorf("cert: %w", err)
		}
		if kes.Public() != cert.KESVKey {
			return nodeView{}, fmt.Errorf("mixed set: KES key is not cert #%d's", cert.Counter)
		}
		if vrf.Public() != pool.VRF.Public() {
			return nodeView{}, errors.New("VRF key is not the pool's")
		}
		for i, r := range resolved {
			fi, err := os.Stat(r)
			if err != nil {
				return nodeView{}, err
			}
			if i < 2 && fi.Mode().Perm()&0o007 != 0 {
				return nodeView{}, fmt.Errorf("%s has mode %04o", r, fi.Mode().Perm())
			}
		}
		return nodeView{counter: cert.Counter, period: cert.KESPeriod}, nil
	}
	return nodeView{}, errors.New("the node paths kept changing")
}

// digest is every file (following symlinks) and link under dir.
func digest(t *testing.T, dirs ...string) string {
	t.Helper()
	var b strings.Builder
	for _, dir := range dirs {
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				fmt.Fprintf(&b, "%s: %v\n", p, err)
				return nil
			}
			fi, _ := os.Lstat(p)
			switch {
			case fi.Mode()&fs.ModeSymlink != 0:
				tgt, _ := os.Readlink(p)
				fmt.Fprintf(&b, "l %s %s\n", p, tgt)
			case d.IsDir():
				fmt.Fprintf(&b, "d %s %o\n", p, fi.Mode().Perm())
			default:
				data, _ := os.ReadFile(p)
				fmt.Fprintf(&b, "f %s %o %x\n", p, fi.Mode().Perm(), data)
			}
			return nil
		})
	}
	return b.String()
}

func TestInstallAdoptsSwapsAndRollsBack(t *testing.T) {
	f := newFixture(t, true, nil)
	orig := map[string][]byte{}
	for _, p := range []string{f.a.Config.KESKey, f.a.Config.VRFKey, f.a.Config.Cert} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		orig[p] = b
	}
	res, err := f.a.Activate(f.bundle(10, 5, 200, false), f.opts())
	if err != nil {
		t.Fatalf("Install: %v", err)
	}
	if !res.Adopted || res.Previous != InitialSet || !strings.HasPrefix(res.Set, "5-200-") {
		t.Errorf("got adopted %v, previous %q, set %q, want true, %q, 5-200-…", res.Adopted, res.Previous, res.Set, InitialSet)
	}
	v, err := readNode(f.a, f.pool)
	if err != nil || v.counter != 5 || v.period != 200 {
		t.Fatalf("node sees %+v, %v, want cert #5 from 200", v, err)
	}
	abs, _ := filepath.EvalSymlinks(f.a.Dir)
	for p, file := range map[string]string{f.a.Config.KESKey: SetKESFile, f.a.Config.VRFKey: SetVRFFile, f.a.Config.Cert: SetCertFile} {
		// New agents link relatively (a container mounting both folders
		// under other names still resolves them).
		got, err := os.Readlink(p)
		if err != nil || filepath.IsAbs(got) || filepath.Join(filepath.Dir(p), got) != filepath.Join(abs, CurrentLink, file) {
			t.Errorf("got %s -> %q (%v), want a relative symlink into current/", p, got, err)
		}
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("got %s mode %v (%v), want 0600", p, fi.Mode().Perm(), err)
		}
	}
	// The node's first files are kept bit for bit in 0-initial.
	for p, b := range orig {
		got, err := os.ReadFile(filepath.Join(f.a.Dir, SetsDir, InitialSet, map[string]string{f.a.Config.KESKey: SetKESFile, f.a.Config.VRFKey: SetVRFFile, f.a.Config.Cert: SetCertFile}[p]))
		if err != nil || !bytes.Equal(got, b) {
			t.Errorf("0-initial copy of %s differs (%v)", p, err)
		}
	}
	// A second install goes on top; rollback walks back one at a time.
	if _, err := f.a.Activate(f.bundle(11, 6, 200, false), f.opts()); err != nil {
		t.Fatalf("second Install: %v", err)
	}
	rb, err := f.a.Rollback(context.Background(), RollbackOptions{})
	if err != nil || !strings.HasPrefix(rb.From, "6-200-") || rb.To != res.Set {
		t.Fatalf("got rollback %+v, %v, want from 6-200-… to %s", rb, err, res.Set)
	}
	if _, err := f.a.Rollback(context.Background(), RollbackOptions{}); err != nil {
		t.Fatalf("second rollback: %v", err)
	}
	for p, b := range orig {
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, b) {
			t.Errorf("after rollback %s is not the original bytes (%v)", p, err)
		}
	}
	if _, err := f.a.Rollback(context.Background(), RollbackOptions{}); !errors.Is(err, ErrNoPrevious) {
		t.Errorf("got %v, want ErrNoPrevious", err)
	}
	sets, err := f.a.Sets()
	if err != nil || len(sets) != 3 {
		t.Errorf("got %d sets (%v), want 3 kept", len(sets), err)
	}
}

func TestInstallOnAnEmptyProducer(t *testing.T) {
	f := newFixture(t, false, nil)
	if _, err := f.a.Activate(f.bundle(10, 0, 200, false), f.opts()); !errors.Is(err, ErrNoVRF) {
		t.Fatalf("got %v for a bundle without a VRF key, want ErrNoVRF", err)
	}
	res, err := f.a.Activate(f.bundle(10, 0, 200, true), f.opts())
	if err != nil {
		t.Fatalf("Install: %v", err)
	}
	if res.Adopted || res.Previous != "" {
		t.Errorf("got adopted %v, previous %q, want nothing adopted", res.Adopted, res.Previous)
	}
	if v, err := readNode(f.a, f.pool); err != nil || v.counter != 0 {
		t.Fatalf("node sees %+v, %v, want cert #0", v, err)
	}
	// Later bundles carry no VRF key: it is carried over.
	if _, err := f.a.Activate(f.bundle(11, 1, 200, false), f.opts()); err != nil {
		t.Fatalf("Install without VRF: %v", err)
	}
	if v, err := readNode(f.a, f.pool); err != nil || v.counter != 1 {
		t.Fatalf("node sees %+v, %v, want cert #1", v, err)
	}
	if _, err := f.a.Rollback(context.Background(), RollbackOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.a.Rollback(context.Background(), RollbackOptions{}); !errors.Is(err, ErrNoPrevious) {
		t.Errorf("got %v, want ErrNoPrevious", err)
	}
}

func TestCheckRefusesAndChangesNothing(t *testing.T) {
	other, err := testnode.NewPool(2)
	if err != nil {
		t.Fatal(err)
	}
	onchain := func(n uint64) *opcert.OnChain { o := opcert.Recorded(n); return &o }
	tests := []struct {
		name   string
		bundle func(f *fixture) *transfer.Bundle
		opts   func(o *ActivateOptions)
		want   error
	}{
		{"wrong network", func(f *fixture) *transfer.Bundle {
			b := f.bundle(10, 5, 200, false)
			b.Magic = opcert.Mainnet.Magic
			return b
		}, nil, transfer.ErrWrongNetwork},
		{"wrong pool", func(f *fixture) *transfer.Bundle {
			b := f.bundle(10, 5, 200, false)
			s, _ := other.Issue(10, 5, 200)
			b.Cert, b.Cold, b.PoolID = s.Cert, other.Cold.Public(), other.ID()
			return b
		}, nil, transfer.ErrWrongPool},
		{"wrong producer", func(f *fixture) *transfer.Bundle {
			b := f.bundle(10, 5, 200, false)
			b.Producer = "AAAA-BBBB-CCCC-DDDD"
			return b
		}, nil, transfer.ErrWrongProducer},
		{"downgrade", func(f *fixture) *transfer.Bundle { return f.bundle(10, 3, 200, false) }, nil, ErrDowngrade},
		{"downgrade below a cert the chain accepts", func(f *fixture) *transfer.Bundle { return f.bundle(10, 3, 200, false) }, func(o *ActivateOptions) { o.OnChain = onchain(3) }, ErrDowngrade},
		{"replayed older cert with the same counter", func(f *fixture) *transfer.Bundle { return f.bundle(10, oldCounter, 198, false) }, nil, ErrDowngrade},
		{"expired window", func(f *fixture) *transfer.Bundle { return f.bundle(10, 5, 100, false) }, nil, opcert.ErrKESAfterEnd},
		{"window not started", func(f *fixture) *transfer.Bundle { return f.bundle(10, 5, 201, false) }, nil, opcert.ErrKESBeforeStart},
		{"over-incremented on chain", func(f *fixture) *transfer.Bundle { return f.bundle(10, 6, 200, false) }, func(o *ActivateOptions) { o.OnChain = onchain(4) }, opcert.ErrCounterOverIncremented},
		{"below the on-chain counter", func(f *fixture) *transfer.Bundle { return f.bundle(10, 5, 200, false) }, func(o *ActivateOptions) { o.OnChain = onchain(6) }, opcert.ErrCounterTooSmall},
		{"bad cert signature", func(f *fixture) *transfer.Bundle {
			b := f.bundle(10, 5, 200, false)
			b.Cert.Sigma[0] ^= 1
			return b
		}, nil, opcert.ErrBadSignature},
		{"VRF key of another pool", func(f *fixture) *transfer.Bundle {
			b := f.bundle(10, 5, 200, false)
			b.VRF = cloneVRF(t, other.VRF)
			return b
		}, nil, ErrVRFMismatch},
		{"cert only without a pending KES key", func(f *fixture) *transfer.Bundle { b := f.bundle(10, 5, 200, false); b.KES = nil; return b }, nil, ErrNoPendingKES},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, true, nil)
			before := digest(t, f.nodeDir, f.a.Dir)
			o := f.opts()
			if tt.opts != nil {
				tt.opts(&o)
			}
			_, err := f.a.Activate(tt.bundle(f), o)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if strings.Count(err.Error(), "\n") > 0 {
				t.Errorf("got a multi-line error %q, want one line", err)
			}
			after := digest(t, f.nodeDir, f.a.Dir)
			// The lock file is the one thing a refused install leaves.
			after = strings.Join(filterLines(after, LockFile), "\n")
			if strings.Join(filterLines(before, LockFile), "\n") != after {
				t.Errorf("a refused install changed files:\nbefore %s\nafter %s", before, after)
			}
		})
	}
}

// TestRepairOfAnOverIncrementedCert: when the chain's counter shows the
// installed cert is over-incremented (every block it signs is rejected), a
// lower cert the chain accepts replaces it; it is not a downgrade.
func TestRepairOfAnOverIncrementedCert(t *testing.T) {
	f := newFixture(t, true, nil) // cert #oldCounter installed
	o := f.opts()
	m := opcert.Recorded(oldCounter - 2)
	o.OnChain = &m
	if _, err := f.a.Activate(f.bundle(10, oldCounter-1, 200, false), o); err != nil {
		t.Fatalf("repair install: %v", err)
	}
	if v, err := readNode(f.a, f.pool); err != nil || v.counter != oldCounter-1 {
		t.Fatalf("node sees %+v, %v, want cert #%d", v, err, oldCounter-1)
	}
}

// TestMissingNodeFolderIsRefusedFirst: a node path whose folder does not
// exist is found before anything is written.
func TestMissingNodeFolderIsRefusedFirst(t *testing.T) {
	f := newFixture(t, false, func(c *Config) { c.Cert = filepath.Join(filepath.Dir(c.Cert), "missing", "node.cert") })
	before := digest(t, f.nodeDir, f.a.Dir)
	_, err := f.a.Activate(f.bundle(10, 5, 200, true), f.opts())
	if !errors.Is(err, ErrNodePath) {
		t.Fatalf("got %v, want ErrNodePath", err)
	}
	if after := strings.Join(filterLines(digest(t, f.nodeDir, f.a.Dir), LockFile), "\n"); after != strings.Join(filterLines(before, LockFile), "\n") {
		t.Errorf("a refused install changed files")
	}
}

func filterLines(s, drop string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.Contains(l, drop) {
			out = append(out, l)
		}
	}
	return out
}

func TestEqualCounterNewerPeriodIsAllowed(t *testing.T) {
	f := newFixture(t, true, nil)
	if _, err := f.a.Activate(f.bundle(10, oldCounter, 200, false), f.opts()); err != nil {
		t.Fatalf("re-issued #%d from a later period: %v", oldCounter, err)
	}
	// The identical cert again is a no-op that keeps the active set.
	res, err := f.a.Activate(f.bundle(10, oldCounter, 200, false), f.opts())
	if err != nil || !res.Same {
		t.Fatalf("got %+v, %v, want Same", res, err)
	}
}

func TestWrongProducerBundle(t *testing.T) {
	f := newFixture(t, true, nil)
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := f.bundle(10, 5, 200, false).Encrypt(&buf, id.Recipient()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.a.OpenBundle(&buf); !errors.Is(err, transfer.ErrWrongProducer) {
		t.Fatalf("got %v, want transfer.ErrWrongProducer", err)
	}
	// And one for us opens.
	e, _, err := f.a.Enrollment()
	if err != nil {
		t.Fatal(err)
	}
	rcpt, err := transfer.ParseRecipient(e.Recipient)
	if err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if err := f.bundle(10, 5, 200, false).Encrypt(&buf, rcpt); err != nil {
		t.Fatal(err)
	}
	if b, err := f.a.OpenBundle(&buf); err != nil || b.Cert.Counter != 5 {
		t.Fatalf("got %v, want our bundle opened", err)
	}
}

func TestKESOnProducer(t *testing.T) {
	f := newFixture(t, true, nil)
	vk, err := f.a.NewPendingKES(rand.Reader, false)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(f.a.Dir, KESDir, PendingKES))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("pending.skey: %v, %v, want mode 0600", fi, err)
	}
	if _, err := f.a.NewPendingKES(rand.Reader, false); !errors.Is(err, ErrPendingExists) {
		t.Errorf("got %v for a second kes new, want ErrPendingExists", err)
	}
	// The snapshot carries the vkey.
	s, _, err := f.a.Snapshot(ChainState{TipSlot: f.tip, OnChain: opcert.Recorded(4), OnChainKnown: true}, testNow)
	if err != nil || s.KESVKey == nil || *s.KESVKey != vk {
		t.Fatalf("snapshot KES vkey: %v, want the pending one", err)
	}
	// A cert for another key is refused.
	b := f.bundle(10, 5, 200, false)
	b.KES = nil
	if _, err := f.a.Activate(b, f.opts()); !errors.Is(err, ErrNoPendingKES) {
		t.Fatalf("got %v, want ErrNoPendingKES", err)
	}
	// The cold side certifies the pending vkey; only the cert comes back.
	cert := opcert.Issue(f.pool.Cold, vk, 5, 200)
	b.Cert = cert
	res, err := f.a.Install(context.Background(), b, InstallOptions{ActivateOptions: f.opts(), NoSignal: true})
	if err != nil || !res.Activated.Pending {
		t.Fatalf("Install: %+v, %v", res, err)
	}
	if v, err := readNode(f.a, f.pool); err != nil || v.counter != 5 {
		t.Fatalf("node sees %+v, %v, want #5", v, err)
	}
	if k, err := f.a.PendingKES(); k != nil || err != nil {
		t.Errorf("got pending key %v, %v after activation, want none", k != nil, err)
	}
	info, err := f.a.Set(res.Activated.Set)
	if err != nil || info.Source != "kes-on-producer" {
		t.Errorf("got set source %q (%v), want kes-on-producer", info.Source, err)
	}
}

func TestPermissions(t *testing.T) {
	t.Run("group 0640", func(t *testing.T) {
		gid := os.Getgid()
		var group string
		if g, err := lookupGroupName(gid); err == nil {
			group = g
		} else {
			t.Fatalf("no name for gid %d: %v", gid, err)
		}
		f := newFixture(t, true, func(c *Config) { c.Group = group })
		if _, err := f.a.Activate(f.bundle(10, 5, 200, false), f.opts()); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{f.a.Config.KESKey, f.a.Config.VRFKey, f.a.Config.Cert} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			st := fi.Sys().(*syscall.Stat_t)
			if fi.Mode().Perm() != 0o640 || int(st.Gid) != gid {
				t.Errorf("got %s mode %04o gid %d, want 0640 gid %d", p, fi.Mode().Perm(), st.Gid, gid)
			}
		}
	})
	t.Run("an open VRF key is installed closed", func(t *testing.T) {
		f := newFixture(t, true, nil)
		if err := os.Chmod(f.a.Config.VRFKey, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := f.a.Activate(f.bundle(10, 5, 200, false), f.opts()); err != nil {
			t.Fatal(err)
		}
		if _, err := readNode(f.a, f.pool); err != nil {
			t.Errorf("node view: %v", err)
		}
		fi, _ := os.Stat(filepath.Join(f.a.Dir, SetsDir, InitialSet, SetVRFFile))
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("got the adopted VRF key mode %04o, want 0600", fi.Mode().Perm())
		}
	})
	t.Run("unknown group", func(t *testing.T) {
		f := newFixture(t, true, func(c *Config) { c.Group = "no-such-group-kesrotate" })
		before := digest(t, f.nodeDir)
		if _, err := f.a.Activate(f.bundle(10, 5, 200, false), f.opts()); !errors.Is(err, ErrPermissions) {
			t.Fatalf("got %v, want ErrPermissions", err)
		}
		if digest(t, f.nodeDir) != before {
			t.Errorf("the node's files changed")
		}
	})
	t.Run("pending key open to others", func(t *testing.T) {
		f := newFixture(t, true, nil)
		if _, err := f.a.NewPendingKES(rand.Reader, false); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(f.a.Dir, KESDir, PendingKES), 0o644); err != nil {
			t.Fatal(err)
		}
		b := f.bundle(10, 5, 200, false)
		b.KES = nil
		if _, err := f.a.Activate(b, f.opts()); !errors.Is(err, ErrPermissions) {
			t.Fatalf("got %v, want ErrPermissions", err)
		}
	})
}

func TestConcurrentInstalls(t *testing.T) {
	f := newFixture(t, true, nil)
	l, err := f.a.Lock()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.a.Activate(f.bundle(10, 5, 200, false), f.opts()); !errors.Is(err, ErrLocked) {
		t.Errorf("got %v while locked, want ErrLocked", err)
	}
	if _, err := f.a.Rollback(context.Background(), RollbackOptions{}); !errors.Is(err, ErrLocked) {
		t.Errorf("got %v for rollback while locked, want ErrLocked", err)
	}
	l.Unlock()
	// Many at once: each one either wins the lock or is refused, and the
	// node always ends on one complete set.
	var wg sync.WaitGroup
	var ok, locked atomic.Int32
	for i := 0; i < 8; i++ {
		b := f.bundle(byte(20+i), 5, 200, false)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.a.Activate(b, f.opts())
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, ErrLocked):
				locked.Add(1)
			default:
				t.Errorf("concurrent install: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() == 0 || ok.Load()+locked.Load() != 8 {
		t.Errorf("got %d installed, %d locked out of 8", ok.Load(), locked.Load())
	}
	if v, err := readNode(f.a, f.pool); err != nil || v.counter != 5 {
		t.Errorf("node sees %+v, %v, want #5", v, err)
	}
}

// startNode runs an in-process test node (11.0, shipped config) on the
// fixture's paths.
func (f *fixture) startNode(reject bool) (*testnode.Node, string) {
	f.t.Helper()
	return f.startNodeWith(testnode.Config{RejectReload: reject})
}

// startNodeWith runs an in-process test node with cfg's version, tracing
// and log settings on the fixture's paths, logging to a file it returns.
func (f *fixture) startNodeWith(cfg testnode.Config) (*testnode.Node, string) {
	f.t.Helper()
	logPath := filepath.Join(f.t.TempDir(), "node.log")
	cfg.KESKeyPath, cfg.VRFKeyPath, cfg.CertPath = f.a.Config.KESKey, f.a.Config.VRFKey, f.a.Config.Cert
	cfg.Network, cfg.TipSlot, cfg.MetricsAddr, cfg.LogFile = f.net, f.tip, "127.0.0.1:0", logPath
	n, err := testnode.Start(context.Background(), cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { _ = n.Close() })
	return n, logPath
}

func reloadOf(n *testnode.Node) func() (string, error) {
	return func() (string, error) {
		_, _ = n.Reload() // the outcome is for the agent to find out
		return "test node", nil
	}
}

func TestDeployWithoutMetricsOrLog(t *testing.T) {
	f := newFixture(t, true, nil)
	n, _ := f.startNode(false)
	res, err := f.a.Install(context.Background(), f.bundle(10, 5, 200, false), InstallOptions{ActivateOptions: f.opts(), Signal: reloadOf(n)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Confirmation.Confirmed || !res.Confirmation.Unconfirmable || res.Signalled == "" {
		t.Errorf("got %+v, want signalled and unconfirmable", res)
	}
}

func TestCandidateIsRedacted(t *testing.T) {
	f := newFixture(t, true, nil)
	c, err := f.a.Check(f.bundle(10, 5, 200, false), f.opts())
	if err != nil {
		t.Fatal(err)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		if got := fmt.Sprintf(verb, c); got != keys.Redacted {
			t.Errorf("got %s → %q, want %s", verb, got, keys.Redacted)
		}
	}
}

func lookupGroupName(gid int) (string, error) {
	g, err := user.LookupGroupId(fmt.Sprint(gid))
	if err != nil {
		return "", err
	}
	return g.Name, nil
}

// OpenBundles picks the newest bundle sealed to this producer and names
// the file it came from by its hash, for set.json.
func TestOpenBundlesNamesTheChosenFile(t *testing.T) {
	f := newFixture(t, true, nil)
	e, _, err := f.a.Enrollment()
	if err != nil {
		t.Fatal(err)
	}
	rcpt, err := transfer.ParseRecipient(e.Recipient)
	if err != nil {
		t.Fatal(err)
	}
	seal := func(counter uint64) []byte {
		var buf bytes.Buffer
		if err := f.bundle(byte(10+counter), counter, 200, false).Encrypt(&buf, rcpt); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	older, newer := seal(5), seal(6)
	op, err := f.a.OpenBundles([]BundleFile{{Name: "new.age", Data: newer}, {Name: "old.age", Data: older}})
	if err != nil {
		t.Fatal(err)
	}
	if op.Name != "new.age" || op.Bundle.Cert.Counter != 6 {
		t.Errorf("chose %s (#%d), want new.age (#6)", op.Name, op.Bundle.Cert.Counter)
	}
	if op.FileHash != transfer.FileHash(newer) {
		t.Errorf("got hash %s, want the chosen file's %s", op.FileHash, transfer.FileHash(newer))
	}
	if len(op.Skipped) != 1 || op.Skipped[0].Name != "old.age" {
		t.Errorf("skipped %+v, want old.age", op.Skipped)
	}
	o := f.opts()
	o.BundleHash = op.FileHash
	res, err := f.a.Activate(op.Bundle, o)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := f.a.Set(res.Set); err != nil || info.Bundle != op.FileHash {
		t.Errorf("set.json names bundle %q (%v), want %s", info.Bundle, err, op.FileHash)
	}
}

func TestInstallState(t *testing.T) {
	confirmed := Confirmation{Confirmed: true, Sources: []string{"metrics"}}
	unconfirmable := Confirmation{Unconfirmable: true, Detail: "no metrics URL or node log configured"}
	for _, tt := range []struct {
		name string
		res  InstallResult
		want string
	}{
		{"standby", InstallResult{Activated: &ActivateResult{Staged: true}}, StateStaged},
		{"not signalled", InstallResult{Activated: &ActivateResult{}}, StateNotSignalled},
		{"confirmed", InstallResult{Activated: &ActivateResult{}, Signalled: "pid 7", Confirmation: confirmed}, StateConfirmed},
		{"unconfirmable", InstallResult{Activated: &ActivateResult{}, Signalled: "pid 7", Confirmation: unconfirmable}, StateUnconfirmed},
		// Before, anything signalled that was not "unconfirmable" read
		// as confirmed: a rolled-back install is not.
		{"rolled back", InstallResult{Activated: &ActivateResult{}, Signalled: "pid 7", Confirmation: Confirmation{Detail: "refused"},
			RolledBack: &RollbackResult{From: "5-200-a", To: InitialSet}}, StateRolledBack},
		{"kes-agent confirmed", InstallResult{Activated: &ActivateResult{}, KESAgent: true, Confirmation: confirmed}, StateConfirmed},
		{"kes-agent only", InstallResult{Activated: &ActivateResult{}, KESAgent: true, Confirmation: unconfirmable}, StateKESAgentUnconfirmed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.res.State(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// Install keeps the bundle's checkpoint once the bundle passed the checks,
// also when the node refuses the set and the install is rolled back; a
// bundle that fails the checks keeps nothing.
func TestInstallKeepsTheCheckpoint(t *testing.T) {
	f := newFixture(t, true, nil)
	n, logPath := f.startNode(true)
	f.a.Config.NodeLog = logPath
	cp, _ := checkpointNote(t, "6103d8dbb2da40e56052d8aace9930c2", 6)
	o := InstallOptions{ActivateOptions: f.opts(), Signal: reloadOf(n), ConfirmTimeout: 20 * time.Second, Poll: 10 * time.Millisecond, KeepCheckpoint: true}

	bad := f.bundle(10, oldCounter-1, 200, false) // a downgrade
	bad.Checkpoint = cp
	if res, err := f.a.Install(context.Background(), bad, o); err == nil || res != nil {
		t.Fatalf("a downgrade: got %+v, %v, want refused", res, err)
	}
	if kept, _ := f.a.Checkpoints(); len(kept) != 0 {
		t.Fatalf("a refused bundle kept %v", kept)
	}

	b := f.bundle(10, 5, 200, false)
	b.Checkpoint = cp
	res, err := f.a.Install(context.Background(), b, o)
	if !errors.Is(err, ErrNotConfirmed) || res == nil || res.RolledBack == nil {
		t.Fatalf("got %+v, %v, want a rolled-back install", res, err)
	}
	kept, _ := f.a.Checkpoints()
	if res.CheckpointErr != nil || res.CheckpointKept == "" || len(kept) != 1 || kept[0] != res.CheckpointKept {
		t.Errorf("kept %q (%v), files %v, want the bundle's checkpoint kept", res.CheckpointKept, res.CheckpointErr, kept)
	}

	// A checkpoint that cannot be kept is reported; the install goes on.
	other, _ := checkpointNote(t, "7103d8dbb2da40e56052d8aace9930c2", 7)
	b = f.bundle(11, 6, 200, false)
	b.Checkpoint = other
	o.Signal, o.NodePID = func() (string, error) { return "", nil }, nil
	o.NoSignal = true
	res, err = f.a.Install(context.Background(), b, o)
	if err != nil || !errors.Is(res.CheckpointErr, ErrCheckpoint) || res.CheckpointKept != "" || res.State() != StateNotSignalled {
		t.Errorf("another vault's checkpoint: got %+v, %v, want installed and ErrCheckpoint reported", res, err)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("no entropy") }

// kes new --replace makes the new key before it drops the pending one: a
// key that cannot be made leaves the pending key (and its vkey, which may
// already be on its way to the cold machine) where it was.
func TestReplacingAPendingKESKeyThatCannotBeMade(t *testing.T) {
	f := newFixture(t, true, nil)
	vk, err := f.a.NewPendingKES(rand.Reader, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.a.NewPendingKES(failingReader{}, true); err == nil || errors.Is(err, ErrPendingDropped) {
		t.Fatalf("got %v, want the reader's error, the pending key kept", err)
	}
	k, err := f.a.PendingKES()
	if err != nil || k == nil {
		t.Fatalf("the pending key: %v, %v, want it kept", k, err)
	}
	defer k.Wipe()
	if k.Public() != vk {
		t.Error("the pending key changed")
	}
}
