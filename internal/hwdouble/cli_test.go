package hwdouble

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func run(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(args, func(k string) string { return env[k] }, &out, &errb)
	return code, out.String(), errb.String()
}

// The pool cold key of cardano-hw-cli's Ledger tests (see
// TestLedgerPoolColdKey).
const speculosXPub = "3d7e84dca8b4bc322401a2cc814af7c84d2992a22f99554fe340d7df7910768d1e2a47754207da3069f90241fbf3b8742c367e9028e5f3f85ae3660330b4f5b7"

func TestKeyGen(t *testing.T) {
	dir := t.TempDir()
	hw, vk, ctr := filepath.Join(dir, "cold.hwsfile"), filepath.Join(dir, "cold.vkey"), filepath.Join(dir, "cold.counter")
	code, out, errs := run(t, nil, "node", "key-gen", "--path", "1853H/1815H/0H/0H", "--hw-signing-file", hw,
		"--cold-verification-key-file", vk, "--operational-certificate-issue-counter-file", ctr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if want := "Writing to file '" + hw + "'.\nWriting to file '" + vk + "'.\nWriting to file '" + ctr + "'.\n"; out != want {
		t.Errorf("stdout: got %q, want %q", out, want)
	}
	// JSON.stringify(data, null, 4): no newline at the end.
	for _, tc := range []struct{ file, want string }{
		{hw, "{\n    \"type\": \"StakePoolHWSigningFile_ed25519\",\n    \"description\": \"Stake Pool Hardware Signing File\",\n    \"path\": \"1853H/1815H/0H/0H\",\n    \"cborXPubKeyHex\": \"5840" + speculosXPub + "\"\n}"},
		{vk, "{\n    \"type\": \"StakePoolVerificationKey_ed25519\",\n    \"description\": \"Hardware Stake Pool Operator Verification Key\",\n    \"cborHex\": \"5820" + speculosXPub[:64] + "\"\n}"},
		{ctr, "{\n    \"type\": \"NodeOperationalCertificateIssueCounter\",\n    \"description\": \"Next certificate issue number: 0\",\n    \"cborHex\": \"82005820" + speculosXPub[:64] + "\"\n}"},
	} {
		b, err := os.ReadFile(tc.file)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tc.want {
			t.Errorf("%s:\ngot  %s\nwant %s", filepath.Base(tc.file), b, tc.want)
		}
	}
	// Only pool cold key paths.
	code, _, errs = run(t, nil, "node", "key-gen", "--path", "1852H/1815H/0H/0/0", "--hw-signing-file", hw,
		"--cold-verification-key-file", vk, "--operational-certificate-issue-counter-file", ctr)
	if code != 1 || errs != "Error: Invalid node key-gen inputs\n" {
		t.Errorf("payment path: exit %d, %q", code, errs)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestIssueOpCert(t *testing.T) {
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	// The files of cardano-hw-cli's test/integration/ledger/cli/opCert
	// folder: the counter there is a tag 2 bignum (c2 41 02).
	writeFile(t, p("kes.vkey"), `{"type": "KesVerificationKey_ed25519_kes_2^6", "description": "KES Verification Key", "cborHex": "5820f70601c4de155e67797e057c07fb768b5590b2241b05ec30235a85b71e2ae858"}`)
	writeFile(t, p("cold.counter"), `{"type": "NodeOperationalCertificateIssueCounter", "description": "Next certificate issue number: 1", "cborHex": "82c2410158203d7e84dca8b4bc322401a2cc814af7c84d2992a22f99554fe340d7df7910768d"}`)
	writeFile(t, p("cold.hwsfile"), `{"type":"StakePoolHWSigningFileShelley_ed25519","description":"","path":"1853H/1815H/0H/0H","cborXPubKeyHex":"5840`+speculosXPub+`"}`)
	screen := p("screen.txt")
	args := []string{"node", "issue-op-cert", "--kes-verification-key-file", p("kes.vkey"), "--kes-period", "251",
		"--operational-certificate-issue-counter-file", p("cold.counter"), "--hw-signing-file", p("cold.hwsfile"), "--out-file", p("node.cert")}
	code, out, errs := run(t, map[string]string{"HWDOUBLE_SCREEN": screen}, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if want := "Writing to file '" + p("node.cert") + "'.\nWriting to file '" + p("cold.counter") + "'.\n"; out != want {
		t.Errorf("stdout: got %q, want %q", out, want)
	}
	// The device's cert of opCert.ts (opcert1), in cardano-hw-cli's file.
	cert, _ := os.ReadFile(p("node.cert"))
	if want := "{\n    \"type\": \"NodeOperationalCertificate\",\n    \"description\": \"\",\n    \"cborHex\": \"82845820f70601c4de155e67797e057c07fb768b5590b2241b05ec30235a85b71e2ae8580118fb5840b44fcc4505aee4c93a716014ec709d17b28e0c95637384b78d2f8a4cebb92d1e01b54ce952e11771bbeaceda0eaf7a660e5c416f357bdec94e4ce2977997d20458203d7e84dca8b4bc322401a2cc814af7c84d2992a22f99554fe340d7df7910768d\"\n}"; string(cert) != want {
		t.Errorf("node.cert:\ngot  %s\nwant %s", cert, want)
	}
	// The counter file now holds the next number, as a plain integer.
	ctr, _ := os.ReadFile(p("cold.counter"))
	if !strings.Contains(string(ctr), `"description": "Next certificate issue number: 2"`) || !strings.Contains(string(ctr), `"cborHex": "82025820`+speculosXPub[:64]+`"`) {
		t.Errorf("counter after signing: %s", ctr)
	}
	scr, _ := os.ReadFile(screen)
	want := "Start new operational certificate?\nPool cold key path: m/1853'/1815'/0'/0'\nPool ID: " + bech32String("pool", blake2b224(mustHex(speculosXPub[:64]))) +
		"\nKES public key: " + bech32String("kes_vk", mustHex("f70601c4de155e67797e057c07fb768b5590b2241b05ec30235a85b71e2ae858")) +
		"\nKES period: 251\nIssue counter: 1\nConfirm operational certificate?\n"
	if string(scr) != want {
		t.Errorf("screens:\ngot  %s\nwant %s", scr, want)
	}

	// Signing again uses the incremented counter.
	if code, _, errs := run(t, nil, args...); code != 0 {
		t.Fatalf("second signing: exit %d: %s", code, errs)
	}
	ctr, _ = os.ReadFile(p("cold.counter"))
	if !strings.Contains(string(ctr), "Next certificate issue number: 3") {
		t.Errorf("counter after two signings: %s", ctr)
	}

	// Rejected on the device: no cert, the counter stays.
	os.Remove(p("node.cert"))
	if code, _, errs := run(t, map[string]string{"HWDOUBLE_REJECT": "1"}, args...); code != 1 || !strings.Contains(errs, "Action rejected by user") {
		t.Errorf("rejected: exit %d, %q", code, errs)
	}
	if _, err := os.Stat(p("node.cert")); err == nil {
		t.Error("a rejected signature wrote a cert")
	}
	if b, _ := os.ReadFile(p("cold.counter")); !bytes.Equal(b, ctr) {
		t.Error("a rejected signature changed the counter file")
	}

	// A signing file of another type than StakePool… is refused, as the
	// current cardano-hw-cli refuses the early "PoolCold…" files.
	writeFile(t, p("old.hwsfile"), `{"type":"PoolColdHWSigningFileShelley_ed25519","description":"","path":"1853H/1815H/0H/0H","cborXPubKeyHex":"5840`+speculosXPub+`"}`)
	old := append([]string{}, args...)
	old[9] = p("old.hwsfile")
	if code, _, errs := run(t, nil, old...); code != 1 || errs != "Error: Invalid file type of hw-signing-file\n" {
		t.Errorf("PoolCold type: exit %d, %q", code, errs)
	}
	// Missing flags: argparse's error, exit 2.
	if code, _, errs := run(t, nil, args[:8]...); code != 2 || !strings.Contains(errs, "the following arguments are required: --hw-signing-file, --out-file") {
		t.Errorf("missing flags: exit %d, %q", code, errs)
	}
}

// Another device (another mnemonic) signs with its own key: the cert
// still carries the counter file's cold key, and its signature does not
// verify under it.
func TestIssueOpCertOtherDevice(t *testing.T) {
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	writeFile(t, p("kes.vkey"), `{"type": "KesVerificationKey_ed25519_kes_2^6", "description": "", "cborHex": "5820f70601c4de155e67797e057c07fb768b5590b2241b05ec30235a85b71e2ae858"}`)
	writeFile(t, p("cold.counter"), `{"type": "NodeOperationalCertificateIssueCounter", "description": "", "cborHex": "820158203d7e84dca8b4bc322401a2cc814af7c84d2992a22f99554fe340d7df7910768d"}`)
	writeFile(t, p("cold.hwsfile"), `{"type":"StakePoolHWSigningFile_ed25519","description":"","path":"1853H/1815H/0H/0H","cborXPubKeyHex":"5840`+speculosXPub+`"}`)
	env := map[string]string{"HWDOUBLE_MNEMONIC": "legal winner thank year wave sausage worth useful legal winner thank yellow"}
	code, _, errs := run(t, env, "node", "issue-op-cert", "--kes-verification-key-file", p("kes.vkey"), "--kes-period", "251",
		"--operational-certificate-issue-counter-file", p("cold.counter"), "--hw-signing-file", p("cold.hwsfile"), "--out-file", p("node.cert"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	cert, _ := os.ReadFile(p("node.cert"))
	if !strings.HasSuffix(strings.TrimSuffix(string(cert), "\"\n}"), "58203d7e84dca8b4bc322401a2cc814af7c84d2992a22f99554fe340d7df7910768d") {
		t.Errorf("the cert does not carry the counter file's cold key: %s", cert)
	}
	// [[kes_vk(2+32), 1(1), 251(2), sigma(2+64)], cold]: sigma at 41.
	i := strings.Index(string(cert), `"cborHex": "`) + len(`"cborHex": "`)
	body := mustHex(string(cert)[i : i+2*(2+36+1+2+66)])
	msg := append(mustHex("f70601c4de155e67797e057c07fb768b5590b2241b05ec30235a85b71e2ae858"), 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 251)
	if ed25519.Verify(mustHex(speculosXPub[:64]), msg, body[41:105]) {
		t.Error("a signature by another device verifies under the signing file's key")
	}
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}
