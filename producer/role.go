package producer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kesrotate/kesrotate/internal/durfmt"
	"github.com/kesrotate/kesrotate/internal/safefile"
	"github.com/kesrotate/kesrotate/opcert"
	"github.com/kesrotate/kesrotate/producer/nodelog"
	"github.com/kesrotate/kesrotate/producer/nodequery"
	"github.com/kesrotate/kesrotate/transfer"
)

// Roles a producer has for its pool. Never two forgers: a standby stages
// every bundle and leaves its node's credential paths alone; only promote
// — with proof that the other producer does not forge — makes it forge.
//
// cardano-node reads its three credential files at every SIGHUP and a node
// started with --start-as-non-producing-node begins forging when they are
// all there (cardano-node Run.hs updateBlockForging does not look at the
// flag), so a standby's paths must not receive a usable set, and the agent
// never signals a standby's node except to take forging away.
const (
	RolePrimary = "primary"
	RoleStandby = "standby"
)

// StagedLink points at the set a standby keeps ready (DIR/staged).
const StagedLink = "staged"

// PeersDir holds the enrollments of the pool's other producers
// (DIR/peers/NAME.kre), pinned to check their demotion receipts.
const PeersDir = "peers"

// UsedReceiptsFile lists the hashes of the receipts promotions used.
const UsedReceiptsFile = "used-receipts"

// Errors of roles, demotion and promotion.
var (
	// ErrRole: the command does not fit this producer's role.
	ErrRole = errors.New("wrong role for this command")
	// ErrNoProof: promote without proof that the other producer stopped.
	ErrNoProof = errors.New("no proof that the other producer has stopped forging")
	// ErrOtherForges: the other producer's metrics show it forging.
	ErrOtherForges = errors.New("the other producer is forging")
	// ErrOlderCert: the set to promote is older than the other producer's.
	ErrOlderCert = errors.New("the staged cert is older than the other producer's")
	// ErrNotStaged: a standby with no staged set to promote.
	ErrNotStaged = errors.New("no staged set")
	// ErrPeer: a peer enrollment that cannot be pinned, or a receipt from
	// a producer that is not pinned.
	ErrPeer = errors.New("unknown or unusable peer producer")
	// ErrReceipt: a receipt for another pool, too old, or used before.
	ErrReceipt = errors.New("unusable demotion receipt")
	// ErrStillForging: after demote the node did not show forging off.
	ErrStillForging = errors.New("forging off is not confirmed")
)

// Role is this producer's role.
func (a *Agent) Role() string {
	if a.Config.Role == "" {
		return RolePrimary
	}
	return a.Config.Role
}

// StagedSet is the set a standby keeps ready, or "".
func (a *Agent) StagedSet() (string, error) {
	t, err := os.Readlink(filepath.Join(a.Dir, StagedLink))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return filepath.Base(t), nil
}

// referenceCert is the cert a new bundle must not be older than: the one
// the node reads, or on a standby the staged one (if any).
func (a *Agent) referenceCert() (*opcert.Certificate, error) {
	if a.Role() == RoleStandby {
		if staged, _ := a.StagedSet(); staged != "" {
			b, err := os.ReadFile(filepath.Join(a.Dir, SetsDir, staged, SetCertFile))
			if err != nil {
				return nil, err
			}
			return opcert.Parse(b)
		}
	}
	c, err := a.InstalledCert()
	if err != nil {
		return nil, fmt.Errorf("installed cert %s: %w", a.Config.Cert, err)
	}
	return c, nil
}

// StagedCert is the staged set's cert (nil when none).
func (a *Agent) StagedCert() (*opcert.Certificate, error) {
	staged, err := a.StagedSet()
	if err != nil || staged == "" {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(a.Dir, SetsDir, staged, SetCertFile))
	if err != nil {
		return nil, err
	}
	return opcert.Parse(b)
}

// stageOnly writes a checked candidate as a new set and points staged at
// it; the node's paths and the node are left alone.
func (a *Agent) stageOnly(c *Candidate, o ActivateOptions) (*ActivateResult, error) {
	hook := o.Hook
	if hook == nil {
		hook = func(Step) error { return nil }
	}
	res := &ActivateResult{Report: c.Report, Staged: true}
	if err := hook(StepChecked); err != nil {
		return nil, err
	}
	perm, err := a.perm()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(a.Dir, SetsDir), 0o700); err != nil {
		return nil, err
	}
	a.cleanStages()
	prev, _ := a.StagedSet()
	res.Previous = prev
	cert := c.Bundle.Cert
	if prev != "" {
		if info, err := a.Set(prev); err == nil && info.CertHash == cert.Hash() {
			res.Set, res.Same = prev, true
			return res, nil
		}
	}
	info := SetInfo{Previous: prev, Counter: cert.Counter, KESPeriod: cert.KESPeriod, CertHash: cert.Hash(),
		Source: "bundle", Bundle: o.BundleHash, Created: o.Now.UTC().Truncate(time.Second), HasCert: true}
	info.Name = a.setName(fmt.Sprintf("%d-%d-%s", cert.Counter, cert.KESPeriod, cert.Hash()[:8]))
	if err := a.stage(perm, info, c.setFiles(), hook); err != nil {
		return nil, err
	}
	if err := a.pointLink(StagedLink, info.Name); err != nil {
		return nil, err
	}
	res.Set = info.Name
	return res, nil
}

// pointLink points DIR/link at sets/name with one rename.
func (a *Agent) pointLink(link, name string) error {
	tmp := filepath.Join(a.Dir, link+".tmp")
	_ = os.Remove(tmp)
	if err := os.Symlink(filepath.Join(SetsDir, name), tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(a.Dir, link)); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return safefile.SyncDir(a.Dir)
}

// setRole saves the role in agent.json and the settings history.
func (a *Agent) setRole(role, why string, now time.Time) error {
	next := a.Config
	next.Role = role
	b, _ := json.MarshalIndent(next, "", "  ")
	entry, _ := json.Marshal(map[string]any{"at": now.UTC().Truncate(time.Second),
		"changes": []Changed{{Setting: "role", From: a.Role(), To: role}}, "why": why})
	if err := appendLine(filepath.Join(a.Dir, HistoryFile), entry); err != nil {
		return err
	}
	if err := safefile.Replace(filepath.Join(a.Dir, ConfigFile), append(b, '\n'), 0o600); err != nil {
		return err
	}
	a.Config = next
	return nil
}

// unlinkPaths removes the node's three credential paths (after checking
// they are the agent's), so that on the next SIGHUP the node disables
// forging (a missing file: cardano-node Run.hs updateBlockForging).
func (a *Agent) unlinkPaths(cur string) error {
	if cur != "" {
		if err := a.checkManaged(cur); err != nil {
			return err
		}
	}
	for _, p := range a.nodePaths() {
		if err := os.Remove(p.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if err := safefile.SyncDir(filepath.Dir(p.path)); err != nil {
			return err
		}
	}
	return nil
}

// DemoteOptions configure Demote.
type DemoteOptions struct {
	Now            time.Time
	TipSlot        uint64
	ConfirmTimeout time.Duration
	Poll           time.Duration
	Signal         func() (string, error) // replaces SignalNode (tests)
	NodePID        func() (int, error)    // replaces NodePID for the view check (tests)
	// ReceiptFile and ReceiptQR are where the signed receipt is written:
	// a file, and one QR code PNG (either may be ""). Both are created
	// before anything changes, so a receipt that could not be written
	// stops the demotion before it starts (ErrReceiptOutput); they are
	// removed again when no receipt is made.
	ReceiptFile, ReceiptQR string
}

// DemoteResult says what Demote did.
type DemoteResult struct {
	Role         string              // the role it has now: RoleStandby
	Held         *opcert.Certificate // the cert the node forged with
	Staged       string              // the set kept ready for a promotion
	Signalled    string
	Confirmation Confirmation
	Receipt      *transfer.Receipt
	ReceiptBytes []byte // signed
}

// Demote takes forging away from a primary: it removes the credential
// paths (the set stays staged), signals the node, confirms that forging is
// off (metrics forging_enabled 0, or the log's "Disabling block forging",
// or the log's reload line once the files are gone from the node's own
// view), makes this producer a standby and signs a demotion receipt.
// Without that confirmation there is no receipt.
func (a *Agent) Demote(ctx context.Context, o DemoteOptions) (*DemoteResult, error) {
	if a.KESAgentMode() {
		return nil, fmt.Errorf("%w: the node forges with the key kes-agent serves, whatever its credential paths hold; demotion needs kes-agent to drop the key, which this agent does not do", ErrKESAgentMode)
	}
	l, err := a.Lock()
	if err != nil {
		return nil, err
	}
	defer l.Unlock()
	if a.Role() != RolePrimary {
		return nil, fmt.Errorf("%w: %s is already a standby", ErrRole, a.Config.Name)
	}
	if a.Config.Signal.Mode == SignalNone && o.Signal == nil {
		return nil, fmt.Errorf("%w: signalling is off, so the agent cannot take forging away from the node", ErrConfig)
	}
	e, _, err := a.Enrollment()
	if err != nil {
		return nil, err
	}
	// The receipt is the only proof the other producer may take over
	// with: its outputs are taken before the node's paths are touched.
	receipt := func(held *opcert.Certificate, confirmedBy string) *transfer.Receipt {
		r := &transfer.Receipt{Magic: a.Network.Magic, PoolID: a.ColdVKey().PoolID(), Producer: e.Fingerprint(), Name: a.Config.Name,
			TipSlot: o.TipSlot, ConfirmedBy: confirmedBy, Created: o.Now.UTC().Truncate(time.Second)}
		if held != nil {
			r.Held = &transfer.Installed{Counter: held.Counter, KESPeriod: held.KESPeriod, CertHash: held.Hash()}
		}
		return r
	}
	sample := receipt(&opcert.Certificate{Counter: ^uint64(0), KESPeriod: ^uint64(0)}, "metrics and log")
	outs, err := reserveReceipt(o.ReceiptFile, o.ReceiptQR, sample)
	if err != nil {
		return nil, err
	}
	defer outs.release()
	// Files the agent never took over are kept (in sets/0-initial) before
	// they leave the node's paths.
	perm, err := a.perm()
	if err != nil {
		return nil, err
	}
	if _, err := a.adopt(perm, o.Now, func(Step) error { return nil }); err != nil {
		return nil, err
	}
	cur, err := a.CurrentSet()
	if err != nil {
		return nil, err
	}
	held, err := a.InstalledCert()
	if err != nil {
		return nil, fmt.Errorf("installed cert %s: %w", a.Config.Cert, err)
	}
	res := &DemoteResult{Held: held}
	log, err := a.OpenLog(time.Now())
	if err != nil {
		return nil, err
	}
	if log != nil {
		defer log.Close()
	}
	if err := a.unlinkPaths(cur); err != nil {
		return nil, err
	}
	if cur != "" {
		if err := a.pointLink(StagedLink, cur); err != nil {
			return nil, err
		}
		res.Staged = cur
	}
	if err := a.setRole(RoleStandby, "demote", o.Now); err != nil {
		return nil, err
	}
	res.Role = RoleStandby
	who, err := a.signal(InstallOptions{Signal: o.Signal})
	if err != nil {
		return res, fmt.Errorf("demoted (the credential paths are gone), but: %w", err)
	}
	res.Signalled = who
	timeout := o.ConfirmTimeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	gone := func() bool {
		pid, ok := a.pidForCheck(InstallOptions{Signal: o.Signal, NodePID: o.NodePID})
		return ok && a.nodeMissesAll(pid)
	}
	conf, err := ConfirmOff(cctx, Watch{MetricsURL: a.Config.MetricsURL, Log: log}, gone, o.Poll)
	res.Confirmation = conf
	if err != nil {
		return res, err
	}
	sk, err := a.SignKey()
	if err != nil {
		return res, err
	}
	defer wipe(sk)
	r := receipt(held, strings.Join(conf.Sources, " and "))
	res.Receipt, res.ReceiptBytes = r, r.Marshal(sk)
	if err := outs.write(res.ReceiptBytes, o.ReceiptQR); err != nil {
		return res, fmt.Errorf("demoted, but: %w", err)
	}
	return res, nil
}

// nodeMissesAll reports whether, in the node's own file-system view, none
// of its three credential paths leads to a file.
func (a *Agent) nodeMissesAll(pid int) bool {
	root := filepath.Join(a.procRoot(), strconv.Itoa(pid), "root")
	if _, err := os.Stat(root); err != nil {
		return false
	}
	theirs, err := nodeArgs(a.procRoot(), pid)
	if err != nil {
		return false
	}
	for _, p := range a.nodePaths() {
		np := theirs[p.flag]
		if np == "" {
			np = p.path
		}
		if !filepath.IsAbs(np) {
			return false
		}
		host, err := resolveIn(root, np)
		if err == nil {
			if _, err = os.Stat(host); err == nil {
				return false
			}
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return false
		}
	}
	return true
}

// ConfirmOff polls the node's metrics and log after a demotion's signal
// until they show forging off: forging_enabled 0, "Disabling block
// forging", or — at the shipped Notice severity, which hides that line —
// the reload's topology line while gone() says the node's own view has no
// credential files (a missing file disables forging). A reload error or a
// reload during ledger replay means the node keeps forging with what it
// has: that ends it with ErrStillForging.
func ConfirmOff(ctx context.Context, w Watch, gone func() bool, poll time.Duration) (Confirmation, error) {
	if w.MetricsURL == "" && w.Log == nil {
		return Confirmation{Unconfirmable: true, Detail: "no metrics URL or node log configured"},
			fmt.Errorf("%w: no metrics URL or node log is configured", ErrStillForging)
	}
	if poll <= 0 {
		poll = 200 * time.Millisecond
	}
	var disabled, processed bool
	last := "nothing seen"
	for {
		var sources []string
		if w.Log != nil {
			events, err := w.Log.Read(ctx)
			if err != nil {
				last = err.Error()
			}
			for _, e := range events {
				switch e.Kind {
				case nodelog.Disabled:
					disabled = true
				case nodelog.TopologyUpdate:
					processed = true
				case nodelog.ReloadError:
					why := "the node kept its credentials: " + e.Message
					return Confirmation{Detail: why}, fmt.Errorf("%w: %s", ErrStillForging, why)
				case nodelog.NotEffective:
					why := "the node is replaying its ledger: it keeps the credentials it started with and forges with them once consensus starts; restart it without them"
					return Confirmation{Detail: why}, fmt.Errorf("%w: %s", ErrStillForging, why)
				}
			}
			if disabled || (processed && gone != nil && gone()) {
				sources = append(sources, "log")
			}
		}
		if w.MetricsURL != "" {
			c, cancel := context.WithTimeout(ctx, 5*time.Second)
			s, err := nodequery.Metrics(c, w.MetricsURL)
			cancel()
			switch {
			case err != nil:
				if ctx.Err() == nil {
					last = err.Error()
				}
			default:
				f := ReadForging(s)
				switch {
				case f.Enabled == nil:
					last = "the node's metrics have no forging_enabled gauge"
				case !*f.Enabled:
					sources = append(sources, "metrics")
				default:
					last = "the node's metrics say forging is enabled"
				}
			}
		}
		if len(sources) > 0 {
			return Confirmation{Confirmed: true, Sources: sources}, nil
		}
		select {
		case <-ctx.Done():
			return Confirmation{Detail: last}, fmt.Errorf("%w within the timeout; last seen: %s", ErrStillForging, last)
		case <-time.After(poll):
		}
	}
}

// Peer is a pinned producer of the same pool.
type Peer struct {
	Name        string
	Fingerprint string
	Enrollment  *transfer.Enrollment
	// Compared: AddPeer compared the enrollment with the fingerprint the
	// operator gave (false when pinned with PeerOptions.Unchecked).
	Compared bool
}

// PeerOptions say how AddPeer checks an enrollment: against the
// fingerprint the other producer showed, or — only when the operator says
// so — not at all.
type PeerOptions struct {
	Fingerprint string
	// Unchecked pins without a fingerprint to compare (the operator
	// compared it some other way).
	Unchecked bool
}

// ErrFingerprintNeeded: AddPeer with no fingerprint to compare and no
// PeerOptions.Unchecked.
var ErrFingerprintNeeded = errors.New("no fingerprint to compare the enrollment with")

// AddPeer pins another producer of this pool from its enrollment, so
// that promote can check its demotion receipts. The enrollment's
// fingerprint must match o.Fingerprint (compare it with what the other
// producer shows); without one it is refused (ErrFingerprintNeeded)
// unless o.Unchecked. As the cold side's 'producer add': a pin is a trust
// decision the operator confirms.
func (a *Agent) AddPeer(name string, enrollment []byte, o PeerOptions) (*Peer, error) {
	fingerprint := o.Fingerprint
	if fingerprint == "" && !o.Unchecked {
		return nil, fmt.Errorf("%w: give the fingerprint the other producer's 'kesrotate-agent enrollment' showed", ErrFingerprintNeeded)
	}
	if name == "" || strings.ContainsAny(name, "/\\\x00") || name == "." || name == ".." {
		return nil, fmt.Errorf("%w: name %q", ErrPeer, name)
	}
	e, err := transfer.ParseEnrollment(enrollment)
	if err != nil {
		return nil, err
	}
	if e.Magic != a.Network.Magic || e.PoolID != a.ColdVKey().PoolID() {
		return nil, fmt.Errorf("%w: the enrollment is for another pool or network", ErrPeer)
	}
	own, _, err := a.Enrollment()
	if err != nil {
		return nil, err
	}
	fp := e.Fingerprint()
	switch {
	case fp == own.Fingerprint():
		return nil, fmt.Errorf("%w: that is this producer's own enrollment", ErrPeer)
	case fingerprint != "" && !strings.EqualFold(strings.ReplaceAll(fingerprint, " ", ""), fp):
		return nil, fmt.Errorf("%w: the enrollment's fingerprint is %s, not %s", ErrPeer, fp, fingerprint)
	}
	dir := filepath.Join(a.Dir, PeersDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := safefile.Replace(filepath.Join(dir, name+".kre"), enrollment, 0o600); err != nil {
		return nil, err
	}
	return &Peer{Name: name, Fingerprint: fp, Enrollment: e, Compared: fingerprint != ""}, nil
}

// Peers lists the pinned producers.
func (a *Agent) Peers() ([]Peer, error) {
	entries, err := os.ReadDir(filepath.Join(a.Dir, PeersDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Peer
	for _, en := range entries {
		name, ok := strings.CutSuffix(en.Name(), ".kre")
		if !ok {
			continue
		}
		b, err := os.ReadFile(filepath.Join(a.Dir, PeersDir, en.Name()))
		if err != nil {
			return nil, err
		}
		e, err := transfer.ParseEnrollment(b)
		if err != nil {
			return nil, fmt.Errorf("peer %s: %w", name, err)
		}
		out = append(out, Peer{Name: name, Fingerprint: e.Fingerprint(), Enrollment: e})
	}
	return out, nil
}

// PromoteOptions say what proves the other producer has stopped, and the
// chain to check the staged cert against.
type PromoteOptions struct {
	Receipt       []byte        // a demotion receipt of a pinned peer
	MaxReceiptAge time.Duration // 24 h when 0
	PeerMetrics   string        // the other producer's metrics URL
	PrimaryGone   bool          // the operator asserts the other producer is gone
	ActivateOptions
	ConfirmTimeout time.Duration
	Poll           time.Duration
	Signal         func() (string, error)
	NodePID        func() (int, error)
	// Signer bounds the wait for the Mithril signer after the node forges
	// with the set (with --mithril-signer).
	Signer SignerOptions
}

// PromoteResult says what Promote did.
type PromoteResult struct {
	Role         string // the role it has now: RolePrimary once promoted, else RoleStandby
	Proof        string // what proved the other producer stopped
	Set          string
	Signalled    string
	Confirmation Confirmation
	Restored     bool // not confirmed: the credential paths were removed again
	// Undone: making the node's paths lead to the staged set failed half
	// way, before the node was signalled, and they were put back as they
	// were (an *UndoError says so; its UndoErr when that failed too).
	Undone  bool
	UndoErr error
	// RestoreErr: after the node was signalled and did not confirm,
	// removing the credential paths again failed.
	RestoreErr error
	// Off is what the node showed after the paths were removed again and
	// it was signalled once more (ConfirmOff); OffErr its failure (the
	// node may still forge with the staged set). Nil when the node was
	// never signalled.
	Off    *Confirmation
	OffErr error
	// Signer is the Mithril signer's restart once the node forges with
	// the set; SignerErr its failure, which is then Promote's error: the
	// promotion stands.
	Signer    *SignerResult
	SignerErr error
}

// Promotion states: what PromoteResult.State reports.
const (
	// PromotePrimary: the node forges with the staged set and this
	// producer is the primary.
	PromotePrimary = "primary"
	// PromoteNothingChanged: the promotion stopped before the node was
	// signalled, and whatever it had changed was put back.
	PromoteNothingChanged = "nothing changed"
	// PromoteUndoFailed: making the node's paths lead to the staged set
	// failed half way, and putting them back failed too.
	PromoteUndoFailed = "undo failed"
	// PromoteRestoredOff: the node did not confirm forging; the paths
	// were removed again and the node shows forging is off (or was never
	// signalled).
	PromoteRestoredOff = "restored, forging off"
	// PromoteRestoredUnconfirmed: the paths were removed again, but the
	// node does not show that forging is off: it may forge.
	PromoteRestoredUnconfirmed = "restored, forging off not confirmed"
	// PromoteRestoreFailed: the node did not confirm forging and removing
	// the paths again failed: it may forge with the staged set.
	PromoteRestoreFailed = "restore failed"
	// PromoteForgingNotRecorded: the node confirmed it forges with the
	// staged set, but recording the promotion (the used receipt, the
	// role) failed: it forges while this producer is still a standby.
	PromoteForgingNotRecorded = "forging, not recorded as primary"
)

// State says where a promotion stands; a nil result changed nothing.
func (r *PromoteResult) State() string {
	switch {
	case r == nil:
		return PromoteNothingChanged
	case r.Role == RolePrimary:
		return PromotePrimary
	case r.RestoreErr != nil:
		return PromoteRestoreFailed
	case r.Restored && (r.Signalled == "" || (r.Off != nil && r.OffErr == nil && !r.Off.Unconfirmable)):
		return PromoteRestoredOff
	case r.Restored:
		return PromoteRestoredUnconfirmed
	case r.Confirmation.Confirmed:
		return PromoteForgingNotRecorded
	case r.UndoErr != nil:
		return PromoteUndoFailed
	}
	return PromoteNothingChanged
}

// Promote makes a standby forge with its staged set, only with proof that
// the other producer does not forge: its signed demotion receipt (pinned
// with AddPeer, at most MaxReceiptAge old, never used before), or its
// metrics showing forging_enabled 0, or PrimaryGone (the operator's word,
// for a primary that is gone). The staged cert must not be older than the
// other producer's, and must pass the node's checks at the chain's tip.
// If the node does not confirm forging, the paths are removed again and
// the node signalled, so that the standby never forges half-promoted.
// Once it forges, the Mithril signer is restarted (a failure there is
// reported with the result; the promotion stands).
func (a *Agent) Promote(ctx context.Context, o PromoteOptions) (*PromoteResult, error) {
	if a.KESAgentMode() {
		return nil, fmt.Errorf("%w: a standby cannot stage a key in kes-agent for later", ErrKESAgentMode)
	}
	l, err := a.Lock()
	if err != nil {
		return nil, err
	}
	defer l.Unlock()
	if a.Role() != RoleStandby {
		return nil, fmt.Errorf("%w: %s is already the primary", ErrRole, a.Config.Name)
	}
	staged, err := a.StagedSet()
	if err != nil {
		return nil, err
	}
	if staged == "" {
		return nil, fmt.Errorf("%w: install a bundle on this standby first", ErrNotStaged)
	}
	cert, err := a.StagedCert()
	if err != nil {
		return nil, err
	}
	res := &PromoteResult{Set: staged, Role: RoleStandby}
	var receiptHash string
	switch {
	case o.Receipt != nil:
		r, err := a.checkReceipt(o.Receipt, o.MaxReceiptAge, o.Now)
		if err != nil {
			return nil, err
		}
		if r.Held != nil && olderThan(cert, r.Held.Counter, r.Held.KESPeriod, r.Held.CertHash) {
			return nil, fmt.Errorf("%w: the staged cert is #%d from period %d, %s held #%d from period %d; install the newest bundle here first",
				ErrOlderCert, cert.Counter, cert.KESPeriod, r.Name, r.Held.Counter, r.Held.KESPeriod)
		}
		sum := sha256.Sum256(o.Receipt)
		receiptHash = hex.EncodeToString(sum[:])
		res.Proof = fmt.Sprintf("demotion receipt of %s (%s), signed %s, forging off confirmed by %s",
			r.Name, r.Producer, r.Created.Format(time.RFC3339), r.ConfirmedBy)
	case o.PeerMetrics != "":
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		s, err := nodequery.Metrics(c, o.PeerMetrics)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("%w: the other producer's metrics: %w", ErrNoProof, err)
		}
		f := ReadForging(s)
		switch {
		case f.Enabled == nil:
			return nil, fmt.Errorf("%w: %s has no forging_enabled gauge", ErrNoProof, o.PeerMetrics)
		case *f.Enabled:
			return nil, fmt.Errorf("%w: %s shows forging_enabled 1; demote it first", ErrOtherForges, o.PeerMetrics)
		case f.StartPeriod != nil && *f.StartPeriod > cert.KESPeriod:
			return nil, fmt.Errorf("%w: the staged cert starts in period %d, the other producer's in %d", ErrOlderCert, cert.KESPeriod, *f.StartPeriod)
		}
		res.Proof = "the other producer's metrics (" + o.PeerMetrics + ") show forging_enabled 0"
	case o.PrimaryGone:
		res.Proof = "the operator's word that the other producer is gone (--primary-gone)"
	default:
		return nil, fmt.Errorf("%w: no demotion receipt, no metrics of the other producer, and no word that it is gone", ErrNoProof)
	}

	// The staged set must be one the chain accepts now.
	rep, err := opcert.Verify(opcert.Inputs{Cert: cert, Network: a.Network, Slot: o.TipSlot, OnChain: o.OnChain})
	if err != nil {
		return nil, err
	}
	_ = rep
	perm, err := a.perm()
	if err != nil {
		return nil, err
	}
	hook := func(Step) error { return nil }
	// Which node paths exist before adopt: on a demoted standby they are
	// gone, and adopt links them to the current set again.
	existed := a.existingPaths()
	_, linked := a.adopt(perm, o.Now, hook)
	prev, err := a.CurrentSet()
	if err != nil {
		return nil, err
	}
	if linked == nil {
		linked = a.swap(staged, hook)
	}
	if linked == nil {
		linked = a.linkPaths(hook)
	}
	if linked != nil {
		// Half way: put back what changed, so that a standby never keeps
		// credential files at its node's paths after a failed promotion.
		err := a.undoSwap(linked, prev, staged, existed, false)
		var ue *UndoError
		if errors.As(err, &ue) {
			res.Undone, res.UndoErr = ue.UndoErr == nil, ue.UndoErr
		}
		return res, err
	}
	do := InstallOptions{Signal: o.Signal, NodePID: o.NodePID, ConfirmTimeout: o.ConfirmTimeout, Poll: o.Poll}
	undo := func(cause error) (*PromoteResult, error) {
		// Never leave a half-promoted standby: take the files away again
		// and tell the node.
		var log nodelog.Reader
		if res.Signalled != "" {
			// Opened before the signal, as Demote does, so that its
			// confirmation reads only what follows.
			l, lerr := a.OpenLog(time.Now())
			if lerr == nil && l != nil {
				log = l
				defer l.Close()
			}
		}
		if err := a.unlinkPaths(""); err != nil {
			res.RestoreErr = err
			return res, fmt.Errorf("%w; removing the credential paths again failed: %w", cause, err)
		}
		res.Restored = true
		if res.Signalled == "" {
			return res, fmt.Errorf("%w; the credential paths were removed again and this producer stays a standby (the node was not signalled)", cause)
		}
		off, oerr := a.confirmOffAfterUndo(ctx, do, log)
		res.Off, res.OffErr = &off, oerr
		if oerr != nil {
			return res, fmt.Errorf("%w; the credential paths were removed again, but that the node stopped forging is not confirmed: %w", cause, oerr)
		}
		return res, fmt.Errorf("%w; the credential paths were removed again, the node shows forging is off (%s) and this producer stays a standby", cause, strings.Join(off.Sources, " and "))
	}
	if pid, ok := a.pidForCheck(do); ok {
		if _, err := a.CheckNodeSees(pid); err != nil {
			return undo(err)
		}
	}
	conf, who, err := a.reload(ctx, a.expectFor(cert, o.TipSlot), do)
	res.Signalled, res.Confirmation = who, conf
	if err != nil {
		return undo(err)
	}
	if conf.Unconfirmable {
		return undo(fmt.Errorf("%w: %s", ErrNotConfirmed, conf.Detail))
	}
	// The node forges now: a failure below leaves it forging while the
	// role says standby (PromoteForgingNotRecorded).
	if receiptHash != "" {
		if err := appendLine(filepath.Join(a.Dir, UsedReceiptsFile), []byte(receiptHash)); err != nil {
			return res, fmt.Errorf("the node forges with set %s, but recording the used receipt failed: %w", staged, err)
		}
	}
	if err := a.setRole(RolePrimary, "promote: "+res.Proof, o.Now); err != nil {
		return res, fmt.Errorf("the node forges with set %s, but recording this producer as the primary failed: %w", staged, err)
	}
	res.Role = RolePrimary
	_ = os.Remove(filepath.Join(a.Dir, StagedLink))
	// As after an install the node took: the signer must read the set
	// the node forges with now.
	res.Signer, err = a.restartSignerAfter(ctx, withNow(o.Signer, o.Now))
	res.SignerErr = err
	return res, err
}

// confirmOffAfterUndo signals the node once the credential paths are gone
// again and confirms, as Demote does, that it does not forge.
func (a *Agent) confirmOffAfterUndo(ctx context.Context, do InstallOptions, log nodelog.Reader) (Confirmation, error) {
	if _, err := a.signal(do); err != nil {
		return Confirmation{Detail: err.Error()}, err
	}
	timeout := do.ConfirmTimeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	gone := func() bool {
		pid, ok := a.pidForCheck(do)
		return ok && a.nodeMissesAll(pid)
	}
	var w Watch
	w.MetricsURL = a.Config.MetricsURL
	if log != nil {
		w.Log = log
	}
	return ConfirmOff(cctx, w, gone, do.Poll)
}

// olderThan reports whether cert is older than the one described.
func olderThan(cert *opcert.Certificate, counter, period uint64, hash string) bool {
	if cert.Hash() == hash {
		return false
	}
	return cert.Counter < counter || (cert.Counter == counter && cert.KESPeriod < period)
}

// checkReceipt verifies a demotion receipt against the pinned peers.
func (a *Agent) checkReceipt(data []byte, maxAge time.Duration, now time.Time) (*transfer.Receipt, error) {
	fp, err := transfer.ReceiptSigner(data)
	if err != nil {
		return nil, err
	}
	peers, err := a.Peers()
	if err != nil {
		return nil, err
	}
	var peer *Peer
	for i := range peers {
		if peers[i].Fingerprint == fp {
			peer = &peers[i]
		}
	}
	if peer == nil {
		return nil, fmt.Errorf("%w: the receipt is from producer %s, which is not pinned here ('kesrotate-agent peer add NAME --enrollment FILE')", ErrPeer, fp)
	}
	r, err := transfer.ParseReceipt(data, peer.Enrollment.SignKey)
	if err != nil {
		return nil, err
	}
	if r.Magic != a.Network.Magic || r.PoolID != a.ColdVKey().PoolID() {
		return nil, fmt.Errorf("%w: the receipt is for another pool or network", ErrReceipt)
	}
	if maxAge <= 0 {
		maxAge = 24 * time.Hour
	}
	if age := now.Sub(r.Created); age > maxAge || age < -5*time.Minute {
		return nil, fmt.Errorf("%w: %s signed it %s ago (at most %s): demote it again for a fresh receipt", ErrReceipt, peer.Name, durfmt.Format(age.Round(time.Minute)), durfmt.Format(maxAge))
	}
	sum := sha256.Sum256(data)
	if used, err := os.ReadFile(filepath.Join(a.Dir, UsedReceiptsFile)); err == nil {
		for _, line := range strings.Split(string(used), "\n") {
			if line == hex.EncodeToString(sum[:]) {
				return nil, fmt.Errorf("%w: this receipt was used for an earlier promotion", ErrReceipt)
			}
		}
	}
	r.Name = peer.Name
	return r, nil
}
