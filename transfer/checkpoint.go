package transfer

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// A ceremony-log checkpoint is a signed note (C2SP tlog-checkpoint) of
// about 245 bytes:
//
//	kesrotate.vault/<vault id, 32 hex>
//	<tree size>
//	<base64 root>
//
//	— kesrotate.vault/<vault id> <base64(key hash ‖ Ed25519 signature)>
//
// In a bundle (version 3) it travels as the 124 bytes that are not
// implied by that layout: vault id (16), tree size (8, big-endian), root
// (32), key hash and signature (68). The note is rebuilt byte for byte
// from them, so the agent keeps and countersigns the very note the log
// holds. A note of any other shape travels whole.

const (
	checkpointOrigin = "kesrotate.vault/"
	vaultIDSize      = 16
	// CompactCheckpointSize is the size of a checkpoint in a version 3
	// bundle.
	CompactCheckpointSize = vaultIDSize + 8 + 32 + 4 + 64
)

// compactCheckpoint returns the compact form of note, or nil when the note
// does not have the one layout the compact form rebuilds exactly.
func compactCheckpoint(note []byte) []byte {
	text, sigs, ok := bytes.Cut(note, []byte("\n\n"))
	if !ok {
		return nil
	}
	lines := strings.Split(string(text), "\n")
	if len(lines) != 3 {
		return nil
	}
	idHex, ok := strings.CutPrefix(lines[0], checkpointOrigin)
	id, err := hex.DecodeString(idHex)
	if !ok || err != nil || len(id) != vaultIDSize {
		return nil
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil {
		return nil
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != 32 {
		return nil
	}
	sigLine, ok := strings.CutPrefix(string(sigs), "— "+lines[0]+" ")
	if !ok {
		return nil
	}
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(sigLine, "\n"))
	if err != nil || len(sig) != 68 {
		return nil
	}
	out := make([]byte, 0, CompactCheckpointSize)
	out = append(out, id...)
	out = binary.BigEndian.AppendUint64(out, size)
	out = append(out, root...)
	out = append(out, sig...)
	if !bytes.Equal(expandCheckpoint(out), note) {
		return nil // not in the one canonical layout: send it whole
	}
	return out
}

// expandCheckpoint rebuilds the note of a compact checkpoint.
func expandCheckpoint(c []byte) []byte {
	origin := checkpointOrigin + hex.EncodeToString(c[:vaultIDSize])
	size := binary.BigEndian.Uint64(c[vaultIDSize : vaultIDSize+8])
	root := c[vaultIDSize+8 : vaultIDSize+40]
	sig := c[vaultIDSize+40:]
	return fmt.Appendf(nil, "%s\n%d\n%s\n\n— %s %s\n", origin, size, base64.StdEncoding.EncodeToString(root),
		origin, base64.StdEncoding.EncodeToString(sig))
}
