package testnode

// Reading the P2P topology file the way cardano-node does, per release,
// and showing what was read the way the node's NetworkConfig trace does.
// Written from the node's sources; it shares no code with the agent's
// topology handling.
//
// Reading: readTopologyFile (cardano-node/src/Cardano/Node/Configuration/
// TopologyP2P.hs, tags 10.5.3, 10.6.4, 11.0.1) reads the file whole
// (bytestring's readFile, so an I/O error names withBinaryFile), decodes it
// with aeson's eitherDecode, refuses an empty bootstrapPeers list without a
// trustable local root (isValidTrustedPeerConfiguration), and makes a
// relative peerSnapshotFile relative to the topology file's folder. Any
// failure becomes readTopologyFileOrError's `error` call. The JSON
// instances:
//
//   - 10.5.3 and 10.6.4: cardano-node's own NetworkTopology,
//     LocalRootPeersGroup and RootConfig instances (TopologyP2P.hs), with
//     RelayAccessPoint from ouroboros-network-api (0.14.1 for 10.5.3,
//     0.16.0 for 10.6.4: Ouroboros/Network/PeerSelection/
//     RelayAccessPoint.hs) and the valency, ledger-peer, bootstrap and
//     trustable instances from cardano-node's Cardano/Tracing/
//     OrphanInstances/Network.hs (10.5.3) or ouroboros-network's
//     orphan-instances (ouroboros-network-0.22.6.0).
//   - 11.0.1: ouroboros-network-1.1.0.0's networkTopologyFromJSON and
//     localRootPeersGroupFromJSON (ouroboros-network/orphan-instances/
//     Ouroboros/Network/OrphanInstances.hs) with cardano-diffusion's
//     extra fields (trustable, bootstrapPeers: cardano-diffusion/
//     orphan-instances/Cardano/Network/OrphanInstances.hs).
//
// Unknown keys are ignored, as aeson's object parsers do. Errors carry
// aeson's path ("$.localRoots[0].accessPoints[1]") and its messages
// (Data.Aeson.Types: typeMismatch, "key … not found", prependContext).
// JSON syntax errors carry Go's decoder message where the node has aeson's
// parser's.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
)

// topologyDialect is what differs between the releases' topology readers.
type topologyDialect struct {
	// errorLine is the line of readTopologyFileOrError's `error` call in
	// TopologyP2P.hs (column 23 in all three): the CallStack a crash
	// prints names it.
	errorLine int
	// network: the file is decoded by ouroboros-network's
	// networkTopologyFromJSON (11.0): other field order, "behindFirewall",
	// the diffusion mode read withText "DiffusionMode".
	network bool
	// fqdn: ouroboros-network-api 0.16 and later (10.6, 11.0) make a
	// domain fully qualified (a trailing dot) and read an access point
	// whose "port" is missing or not an Int as an SRV domain (CIP-0155).
	fqdn bool
	// destinationOnly: 0.0.0.0 and :: are refused (ouroboros-network 1.1).
	destinationOnly bool
	// trustableBool: LocalRootConfig's JSON writes extraFlags with
	// PeerTrustable's ToJSON, a Bool (ouroboros-network's orphan
	// instances), not its Show (cardano-node 10.5.3's own instance).
	trustableBool bool
	// provenance: LocalRootConfig has a localProvenance field and calls
	// its flags extraLocalRootFlags (ouroboros-network 1.1).
	provenance bool
	// warnings: readTopologyFile traces NetworkConfigUpdateWarning and
	// NetworkConfigUpdateInfo about ledger peers and the peer snapshot
	// (10.6.4, 11.0.1; 10.5.3 has neither message).
	warnings bool
}

var (
	topology105 = topologyDialect{errorLine: 275}
	topology106 = topologyDialect{errorLine: 346, fqdn: true, trustableBool: true, warnings: true}
	topology110 = topologyDialect{errorLine: 148, network: true, fqdn: true, destinationOnly: true,
		trustableBool: true, provenance: true, warnings: true}
)

// RootGroup is one group of root peers as the topology file gives it.
type RootGroup struct {
	// AccessPoints are the group's peers as the file writes them:
	// "host:port" (an IPv6 address in brackets), or a bare name for an
	// SRV domain (10.6 and later: an access point without an Int port).
	// Names are kept as written: the node resolves them itself and
	// re-resolves them after each topology update.
	AccessPoints []string
	Advertise    bool
	// Local roots only:
	HotValency, WarmValency int
	Trustable               bool
	DiffusionMode           string // "InitiatorAndResponder" or "InitiatorOnly"
	BehindFirewall          bool   // 11.0's "behindFirewall"
}

type apKind int

// In the order of RelayAccessPoint's constructors (its derived Ord).
const (
	apDomain apKind = iota
	apSRV
	apAddress
)

// accessPoint is a RelayAccessPoint, with how the file wrote it.
type accessPoint struct {
	written string
	kind    apKind
	name    []byte     // apDomain, apSRV: the name the node holds
	ip      netip.Addr // apAddress
	port    uint16     // apDomain, apAddress: Int truncated to a PortNumber, as fromIntegral does
}

type rootGroup struct {
	points         []accessPoint
	hot, warm      int
	advertise      bool
	trustable      bool
	initiatorOnly  bool
	behindFirewall bool
}

type ledgerUse int

const (
	ledgerDont ledgerUse = iota
	ledgerAlways
	ledgerAfter
)

// topology is a NetworkTopology as the node read it.
type topology struct {
	local       []rootGroup
	public      []rootGroup
	ledger      ledgerUse
	ledgerSlot  uint64
	bootstrap   []accessPoint
	useBoot     bool
	snapshot    string // adjusted to the topology file's folder
	hasSnapshot bool
}

// topologyNote is a message readTopologyFile traces on its way.
type topologyNote struct {
	sev Severity // Warning (NetworkConfigUpdateWarning) or Info (NetworkConfigUpdateInfo)
	msg string
}

// topologyError is the ErrorCall of readTopologyFileOrError.
type topologyError struct {
	reason  string // readTopologyFile's Left
	release string
	line    int
	cause   error
}

func (e *topologyError) Error() string {
	return "Cardano.Node.Configuration.TopologyP2P.readTopologyFile: " + e.reason
}

func (e *topologyError) Unwrap() []error {
	if e.cause != nil {
		return []error{ErrTopology, e.cause}
	}
	return []error{ErrTopology}
}

// show is the ErrorCall's Show, which GHC prints for an uncaught one: the
// message and the call stack of `error` (GHC 9.6, the compiler of the three
// releases). The unit id is a cabal build's; other builds print their own.
func (e *topologyError) show() string {
	return e.Error() + "\nCallStack (from HasCallStack):\n" +
		fmt.Sprintf("  error, called at src/Cardano/Node/Configuration/TopologyP2P.hs:%d:23 in cardano-node-%s-inplace:Cardano.Node.Configuration.TopologyP2P", e.line, e.release)
}

const topologyMsgPrefix = "Cardano.Node.Configuration.Topology.readTopologyFile: "

// readTopologyFile reads path as the release does; producer is
// hasProtocolFile (the node was given credential paths).
func readTopologyFile(path string, ver nodeVersion, producer bool) (*topology, []topologyNote, *topologyError) {
	fail := func(reason string, cause error) (*topology, []topologyNote, *topologyError) {
		return nil, nil, &topologyError{reason: reason, release: ver.release, line: ver.topo.errorLine, cause: cause}
	}
	// GHC opens the file with openBinaryFile inside withBinaryFile; a
	// folder is refused by GHC itself ("is a directory").
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fail(topologyMsgPrefix+path+": withBinaryFile: inappropriate type (is a directory)", nil)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fail(topologyMsgPrefix+ghcIOError(path, "withBinaryFile", err), err)
	}
	t, err := parseTopology(data, ver.topo)
	if err != nil {
		return fail("Is your topology file formatted correctly? Expecting P2P Topology file format. "+
			"The port and valency fields should be numerical. If you specified the correct topology file "+
			"make sure that you correctly setup EnableP2P configuration flag. "+err.Error(), nil)
	}
	if !t.validTrustedPeerConfiguration() {
		return fail("You seem to have not configured any trustable peers. This is important in order for the node "+
			"to make progress in bootstrap mode. Make sure you provide at least one bootstrap peer source. ", nil)
	}
	var notes []topologyNote
	if ver.topo.warnings {
		notes = t.notes(producer)
	}
	if t.hasSnapshot {
		t.snapshot = combinePath(takeDirectory(path), t.snapshot)
	}
	return t, notes, nil
}

// validTrustedPeerConfiguration is isValidTrustedPeerConfiguration: an
// empty bootstrapPeers list needs a trustable local root group with at
// least one access point.
func (t *topology) validTrustedPeerConfiguration() bool {
	if !t.useBoot || len(t.bootstrap) > 0 {
		return true
	}
	for _, g := range t.local {
		if g.trustable && len(g.points) > 0 {
			return true
		}
	}
	return false
}

// notes are readTopologyFile's messages in Praos mode (the shipped
// configs' ConsensusMode; Genesis mode is not modelled).
func (t *topology) notes(producer bool) []topologyNote {
	var n []topologyNote
	useLedger := t.ledger != ledgerDont
	if producer && useLedger {
		n = append(n, topologyNote{Warning, topologyMsgPrefix + "Use of ledger peers is not recommended for BP operation"})
	}
	if t.hasSnapshot && !useLedger && producer {
		n = append(n, topologyNote{Info, topologyMsgPrefix + "Ledger peers and peer snapshot, although specified in the topology file, are disabled in line with recommended BP operation"})
	}
	if t.hasSnapshot && !useLedger {
		msg := "Peer snapshot file specified but topology disables ledger peers - ignoring file. "
		if producer {
			msg += "To turn off this message remove peerSnapshotFile from the topology file."
		} else {
			msg += "To turn off this message enable the use of ledger peers or remove peerSnapshotFile from the topology file."
		}
		n = append(n, topologyNote{Warning, topologyMsgPrefix + msg})
	}
	return n
}

// takeDirectory and combinePath are System.FilePath's takeDirectory and
// </> on POSIX.
func takeDirectory(p string) string {
	dir := "./"
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		dir = p[:i+1]
	}
	if t := strings.TrimRight(dir, "/"); t != "" {
		return t
	}
	return dir
}

func combinePath(a, b string) string {
	switch {
	case strings.HasPrefix(b, "/") || a == "":
		return b
	case b == "":
		return a
	case strings.HasSuffix(a, "/"):
		return a + b
	}
	return a + "/" + b
}

// ---- decoding, as aeson and the node's instances do ----

// aesonError is aeson's formatted error: "Error in <path>: <message>".
type aesonError struct {
	path jpath
	msg  string
}

func (e *aesonError) Error() string { return "Error in " + string(e.path) + ": " + e.msg }

// jpath is aeson's JSONPath as formatPath writes it. The keys used here
// are all identifiers, written ".key".
type jpath string

func (p jpath) key(k string) jpath { return p + jpath("."+k) }
func (p jpath) idx(i int) jpath    { return p + jpath("["+strconv.Itoa(i)+"]") }

func jerr(p jpath, format string, a ...any) error {
	return &aesonError{path: p, msg: fmt.Sprintf(format, a...)}
}

// jsonType is aeson's typeOf.
func jsonType(v any) string {
	switch v.(type) {
	case map[string]any:
		return "Object"
	case []any:
		return "Array"
	case string:
		return "String"
	case json.Number:
		return "Number"
	case bool:
		return "Boolean"
	}
	return "Null"
}

// typeMismatch is prependContext name (typeMismatch expected v).
func typeMismatch(p jpath, name, expected string, v any) error {
	return jerr(p, "parsing %s failed, expected %s, but encountered %s", name, expected, jsonType(v))
}

func withObject(p jpath, name string, v any) (map[string]any, error) {
	o, ok := v.(map[string]any)
	if !ok {
		return nil, typeMismatch(p, name, "Object", v)
	}
	return o, nil
}

// withArray is parseJSONList's default: withArray "[]".
func withArray(p jpath, v any) ([]any, error) {
	a, ok := v.([]any)
	if !ok {
		return nil, typeMismatch(p, "[]", "Array", v)
	}
	return a, nil
}

// required is (.:): a missing key fails at the object's path.
func required(p jpath, o map[string]any, k string) (any, error) {
	v, ok := o[k]
	if !ok {
		return nil, jerr(p, "key %s not found", hsQuote(k))
	}
	return v, nil
}

// optional is (.:?): missing and null are Nothing.
func optional(o map[string]any, k string) (any, bool) {
	v, ok := o[k]
	return v, ok && v != nil
}

// parseInt is aeson's Int: parseBoundedIntegral "Int".
func parseInt(p jpath, v any) (int, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, typeMismatch(p, "Int", "Number", v)
	}
	r, ok := numberRat(n)
	if ok && r.IsInt() && r.Num().IsInt64() {
		return int(r.Num().Int64()), nil
	}
	return 0, jerr(p, "parsing Int failed, value is either floating or will cause over or underflow %s", hsShowScientific(n))
}

func parseBool(p jpath, name string, v any) (bool, error) {
	b, ok := v.(bool)
	if !ok {
		return false, typeMismatch(p, name, "Boolean", v)
	}
	return b, nil
}

func parseText(p jpath, v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", typeMismatch(p, "Text", "String", v)
	}
	return s, nil
}

// numberRat reads a JSON number; exponents beyond ±10000 (which aeson's
// Scientific holds but no topology needs) are not computed.
func numberRat(n json.Number) (*big.Rat, bool) {
	s := string(n)
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.Atoi(strings.TrimPrefix(s[i+1:], "+"))
		if err != nil || e > 10000 || e < -10000 {
			return nil, false
		}
	}
	r, ok := new(big.Rat).SetString(s)
	return r, ok
}

// parseTopology decodes a topology file.
func parseTopology(data []byte, d topologyDialect) (*topology, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var root any
	if err := dec.Decode(&root); err != nil {
		return nil, jerr("$", "%s", err.Error())
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, jerr("$", "trailing data after the JSON value")
	}
	p := jpath("$")
	o, err := withObject(p, "NetworkTopology", root)
	if err != nil {
		return nil, err
	}
	t := &topology{}
	v, err := required(p, o, "localRoots")
	if err != nil {
		return nil, err
	}
	groups, err := withArray(p.key("localRoots"), v)
	if err != nil {
		return nil, err
	}
	for i, g := range groups {
		rg, err := parseLocalRootGroup(p.key("localRoots").idx(i), g, d)
		if err != nil {
			return nil, err
		}
		t.local = append(t.local, rg)
	}
	if v, err = required(p, o, "publicRoots"); err != nil {
		return nil, err
	}
	groups, err = withArray(p.key("publicRoots"), v)
	if err != nil {
		return nil, err
	}
	for i, g := range groups {
		gp := p.key("publicRoots").idx(i)
		obj, err := withObject(gp, "RootConfig", g)
		if err != nil {
			return nil, err
		}
		rg, err := parseRootConfig(gp, obj, d)
		if err != nil {
			return nil, err
		}
		t.public = append(t.public, rg)
	}
	if v, ok := optional(o, "useLedgerAfterSlot"); ok {
		if err := t.parseUseLedger(p.key("useLedgerAfterSlot"), v); err != nil {
			return nil, err
		}
	}
	steps := []func() error{
		func() error { return t.parseBootstrap(p.key("bootstrapPeers"), o, d) },
		func() error { return t.parseSnapshot(p.key("peerSnapshotFile"), o) },
	}
	if d.network {
		// networkTopologyFromJSON reads peerSnapshotFile before the extra
		// config (bootstrapPeers).
		steps[0], steps[1] = steps[1], steps[0]
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// parseLocalRootGroup is LocalRootPeersGroup's parser: hotValency from
// "valency" or else "hotValency" (aeson's <|> reports the second failure),
// then the fields in the release's order.
func parseLocalRootGroup(p jpath, v any, d topologyDialect) (rootGroup, error) {
	o, err := withObject(p, "LocalRootPeersGroup", v)
	if err != nil {
		return rootGroup{}, err
	}
	var hot int
	vv, ok := o["valency"]
	if ok {
		hot, err = parseInt(p.key("valency"), vv)
	}
	if !ok || err != nil {
		hv, err := required(p, o, "hotValency")
		if err != nil {
			return rootGroup{}, err
		}
		if hot, err = parseInt(p.key("hotValency"), hv); err != nil {
			return rootGroup{}, err
		}
	}
	rg, err := parseRootConfig(p, o, d)
	if err != nil {
		return rootGroup{}, err
	}
	rg.hot, rg.warm = hot, hot
	warm := func() error {
		if v, ok := optional(o, "warmValency"); ok {
			w, err := parseInt(p.key("warmValency"), v)
			rg.warm = w
			return err
		}
		return nil
	}
	trustable := func() error {
		if v, ok := optional(o, "trustable"); ok {
			b, err := parseBool(p.key("trustable"), "PeerTrustable", v)
			rg.trustable = b
			return err
		}
		return nil
	}
	mode := func() error {
		v, ok := optional(o, "diffusionMode")
		if !ok {
			return nil
		}
		s, isText := v.(string)
		switch {
		case !isText && d.network:
			return typeMismatch(p.key("diffusionMode"), "DiffusionMode", "String", v)
		case !isText:
			return jerr(p.key("diffusionMode"), "Parsing NodeDiffusionMode failed")
		case s == "InitiatorOnly":
			rg.initiatorOnly = true
		case s == "InitiatorAndResponder":
		default:
			return jerr(p.key("diffusionMode"), "Parsing NodeDiffusionMode failed: can be either 'InitiatorOnly' or 'InitiatorAndResponder'")
		}
		return nil
	}
	steps := []func() error{warm, trustable, mode}
	if d.network {
		firewall := func() error {
			if v, ok := optional(o, "behindFirewall"); ok {
				b, err := parseBool(p.key("behindFirewall"), "Bool", v)
				rg.behindFirewall = b
				return err
			}
			return nil
		}
		steps = []func() error{firewall, warm, mode, trustable}
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return rootGroup{}, err
		}
	}
	return rg, nil
}

// parseRootConfig is RootConfig's parser: "accessPoints", then
// "advertise" (default False).
func parseRootConfig(p jpath, o map[string]any, d topologyDialect) (rootGroup, error) {
	var rg rootGroup
	v, err := required(p, o, "accessPoints")
	if err != nil {
		return rg, err
	}
	if rg.points, err = parseAccessPoints(p.key("accessPoints"), v, d); err != nil {
		return rg, err
	}
	if v, ok := optional(o, "advertise"); ok {
		if rg.advertise, err = parseBool(p.key("advertise"), "PeerAdvertise", v); err != nil {
			return rg, err
		}
	}
	return rg, nil
}

func parseAccessPoints(p jpath, v any, d topologyDialect) ([]accessPoint, error) {
	a, err := withArray(p, v)
	if err != nil {
		return nil, err
	}
	points := make([]accessPoint, 0, len(a))
	for i, x := range a {
		ap, err := parseAccessPoint(p.idx(i), x, d)
		if err != nil {
			return nil, err
		}
		points = append(points, ap)
	}
	return points, nil
}

// parseAccessPoint is RelayAccessPoint's FromJSON: an IP address when the
// "address" reads as one (Data.IP's Read), else a domain name.
func parseAccessPoint(p jpath, v any, d topologyDialect) (accessPoint, error) {
	o, err := withObject(p, "RelayAccessPoint", v)
	if err != nil {
		return accessPoint{}, err
	}
	av, err := required(p, o, "address")
	if err != nil {
		return accessPoint{}, err
	}
	addr, err := parseText(p.key("address"), av)
	if err != nil {
		return accessPoint{}, err
	}
	port, portErr := 0, error(nil)
	if pv, ok := o["port"]; !ok {
		portErr = jerr(p, "key %s not found", hsQuote("port"))
	} else {
		port, portErr = parseInt(p.key("port"), pv)
	}
	if portErr != nil {
		if !d.fqdn {
			return accessPoint{}, portErr
		}
		// 0.16: parseMaybe of the port failed: an SRV domain.
		return accessPoint{written: addr, kind: apSRV, name: fullyQualified(addr)}, nil
	}
	ap := accessPoint{written: net.JoinHostPort(addr, strconv.Itoa(port)), port: uint16(port)}
	if ip, err := netip.ParseAddr(addr); err == nil && ip.Zone() == "" {
		ap.kind, ap.ip = apAddress, ip
		if d.destinationOnly && ip.IsUnspecified() {
			return accessPoint{}, jerr(p, "%s is not a valid destination address", showIP(ip))
		}
		return ap, nil
	}
	ap.kind, ap.name = apDomain, []byte(addr)
	if d.fqdn {
		ap.name = fullyQualified(addr)
	}
	return ap, nil
}

func fullyQualified(name string) []byte {
	if strings.HasSuffix(name, ".") {
		return []byte(name)
	}
	return []byte(name + ".")
}

// parseUseLedger is UseLedgerPeers' FromJSON: a number above 0 is "after
// slot floor(n)", 0 is always, below 0 never.
func (t *topology) parseUseLedger(p jpath, v any) error {
	n, ok := v.(json.Number)
	if !ok {
		return jerr(p, "Parsing of slot number failed due to type mismatch. Encountered: %s", hsShowValue(v, 0))
	}
	r, ok := numberRat(n)
	if !ok {
		// An exponent beyond ±10000: positive values are multiples of
		// 2^64 or below 1; either way floor wraps to slot 0.
		t.ledger, t.ledgerSlot = ledgerAfter, 0
		if strings.HasPrefix(string(n), "-") {
			t.ledger = ledgerDont
		}
		return nil
	}
	switch r.Sign() {
	case 0:
		t.ledger = ledgerAlways
	case -1:
		t.ledger = ledgerDont
	default:
		floor := new(big.Int).Quo(r.Num(), r.Denom())
		t.ledger, t.ledgerSlot = ledgerAfter, floor.Uint64() // low 64 bits, as fromInteger
	}
	return nil
}

// parseBootstrap is UseBootstrapPeers' FromJSON: absent or null is
// DontUseBootstrapPeers, else a list of access points.
func (t *topology) parseBootstrap(p jpath, o map[string]any, d topologyDialect) error {
	v, ok := optional(o, "bootstrapPeers")
	if !ok {
		return nil
	}
	points, err := parseAccessPoints(p, v, d)
	if err != nil {
		return err
	}
	t.bootstrap, t.useBoot = points, true
	return nil
}

// parseSnapshot reads a FilePath (aeson's String via Char's
// parseJSONList).
func (t *topology) parseSnapshot(p jpath, o map[string]any) error {
	v, ok := optional(o, "peerSnapshotFile")
	if !ok {
		return nil
	}
	s, isText := v.(string)
	if !isText {
		return jerr(p, "expected String, but encountered %s", jsonType(v))
	}
	t.snapshot, t.hasSnapshot = s, true
	return nil
}

// ---- what the node shows ----

// rootGroups is the topology in State's terms.
func (t *topology) rootGroups() (local, public []RootGroup) {
	conv := func(g rootGroup) RootGroup {
		r := RootGroup{Advertise: g.advertise, HotValency: g.hot, WarmValency: g.warm, Trustable: g.trustable,
			DiffusionMode: "InitiatorAndResponder", BehindFirewall: g.behindFirewall}
		if g.initiatorOnly {
			r.DiffusionMode = "InitiatorOnly"
		}
		for _, ap := range g.points {
			r.AccessPoints = append(r.AccessPoints, ap.written)
		}
		return r
	}
	for _, g := range t.local {
		local = append(local, conv(g))
	}
	for _, g := range t.public {
		r := conv(g)
		r.HotValency, r.WarmValency, r.DiffusionMode = 0, 0, ""
		public = append(public, r)
	}
	return local, public
}

func (a accessPoint) compare(b accessPoint) int {
	if a.kind != b.kind {
		return int(a.kind) - int(b.kind)
	}
	if a.kind == apAddress {
		// Data.IP's Ord: an IPv4 address compares as its IPv4-mapped IPv6
		// form.
		x, y := a.ip.As16(), b.ip.As16()
		if c := bytes.Compare(x[:], y[:]); c != 0 {
			return c
		}
	} else if c := bytes.Compare(a.name, b.name); c != 0 {
		return c
	}
	return int(a.port) - int(b.port)
}

// nodeMap is Map.fromList of the points: sorted by RelayAccessPoint's Ord,
// one entry per key.
func nodeMap(points []accessPoint) []accessPoint {
	m := append([]accessPoint(nil), points...)
	sort.SliceStable(m, func(i, j int) bool { return m[i].compare(m[j]) < 0 })
	out := m[:0]
	for _, ap := range m {
		if len(out) > 0 && out[len(out)-1].compare(ap) == 0 {
			out[len(out)-1] = ap // fromList: the last one wins
			continue
		}
		out = append(out, ap)
	}
	return out
}

// publicMap is producerAddresses' public roots: the union of each group's
// Map.fromList, the first group winning a key twice given.
func (t *topology) publicMap() ([]accessPoint, []bool) {
	type entry struct {
		ap  accessPoint
		adv bool
	}
	var all []entry
	for _, g := range t.public {
		for _, ap := range nodeMap(g.points) {
			all = append(all, entry{ap, g.advertise})
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].ap.compare(all[j].ap) < 0 })
	var points []accessPoint
	var adv []bool
	for _, e := range all {
		if len(points) > 0 && points[len(points)-1].compare(e.ap) == 0 {
			continue
		}
		points, adv = append(points, e.ap), append(adv, e.adv)
	}
	return points, adv
}

// show is RelayAccessPoint's Show.
func (a accessPoint) show() string {
	switch a.kind {
	case apSRV:
		return "RelayAccessSRVDomain " + hsShowString(a.name, false)
	case apAddress:
		return "RelayAccessAddress \"" + showIP(a.ip) + "\" " + strconv.Itoa(int(a.port))
	}
	return "RelayAccessDomain " + hsShowString(a.name, false) + " " + strconv.Itoa(int(a.port))
}

// json is RelayAccessPoint's ToJSON.
func (a accessPoint) json() jsonObject {
	switch a.kind {
	case apSRV:
		return jsonObject{"address": string(a.name)}
	case apAddress:
		return jsonObject{"address": showIP(a.ip), "port": int(a.port)}
	}
	return jsonObject{"address": string(a.name), "port": int(a.port)}
}

func hsAdvertise(b bool) string {
	if b {
		return "DoAdvertisePeer"
	}
	return "DoNotAdvertisePeer"
}

func (g rootGroup) diffusionMode() string {
	if g.initiatorOnly {
		return "InitiatorOnlyDiffusionMode"
	}
	return "InitiatorAndResponderDiffusionMode"
}

func (g rootGroup) trustableShow() string {
	if g.trustable {
		return "IsTrustable"
	}
	return "IsNotTrustable"
}

// localRootConfig is the derived Show and the ToJSON of the group's
// LocalRootConfig.
func (g rootGroup) localRootConfig(d topologyDialect) (string, jsonObject) {
	obj := jsonObject{"peerAdvertise": g.advertise, "diffusionMode": g.diffusionMode(), "extraFlags": g.trustableShow()}
	if d.trustableBool {
		obj["extraFlags"] = g.trustable
	}
	if !d.provenance {
		return fmt.Sprintf("LocalRootConfig {peerAdvertise = %s, diffusionMode = %s, extraFlags = %s}",
			hsAdvertise(g.advertise), g.diffusionMode(), g.trustableShow()), obj
	}
	provenance := "Outbound"
	if g.behindFirewall {
		provenance = "Inbound"
	}
	return fmt.Sprintf("LocalRootConfig {peerAdvertise = %s, diffusionMode = %s, localProvenance = %s, extraLocalRootFlags = %s}",
		hsAdvertise(g.advertise), g.diffusionMode(), provenance, g.trustableShow()), obj
}

// networkConfigText and networkConfigData are ppStartupInfoTrace and
// forMachine of NetworkConfig (Startup.hs): each local root group as the
// Show of (HotValency, WarmValency, Map.assocs), the public roots'
// assocs, the ledger-peer use and the snapshot file; the JSON writes the
// Maps as lists of [key, value] (RelayAccessPoint's ToJSONKey is the
// default, ToJSONKeyValue).
func (t *topology) networkConfigText(d topologyDialect) (string, jsonObject) {
	groups := make([]string, 0, len(t.local))
	localJSON := make([]any, 0, len(t.local))
	for _, g := range t.local {
		shown, obj := g.localRootConfig(d)
		var assocs []string
		pairs := []any{}
		for _, ap := range nodeMap(g.points) {
			assocs = append(assocs, "("+ap.show()+","+shown+")")
			pairs = append(pairs, []any{ap.json(), obj})
		}
		groups = append(groups, fmt.Sprintf("(HotValency {getHotValency = %d},WarmValency {getWarmValency = %d},[%s])",
			g.hot, g.warm, strings.Join(assocs, ",")))
		localJSON = append(localJSON, []any{g.hot, g.warm, pairs})
	}
	points, adv := t.publicMap()
	public := make([]string, 0, len(points))
	publicJSON := make([]any, 0, len(points))
	for i, ap := range points {
		public = append(public, "("+ap.show()+","+hsAdvertise(adv[i])+")")
		publicJSON = append(publicJSON, []any{ap.json(), adv[i]})
	}
	var ledger string
	var ledgerJSON any
	switch t.ledger {
	case ledgerDont:
		ledger, ledgerJSON = "Don't use ledger to get root peers.", -1
	case ledgerAlways:
		ledger, ledgerJSON = "Use ledger peers in any slot.", 0
	default:
		ledger, ledgerJSON = "Get root peers from the ledger after slot "+strconv.FormatUint(t.ledgerSlot, 10), t.ledgerSlot
	}
	snapshot, snapshotJSON := "Topology configuration does not specify ledger peer snapshot file", any(nil)
	if t.hasSnapshot {
		snapshot = "Topology configuration specifies ledger peer snapshot file: " + hsQuote(t.snapshot)
		snapshotJSON = t.snapshot
	}
	text := strings.Join([]string{
		"\nLocal Root Groups:",
		"  " + strings.Join(groups, "\n  "),
		"Public Roots:",
		"  " + strings.Join(public, "\n  "),
		ledger,
		snapshot,
	}, "\n")
	return text, jsonObject{"kind": "NetworkConfig", "localRoots": localJSON, "publicRoots": publicJSON,
		"useLedgerAfter": ledgerJSON, "peerSnapshotFile": snapshotJSON}
}

// showIP is Data.IP's Show: dotted IPv4; IPv6 as iproute's showIPv6
// (RFC 5952, as glibc's inet_ntop: IPv4-mapped and IPv4-compatible forms,
// the first longest run of two or more zero fields as "::").
func showIP(ip netip.Addr) string {
	if ip.Is4() {
		return ip.String()
	}
	b := ip.As16()
	var f [8]uint16
	for i := range f {
		f[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
	v4 := func() string { return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}).String() }
	zero96 := f[0] == 0 && f[1] == 0 && f[2] == 0 && f[3] == 0
	switch {
	case zero96 && f[4] == 0 && f[5] == 0xffff:
		return "::ffff:" + v4()
	case zero96 && f[4] == 0 && f[5] == 0 && f[6] != 0:
		return "::" + v4()
	}
	hex := func(fs []uint16) string {
		parts := make([]string, len(fs))
		for i, x := range fs {
			parts[i] = strconv.FormatUint(uint64(x), 16)
		}
		return strings.Join(parts, ":")
	}
	bestLen, bestEnd, run := 0, 0, 0
	for i, x := range f {
		if x == 0 {
			run++
		} else {
			run = 0
		}
		if run > bestLen {
			bestLen, bestEnd = run, i+1
		}
	}
	if bestLen > 1 {
		return hex(f[:bestEnd-bestLen]) + "::" + hex(f[bestEnd:])
	}
	return hex(f[:])
}

// hsShowScientific is Data.Scientific's Show of a JSON number: fixed
// notation for exponents 0..7 of 0.d₁d₂…×10^e, else d₁.d₂…e(e−1).
func hsShowScientific(n json.Number) string {
	s := string(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	exp := 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		exp, _ = strconv.Atoi(strings.TrimPrefix(s[i+1:], "+"))
		s = s[:i]
	}
	intPart, frac, _ := strings.Cut(s, ".")
	digits := intPart + frac
	e := len(intPart) + exp
	for len(digits) > 0 && digits[0] == '0' {
		digits, e = digits[1:], e-1
	}
	digits = strings.TrimRight(digits, "0")
	if digits == "" {
		digits, e, neg = "0", 0, false
	}
	var out string
	switch {
	case e < 0 || e > 7:
		rest := digits[1:]
		if rest == "" {
			rest = "0"
		}
		out = digits[:1] + "." + rest + "e" + strconv.Itoa(e-1)
	case e == 0:
		out = "0." + digits
	case len(digits) <= e:
		out = digits + strings.Repeat("0", e-len(digits)) + ".0"
	default:
		out = digits[:e] + "." + digits[e:]
	}
	if neg {
		return "-" + out
	}
	return out
}

// hsShowValue is aeson's Show of a Value (for the ledger-peer error).
func hsShowValue(v any, prec int) string {
	paren := func(s string) string {
		if prec > 10 {
			return "(" + s + ")"
		}
		return s
	}
	switch v := v.(type) {
	case nil:
		return "Null"
	case bool:
		return paren("Bool " + hsBool(v))
	case json.Number:
		s := hsShowScientific(v)
		if strings.HasPrefix(s, "-") {
			s = "(" + s + ")"
		}
		return paren("Number " + s)
	case string:
		return paren("String " + hsQuote(v))
	case []any:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = hsShowValue(x, 0)
		}
		return paren("Array [" + strings.Join(parts, ",") + "]")
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = "(" + hsQuote(k) + "," + hsShowValue(v[k], 0) + ")"
		}
		return paren("Object (fromList [" + strings.Join(parts, ",") + "])")
	}
	return fmt.Sprint(v)
}
