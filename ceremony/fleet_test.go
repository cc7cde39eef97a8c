package ceremony

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

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
	if res.Rotated() != 1 || res.Refused() != 3 {
		t.Fatalf("got %d rotated, %d refused, want 1, 3", res.Rotated(), res.Refused())
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
		t.Fatalf("got %v, %v, want the first refused and the second rotated", res.Outcomes[0].Err, res.Outcomes[1].Err)
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
