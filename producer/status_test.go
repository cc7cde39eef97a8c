package producer

import (
	"errors"
	"strings"
	"testing"

	"github.com/kesrotate/kesrotate/plan"
)

// statusOf is a status of a valid cert #4 from period 199 at period 200,
// with the counter unknown, changed by edit.
func statusOf(edit func(*Status)) *Status {
	s := &Status{AgentStatus: plan.AgentStatus{CertCounter: 4, CertKESPeriod: 199}, CurrentPeriod: 200, PeriodOK: true,
		PeriodVerdict: "the op cert's KES period is within the correct interval", CounterVerdict: "the on-chain counter is unknown (no node socket)",
		Role: RolePrimary, ActiveSet: "4-199-abcd"}
	edit(s)
	return s
}

// forging is metrics showing start period start, the chain's period 200,
// periods left, and forging enabled as given.
func forging(start uint64, current uint64, enabled bool) *Forging {
	left := int64(61)
	f := &Forging{Enabled: &enabled, StartPeriod: &start, CurrentPeriod: &current, Remaining: &left}
	f.MatchesInstalled = start == 199 && current == 200 && enabled
	return f
}

func TestStatusChecks(t *testing.T) {
	signer := func(state string, registered bool) *SignerStatus {
		return &SignerStatus{Unit: "mithril-signer", ActiveState: state, RestartedForActiveSet: true, Registered: &registered}
	}
	tests := []struct {
		name    string
		edit    func(*Status)
		part    string
		level   string // of the part's first check
		text    string // in the part's first check
		verdict error  // nil: Verdict is nil
	}{
		{"forging with the installed cert", func(s *Status) { s.Forging = forging(199, 200, true) }, PartForging, LevelOK, "forges with the installed cert (start period 199)", nil},
		// The CLI said "not the installed one: send it SIGHUP" for each of
		// these two.
		{"forging disabled", func(s *Status) { s.Forging = forging(199, 200, false) }, PartForging, LevelFail, "forging is disabled", ErrNotForging},
		{"the installed start period, another current period", func(s *Status) { s.Forging = forging(199, 201, true) }, PartForging, LevelFail, "start period 199, current period 201", ErrNotForging},
		{"another cert", func(s *Status) { s.Forging = forging(150, 200, true) }, PartForging, LevelFail, "from period 150, the installed one starts in 199", ErrNotForging},
		{"no op cert", func(s *Status) { s.Forging = &Forging{} }, PartForging, LevelFail, "no op cert", ErrNotForging},
		{"metrics down", func(s *Status) { s.Forging = &Forging{Error: "connection refused"} }, PartForging, LevelUnknown, "connection refused", nil},
		{"standby forges", func(s *Status) { s.Role = RoleStandby; s.Forging = forging(199, 200, true) }, PartForging, LevelFail, "two producers", ErrStandbyForges},
		{"standby idle", func(s *Status) { s.Role = RoleStandby; s.Forging = &Forging{Enabled: ptr(false)} }, PartForging, LevelOK, "does not forge", nil},
		{"counter unknown", func(s *Status) {}, PartCounter, LevelUnknown, "unknown", nil},
		{"counter wrong", func(s *Status) { s.CounterOK = ptr(false); s.CounterVerdict = "greater than" }, PartCounter, LevelFail, "greater than", ErrCounterWrong},
		{"cert expired", func(s *Status) { s.PeriodOK = false; s.PeriodVerdict = "expired" }, PartKESPeriod, LevelFail, "expired", ErrCertInvalid},
		{"signer stopped", func(s *Status) { s.Mithril = signer("inactive", true) }, PartMithril, LevelFail, "not running (inactive)", ErrSignerDown},
		// The CLI printed ✗ for these two while the verdict ignored them.
		{"standby's signer stopped", func(s *Status) { s.Role = RoleStandby; s.Mithril = signer("inactive", true) }, PartMithril, LevelInfo, "not running (inactive) (a standby: not a fault)", nil},
		{"standby's signer unregistered", func(s *Status) { s.Role = RoleStandby; s.Mithril = signer("active", false) }, PartMithrilRegistration, LevelInfo, "has not registered", nil},
		{"signer stale", func(s *Status) { s.Mithril = signer("active", true); s.Mithril.RestartedForActiveSet = false }, PartMithril, LevelFail, "after set 4-199-abcd", ErrSignerStale},
		{"signer unregistered", func(s *Status) { s.Mithril = signer("active", false) }, PartMithrilRegistration, LevelFail, "has not registered", ErrSignerNotRegistered},
		{"signer fine", func(s *Status) { s.Mithril = signer("active", true) }, PartMithril, LevelOK, "restarted for set 4-199-abcd", nil},
		{"kes-agent lost its key in the wrong period", func(s *Status) {
			s.KESAgent = &KESAgentStatus{Info: &KESAgentInfo{Period: 201}}
		}, PartKESAgent, LevelFail, "holds no KES key", ErrKESAgentNoKey},
		{"kes-agent in the wrong period", func(s *Status) {
			s.KESAgent = &KESAgentStatus{Info: &KESAgentInfo{Period: 201, Installed: &KESAgentKey{Counter: 4, Start: 199, VKeyHex: "00112233445566"}}, MatchesCert: true}
		}, PartKESAgent, LevelFail, "KES period 201, the chain in 200", ErrKESAgentPeriod},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := statusOf(tt.edit)
			var got *StatusCheck
			for _, c := range s.Checks() {
				if c.Part == tt.part {
					got = &c
					break
				}
			}
			if got == nil {
				t.Fatalf("no %s check in %+v", tt.part, s.Checks())
			}
			if got.Level != tt.level || !strings.Contains(got.Text, tt.text) {
				t.Errorf("got %s %q, want %s with %q", got.Level, got.Text, tt.level, tt.text)
			}
			err := s.Verdict()
			switch {
			case tt.verdict == nil && err != nil:
				t.Errorf("got verdict %v, want none", err)
			case tt.verdict != nil && !errors.Is(err, tt.verdict):
				t.Errorf("got verdict %v, want %v", err, tt.verdict)
			case got.Level == LevelFail && !errors.Is(got.Err, tt.verdict):
				t.Errorf("the check's error %v is not the verdict's %v", got.Err, tt.verdict)
			}
		})
	}
}
