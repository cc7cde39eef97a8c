package testnode

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// A relay's topology with one producer entry.
func producerTopology(producer string) string {
	return `{"localRoots":[{"accessPoints":[{"address":"` + producer + `","port":3001}],"advertise":false,"trustable":true,"valency":1}],
	"publicRoots":[{"accessPoints":[{"address":"relays.example.com","port":3001}],"advertise":false}],
	"useLedgerAfterSlot":177724800}`
}

func producerGroup(producer string) []RootGroup {
	return []RootGroup{{AccessPoints: []string{producer + ":3001"}, Trustable: true, HotValency: 1, WarmValency: 1, DiffusionMode: "InitiatorAndResponder"}}
}

// relayConfig is a node without credentials reading path.
func relayConfig(version, path string) Config {
	return Config{Network: network, TipSlot: tipSlot, NodeVersion: version, TopologyFile: path,
		LogClock: func() time.Time { return fixedLogTime }, TraceOptions: map[string]string{"Startup": "Info"}}
}

// since returns the log written after mark.
func since(log *syncBuffer, mark int) string { return log.String()[mark:] }

// inOrder says whether the texts occur in s one after the other.
func inOrder(s string, texts ...string) bool {
	for _, t := range texts {
		i := strings.Index(s, t)
		if i < 0 {
			return false
		}
		s = s[i+len(t):]
	}
	return true
}

// A node started without credential paths is a relay: no block forging at
// start nor after SIGHUP (updateBlockForging finds no credentials and
// traces DisabledBlockForging), forging_enabled 0 and no KES gauges.
func TestRelayHasNoBlockForging(t *testing.T) {
	for _, version := range Versions {
		t.Run(version, func(t *testing.T) {
			cfg := relayConfig(version, "")
			cfg.MetricsAddr = "127.0.0.1:0"
			n, log := start(t, cfg)
			check := func(when string) {
				t.Helper()
				if s := n.State(); s.Forging || s.Loaded || s.CanForge || s.CannotForge != "no credentials" {
					t.Errorf("%s: got %+v, want a node without credentials", when, s)
				}
				m := scrape(t, n.MetricsURL())
				forging, ok := m[MetricForgingEnabledInt]
				if nodeVersions[version].tracing == TracingLegacy {
					forging, ok = m[MetricForgingEnabled]
				}
				if _, kes := m[MetricCertStartPeriod]; !ok || forging != 0 || kes {
					t.Errorf("%s: got metrics %v, want forging_enabled 0 and no KES gauges", when, m)
				}
			}
			check("at start")
			if !inOrder(log.String(), "shelleyKESFile = Nothing, shelleyVRFFile = Nothing, shelleyCertFile = Nothing", "Disabling block forging") {
				t.Errorf("got start log\n%s\nwant the configuration without files, then forging disabled", log)
			}
			mark := len(log.String())
			if o, err := n.Reload(); o != Disabled || err != nil {
				t.Fatalf("got %v, %v, want disabled, nil", o, err)
			}
			check("after SIGHUP")
			if got := since(log, mark); !inOrder(got, "Disabling block forging", "Performing topology configuration update") {
				t.Errorf("got new log lines\n%s\nwant forging disabled, then the topology update", got)
			}
		})
	}
}

// A relay started without credentials reads its topology at start and on
// every SIGHUP: a good file replaces the roots, a refused one leaves them
// (and the node's stderr gets GHC's report of the escaped error call).
func TestRelayFollowsItsTopologyFile(t *testing.T) {
	for _, version := range Versions {
		t.Run(version, func(t *testing.T) {
			ver := nodeVersions[version]
			path := filepath.Join(t.TempDir(), "topology.json")
			writeTopology(t, path, producerTopology("bp1.example.com"))
			cfg := relayConfig(version, path)
			stderr := &syncBuffer{}
			cfg.Stderr = stderr
			n, log := start(t, cfg)

			s := n.State()
			if s.Topologies != 1 || s.TopologyErrors != 0 {
				t.Errorf("got %d topologies and %d errors at start, want 1 and 0", s.Topologies, s.TopologyErrors)
			}
			if !reflect.DeepEqual(s.LocalRoots, producerGroup("bp1.example.com")) || s.UseLedgerAfterSlot != 177724800 {
				t.Errorf("got local roots %+v, ledger %d, want bp1 and 177724800", s.LocalRoots, s.UseLedgerAfterSlot)
			}
			if !inOrder(log.String(), "Disabling block forging", "Local Root Groups:", "bp1.example.com") {
				t.Errorf("got start log\n%s\nwant the disabled forging and then the topology with bp1", log)
			}

			// The agent rewrites the producer entry and signals.
			writeTopology(t, path, producerTopology("bp2.example.com"))
			mark := len(log.String())
			if o, err := n.Reload(); o != Disabled || err != nil {
				t.Fatalf("got %v, %v, want disabled, nil: updateBlockForging of a node without credential files", o, err)
			}
			s = n.State()
			if !reflect.DeepEqual(s.LocalRoots, producerGroup("bp2.example.com")) || s.Topologies != 2 {
				t.Errorf("got local roots %+v after %d topologies, want bp2 after 2", s.LocalRoots, s.Topologies)
			}
			got := since(log, mark)
			if !inOrder(got, "Disabling block forging", "Performing topology configuration update", "Local Root Groups:", "bp2.example.com") ||
				strings.Contains(got, "bp1.example.com") {
				t.Errorf("got new log lines\n%s\nwant forging, then the topology update and the roots with bp2 only", got)
			}

			// A broken rewrite: the node keeps bp2.
			writeTopology(t, path, `{"localRoots":[{"accessPoints":[{"address":"bp3.example.com","port":3001}]}],"publicRoots":[]}`)
			mark = len(log.String())
			o, err := n.Reload()
			if o != Disabled || !errors.Is(err, ErrTopology) {
				t.Errorf("got %v, %v, want disabled and ErrTopology", o, err)
			}
			s = n.State()
			if !reflect.DeepEqual(s.LocalRoots, producerGroup("bp2.example.com")) || s.Topologies != 2 || s.TopologyErrors != 1 {
				t.Errorf("got local roots %+v, %d topologies, %d errors, want bp2 kept, 2, 1", s.LocalRoots, s.Topologies, s.TopologyErrors)
			}
			got = since(log, mark)
			if !strings.Contains(got, "Performing topology configuration update") || strings.Contains(got, "Local Root Groups") ||
				strings.Contains(got, "NetworkConfigUpdateError") || strings.Contains(got, "Error reading topology") {
				t.Errorf("got new log lines\n%s\nwant the topology update and nothing about its failure: the error call escapes the handler", got)
			}
			wantStderr := "cardano-node: Cardano.Node.Configuration.TopologyP2P.readTopologyFile: Is your topology file formatted correctly? " +
				"Expecting P2P Topology file format. The port and valency fields should be numerical. If you specified the correct topology file " +
				`make sure that you correctly setup EnableP2P configuration flag. Error in $.localRoots[0]: key "hotValency" not found` + "\n" +
				"CallStack (from HasCallStack):\n  error, called at src/Cardano/Node/Configuration/TopologyP2P.hs:" +
				map[string]string{Version105: "275", Version106: "346", Version110: "148"}[version] + ":23 in cardano-node-" + ver.release +
				"-inplace:Cardano.Node.Configuration.TopologyP2P\n"
			if stderr.String() != wantStderr {
				t.Errorf("got stderr\n%q\nwant\n%q", stderr, wantStderr)
			}

			// Fixed: the next SIGHUP takes it.
			writeTopology(t, path, producerTopology("bp3.example.com"))
			if _, err := n.Reload(); err != nil {
				t.Fatal(err)
			}
			if s = n.State(); !reflect.DeepEqual(s.LocalRoots, producerGroup("bp3.example.com")) || s.Topologies != 3 {
				t.Errorf("got %+v after %d topologies, want bp3 after 3", s.LocalRoots, s.Topologies)
			}
		})
	}
}

// While the ledger replays, a refused topology ends the initial SIGHUP
// handler before its NotEffective trace: forging_enabled keeps its value.
func TestReloadWhileReplayingWithABadTopology(t *testing.T) {
	pool := mustPool(t, 1)
	dir := t.TempDir()
	cfg := mustWrite(t, pool, dir, mustIssue(t, pool, 10, 3, 98))
	cfg.TopologyFile = filepath.Join(dir, "topology.json")
	writeTopology(t, cfg.TopologyFile, producerTopology("bp1.example.com"))
	cfg.Replaying = true
	cfg.MetricsAddr = "127.0.0.1:0"
	cfg.TraceOptions = map[string]string{"Startup": "Info"}
	n, log := start(t, cfg)
	writeTopology(t, cfg.TopologyFile, `{"localRoots":[]}`)
	mark := len(log.String())
	o, err := n.Reload()
	if o != Ignored || !errors.Is(err, ErrNotEffective) || !errors.Is(err, ErrTopology) {
		t.Errorf("got %v, %v, want ignored, ErrNotEffective and ErrTopology", o, err)
	}
	if got := since(log, mark); !strings.Contains(got, "Performing topology configuration update") || strings.Contains(got, "not effective") {
		t.Errorf("got new log lines\n%s\nwant the topology update and no NotEffective", got)
	}
	if m := readKES(t, n); m.forging != 1 {
		t.Errorf("got forging_enabled %v, want 1: no BlockForgingUpdate was traced", m.forging)
	}
	if s := n.State(); !reflect.DeepEqual(s.LocalRoots, producerGroup("bp1.example.com")) || s.TopologyErrors != 1 {
		t.Errorf("got %+v, %d errors, want bp1 kept and one error", s.LocalRoots, s.TopologyErrors)
	}
}

// A topology file the node refuses at start ends it (handleSimpleNode's
// readTopologyFileOrError), after the start's block forging trace.
func TestStartRefusesABadTopology(t *testing.T) {
	tests := []struct {
		name, file, want string
	}{
		{"missing", "", "Cardano.Node.Configuration.TopologyP2P.readTopologyFile: Cardano.Node.Configuration.Topology.readTopologyFile: " +
			"DIR/topology.json: withBinaryFile: does not exist (No such file or directory)"},
		{"a legacy topology", `{"Producers":[{"addr":"relays.example.com","port":3001,"valency":1}]}`,
			`readTopologyFile: Is your topology file formatted correctly? Expecting P2P Topology file format. The port and valency fields should be numerical. ` +
				`If you specified the correct topology file make sure that you correctly setup EnableP2P configuration flag. Error in $: key "localRoots" not found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := relayConfig(Version110, filepath.Join(dir, "topology.json"))
			if tt.file != "" {
				writeTopology(t, cfg.TopologyFile, tt.file)
			}
			log := &syncBuffer{}
			cfg.Log = log
			n, err := Start(context.Background(), cfg)
			if err == nil {
				_ = n.Close()
				t.Fatal("Start succeeded, want ErrTopology")
			}
			if !errors.Is(err, ErrTopology) {
				t.Errorf("got %v, want ErrTopology", err)
			}
			msg := nodeMessage(err)
			want := strings.ReplaceAll(tt.want, "DIR", dir)
			if !strings.Contains(msg, want) || !strings.HasSuffix(msg, "TopologyP2P.hs:148:23 in cardano-node-11.0.1-inplace:Cardano.Node.Configuration.TopologyP2P") {
				t.Errorf("got message\n%s\nwant %q and the CallStack", msg, want)
			}
			if !strings.Contains(log.String(), "Disabling block forging") || strings.Contains(log.String(), "Local Root Groups") {
				t.Errorf("got log\n%s\nwant the start's block forging trace and no topology", log)
			}
		})
	}
}

// Credential paths come all three or not at all: a partial set stops the
// node with readLeaderCredentialsSingleton's error (after the VRF mode
// check, which runs whenever a VRF path is given).
func TestPartialCredentialsAreRefused(t *testing.T) {
	pool := mustPool(t, 1)
	tests := []struct {
		name    string
		edit    func(t *testing.T, c *Config)
		wantErr error
		wantMsg string
	}{
		{"no cert", func(_ *testing.T, c *Config) { c.CertPath = "" }, ErrPartialCredentials,
			`"To create blocks, the --shelley-operational-certificate must also be specified"`},
		{"no VRF key", func(_ *testing.T, c *Config) { c.VRFKeyPath = "" }, ErrPartialCredentials,
			`"To create blocks, the --shelley-vrf-key must also be specified"`},
		{"no KES key", func(_ *testing.T, c *Config) { c.KESKeyPath = "" }, ErrPartialCredentials,
			`"To create blocks, the --shelley-kes-key must also be specified"`},
		{"the cert is looked for before the VRF key", func(_ *testing.T, c *Config) { c.CertPath, c.VRFKeyPath = "", "" }, ErrPartialCredentials,
			`"To create blocks, the --shelley-operational-certificate must also be specified"`},
		{"the VRF mode check comes first", func(t *testing.T, c *Config) { c.KESKeyPath = ""; chmod(t, c.VRFKeyPath, 0o604) }, ErrVRFPermissions,
			`has "other" file permissions. Please remove all "other" file permissions.`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mustWrite(t, pool, t.TempDir(), mustIssue(t, pool, 10, 3, 98))
			tt.edit(t, &cfg)
			n, err := Start(context.Background(), cfg)
			if err == nil {
				_ = n.Close()
				t.Fatalf("Start succeeded, want %v", tt.wantErr)
			}
			if !errors.Is(err, tt.wantErr) || !strings.Contains(nodeMessage(err), tt.wantMsg) {
				t.Errorf("got %v (%s), want %v with %s", err, nodeMessage(err), tt.wantErr, tt.wantMsg)
			}
		})
	}
}

// RejectReload stands for a KES key file the node cannot read: a relay
// has none.
func TestRelayWithRejectReloadIsAConfigError(t *testing.T) {
	cfg := relayConfig(Version110, "")
	cfg.RejectReload = true
	if n, err := Start(context.Background(), cfg); !errors.Is(err, ErrConfig) {
		if n != nil {
			_ = n.Close()
		}
		t.Errorf("got %v, want ErrConfig", err)
	}
}

// Without a topology file the node has an empty topology and still traces
// it (the real node always reads one).
func TestNoTopologyFileIsAnEmptyTopology(t *testing.T) {
	cfg := relayConfig(Version106, "")
	n, log := start(t, cfg)
	if o, err := n.Reload(); o != Disabled || err != nil {
		t.Fatal(o, err)
	}
	s := n.State()
	if s.LocalRoots != nil || s.PublicRoots != nil || s.UseLedgerAfterSlot != -1 || s.Topologies != 2 {
		t.Errorf("got %+v, want no roots, no ledger peers and two topologies", s)
	}
	if got := strings.Count(log.String(), "\nLocal Root Groups:\n  \nPublic Roots:\n  \nDon't use ledger to get root peers."); got != 2 {
		t.Errorf("got %d empty NetworkConfig traces in\n%s\nwant 2 (start and SIGHUP)", got, log)
	}
}

// A producer whose topology uses ledger peers is warned (10.6 and 11.0);
// the Warning passes the shipped Notice filter.
func TestProducerTopologyWarning(t *testing.T) {
	pool := mustPool(t, 1)
	dir := t.TempDir()
	cfg := mustWrite(t, pool, dir, mustIssue(t, pool, 10, 3, 98))
	cfg.NodeVersion = Version106
	cfg.TopologyFile = filepath.Join(dir, "topology.json")
	writeTopology(t, cfg.TopologyFile, producerTopology("relay1.example.com"))
	_, log := start(t, cfg)
	want := "\x1b[33m[2026-08-25 12:00:00.1234Z][testnode:Startup.NetworkConfigUpdateWarning](Warning,5)\x1b[0m " +
		"Cardano.Node.Configuration.Topology.readTopologyFile: Use of ledger peers is not recommended for BP operation\n"
	if !strings.Contains(log.String(), want) {
		t.Errorf("got log\n%s\nwant %q in it", log, want)
	}
	if strings.Contains(log.String(), "Local Root Groups") {
		t.Errorf("got log\n%s\nwant no NetworkConfig (Info) under the shipped Notice root", log)
	}
}
