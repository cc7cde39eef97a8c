package hwdouble

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func TestWordlist(t *testing.T) {
	// SHA-256 of bitcoin/bips bip-0039/english.txt (one word a line).
	const want = "2f5eed53a4727b4bf8880d8f3f199efc90e58503646d9ff8eff3a2ed3b24dbda"
	sum := sha256.Sum256([]byte(strings.Join(wordlist, "\n") + "\n"))
	if got := hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("wordlist SHA-256: got %s, want %s (%d words)", got, want, len(wordlist))
	}
}

func TestEntropy(t *testing.T) {
	for _, tc := range []struct {
		mnemonic, entropy string
	}{
		// BIP-39's own first vectors (trezor/python-mnemonic vectors.json).
		{"abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about", "00000000000000000000000000000000"},
		{"legal winner thank year wave sausage worth useful legal winner thank yellow", "7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f"},
		{"zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo wrong", "ffffffffffffffffffffffffffffffff"},
	} {
		got, err := Entropy(tc.mnemonic)
		if err != nil {
			t.Fatalf("%s: %v", tc.mnemonic, err)
		}
		if hex.EncodeToString(got) != tc.entropy {
			t.Errorf("%s: got %x, want %s", tc.mnemonic, got, tc.entropy)
		}
	}
	for _, bad := range []string{
		"abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon", // checksum
		"abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon",         // 11 words
		"abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abut",    // not a word
	} {
		if _, err := Entropy(bad); err == nil {
			t.Errorf("Entropy(%q) accepted a bad mnemonic", bad)
		}
	}
}

// CIP-3's master key vectors (kL ‖ kR ‖ chain code, hex), from
// cardano-foundation/CIPs at eb451034: CIP-0003/Icarus.md and
// CIP-0003/Ledger_BitBox02.md (formerly Ledger.md, whose "with
// iterations" vector commit 09d7d8ee corrected).
func TestMasterKeys(t *testing.T) {
	icarus := []struct{ mnemonic, passphrase, want string }{
		{"eight country switch draw meat scout mystery blade tip drift useless good keep usage title", "",
			"c065afd2832cd8b087c4d9ab7011f481ee1e0721e78ea5dd609f3ab3f156d245d176bd8fd4ec60b4731c3918a2a72a0226c0cd119ec35b47e4d55884667f552a23f7fdcd4a10c6cd2c7393ac61d877873e248f417634aa3d812af327ffe9d620"},
		{"eight country switch draw meat scout mystery blade tip drift useless good keep usage title", "foo",
			"70531039904019351e1afb361cd1b312a4d0565d4ff9f8062d38acf4b15cce41d7b5738d9c893feea55512a3004acb0d222c35d3e3d5cde943a15a9824cbac59443cf67e589614076ba01e354b1a432e0e6db3b59e37fc56b5fb0222970a010e"},
	}
	for _, tc := range icarus {
		e, err := Entropy(tc.mnemonic)
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(IcarusMaster(e, []byte(tc.passphrase)).Bytes()); got != tc.want {
			t.Errorf("Icarus %q: got %s, want %s", tc.passphrase, got, tc.want)
		}
	}
	ledger := []struct{ mnemonic, passphrase, want string }{
		{"recall grace sport punch exhibit mad harbor stand obey short width stem awkward used stairs wool ugly trap season stove worth toward congress jaguar", "",
			"a08cf85b564ecf3b947d8d4321fb96d70ee7bb760877e371899b14e2ccf88658104b884682b57efd97decbb318a45c05a527b9cc5c2f64f7352935a049ceea60680d52308194ccef2a18e6812b452a5815fbd7f5babc083856919aaf668fe7e4"},
		// "with iterations": the first HMAC has the third highest bit set.
		{"correct cherry mammal bubble want mandate polar hazard crater better craft exotic choice fun tourist census gap lottery neglect address glow carry old business", "",
			"587c6774357ecbf840d4db6404ff7af016dace0400769751ad2abfc77b9a3844cc71702520ef1a4d1b68b91187787a9b8faab0a9bb6b160de541b6ee62469901fc0beda0975fe4763beabd83b7051a5fd5cbce5b88e82c4bbaca265014e524bd"},
		{"abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon art", "foo",
			"f053a1e752de5c26197b60f032a4809f08bb3e5d90484fe42024be31efcba7578d914d3ff992e21652fee6a4d99f6091006938fac2c0c0f9d2de0ba64b754e92a4f3723f23472077aa4cd4dd8a8a175dba07ea1852dad1cf268c61a2679c3890"},
	}
	for _, tc := range ledger {
		if got := hex.EncodeToString(LedgerMaster(tc.mnemonic, tc.passphrase).Bytes()); got != tc.want {
			t.Errorf("Ledger %q…: got %s, want %s", tc.mnemonic[:12], got, tc.want)
		}
	}
}

// CIP-11's test vector (cardano-foundation/CIPs CIP-0011/README.md): the
// Icarus key at 1852'/1815'/0'/2/0, private key and chain code. It takes
// hardened and soft derivation steps.
func TestDeriveCIP11(t *testing.T) {
	const mnemonic = "prevent company field green slot measure chief hero apple task eagle sunset endorse dress seed"
	const want = "b8ab42f1aacbcdb3ae858e3a3df88142b3ed27a2d3f432024e0d943fc1e597442d57545d84c8db2820b11509d944093bc605350e60c533b8886a405bd59eed6dcf356648fe9e9219d83e989c8ff5b5b337e2897b6554c1ab4e636de791fe5427"
	e, err := Entropy(mnemonic)
	if err != nil {
		t.Fatal(err)
	}
	path, err := ParsePath("1852H/1815H/0H/2/0")
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(IcarusMaster(e, nil).DerivePath(path).Bytes()); got != want {
		t.Fatalf("1852'/1815'/0'/2/0: got %s, want %s", got, want)
	}
}

// The pool cold key of cardano-hw-cli's Ledger tests and the cert the
// device signed with it, from vacuumlabs/cardano-hw-cli (speculos with the
// mnemonic "abandon … about"): test/integration/ledger/node/signingFiles.ts
// (poolCold0, 1853H/1815H/0H/0H) and test/integration/ledger/node/opCert.ts
// (opcert1: KES vkey f706…, period 251, counter 1). Ed25519 signatures are
// deterministic, so the double must reproduce the device's bytes exactly.
func TestLedgerPoolColdKey(t *testing.T) {
	const (
		wantXPub = "3d7e84dca8b4bc322401a2cc814af7c84d2992a22f99554fe340d7df7910768d1e2a47754207da3069f90241fbf3b8742c367e9028e5f3f85ae3660330b4f5b7"
		kesVK    = "f70601c4de155e67797e057c07fb768b5590b2241b05ec30235a85b71e2ae858"
		wantCert = "82845820f70601c4de155e67797e057c07fb768b5590b2241b05ec30235a85b71e2ae8580118fb5840b44fcc4505aee4c93a716014ec709d17b28e0c95637384b78d2f8a4cebb92d1e01b54ce952e11771bbeaceda0eaf7a660e5c416f357bdec94e4ce2977997d20458203d7e84dca8b4bc322401a2cc814af7c84d2992a22f99554fe340d7df7910768d"
	)
	d, err := NewDevice(TestMnemonic, "", Ledger)
	if err != nil {
		t.Fatal(err)
	}
	path, _ := ParsePath("1853H/1815H/0H/0H")
	xpub, err := d.PoolColdXPub(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(xpub[:]); got != wantXPub {
		t.Fatalf("pool cold xpub: got %s, want %s", got, wantXPub)
	}
	var kes [32]byte
	hex.Decode(kes[:], []byte(kesVK))
	sig, err := d.SignOpCert(path, kes, 251, 1)
	if err != nil {
		t.Fatal(err)
	}
	var cold [32]byte
	copy(cold[:], xpub[:32])
	if got := hex.EncodeToString(encodeCert(kes, 1, 251, sig, cold)); got != wantCert {
		t.Fatalf("signed cert: got %s, want %s", got, wantCert)
	}
	// Plain RFC 8032 verification accepts it over the 48-byte signable.
	msg := append(append(kes[:], binary.BigEndian.AppendUint64(nil, 1)...), binary.BigEndian.AppendUint64(nil, 251)...)
	if !ed25519.Verify(cold[:], msg, sig[:]) {
		t.Fatal("the device's signature does not verify")
	}
}

func TestPaths(t *testing.T) {
	for _, tc := range []struct {
		path string
		pool bool
	}{
		{"1853H/1815H/0H/0H", true},
		{"1853H/1815H/0H/7H", true},
		{"1853H/1815H/0H/0", false},
		{"1853H/1815H/1H/0H", false},
		{"1852H/1815H/0H/0H", false},
		{"1853H/1815H/0H", false},
		{"1853H/1815H/0H/0H/0H", false},
	} {
		p, err := ParsePath(tc.path)
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		if got := IsPoolColdKeyPath(p); got != tc.pool {
			t.Errorf("IsPoolColdKeyPath(%s): got %v, want %v", tc.path, got, tc.pool)
		}
		if got := FormatPath(p); got != tc.path {
			t.Errorf("FormatPath(ParsePath(%s)): got %s", tc.path, got)
		}
	}
	for _, bad := range []string{"1853'/1815'/0'/0'", "m/1853H", "2147483648", "1853H//0H", "-1"} {
		if _, err := ParsePath(bad); err == nil {
			t.Errorf("ParsePath(%q) accepted it", bad)
		}
	}
}

// The same mnemonic gives another pool key under the Icarus derivation
// (a software wallet's, or a Trezor's), and that device's op certs verify
// under its own key only.
func TestIcarusDevice(t *testing.T) {
	path, _ := ParsePath("1853H/1815H/0H/0H")
	ledger, _ := NewDevice(TestMnemonic, "", Ledger)
	icarus, err := NewDevice(TestMnemonic, "", Icarus)
	if err != nil {
		t.Fatal(err)
	}
	lx, _ := ledger.PoolColdXPub(path)
	ix, _ := icarus.PoolColdXPub(path)
	if lx == ix {
		t.Fatal("the Icarus and Ledger derivations gave the same pool key")
	}
	var kes [32]byte
	sig, err := icarus.SignOpCert(path, kes, 7, 3)
	if err != nil {
		t.Fatal(err)
	}
	msg := append(append(kes[:], binary.BigEndian.AppendUint64(nil, 3)...), binary.BigEndian.AppendUint64(nil, 7)...)
	if !ed25519.Verify(ix[:32], msg, sig[:]) || ed25519.Verify(lx[:32], msg, sig[:]) {
		t.Error("the Icarus device's signature does not verify under its own key alone")
	}
	if _, err := icarus.SignOpCert([]uint32{Hardened + 1852, Hardened + 1815, Hardened, 0, 0}, kes, 7, 3); !errors.Is(err, ErrRejected) {
		t.Errorf("signing with a payment key: got %v, want ErrRejected", err)
	}
}
