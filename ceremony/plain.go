package ceremony

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/kesrotate/kesrotate/internal/safefile"
	"github.com/kesrotate/kesrotate/opcert"
	"github.com/kesrotate/kesrotate/transfer"
)

// PlainRequest is a rotation without a producer: the operator gives the
// KES period and the chain's counter, and the cert and its plaintext KES
// keys are written in cardano-cli format into OutDir.
type PlainRequest struct {
	Pool         string
	KESPeriod    uint64
	OnChain      opcert.OnChain
	ForceCounter *uint64
	IgnoreClock  bool // accept a period up to transfer.MaxClockOverride periods off (logged as an override)
	OutDir       string
	Now          time.Time
}

// Overrides are the overrides a plaintext rotation's request uses, by
// Override… name: a period beyond transfer.ClockTolerance from the clock
// (IgnoreClock). A clock the operator set is the vault's (Audit.Clock).
func (req PlainRequest) Overrides() map[string]string {
	out := map[string]string{}
	if req.IgnoreClock {
		out[OverrideIgnoreClock] = "true"
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// PlainFiles are the files RotatePlain writes, in OutDir.
var PlainFiles = []string{"node.cert", "kes.skey", "kes.vkey"}

// RotatePlain issues the next cert for a pool with its cold key in the
// vault and writes node.cert, kes.skey and kes.vkey into OutDir: hot keys
// leave the vault unencrypted (the sealed path is Rotate). The period must
// agree with this machine's clock, and OutDir must take the three files,
// before anything is issued. The caller wipes the result's KES key.
func (v *Vault) RotatePlain(req PlainRequest) (*IssueResult, error) {
	p, err := v.Pool(req.Pool)
	if err != nil {
		return nil, err
	}
	if p.Hardware() {
		return nil, fmt.Errorf("%w: pool %s", ErrHardwareKey, req.Pool)
	}
	if err := transfer.CheckClock(v.Network, req.KESPeriod, req.Now, req.IgnoreClock); err != nil {
		return nil, err
	}
	for _, f := range PlainFiles {
		if _, err := os.Lstat(filepath.Join(req.OutDir, f)); err == nil {
			return nil, fmt.Errorf("%w: %s already exists: hot keys are never overwritten", ErrOutput, filepath.Join(req.OutDir, f))
		}
	}
	undo, err := safefile.PrepareDirUndo(req.OutDir, 0o700)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOutput, err)
	}
	res, err := p.Issue(IssueRequest{KESPeriod: req.KESPeriod, TipSlot: v.Network.PeriodStartSlot(req.KESPeriod), OnChain: req.OnChain,
		ForceCounter: req.ForceCounter, Now: req.Now, Log: IssueLog{Overrides: withClock(req.Overrides(), v.Audit.Clock)}})
	if err != nil {
		undo() // refused: no folder left behind
		return nil, err
	}
	kvk := res.KES.Public()
	for _, f := range []struct {
		name string
		data []byte
		mode fs.FileMode
	}{
		{"node.cert", res.Cert.MarshalEnvelope(), 0o600},
		{"kes.skey", res.KES.MarshalEnvelope(), safefile.SecretMode},
		{"kes.vkey", kvk.MarshalEnvelope(), 0o600},
	} {
		if err := safefile.Create(filepath.Join(req.OutDir, f.name), f.data, f.mode); err != nil {
			res.KES.Wipe()
			return nil, &IssuedError{Cert: res.Entry, Logged: true,
				Err: fmt.Errorf("cert #%d is journaled, but %s could not be written (rotate again into an empty folder: it re-issues the same counter): %w", res.Entry.Counter, f.name, err)}
		}
	}
	return res, nil
}
