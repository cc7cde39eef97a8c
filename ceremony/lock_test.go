package ceremony

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kesrotate/kesrotate/auditlog"
	"github.com/kesrotate/kesrotate/transfer"
)

// pauseAt makes the next command of v that reaches step wait there until
// the returned resume is called; entered is closed once it waits.
func pauseAt(t *testing.T, v *Vault, step string) (entered <-chan struct{}, resume func()) {
	t.Helper()
	in, out := make(chan struct{}), make(chan struct{})
	var first atomic.Bool
	v.crash = func(s string) error {
		if s == step && first.CompareAndSwap(false, true) {
			close(in)
			<-out
		}
		return nil
	}
	t.Cleanup(func() { v.crash = nil })
	var resumeOnce sync.Once
	return in, func() { resumeOnce.Do(func() { close(out) }) }
}

// reopen opens the vault again, as a second process would.
func reopen(t *testing.T, v *Vault) *Vault {
	t.Helper()
	w, err := Open(v.Dir)
	if err != nil {
		t.Fatal(err)
	}
	w.Audit, w.Rand = v.Audit, &detRand{ctr: 1 << 20}
	return w
}

// One writer at a time: a second command that would change the vault while
// another does is refused at once, naming the holder, and changes nothing;
// the first finishes, and the log verifies. (A backup holding the lock:
// backup.TestBackupHoldsTheLock.)
func TestOneWriterAtATime(t *testing.T) {
	now := time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, step, holder string
		first              func(v *Vault, snap []byte) error
	}{
		{"two rotates", "after-journal", "rotate", func(v *Vault, snap []byte) error {
			_, err := v.Rotate(RotateRequest{Pool: "pool000", Producer: "bp000", Snapshot: snap, Now: now,
				Policy: rotatePolicy(now)})
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, pools := benchVault(t, t.TempDir(), 1, now)
			bp := pools[0]
			snapA := bp.snapshot(t, v, now)
			snapB := bp.snapshot(t, v, now.Add(time.Minute))
			entered, resume := pauseAt(t, v, tc.step)
			defer resume()
			done := make(chan error, 1)
			go func() { done <- tc.first(v, snapA) }()
			select {
			case <-entered:
			case err := <-done:
				t.Fatalf("the first command ended before it reached %s: %v", tc.step, err)
			}

			w := reopen(t, v)
			before := dirDigest(t, filepath.Join(v.Dir, "pools"))
			_, err := w.Rotate(RotateRequest{Pool: "pool000", Producer: "bp000", Snapshot: snapB, Now: now.Add(time.Minute),
				Policy: rotatePolicy(now.Add(time.Minute))})
			if !errors.Is(err, ErrBusy) {
				t.Fatalf("second command: got %v, want ErrBusy", err)
			}
			if !strings.Contains(err.Error(), tc.holder) {
				t.Errorf("got %q, want it to name %q", err, tc.holder)
			}
			if after := dirDigest(t, filepath.Join(v.Dir, "pools")); after != before {
				t.Error("the refused command changed the pool")
			}
			resume()
			if err := <-done; err != nil {
				t.Fatalf("first command: %v", err)
			}
			p, _ := v.Pool("pool000")
			js, _ := p.Journal()
			if got, want := len(Issued(js)), map[bool]int{true: 1, false: 0}[tc.step == "after-journal"]; got != want {
				t.Errorf("got %d certs in the journal, want %d", got, want)
			}
			if _, err := auditlog.Verify(v.LogDir(), auditlog.VerifyOptions{VaultID: v.Meta.ID}); err != nil {
				t.Errorf("log: %v", err)
			}
			// The lock was released: the second command now runs.
			if _, err := w.Rotate(RotateRequest{Pool: "pool000", Producer: "bp000", Snapshot: snapB, Now: now.Add(time.Minute),
				Policy: rotatePolicy(now.Add(time.Minute))}); err != nil {
				t.Errorf("after the first finished: %v", err)
			}
			if b, err := os.ReadFile(filepath.Join(v.Dir, LockFile)); err != nil || len(b) != 0 {
				t.Errorf("lock file after release: %q, %v; want it empty", b, err)
			}
		})
	}
}

func rotatePolicy(now time.Time) transfer.SnapshotPolicy { return transfer.SnapshotPolicy{} }
