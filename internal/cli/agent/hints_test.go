package agent

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/kesrotate/kesrotate/internal/cli"
	"github.com/kesrotate/kesrotate/producer"
)

func hintsOf(t *testing.T, err error) []string {
	t.Helper()
	var ce *cli.Error
	if !errors.As(err, &ce) {
		t.Fatalf("%v is not a cli error", err)
	}
	return ce.Hints
}

// A failed install that changed something says what it left, from the
// state the library names (producer.(*InstallResult).State): the earlier
// set back, the new one kept when there was none (issue 16: a first
// install claimed "the previous set is active again"), a rollback that
// failed, a set the node took whose pending KES key stayed (it used to say
// "not reloaded, send SIGHUP yourself"); a node that may not read the
// files names --group, one that cannot see them the link mode.
func TestInstallStateHint(t *testing.T) {
	a := &producer.Agent{Dir: "/var/lib/kesrotate-agent"}
	first := &producer.ActivateResult{Set: "0-1082-aa"}
	second := &producer.ActivateResult{Set: "1-1083-bb", Previous: "0-1082-aa"}
	back := &producer.RollbackResult{From: "1-1083-bb", To: "0-1082-aa"}
	refused := fmt.Errorf("%w: the node refused the new set", producer.ErrNotConfirmed)
	denied := fmt.Errorf("%w: %w: permission denied", producer.ErrNotConfirmed, producer.ErrNodeCannotRead)
	unseen := fmt.Errorf("%w (pid 7): /keys/kes.skey leads nowhere", producer.ErrNodeCannotSee)
	pending := fmt.Errorf("%w: disk gone", producer.ErrPendingKept)
	confirmed := producer.Confirmation{Confirmed: true, Sources: []string{"metrics", "log"}}
	tests := []struct {
		name      string
		err       error
		res       producer.InstallResult
		want      []string
		wantNot   string
		wantState string
	}{
		{"refused, first install", refused, producer.InstallResult{Activated: first, Signalled: "pid 7", NotTaken: true},
			[]string{"set 0-1082-aa stays installed: there was no earlier set to return to"}, "active again", producer.StateNotTaken},
		{"refused, rolled back", refused, producer.InstallResult{Activated: second, Signalled: "pid 7", NotTaken: true, RolledBack: back},
			[]string{"set 0-1082-aa is active again"}, "stays installed", producer.StateRolledBack},
		{"refused, the rollback failed", refused, producer.InstallResult{Activated: second, Signalled: "pid 7", NotTaken: true, RollbackErr: producer.ErrUnmanaged},
			[]string{"going back from set 1-1083-bb failed too", "'kesrotate-agent rollback'"}, "active again", producer.StateRollbackFailed},
		{"may not read, first install", denied, producer.InstallResult{Activated: first, Signalled: "pid 7", NotTaken: true},
			[]string{"kesrotate-agent config --group GROUP", "there was no earlier set to return to"}, "active again", producer.StateNotTaken},
		{"may not read, rolled back", denied, producer.InstallResult{Activated: second, Signalled: "pid 7", NotTaken: true, RolledBack: back},
			[]string{"kesrotate-agent config --group GROUP", "set 0-1082-aa is active again"}, "stays installed", producer.StateRolledBack},
		{"cannot see, rolled back", unseen, producer.InstallResult{Activated: second, NotSeen: true, RolledBack: back},
			[]string{"--link-mode relative", "set 0-1082-aa is active again; the node was not signalled"}, "stays installed", producer.StateRolledBack},
		{"cannot see, first install", unseen, producer.InstallResult{Activated: first, NotSeen: true},
			[]string{"--link-mode relative", "set 0-1082-aa stays installed: there was no earlier set to return to; the node was not signalled"}, "active again", producer.StateNodeCannotSee},
		{"cannot see, the rollback failed", unseen, producer.InstallResult{Activated: second, NotSeen: true, RollbackErr: producer.ErrUnmanaged},
			[]string{"--link-mode relative", "going back from set 1-1083-bb failed too"}, "active again", producer.StateRollbackFailed},
		{"confirmed, pending key kept", pending, producer.InstallResult{Activated: second, Signalled: "pid 7", Confirmation: confirmed, FinishErr: pending},
			[]string{"the node forges with set 1-1083-bb (confirmed by metrics and log)", "/var/lib/kesrotate-agent/kes"}, "SIGHUP", producer.StateConfirmedPendingKept},
		{"not signalled, pending key kept", pending, producer.InstallResult{Activated: second, FinishErr: pending},
			[]string{"the node was not signalled", "/var/lib/kesrotate-agent/kes"}, "forges", producer.StateNotSignalledPendingKept},
		{"signalling failed", fmt.Errorf("%w: no pid file", producer.ErrNodeNotFound), producer.InstallResult{Activated: second},
			[]string{"send cardano-node SIGHUP yourself"}, "active again", producer.StateNotSignalled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.res.State(); got != tt.wantState {
				t.Fatalf("state %q, want %q", got, tt.wantState)
			}
			h := strings.Join(hintsOf(t, installStateHint(tt.err, &tt.res, a)), "\n")
			for _, w := range tt.want {
				if !strings.Contains(h, w) {
					t.Errorf("got hints %q, want %q", h, w)
				}
			}
			if strings.Contains(h, tt.wantNot) {
				t.Errorf("got hints %q, want no %q", h, tt.wantNot)
			}
		})
	}
}

// The hints of a failed install in kes-agent mode and of a failed
// promotion follow the state the library names: an ErrKESAgent after
// kes-agent took the key (its info, asked afterwards) used to say "nothing
// was changed"; a node that forges after a promotion that was not recorded
// used to get only the raw error; a restored promotion claimed the node
// does not forge without anything confirming it.
func TestStateHints(t *testing.T) {
	kesErr := fmt.Errorf("%w: info: connection refused", producer.ErrKESAgent)
	set := &producer.ActivateResult{Set: "1-1083-bb", Previous: "0-1082-aa"}
	off := producer.Confirmation{Confirmed: true, Sources: []string{"metrics"}}
	tests := []struct {
		name    string
		err     error
		want    []string
		wantNot string
	}{
		{"kes-agent info after install-key", kesAgentInstallHint(kesErr, &producer.InstallResult{Activated: set, KESAgent: true}),
			[]string{"kes-agent took the new key and set 1-1083-bb is active"}, "nothing was changed"},
		{"kes-agent took it, set not active", kesAgentInstallHint(fmt.Errorf("%w: x", producer.ErrUnmanaged), &producer.InstallResult{KESAgentTook: true, Undone: true}),
			[]string{"kes-agent holds the new key", "install the same bundle again"}, "nothing was changed"},
		{"kes-agent before install-key", kesAgentInstallHint(kesErr, &producer.InstallResult{}),
			[]string{"nothing was changed"}, "took"},
		{"forging, not recorded", promoteHint(errors.New("disk full"), &producer.PromoteResult{Role: producer.RoleStandby, Set: "1-1083-bb", Signalled: "pid 7", Confirmation: off}),
			[]string{"the node IS forging with set 1-1083-bb", "do not promote another producer"}, "nothing was changed"},
		{"restored, off confirmed", promoteHint(producer.ErrNotConfirmed, &producer.PromoteResult{Role: producer.RoleStandby, Signalled: "pid 7", Restored: true, Off: &off}),
			[]string{"the node shows forging is off (confirmed by metrics)"}, "may"},
		{"restored, off not confirmed", promoteHint(producer.ErrNotConfirmed, &producer.PromoteResult{Role: producer.RoleStandby, Signalled: "pid 7", Restored: true, Off: &producer.Confirmation{}, OffErr: producer.ErrStillForging}),
			[]string{"it may still forge", "do not promote another producer"}, "forging is off ("},
		{"promote undone", promoteHint(fmt.Errorf("%w: chown", producer.ErrPermissions), &producer.PromoteResult{Role: producer.RoleStandby, Undone: true}),
			[]string{"nothing was changed"}, "forging"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := strings.Join(hintsOf(t, tt.err), "\n")
			for _, w := range tt.want {
				if !strings.Contains(h, w) {
					t.Errorf("got hints %q, want %q", h, w)
				}
			}
			if strings.Contains(h, tt.wantNot) {
				t.Errorf("got hints %q, want no %q", h, tt.wantNot)
			}
		})
	}
}
