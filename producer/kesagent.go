package producer

// KES-on-producer mode through IOG's kes-agent (input-output-hk/kes-agent).
// cardano-node 10.7.1 and later takes its KES key from a kes-agent's
// service socket (--shelley-kes-agent-socket): the key lives in the agent's
// locked memory and is never written to disk, the agent evolves it, and
// the node still reads the op cert file, for the cold key only. The agent
// drives kes-agent through its control socket by running kes-agent-control
// (kes-agent/cli/ControlMain.hs), whose outputs it reads:
//
//	gen-staged-key --kes-verification-key-file F   "KES SignKey generated." / "KES VerKey written to F"
//	export-staged-vkey --kes-verification-key-file F   "KES VerKey written to F" / "No key available."
//	install-key --opcert-file F                    "KES key installed." / "Error: <reason>" (exit = RecvResult)
//	drop-key                                       "KES key dropped." / "KES key not dropped:"
//	info                                           the agent's period, installed and staged keys
//
// kes-agent-control exits 0 when the agent refused gen-staged-key and when
// install-key's file did not decode: success is read from the lines, never
// from the exit code alone.
//
// What kes-agent changes for a rotation (kes-agent/src/Cardano/KESAgent/
// Processes/Agent/ControlActions.hs, CommonActions.hs, KES/Evolution.hs):
//
//   - install-key takes the staged key out before it checks the cert: a
//     refused cert loses the staged key. So the agent checks everything
//     first, and only then asks kes-agent to install.
//   - kes-agent keeps one installed key and no previous one, and refuses a
//     lower counter than the installed key's: there is no rollback. A
//     repair of an over-incremented cert goes through drop-key, after
//     which kes-agent takes any counter.
//   - kes-agent reckons its KES period from the genesis file's systemStart
//     and slot length alone (no Byron era) and evolves the key to it; a
//     period that is not the chain's evolves the key to the wrong
//     evolution, or drops it as expired. The agent compares the two before
//     it installs, and status reports it.
//   - A single kes-agent loses its keys when it restarts: status alerts
//     when it holds no key (the node keeps forging with the key it has
//     until it restarts itself).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/kesrotate/kesrotate/internal/safefile"
	"github.com/kesrotate/kesrotate/internal/textsafe"
	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/producer/nodequery"
)

// KESAgentControl is the kes-agent-control program the agent runs (looked
// up on PATH unless a path).
var KESAgentControl = "kes-agent-control"

// Errors of kes-agent mode; test with errors.Is.
var (
	// ErrKESAgent: kes-agent could not be asked (kes-agent-control missing,
	// the agent not running, an answer the agent does not understand).
	ErrKESAgent = errors.New("cannot ask kes-agent")
	// ErrKESAgentRefused: kes-agent refused the cert (its reason follows).
	ErrKESAgentRefused = errors.New("kes-agent refused the cert")
	// ErrKESAgentStaged: kes-agent does not hold, as its staged key, the
	// key 'kes new' made (it restarted, or another staged key replaced it).
	ErrKESAgentStaged = errors.New("kes-agent does not hold the staged KES key")
	// ErrKESAgentPeriod: kes-agent's KES period is not the chain's.
	ErrKESAgentPeriod = errors.New("kes-agent's KES period is not the chain's")
	// ErrKESAgentNoKey: kes-agent holds no installed KES key.
	ErrKESAgentNoKey = errors.New("kes-agent holds no KES key")
	// ErrKESAgentMismatch: kes-agent's installed key is not the one the
	// node's op cert file certifies.
	ErrKESAgentMismatch = errors.New("kes-agent's KES key is not the installed cert's")
	// ErrKESAgentMode: the command cannot be done when the KES key lives
	// in kes-agent.
	ErrKESAgentMode = errors.New("not possible with the KES key in kes-agent")
)

// KESAgentMode reports whether the node takes its KES key from kes-agent.
func (a *Agent) KESAgentMode() bool { return a.Config.KESAgentSocket != "" }

// KESAgentInfo is what `kes-agent-control info` reports.
type KESAgentInfo struct {
	Version   string            `json:"version,omitempty"`
	Period    uint64            `json:"current_kes_period"`
	Installed *KESAgentKey      `json:"installed,omitempty"` // nil: no key
	Deleted   bool              `json:"deleted,omitempty"`   // the installed slot holds a deletion (drop-key)
	Staged    *keys.KESVKey     `json:"-"`
	StagedHex string            `json:"staged_vkey,omitempty"`
	Peers     map[string]string `json:"bootstrap_peers,omitempty"`
}

// KESAgentKey is kes-agent's installed key.
type KESAgentKey struct {
	VKey      keys.KESVKey `json:"-"`
	VKeyHex   string       `json:"vkey"`
	Start     uint64       `json:"start_kes_period"`
	Evolution uint64       `json:"evolution"`
	Counter   uint64       `json:"counter"`
}

var ansiRe = regexp.MustCompile("\x1b\\[[0-9;]*m")

// ParseKESAgentInfo reads the output of `kes-agent-control info`
// (ControlMain.hs runGetInfo): its sections Agent, Installed KES SignKey,
// Staged KES SignKey and Bootstrap Peers, with or without colours. A
// deleted key prints "{KEY DELETED}" with no newline, so the next section's
// header may follow on the same line.
func ParseKESAgentInfo(out []byte) (*KESAgentInfo, error) {
	text := ansiRe.ReplaceAllString(string(out), "")
	text = strings.ReplaceAll(text, "{KEY DELETED}", "{KEY DELETED}\n")
	in := &KESAgentInfo{}
	section, sawPeriod := "", false
	bad := func(line string) error {
		return fmt.Errorf("%w: kes-agent-control info printed %q, which the agent does not understand", ErrKESAgent, textsafe.Cut(line, 120))
	}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.HasPrefix(line, "--- ") && strings.HasSuffix(line, " ---") {
			section = strings.TrimSuffix(strings.TrimPrefix(line, "--- "), " ---")
			if section == "Installed KES SignKey" {
				in.Installed = &KESAgentKey{}
			}
			continue
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		if line == "{KEY DELETED}" && section == "Installed KES SignKey" {
			in.Installed, in.Deleted = nil, true
			continue
		}
		key, val, ok := strings.Cut(line, ": ")
		if !ok {
			continue // a line this reader does not know: later versions may add some
		}
		val = strings.TrimSpace(val)
		if section == "Bootstrap Peers" {
			if in.Peers == nil {
				in.Peers = map[string]string{}
			}
			in.Peers[strings.TrimSpace(key)] = val
			continue
		}
		var err error
		switch section + "/" + key {
		case "Agent/Agent version":
			in.Version = val
		case "Agent/Current KES period":
			in.Period, err = strconv.ParseUint(val, 10, 64)
			sawPeriod = true
		case "Installed KES SignKey/VerKey":
			if in.Installed != nil {
				in.Installed.VKey, err = parseVKeyHex(val)
				in.Installed.VKeyHex = val
			}
		case "Installed KES SignKey/Valid from period":
			if in.Installed != nil {
				in.Installed.Start, err = strconv.ParseUint(val, 10, 64)
			}
		case "Installed KES SignKey/Current evolution":
			if in.Installed != nil {
				e, _, _ := strings.Cut(val, " /")
				in.Installed.Evolution, err = strconv.ParseUint(e, 10, 64)
			}
		case "Installed KES SignKey/OpCert number":
			if in.Installed != nil {
				in.Installed.Counter, err = strconv.ParseUint(val, 10, 64)
			}
		case "Staged KES SignKey/VerKey":
			var vk keys.KESVKey
			vk, err = parseVKeyHex(val)
			in.Staged, in.StagedHex = &vk, val
		}
		if err != nil {
			return nil, bad(line)
		}
	}
	if !sawPeriod {
		return nil, fmt.Errorf("%w: kes-agent-control info printed no \"Current KES period\"", ErrKESAgent)
	}
	if in.Installed != nil && in.Installed.VKeyHex == "" {
		return nil, fmt.Errorf("%w: kes-agent-control info shows an installed key without its VerKey", ErrKESAgent)
	}
	return in, nil
}

func parseVKeyHex(s string) (keys.KESVKey, error) {
	var vk keys.KESVKey
	if len(s) != 2*len(vk) {
		return vk, errors.New("not a 32-byte hex key")
	}
	for i := range vk {
		v, err := strconv.ParseUint(s[2*i:2*i+2], 16, 8)
		if err != nil {
			return vk, err
		}
		vk[i] = byte(v)
	}
	return vk, nil
}

// kesAgentRun runs kes-agent-control against the configured control
// socket. The control address is always given, so $KES_AGENT_CONTROL_PATH
// cannot redirect it; the other KES_AGENT_CONTROL_* variables are dropped
// from its environment so that retries do not stretch the wait.
func (a *Agent) kesAgentRun(ctx context.Context, args ...string) (stdout, stderr string, code int, err error) {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cctx, KESAgentControl, append([]string{"--control-address", a.Config.KESAgentSocket}, args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KES_AGENT_CONTROL_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code, err = ee.ExitCode(), nil
	case errors.Is(err, exec.ErrNotFound), errors.Is(err, os.ErrNotExist):
		return "", "", 0, fmt.Errorf("%w: %s is not installed (not on PATH)", ErrKESAgent, KESAgentControl)
	default:
		return "", "", 0, fmt.Errorf("%w: running %s: %w", ErrKESAgent, KESAgentControl, err)
	}
	if cctx.Err() != nil {
		return "", "", 0, fmt.Errorf("%w: %s %s did not answer within 30s", ErrKESAgent, KESAgentControl, args[0])
	}
	stdout, stderr = out.String(), errb.String()
	if code != 0 && !hasLine(stdout, "Error: ") {
		// The agent could not be reached (an exception: exit 1 and the
		// message on stderr), or the command line was refused.
		msg := strings.TrimSpace(stderr)
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		msg = strings.TrimPrefix(msg, "kes-agent-control: ")
		return stdout, stderr, code, fmt.Errorf("%w at %s: %s %s: %s", ErrKESAgent, a.Config.KESAgentSocket, KESAgentControl, args[0], textsafe.Clip(msg, 120))
	}
	return stdout, stderr, code, nil
}

func hasLine(out, prefix string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

// KESAgentInfo asks kes-agent what it holds.
func (a *Agent) KESAgentInfo(ctx context.Context) (*KESAgentInfo, error) {
	out, _, _, err := a.kesAgentRun(ctx, "info")
	if err != nil {
		return nil, err
	}
	return ParseKESAgentInfo([]byte(out))
}

// kesAgentVKeyFile is where kes-agent-control writes a vkey for the agent
// to read (then removed).
const kesAgentVKeyFile = "kes-agent.vkey"

// kesAgentVKey runs a command that writes a vkey file (gen-staged-key,
// export-staged-vkey) and reads it; nil when kes-agent says it has none.
func (a *Agent) kesAgentVKey(ctx context.Context, cmd string) (*keys.KESVKey, error) {
	dir := filepath.Join(a.Dir, KESDir)
	if err := safefile.MkdirSecret(dir); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPermissions, err)
	}
	path := filepath.Join(dir, kesAgentVKeyFile)
	_ = os.Remove(path)
	defer os.Remove(path)
	out, _, _, err := a.kesAgentRun(ctx, cmd, "--kes-verification-key-file", path)
	if err != nil {
		return nil, err
	}
	switch {
	case hasLine(out, "No key available."):
		return nil, nil
	case hasLine(out, "Key generation has failed."):
		return nil, fmt.Errorf("%w: kes-agent could not generate a key (its log says why)", ErrKESAgent)
	case !hasLine(out, "KES VerKey written to "):
		return nil, fmt.Errorf("%w: %s %s printed %q", ErrKESAgent, KESAgentControl, cmd, textsafe.Cut(strings.TrimSpace(out), 120))
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: reading the vkey kes-agent-control wrote: %w", ErrKESAgent, err)
	}
	vk, err := keys.ParseKESVKey(b)
	if err != nil {
		return nil, fmt.Errorf("%w: the vkey kes-agent-control wrote: %w", ErrKESAgent, err)
	}
	return &vk, nil
}

// pendingVKey is the vkey 'kes new' last had kes-agent stage (or made on
// disk in file mode), nil if none.
func (a *Agent) pendingVKey() (*keys.KESVKey, error) {
	b, err := os.ReadFile(filepath.Join(a.Dir, KESDir, PendingKESVK))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	vk, err := keys.ParseKESVKey(b)
	if err != nil {
		return nil, fmt.Errorf("pending KES vkey: %w", err)
	}
	return &vk, nil
}

// newPendingViaAgent is 'kes new' in kes-agent mode: kes-agent generates
// the key and keeps it staged; only its vkey is written (pending.vkey),
// for the next snapshot. A staged key kes-agent already holds is replaced
// only with replace, unless it is none of this agent's (a pending vkey
// kes-agent lost is simply made again).
func (a *Agent) newPendingViaAgent(ctx context.Context, replace bool) (keys.KESVKey, error) {
	staged, err := a.kesAgentVKey(ctx, "export-staged-vkey")
	if err != nil {
		return keys.KESVKey{}, err
	}
	pending, err := a.pendingVKey()
	if err != nil && !replace {
		return keys.KESVKey{}, err
	}
	if staged != nil && !replace {
		if pending != nil && *pending == *staged {
			if c, err := a.InstalledCert(); err != nil || c == nil || c.KESVKey != *staged {
				return keys.KESVKey{}, fmt.Errorf("%w: kes-agent holds it staged; its vkey rides in the next snapshot", ErrPendingExists)
			}
		} else {
			return keys.KESVKey{}, fmt.Errorf("%w: kes-agent already holds a staged key that 'kes new' did not make (vkey %x…)", ErrPendingExists, staged[:4])
		}
	}
	if err := a.RemovePendingKES(); err != nil {
		return keys.KESVKey{}, err
	}
	vk, err := a.kesAgentVKey(ctx, "gen-staged-key")
	if err != nil {
		return keys.KESVKey{}, err
	}
	if vk == nil {
		return keys.KESVKey{}, fmt.Errorf("%w: gen-staged-key reported no key", ErrKESAgent)
	}
	if err := safefile.Replace(filepath.Join(a.Dir, KESDir, PendingKESVK), vk.MarshalEnvelope(), 0o644); err != nil {
		return keys.KESVKey{}, err
	}
	return *vk, nil
}

// checkStagedInAgent refuses a snapshot whose KES vkey kes-agent no longer
// holds staged: the cold machine would certify a key nobody has.
func (a *Agent) checkStagedInAgent(ctx context.Context, pending keys.KESVKey) error {
	staged, err := a.kesAgentVKey(ctx, "export-staged-vkey")
	switch {
	case err != nil:
		return err
	case staged == nil:
		return fmt.Errorf("%w: it holds no staged key (kes-agent loses it when it restarts)", ErrKESAgentStaged)
	case *staged != pending:
		return fmt.Errorf("%w: it holds another staged key (vkey %x…, 'kes new' made %x…)", ErrKESAgentStaged, staged[:4], pending[:4])
	}
	return nil
}

// kesAgentInstall runs install-key for the cert file at path.
func (a *Agent) kesAgentInstall(ctx context.Context, path string) error {
	out, _, code, err := a.kesAgentRun(ctx, "install-key", "--opcert-file", path)
	if err != nil {
		return err
	}
	if hasLine(out, "KES key installed.") && code == 0 {
		return nil
	}
	for _, l := range strings.Split(out, "\n") {
		if r, ok := strings.CutPrefix(l, "Error: "); ok {
			return fmt.Errorf("%w: %s", ErrKESAgentRefused, textsafe.Clip(r, 120))
		}
	}
	return fmt.Errorf("%w: install-key printed %q (exit %d)", ErrKESAgent, textsafe.Cut(strings.TrimSpace(out), 120), code)
}

// kesAgentDrop runs drop-key.
func (a *Agent) kesAgentDrop(ctx context.Context) error {
	out, _, _, err := a.kesAgentRun(ctx, "drop-key")
	if err != nil {
		return err
	}
	if !hasLine(out, "KES key dropped.") {
		return fmt.Errorf("%w: drop-key printed %q", ErrKESAgent, textsafe.Cut(strings.TrimSpace(out), 120))
	}
	return nil
}

// deployViaKESAgent is Install when the KES key lives in kes-agent. It
// checks with kes-agent first — its KES period is the chain's, it holds as
// staged key the one the cert certifies, and it will take the counter —
// because install-key consumes the staged key even when it refuses the
// cert. Then it stages the set (VRF key and cert, no KES key), has
// kes-agent install the cert (after drop-key for the repair of an
// over-incremented cert), makes the set active so that the node's cert
// file names the cert kes-agent serves, and confirms from kes-agent's info
// and the node's metrics. The node is not signalled: kes-agent pushes the
// key to it, and it reads the cert file only when it starts. There is no
// rollback: kes-agent keeps no previous key.
func (a *Agent) deployViaKESAgent(ctx context.Context, c *Candidate, o InstallOptions) (*InstallResult, error) {
	cert := c.Bundle.Cert
	info, err := a.KESAgentInfo(ctx)
	if err != nil {
		return nil, err
	}
	if kp := a.Network.KESPeriod(o.TipSlot); info.Period != kp {
		return nil, fmt.Errorf("%w: kes-agent is in KES period %d, the chain in %d; it would evolve the key for the wrong period, or drop it as expired (kes-agent counts periods from its genesis file's systemStart and slot length, and knows no Byron era)",
			ErrKESAgentPeriod, info.Period, kp)
	}
	held := info.Installed != nil && info.Installed.VKey == cert.KESVKey && info.Installed.Counter == cert.Counter && info.Installed.Start == cert.KESPeriod
	// The node's metrics cannot tell two certs with one start period
	// apart, and what the node forges with now is only seen there (not in
	// its cert file, nor in kes-agent, which may have restarted while the
	// node kept its key): ambiguous when they already show this start
	// period, or cannot be read.
	ambiguous := !held && a.nodeShowsStart(ctx, cert.KESPeriod)
	drop := false
	if !held {
		switch {
		case info.Staged == nil:
			return nil, fmt.Errorf("%w: it holds no staged key (kes-agent loses it when it restarts)", ErrKESAgentStaged)
		case *info.Staged != cert.KESVKey:
			return nil, fmt.Errorf("%w: it holds another staged key (vkey %x…) than the one the cert certifies (%x…)", ErrKESAgentStaged, info.Staged[:4], cert.KESVKey[:4])
		case info.Installed != nil && cert.Counter < info.Installed.Counter && c.Repair:
			drop = true // after a deletion kes-agent takes any counter
		case info.Installed != nil && cert.Counter < info.Installed.Counter:
			return nil, fmt.Errorf("%w: kes-agent holds cert #%d and refuses a lower counter; the bundle's cert is #%d", ErrDowngrade, info.Installed.Counter, cert.Counter)
		}
	}
	took := false
	commit := func(setDir string) error {
		if held {
			return nil
		}
		if drop {
			if err := a.kesAgentDrop(ctx); err != nil {
				return err
			}
		}
		if err := a.kesAgentInstall(ctx, filepath.Join(setDir, SetCertFile)); err != nil {
			if errors.Is(err, ErrKESAgentRefused) {
				// kes-agent took the staged key out before it refused:
				// the pending vkey names a key nobody holds any more.
				_ = a.RemovePendingKES()
			}
			if drop {
				return fmt.Errorf("%w (kes-agent had dropped the over-incremented key first and holds none now)", err)
			}
			return err
		}
		took = true
		return nil
	}
	ir, err := a.installSet(c, o.ActivateOptions, commit)
	if err != nil {
		res := undoneResult(err)
		res.KESAgentTook = took
		return res, err
	}
	res := &InstallResult{Activated: ir, KESAgent: true}
	conf, err := a.confirmViaKESAgent(ctx, c, o, ambiguous)
	res.Confirmation = conf
	if err != nil {
		return res, err
	}
	return res, a.finishPending(c, o.Hook)
}

// confirmViaKESAgent checks that kes-agent holds the cert's key, then, from
// the node's metrics, that the node forges with it.
func (a *Agent) confirmViaKESAgent(ctx context.Context, c *Candidate, o InstallOptions, ambiguous bool) (Confirmation, error) {
	cert := c.Bundle.Cert
	info, err := a.KESAgentInfo(ctx)
	if err != nil {
		return Confirmation{Detail: err.Error()}, err
	}
	if k := info.Installed; k == nil || k.VKey != cert.KESVKey || k.Counter != cert.Counter || k.Start != cert.KESPeriod {
		why := "kes-agent holds no key after install-key"
		if k != nil {
			why = fmt.Sprintf("kes-agent holds cert #%d from period %d, not the installed #%d from %d", k.Counter, k.Start, cert.Counter, cert.KESPeriod)
		}
		return Confirmation{Detail: why}, fmt.Errorf("%w: %s", ErrKESAgentMismatch, why)
	}
	if o.NoSignal || a.Config.MetricsURL == "" {
		detail := "kes-agent holds the new key; without a metrics URL the node's taking it is not seen"
		if o.NoSignal {
			detail = "kes-agent holds the new key; the node was not watched (--no-signal)"
		}
		return Confirmation{Unconfirmable: true, Sources: []string{"kes-agent"}, Detail: detail}, nil
	}
	exp := a.expectFor(cert, o.TipSlot)
	exp.Ambiguous = ambiguous
	timeout := o.ConfirmTimeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conf, err := Confirm(cctx, Watch{MetricsURL: a.Config.MetricsURL}, exp, o.Poll)
	if err != nil {
		return conf, fmt.Errorf("%w; kes-agent holds the new key and keeps no previous one, so there is no rollback", err)
	}
	if conf.Unconfirmable {
		conf.Detail = fmt.Sprintf("it pushes it to a connected node at once, but the node's metrics showed a cert from KES period %d before too, so they cannot show that it took the new one", cert.KESPeriod)
	}
	conf.Sources = append([]string{"kes-agent"}, conf.Sources...)
	return conf, nil
}

// KESAgentStatus is what status reports of kes-agent.
type KESAgentStatus struct {
	Socket string `json:"socket"`
	Error  string `json:"error,omitempty"` // kes-agent could not be asked
	err    error
	Info   *KESAgentInfo `json:"info,omitempty"`
	// PeriodOK: kes-agent's KES period is the chain's.
	PeriodOK bool `json:"kes_period_ok"`
	// MatchesCert: kes-agent's installed key is the one the node's op
	// cert file certifies, with its counter and start period.
	MatchesCert bool `json:"matches_installed_cert"`
}

// kesAgentStatus asks kes-agent and compares what it holds with the
// installed cert and the chain's KES period.
func (a *Agent) kesAgentStatus(ctx context.Context, s *Status) *KESAgentStatus {
	ks := &KESAgentStatus{Socket: a.Config.KESAgentSocket}
	info, err := a.KESAgentInfo(ctx)
	if err != nil {
		ks.Error, ks.err = err.Error(), err
		return ks
	}
	ks.Info = info
	ks.PeriodOK = info.Period == s.CurrentPeriod
	if k := info.Installed; k != nil {
		ks.MatchesCert = k.VKeyHex == s.CertKESVKey && k.Counter == s.CertCounter && k.Start == s.CertKESPeriod
	}
	return ks
}

// inspectKESAgent is check's look at kes-agent: it answers, reckons the
// chain's KES period, and holds the installed cert's key.
func (a *Agent) inspectKESAgent(ctx context.Context, o InspectOptions, r *Report) {
	const topic = "kes-agent"
	info, err := a.KESAgentInfo(ctx)
	if err != nil {
		r.add(LevelFail, topic, err.Error(), "start kes-agent with --control-address "+a.Config.KESAgentSocket+" (and the node with --shelley-kes-agent-socket on its --service-address), or fix the path: kesrotate-agent config --kes-agent-socket PATH",
			"install kes-agent-control on this host's PATH")
		return
	}
	r.add(LevelOK, topic, fmt.Sprintf("kes-agent %s answers on %s", orDefault(info.Version, "(version unknown)"), a.Config.KESAgentSocket))
	chain, err := a.Chain(ctx, ChainOptions{Now: o.Now, Timeout: o.Timeout, For: ForCheck})
	if err == nil {
		if kp := a.Network.KESPeriod(chain.TipSlot); kp != info.Period {
			r.add(LevelFail, topic, fmt.Sprintf("kes-agent is in KES period %d, the chain (%s) in %d: it would evolve a key for the wrong period; install refuses", info.Period, chain.Source, kp),
				"check the clock of kes-agent's host and the genesis file it runs with (--genesis-file): kes-agent counts periods from its systemStart and slot length, with no Byron era")
		} else {
			r.add(LevelOK, topic, fmt.Sprintf("kes-agent's KES period %d is the chain's (%s)", kp, chain.Source))
		}
	}
	inst, _ := a.InstalledCert()
	cur, _ := a.CurrentSet()
	switch k := info.Installed; {
	case k == nil && cur != "":
		r.add(LevelFail, topic, "kes-agent holds no installed KES key (it loses it when it restarts): the node forges only until it restarts",
			"kesrotate-agent kes new, then a snapshot and a rotation on the cold machine")
	case k == nil:
		r.add(LevelInfo, topic, "kes-agent holds no installed KES key yet: the node cannot forge until the first install puts one there (kesrotate-agent kes new, snapshot, rotate, install)")
	case inst != nil && (k.VKey != inst.KESVKey || k.Counter != inst.Counter):
		r.add(LevelFail, topic, fmt.Sprintf("kes-agent holds cert #%d (vkey %s…), the node's cert file is #%d: they are not the same cert", k.Counter, k.VKeyHex[:8], inst.Counter))
	default:
		r.add(LevelOK, topic, fmt.Sprintf("kes-agent holds cert #%d from period %d at evolution %d", k.Counter, k.Start, k.Evolution))
	}
	if info.Staged != nil {
		r.add(LevelInfo, topic, fmt.Sprintf("kes-agent holds a staged key (vkey %x…) waiting for its cert", info.Staged[:4]))
	}
}

// nodeShowsStart reports whether the node's metrics show a cert starting
// in period start, or cannot be read (then nothing they show later proves
// a change).
func (a *Agent) nodeShowsStart(ctx context.Context, start uint64) bool {
	if a.Config.MetricsURL == "" {
		return false // nothing will be confirmed from them anyway
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := nodequery.Metrics(cctx, a.Config.MetricsURL)
	if err != nil {
		return true
	}
	f := ReadForging(s)
	return f.StartPeriod != nil && *f.StartPeriod == start
}
