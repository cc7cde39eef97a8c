package ceremony

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/kesrotate/kesrotate/auditlog"
	"github.com/kesrotate/kesrotate/internal/safefile"
	"github.com/kesrotate/kesrotate/transfer/qr"
)

// LogState is the vault's ceremony log as 'ceremony show' reports it.
type LogState struct {
	// Entries are the log's entries as far as they could be read;
	// Unreadable, if not nil, is why reading stopped there.
	Entries    []auditlog.Entry
	Unreadable error
	// Checkpoint is the latest checkpoint, nil when it cannot be read
	// (Verify then says why).
	Checkpoint *auditlog.Checkpoint
	// Verify is what auditlog.Verify finds of the log (nil: it verifies).
	Verify error
	// Gaps are what the vault holds that the log does not record.
	Gaps []LogGap
}

// LogState reads and checks the vault's ceremony log without changing
// anything: the same verification and comparison with the vault that
// VerifyLog makes, with what could be read kept for display.
func (v *Vault) LogState() (*LogState, error) {
	st := &LogState{}
	st.Entries, st.Unreadable = auditlog.Entries(v.LogDir())
	if b, err := os.ReadFile(filepath.Join(v.LogDir(), auditlog.FileCheckpoint)); err == nil {
		if cp, err := auditlog.ParseCheckpoint(b); err == nil {
			st.Checkpoint = &cp
		}
	}
	_, st.Verify = auditlog.Verify(v.LogDir(), auditlog.VerifyOptions{VaultID: v.Meta.ID})
	gaps, err := v.LogGaps(st.Entries)
	if err != nil {
		return nil, err
	}
	st.Gaps = gaps
	return st, nil
}

// maxCheckpointImage bounds a checkpoint QR image read back.
const maxCheckpointImage = 16 << 20

// ReadCheckpoints reads checkpoints kept outside the vault (by the
// producer's agent, by an auditor) for VerifyLog: path is a *.note file, a
// checkpoint QR image (.png, .jpg), or a folder of them, where an image
// counts only when named checkpoint* (a bundle's frames may share the
// folder). A folder with no checkpoint in it is an error: checkpoints
// asked for and none found must not pass for a check that was made.
func ReadCheckpoints(path string) ([][]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	var files []string
	if fi.IsDir() {
		des, err := os.ReadDir(path)
		if err != nil {
			return nil, err
		}
		for _, de := range des {
			name := strings.ToLower(de.Name())
			if strings.HasSuffix(name, ".note") || strings.HasPrefix(name, "checkpoint") {
				files = append(files, filepath.Join(path, de.Name()))
			}
		}
	} else {
		files = []string{path}
	}
	var out [][]byte
	for _, f := range files {
		switch strings.ToLower(filepath.Ext(f)) {
		default:
			if !fi.IsDir() {
				return nil, fmt.Errorf("%s: %w", f, ErrCheckpointFile)
			}
		case ".note":
			b, err := safefile.ReadRegular(f, auditlog.MaxCheckpoint)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			out = append(out, b)
		case ".png", ".jpg", ".jpeg":
			b, err := safefile.ReadRegular(f, maxCheckpointImage)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			text, err := qr.DecodeImage(bytes.NewReader(b))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			if _, err := auditlog.ParseCheckpoint([]byte(text)); err != nil {
				return nil, fmt.Errorf("%s: not a checkpoint QR code: %w", f, err)
			}
			out = append(out, []byte(text))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: %w (*.note files, checkpoint*.png images)", path, ErrNoCheckpoint)
	}
	return out, nil
}
