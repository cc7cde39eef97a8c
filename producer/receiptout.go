package producer

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kesrotate/kesrotate/internal/safefile"
	"github.com/kesrotate/kesrotate/transfer"
	"github.com/kesrotate/kesrotate/transfer/qr"
)

// ErrReceiptOutput: a demotion receipt's file or QR code cannot be
// written. Demote checks this before it takes forging away, so that a
// demotion never ends without its receipt.
var ErrReceiptOutput = errors.New("cannot write the demotion receipt")

// receiptOutputs are a demotion's receipt files, created (empty, with
// O_EXCL) before anything changes and filled once the receipt is signed.
type receiptOutputs struct {
	files []*os.File
	done  bool
}

// reserveReceipt creates the receipt's file and QR code PNG (either may
// be ""), and checks that a receipt like sample fits one QR code.
func reserveReceipt(file, qrFile string, sample *transfer.Receipt) (*receiptOutputs, error) {
	out := &receiptOutputs{}
	if qrFile != "" {
		if _, err := receiptQR(sample); err != nil {
			return nil, err
		}
	}
	for _, p := range []string{file, qrFile} {
		if p == "" {
			continue
		}
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			out.release()
			return nil, fmt.Errorf("%w: %w", ErrReceiptOutput, err)
		}
		out.files = append(out.files, f)
	}
	return out, nil
}

// receiptQR is the QR code of a receipt like r, signed by a throwaway key
// of the same size: the check that the real one will fit.
func receiptQR(r *transfer.Receipt) ([]byte, error) {
	return receiptQROf(r.Marshal(ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))))
}

func receiptQROf(data []byte) ([]byte, error) {
	frames, err := transfer.Frames(transfer.URReceipt, data, transfer.SingleFragmentLen)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrReceiptOutput, err)
	}
	if len(frames) != 1 {
		return nil, fmt.Errorf("%w: %d bytes do not fit one QR code", ErrReceiptOutput, len(data))
	}
	png, err := qr.EncodePNG(frames[0], qr.Options{})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrReceiptOutput, err)
	}
	return png, nil
}

// write fills the reserved outputs with the signed receipt: the file gets
// data, the QR code its PNG.
func (o *receiptOutputs) write(data []byte, qrFile string) error {
	for _, f := range o.files {
		b := data
		if f.Name() == qrFile {
			png, err := receiptQROf(data)
			if err != nil {
				return err
			}
			b = png
		}
		_, err := f.Write(b)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = safefile.SyncDir(filepath.Dir(f.Name()))
		}
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrReceiptOutput, f.Name(), err)
		}
	}
	o.done = true
	return nil
}

// release removes the reserved outputs unless the receipt was written.
func (o *receiptOutputs) release() {
	if o == nil || o.done {
		return
	}
	for _, f := range o.files {
		_ = f.Close()
		_ = os.Remove(f.Name())
	}
}
