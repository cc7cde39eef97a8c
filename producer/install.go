package producer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/kesrotate/kesrotate/internal/safefile"
	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/opcert"
	"github.com/kesrotate/kesrotate/transfer"
)

// Install layout in the agent folder. Every install writes a complete set
// into its own folder sets/<counter>-<period>-<hash8>/ and then moves the
// one symlink current to it with a single rename. The three paths
// cardano-node reads are symlinks into current/, so at every instant they
// resolve to one complete set: the old one or the new one.
const (
	SetsDir     = "sets"
	CurrentLink = "current"
	InitialSet  = "0-initial" // the files the node had before the agent took over
	SetMetaFile = "set.json"
	SetKESFile  = "kes.skey"
	SetVRFFile  = "vrf.skey"
	SetCertFile = "node.cert"
	stagePrefix = ".stage-"
)

// Step names a boundary inside Install and Rollback. A test hook sees each
// one before the work that follows it.
type Step string

// Install steps, in order. Adoption steps (StepAdopt…) run only the first
// time, when the node's paths are still plain files.
const (
	StepChecked     Step = "checked"      // every check passed; nothing changed yet
	StepStageDir    Step = "stage-dir"    // the staging folder exists
	StepStageKES    Step = "stage-kes"    // kes.skey written and fsynced
	StepStageVRF    Step = "stage-vrf"    // vrf.skey written and fsynced
	StepStageCert   Step = "stage-cert"   // node.cert written and fsynced
	StepStageMeta   Step = "stage-meta"   // set.json written
	StepStaged      Step = "staged"       // the set renamed into sets/
	StepAdoptSet    Step = "adopt-set"    // sets/0-initial holds the node's old files
	StepAdoptLink   Step = "adopt-link"   // current points at 0-initial
	StepAdoptPath   Step = "adopt-path"   // one node path became a symlink (once per path)
	StepCurrentTmp  Step = "current-tmp"  // current.tmp points at the new set
	StepSwapped     Step = "swapped"      // current points at the new set
	StepLinked      Step = "linked"       // every node path is a symlink into current/
	StepRolledBack  Step = "rolled-back"  // rollback: current points at the previous set
	StepPendingGone Step = "pending-gone" // KES-on-producer: the pending key was removed
)

// SetInfo is set.json: what a set holds and which set was active before it.
type SetInfo struct {
	Name      string    `json:"name"`
	Previous  string    `json:"previous,omitempty"` // the set to roll back to
	Counter   uint64    `json:"counter"`
	KESPeriod uint64    `json:"kes_period"`
	CertHash  string    `json:"cert_hash,omitempty"`
	Source    string    `json:"source"` // "bundle", "kes-on-producer" or "initial"
	Bundle    string    `json:"bundle,omitempty"`
	Created   time.Time `json:"created"`
	HasCert   bool      `json:"has_cert"`
}

// ActivateOptions are the chain facts and knobs of Install.
type ActivateOptions struct {
	// TipSlot is the chain's current slot (from the node socket, given by
	// hand, or the clock's slot): the checks use its KES period.
	TipSlot uint64
	// OnChain is the pool's on-chain counter, when the socket told it.
	OnChain *opcert.OnChain
	// Now stamps set.json.
	Now time.Time
	// BundleHash names the bundle file in set.json (optional).
	BundleHash string
	// Hook, if set, is called at every step boundary; an error aborts the
	// install there (what is already durable stays, as after a crash).
	Hook func(Step) error
}

// Candidate is a bundle that passed every check, with the keys to install.
type Candidate struct {
	Bundle    *transfer.Bundle
	Report    *opcert.Report
	Installed *opcert.Certificate // the cert in place before, or nil
	Same      bool                // the bundle's cert is the one installed
	Repair    bool                // a lower cert replacing an over-incremented one
	Pending   bool                // the KES key is this producer's pending key
	kes       []byte              // kes.skey file bytes
	vrf       []byte              // vrf.skey file bytes
}

func (Candidate) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(keys.Redacted)) }
func (Candidate) String() string             { return keys.Redacted }
func (Candidate) GoString() string           { return keys.Redacted }

// setFiles are the files of the candidate's set: the KES key (none when
// it lives in kes-agent), the VRF key and the cert.
func (c *Candidate) setFiles() map[string][]byte {
	files := map[string][]byte{SetVRFFile: c.vrf, SetCertFile: c.Bundle.Cert.MarshalEnvelope()}
	if c.kes != nil {
		files[SetKESFile] = c.kes
	}
	return files
}

// Wipe clears the key file bytes the candidate holds (not the bundle's
// keys: the caller owns the bundle).
func (c *Candidate) Wipe() {
	wipe(c.kes)
	wipe(c.vrf)
}

// ActivateResult says what Install did.
type ActivateResult struct {
	Set      string         // the active set now
	Previous string         // the set active before ("" if none)
	Same     bool           // nothing to do: the cert was already installed
	Adopted  bool           // the node's old files were moved into sets/0-initial
	Report   *opcert.Report // the checks, kes-period-info style
	Pending  bool           // the pending KES key was used
	// Staged: a standby kept the set ready without touching the node's
	// paths or the node (Set is the staged set, Previous the one before).
	Staged bool
}

// OpenBundle decrypts a bundle with the producer identity. A bundle for
// another producer fails with transfer.ErrWrongProducer.
func (a *Agent) OpenBundle(r io.Reader) (*transfer.Bundle, error) {
	id, err := a.Identity()
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(r, transfer.MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if err := transfer.CheckBundleFile(data); err != nil {
		return nil, err
	}
	return transfer.DecryptBundle(bytes.NewReader(data), age.Identity(id))
}

// Check verifies a bundle against everything the agent pinned and the
// chain, before anything is touched: network, pool and cold key, producer,
// the cert signature, the KES key (the cert's, fresh, and a sign/verify
// round trip at the current evolution), the VRF key (present and the one
// installed), no downgrade or replay of the installed cert, the on-chain
// counter when known, and the cert window containing the current period.
func (a *Agent) Check(b *transfer.Bundle, o ActivateOptions) (c *Candidate, err error) {
	if b.Magic != a.Network.Magic {
		return nil, fmt.Errorf("%w: the bundle is for network magic %d, this producer is on %s (magic %d)", transfer.ErrWrongNetwork, b.Magic, a.Network.Name, a.Network.Magic)
	}
	pinned := a.ColdVKey()
	if b.PoolID != pinned.PoolID() || b.Cold != pinned || b.Cert.Cold != pinned {
		return nil, fmt.Errorf("%w: the bundle is for pool %s, this producer serves %s", transfer.ErrWrongPool, b.Cert.PoolID().Bech32(), pinned.PoolID().Bech32())
	}
	// The bundle names every producer it is sealed to (a primary and its
	// standbys); this one must be among them. transfer refuses a bundle
	// without a well-formed fingerprint, so this check cannot be skipped.
	e, _, err := a.Enrollment()
	if err != nil {
		return nil, err
	}
	if fp := e.Fingerprint(); !slices.Contains(b.AllProducers(), fp) {
		return nil, fmt.Errorf("%w: the bundle names producer %s, this one is %s", transfer.ErrWrongProducer, strings.Join(b.AllProducers(), ", "), fp)
	}
	cand := &Candidate{Bundle: b}
	defer func() {
		if err != nil {
			cand.Wipe()
		}
	}()
	c = cand

	// The KES key: from the bundle, or this producer's pending key; with
	// kes-agent, the key kes-agent holds staged (checked against kes-agent
	// itself by Install), and never a key in the bundle: kes-agent cannot
	// import one, and it must not be written to disk here.
	kes := b.KES
	switch {
	case a.KESAgentMode() && kes != nil:
		return nil, fmt.Errorf("%w: the bundle holds a KES signing key, and this producer's KES key lives in kes-agent, which takes none from outside (and it is not written to disk here)", ErrKESAgentMode)
	case a.KESAgentMode():
		pv, err := a.pendingVKey()
		if err != nil {
			return nil, err
		}
		if pv == nil {
			return nil, fmt.Errorf("%w: the bundle holds only a cert and 'kes new' had kes-agent stage no key", ErrNoPendingKES)
		}
		if *pv != b.Cert.KESVKey {
			return nil, fmt.Errorf("%w: the cert certifies another KES key than the one kes-agent staged", ErrNoPendingKES)
		}
		c.Pending = true
	case kes == nil:
		pk, err := a.PendingKES()
		if err != nil {
			return nil, err
		}
		if pk == nil {
			return nil, fmt.Errorf("%w: the bundle holds only a cert and there is no pending KES key here", ErrNoPendingKES)
		}
		defer pk.Wipe()
		if pk.Public() != b.Cert.KESVKey {
			return nil, fmt.Errorf("%w: the cert certifies another KES key than the pending one", ErrNoPendingKES)
		}
		kes, c.Pending = pk, true
	}
	if kes != nil {
		c.kes = kes.MarshalEnvelope()
	}

	// The VRF key: the bundle's (first install) or the installed one.
	instVRF, instVRFBytes, err := a.installedVRF()
	if err != nil {
		return nil, err
	}
	if instVRF != nil {
		defer instVRF.Wipe()
	}
	vrf := b.VRF
	switch {
	case vrf != nil && instVRF != nil && vrf.Public() != instVRF.Public():
		wipe(instVRFBytes)
		return nil, fmt.Errorf("%w: the bundle's VRF key hash is %x, the node's is %x", ErrVRFMismatch, hash8(vrf.Public().Hash()), hash8(instVRF.Public().Hash()))
	case vrf != nil:
		wipe(instVRFBytes)
		c.vrf = vrf.MarshalEnvelope()
	case instVRF != nil:
		vrf, c.vrf = instVRF, instVRFBytes
	default:
		return nil, fmt.Errorf("%w: the bundle has none and %s does not exist", ErrNoVRF, a.Config.VRFKey)
	}

	// The node's credential folders must exist: the paths become symlinks
	// in them, and finding out half way would leave a set behind.
	for _, p := range a.nodePaths() {
		if fi, err := os.Stat(filepath.Dir(p.path)); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("%w: the folder of %s does not exist", ErrNodePath, p.path)
		}
	}

	// No downgrade, no replay: against the cert the node reads, or on a
	// standby the set staged for it.
	inst, err := a.referenceCert()
	if err != nil {
		return nil, err
	}
	c.Installed = inst
	if inst != nil {
		switch {
		case b.Cert.Counter < inst.Counter && overIncremented(inst, o.OnChain) && opcert.CheckCounter(b.Cert.Counter, *o.OnChain) == nil:
			// The installed cert is over-incremented: the chain rejects
			// every block it signs. A lower cert the chain accepts is the
			// repair, not a downgrade.
			c.Repair = true
		case b.Cert.Counter < inst.Counter:
			return nil, fmt.Errorf("%w: the bundle's cert is #%d, #%d is installed", ErrDowngrade, b.Cert.Counter, inst.Counter)
		case b.Cert.Hash() == inst.Hash():
			c.Same = true
		case b.Cert.Counter == inst.Counter && b.Cert.KESPeriod < inst.KESPeriod:
			return nil, fmt.Errorf("%w: the bundle's cert #%d starts at period %d, the installed #%d at %d (an old bundle replayed?)",
				ErrDowngrade, b.Cert.Counter, b.Cert.KESPeriod, inst.Counter, inst.KESPeriod)
		}
	}

	// The node's own checks at the current slot.
	rep, err := opcert.Verify(opcert.Inputs{Cert: b.Cert, Network: a.Network, Slot: o.TipSlot, Cold: &pinned, KES: kes, VRF: vrf, OnChain: o.OnChain})
	c.Report = rep
	if err != nil {
		return nil, err
	}
	return cand, nil
}

// overIncremented reports whether the installed cert's counter is more than
// one above the chain's, so that the node's blocks are all rejected
// (CounterOverIncrementedOCERT). Without the chain's counter it cannot tell.
func overIncremented(inst *opcert.Certificate, onchain *opcert.OnChain) bool {
	return onchain != nil && inst.Counter > onchain.M()+1
}

// installedVRF reads the VRF key the node reads now, or on a standby the
// staged set's, if there is one.
func (a *Agent) installedVRF() (*keys.VRFKey, []byte, error) {
	path := a.Config.VRFKey
	if staged, _ := a.StagedSet(); a.Role() == RoleStandby && staged != "" {
		path = filepath.Join(a.Dir, SetsDir, staged, SetVRFFile)
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && path != a.Config.VRFKey {
		path = a.Config.VRFKey
		b, err = os.ReadFile(path)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	k, err := keys.ParseVRFKey(b)
	if err != nil {
		wipe(b)
		return nil, nil, fmt.Errorf("installed VRF key %s: %w", path, err)
	}
	return k, b, nil
}

func hash8(h [32]byte) []byte { return h[:4] }

// Activate checks the bundle and, if it passes, makes it the set the node
// reads, under the agent lock. It does not signal the node (see Install).
func (a *Agent) Activate(b *transfer.Bundle, o ActivateOptions) (*ActivateResult, error) {
	if a.KESAgentMode() {
		return nil, fmt.Errorf("%w: the cert is installed through kes-agent (Install)", ErrKESAgentMode)
	}
	l, err := a.Lock()
	if err != nil {
		return nil, err
	}
	defer l.Unlock()
	c, err := a.Check(b, o)
	if err != nil {
		return nil, err
	}
	defer c.Wipe()
	if a.Role() == RoleStandby {
		return a.stageOnly(c, o)
	}
	return a.install(c, o)
}

func (a *Agent) install(c *Candidate, o ActivateOptions) (*ActivateResult, error) {
	return a.installSet(c, o, nil)
}

// installSet stages the candidate's set, runs commit (when given) with the
// staged set's folder before anything the node reads changes — a commit
// that fails removes the set and changes nothing else — then makes it the
// active set. When the set is already active, commit runs on it again.
func (a *Agent) installSet(c *Candidate, o ActivateOptions, commit func(setDir string) error) (*ActivateResult, error) {
	hook := o.Hook
	if hook == nil {
		hook = func(Step) error { return nil }
	}
	res := &ActivateResult{Report: c.Report, Pending: c.Pending}
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
	if err := perm.dir(a.Dir, 0o710); err != nil {
		return nil, err
	}
	if err := perm.dir(filepath.Join(a.Dir, SetsDir), 0o750); err != nil {
		return nil, err
	}
	a.cleanStages()
	adopted, err := a.adopt(perm, o.Now, hook)
	if err != nil {
		return nil, err
	}
	res.Adopted = adopted
	prev, _ := a.CurrentSet()
	res.Previous = prev
	if c.Same && prev != "" {
		// Already the active set (a rerun after a crash or an
		// unconfirmed reload): nothing to stage.
		res.Set, res.Same = prev, true
		if commit != nil {
			if err := commit(filepath.Join(a.Dir, SetsDir, prev)); err != nil {
				return nil, err
			}
		}
		return res, a.linkPaths(hook)
	}
	cert := c.Bundle.Cert
	info := SetInfo{Previous: prev, Counter: cert.Counter, KESPeriod: cert.KESPeriod, CertHash: cert.Hash(),
		Source: "bundle", Bundle: o.BundleHash, Created: o.Now.UTC().Truncate(time.Second), HasCert: true}
	if c.Pending {
		info.Source = "kes-on-producer"
	}
	name := a.setName(fmt.Sprintf("%d-%d-%s", cert.Counter, cert.KESPeriod, cert.Hash()[:8]))
	info.Name = name
	if err := a.stage(perm, info, c.setFiles(), hook); err != nil {
		return nil, err
	}
	if commit != nil {
		if err := commit(filepath.Join(a.Dir, SetsDir, name)); err != nil {
			_ = os.RemoveAll(filepath.Join(a.Dir, SetsDir, name))
			_ = safefile.SyncDir(filepath.Join(a.Dir, SetsDir))
			return nil, err
		}
	}
	existed := a.existingPaths()
	var hookErr error
	h := func(s Step) error {
		hookErr = hook(s)
		return hookErr
	}
	if err := a.swap(name, h); err != nil {
		if hookErr != nil {
			return nil, err // a test's crash: what is durable stays
		}
		return nil, a.undoSwap(err, prev, name, existed, true)
	}
	res.Set = name
	if err := hook(StepSwapped); err != nil {
		return nil, err
	}
	if err := a.linkPaths(h); err != nil {
		if hookErr != nil {
			return nil, err
		}
		return nil, a.undoSwap(err, prev, name, existed, true)
	}
	return res, nil
}

// UndoError is the error of an install or promotion that failed after it
// pointed current at a new set (making the node's paths lead to it failed
// half way): the agent put back the set active before, and the node's
// paths as they were. Err is the failure; UndoErr, when not nil, says that
// putting things back failed too, and the node's paths may lead to either
// set. Unwrap gives Err (and UndoErr), so errors.Is sees the cause.
type UndoError struct {
	Err     error
	Set     string // the set that was to become active
	Back    string // the set active again ("" when there was none)
	UndoErr error
}

func (e *UndoError) Error() string {
	if e.UndoErr != nil {
		return fmt.Sprintf("%v; putting back the state before set %s failed too: %v", e.Err, e.Set, e.UndoErr)
	}
	if e.Back == "" {
		return fmt.Sprintf("%v; set %s was taken back and the node's paths are as they were", e.Err, e.Set)
	}
	return fmt.Sprintf("%v; set %s was taken back, set %s is active again and the node's paths are as they were", e.Err, e.Set, e.Back)
}

func (e *UndoError) Unwrap() []error {
	if e.UndoErr != nil {
		return []error{e.Err, e.UndoErr}
	}
	return []error{e.Err}
}

// existingPaths says which node paths exist now (before a swap), so that
// undoSwap removes only the ones the swap made.
func (a *Agent) existingPaths() map[string]bool {
	m := map[string]bool{}
	for _, p := range a.nodePaths() {
		_, err := os.Lstat(p.path)
		m[p.path] = err == nil
	}
	return m
}

// undoSwap puts back what a swap to set name and the linking after it
// changed: current points at prev again (or is removed when prev is ""),
// a node path that existed leads to prev's file again (copy mode writes
// its bytes back) and one that did not is removed, if it is the agent's;
// with drop the set itself is removed. It returns cause as an *UndoError.
func (a *Agent) undoSwap(cause error, prev, name string, existed map[string]bool, drop bool) error {
	ue := &UndoError{Err: cause, Set: name, Back: prev}
	ue.UndoErr = func() error {
		if prev != "" {
			if err := a.swap(prev, func(Step) error { return nil }); err != nil {
				return err
			}
		} else if err := os.Remove(filepath.Join(a.Dir, CurrentLink)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		for _, p := range a.nodePaths() {
			if existed[p.path] && prev != "" {
				var err error
				if a.linkMode() == LinkCopy {
					_, err = a.copyPath(prev, p.path, p.file)
				} else {
					_, err = a.linkPath(prev, p.path, p.file)
				}
				if err != nil {
					return err
				}
				continue
			}
			if existed[p.path] {
				continue // not the agent's to touch
			}
			if _, err := os.Lstat(p.path); errors.Is(err, fs.ErrNotExist) {
				continue
			}
			// A path the swap made holds the new set's bytes (or links
			// into current/): remove it unless it was changed by hand.
			if err := a.checkReplaceableAny(name, p.path, p.file); err != nil {
				return err
			}
			if err := os.Remove(p.path); err != nil {
				return err
			}
			if err := safefile.SyncDir(filepath.Dir(p.path)); err != nil {
				return err
			}
		}
		if drop {
			if err := os.RemoveAll(filepath.Join(a.Dir, SetsDir, name)); err != nil {
				return err
			}
			return safefile.SyncDir(filepath.Join(a.Dir, SetsDir))
		}
		return nil
	}()
	return ue
}

// checkReplaceableAny is checkReplaceable for a path that may be a
// symlink into current/ or a copy of any kept set's file.
func (a *Agent) checkReplaceableAny(cur, path, file string) error {
	if a.linkMode() != LinkCopy {
		if target, err := a.linkTarget(path, file); err == nil {
			if t, err := os.Readlink(path); err == nil && t == target {
				return nil
			}
		}
	}
	return a.checkReplaceable(cur, path, file, true)
}

// setName picks a free folder name under sets/.
func (a *Agent) setName(base string) string {
	name := base
	for i := 2; ; i++ {
		if _, err := os.Lstat(filepath.Join(a.Dir, SetsDir, name)); errors.Is(err, fs.ErrNotExist) {
			return name
		}
		name = fmt.Sprintf("%s-%d", base, i)
	}
}

// stage writes a complete set into a fresh staging folder, fsyncs it and
// renames it into sets/<info.Name>. A missing entry in files is left out
// (an initial set may lack files the node did not have either).
func (a *Agent) stage(perm perms, info SetInfo, files map[string][]byte, hook func(Step) error) (err error) {
	sets := filepath.Join(a.Dir, SetsDir)
	tmp, err := os.MkdirTemp(sets, stagePrefix+info.Name+"-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(tmp)
		}
	}()
	if err := perm.dir(tmp, 0o750); err != nil {
		return err
	}
	if err := hook(StepStageDir); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		step Step
	}{{SetKESFile, StepStageKES}, {SetVRFFile, StepStageVRF}, {SetCertFile, StepStageCert}} {
		if data, ok := files[f.name]; ok {
			if err := perm.create(filepath.Join(tmp, f.name), data); err != nil {
				return err
			}
		}
		if err := hook(f.step); err != nil {
			return err
		}
	}
	meta, _ := json.MarshalIndent(info, "", "  ")
	if err := safefile.Create(filepath.Join(tmp, SetMetaFile), append(meta, '\n'), 0o600); err != nil {
		return err
	}
	if err := hook(StepStageMeta); err != nil {
		return err
	}
	if err := safefile.SyncDir(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(sets, info.Name)); err != nil {
		return err
	}
	if err := safefile.SyncDir(sets); err != nil {
		return err
	}
	return hook(StepStaged)
}

// swap points current at sets/name with one rename.
func (a *Agent) swap(name string, hook func(Step) error) error {
	tmp := filepath.Join(a.Dir, CurrentLink+".tmp")
	_ = os.Remove(tmp)
	if err := os.Symlink(filepath.Join(SetsDir, name), tmp); err != nil {
		return err
	}
	if err := hook(StepCurrentTmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(a.Dir, CurrentLink)); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return safefile.SyncDir(a.Dir)
}

// CurrentSet is the name of the active set, or "" before the first install.
func (a *Agent) CurrentSet() (string, error) {
	t, err := os.Readlink(filepath.Join(a.Dir, CurrentLink))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return filepath.Base(t), nil
}

// Set reads a set's set.json.
func (a *Agent) Set(name string) (SetInfo, error) {
	var s SetInfo
	b, err := os.ReadFile(filepath.Join(a.Dir, SetsDir, name, SetMetaFile))
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("%s of set %s: %w", SetMetaFile, name, err)
	}
	return s, nil
}

// Sets lists the kept sets, oldest first (by creation, then name).
func (a *Agent) Sets() ([]SetInfo, error) {
	entries, err := os.ReadDir(filepath.Join(a.Dir, SetsDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []SetInfo
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		s, err := a.Set(e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// cleanStages removes staging folders a crash left behind.
func (a *Agent) cleanStages() {
	entries, _ := os.ReadDir(filepath.Join(a.Dir, SetsDir))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), stagePrefix) {
			_ = os.RemoveAll(filepath.Join(a.Dir, SetsDir, e.Name()))
		}
	}
	_ = os.Remove(filepath.Join(a.Dir, CurrentLink+".tmp"))
}

// nodePath is one of the node's credential paths, the set file it points
// at, and the node's flag that names it.
type nodePath struct{ path, file, flag string }

// nodePaths are the node's credential paths: the KES key, the VRF key and
// the op cert, or, when the node takes its KES key from kes-agent, the
// last two only (it reads no KES key file).
func (a *Agent) nodePaths() []nodePath {
	var out []nodePath
	if a.Config.KESKey != "" {
		out = append(out, nodePath{a.Config.KESKey, SetKESFile, credentialFlags[0]})
	}
	return append(out, nodePath{a.Config.VRFKey, SetVRFFile, credentialFlags[1]}, nodePath{a.Config.Cert, SetCertFile, credentialFlags[2]})
}

// Link modes: how the node's three paths reach the active set.
const (
	// LinkAbsolute: symlinks to DIR/current/FILE by absolute path (agents
	// set up before link modes existed).
	LinkAbsolute = "absolute"
	// LinkRelative: symlinks by a path relative to the link's folder, so
	// that a node in a container that mounts both folders under other
	// names still finds the files (the default).
	LinkRelative = "relative"
	// LinkCopy: the node's paths are regular files, replaced one by one
	// (each atomically) with the active set's bytes: for a node that
	// cannot see the agent folder at all.
	LinkCopy = "copy"
)

// LinkMode is the configured mode; absolute for agents made before link
// modes existed.
func (a *Agent) LinkMode() string { return a.linkMode() }

func (a *Agent) linkMode() string {
	if a.Config.LinkMode == "" {
		return LinkAbsolute
	}
	return a.Config.LinkMode
}

// linkTarget is the symlink the node path p should hold for set file file.
func (a *Agent) linkTarget(p, file string) (string, error) {
	dir, err := filepath.Abs(a.Dir)
	if err != nil {
		return "", err
	}
	abs := filepath.Join(dir, CurrentLink, file)
	if a.linkMode() != LinkRelative {
		return abs, nil
	}
	// Relative to where the link really is: resolve the link's folder
	// and the agent folder on this host first.
	from, err := filepath.EvalSymlinks(filepath.Dir(p))
	if err != nil {
		return "", err
	}
	to, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", err
	}
	return filepath.Rel(from, filepath.Join(to, CurrentLink, file))
}

// adopt takes over the node's paths the first time: their files go into
// sets/0-initial (bytes kept), current points there, and each path is
// replaced by a symlink into current/ with one rename, so the node keeps
// reading the same bytes throughout. It is idempotent and resumes an
// adoption a crash interrupted.
func (a *Agent) adopt(perm perms, now time.Time, hook func(Step) error) (bool, error) {
	cur, err := a.CurrentSet()
	if err != nil {
		return false, err
	}
	created := false
	if cur == "" {
		// A 0-initial without current was never active: redo it.
		_ = os.RemoveAll(filepath.Join(a.Dir, SetsDir, InitialSet))
		files := map[string][]byte{}
		defer func() {
			for _, b := range files {
				wipe(b)
			}
		}()
		for _, p := range a.nodePaths() {
			b, err := os.ReadFile(p.path)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return false, err
			}
			files[p.file] = b
		}
		if len(files) == 0 {
			return false, nil // nothing to keep: the first set links the paths
		}
		info := SetInfo{Name: InitialSet, Source: "initial", Created: now.UTC().Truncate(time.Second)}
		if cb, ok := files[SetCertFile]; ok {
			if c, err := opcert.Parse(cb); err == nil {
				info.Counter, info.KESPeriod, info.CertHash, info.HasCert = c.Counter, c.KESPeriod, c.Hash(), true
			}
		}
		if err := a.stage(perm, info, files, func(Step) error { return nil }); err != nil {
			return false, err
		}
		if err := hook(StepAdoptSet); err != nil {
			return false, err
		}
		if err := a.swap(InitialSet, func(Step) error { return nil }); err != nil {
			return false, err
		}
		if err := hook(StepAdoptLink); err != nil {
			return false, err
		}
		cur, created = InitialSet, true
	}
	changed, err := a.linkPathsOf(cur, hook)
	return created || changed, err
}

// linkPaths makes sure every node path is a symlink into current/.
func (a *Agent) linkPaths(hook func(Step) error) error {
	cur, err := a.CurrentSet()
	if err != nil || cur == "" {
		return err
	}
	if _, err := a.linkPathsOf(cur, hook); err != nil {
		return err
	}
	return hook(StepLinked)
}

// linkPathsOf makes each node path reach the active set: a symlink into
// current/ (absolute or relative), or in copy mode a regular file with the
// set's bytes. A path is replaced only if it is missing, already the
// agent's, or holds bytes of a set the agent keeps (so nothing the node
// reads changes by surprise); anything else was changed by hand and is
// refused.
func (a *Agent) linkPathsOf(cur string, hook func(Step) error) (bool, error) {
	changed := false
	for _, p := range a.nodePaths() {
		var did bool
		var err error
		if a.linkMode() == LinkCopy {
			did, err = a.copyPath(cur, p.path, p.file)
		} else {
			did, err = a.linkPath(cur, p.path, p.file)
		}
		if err != nil {
			return changed, err
		}
		if !did {
			continue
		}
		changed = true
		if err := hook(StepAdoptPath); err != nil {
			return changed, err
		}
	}
	return changed, nil
}

func (a *Agent) linkPath(cur, path, file string) (bool, error) {
	target, err := a.linkTarget(path, file)
	if err != nil {
		return false, err
	}
	if t, err := os.Readlink(path); err == nil && t == target {
		return false, nil
	}
	if err := a.checkReplaceable(cur, path, file, false); err != nil {
		return false, err
	}
	tmp := path + ".kesrotate-tmp"
	_ = os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return false, err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return false, err
	}
	return true, safefile.SyncDir(filepath.Dir(path))
}

// copyPath writes the active set's file over path (temp file in the same
// folder, fsync, rename, fsync the folder).
func (a *Agent) copyPath(cur, path, file string) (bool, error) {
	want, err := os.ReadFile(filepath.Join(a.Dir, SetsDir, cur, file))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil // an initial set without this file
	}
	if err != nil {
		return false, err
	}
	defer wipe(want)
	if fi, err := os.Lstat(path); err == nil && fi.Mode().IsRegular() {
		have, err := os.ReadFile(path)
		same := err == nil && bytes.Equal(have, want)
		wipe(have)
		if same {
			return false, nil
		}
	}
	if err := a.checkReplaceable(cur, path, file, true); err != nil {
		return false, err
	}
	perm, err := a.perm()
	if err != nil {
		return false, err
	}
	tmp := path + ".kesrotate-tmp"
	_ = os.Remove(tmp)
	if err := perm.create(tmp, want); err != nil {
		return false, err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return false, err
	}
	return true, safefile.SyncDir(filepath.Dir(path))
}

// checkManaged refuses (ErrUnmanaged) when a node path is neither the
// agent's link nor, in copy mode, a copy of a kept set's file.
func (a *Agent) checkManaged(cur string) error {
	for _, p := range a.nodePaths() {
		if a.linkMode() != LinkCopy {
			if target, err := a.linkTarget(p.path, p.file); err == nil {
				if t, err := os.Readlink(p.path); err == nil && t == target {
					continue
				}
			}
		}
		if err := a.checkReplaceable(cur, p.path, p.file, a.linkMode() == LinkCopy); err != nil {
			return err
		}
	}
	return nil
}

// checkReplaceable refuses to replace a node path that was changed by
// hand: it must be missing, or hold the bytes of the active set's file —
// or, in copy mode, of the same file of any set the agent keeps (a copy
// interrupted half way, or the set a rollback leaves).
func (a *Agent) checkReplaceable(cur, path, file string, anySet bool) error {
	have, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	}
	defer wipe(have)
	sets := []string{cur}
	if anySet {
		if all, err := a.Sets(); err == nil {
			for _, s := range all {
				sets = append(sets, s.Name)
			}
		}
	}
	for _, s := range sets {
		want, err := os.ReadFile(filepath.Join(a.Dir, SetsDir, s, file))
		same := err == nil && bytes.Equal(have, want)
		wipe(want)
		if same {
			return nil
		}
	}
	return fmt.Errorf("%w: %s does not hold the active set's %s", ErrUnmanaged, path, file)
}

// rollback is Rollback's move, under the lock: current back to the
// previous set, the node's paths after it.
func (a *Agent) rollback(hook func(Step) error) (*RollbackResult, error) {
	if hook == nil {
		hook = func(Step) error { return nil }
	}
	cur, err := a.CurrentSet()
	if err != nil {
		return nil, err
	}
	if cur == "" {
		return nil, fmt.Errorf("%w: nothing was installed by the agent", ErrNoPrevious)
	}
	info, err := a.Set(cur)
	if err != nil {
		return nil, err
	}
	if info.Previous == "" {
		return nil, fmt.Errorf("%w: set %s is the first one", ErrNoPrevious, cur)
	}
	if _, err := a.Set(info.Previous); err != nil {
		return nil, fmt.Errorf("%w: set %s is gone: %w", ErrNoPrevious, info.Previous, err)
	}
	// As install does: a node path changed by hand is refused before
	// anything moves.
	if err := a.checkManaged(cur); err != nil {
		return nil, err
	}
	if err := a.swap(info.Previous, hook); err != nil {
		return nil, err
	}
	if err := hook(StepRolledBack); err != nil {
		return nil, err
	}
	// Links follow current by themselves; copies are written again.
	if _, err := a.linkPathsOf(info.Previous, func(Step) error { return nil }); err != nil {
		return nil, err
	}
	return &RollbackResult{From: cur, To: info.Previous}, nil
}

// activateSet points current at the set name again, and the node's paths
// after it (a rollback whose set the node cannot see goes forward again).
func (a *Agent) activateSet(name string) error {
	noop := func(Step) error { return nil }
	if err := a.swap(name, noop); err != nil {
		return err
	}
	_, err := a.linkPathsOf(name, noop)
	return err
}

// perms applies the file modes the node accepts: 0600 owned by the agent's
// user, or 0640 with the configured group. Never an "other" bit.
type perms struct {
	gid int // -1: no group
}

func (a *Agent) perm() (perms, error) {
	if a.Config.Group == "" {
		return perms{gid: -1}, nil
	}
	g, err := user.LookupGroup(a.Config.Group)
	if err != nil {
		return perms{}, fmt.Errorf("%w: group %q: %w", ErrPermissions, a.Config.Group, err)
	}
	gid, err := strconv.Atoi(g.Gid)
	if err != nil {
		return perms{}, fmt.Errorf("%w: group %q has gid %q", ErrPermissions, a.Config.Group, g.Gid)
	}
	return perms{gid: gid}, nil
}

// FileMode is the mode of installed credential files.
func (p perms) FileMode() fs.FileMode {
	if p.gid >= 0 {
		return 0o640
	}
	return 0o600
}

func (p perms) create(path string, data []byte) error {
	if err := safefile.Create(path, data, p.FileMode()); err != nil {
		return err
	}
	if p.gid >= 0 {
		if err := os.Chown(path, -1, p.gid); err != nil {
			_ = os.Remove(path)
			return fmt.Errorf("%w: %w", ErrPermissions, err)
		}
	}
	return nil
}

// dir gives a folder on the node's read path the traverse bits the group
// needs (groupMode) when a group is configured, else 0700.
func (p perms) dir(path string, groupMode fs.FileMode) error {
	if p.gid < 0 {
		return nil
	}
	if err := os.Chown(path, -1, p.gid); err != nil {
		return fmt.Errorf("%w: %w", ErrPermissions, err)
	}
	return os.Chmod(path, groupMode)
}

// BundleFile is one bundle file given to install.
type BundleFile struct {
	Name string // its file name (it says whom the bundle is for)
	Data []byte
}

// Skipped is a bundle file OpenBundles passed over, and why.
type Skipped struct {
	Name, Why string
}

// forRe finds whom a bundle file is for in its name: POOL-N-PERIOD-HASH-for-bp1+bp2.age.
var forRe = regexp.MustCompile(`-for-([^/]+)\.age$`)

// BundleFor names the producers a bundle file's name says it is for, or "".
func BundleFor(name string) string {
	if m := forRe.FindStringSubmatch(filepath.Base(name)); m != nil {
		return strings.ReplaceAll(m[1], "+", ", ")
	}
	return ""
}

// Opened is the bundle OpenBundles chose to install.
type Opened struct {
	Bundle *transfer.Bundle
	Name   string // the file it came from
	// FileHash is transfer.FileHash of that file: pass it as
	// ActivateOptions.BundleHash, which set.json records.
	FileHash string
	// Skipped are the other files, and why they were passed over.
	Skipped []Skipped
}

// OpenBundles decrypts the bundle files given (several may share a
// transfer stick, e.g. after 'install mypool-*.age') and returns the one
// to install: among those sealed to this producer, the newest cert
// (highest counter, then KES period). The others are listed with why. None
// for this producer is transfer.ErrWrongProducer, naming whom they are for.
func (a *Agent) OpenBundles(files []BundleFile) (*Opened, error) {
	var best *transfer.Bundle
	var bestFile BundleFile
	var skipped []Skipped
	var lastErr error
	for _, f := range files {
		b, err := a.OpenBundle(bytes.NewReader(f.Data))
		if err != nil {
			why := err.Error()
			if errors.Is(err, transfer.ErrWrongProducer) {
				why = "sealed to another producer"
				if who := BundleFor(f.Name); who != "" {
					why = "sealed to " + who
				}
			}
			skipped = append(skipped, Skipped{f.Name, why})
			lastErr = err
			continue
		}
		if best == nil || b.Cert.Counter > best.Cert.Counter || (b.Cert.Counter == best.Cert.Counter && b.Cert.KESPeriod > best.Cert.KESPeriod) {
			if best != nil {
				skipped = append(skipped, Skipped{bestFile.Name, fmt.Sprintf("older than %s", filepath.Base(f.Name))})
				best.Wipe()
			}
			best, bestFile = b, f
			continue
		}
		skipped = append(skipped, Skipped{f.Name, fmt.Sprintf("older than %s", filepath.Base(bestFile.Name))})
		b.Wipe()
	}
	if best != nil {
		return &Opened{Bundle: best, Name: bestFile.Name, FileHash: transfer.FileHash(bestFile.Data), Skipped: skipped}, nil
	}
	if len(files) == 1 {
		if errors.Is(lastErr, transfer.ErrWrongProducer) {
			if who := BundleFor(files[0].Name); who != "" {
				return nil, fmt.Errorf("%w: it was encrypted to another producer (its name says it is for %s)", transfer.ErrWrongProducer, who)
			}
		}
		return nil, lastErr
	}
	var whom []string
	for _, s := range skipped {
		whom = append(whom, filepath.Base(s.Name)+": "+s.Why)
	}
	return nil, fmt.Errorf("%w: none of the %d bundles is for this producer (%s)", transfer.ErrWrongProducer, len(files), strings.Join(whom, "; "))
}
