package ceremony

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kesrotate/kesrotate/auditlog"
	"github.com/kesrotate/kesrotate/internal/vectors"
	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/opcert"
)

var t0 = time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)

// detRand is a deterministic randomness source for tests.
type detRand struct{ ctr uint64 }

func (r *detRand) Read(p []byte) (int, error) {
	for i := range p {
		if i%32 == 0 {
			r.ctr++
		}
		h := sha256.Sum256([]byte(fmt.Sprint(r.ctr)))
		p[i] = h[i%32]
	}
	return len(p), nil
}

func newVault(t *testing.T) *Vault {
	t.Helper()
	v, err := Init(filepath.Join(t.TempDir(), "vault"), InitOptions{Network: "mainnet", Now: t0, Rand: &detRand{}})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestInitAndModes(t *testing.T) {
	v := newVault(t)
	p, err := v.NewPool("alpha", t0)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]fs.FileMode{
		v.Dir: 0o700, filepath.Join(v.Dir, "secret"): 0o700, p.Dir: 0o700,
		filepath.Join(p.Dir, coldSkeyFile): 0o600, filepath.Join(p.Dir, vrfSkeyFile): 0o600,
		filepath.Join(p.Dir, journalFile): 0o600,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %04o, want %04o", path, got, want)
		}
	}
	if _, err := Init(v.Dir, InitOptions{Network: "mainnet", Now: t0}); !errors.Is(err, ErrVaultExists) {
		t.Errorf("second init: got %v, want ErrVaultExists", err)
	}
	bad := filepath.Join(t.TempDir(), "bad")
	if _, err := Init(bad, InitOptions{Network: "testnet", Now: t0}); !errors.Is(err, opcert.ErrUnknownNetwork) {
		t.Errorf("unknown network: got %v", err)
	}
	if _, err := os.Stat(bad); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("failed init left %s behind", bad)
	}
	g, err := Init(filepath.Join(t.TempDir(), "g"), InitOptions{Genesis: vectors.Read(t, "ouroboros-consensus/shelley-genesis.json"), Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	g2, err := Open(g.Dir)
	if err != nil || g2.Network.MaxKESEvolutions != 60 || g2.Network.Magic != 42 {
		t.Errorf("genesis vault reopened: %+v, %v", g2.Network, err)
	}
}

func TestImportKeepsPoolIDAndCounter(t *testing.T) {
	v := newVault(t)
	p, err := v.ImportPool("gd", ImportOptions{
		ColdSkey: vectors.Read(t, "cardano-cli/node-cold.skey"),
		Counter:  bytes.Replace(vectors.Read(t, "cardano-cli/genesis_delegate_keys.operational_certificate_counter"), []byte("820058"), []byte("820558"), 1),
	}, t0)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := p.PoolID()
	if id.Hex() != "cf3c9bbaf970a8b6585bb9e6ed9416698323f3cf630810faac4618d2" {
		t.Errorf("pool id: got %s", id.Hex())
	}
	c, err := p.Counter()
	if err != nil || c.Next != 5 {
		t.Errorf("counter: got %d, %v; want 5", c.Next, err)
	}
	entries, _ := p.Journal()
	h, _ := History(entries)
	if !h.Issued || h.MaxIssued != 4 {
		t.Errorf("history of an imported counter at 5: %+v", h)
	}
	// The chain only saw 2 (certs 3 and 4 were issued with cardano-cli and
	// never minted): cardano-cli would issue 5 and over-increment; the
	// vault issues 3, which the chain accepts.
	res, err := p.Issue(IssueRequest{KESPeriod: 1571, OnChain: opcert.Recorded(2), Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if res.Cert.Counter != 3 {
		t.Errorf("counter: got %d, want 3", res.Cert.Counter)
	}
	if err := opcert.CheckCounter(res.Cert.Counter, opcert.Recorded(2)); err != nil {
		t.Error(err)
	}
}

func TestIssueRulesAndRefusals(t *testing.T) {
	v := newVault(t)
	p, err := v.NewPool("alpha", t0)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(onchain opcert.OnChain, force *uint64) (*IssueResult, error) {
		return p.Issue(IssueRequest{KESPeriod: 1571, OnChain: onchain, ForceCounter: force, Now: t0})
	}
	steps := []struct {
		onchain opcert.OnChain
		want    uint64
		err     error
	}{
		{opcert.None(), 0, nil},      // never minted, never issued
		{opcert.None(), 0, nil},      // issued 0, never minted: 0 again
		{opcert.Recorded(0), 1, nil}, // 0 minted
		{opcert.Recorded(0), 1, nil}, // 1 never minted: 1 again, not 2
		{opcert.Recorded(1), 2, nil}, // 1 minted
		{opcert.Recorded(5), 0, opcert.ErrOnChainAhead},
		{opcert.Recorded(0), 0, opcert.ErrOnChainBackwards},
		{opcert.None(), 0, opcert.ErrOnChainBackwards},
	}
	for i, s := range steps {
		before := dirDigest(t, v.Dir)
		res, err := issue(s.onchain, nil)
		if !errors.Is(err, s.err) {
			t.Fatalf("step %d (%s): got %v, want %v", i, s.onchain, err, s.err)
		}
		if err != nil {
			if after := dirDigest(t, v.Dir); after != before {
				t.Errorf("step %d: a refused issue changed the vault", i)
			}
			continue
		}
		if res.Cert.Counter != s.want {
			t.Errorf("step %d (%s): counter %d, want %d", i, s.onchain, res.Cert.Counter, s.want)
		}
		if err := res.Cert.CheckSignature(); err != nil {
			t.Error(err)
		}
		if res.KES.Public() != res.Cert.KESVKey {
			t.Error("KES key is not the certified one")
		}
		c, _ := p.Counter()
		if c.Next != res.Cert.Counter+1 {
			t.Errorf("step %d: counter file next %d, want %d", i, c.Next, res.Cert.Counter+1)
		}
		if _, err := os.Stat(p.CertFile(res.Entry)); err != nil {
			t.Errorf("step %d: cert file: %v", i, err)
		}
	}
	// --force-counter overrides and is journaled.
	n := uint64(9)
	res, err := issue(opcert.Recorded(5), &n)
	if err != nil || res.Cert.Counter != 9 || !res.Entry.Forced {
		t.Errorf("forced: %+v, %v", res, err)
	}
}

// TestCrashAtEveryStep interrupts an issue at each step and checks that the
// vault then chooses the same, correct counter and ends consistent.
// A crash hook is one vault's: another vault, in the same process at the
// same time, issues as if no test hook existed.
func TestCrashHookIsTheVaults(t *testing.T) {
	var pools []*Pool
	for range 2 {
		p, err := newVault(t).NewPool("alpha", t0)
		if err != nil {
			t.Fatal(err)
		}
		pools = append(pools, p)
	}
	crash := errors.New("crash")
	pools[0].v.crash = func(string) error { return crash }
	if _, err := pools[1].Issue(IssueRequest{KESPeriod: 1571, OnChain: opcert.None(), Now: t0}); err != nil {
		t.Errorf("the vault without a hook: got %v, want its cert", err)
	}
	if _, err := pools[0].Issue(IssueRequest{KESPeriod: 1571, OnChain: opcert.None(), Now: t0}); !errors.Is(err, crash) {
		t.Errorf("the vault with the hook: got %v, want the crash", err)
	}
}

func TestCrashAtEveryStep(t *testing.T) {
	for _, step := range []string{"before-journal", "after-journal", "before-cert-file", "before-counter-file"} {
		t.Run(step, func(t *testing.T) {
			v := newVault(t)
			p, err := v.NewPool("alpha", t0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Issue(IssueRequest{KESPeriod: 1571, OnChain: opcert.None(), Now: t0}); err != nil {
				t.Fatal(err)
			}
			crash := errors.New("crash")
			v.crash = func(s string) error {
				if s == step {
					return crash
				}
				return nil
			}
			_, err = p.Issue(IssueRequest{KESPeriod: 1572, OnChain: opcert.Recorded(0), Now: t0})
			v.crash = nil
			if !errors.Is(err, crash) {
				t.Fatalf("got %v, want the injected crash", err)
			}
			// A new process opens the vault and issues again.
			v2, err := Open(v.Dir)
			if err != nil {
				t.Fatal(err)
			}
			p2, err := v2.Pool("alpha")
			if err != nil {
				t.Fatal(err)
			}
			res, err := p2.Issue(IssueRequest{KESPeriod: 1572, OnChain: opcert.Recorded(0), Now: t0})
			if err != nil {
				t.Fatal(err)
			}
			if res.Cert.Counter != 1 {
				t.Errorf("after a crash at %s: counter %d, want 1", step, res.Cert.Counter)
			}
			c, _ := p2.Counter()
			if c.Next != 2 {
				t.Errorf("counter file next %d, want 2", c.Next)
			}
			entries, _ := p2.Journal()
			for _, e := range Issued(entries) {
				if _, err := os.Stat(p2.CertFile(e)); err != nil {
					t.Errorf("cert #%d of entry %d missing after repair", e.Counter, e.Seq)
				}
			}
		})
	}
}

func TestTornJournalLineIsIgnoredAndCut(t *testing.T) {
	v := newVault(t)
	p, _ := v.NewPool("alpha", t0)
	f, err := os.OpenFile(p.journalPath(), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString(`{"seq":1,"kind":"issued","coun`)
	f.Close()
	res, err := p.Issue(IssueRequest{KESPeriod: 1571, OnChain: opcert.None(), Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if res.Entry.Seq != 1 {
		t.Errorf("seq after a torn line: got %d, want 1", res.Entry.Seq)
	}
	b, _ := os.ReadFile(p.journalPath())
	if strings.Contains(string(b), `"coun{`) || strings.Count(string(b), "\n") != 2 {
		t.Errorf("journal not repaired:\n%s", b)
	}
}

func TestKESOnProducerIssuesForTheGivenKey(t *testing.T) {
	v := newVault(t)
	p, _ := v.NewPool("alpha", t0)
	k, _ := keys.NewKESKey(bytes.Repeat([]byte{4}, 32))
	vk := k.Public()
	res, err := p.Issue(IssueRequest{KESPeriod: 1571, OnChain: opcert.None(), KESVKey: &vk, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if res.KES != nil || res.Cert.KESVKey != vk || !res.Entry.KESOnProducer {
		t.Errorf("producer-mode issue: %+v", res.Entry)
	}
}

func dirDigest(t *testing.T, root string) string {
	var lines []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			lines = append(lines, "d "+path)
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(path)
			lines = append(lines, fmt.Sprintf("l %s %s %v", path, target, err))
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		lines = append(lines, fmt.Sprintf("f %s %x", path, sha256.Sum256(b)))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// A forced counter of 2^64-1 has no next number for the counter file: it
// wrapped to 0. It is refused before anything is written.
func TestForcedCounterAtTheTopIsRefused(t *testing.T) {
	v := newVault(t)
	p, err := v.NewPool("alpha", t0)
	if err != nil {
		t.Fatal(err)
	}
	before := dirDigest(t, v.Dir)
	top := uint64(math.MaxUint64)
	_, err = p.Issue(IssueRequest{KESPeriod: 1571, OnChain: opcert.Recorded(top - 1), ForceCounter: &top, Now: t0})
	if !errors.Is(err, opcert.ErrCounterExhausted) {
		t.Errorf("got %v, want ErrCounterExhausted", err)
	}
	if after := dirDigest(t, v.Dir); after != before {
		t.Error("the refused issue changed the vault")
	}
}

// A vault folder others may write to, a key file others may read, or a key
// file that is a link elsewhere are not used: the vault refuses to open
// and says what to fix.
func TestOpenRefusesUnsafeModesAndLinks(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, v *Vault, p *Pool)
	}{
		{"world-writable vault folder", func(t *testing.T, v *Vault, p *Pool) { chmod(t, v.Dir, 0o777) }},
		{"world-writable pool folder", func(t *testing.T, v *Vault, p *Pool) { chmod(t, p.Dir, 0o707) }},
		{"group-writable log folder", func(t *testing.T, v *Vault, p *Pool) { chmod(t, v.LogDir(), 0o770) }},
		{"cold key 0666", func(t *testing.T, v *Vault, p *Pool) { chmod(t, filepath.Join(p.Dir, coldSkeyFile), 0o666) }},
		{"VRF key 0640", func(t *testing.T, v *Vault, p *Pool) { chmod(t, filepath.Join(p.Dir, vrfSkeyFile), 0o640) }},
		{"audit key 0644", func(t *testing.T, v *Vault, p *Pool) { chmod(t, auditKeyPath(v.Dir), 0o644) }},
		{"world-writable journal", func(t *testing.T, v *Vault, p *Pool) { chmod(t, p.journalPath(), 0o622) }},
		{"cold key is a link", func(t *testing.T, v *Vault, p *Pool) {
			path := filepath.Join(p.Dir, coldSkeyFile)
			elsewhere := filepath.Join(t.TempDir(), "cold.skey")
			if err := os.Rename(path, elsewhere); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(elsewhere, path); err != nil {
				t.Fatal(err)
			}
		}},
		{"pool folder is a link", func(t *testing.T, v *Vault, p *Pool) {
			elsewhere := filepath.Join(t.TempDir(), "alpha")
			if err := os.Rename(p.Dir, elsewhere); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(elsewhere, p.Dir); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newVault(t)
			p, err := v.NewPool("alpha", t0)
			if err != nil {
				t.Fatal(err)
			}
			tc.change(t, v, p)
			before := dirDigest(t, v.Dir)
			_, err = Open(v.Dir)
			if !errors.Is(err, ErrUnsafeFile) {
				t.Errorf("got %v, want ErrUnsafeFile", err)
			}
			if after := dirDigest(t, v.Dir); after != before {
				t.Error("opening the vault changed it")
			}
		})
	}
}

func chmod(t *testing.T, path string, mode fs.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// TestKilledBeforeFlush stops a command after its issue, before the
// vault writes the latest-checkpoint file and the log's state at the end
// (as a kill there would): the log verifies, and the next command opens
// it in full and brings both up to date.
func TestKilledBeforeFlush(t *testing.T) {
	v := newVault(t)
	p, err := v.NewPool("alpha", t0)
	if err != nil {
		t.Fatal(err)
	}
	v.crash = func(s string) error {
		if s == "before-flush" {
			return errors.New("killed")
		}
		return nil
	}
	_, err = p.Issue(IssueRequest{KESPeriod: 1571, OnChain: opcert.None(), Now: t0})
	v.crash = nil
	if err != nil {
		t.Fatal(err)
	}
	latest := func() auditlog.Checkpoint {
		b, err := os.ReadFile(filepath.Join(v.LogDir(), auditlog.FileCheckpoint))
		if err != nil {
			t.Fatal(err)
		}
		c, err := auditlog.ParseCheckpoint(b)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	r, err := auditlog.Verify(v.LogDir(), auditlog.VerifyOptions{})
	if err != nil {
		t.Fatalf("Verify after the kill: %v", err)
	}
	if c := latest(); c.Size >= r.TreeSize {
		t.Fatalf("the checkpoint file covers %d of %d entries: the kill came too late to test anything", c.Size, r.TreeSize)
	}
	v2, err := Open(v.Dir)
	if err != nil {
		t.Fatal(err)
	}
	p2, _ := v2.Pool("alpha")
	if _, err := p2.Issue(IssueRequest{KESPeriod: 1572, OnChain: opcert.Recorded(0), Now: t0}); err != nil {
		t.Fatal(err)
	}
	r, err = auditlog.Verify(v.LogDir(), auditlog.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c := latest(); c.Size != r.TreeSize {
		t.Errorf("the checkpoint file covers %d of %d entries after the next command", c.Size, r.TreeSize)
	}
	if _, err := os.Stat(filepath.Join(v.LogDir(), auditlog.FileState)); err != nil {
		t.Errorf("no saved state after the next command: %v", err)
	}
}

// VRFKeyHash is the hash of the VRF vkey pool.json and vrf.vkey agree on;
// a damaged pool.json is an error, never another hash.
func TestVRFKeyHash(t *testing.T) {
	v := newVault(t)
	p, err := v.NewPool("alpha", t0)
	if err != nil {
		t.Fatal(err)
	}
	vk, err := keys.ParseVRFVKey(mustRead(t, filepath.Join(p.Dir, vrfVkeyFile)))
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.VRFKeyHash()
	if err != nil || got != vk.Hash() {
		t.Fatalf("VRFKeyHash: got %x, %v; want %x", got, err, vk.Hash())
	}
	good := p.Meta.VRFVKey
	other := strings.Repeat("0", 64)
	for _, c := range []struct{ name, meta, want string }{
		{"cut short", good[:10], "not 32 bytes of lowercase hex"},
		{"not hex", "zz" + good[2:], "not 32 bytes of lowercase hex"},
		{"upper case", strings.ToUpper(good), "not 32 bytes of lowercase hex"},
		{"another key", other, "is not the pool's VRF vkey"},
	} {
		p.Meta.VRFVKey = c.meta
		if h, err := p.VRFKeyHash(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %x, %v; want an error saying %q", c.name, h, err, c.want)
		}
	}
	p.Meta.VRFVKey = ""
	if _, err := p.VRFKeyHash(); !errors.Is(err, ErrNoVRF) {
		t.Errorf("no VRF key: got %v, want ErrNoVRF", err)
	}
}
