package keys

import "errors"

// Errors that callers branch on. Each is wrapped with the file or field it
// concerns; test with errors.Is.
var (
	// ErrEnvelope: the input is not a TextEnvelope (JSON with type,
	// description and cborHex).
	ErrEnvelope = errors.New("not a cardano-cli text envelope")
	// ErrType: the envelope's type is not the one expected.
	ErrType = errors.New("wrong key type")
	// ErrSize: the key material has the wrong length for its type.
	ErrSize = errors.New("wrong key size")
	// ErrEncoding: the cborHex is not the canonical CBOR cardano-cli writes.
	ErrEncoding = errors.New("bad CBOR encoding")
	// ErrEvolvedKES: a KES signing key has been evolved past period 0. The
	// node must receive the fresh key: it evolves it itself.
	ErrEvolvedKES = errors.New("KES signing key has been evolved")
	// ErrInconsistent: the key's parts disagree (a VRF skey whose public
	// half is not the key of its seed, a KES key whose tree does not hash
	// up, an extended key whose public key does not match).
	ErrInconsistent = errors.New("key material is inconsistent")
	// ErrCounterMismatch: a counter file belongs to another cold key.
	ErrCounterMismatch = errors.New("counter file belongs to another cold key")
	// ErrWeakKey: an Ed25519 public key that is not a canonical encoding of
	// a point of the large prime order subgroup's coset a real key lies in
	// (a small-order point, for which one signature verifies every message,
	// or a non-canonical encoding).
	ErrWeakKey = errors.New("not a usable Ed25519 public key")
	// ErrPoolID: a pool id string is neither 56 hex digits nor pool1… bech32.
	ErrPoolID = errors.New("not a pool id")
	// ErrHWSigningFile: the input is not a cardano-hw-cli signing file.
	ErrHWSigningFile = errors.New("not a cardano-hw-cli signing file")
	// ErrHWPath: a signing file's key is not a pool cold key (CIP-1853:
	// 1853H/1815H/0H/NH), so no device signs an op cert with it.
	ErrHWPath = errors.New("not a pool cold key path")
)
