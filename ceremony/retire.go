package ceremony

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kesrotate/kesrotate/auditlog"
	"github.com/kesrotate/kesrotate/internal/safefile"
	"github.com/kesrotate/kesrotate/internal/textsafe"
)

// retiredFile marks a pool whose secret keys were destroyed.
const retiredFile = "retired.json"

// Retirement is retired.json: when the keys were destroyed and whether the
// ceremony log has recorded it yet.
type Retirement struct {
	Time      time.Time `json:"time"`
	Destroyed []string  `json:"destroyed"` // file names that held secret keys
	Logged    bool      `json:"logged"`
}

// Retired returns the pool's retirement record, or nil if its keys are in
// place.
func (p *Pool) Retired() (*Retirement, error) {
	b, err := os.ReadFile(filepath.Join(p.Dir, retiredFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var r Retirement
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s/%s: %w", p.Meta.Name, retiredFile, err)
	}
	return &r, nil
}

// How an operator confirmed a key destruction (RetireOptions.How), as the
// keys-destroyed entry records it (DetailConfirmed). Logs written before
// these names record "--confirm" for ConfirmPassed.
const (
	ConfirmTyped  = "typed"  // typed at a prompt
	ConfirmPassed = "passed" // given with the command (kesrotate: --confirm)
)

// RetireOptions are the operator's confirmation of a key destruction.
type RetireOptions struct {
	// Name is the pool name the operator gave to confirm; it must be the
	// pool's name (ErrNotConfirmed otherwise: nothing is destroyed).
	Name string
	// How says how the operator gave it: ConfirmTyped or ConfirmPassed.
	How string
}

// RetireKeys destroys the pool's secret keys (cold and VRF, plaintext or
// encrypted): each file is overwritten, synced and removed (Shred), after
// retired.json records the decision, and a keys-destroyed entry goes into
// the ceremony log. The log is opened first: a vault whose log cannot take
// the entry loses nothing. An interrupted run is finished by running it
// again; a finished one returns ErrKeysDestroyed. Backups (shares, vault
// copies) are not touched: destroy those by hand. Nothing happens unless
// o.Name is the pool's name (ErrNotConfirmed).
func (p *Pool) RetireKeys(now time.Time, o RetireOptions) (*Retirement, error) {
	if o.How != ConfirmTyped && o.How != ConfirmPassed {
		return nil, fmt.Errorf("how the destruction was confirmed is %q, want %q or %q", o.How, ConfirmTyped, ConfirmPassed)
	}
	if o.Name != p.Meta.Name {
		return nil, fmt.Errorf("%w: the name given is %q, the pool is %q: nothing was destroyed", ErrNotConfirmed, textsafe.Clip(o.Name, 60), p.Meta.Name)
	}
	release, err := p.v.Acquire("retire-keys")
	if err != nil {
		return nil, err
	}
	defer release()
	r, err := p.Retired()
	if err != nil {
		return nil, err
	}
	if r != nil && r.Logged {
		return r, fmt.Errorf("%w: %s on %s", ErrKeysDestroyed, p.Meta.Name, r.Time.Format(time.RFC3339))
	}
	if pr, err := p.Prepared(); err != nil {
		return nil, err
	} else if pr != nil {
		return nil, fmt.Errorf("%w: cert #%d; abandon it (or finish it) first", ErrPrepared, pr.Counter)
	}
	if _, _, err := p.v.OpenLog(now); err != nil {
		return nil, err
	}
	if r == nil {
		r = &Retirement{Time: now.UTC().Truncate(time.Second), Destroyed: []string{}}
		for _, f := range secretKeyFiles {
			for _, name := range []string{f, f + encSuffix} {
				if ok, err := exists(filepath.Join(p.Dir, name)); err != nil {
					return nil, err
				} else if ok {
					r.Destroyed = append(r.Destroyed, name)
				}
			}
		}
		if err := p.writeRetirement(r, false); err != nil {
			return nil, err
		}
	}
	for _, name := range r.Destroyed {
		if err := Shred(filepath.Join(p.Dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return r, fmt.Errorf("destroying %s/%s (run retire-keys again to finish): %w", p.Meta.Name, name, err)
		}
	}
	var files []auditlog.FileHash
	for _, f := range []struct{ role, name string }{{"cold-vkey", coldVkeyFile}, {"vrf-vkey", vrfVkeyFile}} {
		if b, err := os.ReadFile(filepath.Join(p.Dir, f.name)); err == nil {
			files = append(files, HashFile(f.role, f.name, b))
		}
	}
	d := map[string]string{"name": p.Meta.Name, "destroyed": strings.Join(r.Destroyed, " "), "method": "overwrite-sync-unlink",
		DetailConfirmed: o.How}
	if _, err := p.v.RecordKeysDestroyed(now, p.Meta.PoolID, files, d); err != nil {
		return r, fmt.Errorf("the keys are destroyed but the log entry failed (run retire-keys again to record it): %w", err)
	}
	r.Logged = true
	if err := p.writeRetirement(r, true); err != nil {
		return r, err
	}
	return r, nil
}

func (p *Pool) writeRetirement(r *Retirement, replace bool) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(p.Dir, retiredFile)
	if replace {
		return safefile.Replace(path, append(b, '\n'), 0o644)
	}
	return safefile.Create(path, append(b, '\n'), 0o644)
}
