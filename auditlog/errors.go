package auditlog

import (
	"errors"
	"fmt"
)

// Branchable errors. Every error returned by Verify, VerifyFS, Open and
// Export that concerns the log's integrity is an *Error whose Unwrap yields
// exactly one of these, so callers branch with errors.Is.
var (
	// ErrTampered: an entry or file differs from what was signed or listed:
	// a line that is not canonical JSON, a sequence number out of place
	// (reordered, inserted or removed entries), a tree that does not match
	// a checkpoint of the same or a smaller size (rewritten history), or a
	// package file whose SHA-256 differs from the manifest.
	ErrTampered = errors.New("log tampered")
	// ErrTruncated: a checkpoint signed by the audit key covers more
	// entries than the log holds (the tail was deleted).
	ErrTruncated = errors.New("log truncated")
	// ErrUnsealed: the log holds entries after its latest checkpoint (an
	// interrupted append, or entries added without the audit key).
	ErrUnsealed = errors.New("entries after the latest checkpoint")
	// ErrBadSignature: a checkpoint's audit-key signature is missing or
	// invalid.
	ErrBadSignature = errors.New("bad checkpoint signature")
	// ErrBinding: the audit key is not bound to a pool by the pool's cold
	// key (missing, invalid or foreign-key binding), or differs from the
	// audit key the caller expected or the one recorded at init.
	ErrBinding = errors.New("audit key binding failed")
	// ErrSemantics: the entries are authentic but describe a ceremony that
	// breaks the rules (counters, KES periods, certs exported that were
	// never issued in the log).
	ErrSemantics = errors.New("ceremony rule violated")
	// ErrForged: an entry whose cold-key evidence is missing or does not
	// verify: a cert-issued entry without the cert its pool's cold key
	// signed, or a producer-add entry without a valid cold-key pin (from
	// log format 2, or after the first such entry in a format 1 log).
	// Whoever wrote it held the audit key but not the cold key.
	ErrForged = errors.New("entry not backed by the pool's cold key")
	// ErrForeignLog: a file or checkpoint belongs to another vault (origin
	// or vault id mismatch).
	ErrForeignLog = errors.New("log from another vault")
	// ErrMissingFile: a file of the layout or listed in the manifest is
	// absent.
	ErrMissingFile = errors.New("missing file")
	// ErrMalformed: a file of the layout cannot be parsed at all (audit
	// key, checkpoint note, manifest).
	ErrMalformed = errors.New("malformed file")
	// ErrInvalidEntry: Append refused an entry (bad field, unknown kind,
	// text that looks like key material).
	ErrInvalidEntry = errors.New("invalid entry")
	// ErrConcurrent: Append found the log longer than when it was opened:
	// another writer appended in between. Nothing was written; reopen.
	ErrConcurrent = errors.New("the log changed since it was opened (another writer)")
	// ErrNotInLog: a cert seen in the field (VerifyOptions.Certs) was not
	// issued in the log: it was made outside the logged ceremony.
	ErrNotInLog = errors.New("cert was not issued in this log")
	// ErrForeignCert: a cert given to check (VerifyOptions.Certs) is for a
	// pool the log holds nothing of: another vault's pool, not a cert made
	// behind this ceremony's back.
	ErrForeignCert = errors.New("cert of a pool this log does not hold")
	// ErrVerifierKey: a verifier key file (ParseVerifierKey) does not hold
	// a note verifier key.
	ErrVerifierKey = errors.New("not a note verifier key")
	// ErrExists: Create or Export found its target already present.
	ErrExists = errors.New("already exists")
)

// NoSeq is the Error.Seq of failures that do not concern one entry.
const NoSeq int64 = -1

// Error describes the first problem Verify found.
type Error struct {
	Kind   error  // one of the Err… sentinels above
	Seq    int64  // index of the first bad entry, or NoSeq
	File   string // slash path inside the log directory, or "" (extra checkpoints: "extra[i]")
	Reason string // human-readable detail, never secret
	Err    error  // underlying cause, may be nil
}

func (e *Error) Error() string {
	s := ""
	if e.Seq != NoSeq {
		s = fmt.Sprintf("entry %d: ", e.Seq)
	}
	if e.File != "" {
		s += e.File + ": "
	}
	s += e.Kind.Error()
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the sentinel and the underlying cause.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

func fail(kind error, seq int64, file, reason string, err error) *Error {
	return &Error{Kind: kind, Seq: seq, File: file, Reason: reason, Err: err}
}
