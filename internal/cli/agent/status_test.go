package agent

import (
	"bytes"
	"strings"
	"testing"

	"github.com/kesrotate/kesrotate/internal/cli"
	"github.com/kesrotate/kesrotate/plan"
	"github.com/kesrotate/kesrotate/producer"
)

// status prints what the library's checks say, mark for mark: the lines
// the CLI used to word itself drifted from the verdict.
func TestPrintStatusDrawsTheLibrarysVerdicts(t *testing.T) {
	no, yes := false, true
	start, current, left := uint64(199), uint64(200), int64(61)
	base := func() *producer.Status {
		return &producer.Status{AgentStatus: plan.AgentStatus{CertCounter: 4, CertKESPeriod: 199, PoolID: "00"}, CurrentPeriod: 200, CertEndPeriod: 261,
			PeriodOK: true, PeriodVerdict: "the op cert's KES period is within the correct interval", CounterVerdict: "the on-chain counter is unknown (no node socket)",
			Role: producer.RolePrimary, ActiveSet: "4-199-abcd"}
	}
	tests := []struct {
		name      string
		edit      func(*producer.Status)
		want      []string
		forbidden []string
	}{
		{"forging disabled", func(s *producer.Status) {
			s.Forging = &producer.Forging{Enabled: &no, StartPeriod: &start, CurrentPeriod: &current, Remaining: &left}
		}, []string{"✗ the node does not forge with the installed cert: its metrics say forging is disabled\n"}, []string{"send it SIGHUP"}},
		{"a standby with a stopped signer", func(s *producer.Status) {
			s.Role = producer.RoleStandby
			s.Forging = &producer.Forging{Enabled: &no}
			s.Mithril = &producer.SignerStatus{Unit: "mithril-signer", ActiveState: "inactive", Registered: &no}
		}, []string{"✓ this standby's node does not forge\n", "· the Mithril signer is not running (inactive) (a standby: not a fault)\n"}, []string{"✗"}},
		{"a primary's stopped signer", func(s *producer.Status) {
			s.Mithril = &producer.SignerStatus{Unit: "mithril-signer", ActiveState: "inactive", RestartedForActiveSet: true, Registered: &yes}
		}, []string{"✗ the Mithril signer is not running (inactive)\n", "? the on-chain counter is unknown"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			g := &globals{env: cli.NewEnv("kesrotate-agent", nil, &out, &out)}
			s := base()
			tt.edit(s)
			printStatus(g, s)
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			for _, f := range tt.forbidden {
				if strings.Contains(out.String(), f) {
					t.Errorf("output has %q:\n%s", f, out.String())
				}
			}
		})
	}
}
