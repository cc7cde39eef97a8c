package transfer

import (
	"bytes"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"filippo.io/age"
	fxcbor "github.com/fxamacker/cbor/v2"

	"github.com/kesrotate/kesrotate/internal/textsafe"
	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/opcert"
)

// Bundle is what the cold machine sends the producer: the new cert and the
// keys the node needs with it. It travels only inside age encryption. It
// prints as [REDACTED].
type Bundle struct {
	Magic    uint32
	PoolID   keys.PoolID
	Cold     keys.ColdVKey
	Cert     *opcert.Certificate
	KES      *keys.KESKey // nil in KES-on-producer mode
	VRF      *keys.VRFKey // only with --with-vrf (first install)
	Producer string       // the pinned producer's fingerprint (the first of Producers)
	// Producers are the fingerprints of every producer the bundle is
	// sealed to (a primary and its standbys); nil means Producer alone.
	Producers  []string
	Checkpoint []byte // the ceremony log's signed checkpoint (a note), if any
	Created    time.Time
	// Legacy writes the format agents before bundle version 3 read (the
	// expanded KES key and the whole checkpoint note: about 1.3 kB, five
	// times the QR frames), for a cold side upgraded before its agents.
	Legacy bool
}

func (Bundle) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(keys.Redacted)) }
func (Bundle) String() string             { return keys.Redacted }
func (Bundle) GoString() string           { return keys.Redacted }

type wireBundle struct {
	_          struct{} `cbor:",toarray"`
	Magic      string
	Version    uint64
	Network    uint32
	PoolID     []byte
	ColdVKey   []byte
	Cert       []byte // CBOR of the cert
	Counter    uint64
	KESPeriod  uint64
	KESSkey    []byte // raw 608 bytes or empty
	VRFSkey    []byte // raw 64 bytes or empty
	Producer   string
	Checkpoint []byte
	Created    int64
}

// wireBundleV2 is version 2: a bundle sealed to several producers names
// them all. A bundle for one producer is still written as version 1, so
// that agents that read only version 1 keep reading it.
type wireBundleV2 struct {
	_          struct{} `cbor:",toarray"`
	Magic      string
	Version    uint64
	Network    uint32
	PoolID     []byte
	ColdVKey   []byte
	Cert       []byte
	Counter    uint64
	KESPeriod  uint64
	KESSkey    []byte
	VRFSkey    []byte
	Producers  []string
	Checkpoint []byte
	Created    int64
}

// bundleVersion2 is the wire version of a bundle sealed to several
// producers.
const bundleVersion2 = 2

// wireBundleV3 is version 3, what Encrypt writes: the KES key as its
// 32-byte seed (the receiver rebuilds the 608-byte key with Sum6KES key
// generation and checks it against the cert), the cert alone (its cold
// vkey and the pool id it hashes to are not repeated), producers as the
// 10 bytes of their fingerprints, and the checkpoint in its compact form
// (checkpoint.go). A normal bundle is about 550 bytes instead of 1,300.
type wireBundleV3 struct {
	_              struct{} `cbor:",toarray"`
	Magic          string
	Version        uint64
	Network        uint32
	Cert           []byte   // CBOR of the cert
	KESSeed        []byte   // 32 bytes, or empty (KES on the producer)
	VRFSkey        []byte   // raw 64 bytes or empty
	Producers      [][]byte // fingerprints, 10 bytes each, the primary first
	Checkpoint     []byte   // compact checkpoint (CompactCheckpointSize bytes) or empty
	CheckpointNote []byte   // a checkpoint note of another layout, whole, or empty
	Created        int64
}

// bundleVersion3 is the wire version of a bundle that carries the KES
// seed.
const bundleVersion3 = 3

// The bundle versions Encrypt writes: BundleVersion, and
// BundleVersionLegacy (Bundle.Legacy) for agents that do not read
// version 3 yet (a legacy bundle sealed to one producer is version 1 on
// the wire, which they read too).
const (
	BundleVersion       = bundleVersion3
	BundleVersionLegacy = bundleVersion2
)

// CheckBundleVersion refuses (ErrBundleVersion) a bundle version Encrypt
// does not write: BundleVersion and BundleVersionLegacy are.
func CheckBundleVersion(v int) error {
	if v != BundleVersion && v != BundleVersionLegacy {
		return fmt.Errorf("%w %d: bundles are written as version %d, or %d for agents before version %d", ErrBundleVersion, v, BundleVersion, BundleVersionLegacy, BundleVersion)
	}
	return nil
}

// LegacyVersion says whether bundle version v is written in the format
// older agents read (Bundle.Legacy): true for BundleVersionLegacy, false
// for BundleVersion or 0 (the current version). Any other version is
// refused (CheckBundleVersion).
func LegacyVersion(v int) (bool, error) {
	if v == 0 {
		return false, nil
	}
	if err := CheckBundleVersion(v); err != nil {
		return false, err
	}
	return v == BundleVersionLegacy, nil
}

// fingerprintBytes is the 10 bytes a fingerprint's 16 base32 characters
// stand for.
func fingerprintBytes(fp string) ([]byte, error) {
	if err := CheckFingerprint(fp); err != nil {
		return nil, err
	}
	return base32.StdEncoding.DecodeString(strings.ReplaceAll(fp, "-", ""))
}

func fingerprintText(b []byte) (string, error) {
	if len(b) != 10 {
		return "", fmt.Errorf("%w: a producer fingerprint of %d bytes, want 10", ErrFormat, len(b))
	}
	s := base32.StdEncoding.EncodeToString(b)
	return s[0:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16], nil
}

// AllProducers are the fingerprints the bundle is sealed to.
func (b *Bundle) AllProducers() []string {
	if len(b.Producers) > 0 {
		return b.Producers
	}
	return []string{b.Producer}
}

// Encrypt writes the bundle, age-encrypted to the recipients (one per
// producer in AllProducers, in that order), to w. The plaintext exists
// only in memory and is wiped after use.
func (b *Bundle) Encrypt(w io.Writer, recipients ...age.Recipient) error {
	producers := b.AllProducers()
	seen := map[string]bool{}
	for _, fp := range producers {
		if err := CheckFingerprint(fp); err != nil {
			return fmt.Errorf("bundle producer: %w", err)
		}
		if seen[fp] {
			return fmt.Errorf("%w: producer %s named twice", ErrFormat, fp)
		}
		seen[fp] = true
	}
	if len(recipients) != len(producers) {
		return fmt.Errorf("bundle for %d producers has %d recipients", len(producers), len(recipients))
	}
	if b.Cert.Cold != b.Cold || b.Cold.PoolID() != b.PoolID {
		return fmt.Errorf("%w: the bundle's pool id or cold key is not its cert's", ErrFormat)
	}
	certCBOR, err := b.Cert.MarshalCBOR()
	if err != nil {
		return err
	}
	wb := wireBundle{
		Magic: MagicBundle, Version: Version, Network: b.Magic, PoolID: b.PoolID[:], ColdVKey: b.Cold[:],
		Cert: certCBOR, Counter: b.Cert.Counter, KESPeriod: b.Cert.KESPeriod, KESSkey: []byte{}, VRFSkey: []byte{},
		Producer: b.Producer, Checkpoint: b.Checkpoint, Created: b.Created.Unix(),
	}
	if wb.Checkpoint == nil {
		wb.Checkpoint = []byte{}
	}
	if b.KES != nil {
		wb.KESSkey = b.KES.Raw()
		defer wipe(wb.KESSkey)
	}
	if b.VRF != nil {
		vrfRaw := b.VRF.Raw()
		wb.VRFSkey = vrfRaw
		defer wipe(vrfRaw)
	}
	var plain []byte
	var seed []byte
	if b.KES != nil {
		seed = b.KES.Seed()
		defer wipe(seed)
	}
	if (b.KES == nil || seed != nil) && !b.Legacy {
		v3 := wireBundleV3{Magic: MagicBundle, Version: bundleVersion3, Network: b.Magic, Cert: certCBOR,
			KESSeed: []byte{}, VRFSkey: wb.VRFSkey, Checkpoint: []byte{}, CheckpointNote: []byte{}, Created: wb.Created}
		if seed != nil {
			v3.KESSeed = seed
		}
		for _, fp := range producers {
			fb, err := fingerprintBytes(fp)
			if err != nil {
				return err
			}
			v3.Producers = append(v3.Producers, fb)
		}
		if len(b.Checkpoint) > 0 {
			if c := compactCheckpoint(b.Checkpoint); c != nil {
				v3.Checkpoint = c
			} else {
				v3.CheckpointNote = b.Checkpoint
			}
		}
		plain = encode(v3)
	} else if len(producers) > 1 {
		plain = encode(wireBundleV2{Magic: wb.Magic, Version: bundleVersion2, Network: wb.Network, PoolID: wb.PoolID, ColdVKey: wb.ColdVKey,
			Cert: wb.Cert, Counter: wb.Counter, KESPeriod: wb.KESPeriod, KESSkey: wb.KESSkey, VRFSkey: wb.VRFSkey,
			Producers: producers, Checkpoint: wb.Checkpoint, Created: wb.Created})
	} else {
		wb.Producer = producers[0]
		plain = encode(wb)
	}
	defer wipe(plain)
	aw, err := age.Encrypt(w, recipients...)
	if err != nil {
		return err
	}
	if _, err := aw.Write(plain); err != nil {
		return err
	}
	return aw.Close()
}

// DecryptBundle decrypts and parses a bundle. It checks the structure and
// that every part agrees with every other (pool id, cold key, counter and
// period, the KES key being the certified one and never evolved); the
// caller checks it against what it has pinned.
func DecryptBundle(r io.Reader, identities ...age.Identity) (*Bundle, error) {
	pr, err := age.Decrypt(io.LimitReader(r, MaxFileSize), identities...)
	if err != nil {
		var nm *age.NoIdentityMatchError
		if errors.As(err, &nm) {
			return nil, fmt.Errorf("%w: it was encrypted to another producer", ErrWrongProducer)
		}
		return nil, fmt.Errorf("%w: %v", ErrDecrypt, textsafe.AgeError(err))
	}
	plain, err := io.ReadAll(io.LimitReader(pr, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDecrypt, textsafe.AgeError(err))
	}
	defer wipe(plain)
	return parseBundle(plain)
}

func parseBundle(plain []byte) (_ *Bundle, err error) {
	var w wireBundle
	var producers []string
	var v2 wireBundleV2
	var v3 wireBundleV3
	var kes *keys.KESKey // version 3: rebuilt from the seed
	defer func() {
		if err != nil {
			kes.Wipe()
		}
	}()
	if err := decode("bundle", plain, &v3); err == nil && v3.Version == bundleVersion3 && v3.Magic == MagicBundle {
		defer wipe(v3.KESSeed)
		defer wipe(v3.VRFSkey)
		if len(v3.Producers) == 0 {
			return nil, fmt.Errorf("%w: a version 3 bundle names no producer", ErrFormat)
		}
		seen := map[string]bool{}
		for _, fb := range v3.Producers {
			fp, err := fingerprintText(fb)
			if err != nil {
				return nil, fmt.Errorf("bundle producer: %w", err)
			}
			if seen[fp] {
				return nil, fmt.Errorf("%w: bundle names producer %s twice", ErrFormat, fp)
			}
			seen[fp] = true
			producers = append(producers, fp)
		}
		cert, err := opcert.ParseCBOR(v3.Cert)
		if err != nil {
			return nil, fmt.Errorf("bundle cert: %w", err)
		}
		var ckpt []byte
		switch {
		case len(v3.Checkpoint) > 0 && len(v3.CheckpointNote) > 0:
			return nil, fmt.Errorf("%w: a bundle with two checkpoints", ErrFormat)
		case len(v3.Checkpoint) > 0:
			if err := fixed("bundle checkpoint", v3.Checkpoint, CompactCheckpointSize); err != nil {
				return nil, err
			}
			ckpt = expandCheckpoint(v3.Checkpoint)
		case len(v3.CheckpointNote) > 0:
			ckpt = v3.CheckpointNote
		}
		if len(v3.KESSeed) > 0 {
			if err := fixed("bundle KES seed", v3.KESSeed, keys.KESSeedSize); err != nil {
				return nil, err
			}
			if kes, err = keys.NewKESKey(v3.KESSeed); err != nil {
				return nil, fmt.Errorf("bundle KES key: %w", err)
			}
		}
		w = wireBundle{Magic: v3.Magic, Version: Version, Network: v3.Network, PoolID: func() []byte { id := cert.Cold.PoolID(); return id[:] }(),
			ColdVKey: cert.Cold[:], Cert: v3.Cert, Counter: cert.Counter, KESPeriod: cert.KESPeriod, VRFSkey: v3.VRFSkey,
			Producer: producers[0], Checkpoint: ckpt, Created: v3.Created}
		if len(producers) == 1 {
			producers = nil
		}
	} else if err := decode("bundle", plain, &v2); err == nil && v2.Version == bundleVersion2 && v2.Magic == MagicBundle {
		defer wipe(v2.KESSkey)
		defer wipe(v2.VRFSkey)
		if len(v2.Producers) < 2 {
			return nil, fmt.Errorf("%w: a version 2 bundle names %d producers", ErrFormat, len(v2.Producers))
		}
		seen := map[string]bool{}
		for _, fp := range v2.Producers {
			if err := CheckFingerprint(fp); err != nil {
				return nil, fmt.Errorf("bundle producer: %w", err)
			}
			if seen[fp] {
				return nil, fmt.Errorf("%w: bundle names producer %s twice", ErrFormat, fp)
			}
			seen[fp] = true
		}
		producers = v2.Producers
		w = wireBundle{Magic: v2.Magic, Version: Version, Network: v2.Network, PoolID: v2.PoolID, ColdVKey: v2.ColdVKey, Cert: v2.Cert,
			Counter: v2.Counter, KESPeriod: v2.KESPeriod, KESSkey: v2.KESSkey, VRFSkey: v2.VRFSkey, Producer: v2.Producers[0],
			Checkpoint: v2.Checkpoint, Created: v2.Created}
	} else if err := decode("bundle", plain, &w); err != nil {
		if magic, version, ok := bundleHead(plain); ok && magic == MagicBundle && version > bundleVersion3 {
			return nil, fmt.Errorf("%w: bundle version %d; this binary reads versions 1 to %d: upgrade it", ErrFormat, version, bundleVersion3)
		}
		return nil, fmt.Errorf("%w: not a bundle of any version this binary reads (1 to %d)", ErrFormat, bundleVersion3)
	}
	defer wipe(w.KESSkey)
	defer wipe(w.VRFSkey)
	if err := checkHead("bundle", w.Magic, w.Version, MagicBundle); err != nil {
		return nil, err
	}
	if err := fixed("bundle pool id", w.PoolID, keys.PoolIDSize); err != nil {
		return nil, err
	}
	if err := fixed("bundle cold vkey", w.ColdVKey, keys.ColdVKeySize); err != nil {
		return nil, err
	}
	if err := keys.CheckEd25519PublicKey(w.ColdVKey); err != nil {
		return nil, fmt.Errorf("bundle cold vkey: %w", err)
	}
	// The agent compares this with its own fingerprint: an empty or
	// malformed one must not reach a check that could skip it.
	if err := CheckFingerprint(w.Producer); err != nil {
		return nil, fmt.Errorf("bundle producer: %w", err)
	}
	b := &Bundle{Magic: w.Network, Producer: w.Producer, Producers: producers, Created: time.Unix(w.Created, 0).UTC()}
	if len(w.Checkpoint) > 0 {
		b.Checkpoint = bytes.Clone(w.Checkpoint)
	}
	copy(b.PoolID[:], w.PoolID)
	copy(b.Cold[:], w.ColdVKey)
	cert, err := opcert.ParseCBOR(w.Cert)
	if err != nil {
		return nil, fmt.Errorf("bundle cert: %w", err)
	}
	b.Cert = cert
	switch {
	case cert.Cold != b.Cold:
		return nil, fmt.Errorf("%w: the bundle's cert is for another cold key", ErrFormat)
	case b.Cold.PoolID() != b.PoolID:
		return nil, fmt.Errorf("%w: the bundle's pool id is not its cold key's", ErrFormat)
	case cert.Counter != w.Counter || cert.KESPeriod != w.KESPeriod:
		return nil, fmt.Errorf("%w: the bundle's counter or period disagree with its cert", ErrFormat)
	}
	if kes != nil {
		b.KES = kes
	} else if len(w.KESSkey) > 0 {
		if b.KES, err = keys.NewKESKeyFromRaw(w.KESSkey); err != nil {
			return nil, fmt.Errorf("bundle KES key: %w", err)
		}
	}
	if b.KES != nil && b.KES.Public() != cert.KESVKey {
		b.KES.Wipe()
		return nil, fmt.Errorf("%w: the bundle's KES key is not the one its cert certifies", ErrFormat)
	}
	if len(w.VRFSkey) > 0 {
		if err := fixed("bundle VRF key", w.VRFSkey, keys.VRFSigningKeySize); err != nil {
			return nil, err
		}
		if b.VRF, err = keys.NewVRFKey(w.VRFSkey[:keys.VRFSeedSize]); err != nil {
			return nil, err
		}
		if vk := b.VRF.Public(); !bytes.Equal(vk[:], w.VRFSkey[keys.VRFSeedSize:]) {
			return nil, fmt.Errorf("bundle VRF key: %w", keys.ErrInconsistent)
		}
	}
	return b, nil
}

// Wipe clears the secret keys the bundle holds.
func (b *Bundle) Wipe() {
	if b.KES != nil {
		b.KES.Wipe()
	}
	if b.VRF != nil {
		b.VRF.Wipe()
	}
}

// FileHash is the hex SHA-256 of a file's bytes: how the log and the
// operator's screen name a bundle.
func FileHash(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

//go:noinline
func wipe(b []byte) {
	for i := range b {
		b[i] = 0
	}
}

// bundleHead reads the magic and version that start every bundle.
func bundleHead(plain []byte) (string, uint64, bool) {
	var arr []fxcbor.RawMessage
	if err := fxcbor.Unmarshal(plain, &arr); err != nil || len(arr) < 2 {
		return "", 0, false
	}
	var magic string
	var version uint64
	if fxcbor.Unmarshal(arr[0], &magic) != nil || fxcbor.Unmarshal(arr[1], &version) != nil {
		return "", 0, false
	}
	return magic, version, true
}
