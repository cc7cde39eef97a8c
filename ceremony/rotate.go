package ceremony

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/kesrotate/kesrotate/ceremony/auditlog"
	"github.com/kesrotate/kesrotate/internal/safefile"
	"github.com/kesrotate/kesrotate/transfer"
)

// RotateRequest is one rotation for a pinned producer.
type RotateRequest struct {
	Pool         string
	Producer     string
	Snapshot     []byte // the signed snapshot file
	Policy       transfer.SnapshotPolicy
	WithVRF      bool    // add the VRF skey (first install)
	ForceCounter *uint64 // journaled override
	OutDir       string  // where the .age file goes ("" = the vault's out/)
	Checkpoint   []byte  // the ceremony log checkpoint to carry, if any
	Now          time.Time
	Clock        *ClockOverride // the operator set the clock (logged as an override)
}

// ErrSnapshotUsed: the snapshot already produced a cert. A snapshot is
// good for one rotation: issuing from it again re-issues the same counter
// with a new KES key.
var ErrSnapshotUsed = errors.New("this snapshot already produced a cert")

// RotateResult describes a finished rotation.
type RotateResult struct {
	Issue      *IssueResult
	Snapshot   *transfer.Snapshot
	Producer   *Producer
	Pin        auditlog.PinRecord // the pin the bundle was sealed to: its fingerprint and log entry
	BundleFile string
	Bundle     []byte // the encrypted file's bytes (public)
	BundleHash string
	Checkpoint []byte // the ceremony-log checkpoint after the bundle-exported entry
	// Warnings are things the operator must act on that are not errors,
	// e.g. the same counter already sent to another producer.
	Warnings []string
}

// Rotate checks the producer's snapshot, issues the next cert for the
// period of its tip, and writes the bundle encrypted to the pinned
// producer. Every check runs before anything is written: a refused
// snapshot, producer or pool changes nothing.
func (v *Vault) Rotate(req RotateRequest) (*RotateResult, error) {
	release, err := v.acquire("rotate")
	if err != nil {
		return nil, err
	}
	defer release()
	p, err := v.Pool(req.Pool)
	if err != nil {
		return nil, err
	}
	prod, err := v.Producer(req.Producer)
	if err != nil {
		return nil, err
	}
	poolID, err := p.PoolID()
	if err != nil {
		return nil, err
	}
	if prod.Enrollment.PoolID != poolID {
		return nil, fmt.Errorf("%w: producer %s serves pool %s, not %s (%s)", transfer.ErrWrongPool, prod.Name, prod.Enrollment.PoolID, p.Meta.Name, poolID)
	}
	if err := p.snapshotUnused(req.Snapshot); err != nil {
		return nil, err
	}
	// The enrollment file is trusted (its key checks the snapshot, its
	// recipient gets the bundle) only if it is the one pinned.
	pin, err := v.checkPin(prod, p)
	if err != nil {
		return nil, err
	}
	snap, err := transfer.ParseSnapshot(req.Snapshot, prod.Enrollment.SignKey)
	if err != nil {
		return nil, err
	}
	pol := req.Policy
	pol.Network, pol.PoolID = v.Network, poolID
	period, err := snap.Check(pol)
	if err != nil {
		return nil, err
	}
	recipient, err := transfer.ParseAnyRecipient(prod.Enrollment.Recipient)
	if err != nil {
		return nil, err
	}
	if req.WithVRF && p.Meta.VRFVKey == "" {
		return nil, fmt.Errorf("%w: %s", ErrNoVRF, p.Meta.Name)
	}
	// Every check passed: the first write is a format 1 pin signed now.
	if pin, err = v.signPin(prod, p, pin, req.Now); err != nil {
		return nil, err
	}
	outDir := req.OutDir
	if outDir == "" {
		outDir = v.OutDir()
	}
	res, err := p.Issue(IssueRequest{KESPeriod: period, TipSlot: snap.TipSlot, OnChain: snap.OnChain,
		ForceCounter: req.ForceCounter, KESVKey: snap.KESVKey, Producer: prod.Name, Now: req.Now, Log: rotateLog(req, snap)})
	if err != nil {
		return nil, err
	}
	if req.Checkpoint == nil {
		req.Checkpoint = res.Checkpoint
	}
	b := &transfer.Bundle{Magic: v.Network.Magic, PoolID: poolID, Cold: res.Cert.Cold, Cert: res.Cert, KES: res.KES,
		Producer: prod.Enrollment.Fingerprint(), Checkpoint: req.Checkpoint, Created: req.Now}
	defer b.Wipe()
	if req.WithVRF {
		if b.VRF, err = p.VRFKey(); err != nil {
			return nil, err
		}
	}
	var buf bytes.Buffer
	if err := b.Encrypt(&buf, recipient); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(outDir, 0o700); err != nil {
		return nil, err
	}
	name := fmt.Sprintf("%s-%d-%d-%s.age", p.Meta.Name, res.Cert.Counter, res.Cert.KESPeriod, res.Cert.Hash()[:8])
	path := filepath.Join(outDir, name)
	if err := safefile.Create(path, buf.Bytes(), 0o600); err != nil {
		return nil, fmt.Errorf("writing the bundle (the cert is journaled; rotating again re-issues the same counter): %w", err)
	}
	ckpt, err := v.logBundle(p, res, path, buf.Bytes(), req.Now)
	if err != nil {
		return nil, err
	}
	return &RotateResult{Issue: res, Snapshot: snap, Producer: prod, Pin: pin, BundleFile: path, Bundle: buf.Bytes(),
		BundleHash: transfer.FileHash(buf.Bytes()), Checkpoint: ckpt, Warnings: p.sameCounterElsewhere(res, prod.Name)}, nil
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
// the previous one, which went to another producer and never minted: both
// are valid on chain, so both producers would forge for the pool.
func (p *Pool) sameCounterElsewhere(res *IssueResult, producer string) []string {
	entries, err := p.Journal()
	if err != nil {
		return nil
	}
	issued := Issued(entries)
	if len(issued) < 2 {
		return nil
	}
	prev := issued[len(issued)-2]
	if prev.Counter != res.Cert.Counter || prev.Producer == "" || prev.Producer == producer {
		return nil
	}
	return []string{fmt.Sprintf("cert #%d was also issued for producer %s, and the chain has not seen it: both certs are valid, so stop block production on %s before installing this bundle on %s",
		prev.Counter, prev.Producer, prev.Producer, producer)}
}
