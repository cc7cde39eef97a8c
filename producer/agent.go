// Package producer is the online side of kesrotate: the agent's identity
// and configuration on the block producer, the chain snapshots it signs,
// and (in install.go and friends) verifying, installing and activating the
// bundles the cold machine sends. cmd/kesrotate never imports it.
package producer

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"
	"filippo.io/age/plugin"

	"github.com/kesrotate/kesrotate/producer/nodelog"
	"github.com/kesrotate/kesrotate/producer/nodequery"

	"github.com/kesrotate/kesrotate/internal/safefile"
	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/opcert"
	"github.com/kesrotate/kesrotate/transfer"
)

// Agent folder layout.
const (
	ConfigFile    = "agent.json"
	IdentityFile  = "identity.txt" // age identity file format, 0600
	SignKeyFile   = "snapshot.key" // Ed25519 seed as hex, 0600
	GenesisFile   = "genesis.json"
	EnrollmentOut = "enrollment.kre"
	KESDir        = "kes" // KES-on-producer: pending.skey / pending.vkey
	PendingKES    = "pending.skey"
	PendingKESVK  = "pending.vkey"
)

// Signal says how the agent tells cardano-node to reload its credentials.
type Signal struct {
	Mode        string `json:"mode"` // SignalPIDFile, SignalSystemd, SignalProcess or SignalNone
	PIDFile     string `json:"pid_file,omitempty"`
	SystemdUnit string `json:"systemd_unit,omitempty"`
}

// How the node is signalled (Signal.Mode).
const (
	SignalPIDFile = "pid-file" // the pid in Signal.PIDFile
	SignalSystemd = "systemd"  // the MainPID of Signal.SystemdUnit
	SignalProcess = "process"  // the one process naming the three credential paths
	SignalNone    = "none"     // not signalled
)

func (s Signal) String() string {
	switch s.Mode {
	case SignalPIDFile:
		return "pid file " + s.PIDFile
	case SignalSystemd:
		return "systemd unit " + s.SystemdUnit
	case SignalProcess:
		return "the process using the three paths"
	}
	return SignalNone
}

// Config is agent.json.
type Config struct {
	Version    int    `json:"version"`
	Name       string `json:"name"`
	Network    string `json:"network"` // mainnet|preprod|preview|genesis
	Magic      uint32 `json:"magic"`
	PoolID     string `json:"pool_id"`
	ColdVKey   string `json:"cold_vkey"`
	KESKey     string `json:"kes_key"`         // where cardano-node reads its KES skey
	VRFKey     string `json:"vrf_key"`         // … its VRF skey
	Cert       string `json:"cert"`            // … its op cert
	Group      string `json:"group,omitempty"` // files 0640 with this group, else 0600
	Recipient  string `json:"recipient"`       // age recipient bundles are encrypted to
	Signal     Signal `json:"signal"`
	Socket     string `json:"socket,omitempty"`
	MetricsURL string `json:"metrics_url,omitempty"`
	NodeLog    string `json:"node_log,omitempty"`    // a file, or journald[:UNIT]
	NodeConfig string `json:"node_config,omitempty"` // the node's configuration file, for 'check'
	LinkMode   string `json:"link_mode,omitempty"`   // absolute (when empty), relative or copy
	Role       string `json:"role,omitempty"`        // primary (when empty) or standby
	AuditKey   string `json:"audit_key,omitempty"`   // the vault's audit verifier key: kept checkpoints must be signed by it
	// KESAgentSocket is kes-agent's control socket: the node takes its KES
	// key from kes-agent (--shelley-kes-agent-socket) and KESKey is empty.
	KESAgentSocket string `json:"kes_agent_socket,omitempty"`
	// MithrilSigner is the systemd unit of the Mithril signer that reads
	// the node's KES key and cert; MithrilMetrics its metrics URL and
	// MithrilEnvFile its environment file (mithril.go).
	MithrilSigner  string    `json:"mithril_signer,omitempty"`
	MithrilMetrics string    `json:"mithril_metrics_url,omitempty"`
	MithrilEnvFile string    `json:"mithril_env_file,omitempty"`
	Created        time.Time `json:"created"`
}

// Agent is an open agent folder.
type Agent struct {
	Dir     string
	Config  Config
	Network opcert.Network
	// ProcRoot replaces /proc (tests).
	ProcRoot string
	// Notify, if set, shows a hardware key's messages to the operator
	// (its plugin's "touch it" and the like); the library prints nothing.
	Notify func(message string)
}

// InitOptions configure a new agent.
type InitOptions struct {
	Config Config // Network (or Genesis), paths, signal, socket, metrics
	// HardwareRecipient and HardwareIdentityFile, when set, replace the
	// X25519 identity with a hardware-held one: an age1tag1… recipient and
	// the identity file of the plugin that holds its key, from which
	// PluginIdentity takes the one AGE-PLUGIN-… identity.
	HardwareRecipient    string
	HardwareIdentityFile []byte
	Genesis              []byte
	ColdVKey             []byte // the pool's cold.vkey file
	Now                  time.Time
	// ProbeSocket, when set, asks the node at Config.Socket within this
	// time before anything is created, and refuses a node on another
	// network (a node that does not answer is left to 'check').
	ProbeSocket time.Duration
	Rand        io.Reader
}

// Init creates the agent folder: an age X25519 identity and an Ed25519
// snapshot-signing key, both 0600, and agent.json.
func Init(dir string, o InitOptions) (a *Agent, err error) {
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if _, err := os.Stat(filepath.Join(dir, ConfigFile)); err == nil {
		return nil, fmt.Errorf("%w: %s", ErrAgentExists, dir)
	}
	c := o.Config
	var n opcert.Network
	switch {
	case o.Genesis != nil:
		if n, err = opcert.ParseGenesis(o.Genesis); err != nil {
			return nil, err
		}
		c.Network = opcert.GenesisName
	default:
		if n, err = opcert.NetworkByName(c.Network); err != nil {
			return nil, err
		}
	}
	c.Magic = n.Magic
	if err := validateConfig(&c); err != nil {
		return nil, err
	}
	vk, err := keys.ParseColdVKey(o.ColdVKey)
	if err != nil {
		return nil, fmt.Errorf("pool cold vkey: %w", err)
	}
	c.ColdVKey = hex.EncodeToString(vk[:])
	c.PoolID = vk.PoolID().Hex()
	if o.ProbeSocket > 0 && c.Socket != "" {
		if err := probeNetwork(c.Socket, n, vk.PoolID(), o.ProbeSocket); err != nil {
			return nil, err
		}
	}
	if c.Name == "" {
		c.Name, _ = os.Hostname()
	}
	c.Version = 1
	c.Created = o.Now.UTC().Truncate(time.Second)

	existed := true
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		existed = false
	}
	if err := safefile.MkdirSecret(dir); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			for _, p := range []string{IdentityFile, SignKeyFile, GenesisFile, ConfigFile, KESDir} {
				_ = os.RemoveAll(filepath.Join(dir, p))
			}
			if !existed {
				_ = os.Remove(dir)
			}
		}
	}()
	var idText string
	if o.HardwareRecipient != "" {
		if _, err := transfer.ParseTagRecipient(o.HardwareRecipient); err != nil {
			return nil, err
		}
		hwID, err := PluginIdentity(o.HardwareIdentityFile, o.HardwareRecipient)
		if err != nil {
			return nil, err
		}
		c.Recipient = o.HardwareRecipient
		idText = fmt.Sprintf("# created: %s\n# recipient: %s\n%s\n", c.Created.Format(time.RFC3339), c.Recipient, hwID)
	} else {
		id, err := age.GenerateX25519Identity() // age reads crypto/rand itself
		if err != nil {
			return nil, err
		}
		c.Recipient = id.Recipient().String()
		idText = fmt.Sprintf("# created: %s\n# public key: %s\n%s\n", c.Created.Format(time.RFC3339), c.Recipient, id)
	}
	if err := safefile.CreateSecret(filepath.Join(dir, IdentityFile), []byte(idText)); err != nil {
		return nil, err
	}
	seed := make([]byte, ed25519.SeedSize)
	if _, err := io.ReadFull(o.Rand, seed); err != nil {
		return nil, err
	}
	seedHex := []byte(hex.EncodeToString(seed) + "\n")
	wipe(seed)
	err = safefile.CreateSecret(filepath.Join(dir, SignKeyFile), seedHex)
	wipe(seedHex)
	if err != nil {
		return nil, err
	}
	if o.Genesis != nil {
		if err := safefile.Create(filepath.Join(dir, GenesisFile), o.Genesis, 0o600); err != nil {
			return nil, err
		}
	}
	b, _ := json.MarshalIndent(c, "", "  ")
	if err := safefile.Create(filepath.Join(dir, ConfigFile), append(b, '\n'), 0o600); err != nil {
		return nil, err
	}
	return &Agent{Dir: dir, Config: c, Network: n}, nil
}

// validateConfig checks and completes the settings init and config take:
// absolute credential paths that differ, a known signal mode with what it
// needs, a known link mode (relative by default).
func validateConfig(c *Config) error {
	paths := map[string]*string{"the KES key path": &c.KESKey, "the VRF key path": &c.VRFKey, "the op cert path": &c.Cert}
	if c.KESAgentSocket != "" {
		if c.KESKey != "" {
			return fmt.Errorf("%w: a KES key path with a kes-agent socket: the node takes its KES key from kes-agent and reads no KES key file (start it with --shelley-kes-agent-socket instead of --shelley-kes-key)", ErrConfig)
		}
		delete(paths, "the KES key path")
		abs, err := filepath.Abs(c.KESAgentSocket)
		if err != nil {
			return err
		}
		c.KESAgentSocket = abs
	}
	for flag, p := range paths {
		if *p == "" {
			return fmt.Errorf("%w: %s is required", ErrConfig, flag)
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		*p = abs
	}
	if c.KESKey == c.VRFKey || c.KESKey == c.Cert || c.VRFKey == c.Cert {
		return fmt.Errorf("%w: the KES key, VRF key and cert paths must differ", ErrConfig)
	}
	if c.KESAgentSocket != "" {
		switch {
		case c.Signal.Mode == SignalProcess:
			return fmt.Errorf("%w: finding the node by its process finds it by its three credential paths, and a node on kes-agent names two: signal it by pid file or systemd unit", ErrConfig)
		case c.Role == RoleStandby:
			return fmt.Errorf("%w: a standby with a kes-agent socket: a standby keeps a set ready without the node using it, and a key installed in kes-agent is served to the node at once", ErrConfig)
		case c.MithrilSigner != "":
			return fmt.Errorf("%w: a Mithril signer with a kes-agent socket: the Mithril signer reads the KES key from a file and cannot use kes-agent yet (IntersectMBO/mithril#2522)", ErrConfig)
		}
	}
	if err := validateMithril(c); err != nil {
		return err
	}
	switch c.Signal.Mode {
	case SignalPIDFile:
		if c.Signal.PIDFile == "" {
			return fmt.Errorf("%w: pid-file signalling needs the file", ErrConfig)
		}
	case SignalSystemd:
		if c.Signal.SystemdUnit == "" {
			return fmt.Errorf("%w: systemd signalling needs the unit", ErrConfig)
		}
	case SignalProcess, SignalNone:
	default:
		return fmt.Errorf("%w: signal mode %q", ErrConfig, c.Signal.Mode)
	}
	switch c.Role {
	case "", RolePrimary, RoleStandby:
	default:
		return fmt.Errorf("%w: role %q (want primary or standby)", ErrConfig, c.Role)
	}
	switch c.LinkMode {
	case "":
		c.LinkMode = LinkRelative
	case LinkAbsolute, LinkRelative, LinkCopy:
	default:
		return fmt.Errorf("%w: link mode %q (want relative, absolute or copy)", ErrConfig, c.LinkMode)
	}
	if _, ok := nodelog.JournalUnit(c.NodeLog, c.Signal.SystemdUnit); ok {
		if unit, _ := nodelog.JournalUnit(c.NodeLog, c.Signal.SystemdUnit); unit == "" {
			return fmt.Errorf("%w: a node log in the journal needs the unit (journald:UNIT, or a systemd unit to signal)", ErrConfig)
		}
	} else if c.NodeLog != "" {
		abs, err := filepath.Abs(c.NodeLog)
		if err != nil {
			return err
		}
		c.NodeLog = abs
	}
	// Every path is kept absolute: cron, systemd and an operator in
	// another folder run the agent later.
	for _, p := range []*string{&c.NodeConfig, &c.Socket, &c.Signal.PIDFile} {
		if *p == "" {
			continue
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		*p = abs
	}
	return nil
}

// probeNetwork refuses a node socket that answers for another network.
func probeNetwork(socket string, n opcert.Network, pool keys.PoolID, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	q, err := nodequery.Query(ctx, socket, n.Magic, pool)
	switch {
	case errors.Is(err, nodequery.ErrNetworkMismatch):
		return fmt.Errorf("the node at %s: %w", socket, err)
	case err != nil:
		return nil
	}
	if err := q.CheckNetwork(n); err != nil {
		return fmt.Errorf("the node at %s: %w", socket, err)
	}
	return nil
}

// Open opens an agent folder.
func Open(dir string) (*Agent, error) {
	b, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s has no %s", ErrNoAgent, dir, ConfigFile)
	}
	if err != nil {
		return nil, err
	}
	var c Config
	if err := json.Unmarshal(b, &c); err != nil || c.Version == 0 {
		return nil, fmt.Errorf("%w: %s is unreadable", ErrNoAgent, ConfigFile)
	}
	a := &Agent{Dir: dir, Config: c}
	a.Network, err = opcert.NetworkOf(c.Network, func() ([]byte, error) { return os.ReadFile(filepath.Join(dir, GenesisFile)) })
	if err != nil {
		return nil, err
	}
	return a, nil
}

// Identity reads the age identity bundles are decrypted with: the X25519
// identity init made, or, for a hardware-held key, the plugin identity
// (AGE-PLUGIN-…) given at init, which age runs its plugin for. It is a
// secret.
func (a *Agent) Identity() (age.Identity, error) {
	b, err := os.ReadFile(filepath.Join(a.Dir, IdentityFile))
	if err != nil {
		return nil, err
	}
	defer wipe(b)
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "AGE-PLUGIN-") {
			id, err := plugin.NewIdentity(line, a.pluginUI())
			if err != nil {
				return nil, fmt.Errorf("%s: %w", IdentityFile, err)
			}
			return id, nil
		}
	}
	ids, err := age.ParseIdentities(bytes.NewReader(b))
	if err != nil || len(ids) != 1 {
		return nil, fmt.Errorf("%s: not one age identity", IdentityFile)
	}
	return ids[0], nil
}

// pluginUI passes a hardware plugin's messages to Notify; prompts are
// refused (the agent runs unattended too).
func (a *Agent) pluginUI() *plugin.ClientUI {
	notify := func(s string) {
		if a.Notify != nil {
			a.Notify(s)
		}
	}
	return &plugin.ClientUI{
		DisplayMessage: func(name, message string) error {
			notify(fmt.Sprintf("age-plugin-%s: %s", name, message))
			return nil
		},
		RequestValue: func(name, prompt string, secret bool) (string, error) {
			return "", fmt.Errorf("age-plugin-%s asks %q: interactive plugin prompts are not supported; configure the plugin not to prompt", name, prompt)
		},
		Confirm: func(name, prompt, yes, no string) (bool, error) {
			return false, fmt.Errorf("age-plugin-%s asks %q: interactive plugin prompts are not supported", name, prompt)
		},
		WaitTimer: func(name string) {
			notify(fmt.Sprintf("age-plugin-%s: waiting for the hardware key (touch it if it blinks)", name))
		},
	}
}

// SignKey reads the snapshot-signing key. It is a secret.
func (a *Agent) SignKey() (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(filepath.Join(a.Dir, SignKeyFile))
	if err != nil {
		return nil, err
	}
	defer wipe(b)
	seed, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%s: not a 32-byte hex seed", SignKeyFile)
	}
	defer wipe(seed)
	return ed25519.NewKeyFromSeed(seed), nil
}

// ColdVKey is the pinned pool cold key.
func (a *Agent) ColdVKey() keys.ColdVKey {
	var vk keys.ColdVKey
	b, _ := hex.DecodeString(a.Config.ColdVKey)
	copy(vk[:], b)
	return vk
}

// Enrollment builds the signed enrollment file.
func (a *Agent) Enrollment() (*transfer.Enrollment, []byte, error) {
	sk, err := a.SignKey()
	if err != nil {
		return nil, nil, err
	}
	defer wipe(sk)
	e := &transfer.Enrollment{Name: a.Config.Name, Magic: a.Network.Magic, PoolID: a.ColdVKey().PoolID(),
		Recipient: a.Config.Recipient, SignKey: sk.Public().(ed25519.PublicKey), Created: a.Config.Created}
	b, err := e.Marshal(sk)
	return e, b, err
}

// ChainState is what the agent knows of the chain: from the node socket,
// or given by hand for disconnected use.
type ChainState struct {
	TipSlot uint64
	OnChain opcert.OnChain
	// OnChainKnown: OnChain came from the chain (the node socket, or given
	// by hand); when false OnChain is only a placeholder.
	OnChainKnown bool
}

// KESPeriod is the chain's KES period at the tip on network n: the period
// a snapshot of cs tells the cold side.
func (cs ChainState) KESPeriod(n opcert.Network) uint64 { return n.KESPeriod(cs.TipSlot) }

// Snapshot builds and signs a snapshot from the chain state, the installed
// cert (if any) and a pending KES key (KES-on-producer mode). A chain
// state whose on-chain counter is not known (no node socket and none given
// by hand) is refused with ErrOnChainUnknown: the cold side picks the next
// counter from the snapshot's, and a placeholder "none" would tell it the
// pool never minted a block.
func (a *Agent) Snapshot(cs ChainState, now time.Time) (*transfer.Snapshot, []byte, error) {
	if !cs.OnChainKnown {
		return nil, nil, fmt.Errorf("%w: a snapshot must carry the counter the chain records for the pool, and neither the node socket nor the caller gave it", ErrOnChainUnknown)
	}
	sk, err := a.SignKey()
	if err != nil {
		return nil, nil, err
	}
	defer wipe(sk)
	n := a.Network
	s := &transfer.Snapshot{Magic: n.Magic, SlotsPerKESPeriod: n.SlotsPerKESPeriod, MaxKESEvolutions: n.MaxKESEvolutions,
		TipSlot: cs.TipSlot, TipTime: n.SlotTime(cs.TipSlot), PoolID: a.ColdVKey().PoolID(), OnChain: cs.OnChain,
		Created: now.UTC().Truncate(time.Second)}
	if c, err := a.InstalledCert(); err == nil && c != nil {
		s.Installed = &transfer.Installed{Counter: c.Counter, KESPeriod: c.KESPeriod, CertHash: c.Hash()}
	}
	vk, err := a.pendingVKey()
	if err != nil {
		return nil, nil, err
	}
	if vk == nil && a.KESAgentMode() {
		// Without a vkey the cold machine would make the KES key itself,
		// and kes-agent takes no key from outside.
		return nil, nil, fmt.Errorf("%w: this producer's KES key lives in kes-agent, and 'kes new' has not had it stage one", ErrNoPendingKES)
	}
	if vk != nil && a.KESAgentMode() {
		// The cold machine must not certify a key kes-agent no longer holds.
		if err := a.checkStagedInAgent(context.Background(), *vk); err != nil {
			return nil, nil, err
		}
	}
	s.KESVKey = vk
	return s, s.Marshal(sk), nil
}

// InstalledCert reads the cert cardano-node currently reads, or nil if
// there is none.
func (a *Agent) InstalledCert() (*opcert.Certificate, error) {
	b, err := os.ReadFile(a.Config.Cert)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return opcert.Parse(b)
}

//go:noinline
func wipe(b []byte) {
	for i := range b {
		b[i] = 0
	}
}
