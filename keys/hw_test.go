package keys

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// realHWSigningFile is a pool cold key's signing file as cardano-hw-cli
// wrote it for its own Ledger tests: vacuumlabs/cardano-hw-cli,
// test/integration/ledger/cli/opCert/cold.hwsfile (at c1b9c01c, unchanged
// since 3c906b81). One line, the first releases' type, empty description.
const realHWSigningFile = `{"type":"PoolColdHWSigningFileShelley_ed25519","description":"","path":"1853H/1815H/0H/0H","cborXPubKeyHex":"58403d7e84dca8b4bc322401a2cc814af7c84d2992a22f99554fe340d7df7910768d1e2a47754207da3069f90241fbf3b8742c367e9028e5f3f85ae3660330b4f5b7"}`

// The same key as cardano-hw-cli writes it today (src/fileWriter.ts:
// JSON.stringify with 4 spaces, the Conway-era type and description).
const currentHWSigningFile = "{\n    \"type\": \"StakePoolHWSigningFile_ed25519\",\n    \"description\": \"Stake Pool Hardware Signing File\",\n    \"path\": \"1853H/1815H/0H/0H\",\n    \"cborXPubKeyHex\": \"58403d7e84dca8b4bc322401a2cc814af7c84d2992a22f99554fe340d7df7910768d1e2a47754207da3069f90241fbf3b8742c367e9028e5f3f85ae3660330b4f5b7\"\n}"

func TestParseHWSigningFile(t *testing.T) {
	for _, in := range []string{realHWSigningFile, currentHWSigningFile,
		strings.Replace(currentHWSigningFile, TypeHWSigningFile, TypeHWSigningFileShelley, 1)} {
		f, err := ParseHWSigningFile([]byte(in))
		if err != nil {
			t.Fatalf("%.40s…: %v", in, err)
		}
		// The cold vkey is the first 32 bytes of the extended key: the one
		// in cardano-hw-cli's test/integration/ledger/cli/keyFiles/cold.vkey.
		vk := f.ColdVKey()
		if got, want := hexOf(vk[:]), "3d7e84dca8b4bc322401a2cc814af7c84d2992a22f99554fe340d7df7910768d"; got != want {
			t.Errorf("cold vkey: got %s, want %s", got, want)
		}
		if got, want := vk.PoolID().Hex(), "dbfee4665e58c8f8e9b9ff02b17f32e08a42c855476a5d867c2737b7"; got != want {
			t.Errorf("pool id: got %s, want %s", got, want)
		}
		if got, want := vk.PoolID().Bech32(), "pool1m0lwgej7try036deluptzlejuz9y9jz4ga49mpnuyummw34ze74"; got != want {
			t.Errorf("pool id: got %s, want %s", got, want)
		}
		if got := f.PathString(); got != "1853H/1815H/0H/0H" {
			t.Errorf("path: got %s", got)
		}
		if got := f.DevicePath(); got != "m/1853'/1815'/0'/0'" {
			t.Errorf("device path: got %s", got)
		}
		// Written back, always in today's form.
		if got := string(f.Marshal()); got != currentHWSigningFile {
			t.Errorf("Marshal:\ngot  %s\nwant %s", got, currentHWSigningFile)
		}
	}
}

func TestParseHWSigningFileRefuses(t *testing.T) {
	swap := func(old, new string) string { return strings.Replace(currentHWSigningFile, old, new, 1) }
	for _, tc := range []struct {
		name, in string
		want     error
	}{
		{"payment key", swap("1853H/1815H/0H/0H", "1852H/1815H/0H/0/0"), ErrHWPath},
		{"stake key type", swap(TypeHWSigningFile, "StakeHWSigningFileShelley_ed25519"), ErrType},
		{"soft cold key index", swap("1853H/1815H/0H/0H", "1853H/1815H/0H/0"), ErrHWPath},
		{"other usecase", swap("1853H/1815H/0H/0H", "1853H/1815H/1H/0H"), ErrHWPath},
		{"too short", swap("1853H/1815H/0H/0H", "1853H/1815H/0H"), ErrHWPath},
		{"apostrophes", swap("1853H/1815H/0H/0H", "1853'/1815'/0'/0'"), ErrHWPath},
		{"leading zero", swap("1853H/1815H/0H/0H", "1853H/1815H/0H/00H"), ErrHWPath},
		{"index too big", swap("1853H/1815H/0H/0H", "1853H/1815H/0H/2147483648H"), ErrHWPath},
		{"no path", swap(`"path": "1853H/1815H/0H/0H",`, ""), ErrHWSigningFile},
		{"path twice", swap(`"path": "1853H/1815H/0H/0H",`, `"path": "1853H/1815H/0H/0H", "path": "1853H/1815H/0H/1H",`), ErrHWSigningFile},
		{"path in another case", swap(`"path"`, `"Path"`), ErrHWSigningFile},
		{"path not a string", swap(`"1853H/1815H/0H/0H"`, `[1853, 1815, 0, 0]`), ErrHWSigningFile},
		{"trailing data", currentHWSigningFile + "{}", ErrHWSigningFile},
		{"not hex", swap("58403d7e", "58403d7g"), ErrHWSigningFile},
		{"32 bytes", swap("58403d7e84dca8b4bc322401a2cc814af7c84d2992a22f99554fe340d7df7910768d1e2a47754207da3069f90241fbf3b8742c367e9028e5f3f85ae3660330b4f5b7", "58203d7e84dca8b4bc322401a2cc814af7c84d2992a22f99554fe340d7df7910768d"), ErrSize},
		{"long CBOR header", swap("58403d7e", "5900403d7e"), ErrEncoding},
		{"small-order key", swap("3d7e84dca8b4bc322401a2cc814af7c84d2992a22f99554fe340d7df7910768d1e2a", "0100000000000000000000000000000000000000000000000000000000000000"+"1e2a"), ErrWeakKey},
		{"a TextEnvelope", `{"type": "StakePoolVerificationKey_ed25519", "description": "", "cborHex": "5820` + strings.Repeat("00", 32) + `"}`, ErrHWSigningFile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseHWSigningFile([]byte(tc.in))
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if strings.Contains(err.Error(), "1e2a4775") {
				t.Errorf("the error quotes the key: %v", err)
			}
		})
	}
}

func TestKESVKeyBech32(t *testing.T) {
	// The KES key of cardano-hw-cli's op cert test (opCert.ts), in the
	// form the Ledger app shows (bech32, prefix kes_vk; computed with the
	// BIP-173 reference implementation).
	var vk KESVKey
	copy(vk[:], mustHexBytes(t, "f70601c4de155e67797e057c07fb768b5590b2241b05ec30235a85b71e2ae858"))
	if got, want := vk.Bech32(), "kes_vk17urqr3x7z40xw7t7q47q07mk3d2epv3yrvz7cvprt2zmw832apvqssmq9e"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func hexOf(b []byte) string { return hex.EncodeToString(b) }

func mustHexBytes(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestKESSeedEnvelope(t *testing.T) {
	seed := make([]byte, KESSeedSize)
	seed[0] = 7
	k, err := NewKESKey(seed)
	if err != nil {
		t.Fatal(err)
	}
	env, err := k.MarshalSeedEnvelope()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseKESSeedEnvelope(env)
	if err != nil {
		t.Fatal(err)
	}
	if back.Public() != k.Public() || !bytes.Equal(back.Seed(), seed) {
		t.Fatal("the seed envelope does not rebuild the key")
	}
	if _, err := ParseKESSeedEnvelope(k.MarshalEnvelope()); !errors.Is(err, ErrType) {
		t.Errorf("a 608-byte KES skey as a seed envelope: got %v, want ErrType", err)
	}
	raw, _ := NewKESKeyFromRaw(k.Raw())
	if _, err := raw.MarshalSeedEnvelope(); err == nil {
		t.Error("a key without its seed wrote a seed envelope")
	}
}

// TestColdKeyPath: the paths made are the ones ParseHWPath takes, and the
// key-gen command names the path and the files a hardware pool is
// imported from.
func TestColdKeyPath(t *testing.T) {
	for _, tc := range []struct {
		index uint32
		want  string
	}{{0, "1853H/1815H/0H/0H"}, {7, "1853H/1815H/0H/7H"}} {
		got := FormatHWPath(ColdKeyPath(tc.index))
		if got != tc.want {
			t.Errorf("index %d: got %s, want %s", tc.index, got, tc.want)
		}
		if _, err := ParseHWPath(got); err != nil {
			t.Errorf("ParseHWPath(%s): %v", got, err)
		}
	}
	cmd := strings.Join(HWKeyGenCommand(ColdKeyPath(0)), " ")
	want := "cardano-hw-cli node key-gen --path 1853H/1815H/0H/0H --hw-signing-file cold.hwsfile --cold-verification-key-file cold.vkey --operational-certificate-issue-counter-file cold.counter"
	if cmd != want {
		t.Errorf("got %s, want %s", cmd, want)
	}
}
