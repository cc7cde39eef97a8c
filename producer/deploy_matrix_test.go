package producer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kesrotate/kesrotate/internal/testnode"
)

// A setup is how the agent watches the node and how the node is
// configured to log (issue: every node version since 10.5, every logging
// and metrics setup).
type setup struct {
	name      string
	metrics   bool
	log       bool
	tracing   string            // "" = the version's shipped default
	logFormat string            // "" = the tracing's default
	options   map[string]string // TraceOptions on top of the shipped ones
}

var setups = []setup{
	{name: "metrics only", metrics: true},
	{name: "log only, shipped severity", log: true},
	{name: "log only, shipped severity, JSON lines", log: true, tracing: "new", logFormat: "json"},
	{name: "log only, legacy tracing", log: true, tracing: "legacy"},
	{name: "log only, BlockForgingUpdate at Info", log: true, tracing: "new", options: map[string]string{"Startup.BlockForgingUpdate": "Info"}},
	{name: "metrics and log, shipped", metrics: true, log: true},
	{name: "metrics and log, legacy tracing", metrics: true, log: true, tracing: "legacy"},
	{name: "metrics and log, JSON lines", metrics: true, log: true, tracing: "new", logFormat: "json"},
}

func (st setup) node(f *fixture, version string, reject bool) *testnode.Node {
	f.t.Helper()
	n, logPath := f.startNodeWith(testnode.Config{NodeVersion: version, Tracing: st.tracing, LogFormat: st.logFormat,
		TraceOptions: st.options, RejectReload: reject})
	if st.metrics {
		f.a.Config.MetricsURL = n.MetricsURL()
	}
	if st.log {
		f.a.Config.NodeLog = logPath
	}
	return n
}

// TestDeployEveryVersionAndSetup installs against each modelled node
// version in each setup: a cert from a new KES period, then one re-issued
// in the same period (the metrics cannot tell the two apart), then a
// reload the node refuses.
func TestDeployEveryVersionAndSetup(t *testing.T) {
	for _, version := range testnode.Versions {
		for _, st := range setups {
			t.Run(version+"/"+st.name, func(t *testing.T) {
				t.Parallel()
				f := newFixture(t, true, nil)
				n := st.node(f, version, false)
				opts := func(timeout time.Duration) InstallOptions {
					return InstallOptions{ActivateOptions: f.opts(), Signal: reloadOf(n), ConfirmTimeout: timeout, Poll: 10 * time.Millisecond}
				}

				// #5 from period 200: the node had #4 from 199.
				res, err := f.a.Install(context.Background(), f.bundle(10, 5, 200, false), opts(20*time.Second))
				if err != nil || !res.Confirmation.Confirmed {
					t.Fatalf("new period: got %+v, %v, want confirmed", res.Confirmation, err)
				}
				if s := n.State(); !s.Forging || s.CertCounter != 5 {
					t.Fatalf("node state %+v, want forging with #5", s)
				}

				// #6, also from period 200.
				res, err = f.a.Install(context.Background(), f.bundle(11, 6, 200, false), opts(20*time.Second))
				switch {
				case err != nil:
					t.Fatalf("re-issue: %v", err)
				case st.log && !res.Confirmation.Confirmed:
					t.Errorf("re-issue with a log: got %+v, want confirmed", res.Confirmation)
				case !st.log && (!res.Confirmation.Unconfirmable || res.Confirmation.Confirmed):
					t.Errorf("re-issue, metrics only: got %+v, want 'signalled, not confirmed'", res.Confirmation)
				}
				if s := n.State(); s.CertCounter != 6 || res.RolledBack != nil {
					t.Errorf("node state %+v (rolled back %v), want #6 kept", s, res.RolledBack)
				}
			})
		}
	}
}

func TestDeployRefusedReloadEveryVersionAndSetup(t *testing.T) {
	for _, version := range testnode.Versions {
		for _, st := range setups {
			t.Run(version+"/"+st.name, func(t *testing.T) {
				t.Parallel()
				f := newFixture(t, true, nil)
				n := st.node(f, version, true)
				timeout := 20 * time.Second
				if !st.log {
					timeout = 700 * time.Millisecond // only metrics: wait them out
				}
				res, err := f.a.Install(context.Background(), f.bundle(10, 5, 200, false),
					InstallOptions{ActivateOptions: f.opts(), Signal: reloadOf(n), ConfirmTimeout: timeout, Poll: 10 * time.Millisecond})
				if !errors.Is(err, ErrNotConfirmed) || res == nil || res.Confirmation.Confirmed {
					t.Fatalf("got %v, %+v, want ErrNotConfirmed", err, res)
				}
				if res.RolledBack == nil || res.RolledBack.To != InitialSet {
					t.Fatalf("got %+v, want a rollback to %s", res.RolledBack, InitialSet)
				}
				// The node's reason, in whatever format it logged it.
				if st.log && !strings.Contains(err.Error(), "refused the new set and kept the old one: ") ||
					st.log && !strings.Contains(err.Error(), "permission denied") {
					t.Errorf("got %q, want the node's reason", err)
				}
				if v, err := readNode(f.a, f.pool); err != nil || v.counter != oldCounter {
					t.Errorf("node paths show %+v, %v, want the old #%d", v, err, oldCounter)
				}
				if s := n.State(); !s.Forging || s.CertCounter != oldCounter {
					t.Errorf("node state %+v, want still forging with #%d", s, oldCounter)
				}
			})
		}
	}
}

// A node still replaying its ledger answers SIGHUP with "not effective":
// never confirmed, in any format.
func TestDeployDuringReplay(t *testing.T) {
	for _, version := range testnode.Versions {
		for _, st := range []setup{
			{name: "human", log: true, tracing: "new"},
			{name: "json", log: true, tracing: "new", logFormat: "json"},
			{name: "legacy", log: true, tracing: "legacy"},
		} {
			t.Run(fmt.Sprintf("%s/%s", version, st.name), func(t *testing.T) {
				t.Parallel()
				f := newFixture(t, true, nil)
				n, logPath := f.startNodeWith(testnode.Config{NodeVersion: version, Tracing: st.tracing, LogFormat: st.logFormat,
					Replaying: true, TraceOptions: map[string]string{"Startup.BlockForgingUpdate": "Info"}})
				f.a.Config.NodeLog = logPath
				_, err := f.a.Install(context.Background(), f.bundle(10, 5, 200, false),
					InstallOptions{ActivateOptions: f.opts(), Signal: reloadOf(n), ConfirmTimeout: 20 * time.Second, Poll: 10 * time.Millisecond})
				if !errors.Is(err, ErrNotConfirmed) || !strings.Contains(err.Error(), "replaying its ledger") {
					t.Errorf("got %v, want not confirmed: replaying", err)
				}
			})
		}
	}
}
