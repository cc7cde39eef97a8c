package producer

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kesrotate/kesrotate/auditlog"
	"github.com/kesrotate/kesrotate/internal/safefile"
	"github.com/kesrotate/kesrotate/transfer"
	"golang.org/x/mod/sumdb/note"
)

// CheckpointsDir holds the ceremony-log checkpoints that arrived inside
// bundles, one file per checkpoint named by its SHA-256. Kept off the cold
// machine, they make a rewritten or truncated log on the stick detectable.
const CheckpointsDir = "checkpoints"

// ErrCheckpoint: a checkpoint that is not kept: not a ceremony-log
// checkpoint note, from another vault than the ones kept before, or not
// signed by the pinned audit key.
var ErrCheckpoint = errors.New("checkpoint not kept")

// originFile pins the vault (the checkpoint origin) the kept checkpoints
// come from: the first one kept decides.
const originFile = "origin"

// AddCheckpoint keeps a checkpoint note given by hand ('checkpoint add'):
// as KeepCheckpoint, but an empty note is not a checkpoint either.
func (a *Agent) AddCheckpoint(note []byte) (string, error) {
	if len(note) == 0 {
		return "", fmt.Errorf("%w: the note is empty", ErrCheckpoint)
	}
	return a.KeepCheckpoint(note)
}

// KeepCheckpoint stores a checkpoint note received in a bundle. It must be
// a well-formed ceremony-log checkpoint (C2SP tlog-checkpoint note of
// bounded size) from the same vault as those kept before, and signed by
// the vault's audit key when one is pinned (config --audit-key). Keeping
// the same note twice is a no-op. An empty note is ignored.
func (a *Agent) KeepCheckpoint(note []byte) (string, error) {
	if len(note) == 0 {
		return "", nil
	}
	c, err := auditlog.ParseCheckpoint(note)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrCheckpoint, err)
	}
	if a.Config.AuditKey != "" {
		if _, err := auditlog.OpenCheckpoint(note, a.Config.AuditKey); err != nil {
			return "", fmt.Errorf("%w: %w", ErrCheckpoint, err)
		}
	}
	dir := filepath.Join(a.Dir, CheckpointsDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	switch pinned, err := os.ReadFile(filepath.Join(dir, originFile)); {
	case errors.Is(err, fs.ErrNotExist):
		if err := safefile.Create(filepath.Join(dir, originFile), []byte(c.Origin+"\n"), 0o644); err != nil {
			return "", err
		}
	case err != nil:
		return "", err
	case strings.TrimSpace(string(pinned)) != c.Origin:
		return "", fmt.Errorf("%w: it is from %s, the kept checkpoints from %s", ErrCheckpoint, c.Origin, strings.TrimSpace(string(pinned)))
	}
	path := filepath.Join(dir, transfer.FileHash(note)[:16]+".note")
	err = safefile.Create(path, note, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return path, nil
	}
	return path, err
}

// ErrAuditKey: an audit key file that does not hold a note verifier key.
var ErrAuditKey = errors.New("not an audit key")

// ReadAuditKey is the one reader of an audit.pub file (config --audit-key,
// checkpoint countersign --audit-key): its text without the surrounding
// white space, which must be a signed-note verifier key.
func ReadAuditKey(b []byte) (string, error) {
	if _, err := auditlog.ParseVerifierKey(b); err != nil {
		return "", fmt.Errorf("%w: %w", ErrAuditKey, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// KeptCheckpoint is one kept checkpoint file, parsed by auditlog.
type KeptCheckpoint struct {
	File string
	auditlog.Checkpoint
	// Signatures is how many signatures the note carries (the audit
	// key's, and countersignatures).
	Signatures int
	// Err: the file is not a checkpoint (the other fields are empty).
	Err error
}

// RootBase64 is the checkpoint's root as its note writes it.
func (k KeptCheckpoint) RootBase64() string { return base64.StdEncoding.EncodeToString(k.Root[:]) }

// KeptCheckpoints reads and parses every kept checkpoint, oldest name
// first; a file that is not one is listed with its Err.
func (a *Agent) KeptCheckpoints() ([]KeptCheckpoint, error) {
	files, err := a.Checkpoints()
	if err != nil {
		return nil, err
	}
	var out []KeptCheckpoint
	for _, f := range files {
		msg, err := safefile.ReadRegular(f, 1<<20)
		if err != nil {
			return nil, err
		}
		k := KeptCheckpoint{File: f}
		if k.Checkpoint, k.Err = auditlog.ParseCheckpoint(msg); k.Err == nil {
			k.Signatures = noteSignatures(msg)
		}
		out = append(out, k)
	}
	return out, nil
}

// noteSignatures counts the signatures of a signed note, verified or not.
func noteSignatures(msg []byte) int {
	n, err := note.Open(msg, note.VerifierList())
	var u *note.UnverifiedNoteError
	switch {
	case errors.As(err, &u):
		return len(u.Note.Sigs) + len(u.Note.UnverifiedSigs)
	case err == nil:
		return len(n.Sigs) + len(n.UnverifiedSigs)
	}
	return 0
}

// Checkpoints lists the kept checkpoint files, oldest name first.
func (a *Agent) Checkpoints() ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(a.Dir, CheckpointsDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if filepath.Ext(e.Name()) == ".note" {
			out = append(out, filepath.Join(a.Dir, CheckpointsDir, e.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}

// CountersignerKeyFile is the verifier key Countersign writes beside the
// notes, for 'kesrotate ceremony verify --countersigner'.
const CountersignerKeyFile = "countersigner.pub"

// ErrNoCheckpoints: nothing kept to countersign yet.
var ErrNoCheckpoints = errors.New("no checkpoints kept yet")

// ErrNotCheckpoint: (Countersign) a file in the checkpoints folder is not
// a checkpoint note at all: not a regular file, too large, or not a
// signed note with a checkpoint body. It is no evidence of anything. A
// note that is a checkpoint but does not verify under the audit key is
// not this error: it fails with auditlog.ErrBadSignature or
// auditlog.ErrForeignLog, and is evidence to keep.
var ErrNotCheckpoint = errors.New("not a checkpoint note")

// ErrOutExists: the countersign folder holds a file of the same name with
// other content.
var ErrOutExists = errors.New("exists with other content")

// CountersignResult says what Countersign wrote.
type CountersignResult struct {
	Name     string   // the countersigner's key name: kesrotate-agent/FINGERPRINT
	Verifier string   // its verifier key text, written as CountersignerKeyFile
	Files    []string // the countersigned notes written
	// Checked: each checkpoint's audit signature was checked against the
	// audit key given (else the notes were countersigned as received).
	Checked bool
}

// Countersign writes every kept checkpoint into out with a second
// signature by this producer's snapshot key, and the verifier key beside
// them. With auditKey (the vault's audit.pub text) each checkpoint's audit
// signature is checked first; without it the notes are countersigned as
// received and the auditor's verify checks them. Files already there with
// the same content are accepted, so it can be run again into one folder.
func (a *Agent) Countersign(out, auditKey string) (*CountersignResult, error) {
	e, _, err := a.Enrollment()
	if err != nil {
		return nil, err
	}
	sk, err := a.SignKey()
	if err != nil {
		return nil, err
	}
	defer clear(sk)
	name := "kesrotate-agent/" + e.Fingerprint()
	signer, err := auditlog.NewEd25519Signer(name, sk)
	if err != nil {
		return nil, err
	}
	vkey, err := auditlog.NewEd25519VerifierKey(name, sk.Public().(ed25519.PublicKey))
	if err != nil {
		return nil, err
	}
	files, err := a.Checkpoints()
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, ErrNoCheckpoints
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	if err := writeSame(filepath.Join(out, CountersignerKeyFile), []byte(vkey+"\n")); err != nil {
		return nil, err
	}
	if auditKey != "" {
		if _, err := auditlog.ParseVerifierKey([]byte(auditKey)); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrAuditKey, err)
		}
	}
	res := &CountersignResult{Name: name, Verifier: vkey, Checked: auditKey != ""}
	for _, f := range files {
		msg, err := safefile.ReadRegular(f, 1<<20)
		if errors.Is(err, safefile.ErrNotRegular) || errors.Is(err, safefile.ErrTooLarge) {
			return res, fmt.Errorf("%s: %w: %w", filepath.Base(f), ErrNotCheckpoint, err)
		}
		if err != nil {
			return res, err
		}
		var signed []byte
		if auditKey != "" {
			// The key parses (above): a malformed file is the note.
			signed, err = auditlog.Countersign(msg, auditKey, signer)
			if errors.Is(err, auditlog.ErrMalformed) {
				err = fmt.Errorf("%w: %w", ErrNotCheckpoint, err)
			}
		} else {
			signed, err = countersignUnverified(msg, signer)
		}
		if err != nil {
			return res, fmt.Errorf("%s: %w", filepath.Base(f), err)
		}
		cp, _ := auditlog.ParseCheckpoint(signed)
		p := filepath.Join(out, fmt.Sprintf("%08d-%s.note", cp.Size, transfer.FileHash(msg)[:16]))
		if err := writeSame(p, signed); err != nil {
			return res, err
		}
		res.Files = append(res.Files, p)
	}
	return res, nil
}

// countersignUnverified adds signer's signature to a checkpoint note whose
// existing signatures this agent cannot check (it does not know the audit
// key); they are kept as they are.
func countersignUnverified(msg []byte, signer note.Signer) ([]byte, error) {
	if _, err := auditlog.ParseCheckpoint(msg); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotCheckpoint, err)
	}
	_, err := note.Open(msg, note.VerifierList())
	var unv *note.UnverifiedNoteError
	if !errors.As(err, &unv) {
		return nil, fmt.Errorf("countersign: %w", err)
	}
	return note.Sign(unv.Note, signer)
}

// writeSame creates path with data, or accepts it if it already holds data.
func writeSame(path string, data []byte) error {
	err := safefile.Create(path, data, 0o644)
	if errors.Is(err, fs.ErrExist) {
		if old, rerr := os.ReadFile(path); rerr == nil && bytes.Equal(old, data) {
			return nil
		}
		return fmt.Errorf("%s %w", path, ErrOutExists)
	}
	return err
}
