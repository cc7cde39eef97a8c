// Package testnode is a stand-in for the parts of cardano-node that
// kesrotate-agent touches, for tests and demos. cardano-node cannot run in
// the test environment; this node behaves like it where the agent can tell:
//
//   - It starts with the three credential paths of cardano-node's
//     --shelley-kes-key, --shelley-vrf-key and --shelley-operational-certificate
//     and validates them as the node does: the KES key is the cert's hot key,
//     the cold signature holds, the VRF key file has no "other" permission
//     bit (fatal) and group bits only warn, and the current KES period (from
//     the tip slot) is inside the cert's window. The fresh KES key is evolved
//     in memory to current period - cert start and must sign and verify there.
//   - Reload (SIGHUP for the binary) follows the rules of cardano-node 8.2+:
//     a missing credential file disables forging; a set that fails any check
//     is traced and the old credentials stay in use; a good set replaces the
//     old one and forging is (re-)enabled.
//   - It serves Prometheus text metrics under the node's names (see
//     metrics.go) and node-to-client local state queries on a unix socket
//     through gouroboros' server-side protocol code (see query.go).
//   - It logs in the style of cardano-node's text tracer, one line per
//     Write: "[host:cardano.node.startup:Info:5] [date time UTC] msg". The
//     lines tools may wait for: "Performing block forging reconfiguration:
//     Enabling block forging. …" (at start and after a reload that took a
//     set), "… Disabling block forging, …" (a file is missing) and
//     ":Error:" "BlockForgingUpdateError: <reason>" (a bad set, old kept).
//   - The metric cardano_node_metrics_operationalCertificateCounter_int is
//     an addition of the test node: cardano-node does not expose the op cert
//     counter, so the agent must treat it as optional.
//
// Where it is stricter than the real node, on purpose: a cert whose window
// does not contain the current period is refused (cardano-node starts and
// only fails when it tries to forge), so a test sees the failure at once.
package testnode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/blinklabs-io/gouroboros"

	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/opcert"
)

// Config says how to start a node. KESKeyPath, VRFKeyPath, CertPath and a
// Network are required.
type Config struct {
	KESKeyPath, VRFKeyPath, CertPath string

	Network opcert.Network

	// SocketPath, if set, is where the node-to-client unix socket listens.
	// Unix socket paths are limited to 107 bytes.
	SocketPath string
	// MetricsAddr, if set, is the TCP address of the Prometheus endpoint
	// (for example 127.0.0.1:0); MetricsURL reports the bound address.
	MetricsAddr string
	// MetricsNoSuffix serves the metric names without the _int suffix, as
	// cardano-node's nosuffix mode does.
	MetricsNoSuffix bool

	// TipSlot is the chain tip when Clock is nil.
	TipSlot uint64
	// Clock, if set, makes the tip follow the network's slot at Clock().
	Clock func() time.Time

	// OnChain holds the op-cert counters the chain has recorded, by pool.
	// A pool without an entry has none.
	OnChain map[keys.PoolID]uint64

	// StartNonProducing starts without credentials when a file is missing
	// (cardano-node's --start-as-non-producing-node); a later Reload
	// enables forging.
	StartNonProducing bool
	// RejectReload makes every Reload fail with ErrRejected and keep the
	// old set: a node that does not take a new set.
	RejectReload bool
	// NotEffective makes every Reload a no-op that logs it was not
	// effective, as cardano-node does before consensus is up.
	NotEffective bool

	// Log receives the node's log lines; nil discards them.
	Log io.Writer
	// Host is the host name in log lines; "testnode" if empty.
	Host string
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
	Evolution        int64 // current - start: what the KES key was evolved to

	Sets int // credential sets taken since start, the first included
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
	// Ignored: the reload was not effective (Config.NotEffective).
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

// Node is a running test node.
type Node struct {
	cfg Config

	mu       sync.Mutex
	creds    *credentials // nil when none was ever loaded
	forging  bool
	sets     int
	tipFixed bool
	tipSlot  uint64
	onchain  map[keys.PoolID]uint64

	logMu sync.Mutex

	sock      net.Listener
	httpSrv   *http.Server
	metricsLn net.Listener
	conns     map[net.Conn]*ouroboros.Connection // client connections, the ouroboros side once up
	wg        sync.WaitGroup
	closeOnce sync.Once
	closed    chan struct{}
}

// Start validates the credentials and starts serving. It refuses to start
// (returns an error and serves nothing) on any credential problem, except a
// missing file when cfg.StartNonProducing is set. ctx bounds only the
// start itself; call Close to stop.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	if cfg.KESKeyPath == "" || cfg.VRFKeyPath == "" || cfg.CertPath == "" {
		return nil, fmt.Errorf("%w: the KES key, VRF key and op cert paths are required", ErrConfig)
	}
	if cfg.Network.SlotsPerKESPeriod == 0 || cfg.Network.MaxKESEvolutions == 0 || cfg.Network.Magic == 0 {
		return nil, fmt.Errorf("%w: network %q lacks KES parameters or magic", ErrConfig, cfg.Network.Name)
	}
	if cfg.Host == "" {
		cfg.Host = "testnode"
	}
	n := &Node{
		cfg:      cfg,
		tipFixed: cfg.Clock == nil,
		tipSlot:  cfg.TipSlot,
		onchain:  make(map[keys.PoolID]uint64, len(cfg.OnChain)),
		conns:    make(map[net.Conn]*ouroboros.Connection),
		closed:   make(chan struct{}),
	}
	for id, c := range cfg.OnChain {
		n.onchain[id] = c
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	slot := n.tip()
	creds, err := readCredentials(&n.cfg, slot, n.warn)
	switch {
	case err == nil:
		n.creds, n.forging, n.sets = creds, true, 1
	case errors.Is(err, ErrMissingCredential) && cfg.StartNonProducing:
		n.logf("Info", "startup", "Starting as a non-producing node: %v", err)
	default:
		n.logf("Error", "startup", "Shelley protocol instantiation error: %v", err)
		return nil, err
	}

	if cfg.MetricsAddr != "" {
		if err := n.listenMetrics(ctx); err != nil {
			n.creds.wipe()
			return nil, err
		}
	}
	if cfg.SocketPath != "" {
		if err := n.listenSocket(ctx); err != nil {
			n.stopMetrics()
			n.creds.wipe()
			return nil, err
		}
	}
	n.logf("Info", "startup", "network magic: %d, local socket: %s, metrics: %s", cfg.Network.Magic, cfg.SocketPath, n.metricsAddr())
	if n.forging {
		n.logEnabled()
	}
	return n, nil
}

// Reload is what SIGHUP does to cardano-node 8.2+: re-read the three
// credential files. A missing file disables forging (Disabled, with the
// reason); a bad set is traced and the old one kept (Kept, with the
// traced error); a good set replaces the old one (Enabled, nil).
func (n *Node) Reload() (Outcome, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cfg.NotEffective {
		n.logf("Info", "startup", "Block forging reconfiguration is not effective: consensus has not started yet")
		return Ignored, ErrNotEffective
	}
	if n.cfg.RejectReload {
		err := fmt.Errorf("%w: the test node was told to reject every reload", ErrRejected)
		n.logf("Error", "startup", "BlockForgingUpdateError: %v", err)
		return Kept, err
	}
	creds, err := readCredentials(&n.cfg, n.tipLocked(), n.warn)
	switch {
	case err == nil:
		n.creds.wipe()
		n.creds, n.forging = creds, true
		n.sets++
		n.logEnabledLocked()
		return Enabled, nil
	case errors.Is(err, ErrMissingCredential):
		n.forging = false
		n.logf("Info", "startup", "Performing block forging reconfiguration: Disabling block forging, to enable it please make the credentials files available again and then re-trigger reconfiguration via SIGHUP signal. (%v)", err)
		return Disabled, err
	default:
		n.logf("Error", "startup", "BlockForgingUpdateError: %v", err)
		return Kept, err
	}
}

// State reports the node's current state at the current tip.
func (n *Node) State() State {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.stateLocked()
}

func (n *Node) stateLocked() State {
	slot := n.tipLocked()
	kp := n.cfg.Network.KESPeriod(slot)
	s := State{Forging: n.forging, TipSlot: slot, CurrentPeriod: kp, Sets: n.sets}
	if c := n.creds; c != nil {
		w := c.cert.Window(n.cfg.Network)
		s.Loaded = true
		s.PoolID = c.cert.PoolID()
		s.CertCounter = c.cert.Counter
		s.CertHash = c.cert.Hash()
		s.StartPeriod, s.ExpiryPeriod = w.Start, w.End
		s.KESVKey = c.cert.KESVKey
		s.VRFVKey = c.vrf.Public()
		s.RemainingPeriods = int64(w.End) - int64(kp)
		s.Evolution = int64(kp) - int64(w.Start)
	}
	return s
}

// SetTipSlot fixes the chain tip at slot (and stops following the clock).
func (n *Node) SetTipSlot(slot uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.tipFixed, n.tipSlot = true, slot
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

// Close stops serving, closes every client connection and removes the
// socket file. It is safe to call more than once.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		close(n.closed)
		n.stopMetrics()
		if n.sock != nil {
			_ = n.sock.Close()
		}
		n.mu.Lock()
		conns := make(map[net.Conn]*ouroboros.Connection, len(n.conns))
		for c, oc := range n.conns {
			conns[c] = oc
		}
		n.mu.Unlock()
		for c, oc := range conns {
			if oc != nil {
				_ = oc.Close()
			}
			_ = c.Close()
		}
		n.wg.Wait()
		if n.sock != nil {
			_ = os.Remove(n.cfg.SocketPath)
		}
		n.mu.Lock()
		n.creds.wipe()
		n.creds, n.forging = nil, false
		n.mu.Unlock()
		n.logf("Info", "shutdown", "Shutting down")
	})
	return nil
}

func (n *Node) tip() uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.tipLocked()
}

func (n *Node) tipLocked() uint64 {
	if n.tipFixed {
		return n.tipSlot
	}
	s, err := n.cfg.Network.SlotAt(n.cfg.Clock())
	if err != nil {
		return 0
	}
	return s
}

func (n *Node) warn(msg string) { n.logf("Warning", "startup", "%s", msg) }

func (n *Node) logEnabled() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.logEnabledLocked()
}

func (n *Node) logEnabledLocked() {
	s := n.stateLocked()
	n.logf("Info", "startup", "Performing block forging reconfiguration: Enabling block forging. To disable it please move/rename/remove the credentials files and then re-trigger reconfiguration via SIGHUP signal.")
	n.logf("Info", "Forge", "Forging for pool %s with op cert counter %d, start KES period %d, current KES period %d, KES evolution %d, %d periods remaining",
		s.PoolID.Hex(), s.CertCounter, s.StartPeriod, s.CurrentPeriod, s.Evolution, s.RemainingPeriods)
}

// logf writes one line in the shape of cardano-node's text tracer:
// [host:cardano.node.<ns>:<Severity>:<thread>] [YYYY-MM-DD hh:mm:ss.ss UTC] msg
func (n *Node) logf(sev, ns, format string, args ...any) {
	if n.cfg.Log == nil {
		return
	}
	now := time.Now().UTC()
	line := fmt.Sprintf("[%s:cardano.node.%s:%s:5] [%s.%02d UTC] %s\n", n.cfg.Host, ns, sev,
		now.Format("2006-01-02 15:04:05"), now.Nanosecond()/1e7, fmt.Sprintf(format, args...))
	n.logMu.Lock()
	defer n.logMu.Unlock()
	_, _ = io.WriteString(n.cfg.Log, line)
}
