package producer

import "errors"

// Errors of install, rollback, signalling and status; test with errors.Is.
// A bundle for another pool, network or producer fails with
// transfer.ErrWrongPool, transfer.ErrWrongNetwork or
// transfer.ErrWrongProducer; a cert the node would refuse wraps the opcert
// sentinel (opcert.ErrKESAfterEnd, opcert.ErrCounterOverIncremented, …).
var (
	// ErrDowngrade: the bundle's cert has a lower counter than the
	// installed one, or the same counter and an older KES period (a
	// replayed old bundle).
	ErrDowngrade = errors.New("bundle would downgrade the installed op cert")
	// ErrNoVRF: neither the bundle nor the node's current files hold a
	// VRF signing key.
	ErrNoVRF = errors.New("no VRF signing key to install")
	// ErrVRFMismatch: the bundle's VRF key is not the one installed.
	ErrVRFMismatch = errors.New("VRF key differs from the installed one")
	// ErrNoPendingKES: a cert-only bundle (KES-on-producer mode) whose
	// cert does not certify this producer's pending KES key.
	ErrNoPendingKES = errors.New("no pending KES key matches the cert")
	// ErrPendingExists: kes new when a pending KES key already exists.
	ErrPendingExists = errors.New("a pending KES key already exists")
	// ErrPendingDropped: kes new --replace removed the earlier pending KES
	// key, then failed to write the new one: there is none now.
	ErrPendingDropped = errors.New("the earlier pending KES key was removed")
	// ErrPermissions: a file or folder the agent relies on is open to
	// others, or the configured group cannot be used.
	ErrPermissions = errors.New("unsafe permissions")
	// ErrLocked: another install or rollback holds the agent's lock.
	ErrLocked = errors.New("another install or rollback is running")
	// ErrNodePath: a folder the node's credentials live in is missing.
	ErrNodePath = errors.New("node credential folder missing")
	// ErrUnmanaged: a node credential path was changed by hand since the
	// agent took it over.
	ErrUnmanaged = errors.New("node credential path was changed outside the agent")
	// ErrNoPrevious: rollback with no earlier set to return to.
	ErrNoPrevious = errors.New("no previous credential set")
	// ErrNoCert: no op cert is installed at the node's cert path.
	ErrNoCert = errors.New("no op cert installed")
	// ErrCertUnreadable: (Status) the op cert at the node's cert path, or
	// a standby's staged one, cannot be read or is not an op cert
	// (damaged, or replaced by another file); wraps the cause
	// (fs.ErrPermission, opcert.ErrEncoding, …).
	ErrCertUnreadable = errors.New("op cert cannot be read")
	// ErrNodeNotFound: the node process to signal cannot be found.
	ErrNodeNotFound = errors.New("cannot find the node process")
	// ErrSignal: the node could not be signalled.
	ErrSignal = errors.New("cannot signal the node")
	// ErrNotConfirmed: the node did not take the new set in time (or
	// logged that it refused it); the agent rolled back.
	ErrNotConfirmed = errors.New("the node did not take the new credentials")
	// ErrNodeCannotRead: the node logged that it may not read a
	// credential file (it runs as another user than the files allow);
	// always with ErrNotConfirmed.
	ErrNodeCannotRead = errors.New("the node may not read the credential files")
	// ErrPendingKept: the set was installed but the pending KES key
	// (KES-on-producer) could not be removed afterwards.
	ErrPendingKept = errors.New("the pending KES key was not removed")
)
