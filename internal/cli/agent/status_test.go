package agent

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// A status that cannot be taken gets the hint of its cause: a damaged
// installed cert is not answered with "install a bundle first".
func TestObserveHint(t *testing.T) {
	dir := t.TempDir()
	cert := filepath.Join(dir, "node.cert")
	if err := os.WriteFile(cert, []byte("{\"type\": \"NodeOperationalCertificate\", \"cborHex\": \"82\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	damaged := &producer.Agent{Dir: dir, Config: producer.Config{Cert: cert}}
	missing := &producer.Agent{Dir: dir, Config: producer.Config{Cert: filepath.Join(dir, "none.cert")}}
	tests := []struct {
		name    string
		a       *producer.Agent
		want    string
		wantNot string
	}{
		{"damaged cert", damaged, "is damaged or is not an op cert", "install a bundle first"},
		{"no cert", missing, "install a bundle first", "damaged"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.a.Status(producer.ChainState{TipSlot: 1}, producer.SourceGiven, nil, nil, time.Now())
			if err == nil {
				t.Fatal("status taken")
			}
			h := strings.Join(hintsOf(t, observeHint(err, tt.a)), "\n")
			if !strings.Contains(h, tt.want) || strings.Contains(h, tt.wantNot) {
				t.Errorf("%v: hints %q, want %q and not %q", err, h, tt.want, tt.wantNot)
			}
		})
	}
	if err := observeHint(errors.New("disk gone"), damaged); strings.Contains(fmt.Sprint(hintsOrNone(err)), "install a bundle first") {
		t.Errorf("another error got %q", hintsOrNone(err))
	}
}

func hintsOrNone(err error) []string {
	var ce *cli.Error
	if errors.As(err, &ce) {
		return ce.Hints
	}
	return nil
}
