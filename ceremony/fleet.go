package ceremony

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kesrotate/kesrotate/transfer"
)

// FleetSnapshot is one snapshot file given to a fleet ceremony.
type FleetSnapshot struct {
	Name string // the file's name, for messages
	Data []byte
}

// FleetRequest is one ceremony that rotates many pools, each from the
// snapshot of one of its pinned producers.
type FleetRequest struct {
	// Pools are the pools to rotate, by name, in this order; empty means
	// every pool of the vault whose keys were not destroyed, by name.
	Pools []string
	// Snapshots are matched to pools by the pool id they name and the
	// pinned producer of that pool whose key signed them; their order
	// does not matter.
	Snapshots []FleetSnapshot
	Policy    transfer.SnapshotPolicy
	OutDir    string // where the bundles go ("" = the vault's out/)
	WithVRF   bool   // add each pool's VRF skey
	AutoVRF   bool   // add it for producers that never received it (RotateRequest.AutoVRF)
	// BundleVersion is the bundle version to write, as
	// RotateRequest.BundleVersion (0: the current one); another version
	// refuses the ceremony before any pool is rotated.
	BundleVersion int
	Now           time.Time
	// Progress, if set, is called after each pool with its outcome.
	Progress func(o FleetOutcome, done, total int)
}

// FleetState is what became of one pool of a fleet ceremony; its
// values are the words fleet rotate prints.
type FleetState string

const (
	// FleetRotated: the cert is issued, its bundle written and logged.
	FleetRotated FleetState = "rotated"
	// FleetRefused: a check refused the pool before anything was
	// written; nothing changed.
	FleetRefused FleetState = "refused"
	// FleetFailedAfterIssue: the cert is journaled (Issued), but its log
	// entry or its bundle failed (an *IssuedError): rotating the pool
	// again re-issues the same counter, and the next command that opens
	// the log records a cert it lacks.
	FleetFailedAfterIssue FleetState = "failed-after-issue"
)

// FleetOutcome is what became of one pool of a fleet ceremony.
type FleetOutcome struct {
	Pool     string
	State    FleetState
	Producer string // whose snapshot was used ("" when none was found)
	Snapshot string // the snapshot's file name
	Result   *RotateResult
	Err      error // the refusal or the failure; nil when the pool was rotated
	// Issued is the journaled cert of a pool that failed after its issue
	// (FleetFailedAfterIssue); nil otherwise.
	Issued *JournalEntry
	// Warnings are what the operator must act on before installing the
	// pool's bundle (RotateResult.Warnings): e.g. the same counter issued
	// for another producer, whose cert is valid too.
	Warnings []string
}

// FleetResult is a finished fleet ceremony.
type FleetResult struct {
	Outcomes []FleetOutcome
	// Unused names the snapshots no rotated pool took, with the reason.
	Unused []string
}

// Rotated counts the pools that got a cert and its bundle.
func (r *FleetResult) Rotated() int { return r.count(FleetRotated) }

// Refused counts the pools refused before anything was written.
func (r *FleetResult) Refused() int { return r.count(FleetRefused) }

// FailedAfterIssue counts the pools whose cert was journaled but whose
// log entry or bundle failed.
func (r *FleetResult) FailedAfterIssue() int { return r.count(FleetFailedAfterIssue) }

func (r *FleetResult) count(s FleetState) int {
	n := 0
	for _, o := range r.Outcomes {
		if o.State == s {
			n++
		}
	}
	return n
}

// settle decides o's state from its error.
func (o *FleetOutcome) settle() {
	var ie *IssuedError
	switch {
	case o.Err == nil:
		o.State = FleetRotated
	case errors.As(o.Err, &ie):
		o.State, o.Issued = FleetFailedAfterIssue, &ie.Cert
	default:
		o.State = FleetRefused
	}
}

// RotateFleet rotates many pools in one ceremony: it holds the vault's
// lock once, asks for the passphrase (an encrypted vault) once, and for
// each pool runs Rotate with the snapshot of its producer. One pool's
// refusal is recorded in its outcome and never stops the others: Rotate
// checks everything before it writes, and a pool that fails half way
// (FleetFailedAfterIssue) leaves what it wrote for the next pool's log
// open to record. The error
// is for the ceremony as a whole (the lock, the passphrase, the pool
// list); the outcomes say what became of each pool.
func (v *Vault) RotateFleet(req FleetRequest) (*FleetResult, error) {
	if _, err := transfer.LegacyVersion(req.BundleVersion); err != nil {
		return nil, err
	}
	release, err := v.Acquire("fleet rotate")
	if err != nil {
		return nil, err
	}
	defer release()
	if err := v.CheckUnlock(); err != nil {
		return nil, err
	}
	names := req.Pools
	if len(names) == 0 {
		ps, err := v.Pools()
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			if r, err := p.Retired(); err != nil {
				return nil, err
			} else if r == nil {
				names = append(names, p.Meta.Name)
			}
		}
	}
	for i, n := range names {
		if slices.Contains(names[:i], n) {
			return nil, fmt.Errorf("pool %s is named twice", n)
		}
		if _, err := v.Pool(n); err != nil {
			return nil, err
		}
	}
	match, unused, err := v.matchSnapshots(names, req.Snapshots)
	if err != nil {
		return nil, err
	}
	res := &FleetResult{Unused: unused}
	for _, name := range names {
		o := FleetOutcome{Pool: name}
		m := match[name]
		switch {
		case len(m) == 0:
			o.Err = fmt.Errorf("%w: none of the snapshots is signed by a producer pinned for pool %s", ErrNoSnapshot, name)
		case len(m) > 1:
			var files []string
			for _, s := range m {
				files = append(files, s.snap.Name+" ("+s.producer+")")
			}
			o.Err = fmt.Errorf("%w: %d snapshots for pool %s (%s); give one", ErrNoSnapshot, len(m), name, strings.Join(files, ", "))
		default:
			o.Producer, o.Snapshot = m[0].producer, m[0].snap.Name
			o.Result, o.Err = v.Rotate(RotateRequest{Pool: name, Producer: m[0].producer, Snapshot: m[0].snap.Data,
				Policy: req.Policy, WithVRF: req.WithVRF, AutoVRF: req.AutoVRF, BundleVersion: req.BundleVersion, OutDir: req.OutDir, Now: req.Now})
			if o.Result != nil {
				o.Warnings = o.Result.Warnings
			}
		}
		o.settle()
		res.Outcomes = append(res.Outcomes, o)
		if req.Progress != nil {
			req.Progress(o, len(res.Outcomes), len(names))
		}
	}
	return res, nil
}

type snapshotMatch struct {
	snap     FleetSnapshot
	producer string
}

// matchSnapshots finds, for each pool, the snapshots that one of its
// pinned producers signed. A snapshot is read for the pool id it claims
// and then checked only against that pool's producers' keys; Rotate checks
// it again, fully, against the pin.
func (v *Vault) matchSnapshots(pools []string, snaps []FleetSnapshot) (map[string][]snapshotMatch, []string, error) {
	prods, err := v.Producers()
	if err != nil {
		return nil, nil, err
	}
	want := map[string]string{} // pool id -> pool name
	all := map[string]string{}
	if ps, err := v.Pools(); err == nil {
		for _, p := range ps {
			all[p.Meta.PoolID] = p.Meta.Name
		}
	}
	for _, n := range pools {
		p, err := v.Pool(n)
		if err != nil {
			return nil, nil, err
		}
		want[p.Meta.PoolID] = n
	}
	out := map[string][]snapshotMatch{}
	var unused []string
	for _, s := range snaps {
		id, err := transfer.SnapshotPoolID(s.Data)
		if err != nil {
			unused = append(unused, fmt.Sprintf("%s: %v", s.Name, err))
			continue
		}
		pool, ok := want[id.Hex()]
		if !ok {
			name, in := all[id.Hex()]
			if !in {
				name = id.Hex() + " (not in this vault)"
			}
			unused = append(unused, fmt.Sprintf("%s: for pool %s, which this ceremony does not rotate", s.Name, name))
			continue
		}
		signer := ""
		for _, q := range prods {
			if q.Enrollment.PoolID != id {
				continue
			}
			if _, err := transfer.ParseSnapshot(s.Data, q.Enrollment.SignKey); err == nil {
				signer = q.Name
				break
			}
		}
		if signer == "" {
			unused = append(unused, fmt.Sprintf("%s: for pool %s, but no producer pinned for it signed it", s.Name, pool))
			continue
		}
		out[pool] = append(out[pool], snapshotMatch{snap: s, producer: signer})
	}
	return out, unused, nil
}
