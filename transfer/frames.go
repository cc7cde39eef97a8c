package transfer

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kesrotate/kesrotate/internal/safefile"
	"github.com/kesrotate/kesrotate/transfer/qr"
	"github.com/kesrotate/kesrotate/transfer/ur"
)

// UR types of the files that cross the gap as QR codes.
const (
	URBundle     = "kesrotate-bundle"
	URSnapshot   = "kesrotate-snapshot"
	UREnrollment = "kesrotate-enrollment"
)

// DefaultFragmentLen is the fragment size of a bundle frame: small frames
// scan reliably from a screen or a printout.
const DefaultFragmentLen = 200

// SingleFragmentLen is used for snapshots and enrollments, which must fit
// one QR code.
const SingleFragmentLen = 1024

// Frames returns the uppercase UR parts that carry data: every plain
// fragment once, then as many extra fountain parts (at least three), so
// that lost or unreadable frames do not matter.
func Frames(urType string, data []byte, fragmentLen int) ([]string, error) {
	enc, err := ur.Encode(urType, data, fragmentLen)
	if err != nil {
		return nil, err
	}
	if enc.IsSinglePart() {
		return []string{ur.ToUpper(enc.NextPart())}, nil
	}
	n := enc.SeqLen()
	extra := n
	if extra < 3 {
		extra = 3
	}
	out := make([]string, 0, n+extra)
	for i := 0; i < n+extra; i++ {
		out = append(out, ur.ToUpper(enc.NextPart()))
	}
	return out, nil
}

// WriteQR writes one PNG per frame (frame-001.png …) and a contact sheet
// (frames.png) into dir, which must not hold frames already. It returns the
// files written.
func WriteQR(dir, urType string, data []byte, fragmentLen int) ([]string, error) {
	frames, err := Frames(urType, data, fragmentLen)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var files []string
	var pngs [][]byte
	for i, f := range frames {
		png, err := qr.EncodePNG(f, qr.Options{})
		if err != nil {
			return files, err
		}
		p := filepath.Join(dir, fmt.Sprintf("frame-%03d.png", i+1))
		if err := safefile.Create(p, png, 0o644); err != nil {
			return files, err
		}
		files = append(files, p)
		pngs = append(pngs, png)
	}
	if len(pngs) > 1 {
		sheet, err := qr.ContactSheet(pngs, 4)
		if err != nil {
			return files, err
		}
		p := filepath.Join(dir, "frames.png")
		if err := safefile.Create(p, sheet, 0o644); err != nil {
			return files, err
		}
		files = append(files, p)
	}
	return files, nil
}

// WriteSingleQR writes data as one QR code PNG at path.
func WriteSingleQR(path, urType string, data []byte) error {
	frames, err := Frames(urType, data, SingleFragmentLen)
	if err != nil {
		return err
	}
	if len(frames) != 1 {
		return fmt.Errorf("%d bytes do not fit one QR code", len(data))
	}
	png, err := qr.EncodePNG(frames[0], qr.Options{})
	if err != nil {
		return err
	}
	return safefile.Create(path, png, 0o644)
}

// ErrIncomplete: the frames scanned are not enough to rebuild the file.
var ErrIncomplete = errors.New("not enough QR frames")

// Scan reads QR codes from image files (PNG or JPEG; a contact sheet
// holds many), feeds them to a UR decoder of the expected type in any
// order, ignores duplicates, and reports frames of another transfer as
// warnings. It returns the file's bytes.
func Scan(paths []string, urType string) (data []byte, warnings []string, err error) {
	// Frames of several transfers may be mixed (an old printout, another
	// pool's bundle): each gets its own decoder, and the one that completes
	// wins. The others are reported.
	var decs []*ur.Decoder
	seen := map[string]bool{}
	var done *ur.Decoder
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, warnings, err
		}
		codes, err := qr.DecodeAll(bytes.NewReader(b))
		if err != nil {
			return nil, warnings, fmt.Errorf("%s: %w", p, err)
		}
		for _, c := range codes {
			if seen[c] || done != nil {
				continue
			}
			seen[c] = true
			taken := false
			var lastErr error
			for _, d := range decs {
				err := d.Receive(c)
				if errors.Is(err, ur.ErrForeignPart) {
					continue
				}
				taken, lastErr = true, err
				if err == nil && d.Complete() {
					done = d
				}
				break
			}
			if !taken {
				d := ur.NewDecoder()
				d.ExpectedType = urType
				if lastErr = d.Receive(c); lastErr == nil {
					decs = append(decs, d)
					taken = true
					if d.Complete() {
						done = d
					}
				}
			}
			if lastErr != nil {
				warnings = append(warnings, fmt.Sprintf("%s: ignored a frame: %v", filepath.Base(p), lastErr))
			}
		}
	}
	if done == nil {
		best := 0.0
		for _, d := range decs {
			if d.Progress() > best {
				best = d.Progress()
			}
		}
		return nil, warnings, fmt.Errorf("%w: %.0f%% of the %s received from %d image(s); scan more frames", ErrIncomplete, 100*best, urType, len(paths))
	}
	if others := len(decs) - 1; others > 0 {
		warnings = append(warnings, fmt.Sprintf("ignored frames of %d other transfer(s)", others))
	}
	data, err = done.Result()
	return data, warnings, err
}
