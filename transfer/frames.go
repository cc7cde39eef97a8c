package transfer

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

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

// DefaultFragmentLen is the fragment size of a bundle frame, chosen by
// measurement (qr's BenchmarkFragmentLength, docs/performance.md): the
// longest fragment whose frames (QR version 11) are still read from a
// photo of a screen that the frame fills a fifth of, which keeps a
// rotation bundle at 3 fragments and 9 frames; 300 bytes (version 13,
// 5 frames) needs the camera closer, 150 (12 frames) reaches a little
// farther.
const DefaultFragmentLen = 200

// SingleFragmentLen is used for snapshots and enrollments, which must fit
// one QR code.
const SingleFragmentLen = 1024

// ageV1Header starts every age file (its binary format,
// age-encryption.org/v1).
const ageV1Header = "age-encryption.org/v1\n"

// CheckpointQRFile is the ceremony checkpoint's QR code that a rotation
// writes beside a bundle's frames in the same folder.
const CheckpointQRFile = "checkpoint.png"

// FrameLoss is how many frames of a default frame set may be lost (not
// shown, not scanned, unreadable) in any combination, with the rest still
// rebuilding the file: Frames adds fountain frames until that holds.
const FrameLoss = 2

// maxExtraFrames bounds the fountain frames Frames adds for FrameLoss.
const maxExtraFrames = 32

// Frames returns the uppercase UR parts that carry data: every plain
// fragment once (frames 1..n carry fragments 1..n), then fountain parts,
// at least as many as fragments and at least three, and more until any
// FrameLoss of the frames may be lost and the others still rebuild the
// file. MoreFrames continues the same sequence. A bundle's frames carry
// only an age-encrypted file (ErrNotEncrypted otherwise): plaintext keys
// never go on screen or into QR codes.
func Frames(urType string, data []byte, fragmentLen int) ([]string, error) {
	if urType == URBundle && !bytes.HasPrefix(data, []byte(ageV1Header)) {
		return nil, ErrNotEncrypted
	}
	enc, err := ur.Encode(urType, data, fragmentLen)
	if err != nil {
		return nil, err
	}
	if enc.IsSinglePart() {
		return []string{ur.ToUpper(enc.NextPart())}, nil
	}
	n := enc.SeqLen()
	out := make([]string, 0, 2*n+3)
	for i := 0; i < n+max(n, 3); i++ {
		out = append(out, ur.ToUpper(enc.NextPart()))
	}
	for !survivesLoss(out, FrameLoss) && len(out) < n+maxExtraFrames {
		out = append(out, ur.ToUpper(enc.NextPart()))
	}
	return out, nil
}

// Fragments is how many fragments Frames cuts data into: the plain
// frames of its set (1 when the data fits one frame).
func Fragments(urType string, data []byte, fragmentLen int) (int, error) {
	enc, err := ur.Encode(urType, data, fragmentLen)
	if err != nil {
		return 0, err
	}
	return enc.SeqLen(), nil
}

// MoreFrames returns count further fountain frames of data: the ones that
// follow the frame set Frames returns for the same arguments (each new,
// each as useful as any other fountain frame).
func MoreFrames(urType string, data []byte, fragmentLen, count int) ([]string, error) {
	set, err := Frames(urType, data, fragmentLen)
	if err != nil {
		return nil, err
	}
	if len(set) == 1 {
		return nil, fmt.Errorf("%d bytes fit one frame: there are no further frames", len(data))
	}
	enc, err := ur.Encode(urType, data, fragmentLen)
	if err != nil {
		return nil, err
	}
	for range set {
		enc.NextPart()
	}
	out := make([]string, 0, count)
	for range count {
		out = append(out, ur.ToUpper(enc.NextPart()))
	}
	return out, nil
}

// survivesLoss reports whether frames rebuild their message with any
// `loss` of them left out.
func survivesLoss(frames []string, loss int) bool {
	idx := make([]int, loss)
	var try func(k, from int) bool
	try = func(k, from int) bool {
		if k == loss {
			d := ur.NewDecoder()
			for i, f := range frames {
				if !slices.Contains(idx, i) {
					_ = d.Receive(f)
				}
			}
			_, err := d.Result()
			return err == nil
		}
		for i := from; i < len(frames); i++ {
			idx[k] = i
			if !try(k+1, i+1) {
				return false
			}
		}
		return true
	}
	return try(0, 0)
}

// CheckQRDir reports whether WriteQR could write into dir: it exists or
// can be created, takes files, and holds no frames already.
func CheckQRDir(dir string) error {
	if err := safefile.PrepareDir(dir, 0o755); err != nil {
		return err
	}
	for _, pat := range []string{"frame-*.png", "frames.png", CheckpointQRFile} {
		if m, _ := filepath.Glob(filepath.Join(dir, pat)); len(m) > 0 {
			return fmt.Errorf("%s already holds QR frames (%s)", dir, filepath.Base(m[0]))
		}
	}
	return nil
}

// WriteQR writes one PNG per frame (frame-001.png …) and a contact sheet
// (frames.png) into dir, which must not hold frames already. It returns the
// files written.
func WriteQR(dir, urType string, data []byte, fragmentLen int) ([]string, error) {
	frames, err := Frames(urType, data, fragmentLen)
	if err != nil {
		return nil, err
	}
	return WriteFrames(dir, frames, 1)
}

// WriteFrames writes frames as PNG files frame-NNN.png into dir, numbered
// from first, and, for more than one frame, a contact sheet (frames.png,
// or frames-NNN.png when first is not 1). Each file is synced; the folder
// once, at the end. It returns the files written.
func WriteFrames(dir string, frames []string, first int) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var files []string
	var imgs []image.Image
	for i, f := range frames {
		img, err := qr.EncodeImage(f, qr.Options{})
		if err != nil {
			return files, err
		}
		png, err := qr.PNG(img)
		if err != nil {
			return files, err
		}
		p := filepath.Join(dir, fmt.Sprintf("frame-%03d.png", first+i))
		if err := safefile.CreateNoDirSync(p, png, 0o644); err != nil {
			return files, err
		}
		files = append(files, p)
		imgs = append(imgs, img)
	}
	if len(imgs) > 1 {
		sheet, err := qr.ContactSheetImages(imgs, 4)
		if err != nil {
			return files, err
		}
		name := "frames.png"
		if first != 1 {
			name = fmt.Sprintf("frames-%03d.png", first)
		}
		p := filepath.Join(dir, name)
		if err := safefile.CreateNoDirSync(p, sheet, 0o644); err != nil {
			return files, err
		}
		files = append(files, p)
	}
	return files, safefile.SyncDir(dir)
}

// SplitQRFiles tells apart the files WriteFrames (or WriteQR) wrote: the
// frame images, in order, and the contact sheet ("" when there is none).
func SplitQRFiles(files []string) (frames []string, sheet string) {
	for _, f := range files {
		if strings.HasPrefix(filepath.Base(f), "frame-") {
			frames = append(frames, f)
		} else {
			sheet = f
		}
	}
	return frames, sheet
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

// ErrAmbiguous: the frames hold more than one complete transfer of the
// type asked for, equally supported: the scan does not choose.
var ErrAmbiguous = errors.New("the QR codes hold more than one transfer")

// multipart says which form each UR type of ours takes: a bundle is always
// several frames, a snapshot and an enrollment one. A frame of the other
// form cannot be genuine.
var multipart = map[string]bool{URBundle: true, URSnapshot: false, UREnrollment: false}

// maxScanFrames bounds the distinct QR texts one scan keeps, and
// maxRetryFrames the transfers a scan tries to repair by leaving frames
// out (which costs a decode per frame).
const (
	maxScanFrames  = 4096
	maxRetryFrames = 256
)

// scanned is one QR text and where it was read.
type scanned struct{ text, source string }

// transferGroup is the frames that claim to belong to one transfer: one
// single-part text, or multipart parts sharing a header (sequence length,
// message length, checksum, fragment length).
type transferGroup struct {
	info    ur.PartInfo
	frames  []scanned
	dec     *ur.Decoder // every frame, in the order read
	data    []byte      // the file, once rebuilt and checksum-valid
	skipped []scanned   // frames left out of data: they do not fit it
	tried   int         // frames the last repair attempt had
}

func (g *transferGroup) holds(info ur.PartInfo) bool {
	if info.Single || g.info.Single {
		return false // each distinct single-part text is its own transfer
	}
	return info.Type == g.info.Type && info.SeqLen == g.info.SeqLen && info.MessageLen == g.info.MessageLen &&
		info.Checksum == g.info.Checksum && info.FragmentLen == g.info.FragmentLen
}

// collector sorts QR texts into transfers. Frames of several transfers may
// be mixed (an old printout, another pool's bundle, a frame someone slipped
// in): each claimed transfer is rebuilt on its own, a frame that breaks a
// transfer's checksum is left out (the others still rebuild it), and the
// transfer most frames support wins.
type collector struct {
	urType   string
	seen     map[string]bool
	groups   []*transferGroup
	done     *transferGroup // the first transfer rebuilt (streams stop there)
	warnings []string
	full     bool
}

func newCollector(urType string) *collector {
	return &collector{urType: urType, seen: map[string]bool{}}
}

// add takes one QR text read from source; it reports whether a file is
// complete.
func (c *collector) add(text, source string) bool {
	key := strings.ToLower(text)
	if c.seen[key] {
		return c.done != nil
	}
	if len(c.seen) >= maxScanFrames {
		if !c.full {
			c.full = true
			c.warnings = append(c.warnings, fmt.Sprintf("%s: more than %d different QR codes; the rest were ignored", source, maxScanFrames))
		}
		return c.done != nil
	}
	c.seen[key] = true
	info, err := ur.Inspect(text)
	if err != nil {
		c.warnings = append(c.warnings, fmt.Sprintf("%s: ignored a frame: %v", source, err))
		return c.done != nil
	}
	if info.Type != c.urType {
		c.warnings = append(c.warnings, fmt.Sprintf("%s: ignored a frame: %v: type %q, want %q", source, ur.ErrForeignPart, info.Type, c.urType))
		return c.done != nil
	}
	if multi, ok := multipart[c.urType]; ok && (multi == info.Single || (multi && info.SeqLen < 2)) {
		form := "one frame"
		if multi {
			form = "several frames"
		}
		c.warnings = append(c.warnings, fmt.Sprintf("%s: ignored a frame: a %s comes as %s, not like this", source, c.urType, form))
		return c.done != nil
	}
	var g *transferGroup
	for _, x := range c.groups {
		if x.holds(info) {
			g = x
		}
	}
	if g == nil {
		g = &transferGroup{info: info, dec: ur.NewDecoder()}
		g.dec.ExpectedType = c.urType
		c.groups = append(c.groups, g)
	}
	g.frames = append(g.frames, scanned{text, source})
	if err := g.dec.Receive(text); err != nil {
		// Too large a message or sequence: nothing of this transfer is kept.
		c.warnings = append(c.warnings, fmt.Sprintf("%s: ignored a frame: %v", source, err))
		g.frames = g.frames[:len(g.frames)-1]
		return c.done != nil
	}
	if g.data == nil {
		g.settle()
		if g.data != nil && c.done == nil {
			c.done = g
		}
	}
	return c.done != nil
}

// settle rebuilds g's file once its frames suffice. When every frame
// together fails the checksum, it tries without the frames that disagree
// about one sequence number, then without each frame in turn.
func (g *transferGroup) settle() {
	if !g.dec.Complete() {
		return
	}
	if data, err := g.dec.Result(); err == nil {
		g.accept(g.dec, data, nil)
		return
	}
	if len(g.frames) > maxRetryFrames || len(g.frames) == g.tried {
		return
	}
	g.tried = len(g.frames)
	var attempts [][]int
	bySeq := map[uint32][]int{}
	for i, f := range g.frames {
		if info, err := ur.Inspect(f.text); err == nil {
			bySeq[info.SeqNum] = append(bySeq[info.SeqNum], i)
		}
	}
	var conflicting []int
	for _, idx := range bySeq {
		if len(idx) > 1 {
			conflicting = append(conflicting, idx...)
		}
	}
	if len(conflicting) > 0 {
		attempts = append(attempts, conflicting)
	}
	for i := range g.frames {
		attempts = append(attempts, []int{i})
	}
	for _, leave := range attempts {
		out := map[int]bool{}
		for _, i := range leave {
			out[i] = true
		}
		d := ur.NewDecoder()
		d.ExpectedType = g.dec.ExpectedType
		for i, f := range g.frames {
			if !out[i] {
				_ = d.Receive(f.text)
			}
		}
		if !d.Complete() {
			continue
		}
		if data, err := d.Result(); err == nil {
			g.accept(d, data, out)
			return
		}
	}
}

// accept records the rebuilt file and which frames do not fit it.
func (g *transferGroup) accept(d *ur.Decoder, data []byte, left map[int]bool) {
	g.data = data
	for i, f := range g.frames {
		if left[i] || !d.Fits(f.text) {
			g.skipped = append(g.skipped, f)
		}
	}
}

// support is how many frames a rebuilt transfer stands on.
func (g *transferGroup) support() int { return len(g.frames) - len(g.skipped) }

// result returns the file the most frames support, or ErrIncomplete with
// the progress, or ErrAmbiguous when two transfers are equally supported.
func (c *collector) result(from string) ([]byte, []string, error) {
	var best []*transferGroup
	for _, g := range c.groups {
		if g.data == nil {
			continue
		}
		switch {
		case len(best) == 0 || g.support() > best[0].support():
			best = []*transferGroup{g}
		case g.support() == best[0].support():
			best = append(best, g)
		}
	}
	if len(best) == 0 {
		var most *transferGroup
		broken := false
		for _, g := range c.groups {
			if most == nil || g.dec.Progress() > most.dec.Progress() {
				most = g
			}
			broken = broken || g.dec.Complete()
		}
		if broken {
			return nil, c.warnings, fmt.Errorf("%w: the frames of the %s from %s do not rebuild it (a damaged or foreign frame among them); scan more frames", ErrIncomplete, c.urType, from)
		}
		if most == nil {
			return nil, c.warnings, fmt.Errorf("%w: no frame of a %s in %s; scan the %s's frames", ErrIncomplete, c.urType, from, c.urType)
		}
		return nil, c.warnings, fmt.Errorf("%w: %.0f%% of the %s received from %s: %s", ErrIncomplete, 100*most.dec.Progress(), c.urType, from, missingText(most.dec))
	}
	if len(best) > 1 {
		var where []string
		for _, g := range best {
			where = append(where, g.frames[0].source)
		}
		return nil, c.warnings, fmt.Errorf("%w: %d different %s transfers (in %s); scan the frames of one", ErrAmbiguous, len(best), c.urType, strings.Join(where, ", "))
	}
	g := best[0]
	for _, f := range g.skipped {
		c.warnings = append(c.warnings, fmt.Sprintf("%s: skipped a frame that does not fit the %s the other frames make up", f.source, c.urType))
	}
	if others := len(c.groups) - 1; others > 0 {
		c.warnings = append(c.warnings, fmt.Sprintf("ignored frames of %d other transfer(s)", others))
	}
	return g.data, c.warnings, nil
}

// missingText says which fragments a transfer still lacks and which of
// its frames were read: frame i ≤ n carries fragment i alone, and any
// fountain frame (numbers above n) may stand in for a missing one.
func missingText(d *ur.Decoder) string {
	missing, read := d.Missing(), d.Received()
	return fmt.Sprintf("fragment%s %s of %d missing (read frame%s %s); scan frame%s %s, or more of the frames numbered above %d (each mixes several fragments)",
		plural(len(missing)), joinInts(missing), d.SeqLen(), plural(len(read)), joinInts(read),
		plural(len(missing)), joinInts(missing), d.SeqLen())
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ", ")
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
	return ScanProgress(paths, urType, nil)
}

// ScanProgress is Scan calling progress, if set, after each image with the
// number of images read so far and the total.
func ScanProgress(paths []string, urType string, progress func(done, total int)) (data []byte, warnings []string, err error) {
	c := newCollector(urType)
	unreadable := 0
	var firstErr error
	for i, p := range paths {
		if progress != nil && i > 0 {
			progress(i, len(paths))
		}
		b, err := safefile.ReadRegular(p, MaxImageFile)
		if err != nil {
			return nil, c.warnings, err
		}
		codes, err := qr.DecodeAll(bytes.NewReader(b))
		if err != nil {
			// One unreadable photo among many: the others may suffice.
			c.warnings = append(c.warnings, fmt.Sprintf("%s: skipped: %v", filepath.Base(p), err))
			unreadable++
			if firstErr == nil {
				firstErr = fmt.Errorf("%s: %w", p, err)
			}
			continue
		}
		for _, text := range codes {
			if c.add(text, filepath.Base(p)) {
				break
			}
		}
	}
	if unreadable == len(paths) && firstErr != nil {
		return nil, nil, firstErr // nothing was read: say why
	}
	from := fmt.Sprintf("%d image(s)", len(paths))
	if unreadable > 0 {
		from = fmt.Sprintf("%d image(s), %d of them unreadable", len(paths), unreadable)
	}
	return c.result(from)
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
