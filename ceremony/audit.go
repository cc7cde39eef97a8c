package ceremony

import (
	"errors"
	"fmt"
	"io/fs"
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
// before it. The vault's own log folder gone is auditlog.ErrMissingFile.
func VerifyLog(dir string, v *Vault, opts auditlog.VerifyOptions) (*LogAudit, error) {
	for _, name := range []string{ExportReadme, ExportBinary, auditlog.FileManifest} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			opts.RequireManifest = true
		}
	}
	if v != nil {
		opts.VaultID = v.Meta.ID
	}
	own := v != nil && filepath.Clean(dir) == filepath.Clean(v.LogDir())
	r, err := auditlog.Verify(dir, opts)
	if _, serr := os.Lstat(dir); own && errors.Is(serr, fs.ErrNotExist) {
		// The vault's log deleted: a verification failure (not a path
		// given wrong), named as such rather than by its first file.
		err = &auditlog.Error{Kind: auditlog.ErrMissingFile, Seq: auditlog.NoSeq, File: logDir + "/", Err: ErrNoLog}
	}
	a := &LogAudit{Report: r}
	if err != nil || !own {
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
