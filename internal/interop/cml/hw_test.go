package cml

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/kesrotate/kesrotate/ceremony"
	"github.com/kesrotate/kesrotate/internal/hwdouble"
	"github.com/kesrotate/kesrotate/opcert"
	"github.com/kesrotate/kesrotate/transfer"
)

// ledgerCert is the op cert a Ledger (speculos, mnemonic "abandon … about")
// signed in cardano-hw-cli's own test: vacuumlabs/cardano-hw-cli
// test/integration/ledger/node/opCert.ts, opcert1 (KES period 251, counter
// 1, pool cold key 1853H/1815H/0H/0H).
const ledgerCert = "82845820f70601c4de155e67797e057c07fb768b5590b2241b05ec30235a85b71e2ae8580118fb5840b44fcc4505aee4c93a716014ec709d17b28e0c95637384b78d2f8a4cebb92d1e01b54ce952e11771bbeaceda0eaf7a660e5c416f357bdec94e4ce2977997d20458203d7e84dca8b4bc322401a2cc814af7c84d2992a22f99554fe340d7df7910768d"

// TestCMLReadsHardwareWalletCerts: CML and kesrotate agree on a cert a real
// Ledger signed, and on one a rotation of a hardware-wallet pool finished
// (prepared by the ceremony, signed by the double's device through the
// printed cardano-hw-cli command, checked and journaled by the ceremony).
func TestCMLReadsHardwareWalletCerts(t *testing.T) {
	node := harness(t)
	dir := t.TempDir()
	real := filepath.Join(dir, "ledger.cert")
	body, _ := hex.DecodeString(ledgerCert)
	c, err := opcert.ParseCBOR(body)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(real, c.MarshalEnvelope(), 0o600); err != nil {
		t.Fatal(err)
	}
	got := parseWithCML(t, node, real)
	compare(t, got, c)
	if !got.SigmaValid || c.CheckSignature() != nil {
		t.Errorf("the Ledger's cert: CML valid %v, kesrotate %v", got.SigmaValid, c.CheckSignature())
	}

	finished := finishOnDouble(t, filepath.Join(dir, "ceremony"))
	file := filepath.Join(dir, "finished.cert")
	if err := os.WriteFile(file, finished.MarshalEnvelope(), 0o600); err != nil {
		t.Fatal(err)
	}
	got = parseWithCML(t, node, file)
	compare(t, got, finished)
	if !got.SigmaValid {
		t.Error("CML: the finished cert's signature does not verify")
	}
	if got.PoolID != c.PoolID().Hex() {
		t.Errorf("CML pool id %s, want the Ledger test's %s", got.PoolID, c.PoolID().Hex())
	}
}

// finishOnDouble runs a hardware-wallet rotation through the ceremony and
// returns the cert it journaled.
func finishOnDouble(t *testing.T, root string) *opcert.Certificate {
	t.Helper()
	now := time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)
	v, err := ceremony.Init(filepath.Join(root, "vault"), ceremony.InitOptions{Network: "mainnet", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) {
		var out, errb bytes.Buffer
		if code := hwdouble.Main(args, func(string) string { return "" }, &out, &errb); code != 0 {
			t.Fatalf("cardano-hw-cli %s: %s", strings.Join(args, " "), errb.String())
		}
	}
	f := func(n string) string { return filepath.Join(root, n) }
	run("node", "key-gen", "--path", "1853H/1815H/0H/0H", "--hw-signing-file", f("cold.hwsfile"),
		"--cold-verification-key-file", f("cold.vkey"), "--operational-certificate-issue-counter-file", f("cold.counter"))
	sf, _ := os.ReadFile(f("cold.hwsfile"))
	p, err := v.ImportHWPool("ledger", ceremony.HWImport{SigningFile: sf}, now)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := p.PoolID()
	seed := sha256.Sum256([]byte("bp1"))
	sign := ed25519.NewKeyFromSeed(seed[:])
	ageID, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	e := &transfer.Enrollment{Name: "bp1", Magic: v.Network.Magic, PoolID: id, Recipient: ageID.Recipient().String(), SignKey: sign.Public().(ed25519.PublicKey), Created: now}
	enr, err := e.Marshal(sign)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.AddProducer("bp1", enr, ceremony.AddProducerOptions{Now: now}); err != nil {
		t.Fatal(err)
	}
	tip, _ := v.Network.SlotAt(now.Add(-time.Minute))
	snap := (&transfer.Snapshot{Magic: v.Network.Magic, SlotsPerKESPeriod: v.Network.SlotsPerKESPeriod, MaxKESEvolutions: v.Network.MaxKESEvolutions,
		TipSlot: tip, TipTime: v.Network.SlotTime(tip), PoolID: id, Created: now}).Marshal(sign)
	prep, err := v.PrepareRotation(ceremony.RotateRequest{Pool: "ledger", Producer: "bp1", Snapshot: snap, OutDir: f("out"), Now: now,
		Policy: transfer.SnapshotPolicy{}})
	if err != nil {
		t.Fatal(err)
	}
	run(prep.Prepared.Command()[1:]...)
	signed, err := os.ReadFile(prep.Prepared.SignedCertPath())
	if err != nil {
		t.Fatal(err)
	}
	res, err := v.FinishRotation(ceremony.FinishRequest{Pool: "ledger", SignedCert: signed, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return res.Issue.Cert
}
