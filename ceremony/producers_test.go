package ceremony

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

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
	if _, err := v.AddProducer(name, enr, t0); err != nil {
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
