package transfer

import "errors"

// Errors that callers branch on; test with errors.Is.
var (
	// ErrFormat: the bytes are not the structure expected (wrong magic,
	// version, shape or size).
	ErrFormat = errors.New("malformed transfer file")
	// ErrNotEncrypted: a file to be shown as a bundle's QR frames is not
	// an age-encrypted file.
	ErrNotEncrypted = errors.New("not an age-encrypted bundle")
	// ErrSignature: a snapshot or enrollment signature does not verify.
	ErrSignature = errors.New("signature does not verify")
	// ErrWrongProducer: a snapshot signed by another producer than the one
	// named, or a bundle that is not for this producer.
	ErrWrongProducer = errors.New("wrong producer")
	// ErrWrongPool: a snapshot or bundle for another pool.
	ErrWrongPool = errors.New("wrong pool")
	// ErrWrongNetwork: a snapshot or bundle for another network.
	ErrWrongNetwork = errors.New("wrong network")
	// ErrStale: a snapshot older than the accepted age.
	ErrStale = errors.New("snapshot is too old")
	// ErrClockSkew: this machine's clock and the snapshot disagree.
	ErrClockSkew = errors.New("clock disagrees with the snapshot")
	// ErrDecrypt: a bundle that this identity cannot decrypt.
	ErrDecrypt = errors.New("cannot decrypt the bundle")
	// ErrWrongKind: a file of another kind than the one asked for (an
	// enrollment given as a snapshot); it is also an ErrFormat.
	ErrWrongKind = errors.New("wrong file")
	// ErrBundleVersion: a bundle version Encrypt does not write
	// (CheckBundleVersion).
	ErrBundleVersion = errors.New("unwritable bundle version")
	// ErrRecipient: an age recipient string that is not usable.
	ErrRecipient = errors.New("bad age recipient")
)
