package backup

import "errors"

// Errors that callers branch on; test with errors.Is.
var (
	// ErrNoSeed: the cold key is a BIP32 extended key, which has no 32-byte
	// seed to split into SLIP-39 shares.
	ErrNoSeed = errors.New("the cold key has no seed to split (an extended key)")
	// ErrShareInvalid: a share is not a valid SLIP-39 mnemonic.
	ErrShareInvalid = errors.New("not a valid SLIP-39 share")
	// ErrSharesMixed: the shares come from different splits.
	ErrSharesMixed = errors.New("the shares come from different backups")
	// ErrShareRepeated: the same share (or share index) was given twice.
	ErrShareRepeated = errors.New("the same share was given twice")
	// ErrTooFewShares: fewer shares than the threshold.
	ErrTooFewShares = errors.New("too few shares")
	// ErrSharesCorrupt: the shares combine to nothing valid (a damaged
	// share, or shares that do not belong together).
	ErrSharesCorrupt = errors.New("the shares do not combine into a valid secret")
	// ErrSharePool: the restored key is not the pool the share files name
	// (a wrong SLIP-39 passphrase gives another key without any error).
	ErrSharePool = errors.New("the shares rebuild a different pool")
	// ErrArchive: a vault backup archive is malformed.
	ErrArchive = errors.New("malformed vault backup")
	// ErrVerify: a restored vault fails its checks.
	ErrVerify = errors.New("the restored vault fails verification")
	// ErrNotLogged: the backup is written, but its backup-made entry could
	// not be added to the ceremony log; note the backup by hand.
	ErrNotLogged = errors.New("log entry failed")
)
