package testnode

// The messages the test node traces, with their real texts, namespaces,
// severities and machine forms.
//
// Startup tracer (cardano-node 10.5.3, 10.6.4, 11.0.1, identical there):
// cardano-node/src/Cardano/Node/Tracing/Tracers/Startup.hs —
// ppStartupInfoTrace (human text), forMachine, namespaceFor (under the
// "Startup" prefix) and severityFor (BlockForgingUpdateError Error,
// NetworkConfigUpdate Notice, NetworkConfigUpdateWarning Warning, the rest
// Info, NetworkConfig included); the legacy system logs the same text under
// cardano.node.startup with getSeverityAnnotation of
// cardano-node/src/Cardano/Tracing/Startup.hs (NetworkConfigUpdate Notice,
// NetworkConfigUpdateWarning Warning, everything else,
// BlockForgingUpdateError included, Info). NetworkConfigUpdateWarning and
// NetworkConfigUpdateInfo exist from 10.6.4.
//
// Forge state (cardano-node/src/Cardano/Node/Tracing/Tracers/KESInfo.hs,
// Forge.StateInfo, and Tracers/Consensus.hs TraceForgeStateUpdateError,
// Forge.Loop.ForgeStateUpdateError, Critical), each wrapped in
// TraceLabelCreds ("credentials" in the JSON, "With label …, " before the
// text; Tracers/Consensus.hs) with the hard-fork block forging's label
// "Cardano" (ouroboros-consensus-cardano, Cardano/Node.hs:
// hardForkBlockForging "Cardano").

import (
	"fmt"
	"strconv"
)

// Thread ids in the log: the startup thread, the forging thread, and the
// handler threads GHC starts for each signal.
const (
	threadMain  = 5
	threadForge = 61
)

// Forging outcomes of a BlockForgingUpdate.
const (
	enabledBlockForging  = "EnabledBlockForging"
	disabledBlockForging = "DisabledBlockForging"
	notEffective         = "NotEffective"
)

func blockForgingUpdate(kind string, thread int) logEvent {
	text := "Performing block forging reconfiguration: "
	switch kind {
	case enabledBlockForging:
		text += "Enabling block forging. To disable it please move/rename/remove the credentials files and then trigger reconfiguration via SIGHUP signal."
	case disabledBlockForging:
		text += "Disabling block forging, to enable it please make the credentials files available again and then re-trigger reconfiguration via SIGHUP signal."
	default:
		text += "Changing block forging is not effective until consensus has started. "
	}
	return logEvent{
		ns: "Startup.BlockForgingUpdate", legacyNS: "cardano.node.startup", sev: Info, legacySev: Info,
		human: text, thread: thread,
		data: jsonObject{"kind": "BlockForgingUpdate", "enabled": kind},
	}
}

func blockForgingUpdateError(shown string, thread int) logEvent {
	return logEvent{
		ns: "Startup.BlockForgingUpdateError", legacyNS: "cardano.node.startup", sev: Error, legacySev: Info,
		human:  "Block forging reconfiguration error: " + shown + "\n" + "Block forging is not reconfigured.",
		thread: thread,
		data:   jsonObject{"kind": "BlockForgingUpdateError", "error": shown},
	}
}

func networkConfigUpdate(thread int) logEvent {
	return logEvent{
		ns: "Startup.NetworkConfigUpdate", legacyNS: "cardano.node.startup", sev: Notice, legacySev: Notice,
		human: "Performing topology configuration update", thread: thread,
		data: jsonObject{"kind": "NetworkConfigUpdate", "message": "network configuration update"},
	}
}

// networkConfig is NetworkConfig, the topology the node read (Info): its
// local root groups, public roots, ledger-peer use and snapshot file
// (topology.go renders them). A node without a topology file has an empty
// one.
func networkConfig(t *topology, d topologyDialect, thread int) logEvent {
	text, data := t.networkConfigText(d)
	return logEvent{
		ns: "Startup.NetworkConfig", legacyNS: "cardano.node.startup", sev: Info, legacySev: Info,
		human: text, thread: thread, data: data,
	}
}

// networkConfigNote is NetworkConfigUpdateWarning (Warning) or
// NetworkConfigUpdateInfo (Info), which readTopologyFile traces on its way
// (10.6.4 and 11.0.1; the legacy system gives them the same severities).
func networkConfigNote(n topologyNote, thread int) logEvent {
	kind := "NetworkConfigUpdateWarning"
	if n.sev == Info {
		kind = "NetworkConfigUpdateInfo"
	}
	return logEvent{
		ns: "Startup." + kind, legacyNS: "cardano.node.startup", sev: n.sev, legacySev: n.sev,
		human: n.msg, thread: thread,
		data: jsonObject{"kind": kind, "message": n.msg},
	}
}

func networkMagicEvent(magic uint32) logEvent {
	return logEvent{
		ns: "Startup.NetworkMagic", legacyNS: "cardano.node.startup", sev: Info, legacySev: Info,
		human: "network magic: " + strconv.FormatUint(uint64(magic), 10), thread: threadMain,
		data: jsonObject{"kind": "StartupNetworkMagic", "networkMagic": strconv.FormatUint(uint64(magic), 10)},
	}
}

// kesInfo is consensus' HotKey.KESInfo: the cert's start period, its end
// (start + maxKESEvolutions) and the evolution the key is at.
type kesInfo struct{ start, end, evolution uint64 }

func (k kesInfo) current() uint64 { return k.start + k.evolution }

func (k kesInfo) remaining() uint64 {
	if k.end > k.current() {
		return k.end - k.current()
	}
	return 0
}

// forMachine of KESInfo (KESInfo.hs); note its "endPeriod" is the current
// period and its "evolution" the end period, as the node writes them.
func (k kesInfo) object() jsonObject {
	if k.remaining() > 7 {
		return jsonObject{"kind": "KESInfo", "startPeriod": k.start, "endPeriod": k.current(), "evolution": k.end}
	}
	return jsonObject{"kind": "ExpiryLogMessage", "keyExpiresIn": k.remaining(),
		"startPeriod": k.start, "endPeriod": k.current(), "evolution": k.end}
}

const forgeLabel = "Cardano"

func forgeStateInfo(k kesInfo) logEvent {
	rem := k.remaining()
	var text string
	sev := Info
	if rem > 7 {
		text = fmt.Sprintf("KES info startPeriod  %d currPeriod %d endPeriod %d, %d KES periods until expiry.",
			k.start, k.current(), k.end, rem)
	} else {
		text = fmt.Sprintf("Operational key will expire in %d KES periods.", rem)
		sev = Warning
		if rem <= 1 {
			sev = Alert
		}
	}
	data := k.object()
	data["credentials"] = forgeLabel
	// The legacy system writes the forge state as a Debug-level Haskell show
	// value (Cardano/Tracing/Tracers.hs forgeStateInfoTracer, showTracing),
	// below the shipped minSeverity; the test node does not model it.
	return logEvent{
		ns: "Forge.StateInfo", sev: sev,
		human: "With label " + hsQuote(forgeLabel) + ", " + text, thread: threadForge, data: data,
	}
}

// forgeStateUpdateError is the forge loop's Critical message when the KES
// key cannot be evolved to the slot's period (the window has ended, or the
// key was poisoned by an earlier failure). The human text shows the
// KESEvolutionError; the real node shows it inside the hard-fork
// combinator's OneEraForgeStateUpdateError wrapper, which the test node
// leaves out.
func forgeStateUpdateError(slot uint64, k kesInfo, target uint64, poisoned bool) logEvent {
	kind := "KESCouldNotEvolve"
	if poisoned {
		kind = "KESKeyAlreadyPoisoned"
	}
	shown := fmt.Sprintf("%s (KESInfo {kesStartPeriod = KESPeriod {unKESPeriod = %d}, kesEndPeriod = KESPeriod {unKESPeriod = %d}, kesEvolution = %d}) (KESPeriod {unKESPeriod = %d})",
		kind, k.start, k.end, k.evolution, target)
	reason := jsonObject{
		"kind": "HardForkForgeStateUpdateError",
		"forgeStateUpdateError": jsonObject{
			"kind": kind, "kesInfo": k.object(), "targetPeriod": target,
		},
	}
	// The legacy system writes TraceLabelCreds structured (trStructured,
	// cardano-node/src/Cardano/Tracing/OrphanInstances/Consensus.hs): the
	// text scribe prints the object's JSON, {"credentials", "val"}. Its
	// reason object is the new system's here, not the legacy ToObject.
	return logEvent{
		ns: "Forge.Loop.ForgeStateUpdateError", legacyNS: "cardano.node.Forge", sev: Critical, legacySev: Error,
		human:  fmt.Sprintf("With label %s, Updating the forge state in slot %d failed because: %s", hsQuote(forgeLabel), slot, shown),
		thread: threadForge,
		data: jsonObject{
			"credentials": forgeLabel, "kind": "TraceForgeStateUpdateError", "slot": slot, "reason": reason,
		},
		legacy: encodeJSON(jsonObject{"credentials": forgeLabel,
			"val": jsonObject{"kind": "TraceForgeStateUpdateError", "slot": slot, "reason": reason}}),
	}
}
