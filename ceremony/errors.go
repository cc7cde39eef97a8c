package ceremony

import "errors"

// Errors that callers branch on; test with errors.Is.
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
)
