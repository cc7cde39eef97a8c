package producer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kesrotate/kesrotate/plan"

	"github.com/kesrotate/kesrotate/internal/promtext"
	"github.com/kesrotate/kesrotate/opcert"
	"github.com/kesrotate/kesrotate/producer/nodequery"
)

// Status is what `cardano-cli query kes-period-info` reports about the
// installed cert, plus the node's forging state and the agent's sets. Its
// JSON holds every plan.AgentStatus field, so `kesrotate plan --status`
// reads it.
type Status struct {
	plan.AgentStatus

	Network          string    `json:"network"`
	ChainSource      string    `json:"chain_source"` // "socket" or "given"
	CurrentPeriod    uint64    `json:"current_kes_period"`
	CertEndPeriod    uint64    `json:"cert_end_kes_period"` // first period the cert is no longer valid in
	RemainingPeriods int64     `json:"remaining_kes_periods"`
	Expiry           time.Time `json:"expiry"`
	CertHash         string    `json:"cert_hash"`
	PeriodOK         bool      `json:"kes_period_ok"`
	PeriodVerdict    string    `json:"kes_period_verdict"`
	CounterOK        *bool     `json:"counter_ok,omitempty"` // nil when the on-chain counter is unknown
	CounterVerdict   string    `json:"counter_verdict"`
	ActiveSet        string    `json:"active_set,omitempty"`
	PreviousSet      string    `json:"previous_set,omitempty"`
	PendingKESVKey   string    `json:"pending_kes_vkey,omitempty"` // hex, KES-on-producer mode
	Role             string    `json:"role"`                       // primary or standby
	StagedSet        string    `json:"staged_set,omitempty"`       // standby: the set promote would install
	CertSource       string    `json:"cert_source"`                // CertFromNode or CertFromStaged
	Forging          *Forging  `json:"forging,omitempty"`          // nil without a metrics URL
	// CertKESVKey is the installed cert's KES vkey (hex).
	CertKESVKey string `json:"cert_kes_vkey"`
	// KESAgent is kes-agent's state (kes-agent mode only; KeyUsers).
	KESAgent *KESAgentStatus `json:"kes_agent,omitempty"`
	// Mithril is the Mithril signer's state (with --mithril-signer;
	// KeyUsers).
	Mithril *SignerStatus `json:"mithril_signer,omitempty"`
	Taken   time.Time     `json:"taken"`
}

// Where a Status's cert comes from (Status.CertSource).
const (
	CertFromNode   = "node"   // the node's cert path
	CertFromStaged = "staged" // a standby's staged set: the cert promote would install
)

// Status reports on the installed cert at the chain state cs. cs.OnChainKnown
// says whether cs.OnChain came from the chain (socket or given by hand).
// metrics is a scrape of the node (nil if none); scrapeErr its failure.
func (a *Agent) Status(cs ChainState, source string, metrics *nodequery.Scrape, scrapeErr error, now time.Time) (*Status, error) {
	c, err := a.InstalledCert()
	if err != nil {
		return nil, fmt.Errorf("installed cert %s: %w: %w", a.Config.Cert, ErrCertUnreadable, err)
	}
	certSource := CertFromNode
	staged, _ := a.StagedSet()
	if a.Role() == RoleStandby && staged != "" {
		// A standby reports the cert it would forge with once promoted.
		if c, err = a.StagedCert(); err != nil {
			return nil, fmt.Errorf("staged set %s: %w: %w", staged, ErrCertUnreadable, err)
		}
		certSource = CertFromStaged
	}
	if c == nil {
		return nil, fmt.Errorf("%w at %s", ErrNoCert, a.Config.Cert)
	}
	n := a.Network
	kp := n.KESPeriod(cs.TipSlot)
	w := c.Window(n)
	s := &Status{
		AgentStatus: plan.AgentStatus{
			PoolID: a.Config.PoolID, NetworkMagic: n.Magic, TipSlot: cs.TipSlot,
			CertCounter: c.Counter, CertKESPeriod: c.KESPeriod,
			SlotsPerKESPeriod: n.SlotsPerKESPeriod, MaxKESEvolutions: n.MaxKESEvolutions,
		},
		Network: n.Name, ChainSource: source, CurrentPeriod: kp, CertEndPeriod: w.End,
		RemainingPeriods: int64(w.End) - int64(kp), Expiry: c.Expiry(n), CertHash: c.Hash(),
		Taken: now.UTC().Truncate(time.Second), Role: a.Role(), CertSource: certSource,
		CertKESVKey: fmt.Sprintf("%x", c.KESVKey[:]),
	}
	if a.Role() == RoleStandby {
		s.StagedSet = staged
	}
	if err := w.Check(kp); err != nil {
		s.PeriodVerdict = err.Error()
	} else {
		s.PeriodOK = true
		s.PeriodVerdict = fmt.Sprintf("the op cert's KES period is within the correct interval (%d ≤ %d < %d)", w.Start, kp, w.End)
	}
	if cs.OnChainKnown {
		s.OnChainCounter = cs.OnChain.Text()
		ok := opcert.CheckCounter(c.Counter, cs.OnChain) == nil
		s.CounterOK = &ok
		switch m := cs.OnChain.M(); {
		case ok:
			s.CounterVerdict = fmt.Sprintf("the op cert counter %d agrees with the node protocol state counter (%s)", c.Counter, cs.OnChain)
		case c.Counter < m:
			s.CounterVerdict = fmt.Sprintf("the protocol state counter %d is greater than the op cert counter %d", m, c.Counter)
		default:
			s.CounterVerdict = fmt.Sprintf("the op cert counter %d is more than one above the protocol state counter %s", c.Counter, cs.OnChain)
		}
	} else {
		s.CounterVerdict = "the on-chain counter is unknown (no node socket)"
	}
	s.ActiveSet, _ = a.CurrentSet()
	if s.ActiveSet != "" {
		if info, err := a.Set(s.ActiveSet); err == nil {
			s.PreviousSet = info.Previous
		}
	}
	if vk, err := a.pendingVKey(); err == nil && vk != nil {
		s.PendingKESVKey = fmt.Sprintf("%x", vk[:]) // made here, or staged in kes-agent
	}
	if metrics != nil || scrapeErr != nil {
		f := &Forging{}
		if scrapeErr != nil {
			f.Error = scrapeErr.Error()
		} else {
			*f = ReadForging(metrics)
			f.MatchesInstalled = f.StartPeriod != nil && *f.StartPeriod == c.KESPeriod &&
				f.CurrentPeriod != nil && *f.CurrentPeriod == kp && f.Remaining != nil && *f.Remaining > 0 &&
				(f.Enabled == nil || *f.Enabled)
		}
		s.Forging = f
	}
	return s, nil
}

// Observe is the status command's whole look: the node's metrics (when a
// metrics URL is configured, within timeout, 10 s when 0), Status at the
// chain view v, and KeyUsers.
func (a *Agent) Observe(ctx context.Context, v *ChainView, now time.Time, timeout time.Duration) (*Status, error) {
	var metrics *nodequery.Scrape
	var scrapeErr error
	if a.Config.MetricsURL != "" {
		if timeout <= 0 {
			timeout = 10 * time.Second
		}
		mctx, cancel := context.WithTimeout(ctx, timeout)
		metrics, scrapeErr = nodequery.Metrics(mctx, a.Config.MetricsURL)
		cancel()
	}
	s, err := a.Status(v.ChainState, v.Source, metrics, scrapeErr, now)
	if err != nil {
		return nil, err
	}
	a.KeyUsers(ctx, s)
	return s, nil
}

// KeyUsers adds to the status what the node's other key users say: in
// kes-agent mode, kes-agent's key and period; the Mithril signer's unit,
// last restart and registration.
func (a *Agent) KeyUsers(ctx context.Context, s *Status) {
	if a.KESAgentMode() {
		s.KESAgent = a.kesAgentStatus(ctx, s)
	}
	if a.Config.MithrilSigner != "" {
		s.Mithril = a.signerStatus(ctx, s)
	}
}

// Prometheus renders the status for node_exporter's textfile collector.
func (s *Status) Prometheus() []byte {
	var w promtext.Writer
	labels := []promtext.Label{{Name: "pool_id", Value: s.PoolID}, {Name: "network", Value: s.Network}}
	put := func(name, help string, v float64) { w.Gauge(name, help, labels, v) }
	bit := func(ok bool) float64 {
		if ok {
			return 1
		}
		return 0
	}
	put("kesrotate_agent_tip_slot", "The chain tip slot the status was taken at.", float64(s.TipSlot))
	put("kesrotate_agent_current_kes_period", "The KES period at the tip.", float64(s.CurrentPeriod))
	put("kesrotate_agent_cert_counter", "The installed op cert's counter.", float64(s.CertCounter))
	put("kesrotate_agent_cert_start_kes_period", "The installed op cert's first KES period.", float64(s.CertKESPeriod))
	put("kesrotate_agent_cert_end_kes_period", "The first KES period the installed op cert is no longer valid in.", float64(s.CertEndPeriod))
	put("kesrotate_agent_remaining_kes_periods", "KES periods left before the installed op cert expires.", float64(s.RemainingPeriods))
	put("kesrotate_agent_cert_expiry_timestamp_seconds", "When the installed op cert expires (unix time).", float64(s.Expiry.Unix()))
	put("kesrotate_agent_kes_period_ok", "1 if the current KES period is inside the op cert's window.", bit(s.PeriodOK))
	if oc, known, _ := s.OnChain(); known {
		if oc.Known {
			put("kesrotate_agent_onchain_counter", "The pool's on-chain op cert counter.", float64(oc.N))
		}
		put("kesrotate_agent_counter_ok", "1 if the installed counter passes the Praos counter check.", bit(s.CounterOK != nil && *s.CounterOK))
	}
	if f := s.Forging; f != nil && f.Error == "" {
		if f.Enabled != nil {
			put("kesrotate_agent_node_forging_enabled", "The node's forging_enabled metric.", bit(*f.Enabled))
		}
		put("kesrotate_agent_node_matches_installed", "1 if the node forges with the installed op cert.", bit(f.MatchesInstalled))
	}
	put("kesrotate_agent_standby", "1 if this producer is a standby (its node must not forge).", bit(s.Role == RoleStandby))
	if f := s.Forging; f != nil && f.Error == "" && f.Enabled != nil {
		put("kesrotate_agent_node_forging", "1 if the node's metrics say it forges (forging_enabled).", bit(*f.Enabled))
	}
	if ks := s.KESAgent; ks != nil {
		put("kesrotate_agent_kes_agent_up", "1 if kes-agent answered kes-agent-control info.", bit(ks.Error == ""))
		if ks.Info != nil {
			put("kesrotate_agent_kes_agent_key_installed", "1 if kes-agent holds an installed KES key (it loses it when it restarts).", bit(ks.Info.Installed != nil))
			put("kesrotate_agent_kes_agent_kes_period_ok", "1 if kes-agent's KES period is the chain's.", bit(ks.PeriodOK))
			put("kesrotate_agent_kes_agent_matches_cert", "1 if kes-agent's key is the installed cert's.", bit(ks.MatchesCert))
		}
	}
	if ms := s.Mithril; ms != nil {
		put("kesrotate_agent_mithril_signer_up", "1 if the Mithril signer's unit is active.", bit(ms.ActiveState == "active"))
		put("kesrotate_agent_mithril_signer_restarted", "1 if the Mithril signer was restarted after the active set was installed.", bit(ms.RestartedForActiveSet))
		if ms.Registered != nil {
			put("kesrotate_agent_mithril_signer_registered", "1 if the running Mithril signer registered.", bit(*ms.Registered))
		}
		if ms.LastEpoch != nil {
			put("kesrotate_agent_mithril_signer_registration_epoch", "The epoch the Mithril signer last registered in.", float64(*ms.LastEpoch))
		}
	}
	put("kesrotate_agent_status_timestamp_seconds", "When this status was taken (unix time).", float64(s.Taken.Unix()))
	return w.Bytes()
}

// Status verdicts: what makes 'status' exit 1.
var (
	// ErrCertInvalid: the installed cert's window does not contain the
	// chain's KES period.
	ErrCertInvalid = errors.New("the installed op cert is not valid now")
	// ErrCounterWrong: the chain would reject the installed cert's counter.
	ErrCounterWrong = errors.New("the installed op cert's counter is wrong for the chain")
	// ErrNotForging: the node's metrics show it does not forge with the
	// installed cert.
	ErrNotForging = errors.New("the node does not forge with the installed cert")
	// ErrStandbyForges: a standby's node forges.
	ErrStandbyForges = errors.New("this standby's node forges")
)

// Status parts: what each of a status's checks is about.
const (
	PartKESPeriod           = "kes-period"           // the cert's window and the chain's period
	PartCounter             = "counter"              // the cert's counter and the chain's
	PartForging             = "forging"              // the node's metrics (with a metrics URL)
	PartKESAgent            = "kes-agent"            // what kes-agent holds (kes-agent mode)
	PartMithril             = "mithril"              // the Mithril signer's unit and restart
	PartMithrilRegistration = "mithril-registration" // its registration
)

// LevelUnknown is a status check that cannot be told (a "?").
const LevelUnknown = "unknown"

// StatusCheck is one verdict of a status: its part, how it stands
// (LevelOK, LevelFail, LevelUnknown, or LevelInfo for what is no fault
// here, such as a standby's Mithril signer) and what it says. Err is what
// a failed check makes Verdict return.
type StatusCheck struct {
	Part  string
	Level string
	Text  string
	Err   error
}

// Checks are the status's verdicts, part by part, in the order Verdict
// weighs them: the cert's period and counter, kes-agent, the node's
// forging, the Mithril signer. A part without its source (no metrics URL,
// no kes-agent, no signer) has none.
func (s *Status) Checks() []StatusCheck {
	var cs []StatusCheck
	period := StatusCheck{Part: PartKESPeriod, Level: LevelOK, Text: s.PeriodVerdict}
	if !s.PeriodOK {
		period.Level, period.Err = LevelFail, fmt.Errorf("%w: %s", ErrCertInvalid, s.PeriodVerdict)
	}
	counter := StatusCheck{Part: PartCounter, Level: LevelUnknown, Text: s.CounterVerdict}
	switch {
	case s.CounterOK != nil && *s.CounterOK:
		counter.Level = LevelOK
	case s.CounterOK != nil:
		counter.Level, counter.Err = LevelFail, fmt.Errorf("%w: %s", ErrCounterWrong, s.CounterVerdict)
	}
	cs = append(cs, period, counter)
	cs = append(cs, s.kesAgentChecks()...)
	if f := s.Forging; f != nil {
		cs = append(cs, s.forgingCheck(f))
	}
	return append(cs, s.signerChecks()...)
}

// Verdict is nil when the producer is as it should be: the cert valid
// now, its counter right for the chain when known, kes-agent holding its
// key, (where the metrics say) the primary's node forging with it or a
// standby's node not forging at all, and a primary's Mithril signer
// restarted for the active set and registered. Else it is the first
// failed check's error.
func (s *Status) Verdict() error {
	for _, c := range s.Checks() {
		if c.Level == LevelFail {
			return c.Err
		}
	}
	return nil
}

func failed(part string, err error, format string, args ...any) StatusCheck {
	return StatusCheck{Part: part, Level: LevelFail, Text: fmt.Sprintf(format, args...), Err: err}
}

func passed(part, format string, args ...any) StatusCheck {
	return StatusCheck{Part: part, Level: LevelOK, Text: fmt.Sprintf(format, args...)}
}

// forgingCheck is the node's part, from its metrics.
func (s *Status) forgingCheck(f *Forging) StatusCheck {
	notForging := func(format string, args ...any) StatusCheck {
		err := fmt.Errorf("%w: %s", ErrNotForging, fmt.Sprintf(format, args...))
		return failed(PartForging, err, "%s", err.Error())
	}
	switch {
	case f.Error != "":
		return StatusCheck{Part: PartForging, Level: LevelUnknown, Text: "node metrics: " + f.Error}
	case s.Role == RoleStandby && f.Enabled != nil && *f.Enabled:
		return failed(PartForging, fmt.Errorf("%w (forging_enabled 1): two producers may be forging for the pool", ErrStandbyForges),
			"this standby's node forges (forging_enabled 1): two producers may be forging for the pool; demote one")
	case s.Role == RoleStandby:
		return passed(PartForging, "this standby's node does not forge")
	case f.MatchesInstalled:
		return passed(PartForging, "the node forges with the installed cert (start period %d)", *f.StartPeriod)
	case f.StartPeriod == nil:
		return notForging("its metrics show no op cert")
	case f.Enabled != nil && !*f.Enabled:
		return notForging("its metrics say forging is disabled")
	case *f.StartPeriod != s.CertKESPeriod:
		return notForging("it forges with a cert from period %d, the installed one starts in %d", *f.StartPeriod, s.CertKESPeriod)
	}
	return notForging("%s", strings.TrimPrefix(f.String(), "the node's metrics show "))
}

// kesAgentChecks are kes-agent's part: its KES period and its key. A
// missing key comes first: it is the more urgent.
func (s *Status) kesAgentChecks() []StatusCheck {
	ks := s.KESAgent
	switch {
	case ks == nil:
		return nil
	case ks.Error != "":
		err := ks.err
		if err == nil {
			err = fmt.Errorf("%w: %s", ErrKESAgent, ks.Error)
		}
		return []StatusCheck{failed(PartKESAgent, err, "kes-agent: %s", ks.Error)}
	}
	in := ks.Info
	period := passed(PartKESAgent, "kes-agent is in the chain's KES period %d", in.Period)
	if !ks.PeriodOK {
		period = failed(PartKESAgent, fmt.Errorf("%w: kes-agent is in KES period %d", ErrKESAgentPeriod, in.Period),
			"kes-agent is in KES period %d, the chain in %d: it evolves the key for the wrong period", in.Period, s.CurrentPeriod)
	}
	var key StatusCheck
	switch k := in.Installed; {
	case k == nil:
		what, held := "no key", "kes-agent holds no KES key (a kes-agent that restarts loses it): the node forges only until it restarts"
		if in.Deleted {
			what, held = "a deletion (drop-key)", "kes-agent holds no KES key (it was dropped): the node forges only until it restarts"
		}
		key = failed(PartKESAgent, fmt.Errorf("%w: it holds %s; a kes-agent that restarts loses its key, and the node forges with the key it already has only until it restarts", ErrKESAgentNoKey, what),
			"%s", held)
		return []StatusCheck{key, period}
	case ks.MatchesCert:
		key = passed(PartKESAgent, "kes-agent holds the installed cert's key (#%d, evolution %d)", k.Counter, k.Evolution)
	default:
		key = failed(PartKESAgent, fmt.Errorf("%w: kes-agent holds cert #%d from period %d (vkey %s…)", ErrKESAgentMismatch, k.Counter, k.Start, k.VKeyHex[:8]),
			"kes-agent holds cert #%d from period %d, not the installed #%d from %d", k.Counter, k.Start, s.CertCounter, s.CertKESPeriod)
	}
	return []StatusCheck{period, key}
}

// signerChecks are the Mithril signer's part: its unit runs and was
// restarted for the active set, and it registered (where that can be
// told). On a standby nothing about the signer is a fault: its checks are
// LevelInfo there.
func (s *Status) signerChecks() []StatusCheck {
	ss := s.Mithril
	if ss == nil {
		return nil
	}
	standby := s.Role == RoleStandby
	// onStandby turns a failure into information on a standby.
	onStandby := func(c StatusCheck) StatusCheck {
		if standby && c.Level == LevelFail {
			c.Level, c.Err = LevelInfo, nil
			c.Text += " (a standby: not a fault)"
		}
		return c
	}
	if ss.Error != "" {
		return []StatusCheck{onStandby(failed(PartMithril, fmt.Errorf("%w: %s", ErrSignerDown, ss.Error), "the Mithril signer: %s", ss.Error))}
	}
	var unit StatusCheck
	switch {
	case ss.ActiveState != "active":
		unit = failed(PartMithril, fmt.Errorf("%w: unit %s is %s", ErrSignerDown, ss.Unit, ss.ActiveState), "the Mithril signer is not running (%s)", ss.ActiveState)
	case standby:
		unit = StatusCheck{Part: PartMithril, Level: LevelInfo, Text: "the Mithril signer runs (a standby: its restart follows a promotion)"}
	case !ss.RestartedForActiveSet && s.ActiveSet != "": // before the agent's first install it has nothing to follow
		unit = failed(PartMithril, fmt.Errorf("%w: it may still hold the previous KES key", ErrSignerStale),
			"the Mithril signer was not restarted after set %s was installed: 'kesrotate-agent mithril restart'", s.ActiveSet)
	case s.ActiveSet == "":
		unit = passed(PartMithril, "the Mithril signer runs")
	default:
		unit = passed(PartMithril, "the Mithril signer runs and was restarted for set %s", s.ActiveSet)
	}
	var reg StatusCheck
	switch {
	case ss.MetricsError != "":
		reg = StatusCheck{Part: PartMithrilRegistration, Level: LevelUnknown, Text: "the Mithril signer's metrics: " + ss.MetricsError}
	case ss.Registered == nil:
		reg = StatusCheck{Part: PartMithrilRegistration, Level: LevelUnknown, Text: "the Mithril signer's registration cannot be told (it restarted since, and no --mithril-metrics)"}
	case *ss.Registered && ss.LastEpoch != nil:
		reg = passed(PartMithrilRegistration, "the Mithril signer registered (epoch %d)", *ss.LastEpoch)
	case *ss.Registered:
		reg = passed(PartMithrilRegistration, "the Mithril signer registered")
	default:
		reg = failed(PartMithrilRegistration, fmt.Errorf("%w: no successful registration since it started", ErrSignerNotRegistered),
			"the Mithril signer has not registered since it started")
	}
	return []StatusCheck{onStandby(unit), onStandby(reg)}
}
