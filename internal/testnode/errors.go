package testnode

import "errors"

// Errors the test node reports when it refuses a credential set, at start
// or on reload. Test with errors.Is; the opcert and keys sentinels (such as
// opcert.ErrBadSignature or opcert.ErrKESAfterEnd) are wrapped too.
var (
	// ErrMissingCredential: one of the three credential files does not
	// exist. At start the node refuses to run (unless started
	// non-producing); on reload it disables forging.
	ErrMissingCredential = errors.New("credential file is missing")
	// ErrVRFPermissions: the VRF signing key file has an "other"
	// permission bit. cardano-node refuses to start on that.
	ErrVRFPermissions = errors.New(`VRF signing key file has "other" permissions`)
	// ErrCredentialFile: a credential file does not parse as the key or
	// cert the node expects.
	ErrCredentialFile = errors.New("bad credential file")
	// ErrKESMismatch: the KES signing key is not the hot key the op cert
	// certifies.
	ErrKESMismatch = errors.New("KES key does not match the op cert")
	// ErrCertSignature: the cold key's signature on the op cert does not
	// verify.
	ErrCertSignature = errors.New("op cert signature is invalid")
	// ErrKESWindow: the current KES period is outside the op cert's window.
	ErrKESWindow = errors.New("current KES period is outside the op cert's window")
	// ErrKESEvolution: the KES key could not sign and verify at the
	// evolution the node needs.
	ErrKESEvolution = errors.New("KES key cannot be evolved to the current period")
	// ErrRejected: the node was configured to reject every reload
	// (Config.RejectReload), standing in for a node that will not take a
	// set for reasons the tools cannot see.
	ErrRejected = errors.New("credential reload rejected")
	// ErrNotEffective: the node was configured as not yet having started
	// consensus (Config.NotEffective): SIGHUP does not touch forging.
	ErrNotEffective = errors.New("block forging reconfiguration is not effective yet")
	// ErrConfig: the Config is incomplete or contradictory.
	ErrConfig = errors.New("bad test node config")
)
