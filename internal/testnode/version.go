package testnode

import (
	"fmt"
	"slices"
	"strings"
)

// Node versions the test node models.
const (
	Version105 = "10.5"
	Version106 = "10.6"
	Version110 = "11.0"

	// DefaultVersion is the version a Config without one runs.
	DefaultVersion = Version110
)

// Versions lists the modelled node versions, oldest first.
var Versions = []string{Version105, Version106, Version110}

// Tracing systems.
const (
	TracingNew    = "new"    // trace-dispatcher (UseTraceDispatcher: true)
	TracingLegacy = "legacy" // iohk-monitoring (UseTraceDispatcher: false)
)

// Log line formats.
const (
	LogHuman  = "human"  // trace-dispatcher "Stdout HumanFormatColoured"
	LogJSON   = "json"   // trace-dispatcher "Stdout MachineFormat"
	LogLegacy = "legacy" // iohk-monitoring katip text scribe (ScText)
)

// nodeVersion holds what differs between the modelled releases.
type nodeVersion struct {
	name     string // "10.6"
	release  string // the release the facts were read from, "10.6.4"
	revision string // git commit of that release tag (the build info metric)

	// Node-to-client versions the node offers: consensus'
	// supportedNodeToClientVersions cut at latestReleasedNodeVersion
	// (ouroboros-consensus-cardano, Ouroboros/Consensus/Cardano/Node.hs).
	ntcMin, ntcMax uint16

	// Shelley-based query results use the 18-field (legacy) protocol
	// parameter layout inside GetGenesisConfig up to this node-to-client
	// version and the 17-field one after it.
	legacyGenesisUpTo uint16

	// praosFields is the length of the Praos chain-dependent state.
	praosFields int

	// eras are the eras of the Cardano block, by index (singleEraName).
	eras []string

	tracing string // default tracing system of the shipped config
	ghc     string // compiler version in the build info (System.Info.compilerVersion)

	topo topologyDialect // how the release reads and shows its topology file
}

var nodeVersions = map[string]nodeVersion{
	// cardano-node 10.5.3 builds ouroboros-consensus-cardano 0.25 (tag
	// release-ouroboros-consensus-cardano-0.25.1.1): NtC 16..20, Praos
	// state of 7 fields, GetGenesisConfig always in the 18-field layout,
	// seven eras. Its shipped mainnet-config.json sets UseTraceDispatcher
	// false.
	Version105: {
		name: Version105, release: "10.5.3", revision: "6c034ec038d8d276a3595e10e2d38643f09bd1f2",
		ntcMin: 16, ntcMax: 20, legacyGenesisUpTo: 20, praosFields: 7,
		eras:    []string{"Byron", "Shelley", "Allegra", "Mary", "Alonzo", "Babbage", "Conway"},
		tracing: TracingLegacy, ghc: "9.6",
		topo: topology105,
	},
	// cardano-node 10.6.4: ouroboros-consensus-cardano 0.26 (tag
	// release-ouroboros-consensus-cardano-0.26.0.3): NtC 16..22, Praos
	// state of 7 fields, genesisConfigEnDecoding switches to the 17-field
	// layout from ShelleyNodeToClientVersion13 (NtC 21), an eighth era
	// (Dijkstra) enabled in every NtC version.
	Version106: {
		name: Version106, release: "10.6.4", revision: "5a4dcd1b410ba78f9faab7acd48f606496909935",
		ntcMin: 16, ntcMax: 22, legacyGenesisUpTo: 20, praosFields: 7,
		eras:    []string{"Byron", "Shelley", "Allegra", "Mary", "Alonzo", "Babbage", "Conway", "Dijkstra"},
		tracing: TracingNew, ghc: "9.6",
		topo: topology106,
	},
	// cardano-node 11.0.1: ouroboros-consensus 3.0.1 (tag
	// release-ouroboros-consensus-3.0.1.0): NtC 16..23, Praos state of 8
	// fields (praosStatePreviousEpochNonce added), 17-field genesis layout
	// from NtC 21.
	Version110: {
		name: Version110, release: "11.0.1", revision: "97036a66bcf8c89f687ae57a048eecc0389977ef",
		ntcMin: 16, ntcMax: 23, legacyGenesisUpTo: 20, praosFields: 8,
		eras:    []string{"Byron", "Shelley", "Allegra", "Mary", "Alonzo", "Babbage", "Conway", "Dijkstra"},
		tracing: TracingNew, ghc: "9.6",
		topo: topology110,
	},
}

func lookupVersion(v string) (nodeVersion, error) {
	if v == "" {
		v = DefaultVersion
	}
	nv, ok := nodeVersions[v]
	if !ok {
		return nodeVersion{}, fmt.Errorf("%w: unknown node version %q (want one of %s)", ErrConfig, v, strings.Join(Versions, ", "))
	}
	return nv, nil
}

// eraIndex finds an era by name (case-insensitive).
func (v nodeVersion) eraIndex(name string) (int, bool) {
	i := slices.IndexFunc(v.eras, func(e string) bool { return strings.EqualFold(e, name) })
	return i, i >= 0
}

const (
	eraByron   = 0
	eraBabbage = 5
	eraConway  = 6
)
