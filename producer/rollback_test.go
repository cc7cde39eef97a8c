package producer

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// Rollback does what install does around the move: the node's view, the
// signal, the confirmation, the Mithril signer only after the node took
// the set.
func TestRollbackReloadsTheNode(t *testing.T) {
	t.Run("confirmed", func(t *testing.T) {
		f := newFixture(t, true, nil)
		n, _ := f.startNode(false)
		f.a.Config.MetricsURL = n.MetricsURL()
		do := InstallOptions{ActivateOptions: f.opts(), Signal: reloadOf(n), ConfirmTimeout: 20 * time.Second, Poll: 10 * time.Millisecond}
		inst, err := f.a.Install(context.Background(), f.bundle(10, 5, 200, false), do)
		if err != nil || inst.State() != StateConfirmed {
			t.Fatalf("install: %v, %+v", err, inst)
		}
		asked := false
		res, err := f.a.Rollback(context.Background(), RollbackOptions{Chain: func() (uint64, error) { asked = true; return f.tip, nil },
			Signal: reloadOf(n), ConfirmTimeout: 20 * time.Second, Poll: 10 * time.Millisecond})
		if err != nil || res.State() != StateConfirmed || res.To != InitialSet || res.From != inst.Activated.Set || !asked {
			t.Fatalf("got %+v, %v, want confirmed back on %s (chain asked: %v)", res, err, InitialSet, asked)
		}
		if s := n.State(); !s.Forging || s.CertCounter != oldCounter {
			t.Errorf("node state %+v, want forging with #%d", s, oldCounter)
		}
	})
	t.Run("not signalled", func(t *testing.T) {
		f := newFixture(t, true, nil)
		f.a.Config.MithrilSigner = "mithril-signer" // never restarted without a signal
		if _, err := f.a.Activate(f.bundle(10, 5, 200, false), f.opts()); err != nil {
			t.Fatal(err)
		}
		res, err := f.a.Rollback(context.Background(), RollbackOptions{NoSignal: true,
			Chain: func() (uint64, error) { return 0, errors.New("the chain is not asked without a signal") }})
		if err != nil || res.State() != StateNotSignalled || res.Signer != nil || !strings.Contains(res.SignerNote, "mithril restart") {
			t.Fatalf("got %+v, %v, want not signalled, the signer left with a note", res, err)
		}
	})
	t.Run("the chain does not answer", func(t *testing.T) {
		f := newFixture(t, true, nil)
		set, err := f.a.Activate(f.bundle(10, 5, 200, false), f.opts())
		if err != nil {
			t.Fatal(err)
		}
		down := errors.New("socket down")
		res, err := f.a.Rollback(context.Background(), RollbackOptions{Signal: func() (string, error) { return "x", nil },
			Chain: func() (uint64, error) { return 0, down }})
		if !errors.Is(err, down) || res != nil {
			t.Fatalf("got %+v, %v, want the chain's error", res, err)
		}
		if cur, _ := f.a.CurrentSet(); cur != set.Set {
			t.Errorf("current is %s, want %s unchanged", cur, set.Set)
		}
	})
	t.Run("refused: no signer restart", func(t *testing.T) {
		f := newFixture(t, true, nil)
		if _, err := f.a.Activate(f.bundle(10, 5, 200, false), f.opts()); err != nil {
			t.Fatal(err)
		}
		n, logPath := f.startNode(true)
		f.a.Config.NodeLog = logPath
		// A signer whose restart would fail loudly (no such unit, no
		// environment file): the result would carry it.
		f.a.Config.MithrilSigner = "mithril-signer"
		res, err := f.a.Rollback(context.Background(), RollbackOptions{TipSlot: f.tip, Signal: reloadOf(n), ConfirmTimeout: 20 * time.Second, Poll: 10 * time.Millisecond})
		if !errors.Is(err, ErrNotConfirmed) || res == nil || res.State() != StateUnconfirmed {
			t.Fatalf("got %+v, %v, want ErrNotConfirmed", res, err)
		}
		if res.Signer != nil {
			t.Errorf("the signer was restarted for a set the node refused: %+v", res.Signer)
		}
		if cur, _ := f.a.CurrentSet(); cur != InitialSet {
			t.Errorf("current is %s, want the rollback's %s kept", cur, InitialSet)
		}
	})
	t.Run("the node cannot see the set", func(t *testing.T) {
		f := newContainerFixture(t, false, LinkAbsolute)
		set, err := f.a.Activate(f.bundle(11, 5, 200, false), f.opts())
		if err != nil {
			t.Fatal(err)
		}
		signalled := false
		res, err := f.a.Rollback(context.Background(), RollbackOptions{TipSlot: f.tip, NodePID: func() (int, error) { return nodePID, nil },
			Signal: func() (string, error) { signalled = true; return "x", nil }})
		if !errors.Is(err, ErrNodeCannotSee) || res == nil || !res.SeenByNode || signalled {
			t.Fatalf("got %+v, %v (signalled %v), want ErrNodeCannotSee before any signal", res, err, signalled)
		}
		if cur, _ := f.a.CurrentSet(); cur != set.Set || res.To != set.Set {
			t.Errorf("current is %s (result %s), want %s again", cur, res.To, set.Set)
		}
	})
}
