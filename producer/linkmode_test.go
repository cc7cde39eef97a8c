package producer

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kesrotate/kesrotate/internal/testnode"
	"github.com/kesrotate/kesrotate/opcert"
)

// containerFixture lays out a producer whose node runs in a container:
// the host folder root/keys is what the container mounts as /keys, and
// the node is started with --shelley-kes-key /keys/kes.skey and so on. A
// fake process table gives the node pid 4242 whose root is root, so the
// agent looks through the node's eyes as it would through /proc.
type containerFixture struct {
	*fixture
	root string // the container's "/" on the host
	proc string
}

const nodePID = 4242

func newContainerFixture(t *testing.T, agentInside bool, mode string) *containerFixture {
	t.Helper()
	base := t.TempDir()
	root := filepath.Join(base, "container")
	keys := filepath.Join(root, "keys")
	if err := os.MkdirAll(keys, 0o700); err != nil {
		t.Fatal(err)
	}
	pool, err := testnode.NewPool(1)
	if err != nil {
		t.Fatal(err)
	}
	set, err := pool.Issue(9, oldCounter, oldPeriod)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.WriteSet(keys, set); err != nil {
		t.Fatal(err)
	}
	agentDir := filepath.Join(base, "agent")
	if agentInside {
		agentDir = filepath.Join(keys, ".kesrotate-agent")
	}
	f := &fixture{t: t, pool: pool, nodeDir: keys, net: opcert.Preview}
	f.tip = 200*f.net.SlotsPerKESPeriod + 17
	c := Config{Network: "preview", KESKey: filepath.Join(keys, "kes.skey"), VRFKey: filepath.Join(keys, "vrf.skey"),
		Cert: filepath.Join(keys, "node.cert"), Signal: Signal{Mode: "none"}, Name: "bp1", LinkMode: mode}
	f.a, err = Init(agentDir, InitOptions{Config: c, ColdVKey: pool.Cold.Public().MarshalEnvelope(), Now: testNow, Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	proc := filepath.Join(base, "proc")
	pdir := filepath.Join(proc, "4242")
	if err := os.MkdirAll(pdir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(root, filepath.Join(pdir, "root")); err != nil {
		t.Fatal(err)
	}
	cmdline := strings.Join([]string{"cardano-node", "run", "--shelley-kes-key", "/keys/kes.skey",
		"--shelley-vrf-key=/keys/vrf.skey", "--shelley-operational-certificate", "/keys/node.cert", "--socket-path", "/ipc/node.socket"}, "\x00") + "\x00"
	if err := os.WriteFile(filepath.Join(pdir, "cmdline"), []byte(cmdline), 0o644); err != nil {
		t.Fatal(err)
	}
	f.a.ProcRoot = proc
	return &containerFixture{fixture: f, root: root, proc: proc}
}

func TestNodeSees(t *testing.T) {
	tests := []struct {
		name        string
		agentInside bool
		mode        string
		sees        bool
	}{
		{"absolute links to an agent folder the container does not mount", false, LinkAbsolute, false},
		{"relative links to an agent folder the container does not mount", false, LinkRelative, false},
		{"absolute links into the mounted folder: the host path means nothing inside", true, LinkAbsolute, false},
		{"relative links into the mounted folder", true, LinkRelative, true},
		{"copies in place", false, LinkCopy, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newContainerFixture(t, tt.agentInside, tt.mode)
			if _, err := f.a.Activate(f.bundle(11, 5, 200, false), f.opts()); err != nil {
				t.Fatal(err)
			}
			// On the host every path works, whatever the mode.
			if v, err := readNode(f.a, f.pool); err != nil || v.counter != 5 {
				t.Fatalf("host view: got %+v, %v, want cert #5", v, err)
			}
			checked, err := f.a.CheckNodeSees(nodePID)
			if !checked {
				t.Fatal("the fake node's view was not checked")
			}
			if tt.sees && err != nil {
				t.Errorf("got %v, want the node to see its files", err)
			}
			if !tt.sees && (!errors.Is(err, ErrNodeCannotSee) || !strings.Contains(err.Error(), "/keys/kes.skey leads nowhere")) {
				t.Errorf("got %v, want ErrNodeCannotSee naming /keys/kes.skey", err)
			}
		})
	}
	t.Run("a view that cannot be inspected is not checked", func(t *testing.T) {
		f := newContainerFixture(t, true, LinkRelative)
		if checked, err := f.a.CheckNodeSees(99999); checked || err != nil {
			t.Errorf("got %v, %v, want unchecked", checked, err)
		}
	})
}

func TestResolveIn(t *testing.T) {
	root := t.TempDir()
	mk := func(p string) {
		if err := os.MkdirAll(filepath.Join(root, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mk("a/b")
	mk("etc")
	_ = os.WriteFile(filepath.Join(root, "a/b/f"), []byte("x"), 0o644)
	_ = os.Symlink("/a/b", filepath.Join(root, "etc/abs"))                   // absolute: from the view's root
	_ = os.Symlink("../a/b/f", filepath.Join(root, "etc/rel"))               // relative
	_ = os.Symlink("../../../../../../a/b/f", filepath.Join(root, "etc/up")) // ".." stops at the root
	_ = os.Symlink("loop", filepath.Join(root, "etc/loop"))
	tests := []struct{ in, want string }{
		{"/etc/abs/f", "a/b/f"},
		{"/etc/rel", "a/b/f"},
		{"/etc/up", "a/b/f"},
		{"/a/../../a/b/./f", "a/b/f"},
	}
	for _, tt := range tests {
		got, err := resolveIn(root, tt.in)
		if err != nil || got != filepath.Join(root, tt.want) {
			t.Errorf("resolveIn(%s) = %s, %v, want %s", tt.in, got, err, filepath.Join(root, tt.want))
		}
	}
	if _, err := resolveIn(root, "/etc/loop"); err == nil || !strings.Contains(err.Error(), "too many levels") {
		t.Errorf("got %v for a loop, want too many levels", err)
	}
}

// A container mounting both folders under other names: relative links
// keep working where absolute ones dangle.
func TestRelativeLinksSurviveAMove(t *testing.T) {
	for _, mode := range []string{LinkRelative, LinkAbsolute} {
		t.Run(mode, func(t *testing.T) {
			f := newContainerFixture(t, true, mode)
			if _, err := f.a.Activate(f.bundle(11, 5, 200, false), f.opts()); err != nil {
				t.Fatal(err)
			}
			moved := f.root + "-elsewhere"
			if err := os.Rename(f.root, moved); err != nil {
				t.Fatal(err)
			}
			_, err := os.ReadFile(filepath.Join(moved, "keys", "node.cert"))
			if mode == LinkRelative && err != nil {
				t.Errorf("relative link after the move: %v", err)
			}
			if mode == LinkAbsolute && err == nil {
				t.Errorf("absolute link still resolves after the move; the test proves nothing")
			}
		})
	}
}

func TestCopyMode(t *testing.T) {
	f := newContainerFixture(t, false, LinkCopy)
	if _, err := f.a.Activate(f.bundle(11, 5, 200, false), f.opts()); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{f.a.Config.KESKey, f.a.Config.VRFKey, f.a.Config.Cert} {
		fi, err := os.Lstat(p)
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: got %v, %v, want a regular 0600 file", p, fi.Mode(), err)
		}
	}
	if v, err := readNode(f.a, f.pool); err != nil || v.counter != 5 {
		t.Fatalf("got %+v, %v, want cert #5", v, err)
	}

	// A crash between two copies leaves the cert of the old set: the next
	// install accepts it (those bytes are a kept set's) and completes.
	prev, _ := os.ReadFile(filepath.Join(f.a.Dir, SetsDir, InitialSet, SetCertFile))
	if err := os.WriteFile(f.a.Config.Cert, prev, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := f.a.Activate(f.bundle(12, 6, 200, false), f.opts()); err != nil {
		t.Fatalf("install over an interrupted copy: %v", err)
	}
	if v, err := readNode(f.a, f.pool); err != nil || v.counter != 6 {
		t.Fatalf("got %+v, %v, want cert #6", v, err)
	}

	// Rollback writes the previous set's bytes back.
	if _, err := f.a.Rollback(context.Background(), RollbackOptions{}); err != nil {
		t.Fatal(err)
	}
	if v, err := readNode(f.a, f.pool); err != nil || v.counter != 5 {
		t.Fatalf("after rollback: got %+v, %v, want cert #5", v, err)
	}

	// A file changed by hand is refused by install and by rollback alike,
	// before anything moves.
	other, err := f.pool.Issue(77, 9, 200)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.a.Config.Cert, other.Cert.MarshalEnvelope(), 0o600); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(f.a.Dir, CurrentLink, SetCertFile))
	if _, err := f.a.Rollback(context.Background(), RollbackOptions{}); !errors.Is(err, ErrUnmanaged) {
		t.Errorf("rollback: got %v, want ErrUnmanaged", err)
	}
	if _, err := f.a.Activate(f.bundle(13, 10, 200, false), f.opts()); !errors.Is(err, ErrUnmanaged) {
		t.Errorf("install: got %v, want ErrUnmanaged", err)
	}
	after, _ := os.ReadFile(filepath.Join(f.a.Dir, CurrentLink, SetCertFile))
	if !bytes.Equal(before, after) {
		t.Errorf("the active set changed although the refusal came first")
	}
}

// Rollback refuses a hand-edited node path in link mode too (it used to
// swap without looking).
func TestRollbackRefusesHandEdits(t *testing.T) {
	f := newFixture(t, true, nil)
	if _, err := f.a.Activate(f.bundle(11, 5, 200, false), f.opts()); err != nil {
		t.Fatal(err)
	}
	other, err := f.pool.Issue(77, 9, 200)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(f.a.Config.Cert); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.a.Config.Cert, other.Cert.MarshalEnvelope(), 0o600); err != nil {
		t.Fatal(err)
	}
	cur, _ := f.a.CurrentSet()
	if _, err := f.a.Rollback(context.Background(), RollbackOptions{}); !errors.Is(err, ErrUnmanaged) {
		t.Errorf("got %v, want ErrUnmanaged", err)
	}
	if now, _ := f.a.CurrentSet(); now != cur {
		t.Errorf("current moved from %s to %s", cur, now)
	}
}

// blockTmp makes the temp name beside path unusable (a non-empty folder),
// so that writing path fails after the swap, as a chown failure would.
func blockTmp(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(path+".kesrotate-tmp", "x"), 0o700); err != nil {
		t.Fatal(err)
	}
}

// An install that fails half way through making the node's paths lead to
// the new set puts back the set before and the paths as they were (in copy
// mode the KES key had already been overwritten), and says so: it used to
// leave the new set active with some paths rewritten.
func TestInstallUndoesAHalfSwap(t *testing.T) {
	for _, mode := range []string{LinkCopy} { // links into current/ need no rewrite
		t.Run(mode, func(t *testing.T) {
			f := newContainerFixture(t, false, mode)
			if _, err := f.a.Activate(f.bundle(11, 5, 200, false), f.opts()); err != nil {
				t.Fatal(err)
			}
			cur, _ := f.a.CurrentSet()
			kes, _ := os.ReadFile(f.a.Config.KESKey)
			blockTmp(t, f.a.Config.Cert)
			_, err := f.a.Activate(f.bundle(12, 6, 200, false), f.opts())
			var ue *UndoError
			if !errors.As(err, &ue) || ue.UndoErr != nil || ue.Back != cur {
				t.Fatalf("got %v, want an UndoError back to %s", err, cur)
			}
			if now, _ := f.a.CurrentSet(); now != cur {
				t.Errorf("current: got %s, want %s", now, cur)
			}
			if got, _ := os.ReadFile(f.a.Config.KESKey); !bytes.Equal(got, kes) {
				t.Errorf("the node's KES key was left rewritten")
			}
			if v, err := readNode(f.a, f.pool); err != nil || v.counter != 5 {
				t.Errorf("got %+v, %v, want cert #5", v, err)
			}
			if _, err := os.Stat(filepath.Join(f.a.Dir, SetsDir, ue.Set)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("set %s was kept: %v", ue.Set, err)
			}
			if s := undoneResult(err).State(); s != StateNothingChanged {
				t.Errorf("state %q, want %q", s, StateNothingChanged)
			}
		})
	}
}
