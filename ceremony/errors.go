package ceremony

import (
	"errors"
	"fmt"
)

// Errors that callers branch on, all of them, by topic; test with
// errors.Is. Their text is lower-case without a final period; a function
// adds what it knows with fmt.Errorf("%w: …").

// The vault, its pools, journals and lock.
var (
	// ErrNoVault: the folder is not a kesrotate vault.
	ErrNoVault = errors.New("not a kesrotate vault")
	// ErrVaultExists: init on a folder that already holds a vault.
	ErrVaultExists = errors.New("a vault already exists here")
	// ErrPoolExists: a pool of that name (or with that cold key) exists.
	ErrPoolExists = errors.New("pool already exists")
	// ErrNoPool: no pool of that name.
	ErrNoPool = errors.New("no such pool")
	// ErrName: a pool or producer name that is not a simple identifier.
	ErrName = errors.New("bad name")
	// ErrJournal: the issuance journal is unreadable or inconsistent.
	ErrJournal = errors.New("issuance journal is damaged")
	// ErrUnsafeFile: a folder of the vault that others may write to, a
	// key file others may read, or a link, a FIFO or a device in the vault.
	ErrUnsafeFile = errors.New("the vault is open to other users or holds a link")
	// ErrNoVRF: the pool has no VRF key in the vault.
	ErrNoVRF = errors.New("pool has no VRF key in the vault")
	// ErrSealing: the producers named for one bundle do not fit together
	// (one named twice, or a KES key made on one producer for several).
	ErrSealing = errors.New("cannot seal one bundle to these producers")
	// ErrOutput: a folder the rotation writes to cannot take its files;
	// nothing was issued.
	ErrOutput = errors.New("cannot write the output")
	// ErrQR: the QR folder cannot take a rotation's frames. Refused before
	// the issue, nothing was issued; after it (a RotateResult is returned
	// too), the bundle is written and logged and only its frames are
	// missing or incomplete.
	ErrQR = errors.New("cannot write the QR frames")
	// ErrJournalChanged: the journal gained entries between the read a decision
	// was based on and the append of its outcome (another process issued).
	ErrJournalChanged = errors.New("the issuance journal changed while this command ran (another process wrote to it)")
	// ErrBusy: another process holds the vault's lock.
	ErrBusy = errors.New("the vault is in use by another kesrotate")
	// ErrKeysDestroyed: the pool's secret keys were destroyed (pool
	// retire-keys); the pool's public files and history remain.
	ErrKeysDestroyed = errors.New("the pool's secret keys were destroyed")
	// ErrNotConfirmed: a key destruction whose confirmation is not the
	// pool's name (RetireOptions.Name). Nothing was destroyed.
	ErrNotConfirmed = errors.New("the key destruction is not confirmed")
)

// Rotations.
var (
	// ErrSnapshotUsed: the snapshot already produced a cert. A snapshot is
	// good for one rotation: issuing from it again re-issues the same counter
	// with a new KES key.
	ErrSnapshotUsed = errors.New("this snapshot already produced a cert")
	// ErrNoSnapshot: a fleet ceremony has no snapshot for a pool it was asked
	// to rotate, or more than one.
	ErrNoSnapshot = errors.New("no snapshot for this pool")
)

// Producers and their pins.
var (
	// ErrNoProducer: no pinned producer of that name.
	ErrNoProducer = errors.New("no such producer")
	// ErrProducerExists: a producer of that name is already pinned.
	ErrProducerExists = errors.New("producer already pinned")
	// ErrEnrollmentMismatch: an enrollment for another network or for a pool
	// the vault does not hold.
	ErrEnrollmentMismatch = errors.New("enrollment does not fit this vault")
	// ErrFingerprintMismatch: the enrollment's fingerprint is not the one
	// the operator read on the producer (a swapped file or stick); nothing
	// was pinned.
	ErrFingerprintMismatch = errors.New("fingerprint mismatch")
	// ErrPinMismatch: a pinned producer's enrollment file is not the one its
	// pin in the ceremony log names (someone replaced it), or the log holds no
	// pin for it.
	ErrPinMismatch = errors.New("the producer's enrollment is not the one pinned")
)

// The ceremony log.
var (
	// ErrNoLog: the vault has no ceremony log or no audit key (a vault made
	// before the log existed, or one whose log was removed).
	ErrNoLog = errors.New("vault has no ceremony log")
	// ErrLogRule: the action would put an entry into the log that breaks the
	// rules auditlog.Verify checks; nothing was done.
	ErrLogRule = errors.New("the ceremony log would record a rule violation")
	// ErrUnlogged: the vault holds actions its log does not record (an
	// interrupted command; Seal records them, flagged recovered).
	ErrUnlogged = errors.New("the vault holds actions its log does not record")
	// ErrCheckpointFile: a file given as a checkpoint held outside the
	// vault is not one; ErrNoCheckpoint: a folder of them holds none.
	ErrCheckpointFile = errors.New("not a *.note file or a checkpoint QR image (.png, .jpg)")
	ErrNoCheckpoint   = errors.New("no checkpoint in it")
)

// Encryption at rest.
var (
	// ErrWrongPassphrase: the passphrase does not open the vault's secrets.
	ErrWrongPassphrase = errors.New("wrong passphrase")
	// ErrWrongIdentity: none of the identities opens the vault's secrets.
	ErrWrongIdentity = errors.New("the identity does not open the vault's secrets")
	// ErrLocked: the secrets are encrypted and the caller gave no way to
	// get the passphrase or identity.
	ErrLocked = errors.New("the vault's secrets are encrypted and no passphrase or identity was given")
	// ErrPlaintextLeft: an encrypted vault still holds a plaintext key
	// (an interrupted 'vault encrypt').
	ErrPlaintextLeft = errors.New("an encrypted vault holds a plaintext secret key")
	// ErrAlreadyEncrypted: 'vault encrypt' on a vault with nothing left to encrypt.
	ErrAlreadyEncrypted = errors.New("the vault's secrets are already encrypted")
	// ErrSecretState: the secret files disagree with vault.json.
	ErrSecretState = errors.New("secret files do not match the vault's encryption mode")
	// ErrWeakPassphrase: a new passphrase too weak to protect keys that
	// can be copied and attacked offline (CheckNewPassphrase).
	ErrWeakPassphrase = errors.New("the new passphrase is too weak")
	// ErrRefused: the vault refused to open a secret (the air-gap check).
	ErrRefused = errors.New("refused to open a secret")
	// ErrNotAirgapped: a vault that requires an air gap is on a machine
	// that is not air-gapped (with ErrRefused; Access.AllowNetwork opens
	// it anyway, logged).
	ErrNotAirgapped = errors.New("this machine is not air-gapped")
)

// Hardware-wallet pools.
var (
	// ErrHardwareKey: the action needs the pool's cold key, which is on a
	// hardware wallet (only an op cert can be signed there, through
	// PrepareRotation and cardano-hw-cli).
	ErrHardwareKey = errors.New("the pool's cold key is on a hardware wallet")
	// ErrNotHardware: a hardware-wallet step (prepare, finish, abandon)
	// for a pool whose cold key is in the vault: Rotate signs its certs.
	ErrNotHardware = errors.New("the pool's cold key is in the vault, not on a hardware wallet")
	// ErrPrepared: a rotation of the pool is prepared and waits for its
	// signed cert or to be abandoned.
	ErrPrepared = errors.New("a rotation is prepared and waits for the hardware wallet's signature")
	// ErrNotPrepared: no rotation of the pool is prepared.
	ErrNotPrepared = errors.New("no rotation is prepared for this pool")
	// ErrSignedCert: the cert given to finish a rotation is not the one
	// prepared (another counter, period, KES key or pool, or a signature
	// the pool's cold key did not make). Nothing was journaled or sealed.
	ErrSignedCert = errors.New("the signed cert is not the prepared one")
	// ErrPreparation: a preparation's own files are damaged or missing
	// (prepared.json, the staged KES key).
	ErrPreparation = errors.New("the prepared rotation is damaged")
)

// ErrPoolNotLogged: a new pool is in the vault (its keys, counter and
// journal) but its log entries failed; the next command that opens the
// log records them, flagged recovered ('ceremony seal' does it now). The
// error is a *PoolNotLoggedError, which names the pool. Any other error of
// NewPool, ImportPool, NewHWPool or ImportHWPool added nothing.
var ErrPoolNotLogged = errors.New("the pool is in the vault but not in its log")

// PoolNotLoggedError is a pool added to the vault whose log entries
// failed. It matches ErrPoolNotLogged.
type PoolNotLoggedError struct {
	Pool string // the pool's name in the vault
	Err  error  // what failed
}

func (e *PoolNotLoggedError) Error() string {
	return fmt.Sprintf("pool %s is in the vault but its log entry failed (the next command records it): %v", e.Pool, e.Err)
}

func (e *PoolNotLoggedError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrPoolNotLogged) true for a *PoolNotLoggedError.
func (e *PoolNotLoggedError) Is(target error) bool { return target == ErrPoolNotLogged }

// ErrIssued: a cert was issued (it is in the pool's journal, which is the
// source of truth for counters) but a step after the issue failed. The
// error is an *IssuedError, which names the cert.
var ErrIssued = errors.New("the cert is issued")

// IssuedError is a failure after a cert was journaled: its cert-issued log
// entry (Logged false: the next command that opens the log records it,
// flagged recovered) or an output (Logged true: the bundle, the plaintext
// files; rotating again re-issues the same counter). It matches ErrIssued.
type IssuedError struct {
	Cert   JournalEntry // the journaled cert
	Logged bool         // the log records the cert (an output failed after it)
	Err    error        // what failed
}

func (e *IssuedError) Error() string {
	return e.Err.Error()
}

func (e *IssuedError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrIssued) true for an *IssuedError.
func (e *IssuedError) Is(target error) bool { return target == ErrIssued }

// issuedNotLogged is the error of a journaled cert whose cert-issued entry
// failed.
func issuedNotLogged(je JournalEntry, err error) error {
	return &IssuedError{Cert: je, Err: fmt.Errorf("cert #%d is journaled but its log entry failed (the next command records it): %w", je.Counter, err)}
}

// afterIssue is err as an *IssuedError of the journaled and logged cert
// je: an output that failed after the cert-issued entry. An *IssuedError
// already is returned as it is.
func afterIssue(je JournalEntry, err error) error {
	var ie *IssuedError
	if errors.As(err, &ie) {
		return err
	}
	return &IssuedError{Cert: je, Logged: true, Err: err}
}
