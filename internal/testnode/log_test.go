package testnode

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	kesPath  = "/node/kes.skey"
	certPath = "/node/node.cert"
)

var mismatch = (&credError{kind: credMismatched, path: kesPath, path2: certPath}).show()

// The exact lines, as the node writes them, of every message a tool
// waits for, in the three formats.
func TestLogLinesInEachFormat(t *testing.T) {
	at := time.Date(2026, 8, 25, 12, 0, 0, 123456789, time.UTC)
	tests := []struct {
		name                string
		ev                  logEvent
		human, json, legacy string
	}{
		{
			name:   "enabled",
			ev:     blockForgingUpdate(enabledBlockForging, 101),
			human:  "\x1b[34m[2026-08-25 12:00:00.1234Z][relay1:Startup.BlockForgingUpdate](Info,101)\x1b[0m Performing block forging reconfiguration: Enabling block forging. To disable it please move/rename/remove the credentials files and then trigger reconfiguration via SIGHUP signal.\n",
			json:   `{"at":"2026-08-25T12:00:00.123456789Z","ns":"Startup.BlockForgingUpdate","data":{"enabled":"EnabledBlockForging","kind":"BlockForgingUpdate"},"sev":"Info","thread":"101","host":"relay1"}` + "\n",
			legacy: "\x1b[34m[relay1:cardano.node.startup:Info:101]\x1b[0m [2026-08-25 12:00:00.12 UTC] Performing block forging reconfiguration: Enabling block forging. To disable it please move/rename/remove the credentials files and then trigger reconfiguration via SIGHUP signal.\n",
		},
		{
			name:   "disabled",
			ev:     blockForgingUpdate(disabledBlockForging, 101),
			human:  "\x1b[34m[2026-08-25 12:00:00.1234Z][relay1:Startup.BlockForgingUpdate](Info,101)\x1b[0m Performing block forging reconfiguration: Disabling block forging, to enable it please make the credentials files available again and then re-trigger reconfiguration via SIGHUP signal.\n",
			json:   `{"at":"2026-08-25T12:00:00.123456789Z","ns":"Startup.BlockForgingUpdate","data":{"enabled":"DisabledBlockForging","kind":"BlockForgingUpdate"},"sev":"Info","thread":"101","host":"relay1"}` + "\n",
			legacy: "\x1b[34m[relay1:cardano.node.startup:Info:101]\x1b[0m [2026-08-25 12:00:00.12 UTC] Performing block forging reconfiguration: Disabling block forging, to enable it please make the credentials files available again and then re-trigger reconfiguration via SIGHUP signal.\n",
		},
		{
			name:   "not effective (note the trailing space)",
			ev:     blockForgingUpdate(notEffective, 101),
			human:  "\x1b[34m[2026-08-25 12:00:00.1234Z][relay1:Startup.BlockForgingUpdate](Info,101)\x1b[0m Performing block forging reconfiguration: Changing block forging is not effective until consensus has started. \n",
			json:   `{"at":"2026-08-25T12:00:00.123456789Z","ns":"Startup.BlockForgingUpdate","data":{"enabled":"NotEffective","kind":"BlockForgingUpdate"},"sev":"Info","thread":"101","host":"relay1"}` + "\n",
			legacy: "\x1b[34m[relay1:cardano.node.startup:Info:101]\x1b[0m [2026-08-25 12:00:00.12 UTC] Performing block forging reconfiguration: Changing block forging is not effective until consensus has started. \n",
		},
		{
			name:   "error (Error in the new system, Info in the legacy one)",
			ev:     blockForgingUpdateError(mismatch, 101),
			human:  "\x1b[31m[2026-08-25 12:00:00.1234Z][relay1:Startup.BlockForgingUpdateError](Error,101)\x1b[0m Block forging reconfiguration error: CardanoProtocolInstantiationError (CardanoProtocolInstantiationPraosLeaderCredentialsError (MismatchedKesKey \"/node/kes.skey\" \"/node/node.cert\"))\nBlock forging is not reconfigured.\n",
			json:   `{"at":"2026-08-25T12:00:00.123456789Z","ns":"Startup.BlockForgingUpdateError","data":{"error":"CardanoProtocolInstantiationError (CardanoProtocolInstantiationPraosLeaderCredentialsError (MismatchedKesKey \"/node/kes.skey\" \"/node/node.cert\"))","kind":"BlockForgingUpdateError"},"sev":"Error","thread":"101","host":"relay1"}` + "\n",
			legacy: "\x1b[34m[relay1:cardano.node.startup:Info:101]\x1b[0m [2026-08-25 12:00:00.12 UTC] Block forging reconfiguration error: CardanoProtocolInstantiationError (CardanoProtocolInstantiationPraosLeaderCredentialsError (MismatchedKesKey \"/node/kes.skey\" \"/node/node.cert\"))\nBlock forging is not reconfigured.\n",
		},
		{
			name:   "topology update",
			ev:     networkConfigUpdate(101),
			human:  "\x1b[35m[2026-08-25 12:00:00.1234Z][relay1:Startup.NetworkConfigUpdate](Notice,101)\x1b[0m Performing topology configuration update\n",
			json:   `{"at":"2026-08-25T12:00:00.123456789Z","ns":"Startup.NetworkConfigUpdate","data":{"kind":"NetworkConfigUpdate","message":"network configuration update"},"sev":"Notice","thread":"101","host":"relay1"}` + "\n",
			legacy: "\x1b[35m[relay1:cardano.node.startup:Notice:101]\x1b[0m [2026-08-25 12:00:00.12 UTC] Performing topology configuration update\n",
		},
		{
			name:  "forge state",
			ev:    forgeStateInfo(kesInfo{start: 98, end: 160, evolution: 2}),
			human: "\x1b[34m[2026-08-25 12:00:00.1234Z][relay1:Forge.StateInfo](Info,61)\x1b[0m With label \"Cardano\", KES info startPeriod  98 currPeriod 100 endPeriod 160, 60 KES periods until expiry.\n",
			json:  `{"at":"2026-08-25T12:00:00.123456789Z","ns":"Forge.StateInfo","data":{"credentials":"Cardano","endPeriod":100,"evolution":160,"kind":"KESInfo","startPeriod":98},"sev":"Info","thread":"61","host":"relay1"}` + "\n",
		},
		{
			name:   "KES key that cannot evolve",
			ev:     forgeStateUpdateError(12964321, kesInfo{start: 38, end: 100}, 100, false),
			human:  "\x1b[31m[2026-08-25 12:00:00.1234Z][relay1:Forge.Loop.ForgeStateUpdateError](Critical,61)\x1b[0m With label \"Cardano\", Updating the forge state in slot 12964321 failed because: KESCouldNotEvolve (KESInfo {kesStartPeriod = KESPeriod {unKESPeriod = 38}, kesEndPeriod = KESPeriod {unKESPeriod = 100}, kesEvolution = 0}) (KESPeriod {unKESPeriod = 100})\n",
			json:   `{"at":"2026-08-25T12:00:00.123456789Z","ns":"Forge.Loop.ForgeStateUpdateError","data":{"credentials":"Cardano","kind":"TraceForgeStateUpdateError","reason":{"forgeStateUpdateError":{"kesInfo":{"endPeriod":38,"evolution":100,"kind":"KESInfo","startPeriod":38},"kind":"KESCouldNotEvolve","targetPeriod":100},"kind":"HardForkForgeStateUpdateError"},"slot":12964321},"sev":"Critical","thread":"61","host":"relay1"}` + "\n",
			legacy: "\x1b[31m[relay1:cardano.node.Forge:Error:61]\x1b[0m [2026-08-25 12:00:00.12 UTC] " + `{"credentials":"Cardano","val":{"kind":"TraceForgeStateUpdateError","reason":{"forgeStateUpdateError":{"kesInfo":{"endPeriod":38,"evolution":100,"kind":"KESInfo","startPeriod":38},"kind":"KESCouldNotEvolve","targetPeriod":100},"kind":"HardForkForgeStateUpdateError"},"slot":12964321}}` + "\n",
		},
		{
			name:  "forge state near expiry",
			ev:    forgeStateInfo(kesInfo{start: 98, end: 160, evolution: 55}),
			human: "\x1b[33m[2026-08-25 12:00:00.1234Z][relay1:Forge.StateInfo](Warning,61)\x1b[0m With label \"Cardano\", Operational key will expire in 7 KES periods.\n",
			json:  `{"at":"2026-08-25T12:00:00.123456789Z","ns":"Forge.StateInfo","data":{"credentials":"Cardano","endPeriod":153,"evolution":160,"keyExpiresIn":7,"kind":"ExpiryLogMessage","startPeriod":98},"sev":"Warning","thread":"61","host":"relay1"}` + "\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, f := range []struct{ system, format, want string }{
				{TracingNew, LogHuman, tt.human}, {TracingNew, LogJSON, tt.json}, {TracingLegacy, LogLegacy, tt.legacy},
			} {
				if f.want == "" {
					continue
				}
				tr := &tracer{system: f.system, format: f.format, host: "relay1"}
				if got := tr.format1(tt.ev, at); got != f.want {
					t.Errorf("%s:\ngot  %q\nwant %q", f.format, got, f.want)
				}
			}
		})
	}
}

func TestTimeFormats(t *testing.T) {
	tests := []struct {
		at                  time.Time
		human, json, legacy string
	}{
		{time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "2026-01-02 03:04:05.0000Z", "2026-01-02T03:04:05Z", "2026-01-02 03:04:05.00 UTC"},
		{time.Date(2026, 1, 2, 3, 4, 5, 100000000, time.UTC), "2026-01-02 03:04:05.1000Z", "2026-01-02T03:04:05.100Z", "2026-01-02 03:04:05.10 UTC"},
		{time.Date(2026, 1, 2, 3, 4, 5, 120000, time.UTC), "2026-01-02 03:04:05.0001Z", "2026-01-02T03:04:05.000120Z", "2026-01-02 03:04:05.00 UTC"},
		{time.Date(2026, 1, 2, 3, 4, 5, 999999999, time.UTC), "2026-01-02 03:04:05.9999Z", "2026-01-02T03:04:05.999999999Z", "2026-01-02 03:04:05.99 UTC"},
	}
	for _, tt := range tests {
		if got := humanTime(tt.at); got != tt.human {
			t.Errorf("human: got %s, want %s", got, tt.human)
		}
		if got := aesonTime(tt.at); got != tt.json {
			t.Errorf("json: got %s, want %s", got, tt.json)
		}
		if got := legacyTime(tt.at); got != tt.legacy {
			t.Errorf("legacy: got %s, want %s", got, tt.legacy)
		}
	}
}

// The severity filter of each system, at the shipped configurations and
// with an operator's additions.
func TestSeverityFiltering(t *testing.T) {
	events := map[string]logEvent{
		"enabled":    blockForgingUpdate(enabledBlockForging, 101),
		"error":      blockForgingUpdateError(mismatch, 101),
		"topology":   networkConfigUpdate(101),
		"forgeState": forgeStateInfo(kesInfo{start: 98, end: 160, evolution: 2}),
		"kesFailure": forgeStateUpdateError(1, kesInfo{start: 1, end: 63, evolution: 0}, 70, false),
		"roots":      networkConfig(&topology{}, topology110, 101),
	}
	tests := []struct {
		name    string
		cfg     Config
		written []string
	}{
		{"new tracing, shipped config: Notice root, Forge.StateInfo at Info", Config{Tracing: TracingNew},
			[]string{"error", "topology", "forgeState", "kesFailure"}},
		{"new tracing, operator adds Startup.BlockForgingUpdate: Info", Config{Tracing: TracingNew, TraceOptions: map[string]string{"Startup.BlockForgingUpdate": "Info"}},
			[]string{"enabled", "error", "topology", "forgeState", "kesFailure"}},
		{"new tracing, Forge silenced: the shipped Forge.StateInfo and Forge.Loop are more specific", Config{Tracing: TracingNew, TraceOptions: map[string]string{"Forge": "Silence"}},
			[]string{"error", "topology", "forgeState", "kesFailure"}},
		{"new tracing, Forge.StateInfo and Forge.Loop silenced", Config{Tracing: TracingNew, TraceOptions: map[string]string{"Forge.StateInfo": "Silence", "Forge.Loop": "Silence"}},
			[]string{"error", "topology"}},
		{"new tracing, root Error", Config{Tracing: TracingNew, Severity: "Error", TraceOptions: map[string]string{"Forge.StateInfo": "Error"}},
			[]string{"error", "kesFailure"}},
		{"new tracing, the operator asks for the roots", Config{Tracing: TracingNew, TraceOptions: map[string]string{"Startup.NetworkConfig": "Info"}},
			[]string{"error", "topology", "forgeState", "kesFailure", "roots"}},
		{"legacy, shipped minSeverity Info", Config{Tracing: TracingLegacy},
			[]string{"enabled", "error", "topology", "kesFailure", "roots"}},
		{"legacy, minSeverity Notice hides the reload error (Info there)", Config{Tracing: TracingLegacy, Severity: "Notice"},
			[]string{"topology", "kesFailure"}},
		{"legacy, the startup logger raised to Warning", Config{Tracing: TracingLegacy, TraceOptions: map[string]string{"cardano.node.startup": "Warning"}},
			[]string{"kesFailure"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := newTracer(tt.cfg, nodeVersions[Version110])
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, name := range []string{"enabled", "error", "topology", "forgeState", "kesFailure", "roots"} {
				if tr.passes(events[name]) {
					got = append(got, name)
				}
			}
			if strings.Join(got, " ") != strings.Join(tt.written, " ") {
				t.Errorf("got %v written, want %v", got, tt.written)
			}
		})
	}
}

func TestLogFileRotatesBehindItsPath(t *testing.T) {
	pool := mustPool(t, 1)
	cfg := mustWrite(t, pool, t.TempDir(), mustIssue(t, pool, 10, 3, 98))
	path := filepath.Join(t.TempDir(), "node.log")
	cfg.LogFile = path
	cfg.Tracing = TracingLegacy
	n, _ := start(t, cfg)
	for i := 1; i <= 2; i++ {
		if err := n.RotateLog(); err != nil {
			t.Fatal(err)
		}
		if o, err := n.Reload(); o != Enabled || err != nil {
			t.Fatal(o, err)
		}
	}
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, f := range []struct {
		path    string
		enabled int
	}{{path + ".2", 1}, {path + ".1", 1}, {path, 1}} {
		if got := strings.Count(read(f.path), "Enabling block forging"); got != f.enabled {
			t.Errorf("%s: got %d enable lines, want %d", f.path, got, f.enabled)
		}
	}
	if !strings.Contains(read(path+".2"), "Node configuration: ") {
		t.Errorf("got %s, want the oldest file to hold the start", read(path+".2"))
	}
}

func TestRotateLogWithoutAFile(t *testing.T) {
	pool := mustPool(t, 1)
	n, _ := start(t, mustWrite(t, pool, t.TempDir(), mustIssue(t, pool, 10, 3, 98)))
	if err := n.RotateLog(); err == nil {
		t.Error("got a rotation of a writer, want an error")
	}
}

// The exact NetworkConfig lines (and readTopologyFile's notes) of each
// release, in the three formats, for a relay's topology: a producer entry
// (a name and an address), a public root, ledger peers after a slot and a
// peer snapshot file.
func TestNetworkConfigLines(t *testing.T) {
	at := time.Date(2026, 8, 25, 12, 0, 0, 123456789, time.UTC)
	const file = `{"localRoots":[{"accessPoints":[{"address":"bp1.example.com","port":3001},{"address":"10.0.0.5","port":3001}],
		"advertise":false,"trustable":true,"valency":1}],
		"publicRoots":[{"accessPoints":[{"address":"relays.example.com","port":3001}],"advertise":false}],
		"useLedgerAfterSlot":177724800,"peerSnapshotFile":"/var/lib/cardano/peer-snapshot.json"}`
	parsed := func(version string) *topology {
		top, err := parseTopology([]byte(file), nodeVersions[version].topo)
		if err != nil {
			t.Fatal(err)
		}
		return top
	}
	const (
		// ppStartupInfoTrace's text after the first line, per release.
		public  = "\nPublic Roots:\n  (RelayAccessDomain \"relays.example.com.\" 3001,DoNotAdvertisePeer)\n"
		ledger  = "Get root peers from the ledger after slot 177724800\n"
		snap    = "Topology configuration specifies ledger peer snapshot file: \"/var/lib/cardano/peer-snapshot.json\""
		lrc105  = "LocalRootConfig {peerAdvertise = DoNotAdvertisePeer, diffusionMode = InitiatorAndResponderDiffusionMode, extraFlags = IsTrustable}"
		lrc110  = "LocalRootConfig {peerAdvertise = DoNotAdvertisePeer, diffusionMode = InitiatorAndResponderDiffusionMode, localProvenance = Outbound, extraLocalRootFlags = IsTrustable}"
		text105 = "\nLocal Root Groups:\n  (HotValency {getHotValency = 1},WarmValency {getWarmValency = 1},[(RelayAccessDomain \"bp1.example.com\" 3001," + lrc105 +
			"),(RelayAccessAddress \"10.0.0.5\" 3001," + lrc105 + ")])\nPublic Roots:\n  (RelayAccessDomain \"relays.example.com\" 3001,DoNotAdvertisePeer)\n" + ledger + snap
		text106 = "\nLocal Root Groups:\n  (HotValency {getHotValency = 1},WarmValency {getWarmValency = 1},[(RelayAccessDomain \"bp1.example.com.\" 3001," + lrc105 +
			"),(RelayAccessAddress \"10.0.0.5\" 3001," + lrc105 + ")])" + public + ledger + snap
		text110 = "\nLocal Root Groups:\n  (HotValency {getHotValency = 1},WarmValency {getWarmValency = 1},[(RelayAccessDomain \"bp1.example.com.\" 3001," + lrc110 +
			"),(RelayAccessAddress \"10.0.0.5\" 3001," + lrc110 + ")])" + public + ledger + snap
		humanHead  = "\x1b[34m[2026-08-25 12:00:00.1234Z][relay1:Startup.NetworkConfig](Info,101)\x1b[0m "
		legacyHead = "\x1b[34m[relay1:cardano.node.startup:Info:101]\x1b[0m [2026-08-25 12:00:00.12 UTC] "
		jsonHead   = `{"at":"2026-08-25T12:00:00.123456789Z","ns":"Startup.NetworkConfig","data":{"kind":"NetworkConfig","localRoots":[[1,1,[`
		jsonTail   = `"sev":"Info","thread":"101","host":"relay1"}` + "\n"
	)
	tests := []struct {
		name                string
		ev                  logEvent
		human, json, legacy string
	}{
		{
			name:   "empty topology",
			ev:     networkConfig(&topology{}, topology110, 101),
			human:  humanHead + "\nLocal Root Groups:\n  \nPublic Roots:\n  \nDon't use ledger to get root peers.\nTopology configuration does not specify ledger peer snapshot file\n",
			json:   `{"at":"2026-08-25T12:00:00.123456789Z","ns":"Startup.NetworkConfig","data":{"kind":"NetworkConfig","localRoots":[],"peerSnapshotFile":null,"publicRoots":[],"useLedgerAfter":-1},` + jsonTail,
			legacy: legacyHead + "\nLocal Root Groups:\n  \nPublic Roots:\n  \nDon't use ledger to get root peers.\nTopology configuration does not specify ledger peer snapshot file\n",
		},
		{
			name:  "10.5: names as written, extraFlags as its Show",
			ev:    networkConfig(parsed(Version105), topology105, 101),
			human: humanHead + text105 + "\n",
			json: jsonHead + `[{"address":"bp1.example.com","port":3001},{"diffusionMode":"InitiatorAndResponderDiffusionMode","extraFlags":"IsTrustable","peerAdvertise":false}],` +
				`[{"address":"10.0.0.5","port":3001},{"diffusionMode":"InitiatorAndResponderDiffusionMode","extraFlags":"IsTrustable","peerAdvertise":false}]]]],` +
				`"peerSnapshotFile":"/var/lib/cardano/peer-snapshot.json","publicRoots":[[{"address":"relays.example.com","port":3001},false]],"useLedgerAfter":177724800},` + jsonTail,
			legacy: legacyHead + text105 + "\n",
		},
		{
			name:  "10.6: fully qualified names, extraFlags a Bool",
			ev:    networkConfig(parsed(Version106), topology106, 101),
			human: humanHead + text106 + "\n",
			json: jsonHead + `[{"address":"bp1.example.com.","port":3001},{"diffusionMode":"InitiatorAndResponderDiffusionMode","extraFlags":true,"peerAdvertise":false}],` +
				`[{"address":"10.0.0.5","port":3001},{"diffusionMode":"InitiatorAndResponderDiffusionMode","extraFlags":true,"peerAdvertise":false}]]]],` +
				`"peerSnapshotFile":"/var/lib/cardano/peer-snapshot.json","publicRoots":[[{"address":"relays.example.com.","port":3001},false]],"useLedgerAfter":177724800},` + jsonTail,
			legacy: legacyHead + text106 + "\n",
		},
		{
			name:  "11.0: LocalRootConfig with its provenance",
			ev:    networkConfig(parsed(Version110), topology110, 101),
			human: humanHead + text110 + "\n",
			json: jsonHead + `[{"address":"bp1.example.com.","port":3001},{"diffusionMode":"InitiatorAndResponderDiffusionMode","extraFlags":true,"peerAdvertise":false}],` +
				`[{"address":"10.0.0.5","port":3001},{"diffusionMode":"InitiatorAndResponderDiffusionMode","extraFlags":true,"peerAdvertise":false}]]]],` +
				`"peerSnapshotFile":"/var/lib/cardano/peer-snapshot.json","publicRoots":[[{"address":"relays.example.com.","port":3001},false]],"useLedgerAfter":177724800},` + jsonTail,
			legacy: legacyHead + text110 + "\n",
		},
		{
			name:   "a note on the way (NetworkConfigUpdateWarning)",
			ev:     networkConfigNote(topologyNote{Warning, "Cardano.Node.Configuration.Topology.readTopologyFile: Use of ledger peers is not recommended for BP operation"}, 101),
			human:  "\x1b[33m[2026-08-25 12:00:00.1234Z][relay1:Startup.NetworkConfigUpdateWarning](Warning,101)\x1b[0m Cardano.Node.Configuration.Topology.readTopologyFile: Use of ledger peers is not recommended for BP operation\n",
			json:   `{"at":"2026-08-25T12:00:00.123456789Z","ns":"Startup.NetworkConfigUpdateWarning","data":{"kind":"NetworkConfigUpdateWarning","message":"Cardano.Node.Configuration.Topology.readTopologyFile: Use of ledger peers is not recommended for BP operation"},"sev":"Warning","thread":"101","host":"relay1"}` + "\n",
			legacy: "\x1b[33m[relay1:cardano.node.startup:Warning:101]\x1b[0m [2026-08-25 12:00:00.12 UTC] Cardano.Node.Configuration.Topology.readTopologyFile: Use of ledger peers is not recommended for BP operation\n",
		},
		{
			name:   "a note on the way (NetworkConfigUpdateInfo)",
			ev:     networkConfigNote(topologyNote{Info, "x"}, 101),
			human:  "\x1b[34m[2026-08-25 12:00:00.1234Z][relay1:Startup.NetworkConfigUpdateInfo](Info,101)\x1b[0m x\n",
			json:   `{"at":"2026-08-25T12:00:00.123456789Z","ns":"Startup.NetworkConfigUpdateInfo","data":{"kind":"NetworkConfigUpdateInfo","message":"x"},"sev":"Info","thread":"101","host":"relay1"}` + "\n",
			legacy: "\x1b[34m[relay1:cardano.node.startup:Info:101]\x1b[0m [2026-08-25 12:00:00.12 UTC] x\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, f := range []struct{ system, format, want string }{
				{TracingNew, LogHuman, tt.human}, {TracingNew, LogJSON, tt.json}, {TracingLegacy, LogLegacy, tt.legacy},
			} {
				tr := &tracer{system: f.system, format: f.format, host: "relay1"}
				if got := tr.format1(tt.ev, at); got != f.want {
					t.Errorf("%s:\ngot  %q\nwant %q", f.format, got, f.want)
				}
			}
		})
	}
}
