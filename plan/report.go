package plan

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/kesrotate/kesrotate/internal/promtext"
	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/opcert"
)

// Holding is the newest cert one producer received, from a vault's
// journal.
type Holding struct {
	Producer  string `json:"producer"`
	Counter   uint64 `json:"counter"`
	KESPeriod uint64 `json:"kes_period"`
	CertHash  string `json:"cert_hash"`
	// Stale is set by Make: the producer holds another cert than the
	// pool's newest, and needs the newest bundle installed.
	Stale bool `json:"stale"`
}

// Item is one cert to plan, whatever it came from.
type Item struct {
	Name        string
	Source      string // "vault", "cert" or "agent-status"
	Pool        keys.PoolID
	Counter     uint64
	StartPeriod uint64
	CertHash    string
	History     *opcert.History // a vault's history of the pool: the next counter from its journal
	Holdings    []Holding       // a vault's: the newest cert each producer received
	Status      *AgentStatus    // an agent status: the chain's counter, the producer's key users
}

// Input is everything a plan is made from.
type Input struct {
	Network opcert.Network
	Now     time.Time
	Leads   Leads
	Items   []Item
	// Schedules are cncli leader logs of planned pools (their epochs are
	// Network.EpochLength slots long).
	Schedules []LeaderLog
	// RotateAt, if set, is a planned rotation taking RotationTakes.
	RotateAt      time.Time
	RotationTakes time.Duration
}

// Report is a plan: one entry per cert, the first to expire first, the
// worst status and what to warn about. Its JSON is 'kesrotate plan
// --json' (docs/plan.md).
type Report struct {
	Now                 string       `json:"now"`
	Network             string       `json:"network"`
	NetworkMagic        uint32       `json:"network_magic"`
	WarnLeadSeconds     int64        `json:"warn_lead_seconds"`
	CriticalLeadSeconds int64        `json:"critical_lead_seconds"`
	Status              Status       `json:"status"`
	ExitCode            int          `json:"exit_code"`
	Pools               []PoolReport `json:"pools"`
	// Warnings are things to tell the operator that are not a status:
	// a status file's clock or age, assigned slots in the rotation window.
	Warnings []string `json:"-"`

	network opcert.Network
	now     time.Time
	leads   Leads
}

// PoolReport is the plan of one cert.
type PoolReport struct {
	Name             string          `json:"name"`
	Source           string          `json:"source"`
	PoolID           string          `json:"pool_id"`
	PoolIDBech32     string          `json:"pool_id_bech32"`
	Counter          uint64          `json:"cert_counter"`
	CertHash         string          `json:"cert_hash,omitempty"`
	Status           Status          `json:"status"`
	CurrentPeriod    uint64          `json:"current_kes_period"`
	StartPeriod      uint64          `json:"cert_start_kes_period"`
	EndPeriod        uint64          `json:"cert_end_kes_period"`
	LastValidPeriod  uint64          `json:"last_valid_kes_period"`
	RemainingPeriods int64           `json:"remaining_kes_periods"`
	ValidFrom        string          `json:"valid_from"`
	Expiry           string          `json:"expiry"`
	ExpiryUnix       int64           `json:"expiry_unix"`
	ExpiryLocal      string          `json:"expiry_local"`
	SecondsLeft      int64           `json:"seconds_left"`
	TimeLeft         string          `json:"time_left"`
	RotateBy         string          `json:"rotate_by"`
	RotateByUnix     int64           `json:"rotate_by_unix"`
	CriticalFrom     string          `json:"critical_from"`
	NextCounter      *uint64         `json:"next_counter,omitempty"`
	NextCounterNote  string          `json:"next_counter_note,omitempty"`
	StatusTipSlot    *uint64         `json:"status_tip_slot,omitempty"`
	Producers        []Holding       `json:"producers,omitempty"`
	Schedule         *ScheduleReport `json:"leader_schedule,omitempty"`
	Companions       []Companion     `json:"companions,omitempty"`

	// Plan is the arithmetic behind the fields above.
	Plan Plan `json:"-"`
}

// Span is a span of time in a report.
type SpanReport struct {
	From    string `json:"from"`
	To      string `json:"to"`
	Seconds int64  `json:"seconds,omitempty"`
}

// ScheduleReport places the rotation among the pool's assigned slots.
type ScheduleReport struct {
	WindowFrom       string       `json:"rotation_window_from"`
	WindowTo         string       `json:"rotation_window_to"`
	Covered          []SpanReport `json:"schedule_covers"`
	AssignedInWindow []string     `json:"assigned_in_window"`
	LargestGap       *SpanReport  `json:"largest_gap,omitempty"`
	Suggested        string       `json:"suggested_rotation,omitempty"`
	Conflicts        []string     `json:"planned_rotation_conflicts,omitzero"` // left out without a planned rotation
}

// Companion is the state of one of the producer's other key users an
// agent status reports.
type Companion struct {
	Name    string `json:"name"` // "kes-agent" or "mithril-signer"
	Status  Status `json:"status"`
	Problem string `json:"problem,omitempty"`
}

// holdings are the item's, each marked Stale when it is not the item's
// cert.
func holdings(it Item) []Holding {
	if it.Holdings == nil {
		return nil
	}
	out := make([]Holding, len(it.Holdings))
	for i, h := range it.Holdings {
		h.Stale = h.CertHash != it.CertHash
		out[i] = h
	}
	return out
}

// Make plans every item: its expiry and status, the next counter when the
// chain's is known, the producer's key users, and the rotation window in
// the leader schedules. It fails only for leads out of order (ErrLeads), no
// item (ErrNothing), an instant before the network existed or a schedule
// of a pool not planned.
func Make(in Input) (*Report, error) {
	if err := in.Leads.Check(); err != nil {
		return nil, err
	}
	if len(in.Items) == 0 {
		return nil, ErrNothing
	}
	n, now := in.Network, in.Now
	r := &Report{Now: rfc(now), Network: n.Name, NetworkMagic: n.Magic,
		WarnLeadSeconds: int64(in.Leads.Warn / time.Second), CriticalLeadSeconds: int64(in.Leads.Critical / time.Second),
		Status: StatusOK, Pools: []PoolReport{}, network: n, now: now, leads: in.Leads}
	worse := func(s Status) {
		if s.Severity() > r.Status.Severity() {
			r.Status = s
		}
	}
	for _, it := range in.Items {
		p, err := Evaluate(n, it.StartPeriod, now, in.Leads)
		if err != nil {
			return nil, err
		}
		worse(p.Status)
		pr := PoolReport{
			Name: it.Name, Source: it.Source, PoolID: it.Pool.Hex(), PoolIDBech32: it.Pool.Bech32(),
			Counter: it.Counter, CertHash: it.CertHash, Status: p.Status,
			CurrentPeriod: p.CurrentPeriod, StartPeriod: p.StartPeriod, EndPeriod: p.EndPeriod, LastValidPeriod: p.EndPeriod - 1,
			RemainingPeriods: p.RemainingPeriods, ValidFrom: rfc(p.Start),
			Expiry: rfc(p.Expiry), ExpiryUnix: p.Expiry.Unix(), ExpiryLocal: p.Expiry.Local().Format(time.RFC3339Nano),
			SecondsLeft: int64(p.Left / time.Second), TimeLeft: FormatLeft(p.Left),
			RotateBy: rfc(p.RotateBy), RotateByUnix: p.RotateBy.Unix(), CriticalFrom: rfc(p.CriticalFrom),
			Producers: holdings(it), Plan: p,
		}
		pr.NextCounter, pr.NextCounterNote = nextCounter(it, in.Items)
		if s := it.Status; s != nil {
			tip := s.TipSlot
			pr.StatusTipSlot = &tip
			pr.Companions = companionsOf(s)
			for _, c := range pr.Companions {
				worse(c.Status)
			}
			switch t := n.SlotTime(tip); {
			case t.After(now.Add(n.PeriodLength())):
				r.Warnings = append(r.Warnings, fmt.Sprintf("%s: the status' tip (%s) is ahead of this machine's clock (%s): check the clock",
					it.Name, t.Format(time.RFC3339), now.Format(time.RFC3339)))
			case now.Sub(t) > 7*24*time.Hour:
				r.Warnings = append(r.Warnings, fmt.Sprintf("%s: the status is %s old: take it again, the installed cert may have changed",
					it.Name, FormatLeft(now.Sub(t))))
			}
		}
		r.Pools = append(r.Pools, pr)
	}
	if err := r.schedules(in); err != nil {
		return nil, err
	}
	// One table for every pool, the first to expire first.
	sort.SliceStable(r.Pools, func(i, j int) bool {
		a, b := r.Pools[i].Plan.Expiry, r.Pools[j].Plan.Expiry
		if !a.Equal(b) {
			return a.Before(b)
		}
		return r.Pools[i].Name < r.Pools[j].Name
	})
	r.ExitCode = r.Status.Severity()
	return r, nil
}

// nextCounter is the next cert number when an on-chain counter is known
// (from a status of the same pool), with the vault's history when there is
// one, else with the cert itself as history; without it, a note.
func nextCounter(it Item, all []Item) (*uint64, string) {
	var oc opcert.OnChain
	known := false
	for _, s := range all {
		if s.Status == nil || s.Pool != it.Pool {
			continue
		}
		if c, k, _ := s.Status.OnChain(); k {
			oc, known = c, true
		}
	}
	if !known {
		if it.History != nil && it.Counter < opcert.MaxCounter {
			return nil, fmt.Sprintf("%d once cert #%d has minted a block, else %d again; 'kesrotate rotate' chooses from the on-chain counter", it.Counter+1, it.Counter, it.Counter)
		}
		return nil, ""
	}
	h := opcert.History{Issued: true, MaxIssued: it.Counter, LastIssued: it.Counter}
	if it.History != nil {
		h = *it.History
	}
	n, err := opcert.NextCounter(oc, h)
	if err != nil {
		return nil, err.Error()
	}
	return &n, ""
}

// companionsOf: kes-agent without the cert's key means the node cannot
// forge (critical); a signer that did not restart or register loses
// Mithril signatures, not blocks (warn).
func companionsOf(s *AgentStatus) []Companion {
	var out []Companion
	if s.KESAgent != nil {
		c := Companion{Name: "kes-agent", Status: StatusOK, Problem: s.KESAgent.Problem()}
		if c.Problem != "" {
			c.Status = StatusCritical
		}
		out = append(out, c)
	}
	if s.Mithril != nil {
		c := Companion{Name: "mithril-signer", Status: StatusOK, Problem: s.Mithril.Problem()}
		if c.Problem != "" {
			c.Status = StatusWarn
		}
		out = append(out, c)
	}
	return out
}

// schedules places each pool's rotation window among its assigned slots
// and checks a planned rotation against them.
func (r *Report) schedules(in Input) error {
	n := in.Network
	epochLen := n.EpochLength
	type sched struct {
		cov   Span
		slots []time.Time
	}
	byPool := map[keys.PoolID][]sched{}
	for i, l := range in.Schedules {
		found := false
		for _, it := range in.Items {
			found = found || it.Pool == l.PoolID
		}
		if !found {
			return &ScheduleError{Index: i, Pool: l.PoolID}
		}
		byPool[l.PoolID] = append(byPool[l.PoolID], sched{cov: l.Coverage(n, epochLen), slots: l.SlotTimes(n)})
	}
	for i := range r.Pools {
		pr := &r.Pools[i]
		if !in.RotateAt.IsZero() && !in.RotateAt.Before(pr.Plan.Expiry) {
			r.Warnings = append(r.Warnings, fmt.Sprintf("%s: the planned rotation %s is not before the cert's expiry %s",
				pr.Name, in.RotateAt.Format(time.RFC3339), pr.Plan.Expiry.Format(time.RFC3339)))
		}
		id, err := keys.ParsePoolID(pr.PoolID)
		if err != nil {
			return err
		}
		ss, ok := byPool[id]
		if !ok {
			continue
		}
		win := pr.Plan.RotationWindow()
		sj := &ScheduleReport{WindowFrom: rfc(win.From), WindowTo: rfc(win.To), Covered: []SpanReport{}, AssignedInWindow: []string{}}
		var best ScheduleAnalysis
		var slotTimes []time.Time
		for _, s := range ss {
			a := AnalyzeSchedule(win, s.cov, s.slots, n.SlotLength)
			for _, t := range a.Inside {
				sj.AssignedInWindow = append(sj.AssignedInWindow, rfc(t))
			}
			if a.Largest.Duration() > best.Largest.Duration() {
				best = a
			}
			slotTimes = append(slotTimes, s.slots...)
			sj.Covered = append(sj.Covered, SpanReport{From: rfc(s.cov.From), To: rfc(s.cov.To)})
		}
		sort.Strings(sj.AssignedInWindow)
		if d := best.Largest.Duration(); d > 0 {
			sj.LargestGap = &SpanReport{From: rfc(best.Largest.From), To: rfc(best.Largest.To), Seconds: int64(d / time.Second)}
			sj.Suggested = rfc(best.Largest.From.Add(d / 2).Truncate(time.Second))
		}
		if len(sj.AssignedInWindow) > 0 {
			r.Warnings = append(r.Warnings, fmt.Sprintf("%s: %d assigned slot(s) fall inside the rotation window, the first at %s: do not rotate around them",
				pr.Name, len(sj.AssignedInWindow), sj.AssignedInWindow[0]))
		}
		if !in.RotateAt.IsZero() {
			planned := Span{From: in.RotateAt, To: in.RotateAt.Add(in.RotationTakes)}
			sj.Conflicts = []string{}
			for _, t := range Conflicts(planned, slotTimes, n.SlotLength) {
				sj.Conflicts = append(sj.Conflicts, rfc(t))
			}
			if len(sj.Conflicts) > 0 {
				r.Warnings = append(r.Warnings, fmt.Sprintf("%s: assigned slot at %s falls inside the planned rotation %s..%s: pick another time",
					pr.Name, sj.Conflicts[0], rfc(planned.From), rfc(planned.To)))
			}
		}
		pr.Schedule = sj
	}
	return nil
}

// Action says what to do about a cert, in a sentence.
func (p PoolReport) Action() string {
	clock := func(t time.Time) string { return t.UTC().Truncate(time.Second).Format(time.RFC3339) }
	q := p.Plan
	switch q.Status {
	case StatusOK:
		return "nothing to do before " + clock(q.RotateBy)
	case StatusWarn:
		return "rotate soon: critical from " + clock(q.CriticalFrom) + ", expires " + clock(q.Expiry)
	case StatusCritical:
		return "rotate now: the pool stops minting blocks at " + clock(q.Expiry)
	case StatusExpired:
		return "expired at " + clock(q.Expiry) + ": the node rejects every block; rotate now"
	case StatusNotYetValid:
		return fmt.Sprintf("the cert starts in period %d but the chain is in period %d: the node rejects its blocks (wrong KES period or clock?)",
			q.StartPeriod, q.CurrentPeriod)
	}
	return ""
}

// Leads are the leads the report was made with.
func (r *Report) Leads() Leads { return r.leads }

// Prometheus is the node_exporter textfile: per cert the expiry instant,
// remaining periods, seconds left (at the evaluation), rotate-by instant,
// counter and severity, labelled by pool.
func (r *Report) Prometheus() []byte {
	var w promtext.Writer
	metric := func(name, help string, value func(p *PoolReport) int64) {
		for i := range r.Pools {
			p := &r.Pools[i]
			w.Gauge(name, help, []promtext.Label{{Name: "pool", Value: p.Name}, {Name: "pool_id", Value: p.PoolID},
				{Name: "source", Value: p.Source}, {Name: "network", Value: r.Network}}, float64(value(p)))
		}
	}
	metric("kesrotate_opcert_expiry_timestamp_seconds", "Unix time the op cert stops being valid (start of KES period c0 + maxKESEvolutions).",
		func(p *PoolReport) int64 { return p.ExpiryUnix })
	metric("kesrotate_opcert_remaining_kes_periods", "KES periods left before the op cert expires (0 once expired).",
		func(p *PoolReport) int64 { return max(p.RemainingPeriods, 0) })
	metric("kesrotate_opcert_seconds_left", "Seconds from the evaluation to the op cert's expiry (negative once expired).",
		func(p *PoolReport) int64 { return p.SecondsLeft })
	metric("kesrotate_opcert_rotate_by_timestamp_seconds", "Unix time to rotate the op cert by (expiry minus the warning lead).",
		func(p *PoolReport) int64 { return p.RotateByUnix })
	metric("kesrotate_opcert_start_kes_period", "The op cert's start KES period c0.",
		func(p *PoolReport) int64 { return int64(p.StartPeriod) })
	metric("kesrotate_opcert_counter", "The op cert's issue counter.",
		func(p *PoolReport) int64 { return int64(p.Counter) })
	metric("kesrotate_opcert_severity", "0 ok, 1 warn, 2 critical, expired or not yet valid (the plan exit code).",
		func(p *PoolReport) int64 { return int64(p.Status.Severity()) })
	w.Gauge("kesrotate_plan_timestamp_seconds", "Unix time of the evaluation.", nil, float64(r.now.Unix()))
	return w.Bytes()
}

func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// FormatLeft writes a duration as days, hours, minutes and seconds; a
// negative one with a minus sign.
func FormatLeft(d time.Duration) string {
	sign := ""
	if d < 0 {
		sign = "-"
		if d == math.MinInt64 { // its own negative: count it a nanosecond short
			d = math.MaxInt64
		} else {
			d = -d
		}
	}
	d = d.Truncate(time.Second)
	days := d / (24 * time.Hour)
	d -= days * 24 * time.Hour
	h := d / time.Hour
	d -= h * time.Hour
	m := d / time.Minute
	s := (d - m*time.Minute) / time.Second
	switch {
	case days > 0:
		return fmt.Sprintf("%s%dd %dh %dm %ds", sign, days, h, m, s)
	case h > 0:
		return fmt.Sprintf("%s%dh %dm %ds", sign, h, m, s)
	}
	return fmt.Sprintf("%s%dm %ds", sign, m, s)
}

// StatusWord is a status as the table shows it: OK, WARN, CRITICAL, …
func StatusWord(s Status) string { return strings.ToUpper(string(s)) }
