package transfer

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kesrotate/kesrotate/transfer/ur"
)

// normalBundle is a rotation bundle as Encrypt writes it.
func normalBundle(t testing.TB) []byte {
	t.Helper()
	f := newFixture(t)
	b := &Bundle{Magic: 1, PoolID: f.cold.Public().PoolID(), Cold: f.cold.Public(), Cert: f.cert, KES: f.kes,
		Producer: testFingerprint, Checkpoint: testCheckpoint(t), Created: t0}
	var buf bytes.Buffer
	if err := b.Encrypt(&buf, f.identity.Recipient()); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestDefaultFramesSurviveAnyTwoLost writes the default frames of a
// normal bundle as images and scans every set with two of them left out.
func TestDefaultFramesSurviveAnyTwoLost(t *testing.T) {
	data := normalBundle(t)
	dir := t.TempDir()
	files, err := WriteQR(dir, URBundle, data, DefaultFragmentLen)
	if err != nil {
		t.Fatal(err)
	}
	frames := files[:len(files)-1] // the last is the contact sheet
	enc, _ := ur.Encode(URBundle, data, DefaultFragmentLen)
	if n := enc.SeqLen(); n > 3 {
		t.Errorf("a normal bundle takes %d fragments, want at most 3", n)
	}
	tried := 0
	for i := range frames {
		for j := i + 1; j < len(frames); j++ {
			var rest []string
			for k, f := range frames {
				if k != i && k != j {
					rest = append(rest, f)
				}
			}
			got, _, err := Scan(rest, URBundle)
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("frames %d and %d lost: %v", i+1, j+1, err)
			}
			tried++
		}
	}
	if tried < 15 {
		t.Errorf("tried %d losses of %d frames, want every pair of at least 6 frames", tried, len(frames))
	}
	// Larger files too (a first install, a bundle as version 1 wrote it,
	// 1,318 bytes), checked on the frame texts.
	for _, size := range []int{620, 1318, 4000} {
		msg := fakeAge(bytes.Repeat([]byte{0x5a}, size-len(ageV1Header)))
		set, err := Frames(URBundle, msg, DefaultFragmentLen)
		if err != nil {
			t.Fatal(err)
		}
		if !survivesLoss(set, FrameLoss) {
			t.Errorf("%d bytes: a loss of %d of its %d frames does not decode", size, FrameLoss, len(set))
		}
	}
}

// TestUnreadableImagesAreSkipped scans the frames with a blank image, a
// truncated PNG and a text file among them.
func TestUnreadableImagesAreSkipped(t *testing.T) {
	data := normalBundle(t)
	dir := t.TempDir()
	files, err := WriteQR(dir, URBundle, data, DefaultFragmentLen)
	if err != nil {
		t.Fatal(err)
	}
	frames := files[:len(files)-1]
	blank := filepath.Join(dir, "blank.png")
	png1, _ := os.ReadFile(frames[0])
	for name, b := range map[string][]byte{"blank.png": blankPNG(t), "cut.png": png1[:len(png1)/2], "notes.txt": []byte("hello")} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	in := []string{filepath.Join(dir, "cut.png"), blank}
	in = append(in, frames[2:]...) // two frames lost as well
	in = append(in, filepath.Join(dir, "notes.txt"))
	got, warnings, err := Scan(in, URBundle)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("got %v", err)
	}
	for _, name := range []string{"cut.png", "blank.png", "notes.txt"} {
		if !strings.Contains(strings.Join(warnings, "\n"), name+": skipped") {
			t.Errorf("no warning names %s: %q", name, warnings)
		}
	}
}

// TestIncompleteScanNamesWhatIsMissing leaves out too many frames.
func TestIncompleteScanNamesWhatIsMissing(t *testing.T) {
	data := normalBundle(t)
	dir := t.TempDir()
	files, err := WriteQR(dir, URBundle, data, DefaultFragmentLen)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = Scan(files[:1], URBundle)
	if !errors.Is(err, ErrIncomplete) {
		t.Fatalf("got %v, want ErrIncomplete", err)
	}
	if want := "fragments 2, 3 of 3 missing (read frame 1); scan frames 2, 3, or more of the frames numbered above 3 (each mixes several fragments)"; !strings.Contains(err.Error(), want) {
		t.Errorf("got %q, want it to say %q", err, want)
	}
}

// TestMoreFrames: further frames are new and rebuild the file with what
// was scanned before.
func TestMoreFrames(t *testing.T) {
	data := normalBundle(t)
	set, err := Frames(URBundle, data, DefaultFragmentLen)
	if err != nil {
		t.Fatal(err)
	}
	more, err := MoreFrames(URBundle, data, DefaultFragmentLen, 5)
	if err != nil || len(more) != 5 {
		t.Fatalf("got %d frames, %v", len(more), err)
	}
	for _, m := range more {
		for _, f := range set {
			if m == f {
				t.Fatal("MoreFrames repeated a frame of the default set")
			}
		}
	}
	// Frame 1 scanned, the rest of the default set lost: further frames
	// complete it. Which ones mix which fragments depends on the bundle
	// (fountain codes), so the operator asks for more until it is whole;
	// here, a handful at a time, at most 30 in all.
	c := newCollector(URBundle)
	c.add(set[0], "first")
	var got []byte
	for n := 5; n <= 30 && got == nil; n += 5 {
		more, err := MoreFrames(URBundle, data, DefaultFragmentLen, n)
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range more {
			c.add(m, fmt.Sprint("more ", i))
		}
		got, _, err = c.result("test")
		if err != nil && !errors.Is(err, ErrIncomplete) {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got, data) {
		t.Error("30 further frames did not complete the bundle")
	}
	if _, err := MoreFrames(UREnrollment, []byte("x"), SingleFragmentLen, 2); err == nil {
		t.Error("more frames of a one-frame file: got nil, want an error")
	}
}

func blankPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 200, 200))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// A bundle's frames carry only an age file: a plaintext key file (or any
// other file) given as a bundle never goes into a QR code.
func TestBundleFramesAreEncryptedOnly(t *testing.T) {
	for _, data := range [][]byte{
		[]byte(`{"type": "StakePoolSigningKey_ed25519", "description": "", "cborHex": "5820..."}`),
		[]byte("age-encryption.org/v2\n"), // not the format age writes
		nil,
	} {
		if _, err := Frames(URBundle, data, DefaultFragmentLen); !errors.Is(err, ErrNotEncrypted) {
			t.Errorf("Frames(%.20q) = %v, want ErrNotEncrypted", data, err)
		}
		if _, err := MoreFrames(URBundle, data, DefaultFragmentLen, 3); !errors.Is(err, ErrNotEncrypted) {
			t.Errorf("MoreFrames(%.20q) = %v, want ErrNotEncrypted", data, err)
		}
	}
	if _, err := Frames(URSnapshot, []byte("not age, and not a bundle"), DefaultFragmentLen); err != nil {
		t.Errorf("a snapshot's frames: %v", err)
	}
}

// TestWriteQRFiles: the files WriteQR and WriteFrames write split into
// the frame images and the contact sheet, and the set begins with one
// frame per fragment.
func TestWriteQRFiles(t *testing.T) {
	data := normalBundle(t)
	set, err := Frames(URBundle, data, DefaultFragmentLen)
	if err != nil {
		t.Fatal(err)
	}
	n, err := Fragments(URBundle, data, DefaultFragmentLen)
	if err != nil || n < 2 || n >= len(set) {
		t.Fatalf("got %d fragments (%v) for a set of %d frames", n, err, len(set))
	}
	dir := t.TempDir()
	files, err := WriteQR(dir, URBundle, data, DefaultFragmentLen)
	if err != nil {
		t.Fatal(err)
	}
	frames, sheet := SplitQRFiles(files)
	if len(frames) != len(set) || sheet != filepath.Join(dir, "frames.png") {
		t.Errorf("got %d frames and sheet %q, want %d and frames.png", len(frames), sheet, len(set))
	}
	more, err := MoreFrames(URBundle, data, DefaultFragmentLen, 3)
	if err != nil {
		t.Fatal(err)
	}
	files, err = WriteFrames(filepath.Join(dir, "more"), more, len(set)+1)
	if err != nil {
		t.Fatal(err)
	}
	frames, sheet = SplitQRFiles(files)
	if len(frames) != 3 || filepath.Base(sheet) != fmt.Sprintf("frames-%03d.png", len(set)+1) {
		t.Errorf("further frames: got %q and sheet %q", frames, sheet)
	}
	one, err := Fragments(URSnapshot, []byte("short"), DefaultFragmentLen)
	if err != nil || one != 1 {
		t.Errorf("a short file: got %d fragments, %v; want 1", one, err)
	}
	if frames, sheet := SplitQRFiles([]string{filepath.Join(dir, "frame-001.png")}); len(frames) != 1 || sheet != "" {
		t.Errorf("one frame: got %q and sheet %q", frames, sheet)
	}
}
