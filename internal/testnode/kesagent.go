package testnode

// A node that takes its KES key from a KES agent (--shelley-kes-agent-socket,
// cardano-node 10.7.1 and later), modelled on:
//
//   - cardano-node (10.7 / 11.0) src/Cardano/Node/Protocol/Shelley.hs
//     readLeaderCredentialsSingleton: with a KES agent socket the op cert
//     file is still read — for the cold key only — and the VRF key file
//     too; the KES source is PraosCredentialsAgent socketPath. The two KES
//     sources exclude each other;
//   - ouroboros-consensus, ouroboros-consensus-protocol/…/Praos/AgentClient.hs
//     runKESAgentClient: the node connects to the agent's service socket,
//     takes every key the agent pushes (its OCert, the key and its
//     evolution) into its HotKey, forgets the key on a drop, and after a
//     lost connection tries again 10 s later (threadDelay 10000000);
//   - …/Protocol/Ledger/HotKey.hs mkEmptyHotKey: until the first key the
//     hot key is poisoned with KESInfo 0 0 0, so every forge state update
//     fails (KESKeyAlreadyPoisoned) and nothing can be forged; set replaces
//     the key with the given evolution.
//
// The agent the test node connects to is internal/kesagentdouble, which
// pushes its keys as JSON lines (its wire.go); the real agent speaks its
// binary service protocol. The node does not compare the agent's cert
// with the op cert file, as the real one does not: a block carries the
// agent's cert and the file's cold key. SIGHUP re-reads the VRF key and
// the op cert file and keeps the agent's key (the real node builds a new
// hot key and is sent the agent's current key again: the same key).

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"time"
)

// agentRetry is runKESAgentClient's pause after a lost connection.
const agentRetry = 10 * time.Second

// agentPush is a line of the KES agent double's service socket.
type agentPush struct {
	Deleted   bool   `json:"deleted"`
	Key       string `json:"key"`
	Evolution uint64 `json:"evolution"`
	OCert     *struct {
		VK        string `json:"vk"`
		N         uint64 `json:"n"`
		KESPeriod uint64 `json:"kes_period"`
		Sigma     string `json:"sigma"`
	} `json:"ocert"`
}

// agentMode reports whether the KES key comes from an agent.
func (c Config) agentMode() bool { return c.KESAgentSocket != "" }

// checkAgentConfig refuses what the node's command line refuses: a KES
// agent socket on a release before 10.7.1, or beside --shelley-kes-key.
func checkAgentConfig(cfg Config, ver nodeVersion) error {
	switch {
	case !cfg.agentMode():
		return nil
	case ver.name == Version105 || ver.name == Version106:
		return fmt.Errorf("%w: Invalid option `--shelley-kes-agent-socket' (cardano-node %s; KES agents came with 10.7.1)", ErrConfig, ver.release)
	case cfg.KESKeyPath != "":
		return fmt.Errorf("%w: --shelley-kes-key and --shelley-kes-agent-socket exclude each other", ErrConfig)
	case cfg.RejectReload:
		return fmt.Errorf("%w: RejectReload fails a KES key file read; a node on a KES agent reads none", ErrConfig)
	}
	return nil
}

// readAgentModeCredentials reads the VRF key and the op cert file (for its
// cold key), in the node's order; the KES key comes later, from the agent.
func readAgentModeCredentials(vrfPath, certPath string) (*credentials, *credError) {
	vrf, cerr := readEnvelope(vrfPath, envelopeVRFSigningKey)
	if cerr != nil {
		return nil, cerr
	}
	c := &credentials{fromAgent: true}
	if cerr := c.setVRF(vrfPath, vrf); cerr != nil {
		return nil, cerr
	}
	cert, cerr := readEnvelope(certPath, envelopeOpCert)
	if cerr != nil {
		c.wipe()
		return nil, cerr
	}
	if cerr := c.setCert(certPath, cert); cerr != nil {
		c.wipe()
		return nil, cerr
	}
	c.kesRaw = nil // no key until the agent sends one
	return c, nil
}

// runAgentClient is runKESAgentClient: connect, take pushes, and after a
// lost connection try again.
func (n *Node) runAgentClient() {
	defer n.wg.Done()
	retry := n.cfg.AgentRetry
	if retry <= 0 {
		retry = agentRetry
	}
	for {
		if conn, err := net.Dial("unix", n.cfg.KESAgentSocket); err == nil {
			n.readAgent(conn)
		}
		select {
		case <-n.closed:
			return
		case <-time.After(retry):
		}
	}
}

func (n *Node) readAgent(conn net.Conn) {
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-n.closed:
		case <-done:
		}
		_ = conn.Close()
	}()
	sc := bufio.NewScanner(conn)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		var p agentPush
		if json.Unmarshal(sc.Bytes(), &p) != nil {
			return // a protocol error ends the session
		}
		n.takeAgentPush(p)
	}
}

// takeAgentPush is handleKey (HotKey set with the pushed evolution) or
// handleDropKey (forget: the hot key is poisoned).
func (n *Node) takeAgentPush(p agentPush) {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := n.creds
	if c == nil {
		return
	}
	if p.Deleted || p.OCert == nil {
		clear(c.kesRaw)
		c.kesRaw = nil
		n.hot.poisoned = true
		n.forgeTickLocked(n.tipLocked())
		return
	}
	key, err1 := hex.DecodeString(p.Key)
	vk, err2 := hex.DecodeString(p.OCert.VK)
	sigma, err3 := hex.DecodeString(p.OCert.Sigma)
	if err1 != nil || err2 != nil || err3 != nil || len(key) != kesSigningKeySize || len(vk) != 32 || len(sigma) != 64 {
		return
	}
	clear(c.kesRaw)
	c.kesRaw, c.kesEvolution = key, p.Evolution
	copy(c.hotVK[:], vk)
	c.counter, c.kesPeriod, c.sigma = p.OCert.N, p.OCert.KESPeriod, sigma
	c.certRaw = encodeOpCert(c.hotVK, c.counter, c.kesPeriod, c.sigma, c.coldVK)
	n.agentKeys++
	n.hot = hotKey{info: kesInfo{start: c.kesPeriod, end: c.kesPeriod + n.cfg.Network.MaxKESEvolutions, evolution: p.Evolution}}
	n.forgeTickLocked(n.tipLocked())
}

// encodeOpCert writes [[hot vk, counter, KES period, sigma], cold vk] as
// the node's op cert file holds it, so that State.CertHash names the cert
// the agent's key came with.
func encodeOpCert(hot [32]byte, n, period uint64, sigma []byte, cold [32]byte) []byte {
	var e enc
	e.head(majArray, 2)
	e.head(majArray, 4)
	e.head(majBytes, 32)
	e.b = append(e.b, hot[:]...)
	e.uint(n)
	e.uint(period)
	e.head(majBytes, uint64(len(sigma)))
	e.b = append(e.b, sigma...)
	e.head(majBytes, 32)
	e.b = append(e.b, cold[:]...)
	return e.b
}

// updateAgentModeLocked is updateBlockForging for a node on a KES agent:
// the VRF key and the op cert file are read again; the agent's key stays.
func (n *Node) updateAgentModeLocked(th int) (Outcome, error) {
	creds, cerr := readAgentModeCredentials(n.cfg.VRFKeyPath, n.cfg.CertPath)
	switch {
	case cerr == nil:
		if old := n.creds; old != nil && old.kesRaw != nil {
			creds.kesRaw, creds.kesEvolution = old.kesRaw, old.kesEvolution
			creds.hotVK, creds.counter, creds.kesPeriod, creds.sigma = old.hotVK, old.counter, old.kesPeriod, old.sigma
			creds.certRaw = encodeOpCert(creds.hotVK, creds.counter, creds.kesPeriod, creds.sigma, creds.coldVK)
			old.kesRaw = nil
		}
		n.creds.wipe()
		n.creds = creds
		n.forging, n.forgingMetric = true, true
		n.sets++
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
