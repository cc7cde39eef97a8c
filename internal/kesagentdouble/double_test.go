package kesagentdouble

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blinklabs-io/gouroboros/kes"
	"github.com/fxamacker/cbor/v2"
)

// Sources: input-output-hk/kes-agent at 19ffbb0, the files the package doc
// names; each test says which one it holds the double to.

// preprodLike is a genesis whose KES periods are 129600 one-second slots
// from 2022-06-20, so that 2026-11-21T06:00:00Z is period 1076.
const preprodLike = `{"systemStart":"2022-06-20T00:00:00Z","slotLength":1,"slotsPerKESPeriod":129600,"networkMagic":1,"maxKESEvolutions":62}`

var t0 = time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)

type fixture struct {
	t       *testing.T
	dir     string
	control string
	service string
	cold    ed25519.PrivateKey
	srv     *Server
	now     time.Time
	mu      sync.Mutex
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir, err := os.MkdirTemp("", "kad") // short: unix socket paths
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	g, err := ParseGenesis([]byte(preprodLike))
	if err != nil {
		t.Fatal(err)
	}
	_, cold, _ := ed25519.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{7}, 64)))
	f := &fixture{t: t, dir: dir, control: filepath.Join(dir, "c.sock"), service: filepath.Join(dir, "s.sock"), cold: cold, now: t0}
	a := NewAgent(cold.Public().(ed25519.PublicKey), g, f.clock, nil)
	if f.srv, err = Listen(a, f.service, f.control); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.srv.Close() })
	return f
}

func (f *fixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(time.Millisecond) // a real clock never stands still
	return f.now
}

func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

// ctl runs kes-agent-control in f.dir with the control socket given.
func (f *fixture) ctl(args ...string) (string, string, int) {
	f.t.Helper()
	wd, _ := os.Getwd()
	if err := os.Chdir(f.dir); err != nil {
		f.t.Fatal(err)
	}
	defer os.Chdir(wd)
	var out, errb bytes.Buffer
	code := ControlMain(append([]string{"--control-address", f.control}, args...), func(string) string { return "" }, &out, &errb)
	return out.String(), errb.String(), code
}

// cert writes an op cert file for vk as cardano-cli writes one.
func (f *fixture) cert(name string, vk []byte, n, c0 uint64, signer ed25519.PrivateKey) string {
	f.t.Helper()
	oc := OCert{N: n, KESPeriod: c0}
	copy(oc.VKHot[:], vk)
	copy(oc.Sigma[:], ed25519.Sign(signer, oc.signable()))
	raw, err := cbor.Marshal([]any{[]any{oc.VKHot[:], n, c0, oc.Sigma[:]}, []byte(f.cold.Public().(ed25519.PublicKey))})
	if err != nil {
		f.t.Fatal(err)
	}
	env := fmt.Sprintf("{\n    \"type\": \"NodeOperationalCertificate\",\n    \"description\": \"\",\n    \"cborHex\": \"%x\"\n}\n", raw)
	p := filepath.Join(f.dir, name)
	if err := os.WriteFile(p, []byte(env), 0o644); err != nil {
		f.t.Fatal(err)
	}
	return p
}

// stage runs gen-staged-key and returns the staged vkey.
func (f *fixture) stage() []byte {
	f.t.Helper()
	out, _, code := f.ctl("gen-staged-key", "--kes-verification-key-file", "k.vkey")
	if code != 0 {
		f.t.Fatalf("gen-staged-key exit %d: %s", code, out)
	}
	b, err := os.ReadFile(filepath.Join(f.dir, "k.vkey"))
	if err != nil {
		f.t.Fatal(err)
	}
	var te struct{ CBORHex string }
	if err := json.Unmarshal(b, &te); err != nil {
		f.t.Fatal(err)
	}
	vk, _ := hex.DecodeString(strings.TrimPrefix(te.CBORHex, "5820"))
	return vk
}

// ControlMain.hs runGenKey and TextEnvelope.hs encodeTextEnvelopeFile.
func TestGenStagedKeyOutputAndFile(t *testing.T) {
	f := newFixture(t)
	out, errOut, code := f.ctl("gen-staged-key", "--kes-verification-key-file", "k.vkey")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if want := "Asking agent to generate a key...\nKES SignKey generated.\nKES VerKey written to k.vkey\n"; out != want {
		t.Errorf("stdout %q, want %q", out, want)
	}
	b, _ := os.ReadFile(filepath.Join(f.dir, "k.vkey"))
	re := regexp.MustCompile(`^\{"cborHex":"5820[0-9a-f]{64}","description":"KES verification","type":"KesVerificationKey_ed25519_kes_2\^6"\}$`)
	if !re.Match(b) {
		t.Errorf("vkey file %q is not aeson's compact envelope", b)
	}
	// Default file kes.vkey; "-" prints the envelope and a newline.
	out, _, _ = f.ctl("export-staged-vkey")
	if out != "KES VerKey written to kes.vkey\n" {
		t.Errorf("export default: %q", out)
	}
	out, _, _ = f.ctl("export-staged-vkey", "--kes-verification-key-file", "-")
	if !re.MatchString(strings.TrimSuffix(out, "\n")) || !strings.HasSuffix(out, "}\n") {
		t.Errorf("export to stdout: %q", out)
	}
}

// ControlMain.hs runQueryKey, runDropStagedKey, runInstallKey; RecvResult.hs.
func TestNoStagedKey(t *testing.T) {
	f := newFixture(t)
	if out, _, code := f.ctl("export-staged-vkey", "--kes-verification-key-file", "x.vkey"); out != "No key available.\n" || code != 0 {
		t.Errorf("export: %q exit %d", out, code)
	}
	if _, err := os.Stat(filepath.Join(f.dir, "x.vkey")); err == nil {
		t.Error("a vkey file was written without a staged key")
	}
	vk := make([]byte, 32)
	p := f.cert("c.cert", vk, 1, 1076, f.cold)
	if out, _, code := f.ctl("install-key", "--opcert-file", p); out != "Error: No KES key found\n" || code != 3 {
		t.Errorf("install without staged key: %q exit %d, want RecvErrorNoKey (3)", out, code)
	}
	if out, _, code := f.ctl("drop-staged-key"); out != "Staged key dropped.\n" || code != 0 {
		t.Errorf("drop-staged-key: %q exit %d", out, code)
	}
}

// ControlActions.hs installKey takes the staged key out first; OCert.hs
// validateOCert; RecvResult.hs enum order for the exit code.
func TestRefusedCertLosesStagedKey(t *testing.T) {
	f := newFixture(t)
	vk := f.stage()
	_, other, _ := ed25519.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{9}, 64)))
	p := f.cert("bad.cert", vk, 1, 1076, other)
	out, _, code := f.ctl("install-key", "--opcert-file", p)
	if out != "Error: OpCert validation failed\n" || code != 2 {
		t.Errorf("foreign signature: %q exit %d, want RecvErrorInvalidOpCert (2)", out, code)
	}
	if out, _, _ := f.ctl("export-staged-vkey", "--kes-verification-key-file", "y.vkey"); out != "No key available.\n" {
		t.Errorf("after a refused install the staged key should be gone: %q", out)
	}
	// A cert for another key: "Verification key does not match".
	f.stage()
	p = f.cert("wrong.cert", make([]byte, 32), 1, 1076, f.cold)
	if out, _, code := f.ctl("install-key", "--opcert-file", p); code != 2 {
		t.Errorf("cert for another key: %q exit %d", out, code)
	}
}

// CommonActions.hs isTaggedBundleAgeValid; ControlMain.hs runInstallKey,
// runDropKey.
func TestCounterRules(t *testing.T) {
	f := newFixture(t)
	install := func(n uint64) (string, int) {
		vk := f.stage()
		out, _, code := f.ctl("install-key", "--opcert-file", f.cert("c.cert", vk, n, 1076, f.cold))
		return out, code
	}
	if out, code := install(5); out != "KES key installed.\n" || code != 0 {
		t.Fatalf("first install: %q exit %d", out, code)
	}
	if out, code := install(4); out != "Error: KES key outdated\n" || code != 1 {
		t.Errorf("lower counter: %q exit %d, want RecvErrorKeyOutdated (1)", out, code)
	}
	if out, code := install(5); code != 0 {
		t.Errorf("equal counter is taken (snCurrent <= snNew): %q exit %d", out, code)
	}
	if out, _, code := f.ctl("drop-key"); out != "KES key dropped.\n" || code != 0 {
		t.Errorf("drop-key: %q exit %d", out, code)
	}
	info, _, _ := f.ctl("info")
	if !strings.Contains(info, "--- Installed KES SignKey ---\nTimestamp: ") || !strings.Contains(info, "{KEY DELETED}") {
		t.Errorf("info after drop-key:\n%s", info)
	}
	if out, code := install(3); code != 0 {
		t.Errorf("after a deletion any counter is taken: %q exit %d", out, code)
	}
}

// ControlMain.hs runGetInfo; ControlActions.hs getInfo; Evolution.hs.
func TestInfoLayout(t *testing.T) {
	f := newFixture(t)
	vk := f.stage()
	if _, _, code := f.ctl("install-key", "--opcert-file", f.cert("c.cert", vk, 7, 1075, f.cold)); code != 0 {
		t.Fatal("install failed")
	}
	staged := f.stage()
	out, _, code := f.ctl("info")
	if code != 0 {
		t.Fatalf("info exit %d", code)
	}
	re := regexp.MustCompile(`^--- Agent ---
Agent version: 1\.1\.0\.0
Connected via: ` + regexp.QuoteMeta(f.control) + `
Current time: 2026-11-21 06:00:00\.\d+ UTC
Current KES period: 1076
Current KES period started: 2026-11-20 00:00:00 UTC
Next KES period starts: 2026-11-21 12:00:00 UTC
--- Installed KES SignKey ---
Timestamp: 2026-11-21 06:00:00\.\d+ UTC
VerKey: ` + hex.EncodeToString(vk) + `
Valid from period: 1075
Current evolution: 1 / 64
OpCert number: 7
OpCert signature: [0-9a-f]{128}
--- Staged KES SignKey ---
VerKey: ` + hex.EncodeToString(staged) + `
$`)
	if !re.MatchString(out) {
		t.Errorf("info:\n%s", out)
	}
}

// Evolution.hs updateKESTo: a cert that starts after the agent's period
// wraps the Word difference; the key is dropped as expired and the store
// left empty.
func TestCertFromTheFutureIsDropped(t *testing.T) {
	f := newFixture(t)
	vk := f.stage()
	out, _, code := f.ctl("install-key", "--opcert-file", f.cert("c.cert", vk, 1, 1077, f.cold))
	if code != 0 {
		t.Fatalf("install: %q", out)
	}
	info, _, _ := f.ctl("info")
	if strings.Contains(info, "Installed KES SignKey") {
		t.Errorf("a cert from period 1077 at agent period 1076 should leave no key:\n%s", info)
	}
}

// CommonActions.hs checkEvolution: the key follows the agent's clock and
// is dropped past its last evolution.
func TestEvolutionFollowsClock(t *testing.T) {
	f := newFixture(t)
	vk := f.stage()
	f.ctl("install-key", "--opcert-file", f.cert("c.cert", vk, 1, 1076, f.cold))
	f.advance(3 * 129600 * time.Second)
	info, _, _ := f.ctl("info")
	if !strings.Contains(info, "Current KES period: 1079\n") || !strings.Contains(info, "Current evolution: 3 / 64\n") {
		t.Errorf("after three periods:\n%s", info)
	}
	f.advance(61 * 129600 * time.Second)
	info, _, _ = f.ctl("info")
	if strings.Contains(info, "Installed KES SignKey") {
		t.Errorf("evolution 64 does not exist: the key should be gone:\n%s", info)
	}
}

// ControlMain.hs runGetInfo handleConnectionError, and GHC's top-level
// handler for the other commands.
func TestNoAgent(t *testing.T) {
	var out, errb bytes.Buffer
	code := ControlMain([]string{"--control-address", "/nonexistent/c.sock", "info"}, func(string) string { return "" }, &out, &errb)
	want := "kes-agent-control: Network.Socket.connect: <socket: 3>: does not exist (No such file or directory)\n"
	if code != 1 || errb.String() != want || out.Len() != 0 {
		t.Errorf("exit %d stdout %q stderr %q", code, out.String(), errb.String())
	}
	out.Reset()
	errb.Reset()
	code = ControlMain([]string{"gen-staged-key"}, func(k string) string {
		if k == "KES_AGENT_CONTROL_PATH" {
			return "/nonexistent/env.sock"
		}
		return ""
	}, &out, &errb)
	if code != 1 || out.String() != "Asking agent to generate a key...\n" || !strings.Contains(errb.String(), "does not exist") {
		t.Errorf("gen-staged-key via $KES_AGENT_CONTROL_PATH: exit %d %q %q", code, out.String(), errb.String())
	}
}

// ControlMain.hs: install-key reads kes.vkey when no --opcert-file is
// given (defInstallKeyOptions), and a file of another type is reported
// with exit 0.
func TestInstallKeyDefaultsAndDecodeErrors(t *testing.T) {
	f := newFixture(t)
	f.stage()
	os.Rename(filepath.Join(f.dir, "k.vkey"), filepath.Join(f.dir, "kes.vkey"))
	out, _, code := f.ctl("install-key")
	if code != 0 || out != "Error: Unexpected text envelope type, expected NodeOperationalCertificate, but found KesVerificationKey_ed25519_kes_2^6\n" {
		t.Errorf("install-key without --opcert-file: %q exit %d", out, code)
	}
	_, errOut, code := f.ctl("install-key", "--opcert-file", "missing.cert")
	if code != 1 || errOut != "kes-agent-control: missing.cert: withBinaryFile: does not exist (No such file or directory)\n" {
		t.Errorf("missing file: exit %d %q", code, errOut)
	}
	if _, errOut, code := f.ctl("info", "--opcert-file", "x"); code != 1 || !strings.HasPrefix(errOut, "Invalid option `--opcert-file'") {
		t.Errorf("option of another command: exit %d %q", code, errOut)
	}
}

// Processes/Agent.hs: a service client gets the current bundle on connect
// and every new one; ServiceClient's drop on drop-key.
func TestServicePushes(t *testing.T) {
	f := newFixture(t)
	vk := f.stage()
	f.ctl("install-key", "--opcert-file", f.cert("c.cert", vk, 2, 1075, f.cold))
	c, err := net.Dial("unix", f.service)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	next := func() WirePush {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		line, err := r.ReadBytes('\n')
		if err != nil {
			t.Fatal(err)
		}
		var p WirePush
		if err := json.Unmarshal(line, &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := next()
	if p.Deleted || p.OCert == nil || p.OCert.N != 2 || p.Evolution != 1 || p.OCert.VK != hex.EncodeToString(vk) {
		t.Fatalf("push on connect: %+v", p)
	}
	raw, _ := hex.DecodeString(p.Key)
	sk := &kes.SecretKey{Depth: kesDepth, Period: p.Evolution, Data: raw}
	sig, err := kes.Sign(sk, 1, []byte("probe"))
	if err != nil || !kes.VerifySignedKES(vk, 1, []byte("probe"), sig) {
		t.Errorf("the pushed key does not sign at its evolution: %v", err)
	}
	f.ctl("drop-key")
	if p := next(); !p.Deleted {
		t.Errorf("after drop-key: %+v", p)
	}
}
