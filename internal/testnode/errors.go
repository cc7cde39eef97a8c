package testnode

import "errors"

// Errors the test node reports, at start or on reload. Test with errors.Is.
var (
	// ErrMissingCredential: a credential file does not exist (cardano-api's
	// FileDoesNotExistError: missing, a directory, a dangling link, or a
	// path the node cannot look at). At start the node refuses to run
	// (unless Config.AllowMissingCredentials); on reload it disables
	// forging.
	ErrMissingCredential = errors.New("credential file is missing")
	// ErrVRFPermissions: the VRF signing key file has an "other"
	// permission bit. cardano-node refuses to start on that (and never
	// looks again on reload).
	ErrVRFPermissions = errors.New(`VRF signing key file has "other" permissions`)
	// ErrCredentialFile: a credential file cannot be read or is not the
	// envelope the node expects (FileIOError, TextEnvelopeError).
	ErrCredentialFile = errors.New("bad credential file")
	// ErrKESMismatch: the KES signing key is not the hot key the op cert
	// certifies (MismatchedKesKey).
	ErrKESMismatch = errors.New("KES key does not match the op cert")
	// ErrRejected: the node was told to fail every reload
	// (Config.RejectReload); the traced error is a permission-denied read
	// of the KES key file.
	ErrRejected = errors.New("credential reload rejected")
	// ErrNotEffective: the node is still replaying its ledger
	// (Config.Replaying): SIGHUP does not touch forging.
	ErrNotEffective = errors.New("block forging reconfiguration is not effective yet")
	// ErrPartialCredentials: some but not all of the three credential
	// paths are given. cardano-node refuses to start
	// (readLeaderCredentialsSingleton: OCertNotSpecified,
	// VRFKeyNotSpecified, KESKeyNotSpecified); none at all is a relay.
	ErrPartialCredentials = errors.New("the credential paths are incomplete")
	// ErrTopology: the topology file cannot be read or is not a P2P
	// topology the node accepts (readTopologyFileOrError's error call).
	// At start the node dies of it; on SIGHUP it escapes the signal
	// handler and the node keeps the topology it had.
	ErrTopology = errors.New("topology file rejected")
	// ErrConfig: the Config is incomplete or contradictory.
	ErrConfig = errors.New("bad test node config")
)
