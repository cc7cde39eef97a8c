package cold

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kesrotate/kesrotate/plan"

	"github.com/spf13/cobra"

	"github.com/kesrotate/kesrotate/ceremony"
	"github.com/kesrotate/kesrotate/internal/cli"
	"github.com/kesrotate/kesrotate/internal/promtext"
	"github.com/kesrotate/kesrotate/internal/safefile"
	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/opcert"
)

// Exit codes of plan, for cron and monitoring plugins (Nagios/Icinga
// convention: OK, WARNING, CRITICAL, UNKNOWN).
const (
	planExitOK       = 0
	planExitWarn     = 1
	planExitCritical = 2
	planExitUnknown  = 3
)

type planOptions struct {
	certs, statuses, schedules []string
	network, genesis           string
	warnLead, criticalLead     string
	quiet                      bool
	prometheus                 string
	rotateAt, rotationTakes    string
}

func newPlanCmd(g *globals) *cobra.Command {
	o := &planOptions{}
	c := &cobra.Command{
		Use:   "plan [--cert F]... [--status F]... [--vault DIR] [--network N | --genesis F]",
		Short: "When each pool's op cert expires and when to rotate it (for cron)",
		Long: `Plan the KES rotation of every pool given: op cert files (--cert), every
pool of the vault (the latest cert issued from its journal; --vault or
$KESROTATE_VAULT), or saved 'kesrotate-agent status --json' files (--status).
It needs no network and no secrets.

Per pool: the current KES period, the cert's start and expiry period, the
exact expiry instant (the start of period c0 + maxKESEvolutions, in UTC and
local time), the time left, the date to rotate by (--warn-lead before
expiry) and the next counter when the on-chain counter is known.

Exit codes:
  0  every cert is fine
  1  a cert is inside the warning lead (default 14d): rotate by the date shown
  2  a cert is inside the critical lead (default 3d), has expired, or is not
     yet valid: the pool is about to stop, or has stopped, minting blocks
  3  cannot evaluate: unreadable input, unknown network, bad flags

--quiet prints nothing unless the exit code is 1 or 2, so cron mails only
then. --prometheus FILE writes node_exporter textfile metrics atomically.
--leader-schedule takes cncli leaderlog JSON and suggests the largest gap
without assigned slots inside the rotation window.`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				return unknownErr(cli.Usage(fmt.Errorf("plan takes no arguments, got %q", args[0]), "give cert files with --cert FILE"))
			}
			return nil
		},
		RunE: func(c *cobra.Command, _ []string) error { return unknownErr(runPlan(g, o)) },
	}
	c.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return unknownErr(cli.Usage(err, fmt.Sprintf("run '%s --help' for the flags", c.CommandPath())))
	})
	f := c.Flags()
	f.StringArrayVar(&o.certs, "cert", nil, "an op cert file (NodeOperationalCertificate), or a folder of them; repeat for more")
	f.StringArrayVar(&o.statuses, "status", nil, "a saved 'kesrotate-agent status --json', or a folder of them; repeat for more")
	f.StringVar(&o.genesis, "genesis", "", "shelley genesis of a custom network")
	cli.NetworkFlags(c, &o.network, "mainnet, preprod or preview (default: the vault's, else the status', else mainnet; a cert plainly of another network is refused)")
	f.StringVar(&o.warnLead, "warn-lead", "14d", "warn this long before expiry (e.g. 14d, 36h)")
	f.StringVar(&o.criticalLead, "critical-lead", "3d", "critical this long before expiry")
	f.BoolVar(&o.quiet, "quiet", false, "print nothing unless action is due (exit 1 or 2)")
	f.StringVar(&o.prometheus, "prometheus", "", "write node_exporter textfile metrics to FILE (atomically)")
	f.StringArrayVar(&o.schedules, "leader-schedule", nil, "cncli leaderlog JSON of a pool; repeat for more epochs or pools")
	f.StringVar(&o.rotateAt, "rotate-at", "", "a planned rotation time (RFC 3339): warn if an assigned slot falls inside it")
	f.StringVar(&o.rotationTakes, "rotation-takes", "15m", "how long the planned rotation takes")
	return c
}

// unknownErr turns any failure of plan into exit 3 (cannot evaluate),
// keeping its message and hints; exit codes 1 and 2 mean warn and critical.
func unknownErr(err error) error {
	if err == nil {
		return nil
	}
	var ex *cli.Exit
	if errors.As(err, &ex) {
		return err
	}
	var ce *cli.Error
	if errors.As(err, &ce) {
		return &cli.Error{Err: ce.Err, Hints: ce.Hints, Code: planExitUnknown}
	}
	return &cli.Error{Err: err, Hints: []string{"nothing was evaluated; fix the input and run plan again"}, Code: planExitUnknown}
}

// parseLead reads a duration in the one syntax both binaries take.
func parseLead(flag, s string) (time.Duration, error) {
	d, err := cli.ParseDuration(s)
	if err != nil {
		return 0, cli.Usage(fmt.Errorf("%s: %w", flag, err))
	}
	return d, nil
}

// planItem is one cert to plan, whatever it came from.
type planItem struct {
	name, source string
	pool         keys.PoolID
	counter      uint64
	startPeriod  uint64
	certHash     string
	history      *opcert.History // a vault's history of the pool
	status       *plan.AgentStatus
	holdings     []ceremony.ProducerCert // a vault's: the newest cert each producer received

	plan       plan.Plan
	companions []companionJSON // from an agent status: kes-agent, the Mithril signer
	next       *uint64
	nextNote   string
	schedule   *scheduleJSON
	slotTimes  []time.Time
}

type planInputs struct {
	items    []*planItem
	statuses []*planItem
	network  opcert.Network
	warnings []string
}

func runPlan(g *globals, o *planOptions) error {
	now, err := g.env.Now()
	if err != nil {
		return err
	}
	leads := plan.Leads{}
	if leads.Warn, err = parseLead("--warn-lead", o.warnLead); err != nil {
		return err
	}
	if leads.Critical, err = parseLead("--critical-lead", o.criticalLead); err != nil {
		return err
	}
	if leads.Critical > leads.Warn {
		return cli.Usage(fmt.Errorf("--critical-lead %s is longer than --warn-lead %s", o.criticalLead, o.warnLead), "the critical lead is the shorter one")
	}
	takes, err := parseLead("--rotation-takes", o.rotationTakes)
	if err != nil {
		return err
	}
	var rotateAt time.Time
	if o.rotateAt != "" {
		if rotateAt, err = time.Parse(time.RFC3339, o.rotateAt); err != nil {
			return cli.Usage(fmt.Errorf("--rotate-at %q is not an RFC 3339 time", o.rotateAt), "write it like 2026-11-21T09:30:00Z")
		}
	}

	if o.certs, err = expandFolders(o.certs, "--cert"); err != nil {
		return err
	}
	if o.statuses, err = expandFolders(o.statuses, "--status"); err != nil {
		return err
	}
	in, err := gatherPlanInputs(g, o, now)
	if err != nil {
		return err
	}
	n := in.network
	all := append(append([]*planItem(nil), in.items...), in.statuses...)
	worst := plan.StatusOK
	for _, it := range all {
		if it.plan, err = plan.Evaluate(n, it.startPeriod, now, leads); err != nil {
			return cli.Hint(err, "check --now and the network")
		}
		if it.plan.Status.Severity() > worst.Severity() {
			worst = it.plan.Status
		}
		nextCounter(it, in.statuses)
		if it.status != nil {
			it.companions = companionsOf(it.status)
			for _, c := range it.companions {
				if c.Status.Severity() > worst.Severity() {
					worst = c.Status
				}
			}
			tip := n.SlotTime(it.status.TipSlot)
			switch {
			case tip.After(now.Add(n.PeriodLength())):
				in.warnings = append(in.warnings, fmt.Sprintf("%s: the status' tip (%s) is ahead of this machine's clock (%s): check the clock",
					it.name, tip.Format(time.RFC3339), now.Format(time.RFC3339)))
			case now.Sub(tip) > 7*24*time.Hour:
				in.warnings = append(in.warnings, fmt.Sprintf("%s: the status is %s old: take it again, the installed cert may have changed",
					it.name, formatLeft(now.Sub(tip))))
			}
		}
	}
	if err := analyzeSchedules(g, o, n, all, rotateAt, takes, &in.warnings); err != nil {
		return err
	}
	// One table for every pool, the first to expire first.
	sort.SliceStable(all, func(i, j int) bool {
		if !all[i].plan.Expiry.Equal(all[j].plan.Expiry) {
			return all[i].plan.Expiry.Before(all[j].plan.Expiry)
		}
		return all[i].name < all[j].name
	})

	if o.prometheus != "" {
		if err := safefile.Replace(o.prometheus, promText(n, now, all), 0o644); err != nil {
			return cli.Hint(fmt.Errorf("--prometheus: %w", err), "give a file in node_exporter's --collector.textfile.directory that this user can write")
		}
	}
	code := worst.Severity()
	if o.quiet && code == planExitOK {
		return nil
	}
	if g.env.JSON {
		if err := g.env.PrintJSON(planJSONOf(n, now, leads, worst, all)); err != nil {
			return err
		}
	} else {
		printPlan(g.env.Stdout, n, now, leads, all)
	}
	for _, w := range in.warnings {
		g.env.Warn("%s", w)
	}
	if code != planExitOK {
		return &cli.Exit{Code: code}
	}
	return nil
}

func gatherPlanInputs(g *globals, o *planOptions, now time.Time) (*planInputs, error) {
	in := &planInputs{}
	var vault *ceremony.Vault
	if g.vault != "" || (len(o.certs) == 0 && len(o.statuses) == 0) {
		v, err := g.openVault()
		if err != nil {
			var ce *cli.Error
			if errors.As(err, &ce) && len(o.certs) == 0 && len(o.statuses) == 0 && g.vault == "" {
				return nil, cli.Usage(errors.New("nothing to plan"), "give op certs with --cert FILE, agent status files with --status FILE, or a vault with --vault DIR")
			}
			return nil, err
		}
		vault = v
	}
	explicit := o.network != "" || o.genesis != ""
	n, assumed, err := networkOrDefault(g, o.network, o.genesis)
	if err != nil {
		return nil, err
	}
	if vault != nil && explicit && n.Magic != vault.Network.Magic {
		return nil, cli.Hint(fmt.Errorf("the vault is for %s (magic %d), --network/--genesis says %s (magic %d)", vault.Network.Name, vault.Network.Magic, n.Name, n.Magic),
			"drop --network to plan on the vault's network")
	}

	// Agent status files.
	var statuses []plan.AgentStatus
	var ids []keys.PoolID
	for _, f := range o.statuses {
		b, err := readInput(f, "--status")
		if err != nil {
			return nil, err
		}
		s, id, err := plan.ParseAgentStatus(b)
		if err != nil {
			return nil, cli.Hint(fmt.Errorf("--status %s: %w", f, err), "give the output of 'kesrotate-agent status --json' (see docs/plan.md for its fields)")
		}
		statuses = append(statuses, s)
		ids = append(ids, id)
	}
	if len(statuses) > 0 && !explicit && vault == nil {
		if _, err := g.vaultDir(); err != nil { // nothing said which network: the status does
			for _, p := range opcert.Networks {
				if p.Magic == statuses[0].NetworkMagic {
					n, assumed = p, false
				}
			}
		}
	}
	in.network = n

	if vault != nil {
		pools, err := vault.Pools()
		if err != nil {
			return nil, cli.Hint(err, "check the vault folder")
		}
		for _, p := range pools {
			entries, err := p.Journal()
			if err != nil {
				return nil, cli.Hint(fmt.Errorf("pool %s: %w", p.Meta.Name, err), "run 'kesrotate pool show "+p.Meta.Name+"' on the cold machine")
			}
			issued := ceremony.Issued(entries)
			if len(issued) == 0 {
				in.warnings = append(in.warnings, fmt.Sprintf("pool %s: no cert was issued from this vault; plan its node.cert with --cert", p.Meta.Name))
				continue
			}
			last := issued[len(issued)-1]
			cert, err := last.Certificate()
			if err != nil {
				return nil, cli.Hint(fmt.Errorf("pool %s: %w", p.Meta.Name, err), "the journal is damaged: run 'kesrotate pool show "+p.Meta.Name+"'")
			}
			h, err := ceremony.History(entries)
			if err != nil {
				return nil, cli.Hint(fmt.Errorf("pool %s: %w", p.Meta.Name, err), "the journal is damaged: run 'kesrotate pool show "+p.Meta.Name+"'")
			}
			in.items = append(in.items, &planItem{name: p.Meta.Name, source: "vault", pool: cert.PoolID(),
				counter: cert.Counter, startPeriod: cert.KESPeriod, certHash: cert.Hash(), history: &h, holdings: ceremony.Holdings(entries)})
		}
		if len(in.items) == 0 && len(o.certs) == 0 && len(o.statuses) == 0 {
			return nil, cli.Hint(fmt.Errorf("vault %s holds no issued cert", vault.Dir), "issue one with 'kesrotate rotate', or plan a node.cert with --cert FILE")
		}
	}
	for _, f := range o.certs {
		b, err := readInput(f, "--cert")
		if err != nil {
			return nil, err
		}
		cert, err := opcert.Parse(b)
		if err != nil {
			return nil, cli.Hint(fmt.Errorf("--cert %s: %w", f, err), "give a cardano-cli NodeOperationalCertificate file (node.cert)")
		}
		if err := cert.CheckSignature(); err != nil {
			return nil, cli.Hint(fmt.Errorf("--cert %s: %w", f, err), "the node rejects every block made with this cert: issue a new one now")
		}
		if assumed && vault == nil {
			if err := checkAssumedNetwork("--cert", f, n, cert.KESPeriod, now); err != nil {
				return nil, err
			}
		}
		in.items = append(in.items, &planItem{name: f, source: "cert", pool: cert.PoolID(),
			counter: cert.Counter, startPeriod: cert.KESPeriod, certHash: cert.Hash()})
	}
	for i, s := range statuses {
		if err := s.CheckNetwork(n); err != nil {
			return nil, cli.Hint(fmt.Errorf("--status %s: %w", o.statuses[i], err), "give --network or --genesis of the producer's network")
		}
		s := s
		in.statuses = append(in.statuses, &planItem{name: "agent:" + ids[i].Bech32()[:16] + "…", source: "agent-status", pool: ids[i],
			counter: s.CertCounter, startPeriod: s.CertKESPeriod, status: &s})
	}
	return in, nil
}

// expandFolders replaces each folder among paths by the regular files
// directly inside it (dot files left out), by name: a folder of certs or
// of agents' status files. A folder with no file is a usage error.
func expandFolders(paths []string, flag string) ([]string, error) {
	var out []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil || !fi.IsDir() {
			out = append(out, p) // readInput says what is wrong with it
			continue
		}
		des, err := os.ReadDir(p)
		if err != nil {
			return nil, cli.Usage(fmt.Errorf("%s %s: %w", flag, p, err))
		}
		n := 0
		for _, de := range des {
			if de.Type().IsRegular() && !strings.HasPrefix(de.Name(), ".") {
				out = append(out, filepath.Join(p, de.Name()))
				n++
			}
		}
		if n == 0 {
			return nil, cli.Usage(fmt.Errorf("%s %s: the folder holds no file", flag, p))
		}
	}
	return out, nil
}

// nextCounter fills the next cert number when an on-chain counter is
// known: from a status of the same pool, with the vault's history when
// there is one, else with the cert itself as history.
func nextCounter(it *planItem, statuses []*planItem) {
	var oc opcert.OnChain
	known := false
	for _, s := range statuses {
		if s.pool != it.pool {
			continue
		}
		if c, k, _ := s.status.OnChain(); k {
			oc, known = c, true
		}
	}
	if !known {
		if it.history != nil && it.counter < opcert.MaxCounter {
			it.nextNote = fmt.Sprintf("%d once cert #%d has minted a block, else %d again; 'kesrotate rotate' chooses from the on-chain counter", it.counter+1, it.counter, it.counter)
		}
		return
	}
	h := opcert.History{Issued: true, MaxIssued: it.counter, LastIssued: it.counter}
	if it.history != nil {
		h = *it.history
	}
	n, err := opcert.NextCounter(oc, h)
	if err != nil {
		it.nextNote = err.Error()
		return
	}
	it.next = &n
}

func analyzeSchedules(g *globals, o *planOptions, n opcert.Network, items []*planItem, rotateAt time.Time, takes time.Duration, warnings *[]string) error {
	epochLen := plan.EpochLength(n)
	if epochLen == 0 && o.genesis != "" {
		var gen struct {
			EpochLength uint64 `json:"epochLength"`
		}
		if b, err := os.ReadFile(o.genesis); err == nil && json.Unmarshal(b, &gen) == nil {
			epochLen = gen.EpochLength
		}
	}
	type sched struct {
		cov   plan.Span
		slots []time.Time
	}
	byPool := map[keys.PoolID][]sched{}
	for _, f := range o.schedules {
		b, err := readInput(f, "--leader-schedule")
		if err != nil {
			return err
		}
		l, err := plan.ParseLeaderLog(b)
		if err != nil {
			return cli.Hint(fmt.Errorf("--leader-schedule %s: %w", f, err), "give the JSON 'cncli leaderlog' prints")
		}
		found := false
		for _, it := range items {
			found = found || it.pool == l.PoolID
		}
		if !found {
			return cli.Hint(fmt.Errorf("--leader-schedule %s is for pool %s, which is not being planned", f, l.PoolID.Bech32()),
				"give the schedule of a pool passed with --cert, --status or --vault")
		}
		byPool[l.PoolID] = append(byPool[l.PoolID], sched{cov: l.Coverage(n, epochLen), slots: l.SlotTimes(n)})
	}
	for _, it := range items {
		if !rotateAt.IsZero() && !rotateAt.Before(it.plan.Expiry) {
			*warnings = append(*warnings, fmt.Sprintf("%s: --rotate-at %s is not before the cert's expiry %s",
				it.name, rotateAt.Format(time.RFC3339), it.plan.Expiry.Format(time.RFC3339)))
		}
		ss, ok := byPool[it.pool]
		if !ok {
			continue
		}
		win := it.plan.RotationWindow()
		sj := &scheduleJSON{WindowFrom: rfc(win.From), WindowTo: rfc(win.To), AssignedInWindow: []string{}}
		var best plan.ScheduleAnalysis
		for _, s := range ss {
			a := plan.AnalyzeSchedule(win, s.cov, s.slots, n.SlotLength)
			for _, t := range a.Inside {
				sj.AssignedInWindow = append(sj.AssignedInWindow, rfc(t))
			}
			if a.Largest.Duration() > best.Largest.Duration() {
				best = a
			}
			it.slotTimes = append(it.slotTimes, s.slots...)
			sj.Covered = append(sj.Covered, spanJSON{From: rfc(s.cov.From), To: rfc(s.cov.To)})
		}
		sort.Strings(sj.AssignedInWindow)
		if d := best.Largest.Duration(); d > 0 {
			sj.LargestGap = &spanJSON{From: rfc(best.Largest.From), To: rfc(best.Largest.To), Seconds: int64(d / time.Second)}
			sj.Suggested = rfc(best.Largest.From.Add(d / 2).Truncate(time.Second))
		}
		if len(sj.AssignedInWindow) > 0 {
			*warnings = append(*warnings, fmt.Sprintf("%s: %d assigned slot(s) fall inside the rotation window, the first at %s: do not rotate around them",
				it.name, len(sj.AssignedInWindow), sj.AssignedInWindow[0]))
		}
		if !rotateAt.IsZero() {
			planned := plan.Span{From: rotateAt, To: rotateAt.Add(takes)}
			sj.Conflicts = []string{}
			for _, t := range plan.Conflicts(planned, it.slotTimes, n.SlotLength) {
				sj.Conflicts = append(sj.Conflicts, rfc(t))
			}
			if len(sj.Conflicts) > 0 {
				*warnings = append(*warnings, fmt.Sprintf("%s: assigned slot at %s falls inside the planned rotation %s..%s: pick another time",
					it.name, sj.Conflicts[0], rfc(planned.From), rfc(planned.To)))
			}
		}
		it.schedule = sj
	}
	return nil
}

type spanJSON struct {
	From    string `json:"from"`
	To      string `json:"to"`
	Seconds int64  `json:"seconds,omitempty"`
}

type scheduleJSON struct {
	WindowFrom       string     `json:"rotation_window_from"`
	WindowTo         string     `json:"rotation_window_to"`
	Covered          []spanJSON `json:"schedule_covers"`
	AssignedInWindow []string   `json:"assigned_in_window"`
	LargestGap       *spanJSON  `json:"largest_gap,omitempty"`
	Suggested        string     `json:"suggested_rotation,omitempty"`
	Conflicts        []string   `json:"planned_rotation_conflicts"` // null without --rotate-at
}

type poolPlanJSON struct {
	Name             string      `json:"name"`
	Source           string      `json:"source"`
	PoolID           string      `json:"pool_id"`
	PoolIDBech32     string      `json:"pool_id_bech32"`
	Counter          uint64      `json:"cert_counter"`
	CertHash         string      `json:"cert_hash,omitempty"`
	Status           plan.Status `json:"status"`
	CurrentPeriod    uint64      `json:"current_kes_period"`
	StartPeriod      uint64      `json:"cert_start_kes_period"`
	EndPeriod        uint64      `json:"cert_end_kes_period"`
	LastValidPeriod  uint64      `json:"last_valid_kes_period"`
	RemainingPeriods int64       `json:"remaining_kes_periods"`
	ValidFrom        string      `json:"valid_from"`
	Expiry           string      `json:"expiry"`
	ExpiryUnix       int64       `json:"expiry_unix"`
	ExpiryLocal      string      `json:"expiry_local"`
	SecondsLeft      int64       `json:"seconds_left"`
	TimeLeft         string      `json:"time_left"`
	RotateBy         string      `json:"rotate_by"`
	RotateByUnix     int64       `json:"rotate_by_unix"`
	CriticalFrom     string      `json:"critical_from"`
	NextCounter      *uint64     `json:"next_counter,omitempty"`
	NextCounterNote  string      `json:"next_counter_note,omitempty"`
	StatusTipSlot    *uint64     `json:"status_tip_slot,omitempty"`
	// Producers (vault source): the newest cert each producer received.
	Producers  []ceremony.ProducerCert `json:"producers,omitempty"`
	Schedule   *scheduleJSON           `json:"leader_schedule,omitempty"`
	Companions []companionJSON         `json:"companions,omitempty"`
}

// companionJSON is the state of one of the producer's other key users an
// agent status reports.
type companionJSON struct {
	Name    string      `json:"name"` // "kes-agent" or "mithril-signer"
	Status  plan.Status `json:"status"`
	Problem string      `json:"problem,omitempty"`
}

// companionsOf: kes-agent without the cert's key means the node cannot
// forge (critical); a signer that did not restart or register loses
// Mithril signatures, not blocks (warn).
func companionsOf(s *plan.AgentStatus) []companionJSON {
	var out []companionJSON
	if s.KESAgent != nil {
		c := companionJSON{Name: "kes-agent", Status: plan.StatusOK, Problem: s.KESAgent.Problem()}
		if c.Problem != "" {
			c.Status = plan.StatusCritical
		}
		out = append(out, c)
	}
	if s.Mithril != nil {
		c := companionJSON{Name: "mithril-signer", Status: plan.StatusOK, Problem: s.Mithril.Problem()}
		if c.Problem != "" {
			c.Status = plan.StatusWarn
		}
		out = append(out, c)
	}
	return out
}

type planJSON struct {
	Now                 string         `json:"now"`
	Network             string         `json:"network"`
	NetworkMagic        uint32         `json:"network_magic"`
	WarnLeadSeconds     int64          `json:"warn_lead_seconds"`
	CriticalLeadSeconds int64          `json:"critical_lead_seconds"`
	Status              plan.Status    `json:"status"`
	ExitCode            int            `json:"exit_code"`
	Pools               []poolPlanJSON `json:"pools"`
}

func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// clock is how a person reads a time: UTC to the second, rounded down so
// that a deadline shown is never later than the real one. JSON keeps rfc.
func clock(t time.Time) string { return t.UTC().Truncate(time.Second).Format(time.RFC3339) }

func planJSONOf(n opcert.Network, now time.Time, l plan.Leads, worst plan.Status, items []*planItem) planJSON {
	out := planJSON{Now: rfc(now), Network: n.Name, NetworkMagic: n.Magic,
		WarnLeadSeconds: int64(l.Warn / time.Second), CriticalLeadSeconds: int64(l.Critical / time.Second),
		Status: worst, ExitCode: worst.Severity(), Pools: []poolPlanJSON{}}
	for _, it := range items {
		p := it.plan
		j := poolPlanJSON{
			Name: it.name, Source: it.source, PoolID: it.pool.Hex(), PoolIDBech32: it.pool.Bech32(),
			Counter: it.counter, CertHash: it.certHash, Status: p.Status,
			CurrentPeriod: p.CurrentPeriod, StartPeriod: p.StartPeriod, EndPeriod: p.EndPeriod, LastValidPeriod: p.EndPeriod - 1,
			RemainingPeriods: p.RemainingPeriods, ValidFrom: rfc(p.Start),
			Expiry: rfc(p.Expiry), ExpiryUnix: p.Expiry.Unix(), ExpiryLocal: p.Expiry.Local().Format(time.RFC3339Nano),
			SecondsLeft: int64(p.Left / time.Second), TimeLeft: formatLeft(p.Left),
			RotateBy: rfc(p.RotateBy), RotateByUnix: p.RotateBy.Unix(), CriticalFrom: rfc(p.CriticalFrom),
			NextCounter: it.next, NextCounterNote: it.nextNote, Schedule: it.schedule, Producers: it.holdings,
			Companions: it.companions,
		}
		if it.status != nil {
			tip := it.status.TipSlot
			j.StatusTipSlot = &tip
		}
		out.Pools = append(out.Pools, j)
	}
	return out
}

// formatLeft writes a duration as days, hours, minutes and seconds; a
// negative one with a minus sign.
func formatLeft(d time.Duration) string {
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
	if days > 0 {
		return fmt.Sprintf("%s%dd %dh %dm %ds", sign, days, h, m, s)
	}
	if h > 0 {
		return fmt.Sprintf("%s%dh %dm %ds", sign, h, m, s)
	}
	return fmt.Sprintf("%s%dm %ds", sign, m, s)
}

func statusWord(s plan.Status) string { return strings.ToUpper(string(s)) }

func printPlan(w io.Writer, n opcert.Network, now time.Time, l plan.Leads, items []*planItem) {
	for _, it := range items {
		p := it.plan
		left := "left " + formatLeft(p.Left)
		if p.Left <= 0 {
			left = "EXPIRED " + formatLeft(-p.Left) + " ago"
		}
		fmt.Fprintf(w, "%-13s %s  cert #%d  expires %s  %s  rotate by %s\n",
			statusWord(p.Status), it.name, it.counter, clock(p.Expiry), left, clock(p.RotateBy))
		for _, c := range it.companions {
			if c.Problem != "" {
				fmt.Fprintf(w, "%-13s %s  %s: %s\n", statusWord(c.Status), it.name, c.Name, c.Problem)
			}
		}
	}
	for _, it := range items {
		p := it.plan
		fmt.Fprintf(w, "\n%s (%s)\n", it.name, it.source)
		fmt.Fprintf(w, "  pool               %s\n", it.pool.Bech32())
		fmt.Fprintf(w, "  network            %s (magic %d)\n", n.Name, n.Magic)
		fmt.Fprintf(w, "  status             %s: %s\n", statusWord(p.Status), planAction(it, l))
		fmt.Fprintf(w, "  now                %s (KES period %d)\n", clock(now), p.CurrentPeriod)
		fmt.Fprintf(w, "  cert               #%d, start period %d (%s)\n", it.counter, p.StartPeriod, clock(p.Start))
		for _, h := range it.holdings {
			note := ""
			if h.CertHash != it.certHash {
				note = "  (not the newest: install the newest bundle there)"
			}
			fmt.Fprintf(w, "  held by %-10s #%d, start period %d%s\n", h.Producer, h.Counter, h.KESPeriod, note)
		}
		fmt.Fprintf(w, "  expiry period      %d (last valid period %d)\n", p.EndPeriod, p.EndPeriod-1)
		fmt.Fprintf(w, "  remaining periods  %d\n", max(p.RemainingPeriods, 0))
		fmt.Fprintf(w, "  expires            %s (local %s)\n", clock(p.Expiry), p.Expiry.Local().Format("2006-01-02 15:04:05 MST"))
		if p.Left > 0 {
			fmt.Fprintf(w, "  time left          %s\n", formatLeft(p.Left))
		} else {
			fmt.Fprintf(w, "  time left          none: expired %s ago\n", formatLeft(-p.Left))
		}
		fmt.Fprintf(w, "  rotate by          %s (%s before expiry; critical from %s)\n", clock(p.RotateBy), cli.FormatDuration(l.Warn), clock(p.CriticalFrom))
		for _, c := range it.companions {
			state := "ok"
			if c.Problem != "" {
				state = statusWord(c.Status) + ": " + c.Problem
			}
			fmt.Fprintf(w, "  %-18s %s\n", c.Name, state)
		}
		switch {
		case it.next != nil:
			fmt.Fprintf(w, "  next counter       %d\n", *it.next)
		case it.nextNote != "":
			fmt.Fprintf(w, "  next counter       %s\n", it.nextNote)
		}
		if s := it.schedule; s != nil {
			fmt.Fprintf(w, "  rotation window    %s .. %s\n", s.WindowFrom, s.WindowTo)
			fmt.Fprintf(w, "  assigned slots     %d inside the window (schedule known for %d epoch(s))\n", len(s.AssignedInWindow), len(s.Covered))
			if s.LargestGap != nil {
				fmt.Fprintf(w, "  largest free gap   %s .. %s (%s); suggested rotation %s\n", s.LargestGap.From, s.LargestGap.To,
					formatLeft(time.Duration(s.LargestGap.Seconds)*time.Second), s.Suggested)
			}
			for _, c := range s.Conflicts {
				fmt.Fprintf(w, "  CONFLICT           assigned slot at %s inside the planned rotation\n", c)
			}
		}
	}
}

func planAction(it *planItem, l plan.Leads) string {
	p := it.plan
	switch p.Status {
	case plan.StatusOK:
		return "nothing to do before " + clock(p.RotateBy)
	case plan.StatusWarn:
		return "rotate soon: critical from " + clock(p.CriticalFrom) + ", expires " + clock(p.Expiry)
	case plan.StatusCritical:
		return "rotate now: the pool stops minting blocks at " + clock(p.Expiry)
	case plan.StatusExpired:
		return "expired at " + clock(p.Expiry) + ": the node rejects every block; rotate now"
	case plan.StatusNotYetValid:
		return "the cert starts in period " + strconv.FormatUint(p.StartPeriod, 10) + " but the chain is in period " +
			strconv.FormatUint(p.CurrentPeriod, 10) + ": the node rejects its blocks (wrong KES period or clock?)"
	}
	return ""
}

// promText is the node_exporter textfile: per cert the expiry instant,
// remaining periods, seconds left (at the evaluation), rotate-by instant
// and severity.
func promText(n opcert.Network, now time.Time, items []*planItem) []byte {
	var w promtext.Writer
	metric := func(name, help string, value func(*planItem) int64) {
		for _, it := range items {
			w.Gauge(name, help, []promtext.Label{{Name: "pool", Value: it.name}, {Name: "pool_id", Value: it.pool.Hex()},
				{Name: "source", Value: it.source}, {Name: "network", Value: n.Name}}, float64(value(it)))
		}
	}
	metric("kesrotate_opcert_expiry_timestamp_seconds", "Unix time the op cert stops being valid (start of KES period c0 + maxKESEvolutions).",
		func(it *planItem) int64 { return it.plan.Expiry.Unix() })
	metric("kesrotate_opcert_remaining_kes_periods", "KES periods left before the op cert expires (0 once expired).",
		func(it *planItem) int64 { return max(it.plan.RemainingPeriods, 0) })
	metric("kesrotate_opcert_seconds_left", "Seconds from the evaluation to the op cert's expiry (negative once expired).",
		func(it *planItem) int64 { return int64(it.plan.Left / time.Second) })
	metric("kesrotate_opcert_rotate_by_timestamp_seconds", "Unix time to rotate the op cert by (expiry minus the warning lead).",
		func(it *planItem) int64 { return it.plan.RotateBy.Unix() })
	metric("kesrotate_opcert_start_kes_period", "The op cert's start KES period c0.",
		func(it *planItem) int64 { return int64(it.plan.StartPeriod) })
	metric("kesrotate_opcert_counter", "The op cert's issue counter.",
		func(it *planItem) int64 { return int64(it.counter) })
	metric("kesrotate_opcert_severity", "0 ok, 1 warn, 2 critical, expired or not yet valid (the plan exit code).",
		func(it *planItem) int64 { return int64(it.plan.Status.Severity()) })
	w.Gauge("kesrotate_plan_timestamp_seconds", "Unix time of the evaluation.", nil, float64(now.Unix()))
	return w.Bytes()
}
