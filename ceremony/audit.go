package ceremony

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/kesrotate/kesrotate/auditlog"
)

// LogAudit is what VerifyLog established: the log's report, and for a
// vault's own log the actions the vault holds that the log does not
// record.
type LogAudit struct {
	Report *auditlog.Report
	Gaps   []LogGap
}

// VerifyLog verifies the log folder dir, or an auditor package, with
// public keys only: auditlog.Verify with opts, where an exported package
// (its README, binary or manifest present) must be complete. v, if not
// nil, is the vault the log must belong to; when dir is v's own log, the
// vault's journals and producer files are compared with it too, and what
// the log does not record fails with ErrUnlogged (recoverable by 'ceremony
// seal') or ErrPinMismatch (not recoverable: a pin does not match).
//
// The error is the first problem; the LogAudit holds what was established
// before it.
func VerifyLog(dir string, v *Vault, opts auditlog.VerifyOptions) (*LogAudit, error) {
	for _, name := range []string{ExportReadme, ExportBinary, auditlog.FileManifest} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			opts.RequireManifest = true
		}
	}
	if v != nil {
		opts.VaultID = v.Meta.ID
	}
	r, err := auditlog.Verify(dir, opts)
	a := &LogAudit{Report: r}
	if err != nil || v == nil || filepath.Clean(dir) != filepath.Clean(v.LogDir()) {
		return a, err
	}
	if a.Gaps, err = v.LogGaps(r.Entries); err != nil { // the entries Verify read and checked
		return a, err
	}
	for _, g := range a.Gaps {
		if !g.Recoverable() {
			return a, fmt.Errorf("%w: %s", ErrPinMismatch, g)
		}
	}
	if len(a.Gaps) > 0 {
		return a, fmt.Errorf("%w: %s", ErrUnlogged, a.Gaps[0])
	}
	return a, nil
}
