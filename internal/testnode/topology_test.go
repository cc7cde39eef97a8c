package testnode

import (
	"encoding/json"
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// What a topology file gives, as State shows it.
type topologyView struct {
	local, public []RootGroup
	ledger        int64
	snapshot      string
}

func viewOf(t *topology) topologyView {
	v := topologyView{ledger: -1, snapshot: t.snapshot}
	v.local, v.public = t.rootGroups()
	switch t.ledger {
	case ledgerAlways:
		v.ledger = 0
	case ledgerAfter:
		v.ledger = int64(t.ledgerSlot)
	}
	return v
}

// group is a local root group with the node's defaults.
func group(hot int, points ...string) RootGroup {
	return RootGroup{AccessPoints: points, HotValency: hot, WarmValency: hot, DiffusionMode: "InitiatorAndResponder"}
}

func public(adv bool, points ...string) RootGroup {
	return RootGroup{AccessPoints: points, Advertise: adv}
}

// The files each release accepts, and what it makes of them.
func TestParseTopologyAccepts(t *testing.T) {
	all := Versions
	tests := []struct {
		name     string
		versions []string
		file     string
		want     topologyView
	}{
		{
			name:     "empty roots, unknown keys ignored",
			versions: all,
			file:     `{"localRoots":[],"publicRoots":[],"comment":"relay 1","Producers":[{"addr":"x"}]}`,
			want:     topologyView{ledger: -1},
		},
		{
			name:     "a relay's producer entry with every field",
			versions: all,
			file: `{"localRoots":[{"accessPoints":[{"address":"bp1.example.com","port":3001},{"address":"10.0.0.5","port":6000}],
				"advertise":true,"trustable":true,"hotValency":2,"warmValency":3,"diffusionMode":"InitiatorOnly","note":1}],
				"publicRoots":[{"accessPoints":[{"address":"relays.example.com","port":3001}],"advertise":false}],
				"useLedgerAfterSlot":177724800,"bootstrapPeers":[{"address":"backbone.cardano.iog.io","port":3001}]}`,
			want: topologyView{
				local: []RootGroup{{AccessPoints: []string{"bp1.example.com:3001", "10.0.0.5:6000"}, Advertise: true, Trustable: true,
					HotValency: 2, WarmValency: 3, DiffusionMode: "InitiatorOnly"}},
				public: []RootGroup{public(false, "relays.example.com:3001")},
				ledger: 177724800,
			},
		},
		{
			name:     "valency is the old name of hotValency; warmValency defaults to it",
			versions: all,
			file:     `{"localRoots":[{"accessPoints":[{"address":"bp1","port":3001}],"valency":1}],"publicRoots":[]}`,
			want:     topologyView{local: []RootGroup{group(1, "bp1:3001")}, ledger: -1},
		},
		{
			name:     "a valency that does not read falls back to hotValency",
			versions: all,
			file:     `{"localRoots":[{"accessPoints":[],"valency":"one","hotValency":4}],"publicRoots":[]}`,
			want:     topologyView{local: []RootGroup{group(4)}, ledger: -1},
		},
		{
			name:     "null optional fields take their defaults",
			versions: all,
			file: `{"localRoots":[{"accessPoints":[],"hotValency":1,"warmValency":null,"trustable":null,"advertise":null,"diffusionMode":null}],
				"publicRoots":[],"useLedgerAfterSlot":null,"bootstrapPeers":null,"peerSnapshotFile":null}`,
			want: topologyView{local: []RootGroup{group(1)}, ledger: -1},
		},
		{
			name:     "ledger peers in any slot (0), never (negative), after the floor of a fraction",
			versions: all,
			file:     `{"localRoots":[],"publicRoots":[],"useLedgerAfterSlot":0}`,
			want:     topologyView{ledger: 0},
		},
		{
			name:     "negative useLedgerAfterSlot: never",
			versions: all,
			file:     `{"localRoots":[],"publicRoots":[],"useLedgerAfterSlot":-5}`,
			want:     topologyView{ledger: -1},
		},
		{
			name:     "fractional useLedgerAfterSlot: its floor",
			versions: all,
			file:     `{"localRoots":[],"publicRoots":[],"useLedgerAfterSlot":12.7}`,
			want:     topologyView{ledger: 12},
		},
		{
			name:     "an IPv6 address",
			versions: all,
			file:     `{"localRoots":[{"accessPoints":[{"address":"2001:db8::1","port":3001}],"hotValency":1}],"publicRoots":[]}`,
			want:     topologyView{local: []RootGroup{group(1, "[2001:db8::1]:3001")}, ledger: -1},
		},
		{
			name:     "an empty bootstrapPeers list with a trustable local root",
			versions: all,
			file:     `{"localRoots":[{"accessPoints":[{"address":"bp1","port":3001}],"hotValency":1,"trustable":true}],"publicRoots":[],"bootstrapPeers":[]}`,
			want:     topologyView{local: []RootGroup{{AccessPoints: []string{"bp1:3001"}, HotValency: 1, WarmValency: 1, Trustable: true, DiffusionMode: "InitiatorAndResponder"}}, ledger: -1},
		},
		{
			name:     "from ouroboros-network-api 0.16 an access point without an Int port is an SRV domain",
			versions: []string{Version106, Version110},
			file: `{"localRoots":[{"accessPoints":[{"address":"_cardano._tcp.example.com"},{"address":"bp1","port":"3001"}],"hotValency":1}],
				"publicRoots":[]}`,
			want: topologyView{local: []RootGroup{group(1, "_cardano._tcp.example.com", "bp1")}, ledger: -1},
		},
		{
			name:     "11.0 reads behindFirewall; 10.6 ignores it",
			versions: []string{Version110},
			file:     `{"localRoots":[{"accessPoints":[],"hotValency":1,"behindFirewall":true}],"publicRoots":[]}`,
			want:     topologyView{local: []RootGroup{{HotValency: 1, WarmValency: 1, DiffusionMode: "InitiatorAndResponder", BehindFirewall: true}}, ledger: -1},
		},
		{
			name:     "before 11.0 behindFirewall is an unknown key",
			versions: []string{Version105, Version106},
			file:     `{"localRoots":[{"accessPoints":[],"hotValency":1,"behindFirewall":"yes"}],"publicRoots":[]}`,
			want:     topologyView{local: []RootGroup{group(1)}, ledger: -1},
		},
		{
			name:     "0.0.0.0 is an address before 11.0",
			versions: []string{Version105, Version106},
			file:     `{"localRoots":[{"accessPoints":[{"address":"0.0.0.0","port":3001}],"hotValency":1}],"publicRoots":[]}`,
			want:     topologyView{local: []RootGroup{group(1, "0.0.0.0:3001")}, ledger: -1},
		},
	}
	for _, tt := range tests {
		for _, v := range tt.versions {
			t.Run(v+"/"+tt.name, func(t *testing.T) {
				top, err := parseTopology([]byte(tt.file), nodeVersions[v].topo)
				if err != nil {
					t.Fatalf("got %v, want the file read", err)
				}
				if got := viewOf(top); !reflect.DeepEqual(got, tt.want) {
					t.Errorf("got %+v,\nwant %+v", got, tt.want)
				}
			})
		}
	}
}

// The files each release refuses, with aeson's path and message.
func TestParseTopologyRejects(t *testing.T) {
	all := Versions
	ap := func(fields string) string {
		return `{"localRoots":[{"accessPoints":[{` + fields + `}],"hotValency":1}],"publicRoots":[]}`
	}
	grp := func(fields string) string {
		return `{"localRoots":[{"accessPoints":[],` + fields + `}],"publicRoots":[]}`
	}
	tests := []struct {
		name     string
		versions []string
		file     string
		want     string
	}{
		{"not an object", all, `[]`, `Error in $: parsing NetworkTopology failed, expected Object, but encountered Array`},
		{"no localRoots (a legacy non-P2P file)", all, `{"Producers":[{"addr":"x","port":3001,"valency":1}]}`, `Error in $: key "localRoots" not found`},
		{"no publicRoots", all, `{"localRoots":[]}`, `Error in $: key "publicRoots" not found`},
		{"localRoots not a list", all, `{"localRoots":{},"publicRoots":[]}`, `Error in $.localRoots: parsing [] failed, expected Array, but encountered Object`},
		{"a group not an object", all, `{"localRoots":["bp1"],"publicRoots":[]}`, `Error in $.localRoots[0]: parsing LocalRootPeersGroup failed, expected Object, but encountered String`},
		{"no valency: aeson reports the second alternative", all, grp(`"warmValency":1`), `Error in $.localRoots[0]: key "hotValency" not found`},
		{"a fractional hotValency", all, grp(`"hotValency":1.5`), `Error in $.localRoots[0].hotValency: parsing Int failed, value is either floating or will cause over or underflow 1.5`},
		{"a hotValency in quotes", all, grp(`"hotValency":"2"`), `Error in $.localRoots[0].hotValency: parsing Int failed, expected Number, but encountered String`},
		{"no accessPoints", all, `{"localRoots":[{"hotValency":1}],"publicRoots":[]}`, `Error in $.localRoots[0]: key "accessPoints" not found`},
		{"an access point not an object", all, `{"localRoots":[{"accessPoints":["bp1:3001"],"hotValency":1}],"publicRoots":[]}`,
			`Error in $.localRoots[0].accessPoints[0]: parsing RelayAccessPoint failed, expected Object, but encountered String`},
		{"an access point without address", all, ap(`"addr":"bp1","port":3001`), `Error in $.localRoots[0].accessPoints[0]: key "address" not found`},
		{"an address that is a number", all, ap(`"address":10,"port":3001`), `Error in $.localRoots[0].accessPoints[0].address: parsing Text failed, expected String, but encountered Number`},
		{"10.5 needs a port", []string{Version105}, ap(`"address":"bp1"`), `Error in $.localRoots[0].accessPoints[0]: key "port" not found`},
		{"10.5 needs a numeric port", []string{Version105}, ap(`"address":"bp1","port":"3001"`), `Error in $.localRoots[0].accessPoints[0].port: parsing Int failed, expected Number, but encountered String`},
		{"11.0 refuses an unspecified address", []string{Version110}, ap(`"address":"0.0.0.0","port":3001`), `Error in $.localRoots[0].accessPoints[0]: 0.0.0.0 is not a valid destination address`},
		{"11.0 refuses ::", []string{Version110}, ap(`"address":"::","port":3001`), `Error in $.localRoots[0].accessPoints[0]: :: is not a valid destination address`},
		{"advertise not a boolean", all, grp(`"hotValency":1,"advertise":"yes"`), `Error in $.localRoots[0].advertise: parsing PeerAdvertise failed, expected Boolean, but encountered String`},
		{"trustable not a boolean", all, grp(`"hotValency":1,"trustable":1`), `Error in $.localRoots[0].trustable: parsing PeerTrustable failed, expected Boolean, but encountered Number`},
		{"an unknown diffusion mode", all, grp(`"hotValency":1,"diffusionMode":"Both"`),
			`Error in $.localRoots[0].diffusionMode: Parsing NodeDiffusionMode failed: can be either 'InitiatorOnly' or 'InitiatorAndResponder'`},
		{"a diffusion mode that is not text (cardano-node's NodeDiffusionMode)", []string{Version105, Version106}, grp(`"hotValency":1,"diffusionMode":1`),
			`Error in $.localRoots[0].diffusionMode: Parsing NodeDiffusionMode failed`},
		{"a diffusion mode that is not text (ouroboros-network's withText)", []string{Version110}, grp(`"hotValency":1,"diffusionMode":1`),
			`Error in $.localRoots[0].diffusionMode: parsing DiffusionMode failed, expected String, but encountered Number`},
		{"10.5 and 10.6 read trustable before diffusionMode", []string{Version105, Version106}, grp(`"hotValency":1,"diffusionMode":1,"trustable":1`),
			`Error in $.localRoots[0].trustable: parsing PeerTrustable failed, expected Boolean, but encountered Number`},
		{"11.0 reads diffusionMode before trustable", []string{Version110}, grp(`"hotValency":1,"diffusionMode":1,"trustable":1`),
			`Error in $.localRoots[0].diffusionMode: parsing DiffusionMode failed, expected String, but encountered Number`},
		{"11.0 reads behindFirewall", []string{Version110}, grp(`"hotValency":1,"behindFirewall":"yes"`),
			`Error in $.localRoots[0].behindFirewall: parsing Bool failed, expected Boolean, but encountered String`},
		{"a public root group not an object", all, `{"localRoots":[],"publicRoots":[[]]}`, `Error in $.publicRoots[0]: parsing RootConfig failed, expected Object, but encountered Array`},
		{"useLedgerAfterSlot in quotes", all, `{"localRoots":[],"publicRoots":[],"useLedgerAfterSlot":"177724800"}`,
			`Error in $.useLedgerAfterSlot: Parsing of slot number failed due to type mismatch. Encountered: String "177724800"`},
		{"bootstrapPeers not a list", all, `{"localRoots":[],"publicRoots":[],"bootstrapPeers":true}`, `Error in $.bootstrapPeers: parsing [] failed, expected Array, but encountered Boolean`},
		{"cardano-node reads bootstrapPeers before peerSnapshotFile", []string{Version105, Version106},
			`{"localRoots":[],"publicRoots":[],"bootstrapPeers":true,"peerSnapshotFile":1}`, `Error in $.bootstrapPeers: parsing [] failed, expected Array, but encountered Boolean`},
		{"ouroboros-network reads peerSnapshotFile before bootstrapPeers", []string{Version110},
			`{"localRoots":[],"publicRoots":[],"bootstrapPeers":true,"peerSnapshotFile":1}`, `Error in $.peerSnapshotFile: expected String, but encountered Number`},
	}
	for _, tt := range tests {
		for _, v := range tt.versions {
			t.Run(v+"/"+tt.name, func(t *testing.T) {
				_, err := parseTopology([]byte(tt.file), nodeVersions[v].topo)
				if err == nil || err.Error() != tt.want {
					t.Errorf("got %v,\nwant %s", err, tt.want)
				}
			})
		}
	}
}

// Syntax errors carry Go's decoder message after aeson's prefix.
func TestParseTopologyRejectsBadJSON(t *testing.T) {
	for _, file := range []string{``, `{`, `{"localRoots":[],}`, `{"localRoots":[],"publicRoots":[]} {}`} {
		_, err := parseTopology([]byte(file), topology110)
		if err == nil || !strings.HasPrefix(err.Error(), "Error in $: ") {
			t.Errorf("%q: got %v, want an aeson-style error at $", file, err)
		}
	}
}

func writeTopology(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// readTopologyFile's whole error call, per cause, as the node shows it.
func TestReadTopologyFileErrors(t *testing.T) {
	dir := t.TempDir()
	const jsonHint = "Is your topology file formatted correctly? Expecting P2P Topology file format. The port and valency fields should be numerical. " +
		"If you specified the correct topology file make sure that you correctly setup EnableP2P configuration flag. "
	tests := []struct {
		name    string
		setup   func(path string) string // returns the path to read
		version string
		want    string
		cause   error
	}{
		{
			name:    "missing file",
			setup:   func(p string) string { return p },
			version: Version106,
			want:    "Cardano.Node.Configuration.TopologyP2P.readTopologyFile: Cardano.Node.Configuration.Topology.readTopologyFile: DIR/topology.json: withBinaryFile: does not exist (No such file or directory)",
			cause:   fs.ErrNotExist,
		},
		{
			name:    "a folder",
			setup:   func(string) string { return dir },
			version: Version110,
			want:    "Cardano.Node.Configuration.TopologyP2P.readTopologyFile: Cardano.Node.Configuration.Topology.readTopologyFile: DIR: withBinaryFile: inappropriate type (is a directory)",
		},
		{
			name: "a legacy file",
			setup: func(p string) string {
				writeTopology(t, p, `{"Producers":[]}`)
				return p
			},
			version: Version105,
			want:    "Cardano.Node.Configuration.TopologyP2P.readTopologyFile: " + jsonHint + `Error in $: key "localRoots" not found`,
		},
		{
			name: "no trustable peer for bootstrap",
			setup: func(p string) string {
				writeTopology(t, p, `{"localRoots":[{"accessPoints":[{"address":"bp1","port":3001}],"hotValency":1}],"publicRoots":[],"bootstrapPeers":[]}`)
				return p
			},
			version: Version110,
			want: "Cardano.Node.Configuration.TopologyP2P.readTopologyFile: You seem to have not configured any trustable peers. " +
				"This is important in order for the node to make progress in bootstrap mode. Make sure you provide at least one bootstrap peer source. ",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.setup(filepath.Join(dir, "topology.json"))
			defer func() { _ = os.Remove(filepath.Join(dir, "topology.json")) }()
			_, _, terr := readTopologyFile(path, nodeVersions[tt.version], false)
			if terr == nil {
				t.Fatal("got the file read, want an error")
			}
			want := strings.ReplaceAll(tt.want, "DIR", dir)
			if terr.Error() != want {
				t.Errorf("got  %s\nwant %s", terr.Error(), want)
			}
			if !errors.Is(terr, ErrTopology) || (tt.cause != nil && !errors.Is(terr, tt.cause)) {
				t.Errorf("got %v, want one wrapping ErrTopology and %v", terr, tt.cause)
			}
		})
	}
}

// The CallStack GHC prints with the error call names the release's line.
func TestTopologyErrorShow(t *testing.T) {
	for _, tt := range []struct{ version, line string }{
		{Version105, "275:23 in cardano-node-10.5.3-inplace"},
		{Version106, "346:23 in cardano-node-10.6.4-inplace"},
		{Version110, "148:23 in cardano-node-11.0.1-inplace"},
	} {
		_, _, terr := readTopologyFile(filepath.Join(t.TempDir(), "none"), nodeVersions[tt.version], false)
		want := terr.Error() + "\nCallStack (from HasCallStack):\n  error, called at src/Cardano/Node/Configuration/TopologyP2P.hs:" +
			tt.line + ":Cardano.Node.Configuration.TopologyP2P"
		if got := terr.show(); got != want {
			t.Errorf("%s: got %q, want %q", tt.version, got, want)
		}
	}
}

// The peer snapshot path is made relative to the topology file's folder
// (System.FilePath's takeDirectory and </>).
func TestPeerSnapshotPathFollowsTheTopologyFile(t *testing.T) {
	tests := []struct{ topology, snapshot, want string }{
		{"/etc/cardano/topology.json", "peer-snapshot.json", "/etc/cardano/peer-snapshot.json"},
		{"/etc/cardano/topology.json", "/var/lib/snap.json", "/var/lib/snap.json"},
		{"topology.json", "snap.json", "./snap.json"},
		{"/topology.json", "snap.json", "/snap.json"},
		{"cfg//topology.json", "snap.json", "cfg/snap.json"},
	}
	for _, tt := range tests {
		if got := combinePath(takeDirectory(tt.topology), tt.snapshot); got != tt.want {
			t.Errorf("%s + %s: got %s, want %s", tt.topology, tt.snapshot, got, tt.want)
		}
	}
}

// readTopologyFile's messages on its way (10.6 and 11.0, Praos mode).
func TestTopologyNotes(t *testing.T) {
	const prefix = "Cardano.Node.Configuration.Topology.readTopologyFile: "
	tests := []struct {
		name     string
		file     string
		producer bool
		want     []topologyNote
	}{
		{"a relay using ledger peers: nothing", `{"localRoots":[],"publicRoots":[],"useLedgerAfterSlot":1}`, false, nil},
		{"a producer using ledger peers", `{"localRoots":[],"publicRoots":[],"useLedgerAfterSlot":1}`, true,
			[]topologyNote{{Warning, prefix + "Use of ledger peers is not recommended for BP operation"}}},
		{"a producer with a snapshot and no ledger peers", `{"localRoots":[],"publicRoots":[],"peerSnapshotFile":"s.json"}`, true,
			[]topologyNote{
				{Info, prefix + "Ledger peers and peer snapshot, although specified in the topology file, are disabled in line with recommended BP operation"},
				{Warning, prefix + "Peer snapshot file specified but topology disables ledger peers - ignoring file. To turn off this message remove peerSnapshotFile from the topology file."},
			}},
		{"a relay with a snapshot and no ledger peers", `{"localRoots":[],"publicRoots":[],"peerSnapshotFile":"s.json"}`, false,
			[]topologyNote{{Warning, prefix + "Peer snapshot file specified but topology disables ledger peers - ignoring file. " +
				"To turn off this message enable the use of ledger peers or remove peerSnapshotFile from the topology file."}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "topology.json")
			writeTopology(t, path, tt.file)
			for _, v := range Versions {
				_, notes, terr := readTopologyFile(path, nodeVersions[v], tt.producer)
				if terr != nil {
					t.Fatal(terr)
				}
				want := tt.want
				if v == Version105 {
					want = nil // 10.5.3 has no such messages
				}
				if !reflect.DeepEqual(notes, want) {
					t.Errorf("%s: got %v, want %v", v, notes, want)
				}
			}
		})
	}
}

// Data.IP's Show of IPv6 addresses (iproute's showIPv6).
func TestShowIP(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1":            "192.0.2.1",
		"::1":                  "::1",
		"2001:db8::1":          "2001:db8::1",
		"2001:db8:0:1:0:0:0:1": "2001:db8:0:1::1",
		"1:0:0:2:0:0:3:4":      "1::2:0:0:3:4",
		"1:0:2:3:4:5:6:7":      "1:0:2:3:4:5:6:7",
		"::ffff:192.0.2.1":     "::ffff:192.0.2.1",
		"::192.0.2.1":          "::192.0.2.1",
		"::":                   "::",
		"FE80::A":              "fe80::a",
	} {
		if got := showIP(netip.MustParseAddr(in)); got != want {
			t.Errorf("%s: got %s, want %s", in, got, want)
		}
	}
}

// Data.Scientific's Show, for aeson's messages about numbers.
func TestShowScientific(t *testing.T) {
	for in, want := range map[string]string{
		"1.5": "1.5", "3001": "3001.0", "0": "0.0", "-2.5": "-2.5", "0.5": "0.5", "0.05": "5.0e-2",
		"1e30": "1.0e30", "1234567": "1234567.0", "12345678": "1.2345678e7", "1.50E2": "150.0",
	} {
		if got := hsShowScientific(json.Number(in)); got != want {
			t.Errorf("%s: got %s, want %s", in, got, want)
		}
	}
}

// Map.fromList of the access points: RelayAccessPoint's Ord (domains,
// then SRV domains, then addresses, an IPv4 address as its IPv4-mapped
// IPv6 form) and one entry per key.
func TestNodeMapOrder(t *testing.T) {
	file := `{"localRoots":[{"accessPoints":[
		{"address":"10.0.0.2","port":3001},{"address":"::ffff:10.0.0.1","port":3001},{"address":"b.example","port":1},
		{"address":"a.example","port":2},{"address":"srv.example"},{"address":"10.0.0.1","port":3001},{"address":"a.example","port":1}],
		"hotValency":1}],"publicRoots":[]}`
	top, err := parseTopology([]byte(file), topology106)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ap := range nodeMap(top.local[0].points) {
		got = append(got, ap.show())
	}
	want := []string{`RelayAccessDomain "a.example." 1`, `RelayAccessDomain "a.example." 2`, `RelayAccessDomain "b.example." 1`,
		`RelayAccessSRVDomain "srv.example."`, `RelayAccessAddress "10.0.0.1" 3001`, `RelayAccessAddress "10.0.0.2" 3001`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}
