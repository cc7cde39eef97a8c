package producer

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kesrotate/kesrotate/producer/nodequery"
	"github.com/kesrotate/kesrotate/transfer"
)

// Log lines of cardano-node (and the test node) that say how a reload
// went.
const (
	LogEnabled  = "Enabling block forging"
	LogDisabled = "Disabling block forging"
	LogError    = "BlockForgingUpdateError"
	LogNoEffect = "not effective"
)

// NodePID finds the node to signal: the pid in the configured pid file,
// the MainPID of the systemd unit, or the one process whose arguments name
// all three configured credential paths. It never matches by name.
func (a *Agent) NodePID() (int, error) {
	s := a.Config.Signal
	switch s.Mode {
	case "pid-file":
		b, err := os.ReadFile(s.PIDFile)
		if err != nil {
			return 0, fmt.Errorf("%w: pid file: %w", ErrNodeNotFound, err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 1 {
			return 0, fmt.Errorf("%w: pid file %s does not hold a pid", ErrNodeNotFound, s.PIDFile)
		}
		return pid, nil
	case "systemd":
		out, err := exec.Command("systemctl", "show", "-p", "MainPID", "--value", s.SystemdUnit).Output()
		if err != nil {
			return 0, fmt.Errorf("%w: systemctl show %s: %w", ErrNodeNotFound, s.SystemdUnit, err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
		if err != nil || pid <= 1 {
			return 0, fmt.Errorf("%w: unit %s is not running (MainPID %q)", ErrNodeNotFound, s.SystemdUnit, strings.TrimSpace(string(out)))
		}
		return pid, nil
	case "process":
		return MatchProcess("/proc", [3]string{a.Config.KESKey, a.Config.VRFKey, a.Config.Cert})
	}
	return 0, fmt.Errorf("%w: signalling is off (mode %q)", ErrNodeNotFound, s.Mode)
}

// MatchProcess scans procRoot (/proc) for the one process, other than
// this one, whose command line names all three paths as arguments (as
// "PATH" or "--flag=PATH"). None or several is an error.
func MatchProcess(procRoot string, paths [3]string) (int, error) {
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrNodeNotFound, err)
	}
	var found []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(procRoot, e.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if argsName(args[1:], paths) {
			found = append(found, pid)
		}
	}
	switch len(found) {
	case 0:
		return 0, fmt.Errorf("%w: no process has %s, %s and %s among its arguments", ErrNodeNotFound, paths[0], paths[1], paths[2])
	case 1:
		return found[0], nil
	}
	return 0, fmt.Errorf("%w: processes %v all use these credential paths; configure a pid file or systemd unit", ErrNodeNotFound, found)
}

func argsName(args []string, paths [3]string) bool {
	for _, p := range paths {
		ok := false
		for _, a := range args {
			if a == p || strings.HasSuffix(a, "="+p) && strings.HasPrefix(a, "-") {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// SignalNode sends SIGHUP to the node found by NodePID and returns its pid.
func (a *Agent) SignalNode() (int, error) {
	pid, err := a.NodePID()
	if err != nil {
		return 0, err
	}
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		return pid, fmt.Errorf("%w: SIGHUP to pid %d: %w", ErrSignal, pid, err)
	}
	return pid, nil
}

// Expect is the set the node should be forging with after a reload.
type Expect struct {
	StartPeriod uint64
	Counter     uint64
	// Ambiguous: the previous set had the same start period, so the
	// standard metrics cannot tell the two apart.
	Ambiguous bool
}

// Confirmation is what the node showed after a reload.
type Confirmation struct {
	Confirmed bool
	Sources   []string // "metrics", "log": what confirmed it
	// Unconfirmable: no metrics URL or log to look at (or they cannot
	// tell the sets apart): "signalled, not confirmed".
	Unconfirmable bool
	Detail        string
}

// LogOffset is the node log's size now: Confirm reads only what comes
// after it. 0 when there is no log.
func (a *Agent) LogOffset() int64 {
	if a.Config.NodeLog == "" {
		return 0
	}
	fi, err := os.Stat(a.Config.NodeLog)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// Confirm polls the node's metrics (operationalCertificateStartKESPeriod
// and, where served, the counter) and its log from logOffset on ("Enabling
// block forging") until the node shows the expected set or ctx ends. A
// log line saying the reload failed ends it at once with ErrNotConfirmed.
// With neither source configured it returns Unconfirmable.
func (a *Agent) Confirm(ctx context.Context, exp Expect, logOffset int64, poll time.Duration) (Confirmation, error) {
	url, logPath := a.Config.MetricsURL, a.Config.NodeLog
	if url == "" && logPath == "" {
		return Confirmation{Unconfirmable: true, Detail: "no metrics URL or node log configured"}, nil
	}
	if poll <= 0 {
		poll = 200 * time.Millisecond
	}
	var last string
	for {
		var sources []string
		metricsDecisive := false
		if url != "" {
			ok, decisive, detail := checkMetrics(ctx, url, exp)
			metricsDecisive = decisive
			last = detail
			if ok {
				sources = append(sources, "metrics")
			}
		}
		if logPath != "" {
			ok, failed, detail := checkLog(logPath, logOffset)
			if failed != "" {
				return Confirmation{Detail: failed}, fmt.Errorf("%w: the node logged: %s", ErrNotConfirmed, failed)
			}
			if detail != "" {
				last = detail
			}
			if ok {
				sources = append(sources, "log")
			}
		}
		if len(sources) > 0 {
			// One source confirmed; the other may lag by a moment (the
			// node writes its log and updates its gauges separately).
			// Look once more so the report names every source that agrees.
			if url != "" && logPath != "" && len(sources) == 1 {
				select {
				case <-ctx.Done():
				case <-time.After(poll):
					if sources[0] == "log" {
						if ok, _, _ := checkMetrics(ctx, url, exp); ok {
							sources = []string{"metrics", "log"}
						}
					} else if ok, _, _ := checkLog(logPath, logOffset); ok {
						sources = append(sources, "log")
					}
				}
			}
			return Confirmation{Confirmed: true, Sources: sources}, nil
		}
		if url != "" && !metricsDecisive && logPath == "" {
			return Confirmation{Unconfirmable: true, Detail: "the node's metrics cannot tell the new set from the old (same start period, no counter metric)"}, nil
		}
		select {
		case <-ctx.Done():
			if last == "" {
				last = "nothing seen"
			}
			return Confirmation{Detail: last}, fmt.Errorf("%w: within the timeout; last seen: %s", ErrNotConfirmed, last)
		case <-time.After(poll):
		}
	}
}

func checkMetrics(ctx context.Context, url string, exp Expect) (ok, decisive bool, detail string) {
	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	m, err := nodequery.Metrics(c, url)
	if err != nil {
		return false, true, err.Error()
	}
	sp, hasSP := nodequery.Lookup(m, nodequery.MetricCertStartPeriod)
	cnt, hasCnt := nodequery.Lookup(m, nodequery.MetricCertCounter)
	decisive = hasCnt || !exp.Ambiguous
	if !hasSP {
		return false, decisive, "the node serves no operationalCertificateStartKESPeriod (not forging)"
	}
	detail = fmt.Sprintf("metrics show start period %d", uint64(sp))
	if hasCnt {
		detail += fmt.Sprintf(", counter %d", uint64(cnt))
	}
	ok = uint64(sp) == exp.StartPeriod && (!hasCnt || uint64(cnt) == exp.Counter) && decisive
	return ok, decisive, detail
}

// checkLog reads the node log from offset: ok on an "Enabling block
// forging" line, failed holds the line of a refused or ineffective reload.
func checkLog(path string, offset int64) (ok bool, failed, detail string) {
	f, err := os.Open(path)
	if err != nil {
		return false, "", fmt.Sprintf("node log: %v", err)
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return false, "", fmt.Sprintf("node log: %v", err)
	}
	sc := bufio.NewScanner(io.LimitReader(f, 16<<20))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.Contains(line, LogError), strings.Contains(line, LogDisabled), strings.Contains(line, LogNoEffect):
			return false, trimLogLine(line), ""
		case strings.Contains(line, LogEnabled):
			ok = true
		}
	}
	return ok, "", ""
}

// trimLogLine drops the tracer's [host:ns:sev] [time] prefix.
func trimLogLine(line string) string {
	for i := 0; i < 2; i++ {
		l := strings.TrimSpace(line)
		if !strings.HasPrefix(l, "[") {
			break
		}
		j := strings.IndexByte(l, ']')
		if j < 0 {
			break
		}
		line = l[j+1:]
	}
	return strings.TrimSpace(line)
}

// DeployOptions are Install's options plus how to reload the node.
type DeployOptions struct {
	InstallOptions
	// NoSignal installs without signalling the node.
	NoSignal bool
	// ConfirmTimeout bounds the wait for the node (default 60 s).
	ConfirmTimeout time.Duration
	// Poll is the interval between looks at metrics and log.
	Poll time.Duration
	// Signal, if set, replaces SignalNode (tests signal an in-process
	// node). It returns a description such as "pid 1234".
	Signal func() (string, error)
}

// DeployResult says what Deploy did.
type DeployResult struct {
	Install      *InstallResult
	Signalled    string // "" when not signalled, else whom ("pid 1234")
	Confirmation Confirmation
	RolledBack   *RollbackResult
}

// Deploy installs a bundle and reloads the node, under the agent lock:
// check, stage, swap, SIGHUP, confirm. When the node does not take the new
// set in time it rolls back to the previous set, signals again and fails
// with ErrNotConfirmed; the result still says what happened.
func (a *Agent) Deploy(ctx context.Context, b *transfer.Bundle, o DeployOptions) (*DeployResult, error) {
	l, err := a.Lock()
	if err != nil {
		return nil, err
	}
	defer l.Unlock()
	c, err := a.Check(b, o.InstallOptions)
	if err != nil {
		return nil, err
	}
	defer c.Wipe()
	ir, err := a.install(c, o.InstallOptions)
	if err != nil {
		return nil, err
	}
	res := &DeployResult{Install: ir}
	if o.NoSignal || (o.Signal == nil && a.Config.Signal.Mode == "none") {
		return res, a.finishPending(c, o.Hook)
	}
	exp := Expect{StartPeriod: b.Cert.KESPeriod, Counter: b.Cert.Counter}
	if c.Installed != nil && !c.Same && c.Installed.KESPeriod == b.Cert.KESPeriod {
		exp.Ambiguous = true
	}
	conf, who, err := a.reload(ctx, exp, o)
	res.Signalled, res.Confirmation = who, conf
	if err == nil {
		return res, a.finishPending(c, o.Hook)
	}
	if who == "" || ir.Previous == "" || ir.Same {
		return res, err // not signalled, or nothing to go back to
	}
	rb, rerr := a.rollback(nil)
	if rerr != nil {
		return res, fmt.Errorf("%w; rolling back failed too: %w", err, rerr)
	}
	res.RolledBack = rb
	if _, serr := a.signal(o); serr != nil {
		return res, fmt.Errorf("%w; rolled back to %s but signalling again failed: %w", err, rb.To, serr)
	}
	return res, fmt.Errorf("%w; rolled back to %s and signalled again", err, rb.To)
}

func (a *Agent) finishPending(c *Candidate, hook func(Step) error) error {
	if !c.Pending {
		return nil
	}
	if err := a.RemovePendingKES(); err != nil {
		return err
	}
	if hook != nil {
		return hook(StepPendingGone)
	}
	return nil
}

func (a *Agent) signal(o DeployOptions) (string, error) {
	if o.Signal != nil {
		return o.Signal()
	}
	pid, err := a.SignalNode()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("pid %d", pid), nil
}

// reload signals the node and waits for it to show exp.
func (a *Agent) reload(ctx context.Context, exp Expect, o DeployOptions) (Confirmation, string, error) {
	off := a.LogOffset()
	who, err := a.signal(o)
	if err != nil {
		return Confirmation{}, "", err
	}
	timeout := o.ConfirmTimeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conf, err := a.Confirm(cctx, exp, off, o.Poll)
	return conf, who, err
}

// Reload signals the node and confirms it took the active set (after a
// rollback, for example). It holds no lock.
func (a *Agent) Reload(ctx context.Context, o DeployOptions) (Confirmation, string, error) {
	c, err := a.InstalledCert()
	if err != nil {
		return Confirmation{}, "", err
	}
	if c == nil {
		who, err := a.signal(o)
		return Confirmation{Unconfirmable: true, Detail: "no cert installed"}, who, err
	}
	return a.reload(ctx, Expect{StartPeriod: c.KESPeriod, Counter: c.Counter}, o)
}
