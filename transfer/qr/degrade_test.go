package qr

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The degradation set: QR frames as a camera sees them. Each set takes the
// same frames (UR parts of a rotation bundle, QR version 11) through one
// kind of damage at three strengths; the screen set is a whole photo of a
// frame on a monitor, from near to far. The images are made here, from a
// fixed seed, so that every run (and zbarimg) reads the same pixels.

type degradation struct {
	set, level string
	make       func(frame *image.Gray, rng *rand.Rand) (data []byte, ext string)
}

func degradations() []degradation {
	var out []degradation
	add := func(set, level string, f func(*image.Gray, *rand.Rand) (image.Image, int)) {
		out = append(out, degradation{set, level, func(g *image.Gray, rng *rand.Rand) ([]byte, string) {
			img, q := f(g, rng)
			if q > 0 {
				return encodeJPEG(img, q), ".jpg"
			}
			return encodePNGImage(img), ".png"
		}})
	}
	for _, s := range []float64{1.5, 2.5, 3.5} {
		add("blur", fmt.Sprintf("sigma %.1f px", s), func(g *image.Gray, _ *rand.Rand) (image.Image, int) {
			return gaussBlur(scaleGray(g, 0.5), s), 0 // 4 px modules, then the blur
		})
	}
	for i, t := range []float64{0.15, 0.3, 0.45} {
		add("perspective", []string{"mild", "medium", "strong"}[i], func(g *image.Gray, _ *rand.Rand) (image.Image, int) {
			return tilt(scaleGray(g, 0.5), t), 0
		})
	}
	for _, s := range []float64{25, 50, 75} {
		add("noise", fmt.Sprintf("sigma %.0f", s), func(g *image.Gray, rng *rand.Rand) (image.Image, int) {
			return addNoise(scaleGray(g, 0.5), s, rng), 0
		})
	}
	for _, a := range []float64{7, 23, 45} {
		add("rotation", fmt.Sprintf("%.0f degrees", a), func(g *image.Gray, _ *rand.Rand) (image.Image, int) {
			return rotateGray(scaleGray(g, 0.5), a), 0
		})
	}
	for _, m := range []float64{3, 2, 1.6} {
		add("scaling", fmt.Sprintf("%.1f px a module", m), func(g *image.Gray, _ *rand.Rand) (image.Image, int) {
			return scaleGray(g, m/DefaultModuleSize), 0
		})
	}
	for _, q := range []int{25, 12, 6} {
		add("jpeg", fmt.Sprintf("quality %d", q), func(g *image.Gray, _ *rand.Rand) (image.Image, int) {
			return scaleGray(g, 0.5), q
		})
	}
	for i, w := range []float64{0.4, 0.25, 0.17} {
		add("screen photo", []string{"near", "mid", "far"}[i], func(g *image.Gray, rng *rand.Rand) (image.Image, int) {
			return screenPhoto(g, w, rng), 70
		})
	}
	return out
}

// degradeFrames are the frames the set is made of.
func degradeFrames(t testing.TB) []string {
	t.Helper()
	return urFrames(t, 541, 181)[:3]
}

type setScore struct {
	set          string
	ours, zbar   int
	total        int
	oursOnlyFail []string
}

// scoreDegradations writes every degraded frame into dir and reads it
// with DecodeAll and, if zbar is not "", with zbarimg.
func scoreDegradations(t testing.TB, dir, zbar string) []*setScore {
	t.Helper()
	frames := degradeFrames(t)
	var scores []*setScore
	byset := map[string]*setScore{}
	for di, d := range degradations() {
		s := byset[d.set]
		if s == nil {
			s = &setScore{set: d.set}
			byset[d.set] = s
			scores = append(scores, s)
		}
		for fi, f := range frames {
			img, err := EncodeImage(f, Options{})
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(uint64(di), uint64(fi)))
			data, ext := d.make(img, rng)
			path := filepath.Join(dir, fmt.Sprintf("%02d-%s-%d%s", di, strings.ReplaceAll(d.set, " ", "-"), fi, ext))
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			s.total++
			ok := false
			if got, err := DecodeAll(bytes.NewReader(data)); err == nil {
				for _, g := range got {
					ok = ok || g == f
				}
			}
			if ok {
				s.ours++
			}
			if zbar != "" {
				out, _ := exec.Command(zbar, "--raw", "-q", "-Sbinary", path).Output()
				if strings.TrimSuffix(string(out), "\n") == f {
					s.zbar++
					if !ok {
						s.oursOnlyFail = append(s.oursOnlyFail, d.level+" "+filepath.Base(path))
					}
				}
			}
		}
	}
	return scores
}

// TestDegradationsReadAtLeastWhatZbarReads: on every degradation set our
// decoder reads at least the frames zbar reads.
func TestDegradationsReadAtLeastWhatZbarReads(t *testing.T) {
	zbar := tool(t, "zbarimg", "zbar-tools")
	for _, s := range scoreDegradations(t, t.TempDir(), zbar) {
		t.Logf("%-13s ours %2d/%d  zbar %2d/%d", s.set, s.ours, s.total, s.zbar, s.total)
		if s.ours < s.zbar {
			t.Errorf("%s: read %d of %d frames, zbar %d; zbar alone read %q", s.set, s.ours, s.total, s.zbar, s.oursOnlyFail)
		}
	}
}

// BenchmarkDegradation reports, per degradation set, the frames (of 9:
// three strengths, three frames) DecodeAll and zbarimg read; ns/op is
// the whole set made and read by both.
func BenchmarkDegradation(b *testing.B) {
	zbar, _ := exec.LookPath("zbarimg")
	var scores []*setScore
	for b.Loop() {
		scores = scoreDegradations(b, b.TempDir(), zbar)
	}
	for _, s := range scores {
		name := strings.ReplaceAll(s.set, " ", "-")
		b.ReportMetric(float64(s.ours), name+"-ours")
		if zbar != "" {
			b.ReportMetric(float64(s.zbar), name+"-zbar")
		}
	}
}

func encodePNGImage(img image.Image) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func encodeJPEG(img image.Image, q int) []byte {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: q}); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func clamp8(v float64) uint8 { return uint8(math.Max(0, math.Min(255, math.Round(v)))) }

// at samples g bilinearly at (x, y), bg outside.
func at(g *image.Gray, x, y float64, bg float64) float64 {
	b := g.Bounds()
	x0, y0 := math.Floor(x), math.Floor(y)
	fx, fy := x-x0, y-y0
	pix := func(xi, yi int) float64 {
		if xi < b.Min.X || yi < b.Min.Y || xi >= b.Max.X || yi >= b.Max.Y {
			return bg
		}
		return float64(g.Pix[g.PixOffset(xi, yi)])
	}
	xi, yi := int(x0), int(y0)
	return (pix(xi, yi)*(1-fx)+pix(xi+1, yi)*fx)*(1-fy) + (pix(xi, yi+1)*(1-fx)+pix(xi+1, yi+1)*fx)*fy
}

// scaleGray resizes g by f, averaging the source pixels under each
// target pixel.
func scaleGray(g *image.Gray, f float64) *image.Gray {
	b := g.Bounds()
	w, h := int(float64(b.Dx())*f), int(float64(b.Dy())*f)
	out := image.NewGray(image.Rect(0, 0, w, h))
	step := 1 / f
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var sum float64
			n := 0
			for sy := float64(y) * step; sy < float64(y+1)*step; sy += math.Min(1, step) {
				for sx := float64(x) * step; sx < float64(x+1)*step; sx += math.Min(1, step) {
					sum += at(g, sx, sy, 255)
					n++
				}
			}
			out.Pix[out.PixOffset(x, y)] = clamp8(sum / float64(n))
		}
	}
	return out
}

func gaussBlur(g *image.Gray, sigma float64) *image.Gray {
	r := int(math.Ceil(3 * sigma))
	k := make([]float64, 2*r+1)
	var sum float64
	for i := range k {
		d := float64(i - r)
		k[i] = math.Exp(-d * d / (2 * sigma * sigma))
		sum += k[i]
	}
	for i := range k {
		k[i] /= sum
	}
	b := g.Bounds()
	tmp := make([]float64, b.Dx()*b.Dy())
	w, h := b.Dx(), b.Dy()
	px := func(x, y int) float64 {
		x, y = max(0, min(w-1, x)), max(0, min(h-1, y))
		return float64(g.Pix[g.PixOffset(x, y)])
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var v float64
			for i, kv := range k {
				v += kv * px(x+i-r, y)
			}
			tmp[y*w+x] = v
		}
	}
	out := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var v float64
			for i, kv := range k {
				yy := max(0, min(h-1, y+i-r))
				v += kv * tmp[yy*w+x]
			}
			out.Pix[out.PixOffset(x, y)] = clamp8(v)
		}
	}
	return out
}

func addNoise(g *image.Gray, sigma float64, rng *rand.Rand) *image.Gray {
	out := image.NewGray(g.Bounds())
	for i, p := range g.Pix {
		out.Pix[i] = clamp8(float64(p) + rng.NormFloat64()*sigma)
	}
	return out
}

// warp maps g through the homography that takes the unit square's
// corners to dst (clockwise from top left, in a w×h image of bg).
func warp(g *image.Gray, dst [4][2]float64, w, h int, bg float64) *image.Gray {
	b := g.Bounds()
	src := [4][2]float64{{0, 0}, {float64(b.Dx()), 0}, {float64(b.Dx()), float64(b.Dy())}, {0, float64(b.Dy())}}
	inv := homography(dst, src)
	out := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			X, Y, Z := inv[0]*float64(x)+inv[1]*float64(y)+inv[2], inv[3]*float64(x)+inv[4]*float64(y)+inv[5], inv[6]*float64(x)+inv[7]*float64(y)+inv[8]
			out.Pix[out.PixOffset(x, y)] = clamp8(at(g, X/Z, Y/Z, bg))
		}
	}
	return out
}

// homography solves for the 3×3 map taking from[i] to to[i].
func homography(from, to [4][2]float64) [9]float64 {
	var a [8][9]float64
	for i := 0; i < 4; i++ {
		x, y, u, v := from[i][0], from[i][1], to[i][0], to[i][1]
		a[2*i] = [9]float64{x, y, 1, 0, 0, 0, -u * x, -u * y, u}
		a[2*i+1] = [9]float64{0, 0, 0, x, y, 1, -v * x, -v * y, v}
	}
	for c := 0; c < 8; c++ { // Gauss-Jordan with partial pivoting
		p := c
		for r := c + 1; r < 8; r++ {
			if math.Abs(a[r][c]) > math.Abs(a[p][c]) {
				p = r
			}
		}
		a[c], a[p] = a[p], a[c]
		for r := 0; r < 8; r++ {
			if r != c {
				f := a[r][c] / a[c][c]
				for k := c; k < 9; k++ {
					a[r][k] -= f * a[c][k]
				}
			}
		}
	}
	var hm [9]float64
	for i := 0; i < 8; i++ {
		hm[i] = a[i][8] / a[i][i]
	}
	hm[8] = 1
	return hm
}

// tilt is the frame seen at an angle: its top edge narrower by t.
func tilt(g *image.Gray, t float64) *image.Gray {
	w, h := float64(g.Bounds().Dx()), float64(g.Bounds().Dy())
	m := w * 0.1
	return warp(g, [4][2]float64{{m + w*t/2, m}, {m + w - w*t/2, m + h*t/6}, {m + w, m + h}, {m, m + h - h*t/6}}, int(w+2*m), int(h+2*m), 255)
}

func rotateGray(g *image.Gray, deg float64) *image.Gray {
	w, h := float64(g.Bounds().Dx()), float64(g.Bounds().Dy())
	a := deg * math.Pi / 180
	size := (w + h) * 0.75
	cx, cy := size/2, size/2
	var dst [4][2]float64
	for i, c := range [4][2]float64{{-w / 2, -h / 2}, {w / 2, -h / 2}, {w / 2, h / 2}, {-w / 2, h / 2}} {
		dst[i] = [2]float64{cx + c[0]*math.Cos(a) - c[1]*math.Sin(a), cy + c[0]*math.Sin(a) + c[1]*math.Cos(a)}
	}
	return warp(g, dst, int(size), int(size), 255)
}

// screenPhoto is a photo of the frame on a monitor: low contrast, the
// pixel grid's stripes, seen slightly from the side and from a distance
// (the frame takes `width` of a 1600×1200 photo), out of focus, with
// vignetting and sensor noise; the caller saves it as JPEG.
func screenPhoto(g *image.Gray, width float64, rng *rand.Rand) image.Image {
	b := g.Bounds()
	screen := image.NewGray(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			v := 40 + float64(g.Pix[g.PixOffset(x, y)])*(190-40)/255
			if y%3 == 2 || x%3 == 2 { // the dark gaps between the screen's pixels
				v *= 0.8
			}
			screen.Pix[screen.PixOffset(x, y)] = clamp8(v)
		}
	}
	const W, H = 1600, 1200
	fw := W * width
	fh := fw * float64(b.Dy()) / float64(b.Dx())
	x0, y0 := (W-fw)/2, (H-fh)/2
	sk := fw * 0.06
	photo := warp(screen, [4][2]float64{{x0 + sk, y0}, {x0 + fw, y0 + sk/2}, {x0 + fw - sk/2, y0 + fh}, {x0, y0 + fh - sk/3}}, W, H, 60)
	photo = gaussBlur(photo, 1.2+2*width)
	out := image.NewGray(photo.Bounds())
	for y := 0; y < H; y++ {
		for x := 0; x < W; x++ {
			dx, dy := (float64(x)-W/2)/W, (float64(y)-H/2)/H
			vig := 1 - 0.5*(dx*dx+dy*dy)
			out.Pix[out.PixOffset(x, y)] = clamp8(float64(photo.Pix[photo.PixOffset(x, y)])*vig + rng.NormFloat64()*6)
		}
	}
	return out
}

// BenchmarkFragmentLength is what chose DefaultFragmentLen (transfer):
// per fragment length, three frames of a 541-byte bundle (a rotation)
// photographed on a screen from six distances (the frame across 40, 25,
// 20, 17, 14 and 12 per cent of a 1600-pixel-wide photo), and how many of
// those photos DecodeAll reads. Longer fragments mean fewer frames to show but denser
// codes that a far or shaky camera loses first.
func BenchmarkFragmentLength(b *testing.B) {
	for _, frag := range []int{100, 150, 200, 300, 550} {
		b.Run(fmt.Sprintf("fragment=%d", frag), func(b *testing.B) {
			frames := urFrames(b, 541, frag)
			n := len(frames) / 2 // urFrames makes twice the fragments
			read, total, version := 0, 0, 0
			for b.Loop() {
				read, total = 0, 0
				for di, width := range []float64{0.4, 0.25, 0.2, 0.17, 0.14, 0.12} {
					for fi, f := range frames[:min(3, n)] {
						img, err := EncodeImage(f, Options{})
						if err != nil {
							b.Fatal(err)
						}
						v, _ := Version(f, LevelL)
						version = v
						rng := rand.New(rand.NewPCG(uint64(100+di), uint64(fi)))
						data := encodeJPEG(screenPhoto(img, width, rng), 70)
						total++
						if got, err := DecodeAll(bytes.NewReader(data)); err == nil && len(got) == 1 && got[0] == f {
							read++
						}
					}
				}
			}
			b.ReportMetric(float64(n), "fragments")
			b.ReportMetric(float64(version), "qr-version")
			b.ReportMetric(float64(read)/float64(total)*100, "read-%")
		})
	}
}
