package testnode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/opcert"
)

// Config says how to start a node. A Network is required.
type Config struct {
	// KESKeyPath, VRFKeyPath and CertPath are cardano-node's
	// --shelley-kes-key, --shelley-vrf-key and
	// --shelley-operational-certificate: all three (a block producer) or
	// none (a relay, which has no block forging at all; SIGHUP then
	// traces DisabledBlockForging and updates the topology). Some but not
	// all of them stop the start with ErrPartialCredentials, as the node
	// refuses them.
	KESKeyPath, VRFKeyPath, CertPath string

	// KESAgentSocket is --shelley-kes-agent-socket (cardano-node 10.7.1
	// and later, so the 11.0 model only): the KES key comes from the KES
	// agent listening there, with VRFKeyPath and CertPath and without
	// KESKeyPath (kesagent.go). AgentRetry replaces the node's 10 s pause
	// before it connects again (tests).
	KESAgentSocket string
	AgentRetry     time.Duration

	// TopologyFile, if set, is the P2P topology file (--topology): read
	// at start (an unreadable or malformed file stops the start with
	// ErrTopology) and on every Reload, with the release's parser. Without
	// one the node has an empty topology (the real node always reads one,
	// by default configuration/cardano/mainnet-topology.json).
	TopologyFile string

	Network opcert.Network
	// GenesisJSON, if set, is the Shelley genesis file the Network was read
	// from; GetGenesisConfig then answers its values (security parameter,
	// epoch length, protocol parameters, genDelegs…) instead of the
	// built-in ones for the network's magic.
	GenesisJSON []byte

	// NodeVersion is the modelled cardano-node release: "10.5", "10.6" or
	// "11.0" ("" is DefaultVersion).
	NodeVersion string

	// SocketPath, if set, is where the node-to-client unix socket listens.
	// Unix socket paths are limited to 107 bytes.
	SocketPath string
	// MetricsAddr, if set, is the TCP address of the Prometheus endpoint
	// (for example 127.0.0.1:0); MetricsURL reports the bound address.
	MetricsAddr string
	// MetricsNoSuffix serves the new tracing system's metrics without the
	// _int suffix ("PrometheusSimple nosuffix …"). The legacy system has
	// no such option.
	MetricsNoSuffix bool

	// TipSlot is the chain tip when Clock is nil.
	TipSlot uint64
	// Clock, if set, makes the tip follow the network's slot at
	// Clock() − TipLag.
	Clock func() time.Time
	// TipLag makes the tip trail the clock, as on a node that is still
	// syncing.
	TipLag time.Duration
	// Era is the ledger's era by name ("Conway" if empty). "Byron" is a
	// node still syncing from genesis: Shelley-era queries get an era
	// mismatch.
	Era string

	// OnChain holds the op-cert counters the chain has recorded, by pool.
	// A pool without an entry has none.
	OnChain map[keys.PoolID]uint64
	// FillerPools adds that many other pools to the counters map, as a
	// mainnet ledger holds thousands (the answer then spans several mux
	// segments).
	FillerPools int

	// StartNonProducing is cardano-node's --start-as-non-producing-node:
	// the credentials are read (a missing file still stops the start) but
	// not used; a later Reload (SIGHUP) starts forging with them.
	StartNonProducing bool
	// AllowMissingCredentials starts the node with forging disabled when a
	// credential file is missing. The real node refuses to start then;
	// this stands in for a node that has been running and whose files
	// were moved away and SIGHUPed (a state the real node reaches).
	AllowMissingCredentials bool
	// Replaying keeps the node in its ledger replay: consensus has not
	// started, the socket is not there yet, and a Reload only re-reads
	// the topology and traces that block forging is not reconfigured.
	// FinishReplay ends it.
	Replaying bool
	// NotEffective is the former name of Replaying.
	//
	// Deprecated: use Replaying.
	NotEffective bool
	// RejectReload makes every Reload fail as the node does when it cannot
	// read the KES key file (permission denied): a BlockForgingUpdateError
	// is traced and the old set stays in use.
	RejectReload bool

	// Tracing is the tracing system: "new" (trace-dispatcher) or "legacy"
	// (iohk-monitoring); "" is the version's shipped default (legacy on
	// 10.5, new from 10.6). It decides the metrics format too.
	Tracing string
	// LogFormat is "human" or "json" (new tracing) or "legacy"; "" is
	// "human" for new tracing and "legacy" for legacy tracing.
	LogFormat string
	// Severity is the root severity ("" is the shipped config's: Notice
	// for new tracing, Info for legacy).
	Severity string
	// TraceOptions maps namespaces (Startup.BlockForgingUpdate,
	// cardano.node.startup) to severities, on top of the shipped ones
	// (ShippedTraceOptions, new tracing only).
	TraceOptions map[string]string

	// Log receives the node's log lines (its stdout); nil discards them.
	Log io.Writer
	// Stderr receives what the node writes to stderr itself: GHC's report
	// of an exception that ends a thread, such as a topology file refused
	// on SIGHUP ("cardano-node: Cardano.Node.Configuration.TopologyP2P.
	// readTopologyFile: …" and its CallStack). Under systemd it lands in
	// the journal beside the log. nil discards it.
	Stderr io.Writer
	// LogFile, if set, is a file the node appends its log lines to
	// instead of Log; RotateLog moves it behind its path.
	LogFile string
	// Host is the host name in log lines; "testnode" if empty.
	Host string
	// LogClock stamps the log lines; time.Now if nil.
	LogClock func() time.Time
}

// State is what the node is doing, as seen from inside.
type State struct {
	Forging bool // forging with a credential set
	Loaded  bool // a credential set has been taken (its figures follow)

	PoolID           keys.PoolID
	CertCounter      uint64
	CertHash         string
	StartPeriod      uint64 // the cert's first KES period
	ExpiryPeriod     uint64 // StartPeriod + maxKESEvolutions
	KESVKey          keys.KESVKey
	VRFVKey          keys.VRFVKey
	TipSlot          uint64
	CurrentPeriod    uint64
	RemainingPeriods int64
	Evolution        int64 // current - start: what the KES key would be evolved to

	Sets int // credential sets taken since start, the first included
	// AgentKeys counts the keys a KES agent pushed (KESAgentSocket).
	AgentKeys int

	// ConsensusUp is false while the node replays its ledger.
	ConsensusUp bool

	// CanForge says whether a block the node forged at the tip would be
	// valid: it forges, the current KES period is inside the cert's window,
	// the key evolves to it and signs under the cert's hot key, and the
	// cold key's signature on the cert holds. CannotForge says why not.
	CanForge    bool
	CannotForge string

	// LocalRoots and PublicRoots are the topology in use, group by group,
	// as the topology file wrote them (Config.TopologyFile; none without
	// one). Access point names stay as written: the node resolves them
	// itself, again after each topology update.
	LocalRoots, PublicRoots []RootGroup
	// UseLedgerAfterSlot is the topology's ledger-peer use: -1 never,
	// 0 in any slot, else after that slot.
	UseLedgerAfterSlot int64
	// PeerSnapshotFile is the topology's peer snapshot file, made
	// relative to the topology file's folder as the node does ("" if
	// none).
	PeerSnapshotFile string
	// Topologies counts the topologies taken since start, the first
	// included; TopologyErrors counts the Reloads whose topology file was
	// refused (the node kept the topology it had).
	Topologies, TopologyErrors int
}

// Outcome is what a Reload did.
type Outcome int

const (
	// Enabled: the new set was read and forging is on with it.
	Enabled Outcome = iota
	// Disabled: a credential file is missing, forging is off.
	Disabled
	// Kept: the new set was bad; the error was traced and the old set
	// (or none) stays in use.
	Kept
	// Ignored: the node is still replaying its ledger
	// (BlockForgingUpdate NotEffective).
	Ignored
)

func (o Outcome) String() string {
	switch o {
	case Enabled:
		return "enabled"
	case Disabled:
		return "disabled"
	case Kept:
		return "kept"
	case Ignored:
		return "ignored"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// hotKey is consensus' HotKey state for the set in use.
type hotKey struct {
	info     kesInfo
	poisoned bool
}

// Node is a running test node.
type Node struct {
	cfg     Config
	ver     nodeVersion
	tr      *tracer
	genesis genesisParams
	era     int
	started time.Time

	mu            sync.Mutex
	creds         *credentials // the set in use; nil when none was ever taken
	forging       bool         // consensus has the set (setBlockForging)
	forgingMetric bool         // forging_enabled, from the last BlockForgingUpdate
	sets          int
	consensusUp   bool
	tipFixed      bool
	tipSlot       uint64
	onchain       map[[28]byte]uint64
	fillers       map[[28]byte]uint64
	hot           hotKey
	kesMetrics    kesGauges
	lastTick      uint64
	ticked        bool
	threads       int
	topo          *topology // the topology in use
	topologies    int
	topoErrors    int
	agentKeys     int // keys a KES agent pushed

	sock      net.Listener
	httpSrv   *http.Server
	metricsLn net.Listener
	connMu    sync.Mutex
	conns     map[net.Conn]struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
	closed    chan struct{}
}

// kesGauges are the KES metrics as last set by a forge state update.
type kesGauges struct {
	set                               bool
	start, expiry, current, remaining int64
	failedSlot                        uint64
}

// Start reads the credentials and the topology and starts serving, as
// cardano-node starts: a VRF key file with an "other" permission bit, any
// credential that cannot be read (a missing file included, even with
// StartNonProducing), a partial set of credential paths, or a topology
// file the node refuses stops it with the node's error
// (ErrVRFPermissions, ErrMissingCredential, ErrKESMismatch,
// ErrCredentialFile, ErrPartialCredentials, ErrTopology). ctx bounds only the start itself;
// call Close to stop.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	if cfg.RejectReload && !cfg.producer() {
		return nil, fmt.Errorf("%w: RejectReload fails the KES key read of a block producer; a relay has no credential paths", ErrConfig)
	}
	if cfg.Network.SlotsPerKESPeriod == 0 || cfg.Network.MaxKESEvolutions == 0 || cfg.Network.Magic == 0 {
		return nil, fmt.Errorf("%w: network %q lacks KES parameters or magic", ErrConfig, cfg.Network.Name)
	}
	if cfg.Network.SlotLength <= 0 {
		return nil, fmt.Errorf("%w: network %q lacks a slot length", ErrConfig, cfg.Network.Name)
	}
	if cfg.Host == "" {
		cfg.Host = "testnode"
	}
	if cfg.NotEffective {
		cfg.Replaying = true
	}
	ver, err := lookupVersion(cfg.NodeVersion)
	if err != nil {
		return nil, err
	}
	if err := checkAgentConfig(cfg, ver); err != nil {
		return nil, err
	}
	tr, err := newTracer(cfg, ver)
	if err != nil {
		return nil, err
	}
	n := &Node{
		cfg: cfg, ver: ver, tr: tr, started: tr.now(),
		tipFixed: cfg.Clock == nil, tipSlot: cfg.TipSlot,
		onchain: make(map[[28]byte]uint64, len(cfg.OnChain)),
		fillers: fillerPools(cfg.FillerPools),
		conns:   make(map[net.Conn]struct{}),
		closed:  make(chan struct{}),
	}
	fail := func(err error) (*Node, error) {
		_ = tr.close()
		n.creds.wipe()
		return nil, err
	}
	if n.era, err = n.eraFromConfig(); err != nil {
		return fail(err)
	}
	if cfg.GenesisJSON != nil {
		if n.genesis, err = parseGenesisParams(cfg.GenesisJSON); err != nil {
			return fail(err)
		}
	} else {
		n.genesis = defaultGenesis(cfg.Network.Magic)
	}
	for id, c := range cfg.OnChain {
		n.onchain[id] = c
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}

	// cardano-node/src/Cardano/Node/Run.hs runNode: it prints its
	// configuration (abbreviated here), checks the VRF key file's mode,
	// then reads the credentials (mkConsensusProtocol); any failure is
	// thrown and ends the process before logging is set up.
	topoShown := ""
	if cfg.TopologyFile != "" {
		topoShown = "ncTopologyFile = " + hsQuote(cfg.TopologyFile) + ", "
	}
	tr.emit(logEvent{plain: fmt.Sprintf("Node configuration: NodeConfiguration {ncSocketConfig = SocketConfig {ncSocketPath = Last {getLast = Just %s}}, %sncProtocolFiles = ProtocolFilepaths {shelleyKESFile = %s, shelleyVRFFile = %s, shelleyCertFile = %s}, ncStartAsNonProducingNode = %s, …}",
		hsQuote(cfg.SocketPath), topoShown, hsMaybePath(cfg.KESKeyPath), hsMaybePath(cfg.VRFKeyPath), hsMaybePath(cfg.CertPath), hsBool(cfg.StartNonProducing))})
	creds, err := n.startCredentials()
	if err != nil {
		return fail(err)
	}
	n.creds = creds
	switch {
	case creds != nil && cfg.agentMode():
		n.sets = 1
		n.hot = hotKey{poisoned: true} // mkEmptyHotKey, until the agent sends a key
	case creds != nil:
		n.sets = 1
		n.hot = hotKey{info: kesInfo{start: creds.kesPeriod, end: creds.kesPeriod + cfg.Network.MaxKESEvolutions}}
	}

	// Logging is up: the startup traces, then the initial block forging
	// update (Run.hs handleNodeWithTracers: Enabled unless non-producing
	// or without credentials).
	tr.emit(networkMagicEvent(cfg.Network.Magic))
	n.forgingMetric = creds != nil && !cfg.StartNonProducing
	if n.forgingMetric {
		tr.emit(blockForgingUpdate(enabledBlockForging, threadMain))
	} else {
		tr.emit(blockForgingUpdate(disabledBlockForging, threadMain))
	}
	// handleSimpleNode: readTopologyFileOrError, whose error call ends the
	// process, then NetworkConfig.
	if terr := n.readTopologyLocked(threadMain, false); terr != nil {
		return fail(terr)
	}
	if cfg.MetricsAddr != "" {
		if err := n.listenMetrics(ctx); err != nil {
			return fail(err)
		}
	}
	if !cfg.Replaying {
		if err := n.startConsensus(ctx); err != nil {
			n.stopMetrics()
			return fail(err)
		}
	}
	if cfg.Clock != nil {
		n.wg.Add(1)
		go n.slotTicker()
	}
	if cfg.agentMode() && creds != nil {
		n.wg.Add(1)
		go n.runAgentClient()
	}
	return n, nil
}

// producer is hasProtocolFile: the node was given credential paths.
func (c Config) producer() bool {
	return c.KESKeyPath != "" || c.VRFKeyPath != "" || c.CertPath != "" || c.KESAgentSocket != ""
}

// hsMaybePath is the Show of a Maybe FilePath.
func hsMaybePath(p string) string {
	if p == "" {
		return "Nothing"
	}
	return "Just " + hsQuote(p)
}

func hsBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

func (n *Node) eraFromConfig() (int, error) {
	if n.cfg.Era == "" {
		return eraConway, nil
	}
	i, ok := n.ver.eraIndex(n.cfg.Era)
	if !ok {
		return 0, fmt.Errorf("%w: node %s has no era %q (it knows %s)", ErrConfig, n.ver.name, n.cfg.Era, strings.Join(n.ver.eras, ", "))
	}
	return i, nil
}

func newTracer(cfg Config, ver nodeVersion) (*tracer, error) {
	t := &tracer{system: cfg.Tracing, format: cfg.LogFormat, host: hostOnly(cfg.Host), w: cfg.Log,
		path: cfg.LogFile, now: cfg.LogClock, options: map[string]Severity{}}
	if t.now == nil {
		t.now = time.Now
	}
	if t.system == "" {
		t.system = ver.tracing
	}
	switch t.system {
	case TracingNew:
		if t.format == "" {
			t.format = LogHuman
		}
		if t.format != LogHuman && t.format != LogJSON {
			return nil, fmt.Errorf("%w: the new tracing system writes human or json lines, not %q", ErrConfig, t.format)
		}
		t.root = ShippedSeverity
		t.options = ShippedTraceOptions()
	case TracingLegacy:
		if t.format == "" {
			t.format = LogLegacy
		}
		if t.format != LogLegacy {
			return nil, fmt.Errorf("%w: the legacy tracing system writes legacy lines, not %q", ErrConfig, t.format)
		}
		t.root = ShippedLegacySeverity
	default:
		return nil, fmt.Errorf("%w: unknown tracing system %q (want new or legacy)", ErrConfig, t.system)
	}
	if cfg.Severity != "" {
		s, err := ParseSeverity(cfg.Severity)
		if err != nil {
			return nil, err
		}
		t.root = s
	}
	for ns, sev := range cfg.TraceOptions {
		s, err := ParseSeverity(sev)
		if err != nil {
			return nil, err
		}
		t.options[ns] = s
	}
	if t.path != "" {
		if err := t.openFile(); err != nil {
			return nil, errors.Join(ErrConfig, err)
		}
	}
	return t, nil
}

// hostOnly drops a domain, as trace-dispatcher does with the host name.
func hostOnly(h string) string {
	if i := strings.IndexByte(h, '.'); i > 0 {
		return h[:i]
	}
	return h
}

// startCredentials is the start-up part of cardano-node's Run.hs: the VRF
// key file's mode (checkVRFFilePermissions: "other" bits are fatal, group
// bits print a warning on stdout), then mkConsensusProtocol, whose failure
// is fatal too.
func (n *Node) startCredentials() (*credentials, error) {
	cfg := n.cfg
	if !cfg.producer() {
		// readLeaderCredentialsSingleton: no files at all is a node
		// without block forging.
		return nil, nil
	}
	if cfg.VRFKeyPath != "" {
		if err := n.checkVRFMode(); err != nil {
			return nil, err
		}
	}
	if cerr := notSpecified(cfg); cerr != nil {
		return nil, cerr
	}
	var creds *credentials
	var cerr *credError
	if cfg.agentMode() {
		creds, cerr = readAgentModeCredentials(cfg.VRFKeyPath, cfg.CertPath)
	} else {
		creds, cerr = readCredentials(cfg.VRFKeyPath, cfg.CertPath, cfg.KESKeyPath)
	}
	if cerr == nil {
		return creds, nil
	}
	if cerr.kind == credMissing && cfg.AllowMissingCredentials {
		return nil, nil
	}
	return nil, cerr
}

// checkVRFMode is Run.hs' checkVRFFilePermissions, run when a VRF key
// path is given.
func (n *Node) checkVRFMode() error {
	cfg := n.cfg
	fi, err := os.Stat(cfg.VRFKeyPath)
	switch {
	case err != nil && cfg.AllowMissingCredentials:
		return nil
	case err != nil:
		// getFileStatus throws; GHC prints the IOException.
		return fmt.Errorf("%w: %s", ErrMissingCredential, ghcIOError(cfg.VRFKeyPath, "getFileStatus", err))
	case fi.Mode().Perm()&0o007 != 0:
		return fmt.Errorf("%w: %s", ErrVRFPermissions, vrfPermissionsMessage(cfg.VRFKeyPath, "other"))
	case fi.Mode().Perm()&0o070 != 0:
		n.tr.emit(logEvent{plain: "WARNING: " + vrfPermissionsMessage(cfg.VRFKeyPath, "group")})
	}
	return nil
}

// vrfPermissionsMessage is renderVRFPrivateKeyFilePermissionError
// (cardano-node/src/Cardano/Node/Types.hs) for "other" or "group".
func vrfPermissionsMessage(path, who string) string {
	return fmt.Sprintf("VRF private key file at: %s has %q file permissions. Please remove all %q file permissions.", path, who, who)
}

// startConsensus is the end of the ledger replay: the node kernel sets the
// block forging (unless non-producing), the local socket opens and the
// forge loop runs.
func (n *Node) startConsensus(ctx context.Context) error {
	if n.cfg.SocketPath != "" {
		if err := n.listenSocket(ctx); err != nil {
			return err
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.consensusUp = true
	n.forging = n.creds != nil && !n.cfg.StartNonProducing
	n.forgeTickLocked(n.tipLocked())
	return nil
}

// FinishReplay ends the ledger replay of a node started with Replaying:
// consensus starts and the socket opens. It does nothing on a node whose
// consensus is up.
func (n *Node) FinishReplay() error {
	n.mu.Lock()
	up := n.consensusUp
	n.mu.Unlock()
	if up {
		return nil
	}
	return n.startConsensus(context.Background())
}

// Reload is what SIGHUP does to the node (cardano-node 10.6.4,
// cardano-node/src/Cardano/Node/Run.hs; 10.5.3 and 11.0.1 alike). While
// the ledger replays, the initial handler re-reads the topology
// ("Performing topology configuration update", Notice) and traces
// BlockForgingUpdate NotEffective: Ignored, ErrNotEffective. After that,
// installSigHUPHandler runs updateBlockForging and then the topology
// update. updateBlockForging re-reads the three files with
// mkConsensusProtocol and does not look at --start-as-non-producing-node:
//
//   - a file that does not exist (FileDoesNotExistError): BlockForgingUpdate
//     DisabledBlockForging, forging off: Disabled, ErrMissingCredential;
//   - any other error (bad envelope, MismatchedKesKey, unreadable file):
//     BlockForgingUpdateError with the error's Show, forging unchanged: Kept,
//     the error (ErrKESMismatch, ErrCredentialFile);
//   - a set that reads: BlockForgingUpdate EnabledBlockForging, forging
//     with it: Enabled, nil. There is no mode check and no KES-window
//     check: a cert whose window has ended or not begun loads;
//   - a relay (no credential paths): no credentials, so
//     DisabledBlockForging: Disabled, nil.
//
// The topology update (updateTopologyConfiguration) re-reads
// Config.TopologyFile: a file that reads gives NetworkConfig (Info) and
// replaces the topology. One that does not makes readTopologyFileOrError
// call `error`, which the handler's `try` (it catches only FatalError)
// does not catch: no NetworkConfigUpdateError is traced, the rest of the
// handler does not run (while replaying: no NotEffective), GHC prints the
// error on stderr (Config.Stderr) and the old topology stays. The returned
// error then wraps ErrTopology as well.
func (n *Node) Reload() (Outcome, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.threads++
	th := 100 + n.threads
	if !n.consensusUp {
		if terr := n.readTopologyLocked(th, true); terr != nil {
			return Ignored, errors.Join(ErrNotEffective, terr)
		}
		n.tr.emit(blockForgingUpdate(notEffective, th))
		n.forgingMetric = false
		return Ignored, ErrNotEffective
	}
	o, err := n.updateBlockForgingLocked(th)
	if terr := n.readTopologyLocked(th, true); terr != nil {
		err = errors.Join(err, terr)
	}
	// The forge loop is another thread: its next slot's forge state
	// update (with the new key's KES info) comes after the SIGHUP handler
	// has finished, topology update included.
	if o == Enabled {
		n.forgeTickLocked(n.tipLocked())
	}
	return o, err
}

// readTopologyLocked is the topology read of the start (thread
// threadMain: handleSimpleNode, which dies of an error) and of SIGHUP
// (updateTopologyConfiguration, which first traces NetworkConfigUpdate and
// lets an error escape the handler thread).
func (n *Node) readTopologyLocked(th int, reload bool) *topologyError {
	if reload {
		n.tr.emit(networkConfigUpdate(th))
	}
	t := &topology{}
	if n.cfg.TopologyFile != "" {
		var notes []topologyNote
		var terr *topologyError
		t, notes, terr = readTopologyFile(n.cfg.TopologyFile, n.ver, n.cfg.producer())
		if terr != nil {
			if reload {
				n.topoErrors++
				n.writeStderr("cardano-node: " + terr.show() + "\n")
			}
			return terr
		}
		for _, note := range notes {
			n.tr.emit(networkConfigNote(note, th))
		}
	}
	n.tr.emit(networkConfig(t, n.ver.topo, th))
	n.topo = t
	n.topologies++
	return nil
}

// writeStderr writes to Config.Stderr as GHC's errorBelch does for an
// exception that ends a thread ("<program>: <show>").
func (n *Node) writeStderr(s string) {
	if n.cfg.Stderr != nil {
		_, _ = io.WriteString(n.cfg.Stderr, s)
	}
}

func (n *Node) updateBlockForgingLocked(th int) (Outcome, error) {
	if !n.cfg.producer() {
		n.forging, n.forgingMetric = false, false
		n.tr.emit(blockForgingUpdate(disabledBlockForging, th))
		return Disabled, nil
	}
	if n.cfg.agentMode() {
		return n.updateAgentModeLocked(th)
	}
	if n.cfg.RejectReload {
		cerr := &credError{kind: credIO, path: n.cfg.KESKeyPath,
			detail: ghcIOError(n.cfg.KESKeyPath, "openFileBlocking", &fs.PathError{Op: "open", Path: n.cfg.KESKeyPath, Err: syscall.EACCES})}
		n.tr.emit(blockForgingUpdateError(cerr.show(), th))
		return Kept, fmt.Errorf("%w: %w", ErrRejected, cerr)
	}
	creds, cerr := readCredentials(n.cfg.VRFKeyPath, n.cfg.CertPath, n.cfg.KESKeyPath)
	switch {
	case cerr == nil:
		n.creds.wipe()
		n.creds = creds
		n.forging, n.forgingMetric = true, true
		n.sets++
		n.hot = hotKey{info: kesInfo{start: creds.kesPeriod, end: creds.kesPeriod + n.cfg.Network.MaxKESEvolutions}}
		n.tr.emit(blockForgingUpdate(enabledBlockForging, th))
		return Enabled, nil
	case cerr.kind == credMissing:
		n.forging, n.forgingMetric = false, false
		n.tr.emit(blockForgingUpdate(disabledBlockForging, th))
		return Disabled, cerr
	default:
		n.tr.emit(blockForgingUpdateError(cerr.show(), th))
		return Kept, cerr
	}
}

// forgeTickLocked is the forge loop's forge state update at a slot
// (ouroboros-consensus-protocol, Protocol/Ledger/HotKey.hs evolveKey):
// before the cert's window the key stays at evolution 0 (Updated); in the
// window it evolves to period − start; at or after the end it is poisoned
// and the update fails (KESCouldNotEvolve, then KESKeyAlreadyPoisoned at
// every later slot). The test node runs it at each new slot while the tip
// follows a clock, at start, after each reload that took a set, and on
// SetTipSlot.
func (n *Node) forgeTickLocked(slot uint64) {
	n.lastTick, n.ticked = slot, true
	if !n.consensusUp || !n.forging || n.creds == nil {
		return
	}
	kp := n.cfg.Network.KESPeriod(slot)
	h := &n.hot
	fail := func(poisoned bool) {
		n.kesMetrics = kesGauges{set: true, start: int64(h.info.start), expiry: int64(h.info.end), failedSlot: max(slot, 1)}
		n.tr.emit(forgeStateUpdateError(slot, h.info, kp, poisoned))
	}
	switch {
	case h.poisoned:
		fail(true)
		return
	case kp < h.info.start:
		// BeforeKESStart: Updated with the info unchanged.
	case kp >= h.info.end:
		fail(false)
		h.poisoned = true
		return
	default:
		h.info.evolution = max(h.info.evolution, kp-h.info.start)
	}
	n.kesMetrics = kesGauges{set: true, start: int64(h.info.start), expiry: int64(h.info.end),
		current: int64(h.info.current()), remaining: int64(h.info.remaining())}
	n.tr.emit(forgeStateInfo(h.info))
}

// slotTicker runs the forge loop at each new slot of a clock-following
// tip.
func (n *Node) slotTicker() {
	defer n.wg.Done()
	t := time.NewTicker(n.cfg.Network.SlotLength)
	defer t.Stop()
	for {
		select {
		case <-n.closed:
			return
		case <-t.C:
			n.mu.Lock()
			if s := n.tipLocked(); !n.ticked || s != n.lastTick {
				n.forgeTickLocked(s)
			}
			n.mu.Unlock()
		}
	}
}

// State reports the node's current state at the current tip.
func (n *Node) State() State {
	n.mu.Lock()
	defer n.mu.Unlock()
	slot := n.tipLocked()
	kp := n.cfg.Network.KESPeriod(slot)
	s := State{Forging: n.forging, TipSlot: slot, CurrentPeriod: kp, Sets: n.sets, ConsensusUp: n.consensusUp,
		Topologies: n.topologies, TopologyErrors: n.topoErrors, UseLedgerAfterSlot: -1}
	if t := n.topo; t != nil {
		s.LocalRoots, s.PublicRoots = t.rootGroups()
		s.PeerSnapshotFile = t.snapshot
		switch t.ledger {
		case ledgerAlways:
			s.UseLedgerAfterSlot = 0
		case ledgerAfter:
			s.UseLedgerAfterSlot = int64(t.ledgerSlot)
		}
	}
	c := n.creds
	if c == nil {
		s.CannotForge = "no credentials"
		return s
	}
	s.AgentKeys = n.agentKeys
	if c.fromAgent && c.kesRaw == nil {
		s.CannotForge = "no KES key from the KES agent (the hot key is empty)"
		return s
	}
	end := c.kesPeriod + n.cfg.Network.MaxKESEvolutions
	s.Loaded = true
	s.PoolID = keys.PoolID(c.poolID())
	s.CertCounter = c.counter
	s.CertHash = c.certHash()
	s.StartPeriod, s.ExpiryPeriod = c.kesPeriod, end
	s.KESVKey = keys.KESVKey(c.hotVK)
	s.VRFVKey = keys.VRFVKey(c.vrfVKey())
	s.RemainingPeriods = int64(end) - int64(kp)
	s.Evolution = int64(kp) - int64(c.kesPeriod)
	switch {
	case !n.consensusUp:
		s.CannotForge = "the ledger is still replaying"
	case !n.forging:
		s.CannotForge = "block forging is disabled"
	case kp < c.kesPeriod:
		s.CannotForge = fmt.Sprintf("the op cert's KES window starts at period %d, after the current period %d (PraosCannotForgeKeyNotUsableYet)", c.kesPeriod, kp)
	case kp >= end || n.hot.poisoned:
		s.CannotForge = fmt.Sprintf("the op cert's KES window ended at period %d; the current period is %d (KESCouldNotEvolve)", end, kp)
	case !c.signatureValid():
		s.CannotForge = "the cold key's signature on the op cert does not verify: peers reject the blocks"
	case !c.signsAt(kp - c.kesPeriod):
		s.CannotForge = fmt.Sprintf("the KES key does not sign under the cert's hot key at evolution %d (an evolved key file?): peers reject the blocks", kp-c.kesPeriod)
	default:
		s.CanForge = true
	}
	return s
}

// SetTipSlot fixes the chain tip at slot (and stops following the clock).
// The forge loop runs at the new slot.
func (n *Node) SetTipSlot(slot uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.tipFixed, n.tipSlot = true, slot
	n.forgeTickLocked(slot)
}

// SetOnChainCounter records counter c for pool id, as if the pool had
// minted a block with cert number c.
func (n *Node) SetOnChainCounter(id keys.PoolID, c uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.onchain[id] = c
}

// SocketPath is the node-to-client socket path ("" if none).
func (n *Node) SocketPath() string { return n.cfg.SocketPath }

// Version is the modelled node release, such as "11.0.1".
func (n *Node) Version() string { return n.ver.release }

// RotateLog moves the log file behind its path (path.1, path.2, …) and
// opens a new one at path, as logrotate does to a node's log. It fails
// when the node logs to a writer.
func (n *Node) RotateLog() error { return n.tr.rotate() }

// Close stops serving, closes every client connection and removes the
// socket file. It is safe to call more than once.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		close(n.closed)
		n.stopMetrics()
		if n.sock != nil {
			_ = n.sock.Close()
		}
		n.connMu.Lock()
		for c := range n.conns {
			_ = c.Close()
		}
		n.connMu.Unlock()
		n.wg.Wait()
		if n.sock != nil {
			_ = os.Remove(n.cfg.SocketPath)
		}
		n.mu.Lock()
		n.creds.wipe()
		n.creds, n.forging = nil, false
		n.mu.Unlock()
		_ = n.tr.close()
	})
	return nil
}

func (n *Node) tipLocked() uint64 {
	if n.tipFixed {
		return n.tipSlot
	}
	s, err := n.cfg.Network.SlotAt(n.cfg.Clock().Add(-n.cfg.TipLag))
	if err != nil {
		return 0
	}
	return s
}
