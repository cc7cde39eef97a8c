// Package nodelog reads what cardano-node logs about its credentials: the
// outcome of a SIGHUP reload and the KES key it forges with. It understands
// the node's three line formats and follows a log file that is rotated
// behind its path, or the systemd journal.
//
// The messages, their severities and the line shapes come from the node's
// sources (cardano-node 10.5.3, 10.6.4, 11.0.1):
//
//   - cardano-node/src/Cardano/Node/Run.hs: on SIGHUP after consensus has
//     started, updateBlockForging runs first, then
//     updateTopologyConfiguration; before, only the topology and then
//     BlockForgingUpdate NotEffective.
//   - cardano-node/src/Cardano/Node/Tracing/Tracers/Startup.hs
//     (ppStartupInfoTrace, forMachine, severityFor): BlockForgingUpdate is
//     Info, BlockForgingUpdateError Error, NetworkConfigUpdate Notice in the
//     new tracing system; the legacy system (Cardano/Tracing/Startup.hs)
//     logs all but the topology line at Info, with the same texts.
//   - Tracers/KESInfo.hs: Forge.StateInfo "KES info startPeriod  S
//     currPeriod C endPeriod E, N KES periods until expiry." (Info), and in
//     JSON startPeriod, endPeriod (which holds the current period) and
//     evolution (which holds the end period).
//   - Tracers/Consensus.hs: ForgeStateUpdateError (Critical: the KES key
//     cannot be evolved) and NodeCannotForge (Error).
//   - trace-dispatcher Formatter.hs: human lines
//     "[%F %H:%M:%S%4QZ][host:Namespace](Severity,thread) text", the prefix
//     coloured by severity; machine lines one JSON object with at, ns, data,
//     sev, thread, host.
//   - iohk-monitoring (legacy): "[host:cardano.node.startup:Info:5]
//     [2026-08-25 12:00:00.12 UTC] text"; its JSON scribe writes ns as a
//     list.
package nodelog

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
)

// Kind is what a log line says.
type Kind int

// Kinds of lines the agent acts on.
const (
	Unknown Kind = iota
	// Enabled: "Performing block forging reconfiguration: Enabling block
	// forging." The node read the three files and forges with them.
	Enabled
	// Disabled: a credential file does not exist; forging is off.
	Disabled
	// NotEffective: SIGHUP before consensus started (ledger replay): the
	// node keeps what it read at start.
	NotEffective
	// ReloadError: "Block forging reconfiguration error: …": the new set
	// was refused and the old one stays in use.
	ReloadError
	// BlockTypeMismatch: the files are for another protocol.
	BlockTypeMismatch
	// TopologyUpdate: "Performing topology configuration update", the
	// Notice the SIGHUP handler logs after it has updated block forging.
	TopologyUpdate
	// KESInfo: Forge.StateInfo, the KES key the node holds (logged every
	// slot while it has credentials).
	KESInfo
	// ForgeStateError: the KES key could not be evolved (the cert's window
	// has ended).
	ForgeStateError
	// CannotForge: the node leads a slot but cannot forge (e.g. the cert's
	// window has not started: PraosCannotForgeKeyNotUsableYet).
	CannotForge
	// TopologyRead: NetworkConfig (Info), the topology the node read; its
	// Message holds the local roots (the human text spreads them over the
	// lines after "Local Root Groups:", each one reported).
	TopologyRead
	// TopologyError: the topology file was refused; the node keeps the
	// one it had. The node's "Error reading topology configuration file"
	// trace cannot fire (readTopologyFileOrError calls error, which the
	// handler does not catch — TopologyP2P.hs, Run.hs at 10.5.3–11.0.1):
	// the SIGHUP handler dies and the error reaches stderr, which under
	// systemd is the same journal, as "…readTopologyFile: Is your topology
	// file formatted correctly? …". Both are recognised.
	TopologyError
)

var kindNames = map[Kind]string{
	Unknown: "unknown", Enabled: "forging enabled", Disabled: "forging disabled", NotEffective: "reload not effective",
	ReloadError: "reload error", BlockTypeMismatch: "block type mismatch", TopologyUpdate: "topology update",
	KESInfo: "KES info", ForgeStateError: "forge state update error", CannotForge: "cannot forge",
	TopologyRead: "topology read", TopologyError: "topology error",
}

func (k Kind) String() string { return kindNames[k] }

// Failure reports whether the line says the new set is not in use.
func (k Kind) Failure() bool {
	switch k {
	case Disabled, NotEffective, ReloadError, BlockTypeMismatch, ForgeStateError, CannotForge:
		return true
	}
	return false
}

// Line formats.
const (
	FormatHuman  = "human"  // new tracing, Stdout HumanFormat(Coloured)
	FormatJSON   = "json"   // new tracing, Stdout MachineFormat (or the legacy JSON scribe)
	FormatLegacy = "legacy" // legacy tracing, ScText
)

// Event is one line the agent understood.
type Event struct {
	Kind   Kind
	Format string
	// Message is the line's text without its prefix (for a ReloadError
	// the node's reason), sanitised for the terminal.
	Message string
	// KESInfo only: the cert's start period, the node's current KES
	// period and the end period (start + max evolutions), when known.
	Start, Current, End *uint64
	// Denied (ReloadError only): the node's reason is a file it may not
	// read — the Haskell IOError of type PermissionDenied, which shows as
	// "permission denied" in its FileIOError.
	Denied bool
}

// textDenied is how the node's IOError of type PermissionDenied shows
// (GHC.IO.Exception's Show instance).
const textDenied = "permission denied"

// denied reports whether a reload error's text is a read refused by the
// file system.
func denied(msg string) bool { return strings.Contains(strings.ToLower(msg), textDenied) }

// Human text the node writes (ppStartupInfoTrace and friends).
const (
	textEnabled      = "Performing block forging reconfiguration: Enabling block forging"
	textDisabled     = "Performing block forging reconfiguration: Disabling block forging"
	textNotEffective = "Performing block forging reconfiguration: Changing block forging is not effective until consensus has started"
	textReloadError  = "Block forging reconfiguration error: "
	textTypeMismatch = "Block forging reconfiguration block type mismatch"
	textTopology     = "Performing topology configuration update"
	textStateError   = "failed because: "
	textStatePrefix  = "Updating the forge state in slot "
	textCannotForge  = ", but we cannot forge because: "
	textTopoError    = "Error reading topology configuration file:"
	textTopoStderr   = "readTopologyFile: "
)

// A local root group as ppStartupInfoTrace (NetworkConfig …) shows it on
// its own line: (HotValency n,WarmValency n,[(RelayAccess… host port,…)]).
var localRootLine = regexp.MustCompile(`^\s*\((?:HotValency|WarmValency|\d).*RelayAccess`)

var (
	ansiRe       = regexp.MustCompile("\x1b\\[[0-9;]*[A-Za-z]")
	humanPrefix  = regexp.MustCompile(`^\[\d{4}-\d\d-\d\d [0-9:.]+Z\]\[[^\]]*\]\([A-Za-z]+,[^)]*\) ?`)
	legacyPrefix = regexp.MustCompile(`^\[[^\]]*:[A-Za-z]+:\d+\] \[[^\]]*\] ?`)
	kesHumanRe   = regexp.MustCompile(`KES info startPeriod +(\d+) currPeriod (\d+) endPeriod (\d+)`)
	kesShowStart = regexp.MustCompile(`kesStartPeriod = KESPeriod (?:\{unKESPeriod = )?(\d+)`)
	kesShowEnd   = regexp.MustCompile(`kesEndPeriod = KESPeriod (?:\{unKESPeriod = )?(\d+)`)
	kesShowEvo   = regexp.MustCompile(`kesEvolution = (\d+)`)
)

// ParseLine reads one log line in any of the formats. ok is false for a
// line that says nothing the agent acts on.
func ParseLine(line string) (Event, bool) {
	line = strings.TrimRight(line, "\r\n")
	if t := strings.TrimSpace(line); strings.HasPrefix(t, "{") {
		return parseJSON(t)
	}
	plain := ansiRe.ReplaceAllString(line, "")
	format := ""
	switch {
	case humanPrefix.MatchString(plain):
		format, plain = FormatHuman, humanPrefix.ReplaceAllString(plain, "")
	case legacyPrefix.MatchString(plain):
		format, plain = FormatLegacy, legacyPrefix.ReplaceAllString(plain, "")
	default:
		// A line without a prefix: the second line of a multi-line
		// message ("Block forging is not reconfigured.") or output the
		// agent does not know. Only the texts below count.
		format = FormatHuman
	}
	e := Event{Format: format, Message: sanitize(plain)}
	switch {
	case strings.HasPrefix(plain, textEnabled):
		e.Kind = Enabled
	case strings.HasPrefix(plain, textDisabled):
		e.Kind = Disabled
	case strings.HasPrefix(plain, textNotEffective):
		e.Kind = NotEffective
	case strings.HasPrefix(plain, textReloadError):
		e.Kind, e.Message = ReloadError, sanitize(strings.TrimPrefix(plain, textReloadError))
		e.Denied = denied(e.Message)
	case strings.HasPrefix(plain, textTypeMismatch):
		e.Kind = BlockTypeMismatch
	case strings.HasPrefix(plain, textTopology):
		e.Kind = TopologyUpdate
	case strings.HasPrefix(plain, textStatePrefix) && strings.Contains(plain, textStateError):
		e.Kind = ForgeStateError
	case strings.Contains(plain, textCannotForge):
		e.Kind = CannotForge
	case strings.HasPrefix(plain, textTopoError):
		e.Kind = TopologyError
	case strings.Contains(plain, textTopoStderr):
		e.Kind = TopologyError
	case localRootLine.MatchString(plain):
		e.Kind = TopologyRead
	default:
		if m := kesHumanRe.FindStringSubmatch(plain); m != nil {
			e.Kind = KESInfo
			e.Start, e.Current, e.End = num(m[1]), num(m[2]), num(m[3])
			return e, true
		}
		// The legacy system logs Forge.StateInfo with Haskell's show:
		// KESInfo {kesStartPeriod = KESPeriod 812, kesEndPeriod = …,
		// kesEvolution = 3}.
		if ms := kesShowStart.FindStringSubmatch(plain); ms != nil {
			e.Kind = KESInfo
			e.Start = num(ms[1])
			if me := kesShowEnd.FindStringSubmatch(plain); me != nil {
				e.End = num(me[1])
			}
			if mv := kesShowEvo.FindStringSubmatch(plain); mv != nil && e.Start != nil {
				if ev := num(mv[1]); ev != nil {
					c := *e.Start + *ev
					e.Current = &c
				}
			}
			return e, true
		}
		return e, false
	}
	return e, true
}

// jsonLine is a machine-format line: trace-dispatcher's TraceMessage, or
// the legacy JSON scribe's LogObject (whose ns is a list).
type jsonLine struct {
	NS   json.RawMessage `json:"ns"`
	Data struct {
		Kind        string          `json:"kind"`
		Enabled     string          `json:"enabled"`
		Error       json.RawMessage `json:"error"`
		StartPeriod *uint64         `json:"startPeriod"`
		EndPeriod   *uint64         `json:"endPeriod"` // holds the current period (KESInfo.hs)
		Evolution   *uint64         `json:"evolution"` // holds the end period (KESInfo.hs)
		Reason      json.RawMessage `json:"reason"`
		LocalRoots  json.RawMessage `json:"localRoots"`
	} `json:"data"`
}

func parseJSON(line string) (Event, bool) {
	var l jsonLine
	if err := json.Unmarshal([]byte(line), &l); err != nil {
		return Event{}, false
	}
	e := Event{Format: FormatJSON, Message: l.Data.Kind}
	switch l.Data.Kind {
	case "BlockForgingUpdate":
		switch l.Data.Enabled {
		case "EnabledBlockForging":
			e.Kind = Enabled
		case "DisabledBlockForging":
			e.Kind = Disabled
		case "NotEffective":
			e.Kind = NotEffective
		default:
			return e, false
		}
		e.Message = l.Data.Kind + " " + l.Data.Enabled
	case "BlockForgingUpdateError":
		e.Kind, e.Message = ReloadError, sanitize(rawText(l.Data.Error))
		e.Denied = denied(e.Message)
	case "BlockForgingBlockTypeMismatch":
		e.Kind = BlockTypeMismatch
	case "NetworkConfigUpdate":
		e.Kind = TopologyUpdate
	case "KESInfo", "ExpiryLogMessage":
		e.Kind = KESInfo
		e.Start, e.Current, e.End = l.Data.StartPeriod, l.Data.EndPeriod, l.Data.Evolution
	case "TraceForgeStateUpdateError":
		e.Kind, e.Message = ForgeStateError, sanitize(rawText(l.Data.Reason))
	case "TraceNodeCannotForge":
		e.Kind, e.Message = CannotForge, sanitize(rawText(l.Data.Reason))
	case "NetworkConfigUpdateError":
		e.Kind, e.Message = TopologyError, sanitize(rawText(l.Data.Error))
	case "NetworkConfig":
		e.Kind, e.Message = TopologyRead, sanitize(string(l.Data.LocalRoots))
	default:
		return e, false
	}
	return e, true
}

// rawText shows a JSON value: a string as is, anything else as JSON.
func rawText(r json.RawMessage) string {
	var s string
	if json.Unmarshal(r, &s) == nil {
		return s
	}
	return string(r)
}

func num(s string) *uint64 {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return nil
	}
	return &n
}

// sanitize keeps node-supplied text printable and bounded: control
// characters and bidi overrides become '?'.
func sanitize(s string) string {
	var b strings.Builder
	for _, r := range strings.TrimSpace(s) {
		if b.Len() >= 400 {
			b.WriteString("…")
			break
		}
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) {
			r = '?'
		}
		b.WriteRune(r)
	}
	return b.String()
}
