package qr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kesrotate/kesrotate/transfer/ur"
)

// urFrames returns the uppercase UR parts of a random message of size bytes
// cut into fragments of at most frag bytes: twice the fragment count.
func urFrames(t testing.TB, size, frag int) []string {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(size), uint64(frag)))
	msg := make([]byte, size)
	for i := range msg {
		msg[i] = byte(rng.IntN(256))
	}
	enc, err := ur.Encode("kesrotate-bundle", msg, frag)
	if err != nil {
		t.Fatal(err)
	}
	n := 2 * enc.SeqLen()
	out := make([]string, n)
	for i := range out {
		out[i] = ur.ToUpper(enc.NextPart())
	}
	return out
}

func binaryPayloads() map[string]string {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	rnd := make([]byte, 400)
	for i := range rnd {
		rnd[i] = byte(rng.IntN(256))
	}
	return map[string]string{
		"all bytes": string(all),
		"random":    string(rnd),
		"high":      "\xff\xfe\x80\x00\xc3\xa9\xe2\x82",
		"utf8 text": "kesrotate – ключ ✓",
	}
}

func decodePNG(t testing.TB, b []byte) string {
	t.Helper()
	got, err := DecodeImage(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestRoundTripUR(t *testing.T) {
	for _, tc := range []struct{ size, frag int }{{1800, 200}, {600, 200}, {150, 200}, {3000, 100}} {
		t.Run(fmt.Sprintf("%d-%d", tc.size, tc.frag), func(t *testing.T) {
			for i, f := range urFrames(t, tc.size, tc.frag) {
				png, err := EncodePNG(f, Options{})
				if err != nil {
					t.Fatal(err)
				}
				if got := decodePNG(t, png); got != f {
					t.Fatalf("frame %d: got %q, want %q", i+1, got, f)
				}
			}
		})
	}
}

func TestRoundTripBinary(t *testing.T) {
	for name, p := range binaryPayloads() {
		t.Run(name, func(t *testing.T) {
			for _, level := range []Level{LevelL, LevelM, LevelQ, LevelH} {
				png, err := EncodePNG(p, Options{Level: level, ModuleSize: 4})
				if err != nil {
					t.Fatal(err)
				}
				if got := decodePNG(t, png); got != p {
					t.Fatalf("level %d: got %x, want %x", level, got, p)
				}
			}
		})
	}
}

func TestRoundTripJPEG(t *testing.T) {
	for name, p := range map[string]string{"ur": urFrames(t, 1800, 200)[3], "binary": binaryPayloads()["random"]} {
		t.Run(name, func(t *testing.T) {
			img, err := EncodeImage(p, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 75}); err != nil {
				t.Fatal(err)
			}
			if got := decodePNG(t, buf.Bytes()); got != p {
				t.Fatalf("got %q, want %q", got, p)
			}
		})
	}
}

// alnumCapacityL is the alphanumeric capacity at level L of versions 1-20
// (ISO/IEC 18004 table 7).
var alnumCapacityL = []int{25, 47, 77, 114, 154, 195, 224, 279, 335, 395, 468, 535, 619, 667, 758, 854, 938, 1046, 1153, 1249}

// TestAlphanumericMode checks that uppercase URs get the smallest version
// that alphanumeric mode allows, and that lowercase would cost more.
func TestAlphanumericMode(t *testing.T) {
	for _, f := range []string{urFrames(t, 1800, 200)[0], urFrames(t, 1800, 200)[12], urFrames(t, 600, 200)[1], urFrames(t, 150, 200)[0]} {
		want := 0
		for v, c := range alnumCapacityL {
			if c >= len(f) {
				want = v + 1
				break
			}
		}
		got, err := Version(f, LevelL)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%d characters: got version %d, want %d", len(f), got, want)
		}
		lower, _ := Version(strings.ToLower(f), LevelL)
		if lower <= got {
			t.Errorf("%d characters: lowercase version %d, want more than %d", len(f), lower, got)
		}
	}
}

func TestEncodeErrors(t *testing.T) {
	long := strings.Repeat("\xff", 3000)
	for _, tc := range []struct {
		name    string
		content string
		opts    Options
		want    error
	}{
		{"too long", long, Options{}, ErrTooLong},
		{"forced version too small", strings.Repeat("A", 100), Options{Version: 1}, ErrTooLong},
		{"level", "A", Options{Level: 7}, ErrOptions},
		{"version", "A", Options{Version: 41}, ErrOptions},
		{"module size", "A", Options{ModuleSize: -1}, ErrOptions},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := EncodePNG(tc.content, tc.opts); !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestForcedVersion(t *testing.T) {
	f := urFrames(t, 150, 200)[0]
	img, err := EncodeImage(f, Options{Version: 20, ModuleSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := img.Bounds().Dx(), (17+4*20+2*QuietZone)*3; got != want {
		t.Errorf("width: got %d, want %d", got, want)
	}
	var buf bytes.Buffer
	png.Encode(&buf, img)
	if got := decodePNG(t, buf.Bytes()); got != f {
		t.Errorf("got %q, want %q", got, f)
	}
}

func TestDecodeErrors(t *testing.T) {
	blank := image.NewGray(image.Rect(0, 0, 200, 200))
	for i := range blank.Pix {
		blank.Pix[i] = 0xff
	}
	var buf bytes.Buffer
	png.Encode(&buf, blank)
	if _, err := DecodeImage(bytes.NewReader(buf.Bytes())); !errors.Is(err, ErrNotFound) {
		t.Errorf("blank: got %v, want ErrNotFound", err)
	}
	if _, err := DecodeAll(bytes.NewReader(buf.Bytes())); !errors.Is(err, ErrNotFound) {
		t.Errorf("blank DecodeAll: got %v, want ErrNotFound", err)
	}
	if _, err := DecodeImage(strings.NewReader("not an image")); !errors.Is(err, ErrImage) {
		t.Errorf("garbage: got %v, want ErrImage", err)
	}
}

func TestContactSheet(t *testing.T) {
	frames := urFrames(t, 600, 200)[:5]
	var pngs [][]byte
	for _, f := range frames {
		b, err := EncodePNG(f, Options{ModuleSize: 4})
		if err != nil {
			t.Fatal(err)
		}
		pngs = append(pngs, b)
	}
	sheet, err := ContactSheet(pngs, 3)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(sheet))
	if err != nil {
		t.Fatal(err)
	}
	cell, _ := png.Decode(bytes.NewReader(pngs[0]))
	cw := cell.Bounds().Dx()
	if got, want := img.Bounds().Dx(), 3*cw+2*2; got != want {
		t.Errorf("width: got %d, want %d", got, want)
	}
	if got, want := img.Bounds().Dy(), 2*cw+2; got != want {
		t.Errorf("height: got %d, want %d", got, want)
	}
	// Each cell, cut out, reads as its frame, in order.
	for i, f := range frames {
		x0, y0 := (i%3)*(cw+2), (i/3)*(cw+2)
		sub := img.(interface {
			SubImage(image.Rectangle) image.Image
		}).SubImage(image.Rect(x0, y0, x0+cw, y0+cw))
		var buf bytes.Buffer
		png.Encode(&buf, sub)
		if got := decodePNG(t, buf.Bytes()); got != f {
			t.Errorf("cell %d: got %q, want %q", i, got, f)
		}
	}
	if _, err := ContactSheet(nil, 3); !errors.Is(err, ErrNoFrames) {
		t.Errorf("no frames: got %v, want ErrNoFrames", err)
	}
	if _, err := ContactSheet(pngs, 0); !errors.Is(err, ErrOptions) {
		t.Errorf("0 columns: got %v, want ErrOptions", err)
	}
	if _, err := ContactSheet([][]byte{[]byte("x")}, 1); !errors.Is(err, ErrImage) {
		t.Errorf("bad frame: got %v, want ErrImage", err)
	}
}

// rasterize turns half-block text back into an image, 4 pixels a module.
func rasterize(t *testing.T, text string, darkOnLight bool) []byte {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	w := len([]rune(lines[0]))
	const ms = 4
	img := image.NewGray(image.Rect(0, 0, (w+8)*ms, (2*len(lines)+8)*ms))
	if darkOnLight { // around the rendering: the terminal's background
		for i := range img.Pix {
			img.Pix[i] = 0xff
		}
	}
	set := func(x, y int, ink bool) {
		c := color.Gray{Y: 0xff}
		if ink == darkOnLight {
			c = color.Gray{}
		}
		for dy := 0; dy < ms; dy++ {
			for dx := 0; dx < ms; dx++ {
				img.SetGray((x+4)*ms+dx, (y+4)*ms+dy, c)
			}
		}
	}
	for row, line := range lines {
		runes := []rune(line)
		if len(runes) != w {
			t.Fatalf("line %d: %d cells, want %d", row, len(runes), w)
		}
		for x, r := range runes {
			var top, bottom bool
			switch r {
			case '█':
				top, bottom = true, true
			case '▀':
				top = true
			case '▄':
				bottom = true
			case ' ':
			default:
				t.Fatalf("unexpected rune %q", r)
			}
			set(x, 2*row, top)
			set(x, 2*row+1, bottom)
		}
	}
	var buf bytes.Buffer
	png.Encode(&buf, img)
	return buf.Bytes()
}

func TestRenderHalfBlocks(t *testing.T) {
	f := urFrames(t, 600, 200)[0]
	for _, darkOnLight := range []bool{false, true} {
		t.Run(fmt.Sprint("darkOnLight=", darkOnLight), func(t *testing.T) {
			var buf bytes.Buffer
			opts := TermOptions{DarkOnLight: darkOnLight}
			if err := RenderHalfBlocks(&buf, f, opts); err != nil {
				t.Fatal(err)
			}
			v, _ := Version(f, LevelL)
			cols, rows, err := HalfBlockSize(f, opts)
			if err != nil {
				t.Fatal(err)
			}
			n := 17 + 4*v + 2*DefaultTermQuietZone
			if cols != n || rows != (n+1)/2 {
				t.Errorf("size: got %dx%d, want %dx%d", cols, rows, n, (n+1)/2)
			}
			if got := strings.Count(buf.String(), "\n"); got != rows {
				t.Errorf("lines: got %d, want %d", got, rows)
			}
			if got := decodePNG(t, rasterize(t, buf.String(), darkOnLight)); got != f {
				t.Errorf("got %q, want %q", got, f)
			}
		})
	}
}

// cancelAfter cancels its context once it has seen every frame's status line.
type cancelAfter struct {
	buf    bytes.Buffer
	want   []string
	cancel context.CancelFunc
}

func (c *cancelAfter) Write(p []byte) (int, error) {
	c.buf.Write(p)
	for _, w := range c.want {
		if !strings.Contains(c.buf.String(), w) {
			return len(p), nil
		}
	}
	c.cancel()
	return len(p), nil
}

func TestAnimate(t *testing.T) {
	frames := urFrames(t, 600, 200)[:3]
	cols, rows, _ := HalfBlockSize(frames[0], TermOptions{})
	t.Run("too small", func(t *testing.T) {
		err := Animate(context.Background(), &bytes.Buffer{}, frames, 5, 80, 24, TermOptions{})
		if !errors.Is(err, ErrTerminalTooSmall) {
			t.Fatalf("got %v, want ErrTerminalTooSmall", err)
		}
		if want := fmt.Sprintf("need %dx%d", cols, rows+1); !strings.Contains(err.Error(), want) {
			t.Errorf("got %q, want it to contain %q", err, want)
		}
		if err := Animate(context.Background(), &bytes.Buffer{}, frames, 5, cols, rows, TermOptions{}); !errors.Is(err, ErrTerminalTooSmall) {
			t.Errorf("no room for the status line: got %v, want ErrTerminalTooSmall", err)
		}
	})
	t.Run("cycles", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		w := &cancelAfter{want: []string{"frame 1/3", "frame 2/3", "frame 3/3"}, cancel: cancel}
		// Frame 1 again after frame 3 proves it cycles.
		w.want = append(w.want, "frame 3/3\x1b[K\x1b[H")
		if err := Animate(ctx, w, frames, 100, cols, rows+1, TermOptions{}); err != nil {
			t.Fatal(err)
		}
		out := w.buf.String()
		if !strings.HasPrefix(out, escHideCursor+escClear+escHome) || !strings.HasSuffix(out, escShowCursor) {
			t.Errorf("escape codes: got %q…%q", out[:12], out[len(out)-8:])
		}
		var first bytes.Buffer
		RenderHalfBlocks(&first, frames[0], TermOptions{})
		if !strings.Contains(out, escHome+first.String()+"frame 1/3") {
			t.Error("frame 1 not drawn as RenderHalfBlocks draws it")
		}
	})
	for name, tc := range map[string]struct {
		frames []string
		fps    float64
		want   error
	}{
		"no frames": {nil, 5, ErrNoFrames},
		"zero fps":  {frames, 0, ErrOptions},
		"nan fps":   {frames, math.NaN(), ErrOptions},
		"too long":  {[]string{strings.Repeat("\xff", 3000)}, 5, ErrTooLong},
	} {
		t.Run(name, func(t *testing.T) {
			if err := Animate(context.Background(), &bytes.Buffer{}, tc.frames, tc.fps, 500, 500, TermOptions{}); !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// tool finds an external program, failing in CI and skipping elsewhere.
func tool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found (Debian package %s): %v", name, pkg, err)
		}
		t.Skipf("%s not found; install Debian package %s", name, pkg)
	}
	return p
}

// TestZbarimg checks that an independent decoder reads every frame we write.
func TestZbarimg(t *testing.T) {
	zbar := tool(t, "zbarimg", "zbar-tools")
	dir := t.TempDir()
	check := func(t *testing.T, content string, binary bool) {
		b, err := EncodePNG(content, Options{})
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(dir, "frame.png")
		if err := os.WriteFile(file, b, 0o644); err != nil {
			t.Fatal(err)
		}
		args := []string{"--raw", "-q"}
		if binary {
			args = append(args, "-Sbinary")
		}
		out, err := exec.Command(zbar, append(args, file)...).Output()
		if err != nil {
			t.Fatalf("zbarimg: %v", err)
		}
		got := string(out)
		if !binary {
			got = strings.TrimSuffix(got, "\n")
		}
		if got != content {
			t.Fatalf("zbarimg read %q, want %q", got, content)
		}
	}
	t.Run("ur", func(t *testing.T) {
		for _, f := range urFrames(t, 1800, 200) {
			check(t, f, false)
		}
	})
	for name, p := range binaryPayloads() {
		t.Run(name, func(t *testing.T) { check(t, p, true) })
	}
}

// TestQrencode checks that we read what an independent encoder writes.
func TestQrencode(t *testing.T) {
	qrencode := tool(t, "qrencode", "qrencode")
	dir := t.TempDir()
	for i, f := range urFrames(t, 1800, 200)[:4] {
		file := filepath.Join(dir, fmt.Sprintf("%d.png", i))
		cmd := exec.Command(qrencode, "-l", "L", "-s", "6", "-o", file)
		cmd.Stdin = strings.NewReader(f)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("qrencode: %v: %s", err, out)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if got := decodePNG(t, b); got != f {
			t.Errorf("frame %d: got %q, want %q", i, got, f)
		}
	}
}

func BenchmarkEncodePNG(b *testing.B) {
	f := urFrames(b, 1800, 200)[0]
	for b.Loop() {
		if _, err := EncodePNG(f, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeImage(b *testing.B) {
	f := urFrames(b, 1800, 200)[0]
	png, err := EncodePNG(f, Options{})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := DecodeImage(bytes.NewReader(png)); err != nil {
			b.Fatal(err)
		}
	}
}
