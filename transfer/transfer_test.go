package transfer

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/kesrotate/kesrotate/internal/safefile"
	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/opcert"
	"github.com/kesrotate/kesrotate/transfer/qr"
	"github.com/kesrotate/kesrotate/transfer/ur"
)

var t0 = time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)

type fixture struct {
	cold     *keys.ColdKey
	kes      *keys.KESKey
	vrf      *keys.VRFKey
	cert     *opcert.Certificate
	identity *age.X25519Identity
	signKey  ed25519.PrivateKey
	enroll   *Enrollment
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{}
	f.cold, _ = keys.NewColdKey(bytes.Repeat([]byte{1}, 32))
	f.kes, _ = keys.NewKESKey(bytes.Repeat([]byte{2}, 32))
	f.vrf, _ = keys.NewVRFKey(bytes.Repeat([]byte{3}, 32))
	f.cert = opcert.Issue(f.cold, f.kes.Public(), 4, 1571)
	var err error
	if f.identity, err = age.GenerateX25519Identity(); err != nil {
		t.Fatal(err)
	}
	f.signKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{4}, 32))
	f.enroll = &Enrollment{Name: "bp1", Magic: opcert.Mainnet.Magic, PoolID: f.cold.Public().PoolID(),
		Recipient: f.identity.Recipient().String(), SignKey: f.signKey.Public().(ed25519.PublicKey), Created: t0}
	return f
}

func (f *fixture) snapshot() *Snapshot {
	slot, _ := opcert.Mainnet.SlotAt(t0.Add(-time.Hour))
	return &Snapshot{Magic: opcert.Mainnet.Magic, SlotsPerKESPeriod: 129600, MaxKESEvolutions: 62, TipSlot: slot,
		TipTime: opcert.Mainnet.SlotTime(slot), PoolID: f.cold.Public().PoolID(), OnChain: opcert.Recorded(3),
		Installed: &Installed{Counter: 3, KESPeriod: 1510, CertHash: strings.Repeat("ab", 32)}, Created: t0}
}

func TestEnrollmentRoundTripAndTamper(t *testing.T) {
	f := newFixture(t)
	data, err := f.enroll.Marshal(f.signKey)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseEnrollment(data)
	if err != nil {
		t.Fatal(err)
	}
	if got.Fingerprint() != f.enroll.Fingerprint() || got.Recipient != f.enroll.Recipient {
		t.Errorf("round trip changed the enrollment")
	}
	if fp := got.Fingerprint(); len(fp) != 19 || strings.Count(fp, "-") != 3 {
		t.Errorf("fingerprint %q: want XXXX-XXXX-XXXX-XXXX", fp)
	}
	for i := range data {
		bad := bytes.Clone(data)
		bad[i] ^= 0x01
		if _, err := ParseEnrollment(bad); err == nil {
			t.Fatalf("byte %d flipped: enrollment still accepted", i)
		}
	}
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32))
	if _, err := f.enroll.Marshal(other); err == nil {
		t.Error("enrollment signed by a key it does not carry")
	}
}

func TestSnapshotSignatureAndPolicy(t *testing.T) {
	f := newFixture(t)
	s := f.snapshot()
	data := s.Marshal(f.signKey)
	pub := f.signKey.Public().(ed25519.PublicKey)
	got, err := ParseSnapshot(data, pub)
	if err != nil {
		t.Fatal(err)
	}
	if got.TipSlot != s.TipSlot || got.OnChain != s.OnChain || *got.Installed != *s.Installed {
		t.Errorf("round trip: got %+v", got)
	}
	policy := SnapshotPolicy{Network: opcert.Mainnet, PoolID: s.PoolID, Now: t0}
	period, err := got.Check(policy)
	if err != nil || period != opcert.Mainnet.KESPeriod(s.TipSlot) {
		t.Errorf("Check: %d, %v", period, err)
	}
	for i := range data {
		bad := bytes.Clone(data)
		bad[i] ^= 0x40
		if _, err := ParseSnapshot(bad, pub); err == nil {
			t.Fatalf("byte %d flipped: snapshot still accepted", i)
		}
	}
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32))
	if _, err := ParseSnapshot(data, other.Public().(ed25519.PublicKey)); !errors.Is(err, ErrSignature) {
		t.Errorf("other producer: got %v, want ErrSignature", err)
	}
	cases := []struct {
		name   string
		policy SnapshotPolicy
		mutate func(*Snapshot)
		want   error
	}{
		{"stale", SnapshotPolicy{Network: opcert.Mainnet, PoolID: s.PoolID, Now: t0.Add(30 * time.Hour)}, nil, ErrStale},
		{"shorter max age", SnapshotPolicy{Network: opcert.Mainnet, PoolID: s.PoolID, Now: t0, MaxAge: 30 * time.Minute}, nil, ErrStale},
		{"clock far behind", SnapshotPolicy{Network: opcert.Mainnet, PoolID: s.PoolID, Now: t0.Add(-72 * time.Hour)}, nil, ErrClockSkew},
		{"other network", SnapshotPolicy{Network: opcert.Preprod, PoolID: s.PoolID, Now: t0}, nil, ErrWrongNetwork},
		{"other pool", SnapshotPolicy{Network: opcert.Mainnet, PoolID: keys.PoolID{1}, Now: t0}, nil, ErrWrongPool},
		{"tip time lies", policy, func(s *Snapshot) { s.TipTime = s.TipTime.Add(time.Hour) }, ErrFormat},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			snap := f.snapshot()
			if tc.mutate != nil {
				tc.mutate(snap)
			}
			parsed, err := ParseSnapshot(snap.Marshal(f.signKey), pub)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := parsed.Check(tc.policy); !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
	// The overrides.
	p := SnapshotPolicy{Network: opcert.Mainnet, PoolID: s.PoolID, Now: t0.Add(30 * time.Hour), AllowStale: true}
	if _, err := got.Check(p); err != nil {
		t.Errorf("AllowStale: %v", err)
	}
	p = SnapshotPolicy{Network: opcert.Mainnet, PoolID: s.PoolID, Now: t0.Add(-72 * time.Hour), IgnoreClock: true}
	if _, err := got.Check(p); err != nil {
		t.Errorf("IgnoreClock: %v", err)
	}
}

func TestBundleEncryptDecrypt(t *testing.T) {
	f := newFixture(t)
	b := &Bundle{Magic: opcert.Mainnet.Magic, PoolID: f.cold.Public().PoolID(), Cold: f.cold.Public(), Cert: f.cert,
		KES: f.kes, VRF: f.vrf, Producer: f.enroll.Fingerprint(), Checkpoint: []byte("checkpoint"), Created: t0}
	var buf bytes.Buffer
	if err := b.Encrypt(&buf, f.identity.Recipient()); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(buf.Bytes(), f.kes.Raw()[:32]) {
		t.Fatal("KES seed visible in the encrypted bundle")
	}
	got, err := DecryptBundle(bytes.NewReader(buf.Bytes()), f.identity)
	if err != nil {
		t.Fatal(err)
	}
	if *got.Cert != *f.cert || got.KES.Public() != f.kes.Public() || got.VRF.Public() != f.vrf.Public() || string(got.Checkpoint) != "checkpoint" {
		t.Error("bundle changed on the way")
	}
	other, _ := age.GenerateX25519Identity()
	if _, err := DecryptBundle(bytes.NewReader(buf.Bytes()), other); !errors.Is(err, ErrWrongProducer) {
		t.Errorf("other identity: got %v, want ErrWrongProducer", err)
	}
	for _, v := range []string{"%v", "%+v", "%#v", "%s"} {
		if s := sprintf(v, *got); s != keys.Redacted {
			t.Errorf("%s of a bundle: %q", v, s)
		}
	}
	// A KES-on-producer bundle holds only the cert.
	b.KES, b.VRF = nil, nil
	buf.Reset()
	if err := b.Encrypt(&buf, f.identity.Recipient()); err != nil {
		t.Fatal(err)
	}
	got, err = DecryptBundle(&buf, f.identity)
	if err != nil || got.KES != nil || got.VRF != nil {
		t.Errorf("cert-only bundle: %v", err)
	}
}

func TestBundleInconsistenciesAreRefused(t *testing.T) {
	f := newFixture(t)
	otherKES, _ := keys.NewKESKey(bytes.Repeat([]byte{7}, 32))
	otherCold, _ := keys.NewColdKey(bytes.Repeat([]byte{8}, 32))
	for name, b := range map[string]*Bundle{
		"KES key not certified": {PoolID: f.cold.Public().PoolID(), Cold: f.cold.Public(), Cert: f.cert, KES: otherKES, Producer: testFingerprint},
		"pool id of another":    {PoolID: otherCold.Public().PoolID(), Cold: f.cold.Public(), Cert: f.cert, Producer: testFingerprint},
		"cold key of another":   {PoolID: otherCold.Public().PoolID(), Cold: otherCold.Public(), Cert: f.cert, Producer: testFingerprint},
	} {
		// Version 3 has no pool id or cold key beside the cert's:
		// Encrypt refuses a bundle whose fields disagree.
		var buf bytes.Buffer
		err := b.Encrypt(&buf, f.identity.Recipient())
		if err == nil {
			_, err = DecryptBundle(&buf, f.identity)
		}
		if !errors.Is(err, ErrFormat) {
			t.Errorf("%s: got %v, want ErrFormat", name, err)
		}
		// Versions 1 and 2 carry them: an old bundle that disagrees
		// with itself is refused when it is read.
		certCBOR, _ := f.cert.MarshalCBOR()
		kes := []byte{}
		if b.KES != nil {
			kes = b.KES.Raw()
		}
		legacy := wireBundle{Magic: MagicBundle, Version: 1, Network: 1, PoolID: b.PoolID[:], ColdVKey: b.Cold[:], Cert: certCBOR,
			Counter: f.cert.Counter, KESPeriod: f.cert.KESPeriod, KESSkey: kes, VRFSkey: []byte{}, Producer: testFingerprint, Checkpoint: []byte{}}
		if _, err := DecryptBundle(bytes.NewReader(sealLegacy(t, encode(legacy), f.identity.Recipient())), f.identity); !errors.Is(err, ErrFormat) {
			t.Errorf("%s, version 1: got %v, want ErrFormat", name, err)
		}
	}
}

// TestStockAgeCLI: the Debian age CLI decrypts our bundle with the
// producer's identity file, and a bundle it encrypts is accepted.
func TestStockAgeCLI(t *testing.T) {
	agePath, err := exec.LookPath("age")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("the age CLI is not installed (apt-get install age)")
		}
		t.Skip("the age CLI is not installed (apt-get install age); CI fails instead")
	}
	f := newFixture(t)
	dir := t.TempDir()
	idFile := filepath.Join(dir, "identity.txt")
	if err := os.WriteFile(idFile, []byte(f.identity.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b := &Bundle{Magic: 1, PoolID: f.cold.Public().PoolID(), Cold: f.cold.Public(), Cert: f.cert, KES: f.kes, Producer: testFingerprint, Created: t0}
	var buf bytes.Buffer
	if err := b.Encrypt(&buf, f.identity.Recipient()); err != nil {
		t.Fatal(err)
	}
	bundleFile := filepath.Join(dir, "b.age")
	if err := os.WriteFile(bundleFile, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	plain, err := exec.Command(agePath, "-d", "-i", idFile, bundleFile).Output()
	if err != nil {
		t.Fatalf("age -d: %v", err)
	}
	got, err := parseBundle(plain)
	if err != nil {
		t.Fatalf("plaintext from age -d: %v", err)
	}
	if *got.Cert != *f.cert {
		t.Error("cert differs after age -d")
	}
	// Now the other way: age encrypts the same plaintext to our recipient.
	plainFile := filepath.Join(dir, "plain")
	if err := os.WriteFile(plainFile, plain, 0o600); err != nil {
		t.Fatal(err)
	}
	enc, err := exec.Command(agePath, "-e", "-r", f.identity.Recipient().String(), plainFile).Output()
	if err != nil {
		t.Fatalf("age -e: %v", err)
	}
	if _, err := DecryptBundle(bytes.NewReader(enc), f.identity); err != nil {
		t.Errorf("bundle encrypted by the age CLI: %v", err)
	}
}

func TestFramesScanAnySubset(t *testing.T) {
	// A fixed message of a first-install bundle's size, so that which
	// frames suffice is the same on every run (a real bundle is random).
	buf := bytes.NewBuffer(fakeAge(bytes.Repeat([]byte("kesrotate bundle "), 80)))
	dir := t.TempDir()
	files, err := WriteQR(dir, URBundle, buf.Bytes(), DefaultFragmentLen)
	if err != nil {
		t.Fatal(err)
	}
	frames := files[:len(files)-1] // without the contact sheet
	if len(frames) < 6 {
		t.Fatalf("only %d frames for %d bytes", len(frames), buf.Len())
	}
	// Reverse order, drop two frames, repeat one.
	var subset []string
	for i := len(frames) - 1; i >= 0; i-- {
		if i == 1 || i == 3 {
			continue
		}
		subset = append(subset, frames[i])
	}
	subset = append(subset, frames[0])
	// A frame of another transfer.
	other := t.TempDir()
	otherFiles, err := WriteQR(other, URBundle, fakeAge(bytes.Repeat([]byte("x"), 900)), DefaultFragmentLen)
	if err != nil {
		t.Fatal(err)
	}
	subset = append([]string{otherFiles[2]}, subset...)
	data, warnings, err := Scan(subset, URBundle)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, buf.Bytes()) {
		t.Error("scanned bytes differ from the bundle file")
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "1 other transfer") {
		t.Errorf("warnings: %q, want one about the foreign frame", warnings)
	}
	// Too few frames.
	if _, _, err := Scan(frames[:2], URBundle); !errors.Is(err, ErrIncomplete) {
		t.Errorf("two frames: got %v, want ErrIncomplete", err)
	}
	// The contact sheet alone is enough.
	if data, _, err := Scan(files[len(files)-1:], URBundle); err != nil || !bytes.Equal(data, buf.Bytes()) {
		t.Errorf("contact sheet: %v", err)
	}
}

func TestSnapshotAndEnrollmentFitOneQR(t *testing.T) {
	f := newFixture(t)
	s := f.snapshot()
	vk := f.kes.Public()
	s.KESVKey = &vk
	e, _ := f.enroll.Marshal(f.signKey)
	for name, data := range map[string][]byte{"snapshot": s.Marshal(f.signKey), "enrollment": e} {
		frames, err := Frames(URSnapshot, data, SingleFragmentLen)
		if err != nil || len(frames) != 1 {
			t.Errorf("%s: %d frames, %v", name, len(frames), err)
		}
		p := filepath.Join(t.TempDir(), "q.png")
		if err := WriteSingleQR(p, URSnapshot, data); err != nil {
			t.Fatal(err)
		}
		got, _, err := Scan([]string{p}, URSnapshot)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s QR round trip: %v", name, err)
		}
	}
}

// TestZbarimgReadsEveryFrame: an independent QR reader (zbarimg) reads every
// frame WriteQR draws for a real bundle, and its text rebuilds the file.
func TestZbarimgReadsEveryFrame(t *testing.T) {
	zbar, err := exec.LookPath("zbarimg")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("zbarimg is not installed (apt-get install zbar-tools)")
		}
		t.Skip("zbarimg is not installed (apt-get install zbar-tools); CI fails instead")
	}
	f := newFixture(t)
	var buf bytes.Buffer
	b := &Bundle{Magic: 1, PoolID: f.cold.Public().PoolID(), Cold: f.cold.Public(), Cert: f.cert, KES: f.kes, VRF: f.vrf, Producer: testFingerprint, Created: t0}
	if err := b.Encrypt(&buf, f.identity.Recipient()); err != nil {
		t.Fatal(err)
	}
	files, err := WriteQR(t.TempDir(), URBundle, buf.Bytes(), DefaultFragmentLen)
	if err != nil {
		t.Fatal(err)
	}
	dec := ur.NewDecoder()
	for _, p := range files[:len(files)-1] {
		out, err := exec.Command(zbar, "--raw", "-q", p).Output()
		if err != nil {
			t.Fatalf("zbarimg %s: %v", filepath.Base(p), err)
		}
		text := strings.TrimSpace(string(out))
		if !strings.HasPrefix(text, "UR:KESROTATE-BUNDLE/") {
			t.Fatalf("zbarimg read %.40q from %s", text, filepath.Base(p))
		}
		if err := dec.Receive(text); err != nil {
			t.Fatalf("%s: %v", filepath.Base(p), err)
		}
	}
	got, err := dec.Result()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, buf.Bytes()) {
		t.Error("the frames zbarimg read do not rebuild the bundle file")
	}
}

// mjpeg encodes images as baseline JPEGs one after another, the way a
// webcam tool writes MJPEG to a pipe.
func mjpeg(t *testing.T, imgs ...image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	for _, img := range imgs {
		if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func TestScanStream(t *testing.T) {
	data := fakeAge(bytes.Repeat([]byte("kesrotate bundle "), 80))
	frames, err := Frames(URBundle, data, DefaultFragmentLen)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := Frames(URBundle, fakeAge(bytes.Repeat([]byte("old transfer "), 40)), DefaultFragmentLen)
	blank := image.NewGray(image.Rect(0, 0, 320, 240))
	var imgs []image.Image
	imgs = append(imgs, blank) // the camera sees no code yet
	for i, fr := range frames {
		img, err := qr.EncodeImage(fr, qr.Options{ModuleSize: 4})
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, img, img) // each frame seen twice
		if i == 2 {
			o, _ := qr.EncodeImage(other[0], qr.Options{ModuleSize: 4})
			imgs = append(imgs, o, blank)
		}
	}
	got, warnings, err := ScanStream(bytes.NewReader(mjpeg(t, imgs...)), URBundle)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Error("the stream did not rebuild the file")
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "1 other transfer") {
		t.Errorf("warnings %q, want one about the other transfer", warnings)
	}
	// Too few frames, and a stream cut inside a frame.
	short := mjpeg(t, imgs[:3]...)
	if _, _, err := ScanStream(bytes.NewReader(short), URBundle); !errors.Is(err, ErrIncomplete) {
		t.Errorf("short stream: got %v, want ErrIncomplete", err)
	}
	if _, _, err := ScanStream(bytes.NewReader(short[:len(short)-100]), URBundle); !errors.Is(err, ErrFormat) {
		t.Errorf("cut stream: got %v, want ErrFormat", err)
	}
}

func FuzzScanStream(f *testing.F) {
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xD9})
	f.Add(append([]byte("junk"), 0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02, 0x12, 0xFF, 0x00, 0xFF, 0xD9))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _, _ = ScanStream(bytes.NewReader(data), URBundle)
	})
}

// Scan reads image files given on a command line: a FIFO nobody writes to
// would block it forever and /dev/zero would grow its buffer without end.
func TestScanRefusesFIFOsAndDevices(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "frames.png")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, path string }{{"fifo", fifo}, {"dev-zero", "/dev/zero"}} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Scan([]string{tc.path}, URBundle)
			if !errors.Is(err, safefile.ErrNotRegular) {
				t.Errorf("got %v, want ErrNotRegular", err)
			}
		})
	}
}

// ScanStream looks for the start of a JPEG frame; an endless stream of
// bytes that never holds one must end the scan, not spin forever.
func TestScanStreamGivesUpOnEndlessNoise(t *testing.T) {
	_, _, err := ScanStream(io.LimitReader(zeros{}, 4*MaxStreamGap), URBundle)
	if !errors.Is(err, ErrFormat) {
		t.Errorf("got %v, want ErrFormat", err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// A frame someone slipped in (shown first on a screen, printed on top of
// the pile) must not decide the scan: frames that do not fit the transfer
// the others make up are skipped and reported.
func TestScanSkipsACraftedFrame(t *testing.T) {
	data := fakeAge(bytes.Repeat([]byte("kesrotate bundle "), 80))
	dir := t.TempDir()
	files, err := WriteQR(dir, URBundle, data, DefaultFragmentLen)
	if err != nil {
		t.Fatal(err)
	}
	frames := files[:len(files)-1]
	texts, err := Frames(URBundle, data, DefaultFragmentLen)
	if err != nil {
		t.Fatal(err)
	}
	head, err := ur.Inspect(texts[0])
	if err != nil {
		t.Fatal(err)
	}
	single, err := ur.EncodeSingle(URBundle, []byte("a bundle of someone else's making"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, text string }{
		// A complete one-part "bundle": it used to win at once.
		{"single-part", single},
		// The real transfer's header (sequence, length, checksum) with
		// other data for its first fragment: every real frame joined it
		// and the message failed its checksum.
		{"poisoned-fragment", craftedPart(head, 1, bytes.Repeat([]byte{0x5a}, head.FragmentLen))},
		{"poisoned-mixed-part", craftedPart(head, 1000, bytes.Repeat([]byte{0xa5}, head.FragmentLen))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			png, err := qr.EncodePNG(tc.text, qr.Options{})
			if err != nil {
				t.Fatal(err)
			}
			crafted := filepath.Join(t.TempDir(), "crafted.png")
			if err := os.WriteFile(crafted, png, 0o644); err != nil {
				t.Fatal(err)
			}
			got, warnings, err := Scan(append([]string{crafted}, frames...), URBundle)
			if err != nil {
				t.Fatalf("got %v, want the bundle", err)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("got %d bytes that are not the bundle", len(got))
			}
			if len(warnings) == 0 || !strings.Contains(strings.Join(warnings, "\n"), "crafted.png") {
				t.Errorf("warnings %q, want one naming crafted.png", warnings)
			}
			img, err := qr.EncodeImage(tc.text, qr.Options{ModuleSize: 4})
			if err != nil {
				t.Fatal(err)
			}
			imgs := []image.Image{img}
			for _, fr := range texts {
				im, err := qr.EncodeImage(fr, qr.Options{ModuleSize: 4})
				if err != nil {
					t.Fatal(err)
				}
				imgs = append(imgs, im)
			}
			got, _, err = ScanStream(bytes.NewReader(mjpeg(t, imgs...)), URBundle)
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("stream: got %d bytes, %v; want the bundle", len(got), err)
			}
		})
	}
}

// Two different complete single-part transfers of one type cannot both be
// meant: the scan refuses to choose.
func TestScanRefusesTwoDifferentSnapshots(t *testing.T) {
	var paths []string
	for i, body := range []string{"one snapshot", "another snapshot"} {
		text, err := ur.EncodeSingle(URSnapshot, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		png, err := qr.EncodePNG(text, qr.Options{})
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), fmt.Sprintf("snap-%d.png", i))
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	if _, _, err := Scan(paths, URSnapshot); !errors.Is(err, ErrAmbiguous) {
		t.Errorf("got %v, want ErrAmbiguous", err)
	}
	if got, _, err := Scan(paths[:1], URSnapshot); err != nil || string(got) != "one snapshot" {
		t.Errorf("one image: got %q, %v", got, err)
	}
}

// craftedPart is a multipart UR part with head's transfer header and the
// given sequence number and fragment: what someone who saw one real frame
// can make.
func craftedPart(head ur.PartInfo, seqNum uint32, fragment []byte) string {
	putUint := func(b []byte, v uint64) []byte {
		switch {
		case v < 24:
			return append(b, byte(v))
		case v < 1<<8:
			return append(b, 0x18, byte(v))
		case v < 1<<16:
			return append(b, 0x19, byte(v>>8), byte(v))
		}
		return append(b, 0x1a, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
	b := []byte{0x85}
	b = putUint(b, uint64(seqNum))
	b = putUint(b, uint64(head.SeqLen))
	b = putUint(b, uint64(head.MessageLen))
	b = putUint(b, uint64(head.Checksum))
	n := len(b)
	b = putUint(b, uint64(len(fragment)))
	b[n] |= 0x40 // major type 2: byte string
	b = append(b, fragment...)
	return fmt.Sprintf("ur:%s/%d-%d/%s", head.Type, seqNum, head.SeqLen, ur.EncodeBytewords(ur.Minimal, b))
}

// A bundle reader given a key file by mistake (the agent's snapshot.key,
// a hex seed) used to print its first 11 bytes in age's "unexpected
// intro" error.
func TestDecryptBundleErrorsNeverQuoteTheInput(t *testing.T) {
	f := newFixture(t)
	seed := "bb677ea74db5378c8e406a11223344556677889900aabbccddeeff0011223344"
	var good bytes.Buffer
	if err := (&Bundle{Magic: 1, PoolID: f.cold.Public().PoolID(), Cold: f.cold.Public(), Cert: f.cert, KES: f.kes,
		Producer: f.enroll.Fingerprint(), Created: t0}).Encrypt(&good, f.identity.Recipient()); err != nil {
		t.Fatal(err)
	}
	cut := good.Bytes()[:good.Len()-20]
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"hex-seed", []byte(seed + "\n")},
		{"age-header-with-seed", []byte("age-encryption.org/v1\n-> X25519 " + seed + "\n")},
		{"cut-payload", cut},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecryptBundle(bytes.NewReader(tc.in), f.identity)
			if !errors.Is(err, ErrDecrypt) {
				t.Fatalf("got %v, want ErrDecrypt", err)
			}
			if strings.Contains(err.Error(), seed[:8]) {
				t.Errorf("error %q quotes the input", err)
			}
		})
	}
}

// smallOrder is the identity point's encoding: an Ed25519 "public key" for
// which the signature identity‖0 verifies on every message.
var smallOrder = append([]byte{1}, make([]byte, 31)...)

func universalSignature() []byte { return append(bytes.Clone(smallOrder), make([]byte, 32)...) }

func TestSmallOrderKeysAreRefused(t *testing.T) {
	f := newFixture(t)
	if !ed25519.Verify(smallOrder, []byte("any message at all"), universalSignature()) {
		t.Fatal("the premise: a small-order key verifies every message")
	}
	e := *f.enroll
	e.SignKey = smallOrder
	enrollment := encode(wireSigned{Body: e.body(), Sig: universalSignature()})
	if _, err := ParseEnrollment(enrollment); !errors.Is(err, keys.ErrWeakKey) {
		t.Errorf("enrollment with a small-order key: got %v, want ErrWeakKey", err)
	}
	body := encode(wireSnapshotBody{Magic: MagicSnapshot, Version: Version, Network: 1, SlotsPerKESPeriod: 129600,
		MaxKESEvolutions: 62, PoolID: make([]byte, 28), KESVKey: []byte{}})
	snapshot := encode(wireSigned{Body: body, Sig: universalSignature()})
	if _, err := ParseSnapshot(snapshot, smallOrder); !errors.Is(err, keys.ErrWeakKey) {
		t.Errorf("snapshot checked against a small-order key: got %v, want ErrWeakKey", err)
	}
}

// The producer's fingerprint is what the agent compares with its own: a
// bundle without one must not parse (an empty one skipped the check).
func TestBundleWithoutProducerFingerprintIsRefused(t *testing.T) {
	f := newFixture(t)
	for _, fp := range []string{"", "not-a-fingerprint", "abcd-efgh-ijkl-mnop"} {
		t.Run(fmt.Sprintf("%q", fp), func(t *testing.T) {
			b := &Bundle{Magic: 1, PoolID: f.cold.Public().PoolID(), Cold: f.cold.Public(), Cert: f.cert, KES: f.kes, Producer: fp, Created: t0}
			certCBOR, _ := f.cert.MarshalCBOR()
			plain := encode(wireBundle{Magic: MagicBundle, Version: Version, Network: 1, PoolID: b.PoolID[:], ColdVKey: b.Cold[:],
				Cert: certCBOR, Counter: f.cert.Counter, KESPeriod: f.cert.KESPeriod, KESSkey: f.kes.Raw(), VRFSkey: []byte{},
				Producer: fp, Checkpoint: []byte{}, Created: t0.Unix()})
			if _, err := parseBundle(plain); !errors.Is(err, ErrFormat) {
				t.Errorf("parse: got %v, want ErrFormat", err)
			}
			if err := b.Encrypt(io.Discard, f.identity.Recipient()); !errors.Is(err, ErrFormat) {
				t.Errorf("encrypt: got %v, want ErrFormat", err)
			}
		})
	}
}

// Text a producer writes reaches the cold machine's screen and its log:
// control characters and bidirectional overrides must not.
func TestProducerTextIsPlain(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct{ name, text string }{
		{"bidi-override", "bp1\u202e1pb"},
		{"escape-sequence", "bp1\x1b[2J"},
		{"newline", "bp1\nkesrotate: error: forged"},
		{"zero-width", "bp\u200b1"},
		{"too-long", strings.Repeat("b", 65)},
	} {
		t.Run("enrollment-name/"+tc.name, func(t *testing.T) {
			e := *f.enroll
			e.Name = tc.text
			data, err := e.Marshal(f.signKey)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ParseEnrollment(data); !errors.Is(err, ErrFormat) {
				t.Errorf("got %v, want ErrFormat", err)
			}
		})
	}
	for _, hash := range []string{"ab\u202e" + strings.Repeat("ab", 31), strings.Repeat("AB", 32), strings.Repeat("ab", 31), "none"} {
		t.Run(fmt.Sprintf("installed-cert-hash/%q", hash), func(t *testing.T) {
			s := f.snapshot()
			s.Installed.CertHash = hash
			if _, err := ParseSnapshot(s.Marshal(f.signKey), f.signKey.Public().(ed25519.PublicKey)); !errors.Is(err, ErrFormat) {
				t.Errorf("got %v, want ErrFormat", err)
			}
		})
	}
	s := f.snapshot()
	s.Installed = nil
	if _, err := ParseSnapshot(s.Marshal(f.signKey), f.signKey.Public().(ed25519.PublicKey)); err != nil {
		t.Errorf("no installed cert: %v", err)
	}
}

// IgnoreClock is bounded: a snapshot whose tip is more than
// MaxClockOverride KES periods from the cold clock is refused even with it
// (a future-dated snapshot accepted once used to block every normal
// rotation for its periods).
func TestIgnoreClockIsBounded(t *testing.T) {
	f := newFixture(t)
	s := f.snapshot()
	pub := f.signKey.Public().(ed25519.PublicKey)
	period := opcert.Mainnet.KESPeriod(s.TipSlot)
	for _, tc := range []struct {
		name  string
		shift int64 // KES periods the cold clock is behind the snapshot
		want  error
	}{
		{"one period ahead", 1, nil},
		{"four ahead", MaxClockOverride, nil},
		{"five ahead", MaxClockOverride + 1, ErrClockSkew},
		{"fifty ahead", 50, ErrClockSkew},
		{"four behind", -MaxClockOverride, nil},
		{"five behind", -MaxClockOverride - 1, ErrClockSkew},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := opcert.Mainnet.PeriodStart(uint64(int64(period) - tc.shift)).Add(time.Hour)
			got, err := ParseSnapshot(s.Marshal(f.signKey), pub)
			if err != nil {
				t.Fatal(err)
			}
			_, err = got.Check(SnapshotPolicy{Network: opcert.Mainnet, PoolID: s.PoolID, Now: clock, IgnoreClock: true, AllowStale: true})
			if !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// One rotation sealed to a primary and a standby: each decrypts it with
// its own identity and finds both named; a bundle for one producer stays
// version 1, readable by agents that know only that version.
func TestBundleSealedToSeveralProducers(t *testing.T) {
	f := newFixture(t)
	standby, _ := age.GenerateX25519Identity()
	b := &Bundle{Magic: opcert.Mainnet.Magic, PoolID: f.cold.Public().PoolID(), Cold: f.cold.Public(), Cert: f.cert,
		KES: f.kes, Producer: f.enroll.Fingerprint(), Producers: []string{f.enroll.Fingerprint(), "ABCD-EFGH-IJKL-MNOP"}, Created: t0}
	var buf bytes.Buffer
	if err := b.Encrypt(&buf, f.identity.Recipient(), standby.Recipient()); err != nil {
		t.Fatal(err)
	}
	for _, id := range []age.Identity{f.identity, standby} {
		got, err := DecryptBundle(bytes.NewReader(buf.Bytes()), id)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got.AllProducers()) != fmt.Sprint(b.Producers) || got.KES.Public() != f.kes.Public() {
			t.Errorf("got producers %v, want %v", got.AllProducers(), b.Producers)
		}
	}
	tests := []struct {
		name      string
		producers []string
		recips    int
		want      string
	}{
		{"a producer named twice", []string{f.enroll.Fingerprint(), f.enroll.Fingerprint()}, 2, "named twice"},
		{"fewer recipients than producers", []string{f.enroll.Fingerprint(), "ABCD-EFGH-IJKL-MNOP"}, 1, "recipients"},
		{"a malformed fingerprint", []string{f.enroll.Fingerprint(), "nope"}, 2, "fingerprint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := *b
			c.Producers = tt.producers
			rs := []age.Recipient{f.identity.Recipient(), standby.Recipient()}[:tt.recips]
			if err := c.Encrypt(io.Discard, rs...); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
	// One producer: version 3 on the wire, naming it.
	single := *b
	single.Producers = nil
	plain := bytes.Buffer{}
	if err := single.Encrypt(&plain, f.identity.Recipient()); err != nil {
		t.Fatal(err)
	}
	r, err := age.Decrypt(&plain, f.identity)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(r)
	var w wireBundleV3
	if err := decode("bundle", raw, &w); err != nil || w.Version != 3 || len(w.Producers) != 1 {
		t.Errorf("single-producer bundle: version %d, %d producers, %v; want version 3, 1", w.Version, len(w.Producers), err)
	} else if fp, _ := fingerprintText(w.Producers[0]); fp != f.enroll.Fingerprint() {
		t.Errorf("single-producer bundle names %s, want %s", fp, f.enroll.Fingerprint())
	}
}

// sealLegacy age-encrypts a plaintext bundle as an older kesrotate wrote it.
func sealLegacy(t *testing.T, plain []byte, r age.Recipient) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(plain); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// A stale snapshot says which side is off: a node that was still syncing
// when the producer signed, or a snapshot made long ago (or a cold clock
// ahead).
func TestStaleSnapshotSaysWhy(t *testing.T) {
	f := newFixture(t)
	s := f.snapshot()
	s.Created = s.TipTime.Add(3 * time.Hour) // signed while the node trailed by 3h
	p := SnapshotPolicy{Network: opcert.Mainnet, PoolID: s.PoolID, Now: s.Created.Add(time.Minute), MaxAge: time.Hour, IgnoreClock: true}
	if _, err := s.Check(p); !errors.Is(err, ErrStale) || !strings.Contains(err.Error(), "the producer's node was still syncing") {
		t.Errorf("syncing: got %v", err)
	}
	s.Created = s.TipTime.Add(time.Minute)
	p.Now = s.Created.Add(3 * time.Hour)
	if _, err := s.Check(p); !errors.Is(err, ErrStale) || !strings.Contains(err.Error(), "either it is that old, or this clock is ahead") {
		t.Errorf("old or clock ahead: got %v", err)
	}
}

// fakeAge is body behind an age header: what the QR code of a bundle
// carries, for tests about frames rather than about encryption.
func fakeAge(body []byte) []byte { return append([]byte(ageV1Header), body...) }
