package plan

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/opcert"
)

// Make orders certs by expiry, takes the worst status of the certs and of
// the producers' key users, and finds the next counter from a status of
// the same pool.
func TestMake(t *testing.T) {
	n := opcert.Mainnet
	now := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	cur, err := n.KESPeriodAt(now)
	if err != nil {
		t.Fatal(err)
	}
	a, b := keys.PoolID{1}, keys.PoolID{2}
	no := false
	in := Input{Network: n, Now: now, Leads: DefaultLeads, Items: []Item{
		{Name: "fresh", Source: "cert", Pool: a, Counter: 3, StartPeriod: cur},
		{Name: "old", Source: "cert", Pool: b, Counter: 7, StartPeriod: cur - 61},
		{Name: "agent:a", Source: "agent-status", Pool: a, Counter: 3, StartPeriod: cur,
			Status: &AgentStatus{TipSlot: n.PeriodStartSlot(cur), OnChainCounter: "3", Mithril: &StatusSigner{Unit: "mithril-signer", ActiveState: "active", RestartedForActiveSet: true, Registered: &no}}},
	}}
	r, err := Make(in)
	if err != nil {
		t.Fatal(err)
	}
	if r.Pools[0].Name != "old" || r.Pools[0].Status != StatusCritical {
		t.Errorf("first row %s %s, want the old cert, critical", r.Pools[0].Name, r.Pools[0].Status)
	}
	if r.Status != StatusCritical || r.ExitCode != 2 {
		t.Errorf("worst %s exit %d", r.Status, r.ExitCode)
	}
	var fresh *PoolReport
	for i := range r.Pools {
		if r.Pools[i].Name == "fresh" {
			fresh = &r.Pools[i]
		}
	}
	if fresh == nil || fresh.NextCounter == nil || *fresh.NextCounter != 4 {
		t.Errorf("fresh: next counter %v, want 4 (on chain 3)", fresh.NextCounter)
	}
	prom := string(r.Prometheus())
	if !strings.Contains(prom, `kesrotate_opcert_severity{pool="old",pool_id="02`) || !strings.Contains(prom, "kesrotate_plan_timestamp_seconds ") {
		t.Errorf("prometheus:\n%s", prom)
	}

	// Without the old cert, the signer's problem is the worst: a warning.
	in.Items = append(in.Items[:1], in.Items[2])
	r, err = Make(in)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != StatusWarn || r.ExitCode != 1 {
		t.Errorf("signer not registered: worst %s exit %d, want warn 1", r.Status, r.ExitCode)
	}
	// A schedule of a pool not planned is named by its index.
	in.Schedules = []LeaderLog{{PoolID: keys.PoolID{9}}}
	if _, err := Make(in); err == nil || !strings.Contains(err.Error(), "not being planned") {
		t.Errorf("foreign schedule: %v", err)
	}
}

// Make says which producer of a vault pool holds another cert than the
// newest (the text output and --json both print its verdict).
func TestMakeStaleProducers(t *testing.T) {
	n := opcert.Mainnet
	now := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	cur, err := n.KESPeriodAt(now)
	if err != nil {
		t.Fatal(err)
	}
	held := []Holding{
		{Producer: "bp1", Counter: 4, KESPeriod: cur, CertHash: "new"},
		{Producer: "bp2", Counter: 3, KESPeriod: cur - 10, CertHash: "old"},
	}
	r, err := Make(Input{Network: n, Now: now, Leads: DefaultLeads, Items: []Item{
		{Name: "p", Source: "vault", Pool: keys.PoolID{1}, Counter: 4, StartPeriod: cur, CertHash: "new", Holdings: held},
	}})
	if err != nil {
		t.Fatal(err)
	}
	got := r.Pools[0].Producers
	if len(got) != 2 || got[0].Stale || !got[1].Stale {
		t.Errorf("got %+v, want bp1 current and bp2 stale", got)
	}
	if held[1].Stale {
		t.Error("Make changed its input's holdings")
	}
}

// Make refuses leads out of order and an empty plan; Leads.Check is the rule.
func TestMakeRefuses(t *testing.T) {
	now := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	item := Item{Name: "p", Source: "cert", Pool: keys.PoolID{1}, StartPeriod: 1500}
	for _, tc := range []struct {
		name  string
		leads Leads
		items []Item
		want  error
	}{
		{"the defaults", DefaultLeads, []Item{item}, nil},
		{"equal leads", Leads{Warn: time.Hour, Critical: time.Hour}, []Item{item}, nil},
		{"critical longer than warn", Leads{Warn: time.Hour, Critical: 2 * time.Hour}, []Item{item}, ErrLeads},
		{"no item", DefaultLeads, nil, ErrNothing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.leads.Check(); (tc.want == ErrLeads) != errors.Is(err, ErrLeads) {
				t.Errorf("Check: got %v", err)
			}
			_, err := Make(Input{Network: opcert.Mainnet, Now: now, Leads: tc.leads, Items: tc.items})
			if !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
				t.Errorf("Make: got %v, want %v", err, tc.want)
			}
		})
	}
}
