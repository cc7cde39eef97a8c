package hostile

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/kesrotate/kesrotate/internal/textsafe"
	"github.com/kesrotate/kesrotate/transfer/qr"
)

const (
	K = "kesrotate"
	A = "kesrotate-agent"
)

// hcase is one hostile input: the command line (whose function may write
// the input files into f.in), and what the single error line must say.
type hcase struct {
	name string
	prog string
	args func(f *fixture) []string
	// want matches the text after "PROG: error: ".
	want string
	// warn matches the warning lines the case may print (see each use).
	warn string
	// code is the exit code wanted; 0 means 1 or 2.
	code int
	// report: the command prints its verification report on stdout even
	// when it fails, ending in FAILED (ceremony verify, for the auditor).
	report bool
	// hint, if set, must match one of the hint lines (there must be one).
	hint string
	// after, if set, runs after the command and the disk check (to let go
	// of what args set up outside the disk, such as a held lock).
	after func(f *fixture)
}

// Byte helpers. Each input file gets its own name under f.in.

func (f *fixture) file(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(f.in, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func (f *fixture) variant(t *testing.T, src, name string, fn func([]byte) []byte) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	return f.file(t, name, fn(bytes.Clone(b)))
}

func (f *fixture) dir(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(f.in, name)
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// fifo is a named pipe nobody writes to: reading it would block forever.
func (f *fixture) fifo(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(f.in, name)
	if _, err := os.Lstat(p); err == nil {
		return p
	}
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// unreadable is a path that opens but cannot be read: a chmod 000 file for
// an ordinary user; for root, who reads anything, /proc/self/mem, whose
// first page is never mapped (read fails with EIO).
func (f *fixture) unreadable(t *testing.T, name string) string {
	t.Helper()
	if os.Geteuid() == 0 {
		return "/proc/self/mem"
	}
	p := f.file(t, name, []byte("{}"))
	if err := os.Chmod(p, 0); err != nil {
		t.Fatal(err)
	}
	return p
}

// elsewhere is a precious file outside any folder a command writes to; out
// paths that are symlinks to it must not be followed.
func (f *fixture) elsewhere(t *testing.T) string {
	t.Helper()
	p := filepath.Join(f.root, "elsewhere", "precious.txt")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("precious: must never be overwritten\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func (f *fixture) symlink(t *testing.T, link string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(f.elsewhere(t), link); err != nil {
		t.Fatal(err)
	}
	return link
}

func half(b []byte) []byte { return b[:len(b)/2] }
func flipAt(frac float64) func([]byte) []byte {
	return func(b []byte) []byte {
		b[int(float64(len(b)-1)*frac)] ^= 0x01
		return b
	}
}
func flipLast(b []byte) []byte { b[len(b)-1] ^= 0x01; return b }

// oversized is the real file followed by 16 MiB of zero bytes.
func oversized(b []byte) []byte { return append(b, make([]byte, 16<<20)...) }

// garbage is deterministic noise.
func garbage(n int) []byte {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// blankPNG is a valid image with no QR code in it.
func blankPNG(t *testing.T) []byte {
	img := image.NewGray(image.Rect(0, 0, 120, 120))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	img.SetGray(60, 60, color.Gray{})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func qrPNG(t *testing.T, content string) []byte {
	b, err := qr.EncodePNG(content, qr.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pngBomb is a 120-byte PNG that claims to be 1,048,576 pixels square
// (a terabyte of pixels once decoded).
func pngBomb() []byte {
	var buf bytes.Buffer
	buf.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(data)))
		buf.Write(n[:])
		buf.WriteString(typ)
		buf.Write(data)
		crc := crc32.NewIEEE()
		crc.Write([]byte(typ))
		crc.Write(data)
		binary.BigEndian.PutUint32(n[:], crc.Sum32())
		buf.Write(n[:])
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], 1<<20)
	binary.BigEndian.PutUint32(ihdr[4:], 1<<20)
	ihdr[8], ihdr[9] = 8, 0 // 8-bit grey
	chunk("IHDR", ihdr)
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	_, _ = zw.Write(make([]byte, 1<<16))
	_ = zw.Close()
	chunk("IDAT", z.Bytes())
	chunk("IEND", nil)
	return buf.Bytes()
}

// The flags every case repeats.
func (f *fixture) cold(args ...string) []string {
	return append([]string{"--vault", f.vault, "--now", now}, args...)
}
func (f *fixture) ag(args ...string) []string {
	return append([]string{"--dir", f.agent, "--now", now}, args...)
}
func (f *fixture) imp(name, coldSkey, counter, vrf string) []string {
	a := f.cold("pool", "import", name, "--cold-skey", coldSkey, "--counter", counter)
	if vrf != "" {
		a = append(a, "--vrf-skey", vrf)
	}
	return a
}
func (f *fixture) coldSkey() string { return filepath.Join(f.vec, "node-cold.skey") }
func (f *fixture) counter() string {
	return filepath.Join(f.vec, "genesis_delegate_keys.operational_certificate_counter")
}
func (f *fixture) vrfSkey() string { return filepath.Join(f.vec, "vrf_keys.signing_key") }
func (f *fixture) cert() string    { return f.goodCert }
func (f *fixture) rotate(args ...string) []string {
	return f.cold(append([]string{"rotate", "gd", "--producer", "bp1"}, args...)...)
}
func (f *fixture) plain(period, onchain string, extra ...string) []string {
	return f.cold(append([]string{"rotate", "gd", "--kes-period", period, "--onchain-counter", onchain, "--out", filepath.Join(f.root, "plain-out")}, extra...)...)
}
func (f *fixture) install(bundle string, extra ...string) []string {
	return f.ag(append([]string{"install", bundle, "--tip-slot", tip, "--no-signal"}, extra...)...)
}

// scanWarn: a --scan of an image that holds codes of another transfer
// reports them as warnings before the error (transfer.Scan), which is the
// point: the operator learns what the picture was.
const scanWarn = `.*`

// planUnknown: plan's exit codes are a monitoring check's (1 warn,
// 2 critical), so it answers every error with 3, "unknown" (its --help).
const planUnknown = 3

// airgapWarn: opening the vault's secret keys on a machine with a network
// interface up prints this notice first (internal/cli/cold/airgap.go); a
// test host has a network, a cold machine must not.
var airgapWarn = regexp.MustCompile(`^kesrotate: warning: this machine is not air-gapped \(.*\); opening secret keys anyway .*$`)

func cases(t *testing.T) []hcase {
	const big = "18446744073709551616"
	return []hcase{
		// pool import: every file-taking flag.
		{name: "import/cold-skey-empty", prog: K, args: func(f *fixture) []string { return f.imp("x", f.file(t, "empty", nil), f.counter(), "") }},
		{name: "import/cold-skey-garbage", prog: K, args: func(f *fixture) []string {
			return f.imp("x", f.file(t, "garbage", garbage(4096)), f.counter(), "")
		}},
		{name: "import/cold-skey-truncated", prog: K, args: func(f *fixture) []string {
			return f.imp("x", f.variant(t, f.coldSkey(), "cold-half", half), f.counter(), "")
		}},
		{name: "import/cold-skey-oversized", prog: K, args: func(f *fixture) []string {
			return f.imp("x", f.variant(t, f.coldSkey(), "cold-big", oversized), f.counter(), "")
		}},
		{name: "import/cold-skey-bad-hex", prog: K, args: func(f *fixture) []string {
			return f.imp("x", f.variant(t, f.coldSkey(), "cold-hex", func(b []byte) []byte {
				return bytes.Replace(b, []byte(`"5820`), []byte(`"5820zz`), 1)
			}), f.counter(), "")
		}},
		{name: "import/cold-skey-directory", prog: K, args: func(f *fixture) []string { return f.imp("x", f.dir(t, "adir"), f.counter(), "") }},
		{name: "import/cold-skey-unreadable", prog: K, args: func(f *fixture) []string {
			return f.imp("x", f.unreadable(t, "cold-000"), f.counter(), "")
		}},
		{name: "import/cold-skey-missing", prog: K, args: func(f *fixture) []string {
			return f.imp("x", filepath.Join(f.in, "no-such-file"), f.counter(), "")
		}},
		{name: "import/cold-skey-through-a-file", prog: K, args: func(f *fixture) []string {
			return f.imp("x", filepath.Join(f.coldSkey(), "x"), f.counter(), "")
		}},
		{name: "import/cold-skey-is-a-kes-key", prog: K, args: func(f *fixture) []string {
			return f.imp("x", filepath.Join(f.vec, "kes_keys.signing_key"), f.counter(), "")
		}},
		{name: "import/counter-garbage", prog: K, args: func(f *fixture) []string {
			return f.imp("x", f.coldSkey(), f.file(t, "counter-garbage", garbage(300)), "")
		}},
		{name: "import/counter-is-a-vrf-key", prog: K, args: func(f *fixture) []string { return f.imp("x", f.coldSkey(), f.vrfSkey(), "") }},
		{name: "import/counter-truncated", prog: K, args: func(f *fixture) []string {
			return f.imp("x", f.coldSkey(), f.variant(t, f.counter(), "counter-half", half), "")
		}},
		{name: "import/vrf-skey-is-a-cold-key", prog: K, args: func(f *fixture) []string {
			return f.imp("x", f.coldSkey(), f.counter(), f.coldSkey())
		}},
		{name: "import/vrf-skey-inconsistent", prog: K, args: func(f *fixture) []string {
			// The last hex digit is the public half's: seed and key disagree.
			return f.imp("x", f.coldSkey(), f.counter(), f.variant(t, f.vrfSkey(), "vrf-flip", func(b []byte) []byte {
				i := bytes.LastIndex(b, []byte(`"`)) - 1
				b[i] = map[byte]byte{'b': 'c'}[b[i]] | 0x30
				return b
			}))
		}},
		{name: "import/vrf-skey-empty", prog: K, args: func(f *fixture) []string {
			return f.imp("x", f.coldSkey(), f.counter(), f.file(t, "vrf-empty", nil))
		}},

		// Pool and producer names that would leave the vault.
		{name: "name/pool-dotdot", prog: K, args: func(f *fixture) []string { return f.imp("../x", f.coldSkey(), f.counter(), "") }},
		{name: "name/pool-slash", prog: K, args: func(f *fixture) []string { return f.imp("a/b", f.coldSkey(), f.counter(), "") }},
		{name: "name/pool-absolute", prog: K, args: func(f *fixture) []string {
			return f.imp(filepath.Join(f.root, "abs"), f.coldSkey(), f.counter(), "")
		}},
		{name: "name/pool-very-long", prog: K, args: func(f *fixture) []string { return f.imp(strings.Repeat("p", 300), f.coldSkey(), f.counter(), "") }},
		{name: "name/pool-unicode", prog: K, args: func(f *fixture) []string { return f.imp("pööl", f.coldSkey(), f.counter(), "") }},
		{name: "name/pool-empty", prog: K, args: func(f *fixture) []string { return f.imp("", f.coldSkey(), f.counter(), "") }},
		{name: "name/pool-dot", prog: K, args: func(f *fixture) []string { return f.imp(".", f.coldSkey(), f.counter(), "") }},
		{name: "name/pool-new-dotdot", prog: K, args: func(f *fixture) []string { return f.cold("pool", "new", "../evil") }},
		{name: "name/pool-existing", prog: K, args: func(f *fixture) []string { return f.imp("gd", f.coldSkey(), f.counter(), "") }},
		{name: "name/rotate-unknown-pool-traversal", prog: K, args: func(f *fixture) []string {
			return f.cold("rotate", "../gd", "--producer", "bp1", "--snapshot", f.snap)
		}},
		{name: "name/producer-dotdot", prog: K, args: func(f *fixture) []string {
			return f.cold("producer", "add", "../x", "--yes", "--enrollment", f.enroll)
		}},
		{name: "name/producer-slash", prog: K, args: func(f *fixture) []string {
			return f.cold("producer", "add", "a/b", "--yes", "--enrollment", f.enroll)
		}},
		{name: "name/producer-newline", prog: K, args: func(f *fixture) []string {
			return f.cold("producer", "add", "bp\nkesrotate: error: forged", "--yes", "--enrollment", f.enroll)
		}},
		{name: "name/rotate-producer-traversal", prog: K, args: func(f *fixture) []string {
			return f.cold("rotate", "gd", "--producer", "../bp1", "--snapshot", f.snap)
		}},

		// producer add: the enrollment as a file and as a QR code.
		{name: "enroll/empty", prog: K, args: func(f *fixture) []string {
			return f.cold("producer", "add", "bpx", "--yes", "--enrollment", f.file(t, "enroll-empty", nil))
		}},
		{name: "enroll/garbage", prog: K, args: func(f *fixture) []string {
			return f.cold("producer", "add", "bpx", "--yes", "--enrollment", f.file(t, "enroll-garbage", garbage(700)))
		}},
		{name: "enroll/truncated", prog: K, args: func(f *fixture) []string {
			return f.cold("producer", "add", "bpx", "--yes", "--enrollment", f.variant(t, f.enroll, "enroll-half", half))
		}},
		{name: "enroll/byte-flipped", prog: K, args: func(f *fixture) []string {
			return f.cold("producer", "add", "bpx", "--yes", "--enrollment", f.variant(t, f.enroll, "enroll-flip", flipAt(0.5)))
		}},
		{name: "enroll/signature-flipped", prog: K, args: func(f *fixture) []string {
			return f.cold("producer", "add", "bpx", "--yes", "--enrollment", f.variant(t, f.enroll, "enroll-flip-last", flipLast))
		}},
		{name: "enroll/oversized", prog: K, args: func(f *fixture) []string {
			return f.cold("producer", "add", "bpx", "--yes", "--enrollment", f.variant(t, f.enroll, "enroll-big", oversized))
		}},
		{name: "enroll/directory", prog: K, args: func(f *fixture) []string {
			return f.cold("producer", "add", "bpx", "--yes", "--enrollment", f.dir(t, "enroll-dir"))
		}},
		{name: "enroll/wrong-network", prog: K, args: func(f *fixture) []string {
			return f.cold("producer", "add", "bp3", "--yes", "--enrollment", f.enroll3)
		}},
		{name: "enroll/snapshot-given-as-enrollment", prog: K, args: func(f *fixture) []string {
			return f.cold("producer", "add", "bpx", "--yes", "--enrollment", f.snap)
		}},
		{name: "enroll/scan-not-an-image", prog: K, args: func(f *fixture) []string {
			return f.cold("producer", "add", "bpx", "--yes", "--scan", f.enroll)
		}},
		{name: "enroll/scan-no-qr-code", prog: K, args: func(f *fixture) []string {
			return f.cold("producer", "add", "bpx", "--yes", "--scan", f.file(t, "blank.png", blankPNG(t)))
		}},
		{name: "enroll/scan-foreign-text", prog: K, warn: scanWarn, args: func(f *fixture) []string {
			return f.cold("producer", "add", "bpx", "--yes", "--scan", f.file(t, "hello.png", qrPNG(t, "hello, world")))
		}},
		{name: "enroll/scan-foreign-ur", prog: K, warn: scanWarn, args: func(f *fixture) []string {
			return f.cold("producer", "add", "bpx", "--yes", "--scan", f.file(t, "seed.png", qrPNG(t, "ur:crypto-seed/oeadgdstaslplabghydrpfmkbggufgludprfgmaosecg")))
		}},
		{name: "enroll/scan-snapshot-qr", prog: K, warn: scanWarn, args: func(f *fixture) []string {
			return f.cold("producer", "add", "bpx", "--yes", "--scan", f.snapQ)
		}},
		{name: "enroll/scan-png-bomb", prog: K, args: func(f *fixture) []string {
			return f.cold("producer", "add", "bpx", "--yes", "--scan", f.file(t, "bomb.png", pngBomb()))
		}},
		{name: "enroll/scan-truncated-png", prog: K, args: func(f *fixture) []string {
			return f.cold("producer", "add", "bpx", "--yes", "--scan", f.variant(t, f.enrollQ, "enroll-half.png", half))
		}},
		{name: "enroll/wrong-fingerprint-format", prog: K, args: func(f *fixture) []string {
			return f.cold("producer", "add", "bpx", "--yes", "--enrollment", f.enroll, "--fingerprint", "../../etc/passwd")
		}},

		// rotate --producer: the snapshot.
		{name: "snapshot/empty", prog: K, args: func(f *fixture) []string { return f.rotate("--snapshot", f.file(t, "snap-empty", nil)) }},
		{name: "snapshot/garbage", prog: K, args: func(f *fixture) []string {
			return f.rotate("--snapshot", f.file(t, "snap-garbage", garbage(500)))
		}},
		{name: "snapshot/truncated", prog: K, args: func(f *fixture) []string {
			return f.rotate("--snapshot", f.variant(t, f.snap, "snap-half", half))
		}},
		{name: "snapshot/body-flipped", prog: K, args: func(f *fixture) []string {
			return f.rotate("--snapshot", f.variant(t, f.snap, "snap-flip", flipAt(0.3)))
		}},
		{name: "snapshot/signature-flipped", prog: K, args: func(f *fixture) []string {
			return f.rotate("--snapshot", f.variant(t, f.snap, "snap-flip-last", flipLast))
		}},
		{name: "snapshot/oversized", prog: K, args: func(f *fixture) []string {
			return f.rotate("--snapshot", f.variant(t, f.snap, "snap-big", oversized))
		}},
		{name: "snapshot/directory", prog: K, args: func(f *fixture) []string { return f.rotate("--snapshot", f.dir(t, "snap-dir")) }},
		{name: "snapshot/unreadable", prog: K, args: func(f *fixture) []string { return f.rotate("--snapshot", f.unreadable(t, "snap-000")) }},
		{name: "snapshot/endless-device", prog: K, args: func(f *fixture) []string { return f.rotate("--snapshot", "/dev/zero") }},
		{name: "snapshot/fifo", prog: K, args: func(f *fixture) []string { return f.rotate("--snapshot", f.fifo(t, "snap-fifo")) }},
		{name: "import/cold-skey-endless-device", prog: K, args: func(f *fixture) []string { return f.imp("x", "/dev/zero", f.counter(), "") }},
		{name: "snapshot/another-producers", prog: K, args: func(f *fixture) []string { return f.rotate("--snapshot", f.snap2) }},
		{name: "snapshot/another-pools-producer", prog: K, args: func(f *fixture) []string {
			return f.cold("rotate", "gd", "--producer", "bp2", "--snapshot", f.snap2)
		}},
		{name: "snapshot/other-network", prog: K, args: func(f *fixture) []string { return f.rotate("--snapshot", f.snap3) }},
		{name: "snapshot/enrollment-given-as-snapshot", prog: K, args: func(f *fixture) []string { return f.rotate("--snapshot", f.enroll) }},
		{name: "snapshot/bundle-given-as-snapshot", prog: K, args: func(f *fixture) []string { return f.rotate("--snapshot", f.bundle) }},
		{name: "snapshot/scan-png-bomb", prog: K, args: func(f *fixture) []string {
			return f.rotate("--scan", f.file(t, "bomb2.png", pngBomb()))
		}},
		{name: "snapshot/scan-enrollment-qr", prog: K, warn: scanWarn, args: func(f *fixture) []string { return f.rotate("--scan", f.enrollQ) }},
		{name: "snapshot/scan-garbage", prog: K, args: func(f *fixture) []string {
			return f.rotate("--scan", f.file(t, "garbage.png", append([]byte("\x89PNG\r\n\x1a\n"), garbage(200)...)))
		}},
		{name: "rotate/force-counter-overflow", prog: K, args: func(f *fixture) []string { return f.rotate("--snapshot", f.snap, "--force-counter", big) }},
		{name: "rotate/force-counter-negative", prog: K, args: func(f *fixture) []string { return f.rotate("--snapshot", f.snap, "--force-counter", "-1") }},
		{name: "rotate/force-counter-hex", prog: K, args: func(f *fixture) []string { return f.rotate("--snapshot", f.snap, "--force-counter", "0x10") }},
		{name: "rotate/max-age-negative", prog: K, args: func(f *fixture) []string { return f.rotate("--snapshot", f.snap, "--max-age", "-1h") }},

		// rotate without a producer: the numbers and the out folder.
		{name: "plain/kes-period-negative", prog: K, args: func(f *fixture) []string { return f.plain("-1", "none") }},
		{name: "plain/kes-period-overflow", prog: K, args: func(f *fixture) []string { return f.plain(big, "none") }},
		{name: "plain/kes-period-hex", prog: K, args: func(f *fixture) []string { return f.plain("0x623", "none") }},
		{name: "plain/kes-period-max-uint64", prog: K, args: func(f *fixture) []string { return f.plain("18446744073709551615", "none") }},
		{name: "plain/kes-period-max-uint64-ignore-clock", prog: K, args: func(f *fixture) []string {
			return f.plain("18446744073709551615", "none", "--ignore-clock")
		}},
		{name: "plain/onchain-negative", prog: K, args: func(f *fixture) []string { return f.plain("1571", "-1") }},
		{name: "plain/onchain-overflow", prog: K, args: func(f *fixture) []string { return f.plain("1571", big) }},
		{name: "plain/onchain-hex", prog: K, args: func(f *fixture) []string { return f.plain("1571", "0x1") }},
		{name: "plain/force-counter-overflow", prog: K, args: func(f *fixture) []string { return f.plain("1571", "none", "--force-counter", big) }},
		{name: "plain/out-is-a-file", prog: K, args: func(f *fixture) []string {
			return f.cold("rotate", "gd", "--kes-period", "1571", "--onchain-counter", "none", "--out", f.file(t, "out-file", []byte("x")))
		}},
		{name: "plain/out-cert-symlink-elsewhere", prog: K, args: func(f *fixture) []string {
			d := filepath.Join(f.in, "out-link")
			f.symlink(t, filepath.Join(d, "node.cert"))
			return f.cold("rotate", "gd", "--kes-period", "1571", "--onchain-counter", "none", "--out", d)
		}},
		{name: "plain/out-kes-skey-dangling-symlink", prog: K, args: func(f *fixture) []string {
			d := f.dir(t, "out-dangling")
			if err := os.Symlink(filepath.Join(f.root, "elsewhere", "new-secret"), filepath.Join(d, "kes.skey")); err != nil {
				t.Fatal(err)
			}
			return f.cold("rotate", "gd", "--kes-period", "1571", "--onchain-counter", "none", "--out", d)
		}},
		{name: "now/not-a-time", prog: K, args: func(f *fixture) []string {
			return []string{"--vault", f.vault, "--now", "yesterday", "rotate", "gd", "--producer", "bp1", "--snapshot", f.snap}
		}},
		{name: "now/month-13", prog: K, args: func(f *fixture) []string {
			return []string{"--vault", f.vault, "--now", "2026-13-01T00:00:00Z", "rotate", "gd", "--producer", "bp1", "--snapshot", f.snap}
		}},
		{name: "now/year-0", prog: K, args: func(f *fixture) []string {
			return []string{"--vault", f.vault, "--now", "0000-01-01T00:00:00Z", "rotate", "gd", "--kes-period", "1571", "--onchain-counter", "none", "--out", filepath.Join(f.root, "plain-out")}
		}},
		{name: "vault/missing", prog: K, args: func(f *fixture) []string {
			return []string{"--vault", filepath.Join(f.in, "no-vault"), "pool", "list"}
		}},
		{name: "vault/is-a-file", prog: K, args: func(f *fixture) []string {
			return []string{"--vault", f.coldSkey(), "pool", "list"}
		}},
		{name: "vault/garbage-vault-json", prog: K, args: func(f *fixture) []string {
			d := f.dir(t, "fake-vault")
			f.file(t, "fake-vault/vault.json", garbage(100))
			return []string{"--vault", d, "pool", "list"}
		}},
		{name: "export-public/cold-vkey-symlink-elsewhere", prog: K, args: func(f *fixture) []string {
			d := filepath.Join(f.in, "pub-link")
			f.symlink(t, filepath.Join(d, "cold.vkey"))
			return f.cold("pool", "export-public", "gd", "--out", d)
		}},

		// verify: cert and key files.
		{name: "verify/cert-garbage", prog: K, args: func(f *fixture) []string {
			return f.cold("verify", "--cert", f.file(t, "cert-garbage", garbage(400)))
		}},
		{name: "verify/cert-empty", prog: K, args: func(f *fixture) []string { return f.cold("verify", "--cert", f.file(t, "cert-empty", nil)) }},
		{name: "verify/cert-truncated", prog: K, args: func(f *fixture) []string {
			return f.cold("verify", "--cert", f.variant(t, f.cert(), "cert-half", half))
		}},
		{name: "verify/cert-is-a-kes-key", prog: K, args: func(f *fixture) []string {
			return f.cold("verify", "--cert", filepath.Join(f.vec, "kes_keys.signing_key"))
		}},
		{name: "verify/kes-skey-garbage", prog: K, args: func(f *fixture) []string {
			return f.cold("verify", "--cert", f.cert(), "--kes-skey", f.file(t, "kes-garbage", garbage(612)))
		}},
		{name: "verify/vrf-skey-truncated", prog: K, args: func(f *fixture) []string {
			return f.cold("verify", "--cert", f.cert(), "--vrf-skey", f.variant(t, f.vrfSkey(), "vrf-half", half))
		}},
		{name: "verify/cold-vkey-garbage", prog: K, args: func(f *fixture) []string {
			return f.cold("verify", "--cert", f.cert(), "--cold-vkey", f.file(t, "vkey-garbage", garbage(100)))
		}},
		{name: "verify/genesis-garbage", prog: K, args: func(f *fixture) []string {
			return f.cold("verify", "--cert", f.cert(), "--genesis", f.file(t, "genesis-garbage", garbage(1000)))
		}},
		{name: "verify/genesis-hostile-json", prog: K, args: func(f *fixture) []string {
			return f.cold("verify", "--cert", f.cert(), "--genesis", f.file(t, "genesis-zero",
				[]byte(`{"networkMagic": 1, "slotsPerKESPeriod": 0, "maxKESEvolutions": 0, "slotLength": 0, "systemStart": "2022-01-01T00:00:00Z", "epochLength": 0}`)))
		}},
		{name: "verify/at-slot-negative", prog: K, args: func(f *fixture) []string { return f.cold("verify", "--cert", f.cert(), "--at-slot", "-1") }},
		{name: "verify/at-slot-overflow", prog: K, args: func(f *fixture) []string { return f.cold("verify", "--cert", f.cert(), "--at-slot", big) }},

		// plan: status, leader schedule, cert, genesis, leads.
		{name: "plan/status-garbage", prog: K, code: planUnknown, args: func(f *fixture) []string {
			return f.cold("plan", "--status", f.file(t, "status-garbage", garbage(300)))
		}},
		{name: "plan/status-empty", prog: K, code: planUnknown, args: func(f *fixture) []string { return f.cold("plan", "--status", f.file(t, "status-empty", nil)) }},
		{name: "plan/status-directory", prog: K, code: planUnknown, args: func(f *fixture) []string { return f.cold("plan", "--status", f.dir(t, "status-dir")) }},
		{name: "plan/status-hostile-numbers", prog: K, code: planUnknown, args: func(f *fixture) []string {
			return f.cold("plan", "--status", f.file(t, "status-big", []byte(`{"cert_counter": -1, "cert_kes_period": 18446744073709551616, "tip_slot": "x"}`)))
		}},
		{name: "plan/leader-schedule-garbage", prog: K, code: planUnknown, args: func(f *fixture) []string {
			return f.cold("plan", "--cert", f.cert(), "--leader-schedule", f.file(t, "leaderlog-garbage", garbage(300)))
		}},
		{name: "plan/leader-schedule-hostile-json", prog: K, code: planUnknown, args: func(f *fixture) []string {
			return f.cold("plan", "--cert", f.cert(), "--leader-schedule", f.file(t, "leaderlog-json",
				[]byte(`{"status":"ok","epoch":-5,"assignedSlots":[{"slot":18446744073709551616,"at":"never"}]}`)))
		}},
		{name: "plan/cert-garbage", prog: K, code: planUnknown, args: func(f *fixture) []string {
			return f.cold("plan", "--cert", f.file(t, "plan-cert-garbage", garbage(50)))
		}},
		{name: "plan/genesis-empty", prog: K, code: planUnknown, args: func(f *fixture) []string {
			return f.cold("plan", "--cert", f.cert(), "--genesis", f.file(t, "genesis-empty", nil))
		}},
		{name: "plan/warn-lead-garbage", prog: K, code: planUnknown, args: func(f *fixture) []string { return f.cold("plan", "--warn-lead", "soon") }},
		{name: "plan/warn-lead-overflow", prog: K, code: planUnknown, args: func(f *fixture) []string { return f.cold("plan", "--warn-lead", "99999999999999999d") }},
		{name: "plan/rotate-at-garbage", prog: K, code: planUnknown, args: func(f *fixture) []string { return f.cold("plan", "--rotate-at", "tomorrow") }},

		// ceremony verify: checkpoints and keys from outside.
		{name: "ceremony/checkpoint-note-garbage", prog: K, report: true, args: func(f *fixture) []string {
			d := f.dir(t, "ckpt-garbage")
			f.file(t, "ckpt-garbage/1.note", garbage(300))
			return f.cold("ceremony", "verify", "--checkpoints", d)
		}},
		{name: "ceremony/checkpoint-png-bomb", prog: K, report: true, args: func(f *fixture) []string {
			d := f.dir(t, "ckpt-bomb")
			f.file(t, "ckpt-bomb/checkpoint-1.png", pngBomb())
			return f.cold("ceremony", "verify", "--checkpoints", d)
		}},
		{name: "ceremony/checkpoint-png-not-qr", prog: K, report: true, args: func(f *fixture) []string {
			return f.cold("ceremony", "verify", "--checkpoints", f.file(t, "ckpt-blank.png", blankPNG(t)))
		}},
		{name: "ceremony/pool-vkey-garbage", prog: K, report: true, args: func(f *fixture) []string {
			return f.cold("ceremony", "verify", "--pool-vkey", f.file(t, "pool-vkey-garbage", garbage(90)))
		}},
		{name: "ceremony/log-empty-folder", prog: K, report: true, args: func(f *fixture) []string {
			return f.cold("ceremony", "verify", "--log", f.dir(t, "empty-log"))
		}},
		{name: "ceremony/countersigner-garbage", prog: K, report: true, args: func(f *fixture) []string {
			return f.cold("ceremony", "verify", "--countersigner", f.file(t, "countersigner-garbage", garbage(64)))
		}},

		// qr show and backup restore.
		{name: "qr/show-garbage", prog: K, args: func(f *fixture) []string {
			return f.cold("qr", "show", f.file(t, "qr-garbage.age", garbage(100)), "--cols", "200", "--rows", "80", "--once")
		}},
		{name: "qr/show-fragment-len-negative", prog: K, args: func(f *fixture) []string {
			return f.cold("qr", "show", f.bundle, "--fragment-len", "-1", "--cols", "200", "--rows", "80", "--once")
		}},
		{name: "qr/show-fps-zero", prog: K, args: func(f *fixture) []string {
			return f.cold("qr", "show", f.bundle, "--fps", "0", "--cols", "200", "--rows", "80", "--once")
		}},
		{name: "backup/restore-share-garbage", prog: K, args: func(f *fixture) []string {
			return f.cold("backup", "restore", "restored", "--share", f.file(t, "share-garbage", garbage(200)))
		}},
		{name: "backup/restore-share-directory", prog: K, args: func(f *fixture) []string {
			return f.cold("backup", "restore", "restored", "--share", f.dir(t, "share-dir"))
		}},

		// kesrotate-agent install: the bundle.
		{name: "install/empty", prog: A, args: func(f *fixture) []string { return f.install(f.file(t, "bundle-empty.age", nil)) }},
		{name: "install/garbage", prog: A, args: func(f *fixture) []string {
			return f.install(f.file(t, "bundle-garbage.age", garbage(2000)))
		}},
		{name: "install/truncated", prog: A, args: func(f *fixture) []string {
			return f.install(f.variant(t, f.bundle, "bundle-half.age", half))
		}},
		{name: "install/byte-flipped", prog: A, args: func(f *fixture) []string {
			return f.install(f.variant(t, f.bundle, "bundle-flip.age", flipAt(0.6)))
		}},
		{name: "install/header-flipped", prog: A, args: func(f *fixture) []string {
			return f.install(f.variant(t, f.bundle, "bundle-flip-head.age", flipAt(0.05)))
		}},
		{name: "install/oversized", prog: A, args: func(f *fixture) []string {
			return f.install(f.variant(t, f.bundle, "bundle-big.age", oversized))
		}},
		{name: "install/directory", prog: A, args: func(f *fixture) []string { return f.install(f.dir(t, "bundle-dir")) }},
		{name: "install/unreadable", prog: A, args: func(f *fixture) []string { return f.install(f.unreadable(t, "bundle-000")) }},
		{name: "install/endless-device", prog: A, args: func(f *fixture) []string { return f.install("/dev/zero") }},
		{name: "install/fifo", prog: A, args: func(f *fixture) []string { return f.install(f.fifo(t, "bundle-fifo")) }},
		{name: "install/snapshot-given-as-bundle", prog: A, want: `^wrong file: this is a kesrotate snapshot \(from 'kesrotate-agent snapshot'\), not a bundle$`,
			args: func(f *fixture) []string { return f.install(f.snap) }},
		{name: "install/enrollment-given-as-bundle", prog: A, want: `^wrong file: this is a kesrotate enrollment .*, not a bundle$`,
			args: func(f *fixture) []string { return f.install(f.enroll) }},
		// A wrong file is named as such, never as a tampered one (issue 16).
		{name: "wrongfile/enrollment-as-snapshot", prog: K, want: `^wrong file: this is a kesrotate enrollment \(from 'kesrotate-agent enrollment'\), not a snapshot$`,
			args: func(f *fixture) []string { return f.cold("rotate", "gd", "--producer", "bp1", "--snapshot", f.enroll) }},
		{name: "wrongfile/bundle-as-enrollment", prog: K, want: `^wrong file: this is an age-encrypted file .*, not an enrollment$`, hint: `kesrotate-agent enrollment --out`,
			args: func(f *fixture) []string { return f.cold("producer", "add", "bpx", "--yes", "--enrollment", f.bundle) }},
		{name: "wrongfile/text-as-snapshot", prog: K, want: `^malformed transfer file: not a snapshot: the file is damaged or of another kind$`,
			args: func(f *fixture) []string {
				return f.cold("rotate", "gd", "--producer", "bp1", "--snapshot", f.file(t, "node.log", []byte("[2026-11-30 11:00:00.00 UTC] Chain extended, new tip\n")))
			}},
		{name: "install/another-producers-bundle", prog: A, args: func(f *fixture) []string {
			return []string{"--dir", f.agent2, "--now", now, "install", f.bundle, "--tip-slot", tip, "--no-signal"}
		}},
		{name: "install/tip-slot-negative", prog: A, args: func(f *fixture) []string { return f.ag("install", f.bundle, "--tip-slot", "-1", "--no-signal") }},
		{name: "install/tip-slot-overflow", prog: A, args: func(f *fixture) []string { return f.ag("install", f.bundle, "--tip-slot", big, "--no-signal") }},
		{name: "install/tip-slot-hex", prog: A, args: func(f *fixture) []string { return f.ag("install", f.bundle, "--tip-slot", "0xC23D4BD", "--no-signal") }},
		{name: "install/onchain-counter-garbage", prog: A, args: func(f *fixture) []string { return f.install(f.bundle, "--onchain-counter", "seven") }},
		{name: "install/onchain-counter-overflow", prog: A, args: func(f *fixture) []string { return f.install(f.bundle, "--onchain-counter", big) }},
		{name: "install/scan-no-qr-code", prog: A, args: func(f *fixture) []string {
			return f.ag("install", "--scan", f.file(t, "blank2.png", blankPNG(t)), "--tip-slot", tip, "--no-signal")
		}},
		{name: "install/scan-png-bomb", prog: A, args: func(f *fixture) []string {
			return f.ag("install", "--scan", f.file(t, "bomb3.png", pngBomb()), "--tip-slot", tip, "--no-signal")
		}},
		{name: "install/scan-enrollment-qr", prog: A, warn: scanWarn, args: func(f *fixture) []string {
			return f.ag("install", "--scan", f.enrollQ, "--tip-slot", tip, "--no-signal")
		}},
		{name: "install/scan-one-frame-of-many", prog: A, warn: scanWarn, args: func(f *fixture) []string {
			return f.ag("install", "--scan", filepath.Join(f.frames, "frame-001.png"), "--tip-slot", tip, "--no-signal")
		}},

		// kesrotate-agent snapshot, enrollment, init, checkpoint, status.
		{name: "agent-snapshot/tip-slot-overflow", prog: A, args: func(f *fixture) []string {
			return f.ag("snapshot", "--out", filepath.Join(f.root, "s.kss"), "--tip-slot", big, "--onchain-counter", "none")
		}},
		{name: "agent-snapshot/tip-slot-negative", prog: A, args: func(f *fixture) []string {
			return f.ag("snapshot", "--out", filepath.Join(f.root, "s.kss"), "--tip-slot", "-5", "--onchain-counter", "none")
		}},
		{name: "agent-snapshot/onchain-counter-negative", prog: A, args: func(f *fixture) []string {
			return f.ag("snapshot", "--out", filepath.Join(f.root, "s.kss"), "--tip-slot", tip, "--onchain-counter", "-1")
		}},
		{name: "agent-snapshot/out-symlink-elsewhere", prog: A, args: func(f *fixture) []string {
			return f.ag("snapshot", "--out", f.symlink(t, filepath.Join(f.in, "snap-link.kss")), "--tip-slot", tip, "--onchain-counter", "none")
		}},
		{name: "agent-snapshot/qr-symlink-elsewhere", prog: A, args: func(f *fixture) []string {
			return f.ag("snapshot", "--out", filepath.Join(f.root, "s.kss"), "--qr", f.symlink(t, filepath.Join(f.in, "snap-link.png")), "--tip-slot", tip, "--onchain-counter", "none")
		}},
		{name: "agent-snapshot/now-garbage", prog: A, args: func(f *fixture) []string {
			return []string{"--dir", f.agent, "--now", "2026-11-21 06:00", "snapshot", "--out", filepath.Join(f.root, "s.kss"), "--tip-slot", tip, "--onchain-counter", "none"}
		}},
		{name: "agent-enrollment/out-symlink-elsewhere", prog: A, args: func(f *fixture) []string {
			return f.ag("enrollment", "--out", f.symlink(t, filepath.Join(f.in, "enroll-link.kre")))
		}},
		{name: "agent-enrollment/out-is-a-directory", prog: A, args: func(f *fixture) []string {
			return f.ag("enrollment", "--out", f.dir(t, "enroll-out-dir"))
		}},
		{name: "agent-init/cold-vkey-garbage", prog: A, args: func(f *fixture) []string {
			n := filepath.Join(f.in, "fresh-node")
			return []string{"--dir", filepath.Join(f.in, "fresh-agent"), "--now", now, "init", "--network", "mainnet",
				"--pool-cold-vkey", f.file(t, "cold-vkey-garbage", garbage(120)),
				"--kes-key", n + "/kes.skey", "--vrf-key", n + "/vrf.skey", "--cert", n + "/node.cert", "--no-signal"}
		}},
		{name: "agent-init/cold-vkey-is-the-cold-skey", prog: A, args: func(f *fixture) []string {
			n := filepath.Join(f.in, "fresh-node")
			return []string{"--dir", filepath.Join(f.in, "fresh-agent"), "--now", now, "init", "--network", "mainnet",
				"--pool-cold-vkey", f.coldSkey(),
				"--kes-key", n + "/kes.skey", "--vrf-key", n + "/vrf.skey", "--cert", n + "/node.cert", "--no-signal"}
		}},
		{name: "agent-init/network-bogus", prog: A, args: func(f *fixture) []string {
			n := filepath.Join(f.in, "fresh-node")
			return []string{"--dir", filepath.Join(f.in, "fresh-agent"), "--now", now, "init", "--network", "../mainnet",
				"--pool-cold-vkey", f.pub + "/cold.vkey",
				"--kes-key", n + "/kes.skey", "--vrf-key", n + "/vrf.skey", "--cert", n + "/node.cert", "--no-signal"}
		}},
		{name: "agent-init/genesis-garbage", prog: A, args: func(f *fixture) []string {
			n := filepath.Join(f.in, "fresh-node")
			return []string{"--dir", filepath.Join(f.in, "fresh-agent"), "--now", now, "init",
				"--genesis", f.file(t, "agent-genesis-garbage", garbage(500)),
				"--pool-cold-vkey", f.pub + "/cold.vkey",
				"--kes-key", n + "/kes.skey", "--vrf-key", n + "/vrf.skey", "--cert", n + "/node.cert", "--no-signal"}
		}},
		{name: "agent-init/again", prog: A, args: func(f *fixture) []string {
			return f.ag("init", "--network", "mainnet", "--pool-cold-vkey", f.pub+"/cold.vkey",
				"--kes-key", f.node+"/kes.skey", "--vrf-key", f.node+"/vrf.skey", "--cert", f.node+"/node.cert", "--no-signal")
		}},
		{name: "agent-init/dir-is-a-file", prog: A, args: func(f *fixture) []string {
			n := filepath.Join(f.in, "fresh-node")
			return []string{"--dir", f.file(t, "agent-file", []byte("x")), "--now", now, "init", "--network", "mainnet",
				"--pool-cold-vkey", f.pub + "/cold.vkey",
				"--kes-key", n + "/kes.skey", "--vrf-key", n + "/vrf.skey", "--cert", n + "/node.cert", "--no-signal"}
		}},
		{name: "agent/dir-garbage-config", prog: A, args: func(f *fixture) []string {
			d := f.dir(t, "fake-agent")
			f.file(t, "fake-agent/agent.json", garbage(100))
			return []string{"--dir", d, "status", "--tip-slot", tip}
		}},
		{name: "agent-checkpoint/add-garbage-note", prog: A, args: func(f *fixture) []string {
			return f.ag("checkpoint", "add", f.file(t, "ckpt.note", garbage(300)))
		}},
		{name: "agent-checkpoint/add-scan-no-qr", prog: A, args: func(f *fixture) []string {
			return f.ag("checkpoint", "add", "--scan", f.file(t, "ckpt-blank2.png", blankPNG(t)))
		}},
		{name: "agent-checkpoint/add-scan-png-bomb", prog: A, args: func(f *fixture) []string {
			return f.ag("checkpoint", "add", "--scan", f.file(t, "bomb4.png", pngBomb()))
		}},
		{name: "agent-checkpoint/countersign-audit-key-garbage", prog: A, args: func(f *fixture) []string {
			return f.ag("checkpoint", "countersign", "--out", filepath.Join(f.root, "cs"), "--audit-key", f.file(t, "audit-garbage.pub", garbage(80)))
		}},
		{name: "agent-status/tip-slot-overflow", prog: A, args: func(f *fixture) []string { return f.ag("status", "--tip-slot", big) }},
		{name: "agent-status/onchain-counter-hex", prog: A, args: func(f *fixture) []string {
			return f.ag("status", "--tip-slot", tip, "--onchain-counter", "0x0")
		}},
	}
}

// secrets are strings no output may ever contain: fixed key material of the
// vectors, and the agent's secret files line by line (any 10 characters of
// them, so that a part of a key is caught too).
func secrets(t *testing.T, f *fixture) []string {
	s := []string{"AGE-SECRET-KEY-", "86f64a96dd4b476cbd6e8adf36d0aa9e", "b492808849dcf749f9992d2be4b3d692"}
	for _, p := range []string{filepath.Join(f.agent, "snapshot.key"), filepath.Join(f.agent, "identity.txt")} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue // age's comment lines: the creation time and public key
			}
			for i := 0; i+10 <= len(line); i++ {
				s = append(s, line[i:i+10])
			}
		}
	}
	return s
}

func TestHostileInputs(t *testing.T) {
	f := newFixture(t)
	secret := secrets(t, f)
	all := append(cases(t), reviewCases(t)...)
	if len(all) < 40 {
		t.Fatalf("got %d cases, want at least 40", len(all))
	}
	seen := map[string]bool{}
	for _, c := range all {
		if seen[c.name] {
			t.Fatalf("case %s twice", c.name)
		}
		seen[c.name] = true
		t.Run(c.name, func(t *testing.T) {
			args := c.args(f)
			before := snapshotTree(t, f.root)
			r := run(c.prog, args...)
			after := snapshotTree(t, f.root)
			if r.panicked != nil {
				t.Fatalf("panicked: %v\nstderr:\n%s", r.panicked, r.stderr)
			}
			if testing.Verbose() {
				t.Logf("exit %d\n%s", r.code, r.stderr)
			}
			switch {
			case c.code != 0 && r.code != c.code:
				t.Errorf("got exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, c.code, r.stdout, r.stderr)
			case c.code == 0 && r.code != 1 && r.code != 2:
				t.Errorf("got exit code %d, want 1 or 2\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			checkStderr(t, c, r.stderr)
			switch {
			case c.report && r.stdout != "" && !strings.HasSuffix(r.stdout, "\nFAILED\n"):
				t.Errorf("got stdout %q, want nothing or a report ending in FAILED", r.stdout)
			case !c.report && r.stdout != "":
				t.Errorf("got stdout %q, want nothing", r.stdout)
			}
			for _, s := range secret {
				if strings.Contains(r.stderr, s) || strings.Contains(r.stdout, s) {
					t.Errorf("output holds secret material %q", s)
				}
			}
			if d := before.diff(after); len(d) > 0 {
				t.Errorf("the disk changed:\n  %s", strings.Join(d, "\n  "))
			}
			if c.after != nil {
				c.after(f)
			}
			for _, out := range []string{r.stdout, r.stderr} {
				for _, ch := range out {
					if ch != '\n' && textsafe.Suspicious(ch) {
						t.Errorf("output holds %q unescaped: %q", ch, out)
						break
					}
				}
			}
			dropBigInputs(t, f)
		})
	}
}

// dropBigInputs removes the oversized inputs once their case is done, so
// that the next cases' snapshots do not hash them again.
func dropBigInputs(t *testing.T, f *fixture) {
	t.Helper()
	des, err := os.ReadDir(f.in)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		if info, err := de.Info(); err == nil && info.Mode().IsRegular() && info.Size() > 1<<20 {
			if err := os.Remove(filepath.Join(f.in, de.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// checkStderr: exactly one "PROG: error: " line first, then only hint
// lines and the warnings the case allows.
func checkStderr(t *testing.T, c hcase, stderr string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	errPrefix := c.prog + ": error: "
	if len(lines) == 0 || stderr == "" {
		t.Errorf("got no stderr, want one %q line", errPrefix)
		return
	}
	var warn *regexp.Regexp
	if c.warn != "" {
		warn = regexp.MustCompile("^" + regexp.QuoteMeta(c.prog+": warning: ") + "(" + c.warn + ")$")
	}
	nerr := 0
	for i, l := range lines {
		switch {
		case strings.HasPrefix(l, errPrefix):
			nerr++
			if strings.TrimSpace(strings.TrimPrefix(l, errPrefix)) == "" {
				t.Errorf("empty error line %q", l)
			}
			if c.want != "" && !regexp.MustCompile(c.want).MatchString(strings.TrimPrefix(l, errPrefix)) {
				t.Errorf("got error %q, want it to match %q", l, c.want)
			}
		case strings.HasPrefix(l, c.prog+": hint: ") && nerr == 1:
		case warn != nil && warn.MatchString(l) && nerr == 0:
		case c.prog == K && airgapWarn.MatchString(l) && nerr == 0:
		default:
			t.Errorf("stderr line %d is %q, want only one %q line, then hints (warnings allowed: %q)\nstderr:\n%s", i+1, l, errPrefix, c.warn, stderr)
		}
		for _, bad := range []string{"panic", "goroutine ", ".go:"} {
			if strings.Contains(l, bad) {
				t.Errorf("stderr line %q looks like a crash (%q)", l, bad)
			}
		}
		// A decoder's own words name Go types and raw bytes: an
		// operator learns nothing from them (issue 16).
		for _, bad := range []string{"Go value", "Go struct", "cbor:", "json: cannot", "strconv.", "unexpected intro", "\\x", "transfer.wire", "[]uint8", "map[string]"} {
			if strings.Contains(l, bad) {
				t.Errorf("stderr line %q leaks decoder internals (%q)", l, bad)
			}
		}
	}
	if nerr != 1 {
		t.Errorf("got %d error lines, want exactly 1\nstderr:\n%s", nerr, stderr)
	}
	if c.hint != "" {
		re := regexp.MustCompile(c.hint)
		found := false
		for _, l := range lines {
			if h, ok := strings.CutPrefix(l, c.prog+": hint: "); ok && re.MatchString(h) {
				found = true
			}
		}
		if !found {
			t.Errorf("no hint line matches %q\nstderr:\n%s", c.hint, stderr)
		}
	}
}
