package nodequery

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/fxamacker/cbor/v2"
)

// Node-to-client versions this client speaks. The query layouts of each
// are decoded in decode.go: 16–20 answer GetGenesisConfig with 18
// protocol-parameter fields, 21–23 with 17, and from consensus HEAD with a
// 16th genesis field. cardano-node accepts 16–20 (10.5), 16–22 (10.6) and
// 16–23 (10.7, 11.0) (cardano-diffusion
// api/lib/Cardano/Network/NodeToClient/Version.hs; node.md).
const (
	MinNodeToClientVersion = 16
	MaxNodeToClientVersion = 23
	ntcVersionBit          = 0x8000
)

// The handshake messages (ouroboros-network framework
// lib/Ouroboros/Network/Protocol/Handshake/Codec.hs): [0, {version:
// data}] proposes; [1, version, data] accepts; [2, reason] refuses; [3,
// {version: data}] answers a query. From version 15 the node-to-client
// version data is [magic, query].
const (
	msgProposeVersions = 0
	msgAcceptVersion   = 1
	msgRefuse          = 2
	msgQueryReply      = 3

	refuseVersionMismatch = 0
	refuseDecodeError     = 1
	refuseRefused         = 2
)

// handshake proposes every version we speak with magic and returns the one
// the node chose.
func handshake(m *mux, magic uint32) (uint16, error) {
	versions := make(map[uint64][]any, MaxNodeToClientVersion-MinNodeToClientVersion+1)
	for v := MinNodeToClientVersion; v <= MaxNodeToClientVersion; v++ {
		versions[uint64(v|ntcVersionBit)] = []any{uint64(magic), false}
	}
	msg, err := encMode.Marshal([]any{msgProposeVersions, versions})
	if err != nil {
		return 0, err
	}
	if err := m.send(protocolHandshake, msg); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrConnect, err)
	}
	reply, err := m.recv(protocolHandshake)
	if err != nil {
		return 0, fmt.Errorf("%w: handshake: %w", ErrConnect, err)
	}
	var fields []cbor.RawMessage
	if err := decMode.Unmarshal(reply, &fields); err != nil || len(fields) < 2 {
		return 0, fmt.Errorf("%w: handshake: the node's reply is not a handshake message", ErrConnect)
	}
	var tag uint64
	if err := decMode.Unmarshal(fields[0], &tag); err != nil {
		return 0, fmt.Errorf("%w: handshake: the node's reply is not a handshake message", ErrConnect)
	}
	switch tag {
	case msgAcceptVersion:
		var v uint64
		var data []any
		if len(fields) != 3 || decMode.Unmarshal(fields[1], &v) != nil || decMode.Unmarshal(fields[2], &data) != nil {
			return 0, fmt.Errorf("%w: handshake: malformed acceptance", ErrConnect)
		}
		n := v &^ ntcVersionBit
		if v&ntcVersionBit == 0 || n < MinNodeToClientVersion || n > MaxNodeToClientVersion {
			return 0, fmt.Errorf("%w: handshake: the node accepted version %d, which was not proposed", ErrConnect, v)
		}
		return uint16(n), nil
	case msgRefuse:
		return 0, refusal(fields[1], magic)
	case msgQueryReply:
		return 0, fmt.Errorf("%w: handshake: the node answered a version query that was not asked", ErrConnect)
	}
	return 0, fmt.Errorf("%w: handshake: unknown reply %d", ErrConnect, tag)
}

// nodeMagicRe finds the magics in the node's "version data mismatch:
// NodeToClientVersionData {networkMagic = NetworkMagic {unNetworkMagic =
// N}, …} /= …" text: the node's own comes first (acceptableVersion local
// remote in cardano-diffusion NodeToClient/Version.hs).
var nodeMagicRe = regexp.MustCompile(`unNetworkMagic = ([0-9]+)`)

// refusal explains a MsgRefuse reason.
func refusal(raw cbor.RawMessage, magic uint32) error {
	var reason []cbor.RawMessage
	var tag uint64
	if decMode.Unmarshal(raw, &reason) != nil || len(reason) < 2 || decMode.Unmarshal(reason[0], &tag) != nil {
		return fmt.Errorf("%w: handshake refused", ErrConnect)
	}
	switch tag {
	case refuseVersionMismatch:
		var theirs []uint64
		_ = decMode.Unmarshal(reason[1], &theirs)
		var ntc []string
		for _, v := range theirs {
			if v&ntcVersionBit != 0 {
				ntc = append(ntc, strconv.FormatUint(v&^ntcVersionBit, 10))
			}
		}
		return fmt.Errorf("%w: the node speaks node-to-client versions %s, this agent %d–%d (is it cardano-node 10.5 or later?)",
			ErrVersion, strings.Join(ntc, ", "), MinNodeToClientVersion, MaxNodeToClientVersion)
	case refuseDecodeError, refuseRefused:
		var text string
		if len(reason) == 3 {
			_ = decMode.Unmarshal(reason[2], &text)
		}
		if m := nodeMagicRe.FindAllStringSubmatch(text, -1); tag == refuseRefused && len(m) >= 1 {
			if theirs, err := strconv.ParseUint(m[0][1], 10, 32); err == nil && theirs != uint64(magic) {
				return &MagicMismatchError{Node: uint32(theirs), Want: magic}
			}
		}
		if text == "" {
			text = "no reason given"
		}
		return fmt.Errorf("%w: handshake refused: %s", ErrConnect, sanitize(text))
	}
	return fmt.Errorf("%w: handshake refused (reason %d)", ErrConnect, tag)
}

// MagicMismatchError is the node refusing the handshake because it runs
// another network. It is an ErrNetworkMismatch.
type MagicMismatchError struct {
	Node, Want uint32
}

func (e *MagicMismatchError) Error() string {
	return fmt.Sprintf("%s: the node runs network magic %d%s, the agent is set up for magic %d%s",
		ErrNetworkMismatch, e.Node, knownMagic(e.Node), e.Want, knownMagic(e.Want))
}

func (e *MagicMismatchError) Unwrap() error { return ErrNetworkMismatch }

func knownMagic(m uint32) string {
	switch m {
	case 764824073:
		return " (mainnet)"
	case 1:
		return " (preprod)"
	case 2:
		return " (preview)"
	}
	return ""
}

// sanitize keeps a node-supplied text printable and short.
func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= 300 {
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
