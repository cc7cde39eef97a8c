package ceremony

import (
	"errors"
	"time"

	"github.com/kesrotate/kesrotate/auditlog"
)

// SealResult is what Seal found and did.
type SealResult struct {
	// Unsigned are the log's entries after its latest checkpoint (an
	// append interrupted before its checkpoint).
	Unsigned []auditlog.Entry
	// Unlogged is what the vault holds and the log lacks that Seal records
	// (flagged recovered); Unrecordable what it never records: a producer
	// file that does not match its pin is evidence, not a gap to fill.
	Unlogged     []LogGap
	Unrecordable []LogGap
	// Sealed is how many entries were signed, Recorded the entries added
	// for Unlogged (when apply).
	Sealed   int
	Recorded []auditlog.Entry
}

// Seal repairs what a crash in the middle of a command left: it signs the
// entries after the latest checkpoint, then records what the vault holds
// that the log does not, each entry flagged recovered. Without apply it
// changes nothing and says what it would do: the error is the unsealed
// log's (auditlog.ErrUnsealed) while entries are unsigned, else
// ErrUnlogged while there are gaps to record. A log that fails
// verification for any other reason is never sealed.
func (v *Vault) Seal(now time.Time, apply bool) (*SealResult, error) {
	res := &SealResult{}
	_, verr := auditlog.Verify(v.LogDir(), auditlog.VerifyOptions{VaultID: v.Meta.ID})
	var ae *auditlog.Error
	if errors.Is(verr, auditlog.ErrUnsealed) && errors.As(verr, &ae) {
		entries, err := auditlog.Entries(v.LogDir())
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if e.Seq >= ae.Seq {
				res.Unsigned = append(res.Unsigned, e)
			}
		}
		if !apply {
			return res, verr
		}
		ck, err := v.SealLog()
		if err != nil {
			return nil, err
		}
		res.Sealed = int(ck.Size - ae.Seq)
	} else if verr != nil {
		return nil, verr
	}
	entries, err := auditlog.Entries(v.LogDir())
	if err != nil {
		return nil, err
	}
	gaps, err := v.LogGaps(entries)
	if err != nil {
		return nil, err
	}
	for _, g := range gaps {
		if g.Recoverable() {
			res.Unlogged = append(res.Unlogged, g)
		} else {
			res.Unrecordable = append(res.Unrecordable, g)
		}
	}
	if !apply && len(res.Unlogged) > 0 {
		return res, ErrUnlogged
	}
	_, rec, err := v.OpenLog(now)
	if err != nil {
		return nil, err
	}
	res.Recorded = rec
	return res, nil
}
