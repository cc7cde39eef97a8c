package producer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kesrotate/kesrotate/producer/nodelog"
)

// scriptedLog returns the lines of each step on successive reads, parsed
// by nodelog as the agent parses the node's own lines.
type scriptedLog struct {
	mu    sync.Mutex
	steps [][]string
}

func (l *scriptedLog) Read(context.Context) ([]nodelog.Event, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.steps) == 0 {
		return nil, nil
	}
	var out []nodelog.Event
	for _, line := range l.steps[0] {
		if e, ok := nodelog.ParseLine(line); ok {
			out = append(out, e)
		}
	}
	l.steps = l.steps[1:]
	return out, nil
}

func (l *scriptedLog) Close() error { return nil }

// Node output, per cardano-node's sources (see producer/nodelog).
const (
	lnEnabled  = "\x1b[34m[2026-08-25 12:00:00.1234Z][bp1:Startup.BlockForgingUpdate](Info,57)\x1b[0m Performing block forging reconfiguration: Enabling block forging. To disable it please move/rename/remove the credentials files and then trigger reconfiguration via SIGHUP signal."
	lnTopology = `{"at":"2026-08-25T12:00:00.13Z","ns":"Startup.NetworkConfigUpdate","data":{"kind":"NetworkConfigUpdate","message":"network configuration update"},"sev":"Notice","thread":"57","host":"bp1"}`
	lnError    = "[bp1:cardano.node.startup:Info:57] [2026-08-25 12:00:00.12 UTC] Block forging reconfiguration error: CardanoProtocolInstantiationPraosLeaderCredentialsError (MismatchedKesKey \"/k/kes.skey\" \"/k/node.cert\")"
	lnDisabled = `{"at":"2026-08-25T12:00:00.1Z","ns":"Startup.BlockForgingUpdate","data":{"enabled":"DisabledBlockForging","kind":"BlockForgingUpdate"},"sev":"Info","thread":"57","host":"bp1"}`
	lnNotEff   = `{"at":"2026-08-25T12:00:00.1Z","ns":"Startup.BlockForgingUpdate","data":{"enabled":"NotEffective","kind":"BlockForgingUpdate"},"sev":"Info","thread":"57","host":"bp1"}`
)

func lnKES(start, cur uint64) string {
	return fmt.Sprintf("\x1b[34m[2026-08-25 12:00:01.0001Z][bp1:Forge.StateInfo](Info,88)\x1b[0m KES info startPeriod  %d currPeriod %d endPeriod %d, %d KES periods until expiry.", start, cur, start+62, start+62-cur)
}

// gauges renders the node's KES gauges in the new tracing format.
func gauges(start, current uint64, remaining int64, forging int) string {
	return fmt.Sprintf(`# TYPE cardano_node_metrics_cardano_build_info gauge
cardano_node_metrics_cardano_build_info{version="11.0.1",revision="x"} 1
# TYPE cardano_node_metrics_operationalCertificateStartKESPeriod_int gauge
cardano_node_metrics_operationalCertificateStartKESPeriod_int %d
# TYPE cardano_node_metrics_currentKESPeriod_int gauge
cardano_node_metrics_currentKESPeriod_int %d
# TYPE cardano_node_metrics_remainingKESPeriods_int gauge
cardano_node_metrics_remainingKESPeriods_int %d
# TYPE cardano_node_metrics_forging_enabled_int gauge
cardano_node_metrics_forging_enabled_int %d
# EOF
`, start, current, remaining, forging)
}

// legacyGauges renders them as the legacy system does.
func legacyGauges(start, current uint64, remaining int64, forging int) string {
	return fmt.Sprintf("cardano_node_metrics_cardano_build_info {version=\"10.5.3\",revision=\"x\"} 1\n"+
		"cardano_node_metrics_operationalCertificateStartKESPeriod_int %d\ncardano_node_metrics_currentKESPeriod_int %d\n"+
		"cardano_node_metrics_remainingKESPeriods_int %d\ncardano_node_metrics_forging_enabled %d\n", start, current, remaining, forging)
}

// metricsSeq serves each body for one scrape, the last one from then on.
func metricsSeq(t *testing.T, bodies ...string) string {
	t.Helper()
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		b := bodies[0]
		if len(bodies) > 1 {
			bodies = bodies[1:]
		}
		mu.Unlock()
		_, _ = w.Write([]byte(b))
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/metrics"
}

func TestConfirm(t *testing.T) {
	// The new cert starts at 800; the chain is in period 805.
	exp := Expect{StartPeriod: 800, EndPeriod: 862, Counter: 5, MaxKESEvolutions: 62, Period: 805}
	amb := exp
	amb.Ambiguous = true
	const oldStart = 700
	tests := []struct {
		name      string
		exp       Expect
		metrics   []string // "" for none
		log       [][]string
		nolog     bool
		confirmed []string // sources; nil for not confirmed
		unconf    bool
		fail      string // in the error
	}{
		{name: "metrics: old cert, then the new one", exp: exp, nolog: true,
			metrics: []string{gauges(oldStart, 805, 57, 1), gauges(800, 805, 57, 1)}, confirmed: []string{"metrics"}},
		{name: "legacy metrics", exp: exp, nolog: true, metrics: []string{legacyGauges(800, 805, 57, 1)}, confirmed: []string{"metrics"}},
		{name: "metrics and log (Info): both named", exp: exp, metrics: []string{gauges(800, 805, 57, 1)},
			log: [][]string{{lnEnabled, lnTopology}}, confirmed: []string{"metrics", "log"}},
		{name: "same start period, metrics only: cannot tell", exp: amb, nolog: true,
			metrics: []string{gauges(800, 805, 57, 1)}, unconf: true},
		{name: "same start period, log at Notice: the topology line after the reload tells", exp: amb,
			metrics: []string{gauges(800, 805, 57, 1)}, log: [][]string{nil, {lnTopology}}, confirmed: []string{"metrics", "log"}},
		{name: "same start period, log at Info", exp: amb,
			metrics: []string{gauges(800, 805, 57, 1)}, log: [][]string{{lnEnabled}}, confirmed: []string{"metrics", "log"}},
		{name: "log only, Info", exp: exp, log: [][]string{{lnEnabled}}, confirmed: []string{"log"}},
		{name: "log only, Notice: topology then KES info for the cert", exp: exp,
			log: [][]string{{lnKES(oldStart, 805), lnTopology}, {lnKES(800, 805)}}, confirmed: []string{"log"}},
		{name: "log only, Notice: KES info of the old key only", exp: exp,
			log: [][]string{{lnTopology, lnKES(oldStart, 805)}}, fail: "within the timeout"},
		{name: "reload error (legacy format)", exp: exp, metrics: []string{gauges(oldStart, 805, 57, 1)},
			log: [][]string{{lnError}}, fail: "refused the new set and kept the old one: CardanoProtocolInstantiationPraosLeaderCredentialsError (MismatchedKesKey"},
		{name: "disabled", exp: exp, log: [][]string{{lnDisabled}}, fail: "disabled block forging"},
		{name: "not effective during replay", exp: exp, log: [][]string{{lnNotEff}}, fail: "replaying its ledger"},
		{name: "window ended: refused before looking", exp: Expect{StartPeriod: 700, EndPeriod: 762, Period: 805, MaxKESEvolutions: 62},
			metrics: []string{gauges(700, 0, 0, 1)}, fail: "does not contain the current period 805"},
		{name: "window not started: refused before looking", exp: Expect{StartPeriod: 810, EndPeriod: 872, Period: 805, MaxKESEvolutions: 62},
			metrics: []string{gauges(810, 810, 62, 1)}, fail: "window 810–871 does not contain the current period 805"},
		{name: "metrics: the node cannot evolve the key", exp: exp, metrics: []string{gauges(800, 0, 0, 1)},
			log: [][]string{{lnTopology}}, fail: "cannot evolve its KES key"},
		{name: "metrics: the key is at another period", exp: exp, metrics: []string{gauges(800, 800, 62, 1)},
			log: [][]string{{lnEnabled}}, fail: "its KES key is at period 800, not the chain's 805"},
		{name: "metrics: forging disabled", exp: amb, metrics: []string{gauges(800, 805, 57, 0)},
			log: [][]string{{lnTopology}}, fail: "forging is disabled"},
		{name: "metrics keep showing the old cert", exp: exp, nolog: true, metrics: []string{gauges(oldStart, 805, 57, 1)},
			fail: "start period 700"},
		{name: "nothing configured", exp: exp, nolog: true, unconf: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w Watch
			if len(tt.metrics) > 0 {
				w.MetricsURL = metricsSeq(t, tt.metrics...)
			}
			if !tt.nolog {
				w.Log = &scriptedLog{steps: tt.log}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
			defer cancel()
			c, err := Confirm(ctx, w, tt.exp, 20*time.Millisecond)
			switch {
			case tt.fail != "":
				if !errors.Is(err, ErrNotConfirmed) || !strings.Contains(err.Error(), tt.fail) || c.Confirmed {
					t.Errorf("got %+v, %v, want ErrNotConfirmed with %q", c, err, tt.fail)
				}
			case tt.unconf:
				if err != nil || !c.Unconfirmable || c.Confirmed {
					t.Errorf("got %+v, %v, want unconfirmable", c, err)
				}
			default:
				if err != nil || !c.Confirmed || fmt.Sprint(c.Sources) != fmt.Sprint(tt.confirmed) {
					t.Errorf("got %+v, %v, want confirmed by %v", c, err, tt.confirmed)
				}
			}
		})
	}
}

// A failing metrics reading without log evidence counts only once it has
// lasted: right after the signal the gauges may predate the reload.
func TestConfirmMetricsGrace(t *testing.T) {
	exp := Expect{StartPeriod: 800, EndPeriod: 862, Period: 805, MaxKESEvolutions: 62, Ambiguous: true}
	w := Watch{MetricsURL: metricsSeq(t, gauges(800, 805, 57, 0), gauges(800, 805, 57, 1))}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := Confirm(ctx, w, exp, 20*time.Millisecond)
	if err != nil || !c.Unconfirmable {
		t.Errorf("got %+v, %v, want the early 'disabled' reading ignored (then unconfirmable: same start period)", c, err)
	}
}

func TestStatusVerdict(t *testing.T) {
	u := func(v uint64) *uint64 { return &v }
	i := func(v int64) *int64 { return &v }
	b := func(v bool) *bool { return &v }
	base := Status{PeriodOK: true, Role: RolePrimary}
	base.CertKESPeriod = 800
	tests := []struct {
		name    string
		role    string
		forging *Forging
		want    error
	}{
		{"no metrics", RolePrimary, nil, nil},
		{"scrape failed", RolePrimary, &Forging{Error: "down"}, nil},
		{"forges with it", RolePrimary, &Forging{StartPeriod: u(800), CurrentPeriod: u(805), Remaining: i(57), Enabled: b(true), MatchesInstalled: true}, nil},
		{"no op cert", RolePrimary, &Forging{Enabled: b(false)}, ErrNotForging},
		{"another cert", RolePrimary, &Forging{StartPeriod: u(700), Enabled: b(true)}, ErrNotForging},
		{"disabled", RolePrimary, &Forging{StartPeriod: u(800), Enabled: b(false)}, ErrNotForging},
		{"standby idle", RoleStandby, &Forging{Enabled: b(false)}, nil},
		{"standby forging", RoleStandby, &Forging{StartPeriod: u(800), Enabled: b(true)}, ErrStandbyForges},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := base
			s.Role, s.Forging = tt.role, tt.forging
			if err := s.Verdict(); !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
	s := base
	s.PeriodOK, s.PeriodVerdict = false, "✗ expired"
	if err := s.Verdict(); !errors.Is(err, ErrCertInvalid) {
		t.Errorf("expired: got %v", err)
	}
}
