package producer

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/kesrotate/kesrotate/opcert"
	"github.com/kesrotate/kesrotate/producer/nodelog"
	"github.com/kesrotate/kesrotate/producer/nodequery"
)

// Expect is the cert the node should forge with after a reload, and the
// chain's KES period it must forge in.
type Expect struct {
	StartPeriod uint64 // the cert's first KES period (c0)
	EndPeriod   uint64 // the first period it is no longer valid in (c0 + max evolutions)
	Counter     uint64
	// MaxKESEvolutions is the network's; a cert whose window has not
	// started shows this many remaining periods in the node's metrics.
	MaxKESEvolutions uint64
	// Period is the KES period of the chain now (from the node socket,
	// --tip-slot or the clock).
	Period uint64
	// Ambiguous: the set the node had before starts in the same KES
	// period, and the node serves no counter metric, so its metrics
	// cannot tell the two certs apart.
	Ambiguous bool
}

// expectFor is what a node forging with cert c at the KES period of slot
// looks like.
func (a *Agent) expectFor(c *opcert.Certificate, slot uint64) Expect {
	w := c.Window(a.Network)
	return Expect{StartPeriod: w.Start, EndPeriod: w.End, Counter: c.Counter,
		MaxKESEvolutions: a.Network.MaxKESEvolutions, Period: a.Network.KESPeriod(slot)}
}

// Confirmation is what the node showed after a reload.
type Confirmation struct {
	Confirmed bool
	// Sources that confirmed it: "metrics", "log".
	Sources []string
	// Unconfirmable: nothing configured can tell whether the node took
	// the set ("signalled, not confirmed"); the set stays.
	Unconfirmable bool
	// Detail says what was seen, or why it was not confirmed.
	Detail string
}

// Watch is what Confirm looks at: a metrics URL, and the node's log read
// from just before the signal.
type Watch struct {
	MetricsURL string
	Log        nodelog.Reader
}

// OpenLog opens the node log the agent is configured with, from now on
// (nil when none is configured).
func (a *Agent) OpenLog(now time.Time) (nodelog.Reader, error) {
	if a.Config.NodeLog == "" {
		return nil, nil
	}
	return nodelog.Open(a.Config.NodeLog, a.Config.Signal.SystemdUnit, now)
}

// evidence is what the sources have shown since the signal.
type evidence struct {
	failure   string // a log line saying the new set is not in use
	denied    bool   // that line is the node refused read access to a file (ErrNodeCannotRead)
	enabled   bool   // "Enabling block forging" after the signal
	processed bool   // the topology line after the signal: the credentials step is done
	logKES    *nodelog.Event
	metrics   string // why the metrics do not (yet) confirm; "" when they do
	metricsOK bool
	mFailure  string // a metrics reading that proves the node cannot forge with the cert
	mSince    time.Time
	logDetail string
}

// metricsGrace is how long a failing metrics reading must persist before it
// counts when no log line shows that the node has processed the signal:
// the gauges may still describe the state before the reload.
const metricsGrace = 5 * time.Second

// Confirm polls the node's metrics and log until they show the node
// forging with the expected cert, or ctx ends. Forging with the cert
// means: the cert's window contains the chain's KES period (the node
// checks neither at reload), the metrics show the cert's start period,
// the tip's KES period as current, remaining periods above 0 and forging
// enabled; or the log shows the reload succeeded (Enabling block forging,
// or — at the Notice severity the shipped configs use — the topology line
// that follows the credential update with no error before it, and a
// Forge.StateInfo line for the cert). A log line saying the reload failed
// ends it at once with ErrNotConfirmed and the node's reason (also wrapping
// ErrNodeCannotRead when the reason is a file it may not read).
func Confirm(ctx context.Context, w Watch, exp Expect, poll time.Duration) (Confirmation, error) {
	if exp.Period < exp.StartPeriod || exp.Period >= exp.EndPeriod {
		why := fmt.Sprintf("the cert's KES window %d–%d does not contain the current period %d: the node loads it but cannot make valid blocks",
			exp.StartPeriod, exp.EndPeriod-1, exp.Period)
		return Confirmation{Detail: why}, fmt.Errorf("%w: %s", ErrNotConfirmed, why)
	}
	if w.MetricsURL == "" && w.Log == nil {
		return Confirmation{Unconfirmable: true, Detail: "no metrics URL or node log configured"}, nil
	}
	if poll <= 0 {
		poll = 200 * time.Millisecond
	}
	var ev evidence
	for {
		if w.Log != nil {
			events, err := w.Log.Read(ctx)
			if err != nil {
				ev.logDetail = err.Error()
			}
			ev.observe(events, exp)
		}
		if ev.failure != "" {
			if ev.denied {
				return Confirmation{Detail: ev.failure}, fmt.Errorf("%w: %w: %s", ErrNotConfirmed, ErrNodeCannotRead, ev.failure)
			}
			return Confirmation{Detail: ev.failure}, fmt.Errorf("%w: %s", ErrNotConfirmed, ev.failure)
		}
		if w.MetricsURL != "" {
			ev.scrape(ctx, w.MetricsURL, exp)
			if ev.mFailure != "" && (ev.enabled || ev.processed || time.Since(ev.mSince) >= metricsGrace) {
				return Confirmation{Detail: ev.mFailure}, fmt.Errorf("%w: %s", ErrNotConfirmed, ev.mFailure)
			}
		}
		if c, done := ev.verdict(w, exp); done {
			// The metrics confirmed; the log usually says so a moment
			// later: look a little longer so the report names both.
			if c.Confirmed && len(c.Sources) == 1 && w.Log != nil && ev.failure == "" {
				c = ev.waitForLog(ctx, w, exp, poll, c)
			}
			return c, nil
		}
		select {
		case <-ctx.Done():
			last := ev.last(w)
			return Confirmation{Detail: last}, fmt.Errorf("%w within the timeout; last seen: %s", ErrNotConfirmed, last)
		case <-time.After(poll):
		}
	}
}

// logGrace bounds how long a confirmation by the metrics waits for the log
// to agree.
const logGrace = time.Second

func (ev *evidence) waitForLog(ctx context.Context, w Watch, exp Expect, poll time.Duration, c Confirmation) Confirmation {
	deadline := time.Now().Add(logGrace)
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return c
		case <-time.After(poll):
		}
		events, _ := w.Log.Read(ctx)
		ev.observe(events, exp)
		if ev.failure != "" {
			return c // the metrics show the cert in use; keep their verdict
		}
		if d, done := ev.verdict(w, exp); done && len(d.Sources) > 1 {
			return d
		}
	}
	return c
}

// observe takes in the log lines since the last look.
func (ev *evidence) observe(events []nodelog.Event, exp Expect) {
	for _, e := range events {
		e := e
		switch e.Kind {
		case nodelog.Enabled:
			ev.enabled = true
		case nodelog.TopologyUpdate:
			ev.processed = true
		case nodelog.Disabled:
			ev.failure = "the node disabled block forging: one of the credential files does not exist where it looks (a dangling link, or a path the node cannot see)"
		case nodelog.NotEffective:
			ev.failure = "the node has not finished replaying its ledger: a reload is not effective until consensus has started; it keeps the credentials it started with"
		case nodelog.ReloadError:
			ev.failure = "the node refused the new set and kept the old one: " + e.Message
			ev.denied = e.Denied
		case nodelog.BlockTypeMismatch:
			ev.failure = "the node refused the new set: " + e.Message
		case nodelog.KESInfo:
			// A KES line for the cert counts once the reload is done, or
			// at any time when the previous cert starts elsewhere (then
			// only the new key can carry this start period).
			if ev.enabled || ev.processed || (!exp.Ambiguous && e.Start != nil && *e.Start == exp.StartPeriod) {
				ev.logKES = &e
				if e.Start != nil && *e.Start == exp.StartPeriod && e.Current != nil && *e.Current != exp.Period {
					ev.failure = fmt.Sprintf("the node holds the cert from period %d but its KES key is at period %d, not the chain's %d", exp.StartPeriod, *e.Current, exp.Period)
				}
			}
		case nodelog.ForgeStateError, nodelog.CannotForge:
			// Only when the line names this cert: a slot already under
			// way may still report the previous key.
			if s, ok := startIn(e.Message); (ev.enabled || ev.processed) && ok && s == exp.StartPeriod {
				ev.failure = "the node cannot forge with the new cert: " + e.Message
			}
		}
	}
}

var startRe = []*regexp.Regexp{
	regexp.MustCompile(`kesStartPeriod = KESPeriod (?:\{unKESPeriod = )?(\d+)`),
	regexp.MustCompile(`"startPeriod":(\d+)`),
}

func startIn(s string) (uint64, bool) {
	for _, re := range startRe {
		if m := re.FindStringSubmatch(s); m != nil {
			n, err := strconv.ParseUint(m[1], 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// scrape reads the node's KES gauges.
func (ev *evidence) scrape(ctx context.Context, url string, exp Expect) {
	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ev.metricsOK = false
	failure := ""
	defer func() {
		if failure == "" {
			ev.mFailure = ""
		} else if ev.mFailure == "" {
			ev.mFailure, ev.mSince = failure, time.Now()
		}
	}()
	s, err := nodequery.Metrics(c, url)
	if err != nil {
		if ctx.Err() == nil || ev.metrics == "" {
			ev.metrics = err.Error() // a scrape cut short by the end of the wait keeps what was seen before
		}
		return
	}
	m := ReadForging(s)
	ev.metrics = m.String()
	switch {
	case m.StartPeriod == nil:
		ev.metrics = "the node's metrics show no op cert (it is not forging)"
	case *m.StartPeriod != exp.StartPeriod:
		// Still the old cert (or another one): wait.
	case m.Enabled != nil && !*m.Enabled:
		failure = "the node's metrics say forging is disabled (a credential file it cannot find, or a reload during its ledger replay)"
	case m.CurrentPeriod != nil && m.Remaining != nil && *m.CurrentPeriod == 0 && *m.Remaining == 0:
		failure = fmt.Sprintf("the node took the cert from period %d but cannot evolve its KES key (current and remaining KES periods are 0)", exp.StartPeriod)
	case m.CurrentPeriod != nil && *m.CurrentPeriod != exp.Period:
		failure = fmt.Sprintf("the node took the cert from period %d but its KES key is at period %d, not the chain's %d", exp.StartPeriod, *m.CurrentPeriod, exp.Period)
	case m.Remaining != nil && *m.Remaining <= 0:
		failure = fmt.Sprintf("the node took the cert from period %d but reports no remaining KES periods", exp.StartPeriod)
	default:
		ev.metricsOK = true
	}
}

// verdict decides once the evidence suffices.
func (ev *evidence) verdict(w Watch, exp Expect) (Confirmation, bool) {
	// The log proves the node read the files now at the paths: an
	// "Enabling block forging" line, or the topology line with no error
	// before it and a KES info line for the cert after it.
	logKESOK := ev.logKES != nil && ev.logKES.Start != nil && *ev.logKES.Start == exp.StartPeriod
	logOK := ev.enabled || (ev.processed && (logKESOK || ev.metricsOK)) || (!exp.Ambiguous && logKESOK)
	var sources []string
	switch {
	case w.MetricsURL != "" && ev.metricsOK && (!exp.Ambiguous || logOK):
		sources = append(sources, "metrics")
		if logOK {
			sources = append(sources, "log")
		}
	case w.MetricsURL == "" && logOK && (ev.enabled || logKESOK):
		sources = append(sources, "log")
	case w.MetricsURL != "" && ev.metricsOK && exp.Ambiguous && w.Log == nil:
		return Confirmation{Unconfirmable: true, Detail: fmt.Sprintf(
			"the node forges with a cert from KES period %d, but its metrics cannot tell the new cert from the previous one (same start period, and the node has no counter metric); configure the node log to confirm",
			exp.StartPeriod)}, true
	}
	if len(sources) == 0 {
		return Confirmation{}, false
	}
	return Confirmation{Confirmed: true, Sources: sources}, true
}

func (ev *evidence) last(w Watch) string {
	var parts []string
	if w.MetricsURL != "" && ev.metrics != "" {
		parts = append(parts, ev.metrics)
	}
	if w.Log != nil {
		switch {
		case ev.logDetail != "":
			parts = append(parts, ev.logDetail)
		case ev.enabled:
			parts = append(parts, "the log says forging was enabled")
		case ev.processed:
			parts = append(parts, "the log shows the reload without an error, but no KES info for the new cert")
		default:
			parts = append(parts, "nothing in the node log about the reload")
		}
	}
	if len(parts) == 0 {
		return "nothing seen"
	}
	s := parts[0]
	for _, p := range parts[1:] {
		s += "; " + p
	}
	return s
}

// Forging is the node's forging state read from its metrics.
type Forging struct {
	Error         string  `json:"error,omitempty"`
	Format        string  `json:"metrics_format,omitempty"`
	Enabled       *bool   `json:"enabled,omitempty"`
	StartPeriod   *uint64 `json:"start_kes_period,omitempty"`
	CurrentPeriod *uint64 `json:"current_kes_period,omitempty"`
	Remaining     *int64  `json:"remaining_kes_periods,omitempty"`
	// MatchesInstalled: the node forges with a cert that starts where the
	// installed one does, in the chain's KES period, with periods left.
	// The metrics cannot tell two certs with one start period apart.
	MatchesInstalled bool `json:"matches_installed"`
}

// ReadForging takes the forging gauges out of a scrape.
func ReadForging(s *nodequery.Scrape) Forging {
	f := Forging{Format: s.Format}
	if v, ok := s.Lookup(nodequery.MetricForgingEnabled); ok {
		b := v != 0
		f.Enabled = &b
	}
	if v, ok := s.Lookup(nodequery.MetricCertStartPeriod); ok && v >= 0 {
		u := uint64(v)
		f.StartPeriod = &u
	}
	if v, ok := s.Lookup(nodequery.MetricCurrentKESPeriod); ok && v >= 0 {
		u := uint64(v)
		f.CurrentPeriod = &u
	}
	if v, ok := s.Lookup(nodequery.MetricRemainingKES); ok {
		i := int64(v)
		f.Remaining = &i
	}
	return f
}

func (f Forging) String() string {
	s := "the node's metrics show"
	if f.StartPeriod != nil {
		s += fmt.Sprintf(" start period %d", *f.StartPeriod)
	}
	if f.CurrentPeriod != nil {
		s += fmt.Sprintf(", current period %d", *f.CurrentPeriod)
	}
	if f.Remaining != nil {
		s += fmt.Sprintf(", %d remaining", *f.Remaining)
	}
	if f.Enabled != nil {
		s += fmt.Sprintf(", forging enabled %v", *f.Enabled)
	}
	return s
}
