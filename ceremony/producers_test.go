package ceremony

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/kesrotate/kesrotate/auditlog"
	"github.com/kesrotate/kesrotate/transfer"
)

// producer remove logs first, then deletes the enrollment file; a removal
// interrupted between the two (here: the file cannot be deleted) leaves
// no pin, and the next command that opens the log deletes the file. The
// name can then be pinned again.
func TestRemoveProducerInterrupted(t *testing.T) {
	now := time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)
	v, pools := benchVault(t, t.TempDir(), 2, now)
	name := pools[0].producer
	file := filepath.Join(v.Dir, producersDir, name+".kre")
	enr, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	// A non-empty folder in the file's place cannot be removed, by root
	// either: the deletion fails after the removal is logged.
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(file, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	pin, err := v.RemoveProducer(name, t0)
	if err == nil || pin.Removed == 0 {
		t.Fatalf("RemoveProducer with an undeletable file: got %+v, %v; want a logged removal and an error", pin, err)
	}
	if err := os.RemoveAll(file); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, enr, 0o644); err != nil { // as the crash left it
		t.Fatal(err)
	}
	// Rotations see no pin for it in the meantime.
	pins, err := auditlog.Pins(v.LogDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := pins[name]; ok {
		t.Fatal("the removed pin is still returned")
	}
	if _, _, err := v.OpenLog(now); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the next command left the file: %v", err)
	}
	if _, err := v.RemoveProducer(name, t0); !errors.Is(err, ErrNoProducer) {
		t.Errorf("removing again: got %v, want ErrNoProducer", err)
	}
	if _, err := v.AddProducer(name, enr, AddProducerOptions{Now: t0}); err != nil {
		t.Errorf("pinning the name again: %v", err)
	}
	if _, err := auditlog.Verify(v.LogDir(), auditlog.VerifyOptions{}); err != nil {
		t.Errorf("Verify: %v", err)
	}
	// The other producer's pin was never touched.
	if _, err := v.Producer(pools[1].producer); err != nil {
		t.Error(err)
	}
}

// The VRF key goes with a producer's first bundle unasked (AutoVRF), not
// with later ones; WithVRF sends it anyway, and without AutoVRF it is
// never added. The journal records which bundles carried it.
func TestAutoVRF(t *testing.T) {
	now := time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)
	v, pools := benchVault(t, t.TempDir(), 1, now)
	bp := pools[0]
	i := 0
	rotate := func(req RotateRequest) *RotateResult {
		t.Helper()
		i++
		at := now.Add(time.Duration(i) * time.Minute) // a fresh snapshot each time
		req.Pool, req.Producer, req.Now = bp.name, bp.producer, at
		req.Snapshot = bp.snapshot(t, v, at)
		req.Policy = transfer.SnapshotPolicy{Now: at}
		req.OutDir = t.TempDir()
		res, err := v.Rotate(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Issue.KES.Wipe()
		return res
	}
	// Not asked, no auto: a pool imported with its producer already
	// holding the VRF key.
	if r := rotate(RotateRequest{}); r.WithVRF || r.Issue.Entry.WithVRF {
		t.Errorf("without AutoVRF: sent %v, journaled %v", r.WithVRF, r.Issue.Entry.WithVRF)
	}
	r := rotate(RotateRequest{AutoVRF: true})
	if !r.WithVRF || !r.Issue.Entry.WithVRF || len(r.VRFFor) != 1 || r.VRFFor[0] != bp.producer {
		t.Errorf("first bundle: sent %v, journaled %v, for %v", r.WithVRF, r.Issue.Entry.WithVRF, r.VRFFor)
	}
	if r := rotate(RotateRequest{AutoVRF: true}); r.WithVRF || len(r.VRFFor) != 0 {
		t.Errorf("second bundle: sent %v, for %v", r.WithVRF, r.VRFFor)
	}
	if r := rotate(RotateRequest{WithVRF: true}); !r.WithVRF || len(r.VRFFor) != 0 {
		t.Errorf("asked: sent %v, for %v", r.WithVRF, r.VRFFor)
	}
}

// AddProducer pins only the enrollment whose fingerprint the operator
// read on the producer (typed as a person copies it: any case, no
// dashes, 0/1/8 for O/I/B), and its producer-add entry records whether
// the fingerprints were compared: a pin made without comparing is told
// apart in the log from a checked one.
func TestAddProducerComparesFingerprint(t *testing.T) {
	v, pools := benchVault(t, t.TempDir(), 1, t0)
	bp := pools[0]
	p, err := v.Pool(bp.name)
	if err != nil {
		t.Fatal(err)
	}
	id, err := p.PoolID()
	if err != nil {
		t.Fatal(err)
	}
	enrollment := func(name string) ([]byte, string) {
		t.Helper()
		seed := sha256.Sum256([]byte(name))
		sign := ed25519.NewKeyFromSeed(seed[:])
		ageID, err := age.GenerateX25519Identity()
		if err != nil {
			t.Fatal(err)
		}
		e := &transfer.Enrollment{Name: name, Magic: v.Network.Magic, PoolID: id, Recipient: ageID.Recipient().String(),
			SignKey: sign.Public().(ed25519.PublicKey), Created: t0}
		b, err := e.Marshal(sign)
		if err != nil {
			t.Fatal(err)
		}
		return b, e.Fingerprint()
	}
	typed := func(fp string) string { // as copied off a screen
		return strings.NewReplacer("-", "", "O", "0", "I", "1", "B", "8").Replace(strings.ToLower(fp))
	}
	entries := func() []auditlog.Entry {
		t.Helper()
		es, err := auditlog.Entries(v.LogDir())
		if err != nil {
			t.Fatal(err)
		}
		return es
	}

	enrA, fpA := enrollment("bpa")
	_, fpOther := enrollment("bpother")
	before := len(entries())
	for _, bad := range []string{fpOther, "AAAA-BBBB-CCCC-DDDD"} {
		if _, err := v.AddProducer("bpa", enrA, AddProducerOptions{Fingerprint: bad, Now: t0}); !errors.Is(err, ErrFingerprintMismatch) {
			t.Errorf("fingerprint %s: got %v, want ErrFingerprintMismatch", bad, err)
		}
	}
	if _, err := v.AddProducer("bpa", enrA, AddProducerOptions{Fingerprint: "not a fingerprint", Now: t0}); !errors.Is(err, transfer.ErrFormat) || errors.Is(err, ErrFingerprintMismatch) {
		t.Errorf("a malformed fingerprint: got %v, want transfer.ErrFormat", err)
	}
	if got := len(entries()); got != before {
		t.Fatalf("refused pins logged %d entries", got-before)
	}
	if _, err := v.Producer("bpa"); !errors.Is(err, ErrNoProducer) {
		t.Fatalf("a refused pin left its file: %v", err)
	}

	added, err := v.AddProducer("bpa", enrA, AddProducerOptions{Fingerprint: typed(fpA), Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if !added.Compared || !added.Pin.Signed || added.Pin.Fingerprint != fpA {
		t.Errorf("compared pin: got compared %v, signed %v, fingerprint %s; want true, true, %s", added.Compared, added.Pin.Signed, added.Pin.Fingerprint, fpA)
	}
	enrB, _ := enrollment("bpb")
	unchecked, err := v.AddProducer("bpb", enrB, AddProducerOptions{Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if unchecked.Compared {
		t.Error("a pin made without a fingerprint says it was compared")
	}
	es := entries()
	for _, c := range []struct {
		pin  *AddedProducer
		want string
	}{{added, "true"}, {unchecked, "false"}} {
		e := es[c.pin.Pin.Seq]
		if e.Kind != auditlog.KindProducerAdd || e.Detail[DetailCompared] != c.want {
			t.Errorf("entry %d (%s): %s = %q, want %q", e.Seq, e.Kind, DetailCompared, e.Detail[DetailCompared], c.want)
		}
	}
	if _, err := auditlog.Verify(v.LogDir(), auditlog.VerifyOptions{}); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

// An action timed by a clock the operator set (--now) records it, as a
// rotation does: an override entry with the time given and the machine's
// own, before the action's entry.
func TestProducerClockOverride(t *testing.T) {
	v, pools := benchVault(t, t.TempDir(), 1, t0)
	clock := &ClockOverride{Given: t0.Add(time.Hour), System: t0.Add(-48 * time.Hour)}
	at := clock.Given
	v.Audit.Clock = clock
	pin, err := v.RemoveProducer(pools[0].producer, at)
	if err != nil {
		t.Fatal(err)
	}
	es, err := auditlog.Entries(v.LogDir())
	if err != nil {
		t.Fatal(err)
	}
	o := es[pin.Removed-1]
	if o.Kind != auditlog.KindOverride || o.Pool != "" || o.Detail[OverrideNow] != "2026-11-21T07:00:00Z" || o.Detail[DetailSystemTime] != "2026-11-19T06:00:00Z" {
		t.Errorf("the entry before producer-removed: %+v, want the clock override", o)
	}
}
