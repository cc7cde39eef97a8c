package producer

// The Mithril signer on the block producer (IntersectMBO/mithril,
// mithril-signer). It reads the pool's KES key and op cert from the files
// its environment names (KES_SECRET_KEY_PATH, OPERATIONAL_CERTIFICATE_PATH;
// mithril-signer/src/configuration.rs, read from the environment by
// main.rs), and after a rotation it must be restarted and register again
// (../shared/docs/node.md; IntersectMBO/mithril#1267, #2771). The agent:
//
//   - keeps it on the node's stable credential paths, which every install
//     repoints: with --mithril-env-file it rewrites those two lines of the
//     signer's environment file (atomically) when they name anything else;
//   - restarts its systemd unit after an install the node took (or a
//     rollback, or a promotion), and checks that the unit has a new main
//     process;
//   - waits, bounded, for the new process to register: from its metrics
//     (mithril_signer_signer_registration_success_since_startup counts from
//     0 in each process; ENABLE_METRICS_SERVER=true), else from its journal
//     ("Transitioned to state: ReadyToSign - N" or "RegisteredNotAbleToSign
//     - N" at Info, which needs -vv; a Critical line means it exited);
//   - records the outcome in DIR/mithril.json for status.
//
// A signer that does not register is an error of the command, never a
// reason to undo the node's install: the node forges with the new cert
// either way.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kesrotate/kesrotate/internal/safefile"
	"github.com/kesrotate/kesrotate/internal/textsafe"
	"github.com/kesrotate/kesrotate/producer/nodelog"
	"github.com/kesrotate/kesrotate/producer/nodequery"
)

// Systemctl is the systemctl program the agent runs.
var Systemctl = "systemctl"

// MithrilFile records the signer's last restart: which set it was
// restarted for, its process and whether it registered.
const MithrilFile = "mithril.json"

// The signer's metrics the agent reads (mithril-signer/src/metrics/service.rs).
const (
	MetricSignerRegistered    = "mithril_signer_signer_registration_success_since_startup"
	MetricSignerRegistrations = "mithril_signer_signer_registration_total_since_startup"
	MetricSignerLastEpoch     = "mithril_signer_signer_registration_success_last_epoch"
	MetricSignerCycles        = "mithril_signer_runtime_cycle_total_since_startup"
	MetricSignerCyclesOK      = "mithril_signer_runtime_cycle_success_since_startup"
)

// The signer's environment variables for the node's files.
const (
	EnvKESKey = "KES_SECRET_KEY_PATH"
	EnvCert   = "OPERATIONAL_CERTIFICATE_PATH"
)

// Errors of the Mithril signer; test with errors.Is.
var (
	// ErrSignerRestart: systemctl could not restart the signer's unit.
	ErrSignerRestart = errors.New("cannot restart the Mithril signer")
	// ErrSignerEnv: the signer's environment file cannot be read or
	// rewritten.
	ErrSignerEnv = errors.New("cannot keep the Mithril signer's environment file on the node's paths")
	// ErrSignerNotRegistered: the signer did not register within the
	// wait, exited, or (status) shows no registration.
	ErrSignerNotRegistered = errors.New("the Mithril signer is not registered")
	// ErrSignerStale: (status) the signer was not restarted after the
	// active set was installed.
	ErrSignerStale = errors.New("the Mithril signer was not restarted after the last install")
	// ErrSignerDown: (status) the signer's unit is not running.
	ErrSignerDown = errors.New("the Mithril signer is not running")
	// ErrNoSigner: RestartSigner with no Mithril signer configured.
	ErrNoSigner = errors.New("no Mithril signer is configured")
)

// unitRe is what a systemd unit name may hold (systemd.unit(5): ASCII
// letters, digits, ":", "-", "_", ".", "\" and one "@").
var unitRe = regexp.MustCompile(`^[A-Za-z0-9:_.\\@-]+$`)

// validateMithril checks the Mithril signer's settings: a systemd unit
// name, an http(s) metrics URL, an absolute environment file.
func validateMithril(c *Config) error {
	if c.MithrilSigner == "" {
		if c.MithrilMetrics != "" || c.MithrilEnvFile != "" {
			return fmt.Errorf("%w: the Mithril signer's metrics URL and env file need its systemd unit", ErrConfig)
		}
		return nil
	}
	if !unitRe.MatchString(c.MithrilSigner) || c.MithrilSigner[0] == '-' {
		return fmt.Errorf("%w: Mithril signer %q is not a systemd unit name", ErrConfig, c.MithrilSigner)
	}
	if c.MithrilMetrics != "" {
		u, err := url.Parse(c.MithrilMetrics)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%w: the Mithril signer's metrics URL %q is not an http URL (the signer serves http://IP:9090/metrics with ENABLE_METRICS_SERVER=true)", ErrConfig, c.MithrilMetrics)
		}
	}
	if c.MithrilEnvFile != "" {
		abs, err := filepath.Abs(c.MithrilEnvFile)
		if err != nil {
			return err
		}
		c.MithrilEnvFile = abs
	}
	return nil
}

// SignerRecord is mithril.json.
type SignerRecord struct {
	Set        string    `json:"set"` // the active set the signer was restarted for
	Restarted  time.Time `json:"restarted"`
	MainPID    int       `json:"main_pid"`
	Registered bool      `json:"registered"`
	Epoch      *uint64   `json:"epoch,omitempty"`
	Detail     string    `json:"detail,omitempty"`
}

// SignerOptions bound the wait for the signer's registration.
type SignerOptions struct {
	Now     time.Time
	Timeout time.Duration // 5 minutes when 0: the signer registers at its first cycle (RUN_INTERVAL, 60 s by default)
	Poll    time.Duration // 1 s when 0
}

// SignerResult says what RestartSigner did.
type SignerResult struct {
	Unit string `json:"unit"`
	// EnvChanged: the lines of the environment file that were rewritten.
	EnvChanged []Changed `json:"env_changed,omitempty"`
	PIDBefore  int       `json:"main_pid_before"`
	// Restarted: systemctl restarted the unit. False when RestartSigner
	// stopped before (the environment file, the journal) or at the
	// restart itself (ErrSignerRestart), whatever PIDBefore says.
	Restarted  bool    `json:"restarted"`
	PIDAfter   int     `json:"main_pid"`
	Registered bool    `json:"registered"`
	Source     string  `json:"confirmed_by,omitempty"` // "metrics" or "journal"
	Epoch      *uint64 `json:"epoch,omitempty"`
	Detail     string  `json:"detail,omitempty"`
}

// RestartSigner makes the Mithril signer read the active set: its
// environment file names the node's paths, its unit is restarted and gets
// a new main process, and that process registers within o.Timeout. The
// outcome of a restart that happened is recorded in DIR/mithril.json. It fails with ErrSignerEnv,
// ErrSignerRestart or ErrSignerNotRegistered; the result says how far it
// got. With no signer configured it fails with ErrNoSigner.
func (a *Agent) RestartSigner(ctx context.Context, o SignerOptions) (*SignerResult, error) {
	unit := a.Config.MithrilSigner
	if unit == "" {
		return nil, ErrNoSigner
	}
	res := &SignerResult{Unit: unit}
	set, _ := a.CurrentSet()
	// record keeps what status reads: a restart for the active set. Only a
	// restart that happened is recorded; one that was refused or never
	// tried leaves the last record, so status keeps saying the signer has
	// not been restarted for this set.
	record := func() {
		r := SignerRecord{Set: set, Restarted: o.Now.UTC().Truncate(time.Second), MainPID: res.PIDAfter,
			Registered: res.Registered, Epoch: res.Epoch, Detail: res.Detail}
		b, _ := json.MarshalIndent(r, "", "  ")
		_ = safefile.Replace(filepath.Join(a.Dir, MithrilFile), append(b, '\n'), 0o600)
	}
	changed, err := a.ensureSignerEnv()
	res.EnvChanged = changed
	if err != nil {
		res.Detail = err.Error()
		return res, err
	}
	res.PIDBefore, _ = systemdMainPID(ctx, unit)
	var journal *nodelog.JournalLines
	if a.Config.MithrilMetrics == "" {
		if journal, err = nodelog.OpenJournalLines(unit, time.Now()); err != nil {
			res.Detail = "its journal cannot be read: " + strings.TrimPrefix(err.Error(), nodelog.ErrSource.Error()+": ")
			return res, fmt.Errorf("%w: %s (set the signer's metrics URL, or let the agent read the journal)", ErrSignerNotRegistered, res.Detail)
		}
	}
	if err := systemctl(ctx, "--no-ask-password", "restart", unit); err != nil {
		res.Detail = err.Error()
		return res, fmt.Errorf("%w: %w", ErrSignerRestart, err)
	}
	res.Restarted = true
	res.PIDAfter, _ = systemdMainPID(ctx, unit)
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	poll := o.Poll
	if poll <= 0 {
		poll = time.Second
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err = a.awaitRegistration(cctx, res, journal, poll)
	record()
	if err != nil {
		return res, fmt.Errorf("%w: %s", ErrSignerNotRegistered, res.Detail)
	}
	return res, nil
}

// awaitRegistration polls the signer's metrics (or journal) and its unit
// until it registered, exited, or ctx ends.
func (a *Agent) awaitRegistration(ctx context.Context, res *SignerResult, journal *nodelog.JournalLines, poll time.Duration) error {
	last := "nothing seen yet"
	lastError := ""
	for {
		if state, err := systemdProperty(ctx, res.Unit, "ActiveState"); err == nil && (state == "failed" || state == "inactive") {
			res.Detail = fmt.Sprintf("the signer's unit is %s after the restart: it exited", state)
			if lastError != "" {
				res.Detail += " (it logged: " + lastError + ")"
			}
			return errors.New(res.Detail)
		}
		if pid, err := systemdMainPID(ctx, res.Unit); err == nil && pid > 0 {
			res.PIDAfter = pid
		}
		if journal != nil {
			lines, err := journal.Read(ctx)
			if err != nil {
				last = err.Error()
			}
			for _, l := range lines {
				ev, ok := parseSignerLine(l)
				switch {
				case !ok:
				case ev.registered:
					res.Registered, res.Source, res.Epoch = true, "journal", ev.epoch
					res.Detail = ev.msg
					return nil
				case ev.level >= signerCritical:
					res.Detail = "the signer stopped: " + ev.msg
					return errors.New(res.Detail)
				case ev.level >= signerError:
					lastError = ev.msg
					last = "it logged: " + ev.msg
				}
			}
		} else {
			sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			s, err := nodequery.Metrics(sctx, a.Config.MithrilMetrics)
			cancel()
			switch {
			case err != nil:
				last = "its metrics: " + strings.TrimPrefix(err.Error(), nodequery.ErrMetrics.Error()+": ")
			default:
				ok, attempts, epoch := signerMetrics(s)
				if ok {
					res.Registered, res.Source, res.Epoch = true, "metrics", epoch
					res.Detail = ""
					return nil
				}
				last = fmt.Sprintf("its metrics show %d registration attempts since it started, none successful", int64(attempts))
				cycles, _ := s.Lookup(MetricSignerCycles)
				if ok, _ := s.Lookup(MetricSignerCyclesOK); cycles > ok {
					last += fmt.Sprintf(", and %d of its %d cycles failed", int64(cycles-ok), int64(cycles))
				}
			}
		}
		select {
		case <-ctx.Done():
			res.Detail = "no registration within the wait; last seen: " + last
			if lastError != "" && !strings.Contains(last, lastError) {
				res.Detail += "; it logged: " + lastError
			}
			return ctx.Err()
		case <-time.After(poll):
		}
	}
}

// signerMetrics reads a scrape: registered since the process started,
// attempts, and the last registration epoch.
func signerMetrics(s *nodequery.Scrape) (registered bool, attempts float64, epoch *uint64) {
	n, _ := s.Lookup(MetricSignerRegistered)
	attempts, _ = s.Lookup(MetricSignerRegistrations)
	if e, ok := s.Lookup(MetricSignerLastEpoch); ok && e > 0 {
		u := uint64(e)
		epoch = &u
	}
	return n >= 1, attempts, epoch
}

// Bunyan levels (slog-bunyan).
const (
	signerError    = 50
	signerCritical = 60
)

type signerEvent struct {
	level      int
	msg        string
	registered bool
	epoch      *uint64
}

var readyRe = regexp.MustCompile(`^Transitioned to state: (?:ReadyToSign|RegisteredNotAbleToSign) - (\d+)$`)

// parseSignerLine reads one of the signer's bunyan JSON lines.
func parseSignerLine(line string) (signerEvent, bool) {
	var rec struct {
		Msg   string `json:"msg"`
		Level int    `json:"level"`
	}
	if !strings.HasPrefix(strings.TrimSpace(line), "{") || json.Unmarshal([]byte(line), &rec) != nil || rec.Msg == "" {
		return signerEvent{}, false
	}
	ev := signerEvent{level: rec.Level, msg: textsafe.Clip(rec.Msg, 120)}
	if m := readyRe.FindStringSubmatch(rec.Msg); m != nil {
		ev.registered = true
		if e, err := strconv.ParseUint(m[1], 10, 64); err == nil {
			ev.epoch = &e
		}
	}
	return ev, true
}

// systemctl runs systemctl and returns its first error line as the error.
func systemctl(ctx context.Context, args ...string) error {
	_, err := systemctlOutput(ctx, args...)
	return err
}

func systemctlOutput(ctx context.Context, args ...string) (string, error) {
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(cctx, Systemctl, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return out.String(), nil
	case errors.Is(err, exec.ErrNotFound), errors.Is(err, os.ErrNotExist):
		return "", errors.New("systemctl is not installed here")
	case errors.As(err, &ee):
		msg := strings.TrimSpace(errb.String())
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		if msg == "" {
			msg = fmt.Sprintf("exit %d", ee.ExitCode())
		}
		return out.String(), fmt.Errorf("systemctl %s: %s", strings.Join(args, " "), textsafe.Clip(msg, 120))
	}
	return "", err
}

func systemdProperty(ctx context.Context, unit, prop string) (string, error) {
	out, err := systemctlOutput(ctx, "show", "-p", prop, "--value", unit)
	return strings.TrimSpace(out), err
}

func systemdMainPID(ctx context.Context, unit string) (int, error) {
	v, err := systemdProperty(ctx, unit, "MainPID")
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(v)
}

// ensureSignerEnv keeps the two variables of the signer's environment file
// on the node's paths, rewriting only those lines (or adding them), with
// one atomic replace that keeps the file's mode and owner.
func (a *Agent) ensureSignerEnv() ([]Changed, error) {
	path := a.Config.MithrilEnvFile
	if path == "" {
		return nil, nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSignerEnv, err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSignerEnv, err)
	}
	want := []struct{ key, path string }{{EnvKESKey, a.Config.KESKey}, {EnvCert, a.Config.Cert}}
	lines := strings.SplitAfter(string(data), "\n")
	var changes []Changed
	for _, w := range want {
		found := false
		for i, line := range lines {
			k, v, ok := envLine(line)
			if !ok || k != w.key {
				continue
			}
			found = true
			if v != w.path {
				nl := ""
				if strings.HasSuffix(line, "\n") {
					nl = "\n"
				}
				lines[i] = w.key + "=" + envQuote(w.path) + nl
				changes = append(changes, Changed{Setting: w.key, From: v, To: w.path})
			}
		}
		if !found {
			if n := len(lines); n > 0 && lines[n-1] != "" && !strings.HasSuffix(lines[n-1], "\n") {
				lines[n-1] += "\n"
			}
			lines = append(lines, w.key+"="+envQuote(w.path)+"\n")
			changes = append(changes, Changed{Setting: w.key, To: w.path})
		}
	}
	if len(changes) == 0 {
		return nil, nil
	}
	if err := safefile.Replace(path, []byte(strings.Join(lines, "")), fi.Mode().Perm()); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSignerEnv, err)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		_ = os.Chown(path, int(st.Uid), int(st.Gid))
	}
	return changes, nil
}

// envLine reads a KEY=VALUE line of an EnvironmentFile (systemd.exec(5)):
// comments start with # or ;, a value may be quoted.
func envLine(line string) (key, value string, ok bool) {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' || line[0] == ';' {
		return "", "", false
	}
	k, v, ok := strings.Cut(line, "=")
	if !ok {
		return "", "", false
	}
	v = strings.TrimSpace(v)
	switch {
	case len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'':
		v = v[1 : len(v)-1]
	case len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"':
		var b strings.Builder
		for i := 1; i < len(v)-1; i++ {
			if v[i] == '\\' && i+1 < len(v)-1 {
				i++
			}
			b.WriteByte(v[i])
		}
		v = b.String()
	}
	return strings.TrimSpace(k), v, true
}

var plainEnv = regexp.MustCompile(`^[A-Za-z0-9/._+@:,-]+$`)

// envQuote writes a path as an EnvironmentFile value.
func envQuote(p string) string {
	if plainEnv.MatchString(p) {
		return p
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(p) + `"`
}

// SignerRecordOf reads mithril.json, nil when the signer was never
// restarted by the agent.
func (a *Agent) SignerRecordOf() (*SignerRecord, error) {
	b, err := os.ReadFile(filepath.Join(a.Dir, MithrilFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var r SignerRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", MithrilFile, err)
	}
	return &r, nil
}

// SignerStatus is what status reports of the Mithril signer.
type SignerStatus struct {
	Unit        string `json:"unit"`
	ActiveState string `json:"active_state,omitempty"`
	MainPID     int    `json:"main_pid"`
	Error       string `json:"error,omitempty"` // systemctl could not be asked
	// LastRestart is the agent's last restart of the signer.
	LastRestart *SignerRecord `json:"last_restart,omitempty"`
	// RestartedForActiveSet: the last restart was for the active set.
	RestartedForActiveSet bool `json:"restarted_for_active_set"`
	// Registered: the running process registered (its metrics count a
	// registration, or — without metrics — it is the process the last
	// restart saw register); nil when that cannot be told.
	Registered    *bool   `json:"registered,omitempty"`
	Registrations *int64  `json:"registration_attempts,omitempty"`
	LastEpoch     *uint64 `json:"last_registration_epoch,omitempty"`
	MetricsError  string  `json:"metrics_error,omitempty"`
}

// signerStatus asks systemd and the signer's metrics.
func (a *Agent) signerStatus(ctx context.Context, s *Status) *SignerStatus {
	ss := &SignerStatus{Unit: a.Config.MithrilSigner}
	var err error
	if ss.ActiveState, err = systemdProperty(ctx, ss.Unit, "ActiveState"); err != nil {
		ss.Error = err.Error()
	} else {
		ss.MainPID, _ = systemdMainPID(ctx, ss.Unit)
	}
	ss.LastRestart, _ = a.SignerRecordOf()
	ss.RestartedForActiveSet = ss.LastRestart != nil && ss.LastRestart.Set == s.ActiveSet && s.ActiveSet != ""
	if a.Config.MithrilMetrics != "" {
		mctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		scrape, err := nodequery.Metrics(mctx, a.Config.MithrilMetrics)
		cancel()
		if err != nil {
			ss.MetricsError = err.Error()
		} else {
			ok, attempts, epoch := signerMetrics(scrape)
			n := int64(attempts)
			ss.Registered, ss.Registrations, ss.LastEpoch = &ok, &n, epoch
		}
	} else if r := ss.LastRestart; r != nil && r.MainPID > 0 && r.MainPID == ss.MainPID {
		ok := r.Registered
		ss.Registered = &ok
		ss.LastEpoch = r.Epoch
	}
	return ss
}

// inspectMithril is check's look at the Mithril signer: the unit exists
// and runs, its environment file names the node's paths, its metrics
// answer (else what the journal can show).
func (a *Agent) inspectMithril(ctx context.Context, r *Report) {
	const topic = "mithril"
	unit := a.Config.MithrilSigner
	switch load, err := systemdProperty(ctx, unit, "LoadState"); {
	case err != nil:
		r.add(LevelFail, topic, err.Error(), "run the agent where systemctl can see the signer's unit")
		return
	case load == "not-found":
		r.add(LevelFail, topic, "systemd has no unit "+unit, "kesrotate-agent config --mithril-signer UNIT (the signer's service)")
		return
	}
	state, _ := systemdProperty(ctx, unit, "ActiveState")
	if state == "active" {
		r.add(LevelOK, topic, "unit "+unit+" is active; install restarts it after the node takes a new cert (the agent's user needs the right to: root, or a polkit rule for that unit)")
	} else {
		r.add(LevelWarn, topic, "unit "+unit+" is "+state)
	}
	if path := a.Config.MithrilEnvFile; path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			r.add(LevelFail, topic, err.Error(), "kesrotate-agent config --mithril-env-file PATH (the signer unit's EnvironmentFile)")
		} else {
			for _, w := range []struct{ key, path string }{{EnvKESKey, a.Config.KESKey}, {EnvCert, a.Config.Cert}} {
				got := ""
				for _, line := range strings.Split(string(data), "\n") {
					if k, v, ok := envLine(line); ok && k == w.key {
						got = v
					}
				}
				if got == w.path {
					r.add(LevelOK, topic, fmt.Sprintf("%s names the node's path %s", w.key, w.path))
				} else {
					r.add(LevelWarn, topic, fmt.Sprintf("%s is %q, not the node's path %s: install rewrites that line before it restarts the signer", w.key, got, w.path))
				}
			}
		}
	} else {
		r.add(LevelInfo, topic, fmt.Sprintf("no environment file given: the signer must read %s=%s and %s=%s (the node's paths, which every install repoints)", EnvKESKey, a.Config.KESKey, EnvCert, a.Config.Cert),
			"kesrotate-agent config --mithril-env-file PATH lets the agent check and keep them")
	}
	if a.Config.MithrilMetrics != "" {
		mctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		s, err := nodequery.Metrics(mctx, a.Config.MithrilMetrics)
		cancel()
		if err != nil {
			r.add(LevelFail, topic, err.Error(), "run the signer with ENABLE_METRICS_SERVER=true (METRICS_SERVER_IP, METRICS_SERVER_PORT) and give that URL: kesrotate-agent config --mithril-metrics URL")
			return
		}
		ok, attempts, _ := signerMetrics(s)
		r.add(LevelOK, topic, fmt.Sprintf("the signer's metrics answer: registered since it started %v (%d attempts)", ok, int64(attempts)))
		return
	}
	r.add(LevelInfo, topic, "no signer metrics URL: install confirms the registration from the unit's journal, which needs the signer at -vv (Info) and the agent's user allowed to read it (group systemd-journal)",
		"kesrotate-agent config --mithril-metrics http://127.0.0.1:9090/metrics (the signer with ENABLE_METRICS_SERVER=true)")
}

// restartSignerAfter is RestartSigner after the node took a set: nothing
// to do without a signer configured.
func (a *Agent) restartSignerAfter(ctx context.Context, o SignerOptions) (*SignerResult, error) {
	if a.Config.MithrilSigner == "" {
		return nil, nil
	}
	return a.RestartSigner(ctx, o)
}
