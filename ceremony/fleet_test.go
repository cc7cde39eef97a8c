package ceremony

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/kesrotate/kesrotate/auditlog"
	"github.com/kesrotate/kesrotate/transfer"
)

// TestFleetRefusalsDoNotStopTheOthers rotates four pools in one
// ceremony: one has a stale snapshot, one none, one a snapshot that a
// producer of another pool signed; the fourth is rotated. The refused
// pools change nothing, the log verifies and records one cert.
func TestFleetRefusalsDoNotStopTheOthers(t *testing.T) {
	v, pools := benchVault(t, t.TempDir(), 4, t0)
	snaps := []FleetSnapshot{
		{Name: "a.kss", Data: pools[0].snapshot(t, v, t0)},
		{Name: "b.kss", Data: pools[1].snapshot(t, v, t0.Add(-72*3600e9))}, // 3 days old
		// pool002's id, signed by pool003's producer.
		{Name: "c.kss", Data: func() []byte {
			other := *pools[3]
			other.name = pools[2].name
			return other.snapshot(t, v, t0)
		}()},
		{Name: "junk.kss", Data: []byte("not a snapshot")},
	}
	journals := map[string][]byte{}
	for _, bp := range pools[1:] {
		p, err := v.Pool(bp.name)
		if err != nil {
			t.Fatal(err)
		}
		journals[bp.name], _ = os.ReadFile(p.journalPath())
	}
	var progress []string
	res, err := v.RotateFleet(FleetRequest{Snapshots: snaps, Policy: transfer.SnapshotPolicy{Now: t0}, Now: t0,
		Progress: func(o FleetOutcome, done, total int) {
			progress = append(progress, fmt.Sprintf("%s %d/%d", o.Pool, done, total))
		}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(progress, ", "), "pool000 1/4, pool001 2/4, pool002 3/4, pool003 4/4"; got != want {
		t.Fatalf("got progress %q, want %q", got, want)
	}
	if res.Rotated() != 1 || res.Refused() != 3 || res.FailedAfterIssue() != 0 {
		t.Fatalf("got %d rotated, %d refused, %d failed after issue; want 1, 3, 0", res.Rotated(), res.Refused(), res.FailedAfterIssue())
	}
	if o := res.Outcomes[0]; o.Err != nil || o.Result == nil || o.Producer != pools[0].producer || o.Snapshot != "a.kss" {
		t.Errorf("pool000: got %+v", o)
	}
	defer res.Outcomes[0].Result.Issue.KES.Wipe()
	if err := res.Outcomes[1].Err; !errors.Is(err, transfer.ErrStale) {
		t.Errorf("pool001: got %v, want ErrStale", err)
	}
	for _, i := range []int{2, 3} {
		if err := res.Outcomes[i].Err; !errors.Is(err, ErrNoSnapshot) {
			t.Errorf("%s: got %v, want ErrNoSnapshot", pools[i].name, err)
		}
	}
	if len(res.Unused) != 2 {
		t.Errorf("got unused %q, want c.kss and junk.kss", res.Unused)
	}
	for name, before := range journals {
		p, _ := v.Pool(name)
		if after, _ := os.ReadFile(p.journalPath()); string(after) != string(before) {
			t.Errorf("%s: the journal changed", name)
		}
	}
	r, err := auditlog.Verify(v.LogDir(), auditlog.VerifyOptions{VaultID: v.Meta.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Certs) != 1 {
		t.Errorf("got %d certs in the log, want 1", len(r.Certs))
	}
	if gaps := mustGaps(t, v); len(gaps) != 0 {
		t.Errorf("got gaps %v", gaps)
	}
}

// TestFleetCrashHalfWayIsRecordedByTheNextPool stops the first pool's
// issue after its journal entry (as a crash would, in this process): the
// second pool's rotation reopens the log and records the first pool's
// cert, flagged recovered, before its own.
func TestFleetCrashHalfWayIsRecordedByTheNextPool(t *testing.T) {
	v, pools := benchVault(t, t.TempDir(), 2, t0)
	crashed := false
	v.crash = func(step string) error {
		if step == "after-journal" && !crashed {
			crashed = true
			return errors.New("crash")
		}
		return nil
	}
	defer func() { v.crash = nil }()
	res, err := v.RotateFleet(FleetRequest{Snapshots: []FleetSnapshot{
		{Name: "a", Data: pools[0].snapshot(t, v, t0)}, {Name: "b", Data: pools[1].snapshot(t, v, t0)},
	}, Policy: transfer.SnapshotPolicy{Now: t0}, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcomes[0].Err == nil || res.Outcomes[1].Err != nil {
		t.Fatalf("got %v, %v, want the first failed and the second rotated", res.Outcomes[0].Err, res.Outcomes[1].Err)
	}
	// The first pool's cert is journaled: not a refusal, which changes
	// nothing.
	if o := res.Outcomes[0]; o.State != FleetFailedAfterIssue || o.Issued == nil || o.Issued.Counter != 0 || !errors.Is(o.Err, ErrIssued) {
		t.Errorf("first pool: got state %q, issued %+v, err %v; want %q with cert #0", o.State, o.Issued, o.Err, FleetFailedAfterIssue)
	}
	if s := res.Outcomes[1].State; s != FleetRotated {
		t.Errorf("second pool: got state %q, want %q", s, FleetRotated)
	}
	if res.Rotated() != 1 || res.Refused() != 0 || res.FailedAfterIssue() != 1 {
		t.Errorf("got %d rotated, %d refused, %d failed after issue; want 1, 0, 1", res.Rotated(), res.Refused(), res.FailedAfterIssue())
	}
	res.Outcomes[1].Result.Issue.KES.Wipe()
	entries, err := auditlog.Entries(v.LogDir())
	if err != nil {
		t.Fatal(err)
	}
	var recovered, certs int
	for _, e := range entries {
		if e.Kind == auditlog.KindCertIssued {
			certs++
			if e.Detail[DetailRecovered] == "cert" {
				recovered++
			}
		}
	}
	if certs != 2 || recovered != 1 {
		t.Errorf("got %d certs, %d recovered, want 2, 1", certs, recovered)
	}
	if _, err := auditlog.Verify(v.LogDir(), auditlog.VerifyOptions{VaultID: v.Meta.ID}); err != nil {
		t.Fatal(err)
	}
}

func mustGaps(t *testing.T, v *Vault) []LogGap {
	t.Helper()
	entries, err := auditlog.Entries(v.LogDir())
	if err != nil {
		t.Fatal(err)
	}
	gaps, err := v.LogGaps(entries)
	if err != nil {
		t.Fatal(err)
	}
	return gaps
}

// TestFleetWarnsOfTheSameCounterElsewhere: a fleet ceremony that issues
// a pool's counter again for another producer (the chain never saw the
// first cert) carries Rotate's warning in the pool's outcome: both certs
// are valid, and only the operator can stop the first producer.
func TestFleetWarnsOfTheSameCounterElsewhere(t *testing.T) {
	v, pools := benchVault(t, t.TempDir(), 1, t0)
	first, err := v.RotateFleet(FleetRequest{Snapshots: []FleetSnapshot{{Name: "a", Data: pools[0].snapshot(t, v, t0)}},
		Policy: transfer.SnapshotPolicy{Now: t0}, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if o := first.Outcomes[0]; o.Err != nil || len(o.Warnings) != 0 {
		t.Fatalf("first rotation: got %v, warnings %q", o.Err, o.Warnings)
	}
	first.Outcomes[0].Result.Issue.KES.Wipe()
	other := addBenchProducer(t, v, pools[0], "bp000-standby", t0)
	res, err := v.RotateFleet(FleetRequest{Snapshots: []FleetSnapshot{{Name: "b", Data: other.snapshot(t, v, t0.Add(time.Minute))}},
		Policy: transfer.SnapshotPolicy{Now: t0.Add(time.Minute)}, Now: t0.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	o := res.Outcomes[0]
	if o.Err != nil {
		t.Fatal(o.Err)
	}
	defer o.Result.Issue.KES.Wipe()
	if o.Result.Issue.Cert.Counter != 0 {
		t.Fatalf("got counter %d, want 0 again", o.Result.Issue.Cert.Counter)
	}
	want := "cert #0 was also issued for producer bp000, and the chain has not seen it"
	if len(o.Warnings) != 1 || !strings.Contains(o.Warnings[0], want) {
		t.Errorf("got warnings %q, want one that says %q", o.Warnings, want)
	}
	// #0 a third time, for the standby again: bp000's #0 is still valid,
	// though the cert before this one is the standby's own.
	t2 := t0.Add(2 * time.Minute)
	again, err := v.RotateFleet(FleetRequest{Snapshots: []FleetSnapshot{{Name: "c", Data: other.snapshot(t, v, t2)}},
		Policy: transfer.SnapshotPolicy{Now: t2}, Now: t2})
	if err != nil {
		t.Fatal(err)
	}
	o = again.Outcomes[0]
	if o.Err != nil {
		t.Fatal(o.Err)
	}
	defer o.Result.Issue.KES.Wipe()
	if len(o.Warnings) != 1 || !strings.Contains(o.Warnings[0], want) {
		t.Errorf("third #0: got warnings %q, want one that says %q", o.Warnings, want)
	}
}

// addBenchProducer pins another producer of bp's pool, called name, and
// returns it as a benchPool that signs its own snapshots.
func addBenchProducer(t *testing.T, v *Vault, bp *benchPool, name string, now time.Time) *benchPool {
	t.Helper()
	p, err := v.Pool(bp.name)
	if err != nil {
		t.Fatal(err)
	}
	id, err := p.PoolID()
	if err != nil {
		t.Fatal(err)
	}
	seed := sha256.Sum256([]byte(name))
	sign := ed25519.NewKeyFromSeed(seed[:])
	ageID, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	e := &transfer.Enrollment{Name: name, Magic: v.Network.Magic, PoolID: id, Recipient: ageID.Recipient().String(),
		SignKey: sign.Public().(ed25519.PublicKey), Created: now}
	enr, err := e.Marshal(sign)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.AddProducer(name, enr, AddProducerOptions{Now: now}); err != nil {
		t.Fatal(err)
	}
	return &benchPool{name: bp.name, producer: name, sign: sign, onChain: bp.onChain}
}

// TestBundleVersion: the request carries the bundle version and transfer
// decides its format: 0 is the current one, BundleVersionLegacy the older
// agents' (larger) one, and another version is refused before anything is
// written, for one pool and for a fleet.
func TestBundleVersion(t *testing.T) {
	v, pools := benchVault(t, t.TempDir(), 1, t0)
	p, err := v.Pool(pools[0].name)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(p.journalPath())
	for _, bad := range []int{1, 4} {
		_, err := v.Rotate(RotateRequest{Pool: pools[0].name, Producer: pools[0].producer, Snapshot: pools[0].snapshot(t, v, t0),
			BundleVersion: bad, Policy: transfer.SnapshotPolicy{Now: t0}, Now: t0})
		if !errors.Is(err, transfer.ErrBundleVersion) {
			t.Errorf("rotate, version %d: got %v, want ErrBundleVersion", bad, err)
		}
		if _, err := v.RotateFleet(FleetRequest{Snapshots: []FleetSnapshot{{Name: "a", Data: pools[0].snapshot(t, v, t0)}},
			BundleVersion: bad, Policy: transfer.SnapshotPolicy{Now: t0}, Now: t0}); !errors.Is(err, transfer.ErrBundleVersion) {
			t.Errorf("fleet, version %d: got %v, want ErrBundleVersion", bad, err)
		}
	}
	if after, _ := os.ReadFile(p.journalPath()); string(after) != string(before) {
		t.Error("a refused bundle version changed the journal")
	}
	size := map[int]int{}
	for i, ver := range []int{0, transfer.BundleVersion, transfer.BundleVersionLegacy} {
		now := t0.Add(time.Duration(i) * time.Minute)
		res, err := v.Rotate(RotateRequest{Pool: pools[0].name, Producer: pools[0].producer, Snapshot: pools[0].snapshot(t, v, now),
			BundleVersion: ver, Policy: transfer.SnapshotPolicy{Now: now}, Now: now})
		if err != nil {
			t.Fatalf("version %d: %v", ver, err)
		}
		res.Issue.KES.Wipe()
		size[ver] = len(res.Bundle)
	}
	if size[0] != size[transfer.BundleVersion] || size[transfer.BundleVersionLegacy] <= size[transfer.BundleVersion] {
		t.Errorf("got bundle sizes %v: want 0 the current version's, and the legacy one larger", size)
	}
}
