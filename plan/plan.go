// Package plan decides how urgent each op cert's rotation is: its expiry
// and rotate-by instants from the network's KES arithmetic (Evaluate), the
// agent status file it reads (AgentStatus, the contract with
// kesrotate-agent status --json), and where in a leader schedule a
// rotation fits (AnalyzeSchedule). It reads and prints nothing itself.
package plan

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/kesrotate/kesrotate/internal/durfmt"
	"github.com/kesrotate/kesrotate/internal/textsafe"
	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/opcert"
)

// Status is how urgent a cert's rotation is.
type Status string

// Statuses, from fine to worst. Expired and not-yet-valid certs mint no
// blocks: the node rejects them (KESAfterEndOCERT, KESBeforeStartOCERT).
const (
	StatusOK          Status = "ok"
	StatusWarn        Status = "warn"     // inside the warning lead: rotate by RotateBy
	StatusCritical    Status = "critical" // inside the critical lead
	StatusExpired     Status = "expired"
	StatusNotYetValid Status = "not-yet-valid"
)

// Severity is 0 for ok, 1 for warn, 2 for critical, expired and
// not-yet-valid: the exit code kesrotate plan uses.
func (s Status) Severity() int {
	switch s {
	case StatusOK:
		return 0
	case StatusWarn:
		return 1
	}
	return 2
}

// Leads are how long before expiry a cert turns warn and critical.
type Leads struct {
	Warn     time.Duration
	Critical time.Duration
}

// Check refuses (ErrLeads) a critical lead longer than the warning lead:
// a cert would turn critical before it warns.
func (l Leads) Check() error {
	if l.Critical > l.Warn {
		return fmt.Errorf("%w (%s, %s)", ErrLeads, durfmt.Format(l.Critical), durfmt.Format(l.Warn))
	}
	return nil
}

// DefaultLeads warn 14 days and turn critical 3 days before expiry.
var DefaultLeads = Leads{Warn: 14 * 24 * time.Hour, Critical: 3 * 24 * time.Hour}

// Plan is the state of one cert at an instant.
type Plan struct {
	Now              time.Time
	CurrentPeriod    uint64        // the KES period in progress at Now
	StartPeriod      uint64        // c0, the cert's first period
	EndPeriod        uint64        // c0 + maxKESEvolutions: the first period it is no longer valid in
	RemainingPeriods int64         // EndPeriod - CurrentPeriod (≤ 0 when expired)
	Start            time.Time     // the instant period c0 begins
	Expiry           time.Time     // the instant period EndPeriod begins: the cert's last valid instant is a nanosecond before
	Left             time.Duration // Expiry - Now; negative once expired
	RotateBy         time.Time     // Expiry - the warning lead
	CriticalFrom     time.Time     // Expiry - the critical lead
	Status           Status
}

// Evaluate plans a cert that starts in period startPeriod on network n at
// instant now. A cert is warn from RotateBy on (Left ≤ warning lead),
// critical from CriticalFrom on, expired from Expiry on and not yet valid
// before Start. It fails only for an instant before the network existed.
func Evaluate(n opcert.Network, startPeriod uint64, now time.Time, l Leads) (Plan, error) {
	kp, err := n.KESPeriodAt(now)
	if err != nil {
		return Plan{}, err
	}
	end := opcert.AddPeriods(startPeriod, n.MaxKESEvolutions)
	p := Plan{
		Now:              now,
		CurrentPeriod:    kp,
		StartPeriod:      startPeriod,
		EndPeriod:        end,
		RemainingPeriods: periodsBetween(kp, end),
		Start:            n.PeriodStart(startPeriod),
		Expiry:           n.PeriodStart(end),
	}
	p.Left = p.Expiry.Sub(now)
	p.RotateBy = p.Expiry.Add(-l.Warn)
	p.CriticalFrom = p.Expiry.Add(-l.Critical)
	switch {
	case now.Before(p.Start):
		p.Status = StatusNotYetValid
	case !now.Before(p.Expiry):
		p.Status = StatusExpired
	case !now.Before(p.CriticalFrom):
		p.Status = StatusCritical
	case !now.Before(p.RotateBy):
		p.Status = StatusWarn
	default:
		p.Status = StatusOK
	}
	return p, nil
}

// periodsBetween is to - from as an int64, clamped rather than wrapped.
func periodsBetween(from, to uint64) int64 {
	if to >= from {
		if d := to - from; d <= math.MaxInt64 {
			return int64(d)
		}
		return math.MaxInt64
	}
	if d := from - to; d <= math.MaxInt64 {
		return -int64(d)
	}
	return math.MinInt64
}

// Span is a half-open interval of time [From, To).
type Span struct {
	From, To time.Time
}

// Duration is To - From, or 0 for an empty span.
func (s Span) Duration() time.Duration {
	if !s.To.After(s.From) {
		return 0
	}
	return s.To.Sub(s.From)
}

// Empty reports whether the span holds no instant.
func (s Span) Empty() bool { return !s.To.After(s.From) }

// Contains reports whether t is in [From, To).
func (s Span) Contains(t time.Time) bool { return !t.Before(s.From) && t.Before(s.To) }

// Intersect is the overlap of two spans (empty if none).
func (s Span) Intersect(o Span) Span {
	r := s
	if o.From.After(r.From) {
		r.From = o.From
	}
	if o.To.Before(r.To) {
		r.To = o.To
	}
	if r.To.Before(r.From) {
		r.To = r.From
	}
	return r
}

// RotationWindow is when the cert should be rotated: from Now to RotateBy
// while the cert is ok, and from Now to Expiry once the warning lead has
// begun or the cert is not yet valid. It is empty once the cert expired:
// rotate at once.
func (p Plan) RotationWindow() Span {
	switch p.Status {
	case StatusOK:
		return Span{From: p.Now, To: p.RotateBy}
	case StatusExpired:
		return Span{From: p.Now, To: p.Now}
	}
	return Span{From: p.Now, To: p.Expiry}
}

// ScheduleAnalysis places a rotation among a pool's assigned slots.
type ScheduleAnalysis struct {
	// Window is the rotation window cut to the part the schedule covers.
	Window Span
	// Inside are the assigned slots (their start instants) in Window.
	Inside []time.Time
	// Largest is the longest part of Window without an assigned slot,
	// the earliest of equals. Empty when Window is.
	Largest Span
}

// AnalyzeSchedule finds the largest gap without an assigned slot inside
// the rotation window, as far as the schedule covers it. An assigned slot
// occupies [start, start + slotLength).
func AnalyzeSchedule(rotation, coverage Span, slots []time.Time, slotLength time.Duration) ScheduleAnalysis {
	a := ScheduleAnalysis{Window: rotation.Intersect(coverage)}
	if a.Window.Empty() {
		return a
	}
	sorted := append([]time.Time(nil), slots...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Before(sorted[j]) })
	cursor := a.Window.From
	consider := func(g Span) {
		if g.Duration() > a.Largest.Duration() {
			a.Largest = g
		}
	}
	for _, s := range sorted {
		end := s.Add(slotLength)
		if !end.After(a.Window.From) || !s.Before(a.Window.To) {
			continue
		}
		a.Inside = append(a.Inside, s)
		consider(Span{From: cursor, To: s})
		if end.After(cursor) {
			cursor = end
		}
	}
	consider(Span{From: cursor, To: a.Window.To})
	return a
}

// Conflicts returns the assigned slots that fall inside a planned
// rotation span (an assigned slot occupies [start, start + slotLength)).
func Conflicts(planned Span, slots []time.Time, slotLength time.Duration) []time.Time {
	var out []time.Time
	for _, s := range slots {
		if s.Before(planned.To) && s.Add(slotLength).After(planned.From) {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out
}

// AgentStatus is the part of `kesrotate-agent status --json` that
// kesrotate plan reads: the cert installed on the producer, where the
// chain was, and the pool's on-chain counter. Other fields are ignored.
type AgentStatus struct {
	PoolID        string `json:"pool_id"`         // 56 hex digits (bech32 pool1… accepted)
	NetworkMagic  uint32 `json:"network_magic"`   //
	TipSlot       uint64 `json:"tip_slot"`        // the node's tip when the status was taken
	CertCounter   uint64 `json:"cert_counter"`    // the installed cert's issue number n
	CertKESPeriod uint64 `json:"cert_kes_period"` // the installed cert's start period c0
	// OnChainCounter is the counter the chain recorded for the pool:
	// a decimal number, "none" if it never minted, or empty if unknown.
	OnChainCounter string `json:"onchain_counter,omitempty"`
	// Optional cross-checks with the network plan uses.
	SlotsPerKESPeriod uint64 `json:"slots_per_kes_period,omitempty"`
	MaxKESEvolutions  uint64 `json:"max_kes_evolutions,omitempty"`
	// The producer's other key users, when the agent drives them.
	KESAgent *StatusKESAgent `json:"kes_agent,omitempty"`
	Mithril  *StatusSigner   `json:"mithril_signer,omitempty"`
}

// StatusKESAgent is what the agent status says of IOG's kes-agent, which
// holds the node's KES key in memory.
type StatusKESAgent struct {
	Socket string `json:"socket"`
	Error  string `json:"error,omitempty"`
	Info   *struct {
		Installed json.RawMessage `json:"installed,omitempty"`
	} `json:"info,omitempty"`
	PeriodOK    bool `json:"kes_period_ok"`
	MatchesCert bool `json:"matches_installed_cert"`
}

// Problem is what is wrong with kes-agent, or "": without its key (it
// loses it when it restarts) or with another one, the node cannot forge.
func (k *StatusKESAgent) Problem() string {
	switch {
	case k == nil:
		return ""
	case k.Error != "":
		return "kes-agent did not answer: " + textsafe.Clip(k.Error, 200)
	case k.Info == nil || len(k.Info.Installed) == 0 || string(k.Info.Installed) == "null":
		return "kes-agent holds no KES key (it loses it when it restarts): the node cannot forge; install the cert again through the agent"
	case !k.MatchesCert:
		return "kes-agent's KES key is not the installed cert's: the node cannot forge with the cert"
	case !k.PeriodOK:
		return "kes-agent's KES period is not the chain's"
	}
	return ""
}

// StatusSigner is what the agent status says of the Mithril signer, which
// reads the KES key and op cert as files and must restart after a rotation.
type StatusSigner struct {
	Unit                  string `json:"unit"`
	ActiveState           string `json:"active_state,omitempty"`
	Error                 string `json:"error,omitempty"`
	RestartedForActiveSet bool   `json:"restarted_for_active_set"`
	Registered            *bool  `json:"registered,omitempty"`
}

// Problem is what is wrong with the signer, or "": Mithril signatures
// stop, blocks do not.
func (m *StatusSigner) Problem() string {
	switch {
	case m == nil:
		return ""
	case m.Error != "":
		return "the Mithril signer could not be asked: " + textsafe.Clip(m.Error, 200)
	case m.ActiveState != "active":
		return fmt.Sprintf("the Mithril signer %s is %s", textsafe.Clip(m.Unit, 80), textsafe.Clip(m.ActiveState, 40))
	case !m.RestartedForActiveSet:
		return "the Mithril signer was not restarted since the installed cert: 'kesrotate-agent mithril restart'"
	case m.Registered != nil && !*m.Registered:
		return "the Mithril signer has not registered with the new cert: 'kesrotate-agent mithril restart'"
	}
	return ""
}

// ParseAgentStatus reads a status file and checks the fields plan needs.
func ParseAgentStatus(data []byte) (AgentStatus, keys.PoolID, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return AgentStatus{}, keys.PoolID{}, fmt.Errorf("%w: %v", ErrAgentStatus, textsafe.JSONError(err))
	}
	for _, f := range []string{"pool_id", "network_magic", "tip_slot", "cert_counter", "cert_kes_period"} {
		if v, ok := raw[f]; !ok || string(v) == "null" {
			return AgentStatus{}, keys.PoolID{}, fmt.Errorf("%w: missing %s", ErrAgentStatus, f)
		}
	}
	var s AgentStatus
	if err := json.Unmarshal(data, &s); err != nil {
		return AgentStatus{}, keys.PoolID{}, fmt.Errorf("%w: %v", ErrAgentStatus, textsafe.JSONError(err))
	}
	id, err := keys.ParsePoolID(s.PoolID)
	if err != nil {
		return AgentStatus{}, keys.PoolID{}, fmt.Errorf("%w: pool_id: %w", ErrAgentStatus, err)
	}
	if _, _, err := s.OnChain(); err != nil {
		return AgentStatus{}, keys.PoolID{}, err
	}
	return s, id, nil
}

// OnChain returns the status' on-chain counter and whether it is known.
func (s AgentStatus) OnChain() (opcert.OnChain, bool, error) {
	if s.OnChainCounter == "" {
		return opcert.OnChain{}, false, nil
	}
	o, err := opcert.ParseOnChain(s.OnChainCounter)
	if err != nil {
		return opcert.OnChain{}, false, fmt.Errorf("%w: onchain_counter: %w", ErrAgentStatus, err)
	}
	return o, true, nil
}

// CheckNetwork refuses a status taken on another network than n.
func (s AgentStatus) CheckNetwork(n opcert.Network) error {
	if s.NetworkMagic != n.Magic {
		return fmt.Errorf("%w: status is for network magic %d, planning on %s (magic %d)", ErrAgentStatus, s.NetworkMagic, n.Name, n.Magic)
	}
	if s.SlotsPerKESPeriod != 0 && s.SlotsPerKESPeriod != n.SlotsPerKESPeriod {
		return fmt.Errorf("%w: status has %d slots per KES period, %s has %d", ErrAgentStatus, s.SlotsPerKESPeriod, n.Name, n.SlotsPerKESPeriod)
	}
	if s.MaxKESEvolutions != 0 && s.MaxKESEvolutions != n.MaxKESEvolutions {
		return fmt.Errorf("%w: status has %d KES evolutions, %s has %d", ErrAgentStatus, s.MaxKESEvolutions, n.Name, n.MaxKESEvolutions)
	}
	return nil
}

// LeaderLog is what plan reads of a `cncli leaderlog` result.
type LeaderLog struct {
	Epoch         uint64
	PoolID        keys.PoolID
	Slots         []uint64 // absolute slots, ascending
	EpochStart    uint64   // first slot of the epoch (slot - slotInEpoch); valid if HasEpochStart
	HasEpochStart bool
}

// ParseLeaderLog reads cncli leaderlog JSON: {"status": "ok", "epoch",
// "poolId", "assignedSlots": [{"slot", "slotInEpoch", …}]}.
func ParseLeaderLog(data []byte) (LeaderLog, error) {
	var w struct {
		Status        string  `json:"status"`
		ErrorMessage  string  `json:"errorMessage"`
		Epoch         *uint64 `json:"epoch"`
		PoolID        string  `json:"poolId"`
		AssignedSlots []struct {
			Slot        *uint64 `json:"slot"`
			SlotInEpoch *uint64 `json:"slotInEpoch"`
		} `json:"assignedSlots"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return LeaderLog{}, fmt.Errorf("%w: %v", ErrLeaderLog, textsafe.JSONError(err))
	}
	if w.Status != "ok" {
		msg := w.ErrorMessage
		if msg == "" {
			msg = fmt.Sprintf("status %q", w.Status)
		}
		return LeaderLog{}, fmt.Errorf("%w: cncli reported an error: %s", ErrLeaderLog, msg)
	}
	if w.Epoch == nil {
		return LeaderLog{}, fmt.Errorf("%w: missing epoch", ErrLeaderLog)
	}
	id, err := keys.ParsePoolID(w.PoolID)
	if err != nil {
		return LeaderLog{}, fmt.Errorf("%w: poolId: %w", ErrLeaderLog, err)
	}
	l := LeaderLog{Epoch: *w.Epoch, PoolID: id}
	for i, a := range w.AssignedSlots {
		if a.Slot == nil {
			return LeaderLog{}, fmt.Errorf("%w: assigned slot %d has no slot number", ErrLeaderLog, i+1)
		}
		l.Slots = append(l.Slots, *a.Slot)
		if a.SlotInEpoch == nil {
			continue
		}
		if *a.SlotInEpoch > *a.Slot {
			return LeaderLog{}, fmt.Errorf("%w: slot %d has slotInEpoch %d", ErrLeaderLog, *a.Slot, *a.SlotInEpoch)
		}
		start := *a.Slot - *a.SlotInEpoch
		if l.HasEpochStart && start != l.EpochStart {
			return LeaderLog{}, fmt.Errorf("%w: slots %d and %d are in different epochs", ErrLeaderLog, l.Slots[0], *a.Slot)
		}
		l.EpochStart, l.HasEpochStart = start, true
	}
	sort.Slice(l.Slots, func(i, j int) bool { return l.Slots[i] < l.Slots[j] })
	return l, nil
}

// Coverage is the span of time the leader log speaks for: its epoch when
// the epoch's start and length are known, else from its first to just
// after its last assigned slot.
func (l LeaderLog) Coverage(n opcert.Network, epochLength uint64) Span {
	if l.HasEpochStart && epochLength > 0 {
		return Span{From: n.SlotTime(l.EpochStart), To: n.SlotTime(opcert.AddPeriods(l.EpochStart, epochLength))}
	}
	if len(l.Slots) == 0 {
		return Span{}
	}
	return Span{From: n.SlotTime(l.Slots[0]), To: n.SlotTime(opcert.AddPeriods(l.Slots[len(l.Slots)-1], 1))}
}

// SlotTimes are the start instants of the assigned slots.
func (l LeaderLog) SlotTimes(n opcert.Network) []time.Time {
	out := make([]time.Time, len(l.Slots))
	for i, s := range l.Slots {
		out[i] = n.SlotTime(s)
	}
	return out
}
