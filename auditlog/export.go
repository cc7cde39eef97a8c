package auditlog

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/kesrotate/kesrotate/internal/textsafe"
)

// Export writes an auditor package to outDir, which must not exist: the
// log's FileEntries, FileCheckpoint, every checkpoints/<size>.note and
// FileAuditKey, the caller's extra files (README, binary hash, …; keys are
// slash paths such as "README.md" or "bin/kesrotate.sha256" that must not
// collide with the layout), and FileManifest listing the SHA-256 of every
// other file. The package has the log's layout, so Verify accepts it
// (with RequireManifest). Export copies the log as it is; it does not
// verify it (an auditor must see a broken log too): call Verify first if
// the caller wants to refuse. On error outDir is removed.
func Export(logDir, outDir string, extra map[string][]byte) (err error) {
	for name := range extra {
		if !fs.ValidPath(name) || name == "." || strings.HasPrefix(path.Base(name), ".") || reserved(name) {
			return fmt.Errorf("export: extra file name %q not allowed", textsafe.Cut(name, 40))
		}
	}
	files := map[string][]byte{}
	for _, name := range []string{FileEntries, FileCheckpoint, FileAuditKey} {
		b, err := os.ReadFile(filepath.Join(logDir, name))
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		files[name] = b
	}
	des, err := os.ReadDir(filepath.Join(logDir, DirCheckpoints))
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	for _, de := range des {
		if _, ok := checkpointName(de.Name()); !ok || !de.Type().IsRegular() {
			continue
		}
		name := DirCheckpoints + "/" + de.Name()
		b, err := os.ReadFile(filepath.Join(logDir, filepath.FromSlash(name)))
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		files[name] = b
	}
	for name, b := range extra {
		files[name] = b
	}

	if err := os.Mkdir(outDir, 0o755); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("export: %w: %w", ErrExists, err)
		}
		return fmt.Errorf("export: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(outDir)
		}
	}()
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	var manifest strings.Builder
	for _, name := range names {
		p := filepath.Join(outDir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		if err := writeNew(p, files[name]); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		sum := sha256.Sum256(files[name])
		manifest.WriteString(hex.EncodeToString(sum[:]) + "  " + name + "\n")
	}
	if err := writeNew(filepath.Join(outDir, FileManifest), []byte(manifest.String())); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if err := syncTree(outDir); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}

func reserved(name string) bool {
	first, _, _ := strings.Cut(name, "/")
	switch first {
	case FileEntries, FileCheckpoint, DirCheckpoints, FileAuditKey, FileManifest:
		return true
	}
	return false
}

// syncTree fsyncs every directory under root.
func syncTree(root string) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return syncDir(p)
		}
		return nil
	})
}
