package producer

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/kesrotate/kesrotate/internal/testnode"
	"github.com/kesrotate/kesrotate/opcert"
	"github.com/kesrotate/kesrotate/transfer"
)

// A failed install that changed something says, in State, what it left:
// the CLI picks its hints from it and never works it out again. Each case
// drives a real install to that state.
func TestInstallFailureStates(t *testing.T) {
	wait := func(o InstallOptions) InstallOptions {
		o.ConfirmTimeout, o.Poll = 20*time.Second, 10*time.Millisecond
		return o
	}
	// tamper replaces the node's cert path by hand: a rollback refuses to
	// move after that (ErrUnmanaged).
	tamper := func(f *fixture) {
		other, err := f.pool.Issue(77, 9, 200)
		if err != nil {
			f.t.Fatal(err)
		}
		if err := os.Remove(f.a.Config.Cert); err != nil {
			f.t.Fatal(err)
		}
		if err := os.WriteFile(f.a.Config.Cert, other.Cert.MarshalEnvelope(), 0o600); err != nil {
			f.t.Fatal(err)
		}
	}

	t.Run("refused with a set to return to: rolled back", func(t *testing.T) {
		f := newFixture(t, true, nil)
		n, logPath := f.startNode(true) // every reload: permission denied
		f.a.Config.NodeLog = logPath
		res, err := f.a.Install(context.Background(), f.bundle(10, 5, 200, false), wait(InstallOptions{ActivateOptions: f.opts(), Signal: reloadOf(n)}))
		if !errors.Is(err, ErrNotConfirmed) || !errors.Is(err, ErrNodeCannotRead) || res == nil {
			t.Fatalf("got %+v, %v, want ErrNotConfirmed and ErrNodeCannotRead", res, err)
		}
		if got := res.State(); got != StateRolledBack {
			t.Errorf("got state %q, want %q", got, StateRolledBack)
		}
		if cur, _ := f.a.CurrentSet(); cur != InitialSet || res.RolledBack.To != InitialSet {
			t.Errorf("current is %s, want %s", cur, InitialSet)
		}
	})

	t.Run("refused, nothing to return to: not taken", func(t *testing.T) {
		f := newFixture(t, false, nil)
		n, logPath := f.startNodeWith(testnode.Config{RejectReload: true, AllowMissingCredentials: true})
		f.a.Config.NodeLog = logPath
		b := f.bundle(10, 5, 200, true)
		res, err := f.a.Install(context.Background(), b, wait(InstallOptions{ActivateOptions: f.opts(), Signal: reloadOf(n)}))
		if !errors.Is(err, ErrNodeCannotRead) || res == nil || res.RolledBack != nil {
			t.Fatalf("got %+v, %v, want ErrNodeCannotRead and no rollback", res, err)
		}
		if got := res.State(); got != StateNotTaken {
			t.Errorf("got state %q, want %q", got, StateNotTaken)
		}
		if cur, _ := f.a.CurrentSet(); cur != res.Activated.Set {
			t.Errorf("current is %s, want the new set %s kept", cur, res.Activated.Set)
		}
	})

	t.Run("refused, and the rollback fails", func(t *testing.T) {
		f := newFixture(t, true, nil)
		n, logPath := f.startNode(true)
		f.a.Config.NodeLog = logPath
		signal := func() (string, error) { tamper(f); return reloadOf(n)() }
		res, err := f.a.Install(context.Background(), f.bundle(10, 5, 200, false), wait(InstallOptions{ActivateOptions: f.opts(), Signal: signal}))
		if !errors.Is(err, ErrNotConfirmed) || !errors.Is(err, ErrUnmanaged) || res == nil || res.RolledBack != nil {
			t.Fatalf("got %+v, %v, want ErrNotConfirmed with the rollback's ErrUnmanaged", res, err)
		}
		if got := res.State(); got != StateRollbackFailed {
			t.Errorf("got state %q, want %q", got, StateRollbackFailed)
		}
	})

	t.Run("the node cannot see it, with a set to return to: rolled back", func(t *testing.T) {
		f := newContainerFixture(t, false, LinkAbsolute)
		res, err := f.a.Install(context.Background(), f.bundle(11, 5, 200, false), InstallOptions{ActivateOptions: f.opts(),
			NodePID: func() (int, error) { return nodePID, nil }, Signal: func() (string, error) { t.Error("signalled"); return "x", nil }})
		if !errors.Is(err, ErrNodeCannotSee) || res == nil {
			t.Fatalf("got %+v, %v, want ErrNodeCannotSee", res, err)
		}
		if got := res.State(); got != StateRolledBack {
			t.Errorf("got state %q, want %q", got, StateRolledBack)
		}
	})

	t.Run("the node cannot see it, and the rollback fails", func(t *testing.T) {
		f := newContainerFixture(t, false, LinkAbsolute)
		pid := func() (int, error) { tamper(f.fixture); return nodePID, nil }
		res, err := f.a.Install(context.Background(), f.bundle(11, 5, 200, false), InstallOptions{ActivateOptions: f.opts(),
			NodePID: pid, Signal: func() (string, error) { t.Error("signalled"); return "x", nil }})
		if !errors.Is(err, ErrNodeCannotSee) || !errors.Is(err, ErrUnmanaged) || res == nil || res.RolledBack != nil {
			t.Fatalf("got %+v, %v, want ErrNodeCannotSee with the rollback's ErrUnmanaged", res, err)
		}
		if got := res.State(); got != StateRollbackFailed {
			t.Errorf("got state %q, want %q", got, StateRollbackFailed)
		}
	})

	t.Run("the node cannot see it, nothing to return to", func(t *testing.T) {
		f := newContainerFixture(t, false, LinkAbsolute)
		for _, p := range []string{f.a.Config.KESKey, f.a.Config.VRFKey, f.a.Config.Cert} {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}
		res, err := f.a.Install(context.Background(), f.bundle(11, 5, 200, true), InstallOptions{ActivateOptions: f.opts(),
			NodePID: func() (int, error) { return nodePID, nil }, Signal: func() (string, error) { t.Error("signalled"); return "x", nil }})
		if !errors.Is(err, ErrNodeCannotSee) || res == nil || res.RolledBack != nil || res.Activated.Previous != "" {
			t.Fatalf("got %+v, %v, want ErrNodeCannotSee on a first install", res, err)
		}
		if got := res.State(); got != StateNodeCannotSee {
			t.Errorf("got state %q, want %q", got, StateNodeCannotSee)
		}
	})

	// KES on the producer: the pending key goes once the set stands; a
	// hook fails that step.
	pending := func(f *fixture) (*transfer.Bundle, InstallOptions) {
		vk, err := f.a.NewPendingKES(rand.Reader, false)
		if err != nil {
			t.Fatal(err)
		}
		b := f.bundle(10, 5, 200, false)
		b.KES = nil
		b.Cert = opcert.Issue(f.pool.Cold, vk, 5, 200)
		o := InstallOptions{ActivateOptions: f.opts()}
		o.Hook = func(s Step) error {
			if s == StepPendingGone {
				return errors.New("disk gone")
			}
			return nil
		}
		return b, o
	}

	t.Run("confirmed, the pending key kept", func(t *testing.T) {
		f := newFixture(t, true, nil)
		n, logPath := f.startNode(false)
		f.a.Config.NodeLog = logPath
		b, o := pending(f)
		o = wait(o)
		o.Signal = reloadOf(n)
		res, err := f.a.Install(context.Background(), b, o)
		if !errors.Is(err, ErrPendingKept) || res == nil || !res.Confirmation.Confirmed {
			t.Fatalf("got %+v, %v, want confirmed and ErrPendingKept", res, err)
		}
		if got := res.State(); got != StateConfirmedPendingKept {
			t.Errorf("got state %q, want %q", got, StateConfirmedPendingKept)
		}
	})

	t.Run("not signalled, the pending key kept", func(t *testing.T) {
		f := newFixture(t, true, nil)
		b, o := pending(f)
		o.NoSignal = true
		res, err := f.a.Install(context.Background(), b, o)
		if !errors.Is(err, ErrPendingKept) || res == nil {
			t.Fatalf("got %+v, %v, want ErrPendingKept", res, err)
		}
		if got := res.State(); got != StateNotSignalledPendingKept {
			t.Errorf("got state %q, want %q", got, StateNotSignalledPendingKept)
		}
	})
}
