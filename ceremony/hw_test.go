package ceremony

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/kesrotate/kesrotate/auditlog"
	"github.com/kesrotate/kesrotate/internal/hwdouble"
	"github.com/kesrotate/kesrotate/internal/vectors"
	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/opcert"
	"github.com/kesrotate/kesrotate/transfer"
)

// hwPool is a pool whose cold key is on the test double's Ledger, with a
// pinned producer whose keys the test holds.
type hwPool struct {
	v        *Vault
	name     string
	producer string
	sign     ed25519.PrivateKey
	id       *age.X25519Identity
	onChain  opcert.OnChain
	keyGen   string // the folder 'cardano-hw-cli node key-gen' wrote into
}

// hwdoubleRun runs the double's cardano-hw-cli.
func hwdoubleRun(t *testing.T, env map[string]string, args ...string) {
	t.Helper()
	var out, errb bytes.Buffer
	if code := hwdouble.Main(args, func(k string) string { return env[k] }, &out, &errb); code != 0 {
		t.Fatalf("cardano-hw-cli %s: exit %d: %s", strings.Join(args, " "), code, errb.String())
	}
}

func newHWPool(t *testing.T, v *Vault) *hwPool {
	t.Helper()
	h := &hwPool{v: v, name: "hw", producer: "bp1", keyGen: t.TempDir()}
	f := func(n string) string { return filepath.Join(h.keyGen, n) }
	hwdoubleRun(t, nil, "node", "key-gen", "--path", "1853H/1815H/0H/0H", "--hw-signing-file", f("cold.hwsfile"),
		"--cold-verification-key-file", f("cold.vkey"), "--operational-certificate-issue-counter-file", f("cold.counter"))
	sf, _ := os.ReadFile(f("cold.hwsfile"))
	ctr, _ := os.ReadFile(f("cold.counter"))
	p, err := v.ImportHWPool(h.name, HWImport{SigningFile: sf, Counter: ctr, VRFSkey: vectors.Read(t, "cardano-cli/vrf_keys.signing_key")}, t0)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := p.PoolID()
	seed := sha256.Sum256([]byte(h.producer))
	h.sign = ed25519.NewKeyFromSeed(seed[:])
	if h.id, err = age.GenerateX25519Identity(); err != nil {
		t.Fatal(err)
	}
	e := &transfer.Enrollment{Name: h.producer, Magic: v.Network.Magic, PoolID: id, Recipient: h.id.Recipient().String(),
		SignKey: h.sign.Public().(ed25519.PublicKey), Created: t0}
	enr, err := e.Marshal(h.sign)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.AddProducer(h.producer, enr, AddProducerOptions{Now: t0}); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *hwPool) snapshot(t *testing.T, now time.Time) []byte {
	t.Helper()
	p, err := h.v.Pool(h.name)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := p.PoolID()
	n := h.v.Network
	tip, err := n.SlotAt(now.Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	s := &transfer.Snapshot{Magic: n.Magic, SlotsPerKESPeriod: n.SlotsPerKESPeriod, MaxKESEvolutions: n.MaxKESEvolutions,
		TipSlot: tip, TipTime: n.SlotTime(tip), PoolID: id, OnChain: h.onChain, Created: now}
	return s.Marshal(h.sign)
}

func (h *hwPool) prepare(t *testing.T, now time.Time) (*PreparedRotation, error) {
	t.Helper()
	return h.v.PrepareRotation(RotateRequest{Pool: h.name, Producer: h.producer, Snapshot: h.snapshot(t, now), AutoVRF: true,
		OutDir: filepath.Join(filepath.Dir(h.v.Dir), "out"), Now: now, Policy: transfer.SnapshotPolicy{}})
}

// sign runs the command the preparation printed on the double's device
// and returns the cert it wrote.
func sign(t *testing.T, pr *Prepared, env map[string]string, args ...string) []byte {
	t.Helper()
	cmd := pr.Command()
	if cmd[0] != "cardano-hw-cli" {
		t.Fatalf("command: %v", cmd)
	}
	hwdoubleRun(t, env, append(cmd[1:], args...)...)
	b, err := os.ReadFile(pr.SignedCertPath())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func present(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Lstat(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

// A pool on the double's Ledger goes through prepare, the device's
// signature and finish: the bundle holds the device-signed cert and the
// staged KES key, the journal and the log record it, nothing of the
// preparation is left.
func TestHardwareRotation(t *testing.T) {
	v := newVault(t)
	h := newHWPool(t, v)
	p, err := v.Pool(h.name)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Hardware() || p.Meta.HWPath != "1853H/1815H/0H/0H" {
		t.Fatalf("pool meta: %+v", p.Meta)
	}
	// The key of cardano-hw-cli's own Ledger tests (the double's device).
	if got := p.Meta.ColdVKey; got != "3d7e84dca8b4bc322401a2cc814af7c84d2992a22f99554fe340d7df7910768d" {
		t.Fatalf("cold vkey %s", got)
	}
	if present(t, filepath.Join(p.Dir, coldSkeyFile)) {
		t.Fatal("a hardware pool has a cold.skey")
	}
	if _, err := p.ColdKey(); !errors.Is(err, ErrHardwareKey) {
		t.Errorf("ColdKey: got %v, want ErrHardwareKey", err)
	}

	prep, err := h.prepare(t, t0)
	if err != nil {
		t.Fatal(err)
	}
	pr := prep.Prepared
	if pr.Counter != 0 || pr.KESPeriod != 1571 || !pr.WithVRF {
		t.Errorf("prepared: %+v", pr)
	}
	if !present(t, filepath.Join(p.Dir, stagedKESFile)) || !present(t, filepath.Join(p.Dir, preparedFile)) {
		t.Fatal("no staged KES key or prepared.json")
	}
	if fi, _ := os.Stat(filepath.Join(p.Dir, stagedKESFile)); fi.Mode().Perm() != 0o600 {
		t.Errorf("staged KES key mode %o", fi.Mode().Perm())
	}
	// The folder holds what cardano-hw-cli reads: the counter file says
	// the chosen number, the signing file is the pool's.
	ctrFile, _ := os.ReadFile(filepath.Join(pr.Folder, HWCounterFile))
	if c, err := keys.ParseCounter(ctrFile); err != nil || c.Next != 0 {
		t.Errorf("counter file: %+v, %v", c, err)
	}
	sf, _ := os.ReadFile(filepath.Join(pr.Folder, HWSigningFileName))
	if f, err := keys.ParseHWSigningFile(sf); err != nil || f.ColdVKey().PoolID().Hex() != p.Meta.PoolID {
		t.Errorf("signing file: %v", err)
	}
	if filepath.Base(pr.Folder) != "hw-0-1571-"+pr.KESVKey[:8]+"-cardano-hw-cli" || !filepath.IsAbs(pr.Folder) {
		t.Errorf("folder %s", pr.Folder)
	}
	// What the device shows is what the preparation says it will show.
	screen := filepath.Join(t.TempDir(), "screen")
	signed := sign(t, pr, map[string]string{"HWDOUBLE_SCREEN": screen})
	shown, _ := os.ReadFile(screen)
	d := prep.Device
	for _, want := range []string{"Pool cold key path: " + d.Path, "Pool ID: " + d.PoolID, "KES public key: " + d.KESVKey,
		"KES period: 1571", "Issue counter: 0"} {
		if !strings.Contains(string(shown), want+"\n") {
			t.Errorf("the device did not show %q:\n%s", want, shown)
		}
	}
	// A second preparation is refused while this one is open.
	if _, err := h.prepare(t, t0.Add(time.Minute)); !errors.Is(err, ErrPrepared) {
		t.Errorf("second preparation: got %v, want ErrPrepared", err)
	}

	res, err := v.FinishRotation(FinishRequest{Pool: h.name, SignedCert: signed, Now: t0.Add(2 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Issue.Cert
	if c.Counter != 0 || c.KESPeriod != 1571 || c.Cold.PoolID().Hex() != p.Meta.PoolID {
		t.Errorf("cert: %+v", c)
	}
	if present(t, filepath.Join(p.Dir, stagedKESFile)) || present(t, filepath.Join(p.Dir, preparedFile)) {
		t.Error("the staged KES key or prepared.json outlived the finish")
	}
	if len(res.Left) != 0 || present(t, pr.Folder) {
		t.Errorf("left of the folder: %v", res.Left)
	}
	if !res.KESDestroyed || res.KESOnProducer || !res.Cleared {
		t.Errorf("got destroyed %v, on producer %v, cleared %v; want the staged key destroyed and the preparation cleared", res.KESDestroyed, res.KESOnProducer, res.Cleared)
	}
	// The bundle opens on the producer with the device's cert, the KES
	// key it certifies and the VRF key (a first bundle).
	f, err := os.Open(res.BundleFile)
	if err != nil {
		t.Fatal(err)
	}
	b, err := transfer.DecryptBundle(f, h.id)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if b.Cert.Hash() != c.Hash() || b.KES == nil || b.KES.Public() != c.KESVKey || b.VRF == nil {
		t.Errorf("bundle: cert %v, KES %v, VRF %v", b.Cert.Hash() == c.Hash(), b.KES != nil, b.VRF != nil)
	}
	signedCert, _ := opcert.Parse(signed)
	if signedCert.Hash() != c.Hash() {
		t.Error("the journaled cert is not the device's")
	}
	entries, _ := p.Journal()
	last := entries[len(entries)-1]
	if !last.HardwareWallet || last.Counter != 0 || last.CertHash != c.Hash() || last.SnapshotSHA256 == "" {
		t.Errorf("journal: %+v", last)
	}
	if k := kinds(t, v); strings.Join(k, " ") != "init pool-import hardware-key producer-add snapshot-accepted cert-prepared cert-issued bundle-exported" {
		t.Errorf("log kinds: %v", k)
	}
	rep, err := auditlog.Verify(v.LogDir(), auditlog.VerifyOptions{PoolVKeys: coldVKeys(t, p)})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Certs) != 1 || !rep.Certs[0].HardwareWallet || !rep.Certs[0].ColdSigned || len(rep.Prepared) != 0 {
		t.Errorf("report: certs %+v, open %+v", rep.Certs, rep.Prepared)
	}
	if gaps := mustGaps(t, v); len(gaps) != 0 {
		t.Errorf("gaps: %v", gaps)
	}

	// The next rotation: the chain saw #0, so #1.
	h.onChain = opcert.Recorded(0)
	now := t0.Add(36 * time.Hour)
	prep, err = h.prepare(t, now)
	if err != nil {
		t.Fatal(err)
	}
	if prep.Prepared.Counter != 1 || prep.Prepared.WithVRF {
		t.Errorf("second rotation: %+v", prep.Prepared)
	}
	if _, err := v.FinishRotation(FinishRequest{Pool: h.name, SignedCert: sign(t, prep.Prepared, nil), Now: now}); err != nil {
		t.Fatal(err)
	}
	if _, err := auditlog.Verify(v.LogDir(), auditlog.VerifyOptions{PoolVKeys: coldVKeys(t, p)}); err != nil {
		t.Fatal(err)
	}
}

// rewrite replaces a file of the folder before the device signs.
func rewrite(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Whatever comes back that is not the prepared cert is refused, saying
// why, and nothing changes: no journal entry, no log entry, no bundle,
// the preparation still open.
func TestHardwareFinishRefuses(t *testing.T) {
	v := newVault(t)
	h := newHWPool(t, v)
	prep, err := h.prepare(t, t0)
	if err != nil {
		t.Fatal(err)
	}
	pr := prep.Prepared
	cold, _ := keys.ParseColdVKey(mustReadFile(t, filepath.Join(h.keyGen, "cold.vkey")))
	otherKES, _ := keys.GenerateKESKey(&detRand{ctr: 99})
	ctr := mustReadFile(t, filepath.Join(pr.Folder, HWCounterFile))
	good := sign(t, pr, nil)
	for _, tc := range []struct {
		name   string
		signed func(t *testing.T) []byte
		want   string
	}{
		{"another counter", func(t *testing.T) []byte {
			rewrite(t, filepath.Join(pr.Folder, HWCounterFile), keys.Counter{Next: 1, Cold: cold}.MarshalEnvelope())
			return sign(t, pr, nil)
		}, "it has counter 1, cert #0 was prepared (the journal's number): the counter file cardano-hw-cli read said 1"},
		{"another KES period", func(t *testing.T) []byte {
			rewrite(t, filepath.Join(pr.Folder, HWCounterFile), ctr)
			args := pr.Command()
			args[6] = "1570"
			hwdoubleRun(t, nil, args[1:]...)
			return mustReadFile(t, pr.SignedCertPath())
		}, "it starts in KES period 1570, the prepared cert in 1571"},
		{"another KES key", func(t *testing.T) []byte {
			rewrite(t, filepath.Join(pr.Folder, HWCounterFile), ctr)
			kes := mustReadFile(t, filepath.Join(pr.Folder, HWKESVKeyFile))
			rewrite(t, filepath.Join(pr.Folder, HWKESVKeyFile), otherKES.Public().MarshalEnvelope())
			defer rewrite(t, filepath.Join(pr.Folder, HWKESVKeyFile), kes)
			return sign(t, pr, nil)
		}, "cardano-hw-cli was given another kes.vkey"},
		{"another device", func(t *testing.T) []byte {
			rewrite(t, filepath.Join(pr.Folder, HWCounterFile), ctr)
			return sign(t, pr, map[string]string{"HWDOUBLE_MNEMONIC": "legal winner thank year wave sausage worth useful legal winner thank yellow"})
		}, "its signature does not verify with pool hw's cold key"},
		{"a passphrase on the device", func(t *testing.T) []byte {
			rewrite(t, filepath.Join(pr.Folder, HWCounterFile), ctr)
			return sign(t, pr, map[string]string{"HWDOUBLE_PASSPHRASE": "hidden wallet"})
		}, "another passphrase on it"},
		{"a changed byte", func(t *testing.T) []byte {
			b := bytes.Clone(good)
			i := bytes.Index(b, []byte("5840")) + 10 // inside sigma
			if b[i] == 'a' {
				b[i] = 'b'
			} else {
				b[i] = 'a'
			}
			return b
		}, "its signature does not verify"},
		{"another pool's cert", func(t *testing.T) []byte {
			q, err := v.NewPool("soft", t0)
			if err != nil {
				t.Fatal(err)
			}
			k, _ := q.ColdKey()
			defer k.Wipe()
			return opcert.Issue(k, otherKES.Public(), 0, 1571).MarshalEnvelope()
		}, "it is for pool"},
		{"not a cert", func(t *testing.T) []byte { return ctr }, "wrong key type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			signed := tc.signed(t)
			before := kinds(t, v)
			p, _ := v.Pool(h.name)
			js, _ := p.Journal()
			_, err := v.FinishRotation(FinishRequest{Pool: h.name, SignedCert: signed, Now: t0})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error saying %q", err, tc.want)
			}
			if tc.name != "not a cert" && !errors.Is(err, ErrSignedCert) {
				t.Errorf("got %v, want ErrSignedCert", err)
			}
			after, _ := p.Journal()
			if len(after) != len(js) || len(kinds(t, v)) != len(before) {
				t.Error("a refused cert changed the journal or the log")
			}
			if des, _ := os.ReadDir(pr.OutDir); len(des) != 1 { // only the folder
				t.Errorf("out holds %d entries", len(des))
			}
			if !present(t, filepath.Join(p.Dir, stagedKESFile)) || !present(t, filepath.Join(p.Dir, preparedFile)) {
				t.Error("a refused cert ended the preparation")
			}
		})
	}
	rewrite(t, filepath.Join(pr.Folder, HWCounterFile), ctr)
	if _, err := v.FinishRotation(FinishRequest{Pool: h.name, SignedCert: good, Now: t0}); err != nil {
		t.Fatalf("the good cert after the refusals: %v", err)
	}
}

func mustReadFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Abandoning destroys the staged KES key: a cert the device already
// signed for it cannot be finished (nor would it make a block), and the
// next preparation takes the same number with a new KES key.
func TestHardwareAbandon(t *testing.T) {
	v := newVault(t)
	h := newHWPool(t, v)
	prep, err := h.prepare(t, t0)
	if err != nil {
		t.Fatal(err)
	}
	signed := sign(t, prep.Prepared, nil)
	ab, err := v.AbandonRotation(h.name, t0)
	if err != nil {
		t.Fatal(err)
	}
	if !ab.KESDestroyed || ab.KESOnProducer || len(ab.Left) != 0 || ab.Prepared.Counter != prep.Prepared.Counter {
		t.Errorf("got destroyed %v, on producer %v, left %q, cert #%d; want the staged key destroyed, nothing left, cert #%d",
			ab.KESDestroyed, ab.KESOnProducer, ab.Left, ab.Prepared.Counter, prep.Prepared.Counter)
	}
	if present(t, prep.Prepared.Folder) {
		t.Error("the folder, with a cert for the destroyed KES key, outlived the abandon")
	}
	p, _ := v.Pool(h.name)
	for _, f := range []string{stagedKESFile, stagedKESFile + encSuffix, preparedFile} {
		if present(t, filepath.Join(p.Dir, f)) {
			t.Errorf("%s outlived the abandon", f)
		}
	}
	if _, err := v.FinishRotation(FinishRequest{Pool: h.name, SignedCert: signed, Now: t0}); !errors.Is(err, ErrNotPrepared) {
		t.Errorf("finish after abandon: got %v, want ErrNotPrepared", err)
	}
	if _, err := v.AbandonRotation(h.name, t0); !errors.Is(err, ErrNotPrepared) {
		t.Errorf("abandon twice: got %v, want ErrNotPrepared", err)
	}
	again, err := h.prepare(t, t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if again.Prepared.Counter != 0 || again.Prepared.KESVKey == prep.Prepared.KESVKey {
		t.Errorf("after the abandon: counter %d, the same KES key %v", again.Prepared.Counter, again.Prepared.KESVKey == prep.Prepared.KESVKey)
	}
	if k := kinds(t, v); !strings.Contains(strings.Join(k, " "), "cert-prepared cert-abandoned snapshot-accepted cert-prepared") {
		t.Errorf("log kinds: %v", k)
	}
	if _, err := auditlog.Verify(v.LogDir(), auditlog.VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
}

// A crash at each step of prepare, finish and abandon: the next command
// records what the log lacks, and the rotation goes on to a log that
// verifies with exactly one cert.
func TestHardwareCrashes(t *testing.T) {
	for _, step := range []string{"prepared-before-log", "before-journal", "after-journal", "abandoned-before-log"} {
		t.Run(step, func(t *testing.T) {
			v := newVault(t)
			h := newHWPool(t, v)
			crash := errors.New("crash")
			v.crash = func(s string) error {
				if s == step {
					return crash
				}
				return nil
			}
			defer func() { v.crash = nil }()
			prep, err := h.prepare(t, t0)
			if step == "prepared-before-log" {
				if !errors.Is(err, crash) {
					t.Fatalf("got %v, want the crash", err)
				}
				// Prepared, not logged: the files are there to sign.
				p, _ := v.Pool(h.name)
				pr, err := p.Prepared()
				if err != nil || pr == nil {
					t.Fatalf("prepared.json after the crash: %v, %v", pr, err)
				}
				prep = &PreparedRotation{Prepared: pr}
			} else if err != nil {
				t.Fatal(err)
			}
			signed := sign(t, prep.Prepared, nil)
			switch step {
			case "before-journal", "after-journal":
				if _, err := v.FinishRotation(FinishRequest{Pool: h.name, SignedCert: signed, Now: t0}); !errors.Is(err, crash) {
					t.Fatalf("got %v, want the crash", err)
				}
			case "abandoned-before-log":
				if _, err := v.AbandonRotation(h.name, t0); !errors.Is(err, crash) {
					t.Fatalf("got %v, want the crash", err)
				}
			}
			v.crash = nil
			// A new process: its first command records the gap.
			v2, err := Open(v.Dir)
			if err != nil {
				t.Fatal(err)
			}
			h.v = v2
			var gaps []string
			for _, g := range mustGaps(t, v2) {
				gaps = append(gaps, g.Kind)
			}
			want := map[string]string{"prepared-before-log": "prepared", "before-journal": "", "after-journal": "cert", "abandoned-before-log": "abandoned"}[step]
			if strings.Join(gaps, " ") != want {
				t.Errorf("gaps after the crash: got %v, want %q", gaps, want)
			}
			if _, rec, err := v2.OpenLog(t0); err != nil || len(rec) != len(gaps) {
				t.Fatalf("OpenLog after the crash: recorded %d entries, %v", len(rec), err)
			}
			if step == "abandoned-before-log" {
				if g := mustGaps(t, v2); len(g) != 0 {
					t.Fatalf("gaps after recording: %v", g)
				}
				if k := kinds(t, v2); k[len(k)-1] != "cert-abandoned" {
					t.Fatalf("log ends with %v", k[len(k)-1])
				}
				// The staged key went with it.
				if prep, err = h.prepare(t, t0.Add(time.Minute)); err != nil {
					t.Fatal(err)
				}
				signed = sign(t, prep.Prepared, nil)
			}
			if _, err := v2.FinishRotation(FinishRequest{Pool: h.name, SignedCert: signed, Now: t0.Add(time.Minute)}); err != nil {
				t.Fatalf("finish after the crash: %v", err)
			}
			rep, err := auditlog.Verify(v2.LogDir(), auditlog.VerifyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Certs) != 1 || len(rep.Prepared) != 0 {
				t.Errorf("certs %d, open preparations %d", len(rep.Certs), len(rep.Prepared))
			}
			if g := mustGaps(t, v2); len(g) != 0 {
				t.Errorf("gaps at the end: %v", g)
			}
		})
	}
}

// What needs the cold key itself is refused for a hardware pool, with a
// reason; what a hardware pool cannot be is refused at import.
func TestHardwarePoolRefusals(t *testing.T) {
	v := newVault(t)
	h := newHWPool(t, v)
	p, _ := v.Pool(h.name)
	if _, err := v.Rotate(RotateRequest{Pool: h.name, Producer: h.producer, Snapshot: h.snapshot(t, t0), Now: t0, Policy: transfer.SnapshotPolicy{Now: t0}}); !errors.Is(err, ErrHardwareKey) {
		t.Errorf("Rotate: got %v, want ErrHardwareKey", err)
	}
	if _, err := p.ColdKey(); !errors.Is(err, ErrHardwareKey) { // and so backup.Split
		t.Errorf("ColdKey: got %v, want ErrHardwareKey", err)
	}
	if _, err := p.Issue(IssueRequest{KESPeriod: 1571, OnChain: opcert.None(), Now: t0}); !errors.Is(err, ErrHardwareKey) {
		t.Errorf("Issue: got %v, want ErrHardwareKey", err)
	}
	out := t.TempDir()
	files, err := p.ExportSecrets(filepath.Join(out, "x"), t0)
	if err != nil || len(files) != 1 || filepath.Base(files[0]) != vrfSkeyFile {
		t.Errorf("ExportSecrets: got %v, %v; want the VRF key alone", files, err)
	}
	logged := len(kinds(t, v)) // with the export's override entry
	// The files for cardano-hw-cli never go into the vault (its out/
	// folder, by default).
	_, err = v.PrepareRotation(RotateRequest{Pool: h.name, Producer: h.producer, Snapshot: h.snapshot(t, t0), Now: t0, Policy: transfer.SnapshotPolicy{Now: t0}})
	if !errors.Is(err, ErrOutput) || !strings.Contains(err.Error(), "would go into the vault") {
		t.Errorf("a folder in the vault: got %v", err)
	}
	if present(t, filepath.Join(p.Dir, preparedFile)) || len(kinds(t, v)) != logged {
		t.Error("a refused preparation left something")
	}
	if _, err := h.prepare(t, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := p.RetireKeys(t0, RetireOptions{Name: p.Meta.Name, How: ConfirmPassed}); !errors.Is(err, ErrPrepared) {
		t.Errorf("RetireKeys while prepared: got %v, want ErrPrepared", err)
	}
	soft, err := v.NewPool("soft", t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.PrepareRotation(RotateRequest{Pool: soft.Meta.Name, Now: t0}); err == nil || !strings.Contains(err.Error(), "cold key is in the vault") {
		t.Errorf("PrepareRotation of a pool with its key in the vault: %v", err)
	}

	dir := t.TempDir()
	f := func(n string) string { return filepath.Join(dir, n) }
	hwdoubleRun(t, nil, "node", "key-gen", "--path", "1853H/1815H/0H/1H", "--hw-signing-file", f("c1.hwsfile"),
		"--cold-verification-key-file", f("c1.vkey"), "--operational-certificate-issue-counter-file", f("c1.counter"))
	payment := strings.Replace(string(mustReadFile(t, f("c1.hwsfile"))), "1853H/1815H/0H/1H", "1852H/1815H/0H/0/0", 1)
	sf := mustReadFile(t, f("c1.hwsfile"))
	for _, tc := range []struct {
		name string
		o    HWImport
		want error
	}{
		{"a payment key", HWImport{SigningFile: []byte(payment)}, keys.ErrHWPath},
		{"another key's counter", HWImport{SigningFile: sf, Counter: mustReadFile(t, filepath.Join(h.keyGen, "cold.counter"))}, keys.ErrCounterMismatch},
		{"the same key twice", HWImport{SigningFile: mustReadFile(t, filepath.Join(h.keyGen, "cold.hwsfile"))}, ErrPoolExists},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := v.ImportHWPool("other", tc.o, t0); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if present(t, filepath.Join(v.Dir, poolsDir, "other")) {
				t.Error("a refused import left a pool folder")
			}
		})
	}
	// pool new with a device key: a new pool, a fresh VRF key, no cert known.
	q, err := v.NewHWPool("fresh", sf, t0)
	if err != nil {
		t.Fatal(err)
	}
	if !q.Hardware() || q.Meta.VRFVKey == "" || q.Meta.Origin != "new" || q.Meta.HWPath != "1853H/1815H/0H/1H" {
		t.Errorf("new hardware pool: %+v", q.Meta)
	}
	if _, err := auditlog.Verify(v.LogDir(), auditlog.VerifyOptions{PoolVKeys: coldVKeys(t, p, soft, q)}); err != nil {
		t.Fatal(err)
	}
}

// In an encrypted vault the staged KES key is encrypted like the others:
// its seed is nowhere on the stick in the clear.
func TestHardwareStagedKeyEncrypted(t *testing.T) {
	v := newEncryptedVault(t, "correct horse")
	h := newHWPool(t, v)
	if _, err := h.prepare(t, t0); err != nil {
		t.Fatal(err)
	}
	p, _ := v.Pool(h.name)
	if present(t, filepath.Join(p.Dir, stagedKESFile)) || !present(t, filepath.Join(p.Dir, stagedKESFile+encSuffix)) {
		t.Fatal("the staged KES key is not encrypted")
	}
	b, err := v.readSecret(filepath.Join(p.Dir, stagedKESFile))
	if err != nil {
		t.Fatal(err)
	}
	k, err := keys.ParseKESSeedEnvelope(b)
	if err != nil {
		t.Fatal(err)
	}
	scanForSecret(t, filepath.Dir(v.Dir), k.Seed())
}

// A fleet ceremony cannot sign for a hardware pool: it says so for that
// pool and rotates the others.
func TestFleetLeavesHardwarePoolsAlone(t *testing.T) {
	v := newVault(t)
	h := newHWPool(t, v)
	res, err := v.RotateFleet(FleetRequest{Pools: []string{h.name}, Snapshots: []FleetSnapshot{{Name: "s", Data: h.snapshot(t, t0)}},
		Now: t0, Policy: transfer.SnapshotPolicy{Now: t0}, OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Outcomes) != 1 || !errors.Is(res.Outcomes[0].Err, ErrHardwareKey) {
		t.Fatalf("outcomes: %+v", res.Outcomes)
	}
}

func TestWithin(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"v/out", "vx", "other"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(root, "v", "out"), filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	t.Chdir(root)
	for _, tc := range []struct {
		dir, path string
		want      bool
	}{
		{"v", "v", true},
		{"v", filepath.Join(root, "v", "out"), true}, // relative vault, absolute folder
		{filepath.Join(root, "v"), "v/out", true},
		{"v", "link", true}, // through a link
		{"v", "vx", false},
		{"v", "other", false},
		{"v/out", "v", false},
	} {
		if got, err := within(tc.dir, tc.path); err != nil || got != tc.want {
			t.Errorf("within(%s, %s): got %v, %v; want %v", tc.dir, tc.path, got, err, tc.want)
		}
	}
}

// KES-on-producer mode: the snapshot carries the KES vkey the device
// certifies; the vault keeps no KES key and the bundle holds only the cert.
func TestHardwareKESOnProducer(t *testing.T) {
	v := newVault(t)
	h := newHWPool(t, v)
	kes, err := keys.GenerateKESKey(&detRand{ctr: 7})
	if err != nil {
		t.Fatal(err)
	}
	vk := kes.Public()
	p, _ := v.Pool(h.name)
	id, _ := p.PoolID()
	tip, _ := v.Network.SlotAt(t0.Add(-time.Minute))
	snap := (&transfer.Snapshot{Magic: v.Network.Magic, SlotsPerKESPeriod: v.Network.SlotsPerKESPeriod, MaxKESEvolutions: v.Network.MaxKESEvolutions,
		TipSlot: tip, TipTime: v.Network.SlotTime(tip), PoolID: id, KESVKey: &vk, Created: t0}).Marshal(h.sign)
	prep, err := v.PrepareRotation(RotateRequest{Pool: h.name, Producer: h.producer, Snapshot: snap, OutDir: filepath.Join(t.TempDir(), "out"),
		Now: t0, Policy: transfer.SnapshotPolicy{Now: t0}})
	if err != nil {
		t.Fatal(err)
	}
	if !prep.Prepared.KESOnProducer || prep.Device.KESVKey != vk.Bech32() {
		t.Errorf("prepared: %+v, device %+v", prep.Prepared, prep.Device)
	}
	if present(t, filepath.Join(p.Dir, stagedKESFile)) {
		t.Error("the vault keeps a KES key in KES-on-producer mode")
	}
	res, err := v.FinishRotation(FinishRequest{Pool: h.name, SignedCert: sign(t, prep.Prepared, nil), Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if res.Issue.Cert.KESVKey != vk || res.Issue.KES != nil || !res.Issue.Entry.KESOnProducer {
		t.Errorf("finished: KES vk %v, KES key %v, journal %+v", res.Issue.Cert.KESVKey == vk, res.Issue.KES != nil, res.Issue.Entry)
	}
	// No staged key: none destroyed, and the result says the producer's.
	if res.KESDestroyed || !res.KESOnProducer || !res.Cleared || len(res.Left) != 0 {
		t.Errorf("got destroyed %v, on producer %v, cleared %v, left %v; want the producer's key, nothing destroyed", res.KESDestroyed, res.KESOnProducer, res.Cleared, res.Left)
	}
	f, _ := os.Open(res.BundleFile)
	defer f.Close()
	b, err := transfer.DecryptBundle(f, h.id)
	if err != nil {
		t.Fatal(err)
	}
	if b.KES != nil || b.Cert.KESVKey != vk {
		t.Error("the bundle carries a KES key, or another cert")
	}
}

// A hardware-wallet pool the log does not record (an import that stopped
// before its entries) is two gaps, as any pool is: its pool entry and its
// key's (hardware-key in place of the binding).
func TestHardwarePoolWithoutLogEntriesIsFound(t *testing.T) {
	v := newVault(t)
	h := newHWPool(t, v)
	es, _ := auditlog.Entries(v.LogDir())
	if es[2].Kind != auditlog.KindHardwareKey {
		t.Fatalf("entry 2 is %s", es[2].Kind)
	}
	gaps, err := v.LogGaps(es[:1])
	if err != nil {
		t.Fatal(err)
	}
	if len(gaps) < 2 || gaps[0].Kind != "pool" || gaps[1].Kind != "binding" || gaps[0].Pool != h.name {
		t.Errorf("got gaps %v, want the pool and its key", gaps)
	}
	if gaps, _ := v.LogGaps(es); len(gaps) != 0 {
		t.Errorf("got gaps %v for the whole log, want none", gaps)
	}
}

// prepared.json is not signed: a finish seals to the producers the log's
// preparation names, not to another pinned producer the file was edited
// to name.
func TestHardwarePreparedFileEdited(t *testing.T) {
	v := newVault(t)
	h := newHWPool(t, v)
	p, _ := v.Pool(h.name)
	id, _ := p.PoolID()
	seed := sha256.Sum256([]byte("bp2"))
	sign2 := ed25519.NewKeyFromSeed(seed[:])
	ageID, _ := age.GenerateX25519Identity()
	enr, err := (&transfer.Enrollment{Name: "bp2", Magic: v.Network.Magic, PoolID: id, Recipient: ageID.Recipient().String(),
		SignKey: sign2.Public().(ed25519.PublicKey), Created: t0}).Marshal(sign2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.AddProducer("bp2", enr, AddProducerOptions{Now: t0}); err != nil {
		t.Fatal(err)
	}
	prep, err := h.prepare(t, t0)
	if err != nil {
		t.Fatal(err)
	}
	signed := sign(t, prep.Prepared, nil)
	path := filepath.Join(p.Dir, preparedFile)
	b := mustReadFile(t, path)
	edited := bytes.Replace(b, []byte(`"bp1"`), []byte(`"bp2"`), 1)
	if bytes.Equal(edited, b) {
		t.Fatal("the edit did not apply")
	}
	if err := os.WriteFile(path, edited, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := v.FinishRotation(FinishRequest{Pool: h.name, SignedCert: signed, Now: t0}); !errors.Is(err, ErrPreparation) || !strings.Contains(err.Error(), "it was edited") {
		t.Fatalf("finish with prepared.json naming bp2: got %v, want ErrPreparation", err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := v.FinishRotation(FinishRequest{Pool: h.name, SignedCert: signed, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.SealedTo) != 1 || res.SealedTo[0].Name != "bp1" {
		t.Errorf("sealed to %v", res.SealedTo)
	}
}

// A device that signed certs before kesrotate, imported without its
// counter file: the rules refuse the chain's counter; --force-counter
// with the chain's counter + 1 prepares it, and the finish logs the cert
// with what the rules said (refused, and why).
func TestHardwareForcedPastRefusal(t *testing.T) {
	v := newVault(t)
	dir := t.TempDir()
	f := func(n string) string { return filepath.Join(dir, n) }
	hwdoubleRun(t, nil, "node", "key-gen", "--path", "1853H/1815H/0H/0H", "--hw-signing-file", f("cold.hwsfile"),
		"--cold-verification-key-file", f("cold.vkey"), "--operational-certificate-issue-counter-file", f("cold.counter"))
	if _, err := v.ImportHWPool("hw", HWImport{SigningFile: mustReadFile(t, f("cold.hwsfile"))}, t0); err != nil {
		t.Fatal(err)
	}
	h := &hwPool{v: v, name: "hw", producer: "bp1"}
	p, _ := v.Pool("hw")
	id, _ := p.PoolID()
	seed := sha256.Sum256([]byte("bp1"))
	h.sign = ed25519.NewKeyFromSeed(seed[:])
	h.id, _ = age.GenerateX25519Identity()
	enr, _ := (&transfer.Enrollment{Name: "bp1", Magic: v.Network.Magic, PoolID: id, Recipient: h.id.Recipient().String(),
		SignKey: h.sign.Public().(ed25519.PublicKey), Created: t0}).Marshal(h.sign)
	if _, err := v.AddProducer("bp1", enr, AddProducerOptions{Now: t0}); err != nil {
		t.Fatal(err)
	}
	h.onChain = opcert.Recorded(4) // cardano-hw-cli signed #0..#4 before
	if _, err := h.prepare(t, t0); !errors.Is(err, opcert.ErrOnChainAhead) {
		t.Fatalf("prepare against a chain ahead: got %v, want ErrOnChainAhead", err)
	}
	five := uint64(5)
	prep, err := h.v.PrepareRotation(RotateRequest{Pool: h.name, Producer: h.producer, Snapshot: h.snapshot(t, t0), ForceCounter: &five,
		OutDir: filepath.Join(t.TempDir(), "out"), Now: t0, Policy: transfer.SnapshotPolicy{Now: t0}})
	if err != nil {
		t.Fatal(err)
	}
	if pr := prep.Prepared; pr.Counter != 5 || !pr.Forced || !strings.Contains(pr.Refused, "ahead") {
		t.Fatalf("prepared: %+v", pr)
	}
	res, err := v.FinishRotation(FinishRequest{Pool: h.name, SignedCert: sign(t, prep.Prepared, nil), Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if res.Issue.Cert.Counter != 5 || !res.Issue.Forced || res.Issue.RulesRefused == nil || !res.Issue.Entry.Forced {
		t.Errorf("finished: %+v", res.Issue)
	}
	es, _ := auditlog.Entries(v.LogDir())
	var prepared, issued auditlog.Entry
	for _, e := range es {
		switch e.Kind {
		case auditlog.KindCertPrepared:
			prepared = e
		case auditlog.KindCertIssued:
			issued = e
		}
	}
	for _, e := range []auditlog.Entry{prepared, issued} {
		if e.Detail[DetailRulesChose] != "refused" || !strings.Contains(e.Detail[DetailRulesRefusal], "ahead") || e.Detail[DetailForced] != "true" {
			t.Errorf("%s detail: %v", e.Kind, e.Detail)
		}
	}
}

// The finish and the abandon of a hardware-wallet rotation run on a clock
// the operator set (--now) log it, as a rotation does: an override entry
// before their own (the cert's overrides stay the preparation's).
func TestHardwareClockOverride(t *testing.T) {
	clock := &ClockOverride{Given: t0.Add(time.Hour), System: t0.Add(-24 * time.Hour)}
	check := func(t *testing.T, v *Vault, kind auditlog.Kind) {
		t.Helper()
		es, err := auditlog.Entries(v.LogDir())
		if err != nil {
			t.Fatal(err)
		}
		i := len(es) - 1
		if kind == auditlog.KindCertIssued {
			i-- // the bundle-exported entry follows
		}
		o, e := es[i-1], es[i]
		if e.Kind != kind || o.Kind != auditlog.KindOverride || o.Detail[OverrideNow] != "2026-11-21T07:00:00Z" || o.Detail[DetailSystemTime] != "2026-11-20T06:00:00Z" {
			t.Errorf("got %s after %s %v, want %s after the clock override", e.Kind, o.Kind, o.Detail, kind)
		}
		if e.Detail[DetailOverrides] != "" {
			t.Errorf("%s lists overrides %q: the preparation had none", e.Kind, e.Detail[DetailOverrides])
		}
		if _, err := auditlog.Verify(v.LogDir(), auditlog.VerifyOptions{}); err != nil {
			t.Errorf("Verify: %v", err)
		}
	}
	t.Run("finish", func(t *testing.T) {
		v := newVault(t)
		h := newHWPool(t, v)
		prep, err := h.prepare(t, t0)
		if err != nil {
			t.Fatal(err)
		}
		v.Audit.Clock = clock
		res, err := v.FinishRotation(FinishRequest{Pool: h.name, SignedCert: sign(t, prep.Prepared, nil), Now: clock.Given})
		if err != nil {
			t.Fatal(err)
		}
		res.Issue.KES.Wipe()
		check(t, v, auditlog.KindCertIssued)
	})
	t.Run("abandon", func(t *testing.T) {
		v := newVault(t)
		h := newHWPool(t, v)
		if _, err := h.prepare(t, t0); err != nil {
			t.Fatal(err)
		}
		v.Audit.Clock = clock
		if _, err := v.AbandonRotation(h.name, clock.Given); err != nil {
			t.Fatal(err)
		}
		check(t, v, auditlog.KindCertAbandoned)
	})
}

// The hardware-wallet steps refuse a pool whose cold key is in the vault
// themselves (ErrNotHardware), before they look for a preparation; a
// finish without the cert's bytes reads it where the printed command has
// cardano-hw-cli write it.
func TestHardwareStepsNeedAHardwarePool(t *testing.T) {
	v, pools := benchVault(t, t.TempDir(), 1, t0)
	name := pools[0].name
	if _, err := v.FinishRotation(FinishRequest{Pool: name, Now: t0}); !errors.Is(err, ErrNotHardware) {
		t.Errorf("finish: got %v, want ErrNotHardware", err)
	}
	if _, err := v.AbandonRotation(name, t0); !errors.Is(err, ErrNotHardware) {
		t.Errorf("abandon: got %v, want ErrNotHardware", err)
	}
	if _, err := v.PrepareRotation(RotateRequest{Pool: name, Producer: pools[0].producer, Now: t0}); !errors.Is(err, ErrNotHardware) {
		t.Errorf("prepare: got %v, want ErrNotHardware", err)
	}

	hv := newVault(t)
	h := newHWPool(t, hv)
	prep, err := h.prepare(t, t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hv.FinishRotation(FinishRequest{Pool: h.name, Now: t0}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("finish before the device signed: got %v, want fs.ErrNotExist", err)
	}
	sign(t, prep.Prepared, nil)
	res, err := hv.FinishRotation(FinishRequest{Pool: h.name, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	res.Issue.KES.Wipe()
	if res.Issue.Cert.Counter != prep.Prepared.Counter {
		t.Errorf("finished cert #%d, prepared #%d", res.Issue.Cert.Counter, prep.Prepared.Counter)
	}
}

// Abandoning in KES-on-producer mode destroys no KES key: the producer
// holds it, and a cert the device signed for it can still make a block
// there. The result says so, and names a file the folder keeps.
func TestHardwareAbandonKESOnProducer(t *testing.T) {
	v := newVault(t)
	h := newHWPool(t, v)
	kes, err := keys.GenerateKESKey(&detRand{ctr: 9})
	if err != nil {
		t.Fatal(err)
	}
	vk := kes.Public()
	kes.Wipe()
	p, _ := v.Pool(h.name)
	id, _ := p.PoolID()
	tip, _ := v.Network.SlotAt(t0.Add(-time.Minute))
	snap := (&transfer.Snapshot{Magic: v.Network.Magic, SlotsPerKESPeriod: v.Network.SlotsPerKESPeriod, MaxKESEvolutions: v.Network.MaxKESEvolutions,
		TipSlot: tip, TipTime: v.Network.SlotTime(tip), PoolID: id, KESVKey: &vk, Created: t0}).Marshal(h.sign)
	prep, err := v.PrepareRotation(RotateRequest{Pool: h.name, Producer: h.producer, Snapshot: snap, OutDir: filepath.Join(t.TempDir(), "out"),
		Now: t0, Policy: transfer.SnapshotPolicy{Now: t0}})
	if err != nil {
		t.Fatal(err)
	}
	notes := filepath.Join(prep.Prepared.Folder, "notes.txt")
	if err := os.WriteFile(notes, []byte("operator's own\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ab, err := v.AbandonRotation(h.name, t0)
	if err != nil {
		t.Fatal(err)
	}
	if ab.KESDestroyed || !ab.KESOnProducer {
		t.Errorf("got destroyed %v, on producer %v; want no key destroyed, the producer's key named", ab.KESDestroyed, ab.KESOnProducer)
	}
	if len(ab.Left) != 1 || ab.Left[0] != notes {
		t.Errorf("got left %q, want [%s]", ab.Left, notes)
	}
	if !present(t, notes) {
		t.Error("the operator's file in the folder was removed")
	}
}

// A finish whose cleanup fails after the bundle (the staged KES key
// cannot be destroyed: a crash before, or a folder in its place) returns
// the rotation with the error, and says the key was not destroyed and the
// preparation's folder was left whole.
func TestHardwareFinishCleanupFails(t *testing.T) {
	for _, c := range []struct {
		name string
		step func(p *Pool) error
	}{
		{"crash", func(*Pool) error { return errors.New("crash") }},
		{"shred fails", func(p *Pool) error {
			path := filepath.Join(p.Dir, stagedKESFile)
			if err := os.Rename(path, path+".moved"); err != nil {
				return err
			}
			return os.Mkdir(path, 0o700)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := newVault(t)
			h := newHWPool(t, v)
			prep, err := h.prepare(t, t0)
			if err != nil {
				t.Fatal(err)
			}
			p, _ := v.Pool(h.name)
			v.crash = func(s string) error {
				if s == "finished-before-cleanup" {
					return c.step(p)
				}
				return nil
			}
			res, err := v.FinishRotation(FinishRequest{Pool: h.name, SignedCert: sign(t, prep.Prepared, nil), Now: t0.Add(time.Minute)})
			v.crash = nil
			if err == nil || res == nil || res.RotateResult == nil {
				t.Fatalf("got %v, %v; want the rotation and the cleanup's error", res, err)
			}
			if res.KESDestroyed || res.KESOnProducer || res.Cleared {
				t.Errorf("got destroyed %v, on producer %v, cleared %v; want none", res.KESDestroyed, res.KESOnProducer, res.Cleared)
			}
			want := map[string]bool{}
			for _, name := range []string{HWKESVKeyFile, HWCounterFile, HWSigningFileName} {
				want[filepath.Join(prep.Prepared.Folder, name)] = true
			}
			for _, f := range res.Left {
				delete(want, f)
			}
			if len(want) != 0 {
				t.Errorf("got left %v, want every file of the folder; missing %v", res.Left, want)
			}
			if !present(t, filepath.Join(p.Dir, preparedFile)) {
				t.Error("prepared.json was removed, the result says it stayed")
			}
		})
	}
}
