package transfer

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
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

// collector feeds QR texts to UR decoders. Frames of several transfers may
// be mixed (an old printout, another pool's bundle): each transfer gets its
// own decoder, the first to complete wins, and the others are reported.
type collector struct {
	urType   string
	decs     []*ur.Decoder
	seen     map[string]bool
	done     *ur.Decoder
	warnings []string
}

func newCollector(urType string) *collector {
	return &collector{urType: urType, seen: map[string]bool{}}
}

// add takes one QR text read from source; it reports whether a file is
// complete.
func (c *collector) add(text, source string) bool {
	if c.done != nil || c.seen[text] {
		return c.done != nil
	}
	c.seen[text] = true
	for _, d := range c.decs {
		err := d.Receive(text)
		if errors.Is(err, ur.ErrForeignPart) {
			continue
		}
		if err != nil {
			c.warnings = append(c.warnings, fmt.Sprintf("%s: ignored a frame: %v", source, err))
		} else if d.Complete() {
			c.done = d
		}
		return c.done != nil
	}
	d := ur.NewDecoder()
	d.ExpectedType = c.urType
	if err := d.Receive(text); err != nil {
		c.warnings = append(c.warnings, fmt.Sprintf("%s: ignored a frame: %v", source, err))
		return false
	}
	c.decs = append(c.decs, d)
	if d.Complete() {
		c.done = d
	}
	return c.done != nil
}

// result returns the completed file, or ErrIncomplete with the progress.
func (c *collector) result(from string) ([]byte, []string, error) {
	if c.done == nil {
		best := 0.0
		for _, d := range c.decs {
			if d.Progress() > best {
				best = d.Progress()
			}
		}
		return nil, c.warnings, fmt.Errorf("%w: %.0f%% of the %s received from %s; scan more frames", ErrIncomplete, 100*best, c.urType, from)
	}
	if others := len(c.decs) - 1; others > 0 {
		c.warnings = append(c.warnings, fmt.Sprintf("ignored frames of %d other transfer(s)", others))
	}
	data, err := c.done.Result()
	return data, c.warnings, err
}

// MaxImageFile bounds one image file Scan reads: a photo or a contact
// sheet of frames is far smaller.
const MaxImageFile = 32 << 20

// Scan reads QR codes from image files (PNG or JPEG; a contact sheet
// holds many), in any order, ignoring duplicates and reporting frames of
// another transfer as warnings. It returns the file's bytes. Only regular
// files of at most MaxImageFile bytes are read (safefile.ReadRegular): a
// FIFO or a device is refused, not waited on.
func Scan(paths []string, urType string) (data []byte, warnings []string, err error) {
	c := newCollector(urType)
	for _, p := range paths {
		b, err := safefile.ReadRegular(p, MaxImageFile)
		if err != nil {
			return nil, c.warnings, err
		}
		codes, err := qr.DecodeAll(bytes.NewReader(b))
		if err != nil {
			return nil, c.warnings, fmt.Errorf("%s: %w", p, err)
		}
		for _, text := range codes {
			if c.add(text, filepath.Base(p)) {
				break
			}
		}
	}
	return c.result(fmt.Sprintf("%d image(s)", len(paths)))
}

// MaxStreamFrame bounds one JPEG frame of an MJPEG stream.
const MaxStreamFrame = 8 << 20

// MaxStreamGap bounds the bytes ScanStream skips looking for the start of
// the next JPEG frame: a stream of anything else (/dev/zero) ends the scan.
const MaxStreamGap = 16 << 20

// ScanStream reads a stream of JPEG images — MJPEG as a webcam tool
// writes it, e.g. 'ffmpeg -f v4l2 -i /dev/video0 -f mjpeg -' — and stops as
// soon as the file is complete. Frames without a QR code are skipped.
func ScanStream(r io.Reader, urType string) (data []byte, warnings []string, err error) {
	c := newCollector(urType)
	br := bufio.NewReaderSize(r, 64<<10)
	n := 0
	for {
		frame, err := nextJPEG(br)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, c.warnings, err
		}
		n++
		codes, err := qr.DecodeAll(bytes.NewReader(frame))
		if err != nil {
			continue // a camera frame without a readable code
		}
		for _, text := range codes {
			if c.add(text, fmt.Sprintf("stream frame %d", n)) {
				return c.result("")
			}
		}
	}
	return c.result(fmt.Sprintf("%d stream frame(s)", n))
}

// nextJPEG returns the next JPEG image of the stream, from its SOI marker
// through its EOI marker. It walks the marker segments by their lengths, so
// bytes inside tables cannot end a frame early, then the entropy-coded data
// of the one scan a baseline (MJPEG) frame has, where 0xFF is always
// followed by 0x00 or a restart marker until the EOI.
func nextJPEG(br *bufio.Reader) ([]byte, error) {
	var prev byte
	for skipped := 0; ; skipped++ { // find SOI
		if skipped > MaxStreamGap {
			return nil, fmt.Errorf("%w: %d bytes of the stream without the start of a JPEG frame; send MJPEG", ErrFormat, MaxStreamGap)
		}
		b, err := br.ReadByte()
		if err != nil {
			return nil, io.EOF
		}
		if prev == 0xFF && b == 0xD8 {
			break
		}
		prev = b
	}
	f := &jpegFrame{br: br, data: []byte{0xFF, 0xD8}}
	for { // marker segments up to the start of scan
		code, err := f.marker()
		if err != nil {
			return nil, err
		}
		switch {
		case code == 0xD9:
			return f.data, nil // an image without a scan
		case code == 0x01 || (code >= 0xD0 && code <= 0xD7):
			continue // markers without a length
		}
		hdr, err := f.read(2)
		if err != nil {
			return nil, err
		}
		length := int(hdr[0])<<8 | int(hdr[1])
		if length < 2 {
			return nil, fmt.Errorf("%w: a JPEG segment with length %d", ErrFormat, length)
		}
		if _, err := f.read(length - 2); err != nil {
			return nil, err
		}
		if code == 0xDA {
			break
		}
	}
	for { // entropy-coded data until the EOI
		b, err := f.read(1)
		if err != nil {
			return nil, err
		}
		if b[0] != 0xFF {
			continue
		}
		next, err := f.read(1)
		if err != nil {
			return nil, err
		}
		for next[0] == 0xFF {
			if next, err = f.read(1); err != nil {
				return nil, err
			}
		}
		switch c := next[0]; {
		case c == 0x00 || (c >= 0xD0 && c <= 0xD7):
		case c == 0xD9:
			return f.data, nil
		default:
			return nil, fmt.Errorf("%w: a stream frame with more than one scan (progressive JPEG); send baseline MJPEG", ErrFormat)
		}
	}
}

type jpegFrame struct {
	br   *bufio.Reader
	data []byte
}

// read appends the next n bytes of the stream to the frame.
func (f *jpegFrame) read(n int) ([]byte, error) {
	if len(f.data)+n > MaxStreamFrame {
		return nil, fmt.Errorf("%w: a stream frame is larger than %d bytes", ErrFormat, MaxStreamFrame)
	}
	start := len(f.data)
	f.data = append(f.data, make([]byte, n)...)
	if _, err := io.ReadFull(f.br, f.data[start:]); err != nil {
		return nil, fmt.Errorf("%w: the stream ended inside a JPEG frame", ErrFormat)
	}
	return f.data[start:], nil
}

// marker reads a marker (0xFF, fill bytes, the code) and returns its code.
func (f *jpegFrame) marker() (byte, error) {
	b, err := f.read(1)
	if err != nil {
		return 0, err
	}
	if b[0] != 0xFF {
		return 0, fmt.Errorf("%w: a JPEG stream frame lost its marker sync", ErrFormat)
	}
	for {
		c, err := f.read(1)
		if err != nil {
			return 0, err
		}
		if c[0] != 0xFF {
			return c[0], nil
		}
	}
}
