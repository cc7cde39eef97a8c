// Package kesagentdouble stands in for IOG's kes-agent and its control
// client kes-agent-control in tests: a KES agent that holds a staged and an
// installed KES signing key in memory only, evolves the installed key with
// its clock, serves it to a node (internal/testnode) on a service socket,
// and takes commands on a control socket; and a kes-agent-control whose
// command line, outputs and exit codes are the real one's.
//
// Written from input-output-hk/kes-agent at commit 19ffbb0 (after the
// kes-agent-1.1.0.0 tag):
//
//   - kes-agent/cli/ControlMain.hs: the subcommands gen-staged-key,
//     drop-staged-key, export-staged-vkey, install-key, drop-key and info;
//     the options --control-address/-c (else $KES_AGENT_CONTROL_PATH, else
//     /tmp/kes-agent-control.socket), --verbose/-v, --retry-interval
//     (--retry-delay), --retry-exponential, --retry-attempts, and per
//     command --kes-verification-key-file (default kes.vkey, "-" for
//     stdout) and --opcert-file (default kes.vkey too); every line each
//     command prints ("Asking agent to generate a key...", "KES SignKey
//     generated.", "KES VerKey written to F", "No key available.", "Staged
//     key dropped.", "KES key installed.", "Error: <reason>", "KES key
//     dropped.", "KES key not dropped:"), that a command which fails in the
//     agent still exits 0 except install-key, which exits with the
//     RecvResult's position in its enum, and the layout of info;
//   - kes-agent/src/Cardano/KESAgent/Protocols/RecvResult.hs: RecvOK,
//     RecvErrorKeyOutdated, RecvErrorInvalidOpCert, RecvErrorNoKey,
//     RecvErrorUnsupportedOperation, RecvErrorUnknown, in that order;
//   - kes-agent/src/Cardano/KESAgent/Processes/Agent/ControlActions.hs:
//     gen-staged-key replaces the staged key; install-key takes the staged
//     key out of the staging area before it validates the cert, so a
//     refused cert loses the staged key; drop-key installs a deletion;
//     getInfo reports time, KES period and its bounds, the installed bundle
//     and the staged key;
//   - kes-agent/src/Cardano/KESAgent/Processes/Agent/CommonActions.hs
//     (pushKey, isTaggedBundleAgeValid, checkEvolution): a cert must verify
//     against the agent's cold key and certify the staged key; with a key
//     installed the new cert's counter must not be lower and its timestamp
//     must be strictly newer; a deletion wins over a key of the same
//     timestamp; after a deletion any counter is taken; the installed key is
//     evolved to the agent's current KES period, and dropped (the store left
//     empty) when it cannot evolve that far;
//   - kes-agent-crypto/src/Cardano/KESAgent/KES/OCert.hs (validateOCert):
//     "Verification key does not match", then the cold signature over
//     hot vk ‖ counter ‖ period;
//   - kes-agent-crypto/src/Cardano/KESAgent/KES/Evolution.hs: the agent's
//     KES period is (now − systemStart) div (slotLength × slotsPerKESPeriod)
//     from the genesis file, which knows nothing of a Byron era; the
//     evolution target is that period minus the cert's, in Word, so a cert
//     that starts after the agent's period wraps around and the key is
//     dropped as expired;
//   - kes-agent/src/Cardano/KESAgent/Serialization/TextEnvelope.hs and
//     CBOR.hs: the vkey file is aeson's compact JSON with its keys sorted
//     ({"cborHex":…,"description":"KES verification","type":
//     "KesVerificationKey_ed25519_kes_2^6"}), no final newline; an op cert
//     envelope must have the type NodeOperationalCertificate;
//   - kes-agent/src/Cardano/KESAgent/Processes/Agent.hs: a service client is
//     sent the current bundle when it connects and every new one after;
//   - kes-agent/cli/AgentMain.hs: kes-agent run with --service-address,
//     --control-address, --bootstrap-address, --cold-verification-key,
//     --genesis-file, --log-level, --log-target.
//
// Where it is simpler than kes-agent: the control and service sockets speak
// the double's own JSON lines (wire.go), not kes-agent's versioned binary
// protocols, so only these doubles talk to each other; the key lives in Go
// memory, not mlocked memory; there are no bootstrap peers (the option is
// accepted and listed as down), no service mode (start, stop, status), no
// configuration file and no log output but fatal errors; aeson's decode
// errors are Go's; and kes-agent run takes --now T (tests only) to start
// its clock at T.
package kesagentdouble
