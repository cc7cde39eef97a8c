// Package testnode stands in for cardano-node wherever kesrotate-agent meets
// it: the node-to-client socket, the Prometheus endpoint, the log, and
// SIGHUP. cardano-node cannot run in the test environment; this model is
// written from the node's own sources, per release (Config.NodeVersion:
// "10.5" = 10.5.3, "10.6" = 10.6.4, "11.0" = 11.0.1), and shares no
// decoder with the agent. ../shared/docs/node.md has the facts; each file
// cites where a behaviour comes from. docs/testnode.md is the user guide.
//
// # Node-to-client socket (handshake.go, lsq.go, mux.go, encode.go)
//
//   - Segments of network-mux (8-byte header, responder bit), at most
//     12288 payload bytes each (the socket bearer's SDUSize): a large answer
//     spans several.
//   - Handshake: versions 16–20 (10.5), 16–22 (10.6), 16–23 (11.0), with
//     bit 15 set; data [magic, query]. The greatest common version wins;
//     refusals as ouroboros-network encodes them: VersionMismatch [0, node's
//     versions], HandshakeDecodeError [1, v, "unknown encoding: <cborg
//     Term>"], Refused [2, v, "version data mismatch: <node> /= <client>"].
//     A query-mode proposal gets MsgQueryReply with the node's version
//     table. A message that does not decode (versions out of order
//     included) closes the connection without a reply.
//   - Local state query: acquire a point, the volatile or the immutable
//     tip, reacquire, release, done, query, with the codec's tags; acquire
//     failures PointNotOnChain and PointTooOld; a message that does not
//     decode or comes in the wrong state closes the connection.
//   - Queries: GetSystemStart, GetChainBlockNo, GetChainPoint, GetCurrentEra,
//     and in QueryIfCurrent GetEpochNo, GetGenesisConfig, DebugChainDepState
//     and GetCBOR of them. Answers wrapped as the hard-fork combinator wraps
//     them: [result], or the era mismatch [[query era, name], [ledger era,
//     name]] when the query names another era than the ledger's (a Byron
//     ledger, Config.Era). The Praos state has 7 fields on 10.5 and 10.6
//     and 8 on 11.0; GetGenesisConfig has 18 protocol parameters up to NtC
//     20 and 17 from NtC 21. encode_test.go proves every encoder against the
//     golden files of the consensus tag each release builds.
//   - The ledger: the configured op-cert counters plus FillerPools made-up
//     pools; a tip that is fixed, follows a clock, or trails it (TipLag);
//     made-up block hashes (one block per slot) and block numbers (slot/20);
//     the immutable tip k/f slots behind the tip.
//   - While the ledger replays (Replaying) there is no socket: the node
//     opens it once consensus is up.
//
// # Metrics (metrics.go)
//
// The new tracing system's exposition (TYPE lines, gauges ending in _int,
// labels as name{k="v"} 1, "# EOF"; nosuffix drops _int) or the legacy
// one (no TYPE lines, name {labels} 1, KES gauges ending in _int,
// forging_enabled without a suffix, ekg's rts_gc_* lines), chosen by
// Config.Tracing (default: legacy on 10.5, new from 10.6). Build info,
// start time, RTS, slot, block and epoch lines come along. forging_enabled
// follows the last BlockForgingUpdate (1 Enabled, 0 Disabled and
// NotEffective); the KES gauges follow the forge state updates and keep
// their last values when forging stops. There is no op-cert counter
// metric.
//
// # Logs (log.go, events.go)
//
// Three line formats: new tracing human (ANSI colours), new tracing JSON,
// legacy. The real texts, namespaces and severities of BlockForgingUpdate
// (Enabled, Disabled, NotEffective: Info), BlockForgingUpdateError (Error;
// Info in the legacy system; two lines), the topology update (Notice),
// NetworkConfig (Info: the roots read, multi-line) and readTopologyFile's
// NetworkConfigUpdateWarning/Info (10.6 and 11.0), the forge state (Forge.StateInfo, Info/Warning/Alert by the periods
// left) and a KES key that cannot evolve (Forge.Loop.ForgeStateUpdateError,
// Critical). A root severity (shipped: Notice for the new system, Info for
// the legacy one) with per-namespace overrides (the shipped ones plus
// Config.TraceOptions, the longest prefix wins). Lines go to Config.Log
// or are appended to Config.LogFile, which RotateLog moves behind its path.
//
// # Credentials and SIGHUP (creds.go, node.go)
//
//   - Start: a VRF key file with an "other" permission bit is fatal, group
//     bits print a warning; KES key and cert modes are never checked. Any
//     credential that cannot be read, a missing file included, is fatal,
//     with the node's message (also with StartNonProducing). The three
//     paths come all together or not at all: none is a relay (no block
//     forging; every SIGHUP traces DisabledBlockForging), a partial set is
//     refused as readLeaderCredentialsSingleton refuses it (the cert
//     first, then the VRF key, then the KES key; ErrPartialCredentials).
//   - Reload (SIGHUP) while replaying: topology update, then
//     BlockForgingUpdate NotEffective. After: updateBlockForging, then the
//     topology update. A file that does not exist (or a dangling link, a
//     directory) disables forging; any other problem (bad envelope,
//     MismatchedKesKey, unreadable file) traces BlockForgingUpdateError with
//     the node's Show of the error and keeps the old set; a set that reads
//     is taken, whatever its KES window, modes or cold signature, and
//     whatever StartNonProducing said. Symlinks are followed.
//   - The forge loop: a window not yet started keeps the key at evolution 0
//     (current = start, all periods remaining); an ended one poisons the
//     key (current and remaining 0, a Critical line at every slot).
//     State.CanForge tells whether a leader slot would give a valid block.
//
// # A KES agent (kesagent.go)
//
// With KESAgentSocket (--shelley-kes-agent-socket, the 11.0 model only) the
// KES key comes from internal/kesagentdouble: the node reads the VRF key and
// the op cert file (its cold key), starts with an empty hot key, and forges
// with each key the agent pushes, at the pushed evolution.
//
// # Topology (topology.go, node.go)
//
// Config.TopologyFile is read at start (after the start's block forging
// trace; a file the node refuses ends the start, ErrTopology) and at every
// Reload, with the release's reader: cardano-node's own JSON instances on
// 10.5.3 and 10.6.4, ouroboros-network 1.1's on 11.0.1 (field order,
// behindFirewall, 0.0.0.0 refused); from 10.6 a name is made fully
// qualified ("bp1.example." in the log) and an access point without an
// Int port is an SRV domain; 10.5 needs the port. Errors carry aeson's
// path and message. A file that reads: NetworkConfig with the groups as
// the node's Maps hold them (sorted, one entry per access point) and the
// new topology in State. One that does not: on SIGHUP the error call
// escapes the handler (its try catches FatalError only), so no
// NetworkConfigUpdateError is logged, the rest of the handler is skipped
// (no NotEffective while replaying), GHC's report goes to Config.Stderr
// ("cardano-node: Cardano.Node.Configuration.TopologyP2P.readTopologyFile:
// …" and a CallStack) and the old topology stays. State.LocalRoots and
// PublicRoots show the access points as the file writes them ("host:port"),
// names unresolved: the node re-resolves them itself after each update,
// which is not observable from outside. State.Topologies and
// TopologyErrors count the files taken and refused.
//
// # Knowingly simpler than the real node
//
//   - Queries outside the list above (GetInterpreter and QueryAnytime
//     included), the Byron ledger's own query, the TPraos eras' state and
//     the other mini-protocols (chain sync, tx submission, tx monitor) close
//     the connection where the real node would answer.
//   - The made-up chain has no history: an older point sees today's
//     counters. Nonces are made up. GetGenesisConfig's genDelegs are empty
//     for the built-in networks and the protocol parameters are mainnet's
//     on every network unless Config.GenesisJSON is given.
//   - Startup logs only the lines above (with an abbreviated "Node
//     configuration: …" line); the legacy system's forge state line
//     (Debug, a Haskell show) is not written.
//   - Without Config.TopologyFile the topology is empty (the real node
//     reads its default path). Only P2P topologies (10.5's non-P2P mode is
//     not modelled), only Praos mode (Genesis mode's warnings and its
//     bootstrap-peer rewrite are not), the peer snapshot file is named but
//     never read (no LedgerPeerSnapshot traces), no DNS lookups, peer
//     selection traces or peerSelection metrics, no PeerSharing warning.
//     JSON syntax errors carry Go's decoder message; the CallStack names a
//     cabal build's unit id (cardano-node-<release>-inplace); a start
//     refused for its topology prints "kesrotate-testnode: <error>" where
//     the node prints "\ncardano-node: <error>".
//     The human text of the forge state error leaves out the hard-fork
//     wrapper of the KESEvolutionError, and its legacy line (the JSON the
//     legacy system writes for TraceLabelCreds) carries the new system's
//     reason object; envelope decode errors carry a made-up
//     DeserialiseFailure or aeson message.
//   - The forge state updates run at start, after a reload that took a set,
//     on SetTipSlot, and at each new slot of a clock-following tip; leader
//     slots and blocks are not modelled (State.CanForge stands in).
//   - Config.AllowMissingCredentials starts a node whose files are missing
//     (the real node refuses); it stands in for a node whose files were
//     removed after it started.
package testnode
