package ceremony

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/kesrotate/kesrotate/transfer"
)

// Every output of a rotation, its QR folder included, must take its
// files before a cert is issued; the frames and the checkpoint's QR code
// are written by the rotation itself and returned.
func TestRotateQRDir(t *testing.T) {
	v, pools := benchVault(t, t.TempDir(), 1, t0)
	bp := pools[0]
	p, err := v.Pool(bp.name)
	if err != nil {
		t.Fatal(err)
	}
	req := RotateRequest{Pool: bp.name, Producer: bp.producer, Snapshot: bp.snapshot(t, v, t0), Now: t0,
		Policy: transfer.SnapshotPolicy{Now: t0}, OutDir: t.TempDir()}

	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "frame-001.png"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	req.QRDir = full
	if res, err := v.Rotate(req); !errors.Is(err, ErrQR) || res != nil {
		t.Fatalf("a QR folder holding frames: got %v, %v; want ErrQR and no result", res, err)
	}
	if js, err := p.Journal(); err != nil || len(Issued(js)) != 0 {
		t.Fatalf("refused for its QR folder, the rotation issued: %d certs, %v", len(Issued(js)), err)
	}

	req.QRDir = filepath.Join(t.TempDir(), "qr")
	res, err := v.Rotate(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Issue.KES.Wipe()
	if len(res.Frames) < 2 || res.CheckpointQR != filepath.Join(req.QRDir, CheckpointQR) {
		t.Fatalf("frames %v, checkpoint QR %q", res.Frames, res.CheckpointQR)
	}
	files, _, err := transfer.ScanProgress(res.Frames[:len(res.Frames)-1], transfer.URBundle, nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(files) != string(res.Bundle) {
		t.Error("the frames do not hold the bundle")
	}
	if _, err := os.Stat(res.CheckpointQR); err != nil {
		t.Error(err)
	}
}
