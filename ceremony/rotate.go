package ceremony

import (
	"bytes"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/kesrotate/kesrotate/auditlog"
	"github.com/kesrotate/kesrotate/internal/safefile"
	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/transfer"
)

// RotateRequest is one rotation for a pinned producer, sealed to it and
// to the standbys in Also (one bundle, age's several recipients).
type RotateRequest struct {
	Pool     string
	Producer string
	Also     []string // more pinned producers of the pool: standbys
	Snapshot []byte   // the signed snapshot file
	// Policy is how strictly the snapshot is checked; its Network,
	// PoolID and Now are set here (the vault's, the pool's, Now).
	Policy  transfer.SnapshotPolicy
	WithVRF bool // add the VRF skey (first install)
	// AutoVRF adds the VRF skey when a producer named has never received
	// it from this vault (its first bundle), if the vault holds it.
	AutoVRF bool
	// BundleVersion is the bundle version to write: 0 or
	// transfer.BundleVersion, or transfer.BundleVersionLegacy for older
	// agents (transfer.LegacyVersion decides the format; another version
	// is refused before anything is written: transfer.ErrBundleVersion).
	BundleVersion int
	ForceCounter  *uint64 // journaled override
	OutDir        string  // where the .age file goes ("" = the vault's out/)
	// QRDir, if set, also gets the bundle as QR frames and the checkpoint
	// as a QR code (CheckpointQR); it must take them before a cert is
	// issued (ErrQR).
	QRDir      string
	Checkpoint []byte // the ceremony log checkpoint to carry, if any
	Now        time.Time
}

// RotateResult describes a finished rotation.
type RotateResult struct {
	Issue    *IssueResult
	Snapshot *transfer.Snapshot
	Producer *Producer          // the producer whose snapshot the cert was issued from
	Pin      auditlog.PinRecord // the pin the bundle was sealed to: its fingerprint and log entry
	// SealedTo are all producers the bundle is sealed to, with their pins
	// (Producer and Pin first).
	SealedTo   []*Producer
	Pins       []auditlog.PinRecord
	BundleFile string
	Bundle     []byte // the encrypted file's bytes (public)
	BundleHash string
	Checkpoint []byte // the ceremony-log checkpoint after the bundle-exported entry
	// VRFFor are the producers the VRF key was added for by AutoVRF:
	// those that had never received it. Empty when it was asked for
	// (WithVRF) or not sent.
	VRFFor  []string
	WithVRF bool // the bundle carries the VRF key
	// Warnings are things the operator must act on that are not errors,
	// e.g. the same counter already sent to another producer.
	Warnings []string
	// Frames are the QR images of the bundle written into the request's
	// QRDir (the frames, then their contact sheet), CheckpointQR the
	// checkpoint's QR code there; none without a QRDir.
	Frames       []string
	CheckpointQR string
}

// Rotate checks the producer's snapshot, issues the next cert for the
// period of its tip, and writes the bundle encrypted to the pinned
// producer. Every check runs before anything is written: a refused
// snapshot, producer or pool changes nothing. A pool whose cold key is on
// a hardware wallet is refused (ErrHardwareKey): PrepareRotation and
// FinishRotation rotate it around the device's signature.
func (v *Vault) Rotate(req RotateRequest) (_ *RotateResult, err error) {
	p, end, err := v.beginRotation(req.Pool)
	if err != nil {
		return nil, err
	}
	defer end(&err)
	if p.Hardware() {
		return nil, fmt.Errorf("%w: pool %s; rotate it on its own, which prepares the files for 'cardano-hw-cli node issue-op-cert'", ErrHardwareKey, p.Meta.Name)
	}
	pl, err := v.planRotation(p, req)
	if err != nil {
		return nil, err
	}
	// Every check passed: the first writes are format 1 pins signed now.
	for i := range pl.prods {
		if pl.pins[i], err = v.signPin(pl.prods[i], p, pl.pins[i], req.Now); err != nil {
			return nil, err
		}
	}
	prod, snap := pl.prods[0], pl.snap
	res, err := p.Issue(IssueRequest{KESPeriod: pl.period, TipSlot: snap.TipSlot, OnChain: snap.OnChain,
		ForceCounter: req.ForceCounter, KESVKey: snap.KESVKey, Producer: prod.Name, SealedTo: sealedTo(pl.names), WithVRF: pl.withVRF, Now: req.Now, Log: rotateLog(req, snap, v.Audit.Clock)})
	if err != nil {
		return nil, err
	}
	if req.Checkpoint == nil {
		req.Checkpoint = res.Checkpoint
	}
	sealed, err := v.sealBundle(p, pl.poolID, res, pl.prods, pl.recipients, pl.outDir, pl.legacy, pl.withVRF, req.Checkpoint, req.Now)
	if err != nil {
		res.KES.Wipe()
		return nil, afterIssue(res.Entry, err)
	}
	out := &RotateResult{Issue: res, Snapshot: snap, Producer: prod, Pin: pl.pins[0], SealedTo: pl.prods, Pins: pl.pins, BundleFile: sealed.file, Bundle: sealed.data,
		BundleHash: transfer.FileHash(sealed.data), Checkpoint: sealed.checkpoint, VRFFor: pl.vrfFor, WithVRF: pl.withVRF, Warnings: p.sameCounterElsewhere(res, pl.names)}
	// The rotation is done: a QR folder that fails now returns it too.
	return out, writeQR(req.QRDir, out)
}

// beginRotation is the start of Rotate, PrepareRotation and FinishRotation:
// it takes the vault's lock for "rotate" and loads the pool. The caller
// defers end(&err), which forgets the log this process opened when the
// rotation failed (the next action reopens and reconciles it), then
// releases the lock.
func (v *Vault) beginRotation(pool string) (p *Pool, end func(err *error), err error) {
	release, err := v.Acquire("rotate")
	if err != nil {
		return nil, nil, err
	}
	end = func(err *error) {
		if *err != nil {
			v.forgetLog()
		}
		release()
	}
	if p, err = v.Pool(pool); err != nil {
		end(&err)
		return nil, nil, err
	}
	return p, end, nil
}

// rotationPlan is what a rotation checked before it writes anything.
type rotationPlan struct {
	poolID     keys.PoolID
	names      []string // the producers, the snapshot's first
	prods      []*Producer
	pins       []auditlog.PinRecord
	recipients []age.Recipient
	snap       *transfer.Snapshot
	period     uint64 // the KES period of the snapshot's tip
	withVRF    bool
	vrfFor     []string
	outDir     string // where the bundle goes; it takes files
	legacy     bool   // the bundle is written as transfer.Bundle.Legacy
}

// planRotation runs a rotation's checks, reading only: the producers and
// their pins, the snapshot (unused, signed by the first producer, for this
// network and pool, fresh, near the clock), the VRF key, the bundle's
// folder (made if missing) and the QR folder.
func (v *Vault) planRotation(p *Pool, req RotateRequest) (*rotationPlan, error) {
	poolID, err := p.PoolID()
	if err != nil {
		return nil, err
	}
	pl := &rotationPlan{poolID: poolID, names: append([]string{req.Producer}, req.Also...)}
	if pl.legacy, err = transfer.LegacyVersion(req.BundleVersion); err != nil {
		return nil, err
	}
	if pl.prods, pl.pins, pl.recipients, err = v.sealTargets(p, poolID, pl.names); err != nil {
		return nil, err
	}
	if err := p.snapshotUnused(req.Snapshot); err != nil {
		return nil, err
	}
	// The snapshot comes from the first producer named.
	prod := pl.prods[0]
	snap, err := transfer.ParseSnapshot(req.Snapshot, prod.Enrollment.SignKey)
	if err != nil {
		return nil, err
	}
	if snap.KESVKey != nil && len(pl.prods) > 1 {
		return nil, fmt.Errorf("%w: the snapshot carries a KES key made on %s (KES-on-producer mode); only %s can install its cert, so it cannot be sealed to other producers too",
			ErrSealing, prod.Name, prod.Name)
	}
	pol := req.Policy
	pol.Network, pol.PoolID, pol.Now = v.Network, poolID, req.Now
	if pl.period, err = snap.Check(pol); err != nil {
		return nil, err
	}
	pl.snap = snap
	if req.WithVRF && p.Meta.VRFVKey == "" {
		return nil, fmt.Errorf("%w: %s", ErrNoVRF, p.Meta.Name)
	}
	pl.withVRF = req.WithVRF
	if !pl.withVRF && req.AutoVRF && p.Meta.VRFVKey != "" {
		if pl.vrfFor, err = p.neverGotVRF(pl.names); err != nil {
			return nil, err
		}
		pl.withVRF = len(pl.vrfFor) > 0
	}
	pl.outDir = req.OutDir
	if pl.outDir == "" {
		pl.outDir = v.OutDir()
	}
	// The bundle's folder must take a file before a cert is issued: a
	// cert journaled without its bundle is re-issued by the next rotate.
	if err := checkQRDir(req.QRDir); err != nil {
		return nil, err
	}
	if err := safefile.PrepareDir(pl.outDir, 0o700); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOutput, err)
	}
	return pl, nil
}

// sealTargets are the pinned producers called names, each held against
// its pin in the log (its enrollment file is trusted only then), with the
// recipients one bundle is sealed to.
func (v *Vault) sealTargets(p *Pool, poolID keys.PoolID, names []string) ([]*Producer, []auditlog.PinRecord, []age.Recipient, error) {
	var prods []*Producer
	var pins []auditlog.PinRecord
	var recipients []age.Recipient
	for i, name := range names {
		if slices.Contains(names[:i], name) {
			return nil, nil, nil, fmt.Errorf("%w: producer %s is named twice", ErrSealing, name)
		}
		prod, err := v.Producer(name)
		if err != nil {
			return nil, nil, nil, err
		}
		if prod.Enrollment.PoolID != poolID {
			return nil, nil, nil, fmt.Errorf("%w: producer %s serves pool %s, not %s (%s)", transfer.ErrWrongPool, prod.Name, prod.Enrollment.PoolID, p.Meta.Name, poolID)
		}
		// The enrollment file is trusted (its key checks the snapshot,
		// its recipient gets the bundle) only if it is the one pinned.
		pin, err := v.checkPin(prod, p)
		if err != nil {
			return nil, nil, nil, err
		}
		r, err := transfer.ParseAnyRecipient(prod.Enrollment.Recipient)
		if err != nil {
			return nil, nil, nil, err
		}
		prods, pins, recipients = append(prods, prod), append(pins, pin), append(recipients, r)
	}
	return prods, pins, recipients, nil
}

// sealedBundle is a bundle written and logged.
type sealedBundle struct {
	file       string
	data       []byte // the encrypted file's bytes (public)
	checkpoint []byte // the ceremony-log checkpoint after its bundle-exported entry
}

// sealBundle packs the issued cert (with its KES key, and the VRF key
// when withVRF) for prods, encrypts it to recipients, writes it into
// outDir and logs it.
func (v *Vault) sealBundle(p *Pool, poolID keys.PoolID, res *IssueResult, prods []*Producer, recipients []age.Recipient, outDir string,
	legacy, withVRF bool, checkpoint []byte, now time.Time) (*sealedBundle, error) {
	b := &transfer.Bundle{Magic: v.Network.Magic, PoolID: poolID, Cold: res.Cert.Cold, Cert: res.Cert, KES: res.KES, Legacy: legacy,
		Producer: prods[0].Enrollment.Fingerprint(), Checkpoint: checkpoint, Created: now}
	names := make([]string, len(prods))
	for i, q := range prods {
		names[i] = q.Name
		if len(prods) > 1 {
			b.Producers = append(b.Producers, q.Enrollment.Fingerprint())
		}
	}
	defer b.Wipe()
	if withVRF {
		var err error
		if b.VRF, err = p.VRFKey(); err != nil {
			return nil, err
		}
	}
	var buf bytes.Buffer
	if err := b.Encrypt(&buf, recipients...); err != nil {
		return nil, err
	}
	// The name says whom the bundle is for: several bundles may share a
	// stick, and a producer picks its own (and an error can say whose it is).
	name := fmt.Sprintf("%s-%d-%d-%s-for-%s.age", p.Meta.Name, res.Cert.Counter, res.Cert.KESPeriod, res.Cert.Hash()[:8], strings.Join(names, "+"))
	path := filepath.Join(outDir, name)
	if err := safefile.Create(path, buf.Bytes(), 0o600); err != nil {
		return nil, &IssuedError{Cert: res.Entry, Logged: true,
			Err: fmt.Errorf("writing the bundle (cert #%d is journaled; rotating again re-issues the same counter): %w", res.Entry.Counter, err)}
	}
	ckpt, err := v.logBundle(p, res, path, buf.Bytes(), now)
	if err != nil {
		return nil, err
	}
	return &sealedBundle{file: path, data: buf.Bytes(), checkpoint: ckpt}, nil
}

// neverGotVRF lists the producers among names that no bundle of p with
// the VRF key was sealed to, as the journal records it.
func (p *Pool) neverGotVRF(names []string) ([]string, error) {
	entries, err := p.Journal()
	if err != nil {
		return nil, err
	}
	got := map[string]bool{}
	for _, e := range Issued(entries) {
		if e.WithVRF {
			for _, h := range e.HeldBy() {
				got[h] = true
			}
		}
	}
	var out []string
	for _, n := range names {
		if !got[n] {
			out = append(out, n)
		}
	}
	return out, nil
}

// sealedTo is the journal's list of producers, when there are several.
func sealedTo(names []string) []string {
	if len(names) < 2 {
		return nil
	}
	return names
}

// snapshotUnused refuses a snapshot that already produced a cert of p,
// naming that cert.
func (p *Pool) snapshotUnused(snapshot []byte) error {
	entries, err := p.Journal()
	if err != nil {
		return err
	}
	sum := transfer.FileHash(snapshot)
	for _, e := range Issued(entries) {
		if e.SnapshotSHA256 == sum {
			return fmt.Errorf("%w: cert #%d (KES period %d, cert hash %s) was issued from it on %s",
				ErrSnapshotUsed, e.Counter, e.KESPeriod, e.CertHash[:16], e.Time.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

// sameCounterElsewhere warns when the cert just issued has the number of
// an earlier one (not only the one before it: a third cert of a number
// leaves the first producer's valid too) that went to another producer
// and never minted: both are valid on chain, so both producers would
// forge for the pool.
func (p *Pool) sameCounterElsewhere(res *IssueResult, producers []string) []string {
	producer := producers[0]
	entries, err := p.Journal()
	if err != nil {
		return nil
	}
	issued := Issued(entries)
	if len(issued) < 2 {
		return nil
	}
	var out, warned []string
	for _, prev := range issued[:len(issued)-1] {
		if prev.Counter != res.Cert.Counter {
			continue
		}
		for _, other := range prev.HeldBy() {
			if slices.Contains(producers, other) || slices.Contains(warned, other) {
				continue // it receives this bundle too, or is named already
			}
			warned = append(warned, other)
			out = append(out, fmt.Sprintf("cert #%d was also issued for producer %s, and the chain has not seen it: both certs are valid, so stop block production on %s before installing this bundle on %s",
				prev.Counter, other, other, producer))
		}
	}
	return out
}
