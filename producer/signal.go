package producer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kesrotate/kesrotate/transfer"
)

// NodePID finds the node to signal: the pid in the configured pid file,
// the MainPID of the systemd unit, or the one process whose arguments name
// all three configured credential paths. It never matches by name.
func (a *Agent) NodePID() (int, error) {
	s := a.Config.Signal
	switch s.Mode {
	case SignalPIDFile:
		b, err := os.ReadFile(s.PIDFile)
		if err != nil {
			return 0, fmt.Errorf("%w: pid file: %w", ErrNodeNotFound, err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 1 {
			return 0, fmt.Errorf("%w: pid file %s does not hold a pid", ErrNodeNotFound, s.PIDFile)
		}
		if err := checkPIDFile(a.procRoot(), s.PIDFile, pid); err != nil {
			return 0, err
		}
		return pid, nil
	case SignalSystemd:
		out, err := exec.Command(Systemctl, "show", "-p", "MainPID", "--value", s.SystemdUnit).Output()
		if err != nil {
			var ee *exec.ExitError
			var ex *exec.Error
			switch {
			case errors.As(err, &ex):
				err = errors.New("systemctl is not installed here")
			case errors.As(err, &ee) && len(strings.TrimSpace(string(ee.Stderr))) > 0:
				err = errors.New(strings.TrimSpace(string(ee.Stderr)))
			}
			return 0, fmt.Errorf("%w: systemctl show %s: %w", ErrNodeNotFound, s.SystemdUnit, err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
		if err != nil || pid <= 1 {
			return 0, fmt.Errorf("%w: unit %s is not running (MainPID %q)", ErrNodeNotFound, s.SystemdUnit, strings.TrimSpace(string(out)))
		}
		return pid, nil
	case SignalProcess:
		uids, err := a.nodeUIDs()
		if err != nil {
			return 0, err
		}
		return MatchProcess(a.procRoot(), [3]string{a.Config.KESKey, a.Config.VRFKey, a.Config.Cert}, uids...)
	}
	return 0, fmt.Errorf("%w: signalling is off (mode %q)", ErrNodeNotFound, s.Mode)
}

// nodeUIDs are the users whose processes --match-process may signal: the
// agent's own, and when the agent runs as root, the owner of the node's
// credential folder (the node's user) — never any user's process that
// happens to name the paths.
func (a *Agent) nodeUIDs() ([]uint32, error) {
	euid := uint32(os.Geteuid())
	if euid != 0 {
		return []uint32{euid}, nil
	}
	fi, err := os.Stat(filepath.Dir(a.Config.KESKey))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNodeNotFound, err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil, fmt.Errorf("%w: no owner for %s", ErrNodeNotFound, filepath.Dir(a.Config.KESKey))
	}
	return []uint32{0, st.Uid}, nil
}

// MatchProcess scans procRoot (/proc) for the one process, other than
// this one, whose command line names all three paths as arguments (as
// "PATH" or "--flag=PATH") and, when uids are given, that one of those
// users owns. None or several is an error.
func MatchProcess(procRoot string, paths [3]string, uids ...uint32) (int, error) {
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrNodeNotFound, err)
	}
	var found, others []int
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
		if !argsName(args[1:], paths) {
			continue
		}
		if len(uids) > 0 {
			fi, err := os.Stat(filepath.Join(procRoot, e.Name()))
			st, ok := fi.Sys().(*syscall.Stat_t)
			if err != nil || !ok || !slices.Contains(uids, st.Uid) {
				others = append(others, pid)
				continue
			}
		}
		found = append(found, pid)
	}
	switch len(found) {
	case 0:
		if len(others) > 0 {
			return 0, fmt.Errorf("%w: processes %v name the credential paths but belong to another user than the node's; configure a pid file or systemd unit", ErrNodeNotFound, others)
		}
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

// InstallOptions are Install's options plus how to reload the node.
type InstallOptions struct {
	ActivateOptions
	// NoSignal installs without signalling the node.
	NoSignal bool
	// ConfirmTimeout bounds the wait for the node (default 60 s).
	ConfirmTimeout time.Duration
	// Poll is the interval between looks at metrics and log.
	Poll time.Duration
	// Signal, if set, replaces SignalNode (tests signal an in-process
	// node). It returns a description such as "pid 1234".
	Signal func() (string, error)
	// NodePID, if set, replaces NodePID for the check that the node can
	// see the installed files (tests).
	NodePID func() (int, error)
	// Signer bounds the wait for the Mithril signer after the node took
	// the set (with --mithril-signer).
	Signer SignerOptions
	// KeepCheckpoint keeps the bundle's ceremony-log checkpoint (see
	// KeepCheckpoint) once the bundle passed every check, whatever then
	// becomes of the install: the checkpoint shows what the cold side
	// logged, not what the node took.
	KeepCheckpoint bool
}

// InstallResult says what Install did.
type InstallResult struct {
	Activated *ActivateResult
	// SeenByNode: the agent checked in the node's own file-system view
	// that its credential paths lead to the new files.
	SeenByNode   bool
	Signalled    string // "" when not signalled, else whom ("pid 1234")
	Confirmation Confirmation
	RolledBack   *RollbackResult
	// RollbackConfirmation: what the node showed after the rollback.
	RollbackConfirmation *Confirmation
	// Signer is the Mithril signer's restart after the node took the set;
	// SignerNote says why it was not restarted (with a signer configured).
	Signer     *SignerResult
	SignerNote string
	// SignerErr is the error of the signer's restart, when it is the only
	// failure: the node's side stands and is not undone for it (the
	// error returned is then this one).
	SignerErr error
	// KESAgent: the key went to kes-agent (the node was not signalled).
	KESAgent bool
	// KESAgentTook: kes-agent took the new key (install-key succeeded),
	// even when the install failed after it and no set became active.
	KESAgentTook bool
	// Undone: the install failed after it pointed current at the new set
	// and put back the set before and the node's paths (UndoError);
	// UndoErr: putting them back failed, and the node's paths may lead
	// to either set.
	Undone  bool
	UndoErr error
	// NotSeen: in its own file-system view the node cannot see the new
	// set (ErrNodeCannotSee); it was not signalled.
	NotSeen bool
	// NotTaken: the node was signalled and did not take the new set
	// (ErrNotConfirmed).
	NotTaken bool
	// RollbackErr: going back to the previous set, after NotSeen or
	// NotTaken, failed; which set the node's paths lead to is for status
	// to tell.
	RollbackErr error
	// FinishErr: the set stands but the pending KES key was not removed
	// after it (ErrPendingKept).
	FinishErr error
	// CheckpointKept is the file the bundle's checkpoint is kept in ("" if
	// the bundle carries none or it was not kept); CheckpointErr says why
	// it was not kept. The install does not depend on it.
	CheckpointKept string
	CheckpointErr  error
}

// Install and rollback states: what InstallResult.State and
// RollbackResult.State report (the JSON "state" of install and rollback).
const (
	StateConfirmed    = "confirmed"
	StateStaged       = "staged"
	StateNotSignalled = "not signalled"
	StateUnconfirmed  = "signalled, not confirmed"
	// StateKESAgentUnconfirmed: kes-agent holds the new key, the node's
	// taking it is not seen.
	StateKESAgentUnconfirmed = "installed in kes-agent, node not confirmed"

	// The states of a failed install that changed something (Install
	// returns an error with them).

	// StateRolledBack: the node did not take the new set, or could not see
	// it; the previous set is active again.
	StateRolledBack = "rolled back"
	// StateRollbackFailed: the node did not take the new set, or could not
	// see it, and going back to the previous set failed.
	StateRollbackFailed = "rollback failed"
	// StateNodeCannotSee: the node cannot see the new set in its own
	// file-system view and there was no earlier set to return to: the new
	// set stays active, the node was not signalled.
	StateNodeCannotSee = "node cannot see"
	// StateNotTaken: the node was signalled and did not take the new set,
	// and there was no earlier set to return to: it stays active.
	StateNotTaken = "not taken"
	// StateConfirmedPendingKept, StateUnconfirmedPendingKept and
	// StateNotSignalledPendingKept: the set stands as StateConfirmed,
	// StateUnconfirmed or StateNotSignalled say, but the pending KES key
	// was not removed after it (ErrPendingKept).
	StateConfirmedPendingKept    = "confirmed, pending KES key kept"
	StateUnconfirmedPendingKept  = "signalled, not confirmed, pending KES key kept"
	StateNotSignalledPendingKept = "not signalled, pending KES key kept"
	// StateNothingChanged: the install failed before the new set became
	// active, or after and it was put back (Undone): the node's paths and
	// kes-agent are as they were.
	StateNothingChanged = "nothing changed"
	// StateUndoFailed: the install failed half way through making the new
	// set active, and putting back the set before failed too (UndoErr).
	StateUndoFailed = "undo failed"
	// StateKESAgentNotActive: kes-agent took the new key, but the set
	// holding its cert did not become active (the node's cert file names
	// the previous cert); installing the same bundle again completes it.
	StateKESAgentNotActive = "installed in kes-agent, set not active"
)

// State says where the install stands: a standby's set is staged; in
// kes-agent mode it is confirmed or only installed in kes-agent; else the
// node was not signalled, or signalled and confirmed, or signalled and not
// confirmed (nothing could tell). A failed install that changed something
// says what it left: rolled back (or the rollback failed), the new set
// kept because there was nothing to return to (node cannot see, not
// taken), or the set standing with the pending KES key kept.
func (r *InstallResult) State() string {
	switch {
	case r.Activated != nil && r.Activated.Staged:
		return StateStaged
	case r.Activated == nil && r.KESAgentTook:
		return StateKESAgentNotActive
	case r.Activated == nil && r.UndoErr != nil:
		return StateUndoFailed
	case r.Activated == nil:
		return StateNothingChanged
	case r.KESAgent && r.Confirmation.Confirmed:
		return StateConfirmed
	case r.KESAgent:
		return StateKESAgentUnconfirmed
	case r.RollbackErr != nil:
		return StateRollbackFailed
	case r.RolledBack != nil:
		return StateRolledBack
	case r.NotSeen:
		return StateNodeCannotSee
	case r.NotTaken:
		return StateNotTaken
	}
	state := reloadState(r.Signalled, r.Confirmation)
	if r.FinishErr == nil {
		return state
	}
	switch state {
	case StateConfirmed:
		return StateConfirmedPendingKept
	case StateUnconfirmed:
		return StateUnconfirmedPendingKept
	}
	return StateNotSignalledPendingKept
}

// reloadState is the state of a node signalled by who ("" for not
// signalled) that showed conf.
func reloadState(who string, conf Confirmation) string {
	switch {
	case who == "":
		return StateNotSignalled
	case conf.Confirmed:
		return StateConfirmed
	}
	return StateUnconfirmed
}

// Install installs a bundle and reloads the node, under the agent lock:
// check, stage, swap, SIGHUP, confirm. When the node does not take the new
// set in time it rolls back to the previous set, signals again and fails
// with ErrNotConfirmed; the result still says what happened.
//
// With o.KeepCheckpoint the bundle's checkpoint is kept once the bundle
// passed the checks, before anything changes: a failed or rolled-back
// install keeps it too (the result then is never nil).
func (a *Agent) Install(ctx context.Context, b *transfer.Bundle, o InstallOptions) (*InstallResult, error) {
	l, err := a.Lock()
	if err != nil {
		return nil, err
	}
	defer l.Unlock()
	c, err := a.Check(b, o.ActivateOptions)
	if err != nil {
		return nil, err
	}
	defer c.Wipe()
	if !o.KeepCheckpoint {
		return a.installChecked(ctx, b, c, o)
	}
	kept, kerr := a.KeepCheckpoint(b.Checkpoint)
	res, err := a.installChecked(ctx, b, c, o)
	if res == nil {
		res = &InstallResult{}
	}
	res.CheckpointKept, res.CheckpointErr = kept, kerr
	return res, err
}

// installChecked is Install after the checks, under the lock.
func (a *Agent) installChecked(ctx context.Context, b *transfer.Bundle, c *Candidate, o InstallOptions) (*InstallResult, error) {
	if a.KESAgentMode() {
		return a.deployViaKESAgent(ctx, c, o)
	}
	if a.Role() == RoleStandby {
		// A standby keeps the set ready: its node's paths and the node
		// itself are left alone, whatever the options say.
		ir, err := a.stageOnly(c, o.ActivateOptions)
		if err != nil {
			return nil, err
		}
		return &InstallResult{Activated: ir}, nil
	}
	ir, err := a.install(c, o.ActivateOptions)
	if err != nil {
		return undoneResult(err), err
	}
	res := &InstallResult{Activated: ir}
	if !a.signals(o) {
		if a.Config.MithrilSigner != "" {
			res.SignerNote = "the node was not signalled: once it reads the new set, restart the signer with 'kesrotate-agent mithril restart'"
		}
		return res, a.finishPendingOf(res, c, o.Hook)
	}
	// A node that cannot see the new files would disable forging on the
	// signal: look through its eyes first, and go back if it cannot.
	if pid, ok := a.pidForCheck(o); ok {
		checked, serr := a.CheckNodeSees(pid)
		res.SeenByNode = checked
		if serr != nil {
			res.NotSeen = errors.Is(serr, ErrNodeCannotSee)
			if ir.Previous != "" && !ir.Same {
				rb, rerr := a.rollback(nil)
				if rerr != nil {
					res.RollbackErr = rerr
					return res, fmt.Errorf("%w; rolling back failed too: %w", serr, rerr)
				}
				res.RolledBack = rb
			}
			return res, serr
		}
	}
	exp := a.expectFor(b.Cert, o.TipSlot)
	if c.Installed != nil && !c.Same && c.Installed.KESPeriod == b.Cert.KESPeriod {
		exp.Ambiguous = true
	}
	conf, who, err := a.reload(ctx, exp, o)
	res.Signalled, res.Confirmation = who, conf
	if err == nil {
		if err := a.finishPendingOf(res, c, o.Hook); err != nil {
			return res, err
		}
		// The new set stands: the Mithril signer must read it too. Its
		// failure is reported; the node's install stays.
		res.Signer, err = a.restartSignerAfter(ctx, withNow(o.Signer, o.Now))
		res.SignerErr = err
		return res, err
	}
	res.NotTaken = who != ""
	if who == "" || ir.Previous == "" || ir.Same {
		return res, err // not signalled, or nothing to go back to
	}
	rb, rerr := a.rollback(nil)
	if rerr != nil {
		res.RollbackErr = rerr
		return res, fmt.Errorf("%w; rolling back failed too: %w", err, rerr)
	}
	res.RolledBack = rb
	// Signal again and look whether the node is back on the previous set
	// (a shorter wait: the node has just shown it answers).
	back := o
	if back.ConfirmTimeout <= 0 || back.ConfirmTimeout > 20*time.Second {
		back.ConfirmTimeout = 20 * time.Second
	}
	prev := c.Installed
	var rc Confirmation
	var rerr2 error
	if prev != nil {
		pexp := a.expectFor(prev, o.TipSlot)
		pexp.Ambiguous = prev.KESPeriod == b.Cert.KESPeriod
		rc, _, rerr2 = a.reload(ctx, pexp, back)
	} else {
		_, rerr2 = a.signal(o)
		rc = Confirmation{Unconfirmable: true, Detail: "the previous set has no cert"}
	}
	res.RollbackConfirmation = &rc
	switch {
	case errors.Is(rerr2, ErrNotConfirmed):
		return res, fmt.Errorf("%w; rolled back to %s and signalled again, but that is not confirmed either: %s", err, rb.To, rc.Detail)
	case rerr2 != nil:
		return res, fmt.Errorf("%w; rolled back to %s but signalling again failed: %w", err, rb.To, rerr2)
	case rc.Confirmed:
		return res, fmt.Errorf("%w; rolled back to %s, and the node forges with it again (%s)", err, rb.To, strings.Join(rc.Sources, " and "))
	}
	return res, fmt.Errorf("%w; rolled back to %s and signalled again", err, rb.To)
}

// undoneResult is the result of an install that failed before a set
// became active: nothing changed, or an UndoError says what was put back.
func undoneResult(err error) *InstallResult {
	res := &InstallResult{}
	var ue *UndoError
	if errors.As(err, &ue) {
		res.Undone, res.UndoErr = ue.UndoErr == nil, ue.UndoErr
	}
	return res
}

// pidForCheck is the node process whose view to check, when known.
func (a *Agent) pidForCheck(o InstallOptions) (int, bool) {
	switch {
	case o.NodePID != nil:
		pid, err := o.NodePID()
		return pid, err == nil
	case o.Signal != nil || a.Config.Signal.Mode == SignalNone:
		return 0, false
	}
	pid, err := a.NodePID()
	return pid, err == nil
}

// finishPendingOf removes the pending KES key once the set stands; its
// failure is recorded in res (FinishErr) and wraps ErrPendingKept.
func (a *Agent) finishPendingOf(res *InstallResult, c *Candidate, hook func(Step) error) error {
	err := a.finishPending(c, hook)
	if err != nil {
		err = fmt.Errorf("set %s is installed, but: %w: %w", res.Activated.Set, ErrPendingKept, err)
		res.FinishErr = err
	}
	return err
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

func (a *Agent) signal(o InstallOptions) (string, error) {
	if o.Signal != nil {
		return o.Signal()
	}
	pid, err := a.SignalNode()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("pid %d", pid), nil
}

// reload signals the node and waits for it to show exp. The log is opened
// before the signal, so that what the node logs in answer is all read.
func (a *Agent) reload(ctx context.Context, exp Expect, o InstallOptions) (Confirmation, string, error) {
	log, err := a.OpenLog(time.Now())
	if err != nil {
		return Confirmation{}, "", err
	}
	if log != nil {
		defer log.Close()
	}
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
	conf, err := Confirm(cctx, Watch{MetricsURL: a.Config.MetricsURL, Log: log}, exp, o.Poll)
	return conf, who, err
}

// RollbackOptions are Rollback's options: how to reload the node, as
// Install's.
type RollbackOptions struct {
	// NoSignal rolls back without signalling the node.
	NoSignal bool
	// TipSlot is the chain's slot, for the confirmation; Chain, if set,
	// is asked for it instead, and only when the node is to be signalled
	// (a node socket that does not answer then changes nothing).
	TipSlot uint64
	Chain   func() (uint64, error)
	// ConfirmTimeout bounds the wait for the node (default 60 s).
	ConfirmTimeout time.Duration
	Poll           time.Duration
	// Signal and NodePID replace SignalNode and NodePID (tests).
	Signal  func() (string, error)
	NodePID func() (int, error)
	// Signer bounds the wait for the Mithril signer after the node took
	// the set (with --mithril-signer).
	Signer SignerOptions
	// Hook, if set, is called at every step boundary (tests).
	Hook func(Step) error
}

// RollbackResult says what Rollback did.
type RollbackResult struct {
	From, To string
	// SeenByNode: the agent checked in the node's own file-system view
	// that its credential paths lead to the set active again.
	SeenByNode   bool
	Signalled    string // "" when not signalled, else whom ("pid 1234")
	Confirmation Confirmation
	// Signer is the Mithril signer's restart after the node took the set;
	// SignerNote says why it was not restarted (with a signer configured).
	Signer     *SignerResult
	SignerNote string
	// SignerErr is the error of the signer's restart, when it is the only
	// failure: the node's side stands and is not undone for it (the
	// error returned is then this one).
	SignerErr error
}

// State is "confirmed", "not signalled" or "signalled, not confirmed".
func (r *RollbackResult) State() string { return reloadState(r.Signalled, r.Confirmation) }

// Rollback points current back at the set that was active before the
// current one and reloads the node as Install does, under the agent lock:
// the node's view is checked before the signal (if it cannot see the set,
// current goes forward again and Rollback fails with ErrNodeCannotSee),
// the node signalled and its taking the set confirmed, then the Mithril
// signer restarted. The previous set's files were never changed, so the
// node reads them bit for bit as before. A node that does not take the
// set leaves it active (the operator asked for it) and fails with
// ErrNotConfirmed; the result says how far it got.
func (a *Agent) Rollback(ctx context.Context, o RollbackOptions) (*RollbackResult, error) {
	if a.KESAgentMode() {
		return nil, fmt.Errorf("%w: kes-agent keeps no previous KES key and refuses a lower counter than the installed one, so there is nothing to roll back to", ErrKESAgentMode)
	}
	l, err := a.Lock()
	if err != nil {
		return nil, err
	}
	defer l.Unlock()
	// The cert the node had decides whether the metrics can tell the two
	// sets apart: read it under the lock, before anything moves.
	from, err := a.InstalledCert()
	if err != nil {
		return nil, fmt.Errorf("installed cert %s: %w", a.Config.Cert, err)
	}
	do := InstallOptions{NoSignal: o.NoSignal, Signal: o.Signal, NodePID: o.NodePID, ConfirmTimeout: o.ConfirmTimeout, Poll: o.Poll}
	signal := a.signals(do)
	slot := o.TipSlot
	if signal && o.Chain != nil {
		if slot, err = o.Chain(); err != nil {
			return nil, err
		}
	}
	rb, err := a.rollback(o.Hook)
	if err != nil {
		return nil, err
	}
	res := &RollbackResult{From: rb.From, To: rb.To}
	if !signal {
		if a.Config.MithrilSigner != "" {
			res.SignerNote = "the node was not signalled: once it reads the set, restart the signer with 'kesrotate-agent mithril restart'"
		}
		return res, nil
	}
	if pid, ok := a.pidForCheck(do); ok {
		checked, serr := a.CheckNodeSees(pid)
		res.SeenByNode = checked
		if serr != nil {
			if err := a.activateSet(rb.From); err != nil {
				return res, fmt.Errorf("%w; going forward to set %s again failed too: %w", serr, rb.From, err)
			}
			res.To = rb.From
			return res, fmt.Errorf("%w; set %s is active again", serr, rb.From)
		}
	}
	c, err := a.InstalledCert()
	if err != nil {
		return res, fmt.Errorf("installed cert %s: %w", a.Config.Cert, err)
	}
	var conf Confirmation
	var who string
	if c == nil {
		who, err = a.signal(do)
		conf = Confirmation{Unconfirmable: true, Detail: "the set active again has no cert"}
	} else {
		exp := a.expectFor(c, slot)
		exp.Ambiguous = from == nil || (from.KESPeriod == c.KESPeriod && from.Hash() != c.Hash())
		conf, who, err = a.reload(ctx, exp, do)
	}
	res.Signalled, res.Confirmation = who, conf
	if err != nil {
		return res, err
	}
	// As after an install the node took: the signer must read the set
	// active again too. Its failure is reported; the rollback stays.
	res.Signer, err = a.restartSignerAfter(ctx, o.Signer)
	res.SignerErr = err
	return res, err
}

// signals says whether Install or Rollback signal the node: not with
// NoSignal, nor when signalling is configured off (unless a test signals).
func (a *Agent) signals(o InstallOptions) bool {
	return !o.NoSignal && (o.Signal != nil || a.Config.Signal.Mode != SignalNone)
}

func withNow(o SignerOptions, now time.Time) SignerOptions {
	if o.Now.IsZero() {
		o.Now = now
	}
	return o
}
