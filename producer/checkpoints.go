package producer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kesrotate/kesrotate/ceremony/auditlog"
	"github.com/kesrotate/kesrotate/internal/safefile"
	"github.com/kesrotate/kesrotate/transfer"
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
