package hostile

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/kesrotate/kesrotate/internal/cli/agent"
	"github.com/kesrotate/kesrotate/internal/cli/cold"
)

// The fixture's clock and chain: the e2e scripts' values (mainnet, KES
// period 1571).
const (
	now = "2026-11-21T06:00:00Z"
	tip = "203670909"
)

// vectors returns ../shared/testvectors beside the repository root.
func vectors(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "testvectors")
	if _, err := os.Stat(filepath.Join(dir, "cardano-cli", "node-cold.skey")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("test vectors not found in %s: %v", dir, err)
		}
		t.Skipf("test vectors not found in %s (../shared/testvectors beside the repository)", dir)
	}
	return dir
}

// result is what one run of a binary left behind.
type result struct {
	code           int
	stdout, stderr string
	panicked       any
}

// run calls a binary's entry point in-process; a panic is caught and
// returned so one bad case does not hide the others.
func run(prog string, args ...string) (r result) {
	var out, errb bytes.Buffer
	defer func() {
		if p := recover(); p != nil {
			r = result{code: -1, stdout: out.String(), stderr: errb.String(), panicked: p}
		}
	}()
	main := cold.Main
	if prog == "kesrotate-agent" {
		main = agent.Main
	}
	code := main(args, strings.NewReader(""), &out, &errb)
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// must runs a fixture-building command that has to succeed.
func must(t *testing.T, prog string, args ...string) result {
	t.Helper()
	r := run(prog, args...)
	if r.code != 0 || r.panicked != nil {
		t.Fatalf("%s %s: exit %d (panic %v)\nstdout:\n%s\nstderr:\n%s", prog, strings.Join(args, " "), r.code, r.panicked, r.stdout, r.stderr)
	}
	return r
}

// fixture is a cold vault and producer agents built with the real commands.
type fixture struct {
	root    string // everything below lives here; snapshots cover all of it
	vec     string // cardano-cli test vectors
	vault   string
	agent   string // bp1's agent, pool gd, mainnet
	node    string // bp1's node credential folder
	pub     string // gd's public files
	enroll  string // bp1's enrollment file and QR
	enrollQ string
	snap    string // bp1's snapshot file and QR
	snapQ   string
	bundle  string // gd #0 sealed for bp1
	frames  string // the bundle's QR frames (and the checkpoint QR)

	agent2         string // bp2: another pool ("other") on mainnet
	snap2          string
	agent3         string // bp3: pool gd on preprod
	enroll3, snap3 string
	in             string // hostile inputs

	goodCert string // the cert rotate issued (in the vault)

	agent4, enroll4, snap4 string // bp4: pool gd on mainnet, never pinned (an attacker's producer)
	evault, pass           string // an encrypted vault (scrypt work factor 10) and its passphrase file
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	root := t.TempDir()
	f := &fixture{root: root, vec: filepath.Join(vectors(t), "cardano-cli"), in: filepath.Join(root, "in")}
	p := func(s string) string { return filepath.Join(root, s) }
	f.vault, f.agent, f.node, f.pub = p("vault"), p("agent"), p("node"), p("pub")
	f.enroll, f.enrollQ, f.snap, f.snapQ = p("enroll.kre"), p("enroll.png"), p("snap.kss"), p("snap.png")
	f.frames = p("frames")
	if err := os.MkdirAll(f.in, 0o755); err != nil {
		t.Fatal(err)
	}
	const K, A = "kesrotate", "kesrotate-agent"
	must(t, K, "--vault", f.vault, "--now", now, "init", "--network", "mainnet")
	must(t, K, "--vault", f.vault, "--now", now, "pool", "import", "gd",
		"--cold-skey", f.vec+"/node-cold.skey",
		"--counter", f.vec+"/genesis_delegate_keys.operational_certificate_counter",
		"--vrf-skey", f.vec+"/vrf_keys.signing_key")
	must(t, K, "--vault", f.vault, "--now", now, "pool", "export-public", "gd", "--out", f.pub)
	must(t, A, "--dir", f.agent, "--now", now, "init", "--network", "mainnet", "--pool-cold-vkey", f.pub+"/cold.vkey",
		"--kes-key", f.node+"/kes.skey", "--vrf-key", f.node+"/vrf.skey", "--cert", f.node+"/node.cert", "--no-signal", "--name", "bp1")
	must(t, A, "--dir", f.agent, "--now", now, "enrollment", "--out", f.enroll, "--qr", f.enrollQ)
	must(t, K, "--vault", f.vault, "--now", now, "producer", "add", "bp1", "--yes", "--enrollment", f.enroll)
	must(t, A, "--dir", f.agent, "--now", now, "snapshot", "--out", f.snap, "--qr", f.snapQ, "--tip-slot", tip, "--onchain-counter", "none")
	must(t, K, "--vault", f.vault, "--now", now, "rotate", "gd", "--producer", "bp1", "--snapshot", f.snap,
		"--with-vrf", "--out", p("out"), "--qr", f.frames)
	bundles, _ := filepath.Glob(p("out/*.age"))
	if len(bundles) != 1 {
		t.Fatalf("got bundles %q, want one", bundles)
	}
	f.bundle = bundles[0]
	certs, _ := filepath.Glob(filepath.Join(f.vault, "pools", "gd", "certs", "*.cert"))
	if len(certs) != 1 {
		t.Fatalf("got certs %q, want one", certs)
	}
	f.goodCert = certs[0]

	// Another pool with its own producer, pinned too.
	f.agent2, f.snap2 = p("agent2"), p("snap2.kss")
	must(t, K, "--vault", f.vault, "--now", now, "pool", "new", "other")
	must(t, K, "--vault", f.vault, "--now", now, "pool", "export-public", "other", "--out", p("pub2"))
	must(t, A, "--dir", f.agent2, "--now", now, "init", "--network", "mainnet", "--pool-cold-vkey", p("pub2/cold.vkey"),
		"--kes-key", p("node2/kes.skey"), "--vrf-key", p("node2/vrf.skey"), "--cert", p("node2/node.cert"), "--no-signal", "--name", "bp2")
	must(t, A, "--dir", f.agent2, "--now", now, "enrollment", "--out", p("enroll2.kre"))
	must(t, K, "--vault", f.vault, "--now", now, "producer", "add", "bp2", "--yes", "--enrollment", p("enroll2.kre"))
	must(t, A, "--dir", f.agent2, "--now", now, "snapshot", "--out", f.snap2, "--tip-slot", tip, "--onchain-counter", "none")

	// The same pool on another network.
	f.agent3, f.enroll3, f.snap3 = p("agent3"), p("enroll3.kre"), p("snap3.kss")
	must(t, A, "--dir", f.agent3, "--now", now, "init", "--network", "preprod", "--pool-cold-vkey", f.pub+"/cold.vkey",
		"--kes-key", p("node3/kes.skey"), "--vrf-key", p("node3/vrf.skey"), "--cert", p("node3/node.cert"), "--no-signal", "--name", "bp3")
	must(t, A, "--dir", f.agent3, "--now", now, "enrollment", "--out", f.enroll3)
	must(t, A, "--dir", f.agent3, "--now", now, "snapshot", "--out", f.snap3, "--tip-slot", "110000000", "--onchain-counter", "none")

	// A producer for pool gd that was never pinned: what someone with the
	// stick would swap in.
	f.agent4, f.enroll4, f.snap4 = p("agent4"), p("enroll4.kre"), p("snap4.kss")
	must(t, A, "--dir", f.agent4, "--now", now, "init", "--network", "mainnet", "--pool-cold-vkey", f.pub+"/cold.vkey",
		"--kes-key", p("node4/kes.skey"), "--vrf-key", p("node4/vrf.skey"), "--cert", p("node4/node.cert"), "--no-signal", "--name", "bp1")
	must(t, A, "--dir", f.agent4, "--now", now, "enrollment", "--out", f.enroll4)
	must(t, A, "--dir", f.agent4, "--now", now, "snapshot", "--out", f.snap4, "--tip-slot", tip, "--onchain-counter", "none")

	// An encrypted vault.
	f.evault, f.pass = p("evault"), p("pass")
	if err := os.WriteFile(f.pass, []byte("hostile passphrase\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	must(t, K, "--vault", f.evault, "--passphrase-file", f.pass, "--now", now, "init", "--network", "mainnet", "--encrypt", "--scrypt-work-factor", "10")
	must(t, K, "--vault", f.evault, "--passphrase-file", f.pass, "--now", now, "pool", "new", "ea")
	return f
}

// vaultCopy copies the vault at src into f.in/name with its modes: a case
// that breaks a vault breaks a copy, and the others keep the original.
func (f *fixture) vaultCopy(t *testing.T, src, name string) string {
	t.Helper()
	dst := filepath.Join(f.in, name)
	if _, err := os.Lstat(dst); err == nil {
		return dst
	}
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			if err := os.MkdirAll(target, 0o700); err != nil {
				return err
			}
			return os.Chmod(target, info.Mode().Perm())
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if err := os.WriteFile(target, b, info.Mode().Perm()); err != nil {
			return err
		}
		return os.Chmod(target, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// tree is a byte-for-byte picture of a folder: every path's type, mode,
// content hash or link target.
type tree map[string]string

func snapshotTree(t *testing.T, root string) tree {
	t.Helper()
	m := tree{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		info, err := os.Lstat(path)
		if err != nil {
			return err
		}
		desc := info.Mode().String()
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			desc += " -> " + target
		case info.Mode().IsRegular():
			if info.Mode().Perm() == 0 {
				// chmod 000 inputs: read them as they are (root can).
				desc += fmt.Sprintf(" size %d", info.Size())
				break
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			desc += " " + hex.EncodeToString(sum[:])
		}
		m[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// diff lists what changed between two pictures.
func (a tree) diff(b tree) []string {
	var out []string
	for k, v := range a {
		if w, ok := b[k]; !ok {
			out = append(out, "removed "+k)
		} else if v != w {
			out = append(out, fmt.Sprintf("changed %s: %s -> %s", k, v, w))
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, "created "+k+" ("+b[k]+")")
		}
	}
	sort.Strings(out)
	return out
}
