package keys

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/blinklabs-io/gouroboros/vrf"
	"github.com/kesrotate/kesrotate/internal/vectors"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// regCertificate pulls the operator (pool id) and vrf_keyhash out of a
// cardano-cli pool registration certificate.
func regCertificate(t *testing.T, name string) (operator, vrfHash string) {
	t.Helper()
	e, err := ParseEnvelope(vectors.Read(t, "cardano-cli/"+name))
	if err != nil {
		t.Fatal(err)
	}
	// 8a 03 581c <28 bytes operator> 5820 <32 bytes vrf keyhash> …
	if !bytes.HasPrefix(e.CBOR, unhex(t, "8a03581c")) || e.CBOR[32] != 0x58 || e.CBOR[33] != 0x20 {
		t.Fatalf("%s: unexpected registration layout", name)
	}
	return hex.EncodeToString(e.CBOR[4:32]), hex.EncodeToString(e.CBOR[34:66])
}

func TestPoolIDMatchesCardanoCLIRegistration(t *testing.T) {
	for _, tc := range []struct{ vkey, reg string }{
		{"operator.vkey", "golden.reg-certificate.json"},
		{"extended-operator.vkey", "golden.reg-certificate-extended.json"},
	} {
		t.Run(tc.vkey, func(t *testing.T) {
			vk, err := ParseColdVKey(vectors.Read(t, "cardano-cli/"+tc.vkey))
			if err != nil {
				t.Fatal(err)
			}
			op, vrfHash := regCertificate(t, tc.reg)
			if got := vk.PoolID().Hex(); got != op {
				t.Errorf("pool id: got %s, want %s", got, op)
			}
			vrfVK, err := ParseVRFVKey(vectors.Read(t, "cardano-cli/node-pool.vrf.vkey"))
			if err != nil {
				t.Fatal(err)
			}
			h := vrfVK.Hash()
			if got := hex.EncodeToString(h[:]); got != vrfHash {
				t.Errorf("vrf key hash: got %s, want %s", got, vrfHash)
			}
		})
	}
}

func TestPoolIDBech32(t *testing.T) {
	var id PoolID
	copy(id[:], unhex(t, "cf69a3eca039d537acd46d5864a54dd8953f0c14be957350905834aa"))
	b := id.Bech32()
	if !strings.HasPrefix(b, "pool1") || len(b) != 56 {
		t.Fatalf("bech32: got %q, want pool1… of 56 characters", b)
	}
	for _, s := range []string{b, id.Hex(), strings.ToUpper(id.Hex())} {
		got, err := ParsePoolID(s)
		if err != nil || got != id {
			t.Errorf("ParsePoolID(%q): got %x, %v; want %x", s, got, err, id)
		}
	}
	for _, bad := range []string{"", "pool1", "addr1qx", id.Hex()[:54], strings.Replace(b, "pool1", "stake1", 1)} {
		if _, err := ParsePoolID(bad); !errors.Is(err, ErrPoolID) {
			t.Errorf("ParsePoolID(%q): got %v, want ErrPoolID", bad, err)
		}
	}
}

func TestColdKeyFromCardanoCLI(t *testing.T) {
	k, err := ParseColdKey(vectors.Read(t, "cardano-cli/node-cold.skey"))
	if err != nil {
		t.Fatal(err)
	}
	// The same seed was used for the genesis delegate key pair: its
	// verification key and counter name the same public key.
	vkEnv, err := ParseEnvelope(vectors.Read(t, "cardano-cli/genesis_delegate_keys.verification_key"))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := decodeByteString(vkEnv.CBOR)
	if got := k.Public(); !bytes.Equal(got[:], want) {
		t.Errorf("cold vk: got %x, want %x", got, want)
	}
	c, err := ParseCounter(vectors.Read(t, "cardano-cli/genesis_delegate_keys.operational_certificate_counter"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Next != 0 {
		t.Errorf("counter: got %d, want 0", c.Next)
	}
	if err := c.CheckCold(k.Public()); err != nil {
		t.Errorf("CheckCold: %v", err)
	}
	other, _ := NewColdKey(bytes.Repeat([]byte{7}, 32))
	if err := c.CheckCold(other.Public()); !errors.Is(err, ErrCounterMismatch) {
		t.Errorf("CheckCold(other): got %v, want ErrCounterMismatch", err)
	}
	// Signing is RFC 8032.
	msg := []byte("op cert")
	if pub := k.Public(); !ed25519.Verify(pub[:], msg, k.Sign(msg)) {
		t.Error("signature does not verify")
	}
}

// TestWriteExactlyAsCardanoCLI checks our output byte for byte against the
// files cardano-cli wrote (ignoring a missing final newline in a few inputs
// and the free-text description where the golden file used another one).
func TestWriteExactlyAsCardanoCLI(t *testing.T) {
	norm := func(b []byte) string { return strings.TrimRight(string(b), "\n") }
	cases := []struct {
		file  string
		write func(t *testing.T, data []byte) []byte
	}{
		{"cardano-cli/operator.vkey", func(t *testing.T, d []byte) []byte {
			vk, err := ParseColdVKey(d)
			if err != nil {
				t.Fatal(err)
			}
			return vk.MarshalEnvelope()
		}},
		{"cardano-cli/genesis_delegate_keys.operational_certificate_counter", func(t *testing.T, d []byte) []byte {
			c, err := ParseCounter(d)
			if err != nil {
				t.Fatal(err)
			}
			return c.MarshalEnvelope()
		}},
		{"cardano-cli/vrf_keys.signing_key", func(t *testing.T, d []byte) []byte {
			k, err := ParseVRFKey(d)
			if err != nil {
				t.Fatal(err)
			}
			return k.MarshalEnvelope()
		}},
		{"cardano-cli/vrf_keys.verification_key", func(t *testing.T, d []byte) []byte {
			k, err := ParseVRFVKey(d)
			if err != nil {
				t.Fatal(err)
			}
			return k.MarshalEnvelope()
		}},
		{"cardano-cli/node-pool.vrf.vkey", func(t *testing.T, d []byte) []byte {
			k, err := ParseVRFVKey(d)
			if err != nil {
				t.Fatal(err)
			}
			return k.MarshalEnvelope()
		}},
		{"cardano-cli/kes_keys.verification_key", func(t *testing.T, d []byte) []byte {
			k, err := ParseKESVKey(d)
			if err != nil {
				t.Fatal(err)
			}
			return k.MarshalEnvelope()
		}},
		{"dingo-devnet/kes.skey", func(t *testing.T, d []byte) []byte {
			k, err := ParseKESKey(d)
			if err != nil {
				t.Fatal(err)
			}
			return k.MarshalEnvelope()
		}},
		{"dingo-devnet/vrf.skey", func(t *testing.T, d []byte) []byte {
			k, err := ParseVRFKey(d)
			if err != nil {
				t.Fatal(err)
			}
			return k.MarshalEnvelope()
		}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			in := vectors.Read(t, tc.file)
			if got, want := norm(tc.write(t, in)), norm(in); got != want {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
	// The cold skey: our description is cardano-cli's current one.
	k, _ := ParseColdKey(vectors.Read(t, "cardano-cli/node-cold.skey"))
	want := "{\n    \"type\": \"StakePoolSigningKey_ed25519\",\n    \"description\": \"Stake Pool Operator Signing Key\",\n    \"cborHex\": \"582086f64a96dd4b476cbd6e8adf36d0aa9ecc091f9865e1ffc14057ef9710daa7e3\"\n}\n"
	if got := string(k.MarshalEnvelope()); got != want {
		t.Errorf("cold skey: got\n%s\nwant\n%s", got, want)
	}
}

func TestReadersRejectWrongInput(t *testing.T) {
	env := func(typ, cborHex string) []byte {
		return []byte(fmt.Sprintf(`{"type": %q, "description": "", "cborHex": %q}`, typ, cborHex))
	}
	seed32 := "5820" + strings.Repeat("11", 32)
	cases := []struct {
		name  string
		parse func([]byte) error
		data  []byte
		want  error
	}{
		{"cold skey of another type", coldErr, vectors.Read(t, "cardano-cli/genesis_delegate_keys.signing_key"), ErrType},
		{"cold skey too short", coldErr, env(TypeColdSigningKey, "581f"+strings.Repeat("11", 31)), ErrSize},
		{"cold skey not json", coldErr, []byte("5820abcd"), ErrEnvelope},
		{"cold skey trailing cbor", coldErr, env(TypeColdSigningKey, seed32+"00"), ErrEncoding},
		{"cold skey non-canonical length", coldErr, env(TypeColdSigningKey, "590020"+strings.Repeat("11", 32)), ErrEncoding},
		{"cold skey bad hex", coldErr, env(TypeColdSigningKey, "58zz"), ErrEnvelope},
		{"cold skey missing cborHex", coldErr, []byte(`{"type":"StakePoolSigningKey_ed25519"}`), ErrEnvelope},
		{"cold vkey given a skey", coldVKErr, vectors.Read(t, "cardano-cli/node-cold.skey"), ErrType},
		{"2^6 trap: 704-byte KES key", kesErr, vectors.Read(t, "cardano-cli/kes_keys.signing_key"), ErrSize},
		{"KES key of wrong type", kesErr, vectors.Read(t, "cardano-cli/vrf_keys.signing_key"), ErrType},
		{"VRF skey with foreign public half", vrfErr, env(TypeVRFSigningKey, "5840"+strings.Repeat("11", 64)), ErrInconsistent},
		{"VRF skey too short", vrfErr, env(TypeVRFSigningKey, seed32), ErrSize},
		{"counter with short cold key", counterErr, env(TypeCounter, "8200581f"+strings.Repeat("11", 31)), ErrSize},
		{"counter of wrong shape", counterErr, env(TypeCounter, seed32), ErrEncoding},
		{"counter of wrong type", counterErr, vectors.Read(t, "cardano-cli/operator.vkey"), ErrType},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.parse(tc.data)
			if !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func coldErr(b []byte) error    { _, err := ParseColdKey(b); return err }
func coldVKErr(b []byte) error  { _, err := ParseColdVKey(b); return err }
func kesErr(b []byte) error     { _, err := ParseKESKey(b); return err }
func vrfErr(b []byte) error     { _, err := ParseVRFKey(b); return err }
func counterErr(b []byte) error { _, err := ParseCounter(b); return err }

func TestKESAgainstHaskellVectors(t *testing.T) {
	seed := []byte("test string of 32 byte of lenght")
	k, err := NewKESKey(seed)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := k.Raw(), vectors.Read(t, "kes/key6.bin"); !bytes.Equal(got, want) {
		t.Fatalf("Sum6 key from seed: got %x…, want %x…", got[:16], want[:16])
	}
	fromFile, err := NewKESKeyFromRaw(vectors.Read(t, "kes/key6.bin"))
	if err != nil {
		t.Fatalf("fresh key6.bin rejected: %v", err)
	}
	if fromFile.Public() != k.Public() {
		t.Error("verification keys differ")
	}
	msg := []byte("test message")
	for _, tc := range []struct {
		t   uint64
		sig string
	}{{0, "kes/key6Sig.bin"}, {5, "kes/key6Sig5.bin"}} {
		sig, err := k.Sign(tc.t, msg)
		if err != nil {
			t.Fatal(err)
		}
		if want := vectors.Read(t, tc.sig); !bytes.Equal(sig, want) {
			t.Errorf("signature at t=%d differs from %s", tc.t, tc.sig)
		}
		if !k.Public().Verify(tc.t, msg, sig) {
			t.Errorf("signature at t=%d does not verify", tc.t)
		}
		if k.Public().Verify(tc.t+1, msg, sig) {
			t.Errorf("signature at t=%d verifies at t=%d", tc.t, tc.t+1)
		}
	}
	// Signing did not evolve the key itself.
	if !bytes.Equal(k.Raw(), vectors.Read(t, "kes/key6.bin")) {
		t.Error("Sign changed the stored key")
	}
	for _, f := range []string{"kes/key6update1.bin", "kes/key6update5.bin"} {
		if _, err := NewKESKeyFromRaw(vectors.Read(t, f)); !errors.Is(err, ErrEvolvedKES) {
			t.Errorf("%s: got %v, want ErrEvolvedKES", f, err)
		}
	}
	for _, f := range []string{"kes/key0.bin", "kes/key1.bin"} {
		if _, err := NewKESKeyFromRaw(vectors.Read(t, f)); !errors.Is(err, ErrSize) {
			t.Errorf("%s: got %v, want ErrSize", f, err)
		}
	}
	// A corrupted inner verification key is caught.
	raw := vectors.Read(t, "kes/key6.bin")
	raw[32+32] ^= 1
	if _, err := NewKESKeyFromRaw(raw); !errors.Is(err, ErrInconsistent) {
		t.Errorf("corrupted vk0: got %v, want ErrInconsistent", err)
	}
}

func TestVRFAgainstCardanoBaseVectors(t *testing.T) {
	for _, name := range []string{"standard_10", "standard_11", "standard_12", "generated_1", "generated_2", "generated_3", "generated_4"} {
		t.Run(name, func(t *testing.T) {
			fields := map[string]string{}
			for _, line := range strings.Split(string(vectors.Read(t, "vrf/vrf_ver03_"+name)), "\n") {
				if k, v, ok := strings.Cut(line, ": "); ok {
					fields[k] = v
				}
			}
			k, err := NewVRFKey(unhex(t, fields["sk"]))
			if err != nil {
				t.Fatal(err)
			}
			pk := k.Public()
			if got := hex.EncodeToString(pk[:]); got != fields["pk"] {
				t.Errorf("pk: got %s, want %s", got, fields["pk"])
			}
			alpha := []byte{}
			if fields["alpha"] != "empty" {
				alpha = unhex(t, fields["alpha"])
			}
			seed := k.Seed()
			pi, beta, err := vrf.Prove(seed, alpha)
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(pi) != fields["pi"] || hex.EncodeToString(beta) != fields["beta"] {
				t.Errorf("proof from our key differs from the vector")
			}
		})
	}
}

func TestBulkCredentialsFromOuroborosConsensus(t *testing.T) {
	var sets [][]json.RawMessage
	if err := json.Unmarshal(vectors.Read(t, "ouroboros-consensus/bulk-creds-k2.json"), &sets); err != nil {
		t.Fatal(err)
	}
	if len(sets) != 2 {
		t.Fatalf("got %d credential sets, want 2", len(sets))
	}
	for i, set := range sets {
		if _, err := ParseVRFKey(set[1]); err != nil {
			t.Errorf("set %d VRF skey: %v", i, err)
		}
		if _, err := ParseKESKey(set[2]); err != nil {
			t.Errorf("set %d KES skey: %v", i, err)
		}
	}
}

func TestExtendedColdKeySigns(t *testing.T) {
	// Build a BIP32-style extended key: kL clamped the Ed25519 way, random
	// kR and chain code, pk = kL·B.
	kL := bytes.Repeat([]byte{0x42}, 32)
	kL[0] &= 248
	kL[31] &= 63
	kL[31] |= 64
	raw := append(append([]byte{}, kL...), bytes.Repeat([]byte{0x17}, 32)...)
	s, _ := extendedScalar(kL)
	pk := edwardsBase(s)
	raw = append(append(raw, pk...), bytes.Repeat([]byte{0x99}, 32)...)
	data := (&Envelope{Type: TypeColdExtendedSigningKey, CBOR: encodeByteString(raw)}).Marshal()
	k, err := ParseColdKey(data)
	if err != nil {
		t.Fatal(err)
	}
	if !k.Extended() || k.Seed() != nil {
		t.Error("extended key: Extended() false or Seed() not nil")
	}
	msg := make([]byte, 48)
	sig := k.Sign(msg)
	if vk := k.Public(); !vk.Verify(msg, sig) {
		t.Error("extended-key signature does not verify under RFC 8032")
	}
	raw[70] ^= 1 // public key no longer matches kL
	bad := (&Envelope{Type: TypeColdExtendedSigningKey, CBOR: encodeByteString(raw)}).Marshal()
	if _, err := ParseColdKey(bad); !errors.Is(err, ErrInconsistent) {
		t.Errorf("mismatched extended key: got %v, want ErrInconsistent", err)
	}
}

func TestSecretsAreRedacted(t *testing.T) {
	cold, _ := NewColdKey(bytes.Repeat([]byte{1}, 32))
	vrfKey, _ := NewVRFKey(bytes.Repeat([]byte{2}, 32))
	kesKey, _ := NewKESKey(bytes.Repeat([]byte{3}, 32))
	for _, v := range []any{cold, vrfKey, kesKey, *cold, *vrfKey, *kesKey} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q"} {
			if got := fmt.Sprintf(verb, v); got != Redacted {
				t.Errorf("%T with %s: got %q, want %q", v, verb, got, Redacted)
			}
		}
	}
}

func TestGeneratedKeysRoundTrip(t *testing.T) {
	rnd := bytes.NewReader(bytes.Repeat([]byte{9, 8, 7, 6}, 64))
	cold, err := GenerateColdKey(rnd)
	if err != nil {
		t.Fatal(err)
	}
	cold2, err := ParseColdKey(cold.MarshalEnvelope())
	if err != nil || cold2.Public() != cold.Public() {
		t.Errorf("cold round trip: %v", err)
	}
	v, _ := GenerateVRFKey(rnd)
	v2, err := ParseVRFKey(v.MarshalEnvelope())
	if err != nil || v2.Public() != v.Public() {
		t.Errorf("VRF round trip: %v", err)
	}
	k, _ := GenerateKESKey(rnd)
	k2, err := ParseKESKey(k.MarshalEnvelope())
	if err != nil || k2.Public() != k.Public() {
		t.Errorf("KES round trip: %v", err)
	}
	if _, err := GenerateColdKey(bytes.NewReader(nil)); err == nil {
		t.Error("GenerateColdKey with no randomness succeeded")
	}
}

// TextEnvelope parsing is strict about keys and what follows the object,
// and lenient about formatting: every cardano-cli file of the vectors
// reads, in any layout.
func TestParseEnvelopeStrictKeysAnyFormatting(t *testing.T) {
	dir := filepath.Join(vectors.Dir(t), "cardano-cli")
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, de := range des {
		b, err := os.ReadFile(filepath.Join(dir, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		var probe map[string]any
		if json.Unmarshal(b, &probe) != nil || probe["cborHex"] == nil {
			continue // the golden registration certificates are not envelopes
		}
		n++
		t.Run("cardano-cli/"+de.Name(), func(t *testing.T) {
			if _, err := ParseEnvelope(b); err != nil {
				t.Errorf("got %v, want the real cardano-cli file to read", err)
			}
		})
	}
	if n < 10 {
		t.Fatalf("read %d cardano-cli envelopes, want at least 10", n)
	}
	const hexv = `"5820` + "0000000000000000000000000000000000000000000000000000000000000000" + `"`
	for _, tc := range []struct {
		name string
		in   string
		ok   bool
	}{
		{"one-line", `{"type":"StakePoolSigningKey_ed25519","description":"","cborHex":` + hexv + `}`, true},
		{"other-order-crlf-tabs", "{\r\n\t\"cborHex\" : " + hexv + ",\r\n\t\"type\":\"T\"\r\n}\r\n", true},
		{"trailing-whitespace", `{"type":"T","cborHex":` + hexv + "}\n\n  \t\n", true},
		{"no-description", `{"type":"T","cborHex":` + hexv + `}`, true},
		{"duplicate-type", `{"type":"T","type":"U","cborHex":` + hexv + `}`, false},
		{"duplicate-cborHex", `{"type":"T","cborHex":` + hexv + `,"cborHex":"5820"}`, false},
		{"duplicate-description", `{"type":"T","description":"a","description":"b","cborHex":` + hexv + `}`, false},
		{"case-folded-type", `{"Type":"T","cborHex":` + hexv + `}`, false},
		{"case-folded-cborhex", `{"type":"T","CBORHEX":` + hexv + `}`, false},
		{"case-folded-beside-real", `{"type":"T","TYPE":"U","cborHex":` + hexv + `}`, false},
		{"trailing-garbage", `{"type":"T","cborHex":` + hexv + `}x`, false},
		{"trailing-bracket", `{"type":"T","cborHex":` + hexv + `}]`, false},
		{"trailing-object", `{"type":"T","cborHex":` + hexv + `}{}`, false},
		{"null-type", `{"type":null,"cborHex":` + hexv + `}`, false},
		{"number-type", `{"type":7,"cborHex":` + hexv + `}`, false},
		{"array", `[{"type":"T","cborHex":` + hexv + `}]`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseEnvelope([]byte(tc.in))
			if tc.ok && err != nil {
				t.Errorf("got %v, want it read", err)
			}
			if !tc.ok && !errors.Is(err, ErrEnvelope) {
				t.Errorf("got %v, want ErrEnvelope", err)
			}
		})
	}
}

// A file given by mistake may be a secret: the producer's snapshot.key is
// an Ed25519 seed in hex, which JSON reads as a number and used to quote
// ("cannot unmarshal number 86193847561 …"). No error may hold its bytes.
func TestEnvelopeErrorsNeverQuoteTheInput(t *testing.T) {
	seed := "8619384756102938475610293847561029384756102938475610293847561029"
	for _, tc := range []struct{ name, in string }{
		{"hex-seed", seed + "\n"},
		{"age-identity", "AGE-SECRET-KEY-1" + strings.ToUpper(seed) + "\n"},
		{"seed-as-value", `{"type": ` + seed[:20] + `}`},
		{"seed-as-key", `{"` + seed + `": 1}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, parse := range []func([]byte) error{
				func(b []byte) error { _, err := ParseEnvelope(b); return err },
				func(b []byte) error { _, err := ParseColdKey(b); return err },
				func(b []byte) error { _, err := ParseCounter(b); return err },
				func(b []byte) error { _, err := ParseVRFKey(b); return err },
			} {
				err := parse([]byte(tc.in))
				if err == nil {
					t.Fatal("it parsed")
				}
				for i := 0; i+8 <= len(seed); i++ {
					if strings.Contains(strings.ToLower(err.Error()), seed[i:i+8]) {
						t.Fatalf("error %q holds bytes of the input (%s)", err, seed[i:i+8])
					}
				}
			}
		})
	}
}

// A small-order point is not a key: with it, one signature verifies every
// message. Cold vkeys read from files refuse them.
func TestColdVKeyRefusesSmallOrderPoints(t *testing.T) {
	for _, tc := range []struct{ name, hex string }{
		{"identity", "0100000000000000000000000000000000000000000000000000000000000000"},
		{"order-2", "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"},
		{"order-4", "0000000000000000000000000000000000000000000000000000000000000080"},
		{"order-8", "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"},
		{"non-canonical-identity", "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := unhex(t, tc.hex)
			file := (&Envelope{Type: TypeColdVerificationKey, CBOR: encodeByteString(raw)}).Marshal()
			if _, err := ParseColdVKey(file); !errors.Is(err, ErrWeakKey) {
				t.Errorf("got %v, want ErrWeakKey", err)
			}
			if err := CheckEd25519PublicKey(raw); !errors.Is(err, ErrWeakKey) {
				t.Errorf("CheckEd25519PublicKey: got %v, want ErrWeakKey", err)
			}
		})
	}
	k, _ := NewColdKey(bytes.Repeat([]byte{7}, 32))
	vk := k.Public()
	if err := CheckEd25519PublicKey(vk[:]); err != nil {
		t.Errorf("a real key: %v", err)
	}
}

// Wipe of a key that is not there is a no-op: rotate in KES-on-producer
// mode holds no KES key and wiped nil (a panic after the bundle was
// written).
func TestWipeNilKeys(t *testing.T) {
	var kes *KESKey
	var vrf *VRFKey
	var cold *ColdKey
	kes.Wipe()
	vrf.Wipe()
	cold.Wipe()
}
