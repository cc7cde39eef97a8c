package auditlog

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/kesrotate/kesrotate/internal/textsafe"
)

// Checkpoint is a signed tree head in the C2SP tlog-checkpoint format:
//
//	kesrotate.vault/<vault id>
//	<tree size>
//	<base64 root hash>
//
// followed by a blank line and the note signature lines.
type Checkpoint struct {
	Origin string    // "kesrotate.vault/<vault id>"
	Size   int64     // number of entries covered, at least 1
	Root   tlog.Hash // RFC 6962 root over the first Size entry lines
	Note   []byte    // the full signed note text (empty for a body only)
}

// MaxCheckpoint is the largest checkpoint note accepted, in bytes.
const MaxCheckpoint = 16 << 10

// body returns the unsigned checkpoint text.
func (c Checkpoint) body() string {
	return fmt.Sprintf("%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Root[:]))
}

// parseBody parses the checkpoint text of a note.
func parseBody(text string) (Checkpoint, error) {
	lines := strings.Split(text, "\n")
	if len(lines) != 4 || lines[3] != "" {
		return Checkpoint{}, errors.New("checkpoint body is not three lines")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 1 || strconv.FormatInt(size, 10) != lines[1] {
		return Checkpoint{}, errors.New("checkpoint tree size is not a positive decimal")
	}
	root, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		return Checkpoint{}, errors.New("checkpoint root is not a base64 hash")
	}
	c := Checkpoint{Origin: lines[0], Size: size}
	copy(c.Root[:], root)
	if c.body() != text {
		return Checkpoint{}, errors.New("checkpoint body is not canonical")
	}
	return c, nil
}

// ParseCheckpoint reads a signed checkpoint note without verifying any
// signature (for display; use OpenCheckpoint to trust it).
func ParseCheckpoint(msg []byte) (Checkpoint, error) {
	if len(msg) > MaxCheckpoint {
		return Checkpoint{}, errors.New("checkpoint note too large")
	}
	_, err := note.Open(msg, note.VerifierList())
	var unv *note.UnverifiedNoteError
	if !errors.As(err, &unv) {
		return Checkpoint{}, fmt.Errorf("checkpoint note: %w", err)
	}
	c, err := parseBody(unv.Note.Text)
	if err != nil {
		return Checkpoint{}, err
	}
	c.Note = bytes.Clone(msg)
	return c, nil
}

// OpenCheckpoint verifies msg with the audit verifier key text and parses
// it. Other signatures (countersignatures) are allowed and ignored. The
// checkpoint's origin must equal the audit key's name.
func OpenCheckpoint(msg []byte, auditKey string) (Checkpoint, error) {
	v, _, err := parseVerifierKey(auditKey)
	if err != nil {
		return Checkpoint{}, fail(ErrMalformed, NoSeq, "", "audit key", err)
	}
	c, e := openCheckpoint(msg, v, "")
	if e != nil {
		return Checkpoint{}, e
	}
	return c, nil
}

// openCheckpoint is OpenCheckpoint with an *Error naming file.
func openCheckpoint(msg []byte, v note.Verifier, file string) (Checkpoint, *Error) {
	if len(msg) > MaxCheckpoint {
		return Checkpoint{}, fail(ErrMalformed, NoSeq, file, "checkpoint note too large", nil)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	var unv *note.UnverifiedNoteError
	switch {
	case errors.As(err, &unv):
		c, perr := parseBody(unv.Note.Text)
		if perr != nil {
			return Checkpoint{}, fail(ErrMalformed, NoSeq, file, "", perr)
		}
		if c.Origin != v.Name() {
			return Checkpoint{}, fail(ErrForeignLog, NoSeq, file,
				fmt.Sprintf("checkpoint origin %q, want %q", textsafe.Cut(c.Origin, 40), v.Name()), nil)
		}
		return Checkpoint{}, fail(ErrBadSignature, NoSeq, file, "no signature by the audit key", nil)
	case err != nil:
		var inv *note.InvalidSignatureError
		if errors.As(err, &inv) {
			return Checkpoint{}, fail(ErrBadSignature, NoSeq, file, "", err)
		}
		return Checkpoint{}, fail(ErrMalformed, NoSeq, file, "checkpoint note", err)
	}
	// note decodes base64 leniently; a signature must be in its one
	// canonical encoding so that no byte of the file is malleable.
	for _, s := range append(n.Sigs, n.UnverifiedSigs...) {
		raw, err := base64.StdEncoding.Strict().DecodeString(s.Base64)
		if err != nil || base64.StdEncoding.EncodeToString(raw) != s.Base64 {
			return Checkpoint{}, fail(ErrBadSignature, NoSeq, file, "signature not in canonical base64", nil)
		}
	}
	c, perr := parseBody(n.Text)
	if perr != nil {
		return Checkpoint{}, fail(ErrMalformed, NoSeq, file, "", perr)
	}
	if c.Origin != v.Name() {
		// Only reachable if a key named differently signed this origin.
		return Checkpoint{}, fail(ErrForeignLog, NoSeq, file,
			fmt.Sprintf("checkpoint origin %q, want %q", textsafe.Cut(c.Origin, 40), v.Name()), nil)
	}
	c.Note = bytes.Clone(msg)
	return c, nil
}

// parseCheckpointUnverified makes every check openCheckpoint makes but
// the signature's (which the caller checks in a batch): a well-formed
// note, every signature in canonical base64, a canonical body for v's
// origin.
func parseCheckpointUnverified(msg []byte, v note.Verifier, file string) (Checkpoint, *note.Note, *Error) {
	if len(msg) > MaxCheckpoint {
		return Checkpoint{}, nil, fail(ErrMalformed, NoSeq, file, "checkpoint note too large", nil)
	}
	_, err := note.Open(msg, note.VerifierList())
	var unv *note.UnverifiedNoteError
	if !errors.As(err, &unv) {
		return Checkpoint{}, nil, fail(ErrMalformed, NoSeq, file, "checkpoint note", err)
	}
	for _, s := range unv.Note.UnverifiedSigs {
		raw, err := base64.StdEncoding.Strict().DecodeString(s.Base64)
		if err != nil || base64.StdEncoding.EncodeToString(raw) != s.Base64 {
			return Checkpoint{}, nil, fail(ErrBadSignature, NoSeq, file, "signature not in canonical base64", nil)
		}
	}
	c, perr := parseBody(unv.Note.Text)
	if perr != nil {
		return Checkpoint{}, nil, fail(ErrMalformed, NoSeq, file, "", perr)
	}
	if c.Origin != v.Name() {
		return Checkpoint{}, nil, fail(ErrForeignLog, NoSeq, file, fmt.Sprintf("checkpoint origin %q, want %q", textsafe.Cut(c.Origin, 40), v.Name()), nil)
	}
	c.Note = msg
	return c, unv.Note, nil
}

// signCheckpoint signs the checkpoint body with s.
func signCheckpoint(c Checkpoint, s note.Signer) (Checkpoint, error) {
	msg, err := note.Sign(&note.Note{Text: c.body()}, s)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("sign checkpoint: %w", err)
	}
	c.Note = msg
	return c, nil
}

// Countersign verifies checkpoint msg with the audit verifier key text and
// returns the note with signer's signature added; existing signatures are
// kept. The result still opens with the audit key alone (OpenCheckpoint),
// and with signer's verifier key alone.
func Countersign(msg []byte, auditKey string, signer note.Signer) ([]byte, error) {
	if _, err := OpenCheckpoint(msg, auditKey); err != nil {
		return nil, fmt.Errorf("countersign: %w", err)
	}
	_, err := note.Open(msg, note.VerifierList())
	var unv *note.UnverifiedNoteError
	if !errors.As(err, &unv) {
		return nil, fmt.Errorf("countersign: %w", err)
	}
	out, err := note.Sign(unv.Note, signer)
	if err != nil {
		return nil, fmt.Errorf("countersign: %w", err)
	}
	return out, nil
}
