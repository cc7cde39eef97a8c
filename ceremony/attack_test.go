package ceremony

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/kesrotate/kesrotate/auditlog"
	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/opcert"
	"github.com/kesrotate/kesrotate/transfer"
)

// What someone who holds the vault stick, but not its passphrase, a
// producer's keys or the cold key, can try; and the accidents the same
// checks catch.

var tAttack = time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)

func rotateOnce(t *testing.T, v *Vault, bp *benchPool, snap []byte, now time.Time) (*RotateResult, error) {
	t.Helper()
	res, err := v.Rotate(RotateRequest{Pool: bp.name, Producer: bp.producer, Snapshot: snap, Now: now,
		Policy: transfer.SnapshotPolicy{}})
	if err == nil {
		res.Issue.KES.Wipe()
	}
	return res, err
}

// attackerEnrollment is an enrollment for pool's pool that the attacker
// made with their own keys, and the key that signs their snapshots.
func attackerEnrollment(t *testing.T, v *Vault, pool string) ([]byte, ed25519.PrivateKey) {
	t.Helper()
	p, err := v.Pool(pool)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := p.PoolID()
	sign := ed25519.NewKeyFromSeed(make([]byte, 32))
	ageID, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	e := &transfer.Enrollment{Name: "bp000", Magic: v.Network.Magic, PoolID: id, Recipient: ageID.Recipient().String(),
		SignKey: sign.Public().(ed25519.PublicKey), Created: tAttack}
	b, err := e.Marshal(sign)
	if err != nil {
		t.Fatal(err)
	}
	return b, sign
}

// Point 1: swapping producers/NAME.kre on the stick used to send the next
// bundle (fresh KES key and VRF key) to the attacker. The enrollment is
// held against its pin, which the pool's cold key signed.
func TestSwappedEnrollmentIsRefused(t *testing.T) {
	v, pools := benchVault(t, t.TempDir(), 1, tAttack)
	bp := pools[0]
	bad, sign := attackerEnrollment(t, v, bp.name)
	if err := os.WriteFile(filepath.Join(v.Dir, producersDir, bp.producer+".kre"), bad, 0o644); err != nil {
		t.Fatal(err)
	}
	attacker := *bp
	attacker.sign = sign
	before := dirDigest(t, v.Dir)
	_, err := rotateOnce(t, v, bp, attacker.snapshot(t, v, tAttack), tAttack)
	if !errors.Is(err, ErrPinMismatch) {
		t.Fatalf("got %v, want ErrPinMismatch", err)
	}
	if !strings.Contains(err.Error(), "replaced") {
		t.Errorf("got %q, want it to say the file was replaced", err)
	}
	if after := dirDigest(t, v.Dir); after != before {
		t.Error("the refused rotation changed the vault")
	}
	entries, err := auditlog.Entries(v.LogDir())
	if err != nil {
		t.Fatal(err)
	}
	gaps, err := v.LogGaps(entries)
	if err != nil {
		t.Fatal(err)
	}
	if len(gaps) != 1 || gaps[0].Kind != "pin" || gaps[0].Recoverable() {
		t.Errorf("got gaps %v, want the replaced pin, not recoverable", gaps)
	}
}

// The pin a rotation seals to is the one producer add logged, signed by
// the cold key; the result names it for the screen.
func TestRotateSealsToThePin(t *testing.T) {
	v, pools := benchVault(t, t.TempDir(), 1, tAttack)
	bp := pools[0]
	q, err := v.Producer(bp.producer)
	if err != nil {
		t.Fatal(err)
	}
	res, err := rotateOnce(t, v, bp, bp.snapshot(t, v, tAttack), tAttack)
	if err != nil {
		t.Fatal(err)
	}
	if res.Pin.Fingerprint != q.Enrollment.Fingerprint() || !res.Pin.Signed || res.Pin.Producer != bp.producer {
		t.Errorf("got pin %+v, want %s's cold-signed pin", res.Pin, bp.producer)
	}
	r, err := auditlog.Verify(v.LogDir(), auditlog.VerifyOptions{VaultID: v.Meta.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Producers) != 1 || !r.Producers[0].Signed || len(r.Certs) != 1 || !r.Certs[0].ColdSigned {
		t.Errorf("got producers %+v, certs %+v; want a cold-signed pin and cert", r.Producers, r.Certs)
	}
}

// forgeCertEntry appends, with the audit key from the stick, a cert-issued
// entry for bp's pool at a far KES period.
func forgeCertEntry(t *testing.T, v *Vault, bp *benchPool, period uint64) int64 {
	t.Helper()
	key, err := auditlog.ReadSignerKey(auditKeyPath(v.Dir))
	if err != nil {
		t.Fatal(err)
	}
	l, err := auditlog.Open(v.LogDir(), key)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := v.Pool(bp.name)
	e := auditlog.Entry{Kind: auditlog.KindCertIssued, Time: tAttack, BinarySHA256: strings.Repeat("ab", 32), Version: "forged",
		Pool: p.Meta.PoolID, Counter: auditlog.U64(0), KESPeriod: auditlog.U64(period),
		KESVKeyHash: strings.Repeat("cd", 32), CertHash: strings.Repeat("ef", 32)}
	got, _, err := l.Append(e)
	if err != nil {
		t.Fatal(err)
	}
	return got.Seq
}

// Point 4: a log entry written with the audit key alone (here in a
// plaintext vault, whose audit key anyone with the stick reads) must not
// block a rotation whose inputs are genuine, and fails verification
// against the cold vkey.
func TestForgedLogEntryDoesNotBlockRotation(t *testing.T) {
	v, pools := benchVault(t, t.TempDir(), 1, tAttack)
	bp := pools[0]
	if _, err := rotateOnce(t, v, bp, bp.snapshot(t, v, tAttack), tAttack); err != nil {
		t.Fatal(err)
	}
	seq := forgeCertEntry(t, v, bp, 99999)
	now := tAttack.Add(time.Hour)
	if _, err := rotateOnce(t, v, bp, bp.snapshot(t, v, now), now); err != nil {
		t.Fatalf("genuine rotation after a forged entry: %v", err)
	}
	p, _ := v.Pool(bp.name)
	vk, _ := p.ColdVKey()
	_, err := auditlog.Verify(v.LogDir(), auditlog.VerifyOptions{PoolVKeys: []ed25519.PublicKey{vk[:]}})
	var ae *auditlog.Error
	if !errors.Is(err, auditlog.ErrForged) || !errors.As(err, &ae) || ae.Seq != seq {
		t.Errorf("verify: got %v, want ErrForged at entry %d", err, seq)
	}
}

// Point 4: an encrypted vault keeps its audit key encrypted too; a vault
// made before that has its plaintext audit key encrypted (and shredded)
// the first time it is unlocked.
func TestAuditKeyIsEncryptedInAnEncryptedVault(t *testing.T) {
	v := newEncryptedVault(t, testPass)
	if _, err := os.Stat(auditKeyPath(v.Dir)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a new encrypted vault has a plaintext audit key: %v", err)
	}
	if _, err := os.Stat(auditKeyPath(v.Dir) + encSuffix); err != nil {
		t.Errorf("no encrypted audit key: %v", err)
	}
	if _, err := v.NewPool("alpha", t0); err != nil {
		t.Fatal(err)
	}
	locked, err := Open(v.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := locked.OpenLog(t0); !errors.Is(err, ErrLocked) {
		t.Errorf("log without the passphrase: got %v, want ErrLocked", err)
	}

	old := copyVault(t, "testdata/legacy-v1/encvault")
	if _, err := os.Stat(auditKeyPath(old)); err != nil {
		t.Fatalf("the fixture: %v", err)
	}
	w, err := Open(old)
	if err != nil {
		t.Fatal(err)
	}
	w.Unlock(passAccess("legacy passphrase"))
	if _, _, err := w.OpenLog(t0); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(auditKeyPath(old)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the plaintext audit key is still there: %v", err)
	}
	if _, err := os.Stat(auditKeyPath(old) + encSuffix); err != nil {
		t.Errorf("no encrypted audit key: %v", err)
	}
	if _, err := auditlog.Verify(w.LogDir(), auditlog.VerifyOptions{VaultID: w.Meta.ID}); err != nil {
		t.Errorf("log after the move: %v", err)
	}
}

// Point 5: a snapshot produces one cert. Using it again used to re-issue
// the same counter with a new KES key, silently.
func TestUsedSnapshotIsRefused(t *testing.T) {
	v, pools := benchVault(t, t.TempDir(), 1, tAttack)
	bp := pools[0]
	snap := bp.snapshot(t, v, tAttack)
	first, err := rotateOnce(t, v, bp, snap, tAttack)
	if err != nil {
		t.Fatal(err)
	}
	before := dirDigest(t, v.Dir)
	_, err = rotateOnce(t, v, bp, snap, tAttack.Add(time.Minute))
	if !errors.Is(err, ErrSnapshotUsed) {
		t.Fatalf("got %v, want ErrSnapshotUsed", err)
	}
	if want := first.Issue.Cert.Hash()[:16]; !strings.Contains(err.Error(), "cert #0") || !strings.Contains(err.Error(), want) {
		t.Errorf("got %q, want it to name cert #0 (%s)", err, want)
	}
	if after := dirDigest(t, v.Dir); after != before {
		t.Error("the refused rotation changed the vault")
	}
}

// Point 5: what an override may do is bounded, it is logged under stable
// names, and a cert it let through does not block the normal rotations
// after it.
func TestOverridesAreBoundedLoggedAndDoNotBlock(t *testing.T) {
	v, pools := benchVault(t, t.TempDir(), 1, tAttack)
	bp := pools[0]
	n := v.Network
	clockPeriod, _ := n.KESPeriodAt(tAttack)
	ahead := func(periods uint64) []byte {
		tip := n.PeriodStartSlot(clockPeriod+periods) + 60
		p, _ := v.Pool(bp.name)
		id, _ := p.PoolID()
		s := &transfer.Snapshot{Magic: n.Magic, SlotsPerKESPeriod: n.SlotsPerKESPeriod, MaxKESEvolutions: n.MaxKESEvolutions,
			TipSlot: tip, TipTime: n.SlotTime(tip), PoolID: id, OnChain: opcert.None(), Created: tAttack}
		return s.Marshal(bp.sign)
	}
	override := func(snap []byte, now time.Time, clock *ClockOverride) (*RotateResult, error) {
		v.Audit.Clock = clock
		defer func() { v.Audit.Clock = nil }()
		return v.Rotate(RotateRequest{Pool: bp.name, Producer: bp.producer, Snapshot: snap, Now: now,
			Policy: transfer.SnapshotPolicy{IgnoreClock: true, MaxAge: 48 * time.Hour}})
	}
	if _, err := override(ahead(transfer.MaxClockOverride+6), tAttack, nil); !errors.Is(err, transfer.ErrClockSkew) {
		t.Fatalf("a snapshot 10 periods ahead with the clock ignored: got %v, want ErrClockSkew", err)
	}
	system := tAttack.Add(-90 * 24 * time.Hour)
	res, err := override(ahead(3), tAttack, &ClockOverride{Given: tAttack, System: system})
	if err != nil {
		t.Fatal(err)
	}
	res.Issue.KES.Wipe()
	entries, _ := auditlog.Entries(v.LogDir())
	var ovs []auditlog.Entry
	var cert auditlog.Entry
	for _, e := range entries {
		switch e.Kind {
		case auditlog.KindOverride:
			ovs = append(ovs, e)
		case auditlog.KindCertIssued:
			cert = e
		}
	}
	// The clock's override entry, then the rotation's own.
	if len(ovs) != 2 {
		t.Fatalf("got %d override entries, want 2 (the clock's, the rotation's)", len(ovs))
	}
	for i, want := range []map[string]string{
		{OverrideNow: "2026-11-21T06:00:00Z", DetailSystemTime: system.Format(time.RFC3339)},
		{OverrideIgnoreClock: "true", OverrideMaxAge: "48h0m0s"},
	} {
		ov := ovs[i]
		if len(ov.Detail) != len(want) {
			t.Errorf("override entry %d: detail %v, want %v", ov.Seq, ov.Detail, want)
		}
		for k, w := range want {
			if ov.Detail[k] != w {
				t.Errorf("override entry %d %s: got %q, want %q (detail %v)", ov.Seq, k, ov.Detail[k], w, ov.Detail)
			}
		}
		for k := range ov.Detail {
			if strings.HasPrefix(k, "-") {
				t.Errorf("override entry keyed by a flag's spelling: %q", k)
			}
		}
	}
	if got := cert.Detail[DetailOverrides]; got != "ignore_clock max_age now" {
		t.Errorf("cert entry overrides: got %q, want %q", got, "ignore_clock max_age now")
	}
	// The next normal rotation, at the clock's period, is not blocked by
	// the cert three periods ahead.
	later := tAttack.Add(time.Hour)
	if _, err := rotateOnce(t, v, bp, bp.snapshot(t, v, later), later); err != nil {
		t.Errorf("normal rotation after an override: %v", err)
	}
	if _, err := auditlog.Verify(v.LogDir(), auditlog.VerifyOptions{VaultID: v.Meta.ID}); err != nil {
		t.Errorf("log: %v", err)
	}
}

// Vaults written before log format 2 (testdata/legacy-v1) keep verifying;
// the next rotation signs their producer's pin with the cold key and logs
// the cert with the cert itself; a swapped enrollment is refused there too.
func TestFormat1VaultsVerifyAndUpgrade(t *testing.T) {
	dir := copyVault(t, "testdata/legacy-v1/vault")
	vkFile, err := os.ReadFile("testdata/legacy-v1/cold.vkey")
	if err != nil {
		t.Fatal(err)
	}
	vk, err := keys.ParseColdVKey(vkFile)
	if err != nil {
		t.Fatal(err)
	}
	opts := auditlog.VerifyOptions{PoolVKeys: []ed25519.PublicKey{vk[:]}}
	r, err := auditlog.Verify(filepath.Join(dir, logDir), opts)
	if err != nil {
		t.Fatalf("the old log: %v", err)
	}
	if r.Format != "1" || len(r.Certs) != 2 || r.Certs[0].ColdSigned || len(r.Producers) != 1 || r.Producers[0].Signed {
		t.Errorf("got format %s, certs %+v, producers %+v; want format 1, nothing cold-signed", r.Format, r.Certs, r.Producers)
	}
	seedHex, err := os.ReadFile("testdata/legacy-v1/producer-snapshot.key")
	if err != nil {
		t.Fatal(err)
	}
	seed, err := hex.DecodeString(strings.TrimSpace(string(seedHex)))
	if err != nil {
		t.Fatal(err)
	}
	bp := &benchPool{name: "gd", producer: "bp1", sign: ed25519.NewKeyFromSeed(seed), onChain: opcert.Recorded(1)}

	swapped := copyVault(t, "testdata/legacy-v1/vault")
	sv, err := Open(swapped)
	if err != nil {
		t.Fatal(err)
	}
	bad, sign := attackerEnrollment(t, sv, "gd")
	if err := os.WriteFile(filepath.Join(swapped, producersDir, "bp1.kre"), bad, 0o644); err != nil {
		t.Fatal(err)
	}
	attacker := *bp
	attacker.sign = sign
	now := tAttack.Add(2 * time.Hour)
	if _, err := rotateOnce(t, sv, bp, attacker.snapshot(t, sv, now), now); !errors.Is(err, ErrPinMismatch) {
		t.Errorf("a swapped enrollment in a format 1 vault: got %v, want ErrPinMismatch", err)
	}

	v, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	v.Audit = Audit{Operator: "alice", Version: "test", BinarySHA256: strings.Repeat("ab", 32)}
	res, err := rotateOnce(t, v, bp, bp.snapshot(t, v, now), now)
	if err != nil {
		t.Fatal(err)
	}
	if res.Issue.Cert.Counter != 2 || !res.Pin.Signed {
		t.Errorf("got counter %d, pin %+v; want counter 2 and the pin signed now", res.Issue.Cert.Counter, res.Pin)
	}
	r, err = auditlog.Verify(filepath.Join(dir, logDir), opts)
	if err != nil {
		t.Fatalf("the upgraded log: %v", err)
	}
	if n := len(r.Certs); n != 3 || !r.Certs[2].ColdSigned || !r.Producers[0].Signed {
		t.Errorf("got certs %+v, producers %+v; want the new cert and the pin cold-signed", r.Certs, r.Producers)
	}
}

// copyVault copies a vault kept in testdata into a temporary folder with
// the modes a vault has (git keeps none).
func copyVault(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "vault")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, RestoredMode(filepath.ToSlash(rel), false, 0o644))
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}
