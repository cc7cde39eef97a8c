package ceremony

import (
	"fmt"
	"path/filepath"

	"github.com/kesrotate/kesrotate/internal/safefile"
	"github.com/kesrotate/kesrotate/transfer"
	"github.com/kesrotate/kesrotate/transfer/qr"
)

// CheckpointQR is the checkpoint's QR code in a rotation's QR folder.
const CheckpointQR = transfer.CheckpointQRFile

// checkQRDir refuses a QR folder that cannot take a rotation's frames,
// before anything is issued ("" is no folder).
func checkQRDir(dir string) error {
	if dir == "" {
		return nil
	}
	if err := transfer.CheckQRDir(dir); err != nil {
		return fmt.Errorf("%w: %w", ErrQR, err)
	}
	return nil
}

// writeQR writes, into res's QR folder dir, the bundle as QR frames
// (frame-NNN.png and a contact sheet) and the checkpoint note as one
// plain-text QR code (CheckpointQR) that any QR reader turns back into
// the note, and records their paths in res. The bundle is written and
// logged by then: an error wraps ErrQR and says so.
func writeQR(dir string, res *RotateResult) error {
	if dir == "" {
		return nil
	}
	frames, err := transfer.WriteQR(dir, transfer.URBundle, res.Bundle, transfer.DefaultFragmentLen)
	res.Frames = frames
	if err != nil {
		return fmt.Errorf("%w: the bundle is written and logged, but its frames: %w", ErrQR, err)
	}
	if len(res.Checkpoint) == 0 {
		return nil
	}
	png, err := qr.EncodePNG(string(res.Checkpoint), qr.Options{})
	if err != nil {
		return fmt.Errorf("%w: the bundle is written and logged, but the checkpoint's QR code: %w", ErrQR, err)
	}
	p := filepath.Join(dir, CheckpointQR)
	if err := safefile.Create(p, png, 0o644); err != nil {
		return fmt.Errorf("%w: the bundle is written and logged, but the checkpoint's QR code: %w", ErrQR, err)
	}
	res.CheckpointQR = p
	return nil
}
