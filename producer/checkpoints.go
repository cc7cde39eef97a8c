package producer

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/kesrotate/kesrotate/internal/safefile"
	"github.com/kesrotate/kesrotate/transfer"
)

// CheckpointsDir holds the ceremony-log checkpoints that arrived inside
// bundles, one file per checkpoint named by its SHA-256. Kept off the cold
// machine, they make a rewritten or truncated log on the stick detectable.
const CheckpointsDir = "checkpoints"

// KeepCheckpoint stores a checkpoint note received in a bundle. Keeping the
// same note twice is a no-op. An empty note is ignored.
func (a *Agent) KeepCheckpoint(note []byte) (string, error) {
	if len(note) == 0 {
		return "", nil
	}
	dir := filepath.Join(a.Dir, CheckpointsDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	path := filepath.Join(dir, transfer.FileHash(note)[:16]+".note")
	err := safefile.Create(path, note, 0o644)
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
