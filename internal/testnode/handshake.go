package testnode

// The node-to-client handshake (mini-protocol 0), from ouroboros-network:
//
//   - messages (ouroboros-network/framework/lib/Ouroboros/Network/Protocol/
//     Handshake/Codec.hs, codecHandshake): MsgProposeVersions [0, {v: data}],
//     MsgAcceptVersion [1, v, data], MsgRefuse [2, reason], MsgQueryReply
//     [3, {v: data}]; refuse reasons VersionMismatch [0, [v…]],
//     HandshakeDecodeError [1, v, text], Refused [2, v, text];
//   - version numbers carry bit 15 on the wire (cardano-diffusion
//     Cardano/Network/NodeToClient/Version.hs, nodeToClientVersionCodec);
//     a proposed number the node does not know is skipped, and the known
//     ones must come in ascending order ("unordered version" fails the
//     codec);
//   - version data from NodeToClientV_15 on is [networkMagic, query]
//     (nodeToClientCodecCBORTerm); anything else is the decode error
//     "unknown encoding: " followed by the Show of the cborg Term, a magic
//     beyond 32 bits "networkMagic out of bound: N";
//   - the server takes the greatest version both sides know, decodes its
//     data, and accepts when the magics agree; else refuses with
//     "version data mismatch: <local> /= <remote>"
//     (Handshake/Client.hs acceptOrRefuse, NodeToClientVersionData's
//     Acceptable instance; NetworkMagic has a stock record Show in
//     ouroboros-network-api 0.14–0.16 and ouroboros-network 1.1, the
//     versions nodes 10.5–11.0 build);
//   - an accepted handshake whose agreed data asks for query gets
//     MsgQueryReply with all the node's versions and its own data
//     (Handshake/Server.hs handshakeServerPeer); the node's data is
//     [magic, False] (ouroboros-consensus-diffusion, Node.hs
//     stdVersionDataNTC).
//
// A message the codec cannot decode ends the connection without a reply.

import (
	"errors"
	"fmt"
)

const ntcVersionBit = 0x8000

// handshakeResult is what a proposal leads to.
type handshakeResult struct {
	reply    []byte // the message to send
	accepted bool   // the connection goes on with version
	version  uint16
}

var errHandshakeCodec = errors.New("handshake codec failure")

// handleHandshake answers one MsgProposeVersions. It returns
// errHandshakeCodec (wrapped) when the message does not decode; the caller
// then closes the connection.
func (v nodeVersion) handleHandshake(msg []byte, magic uint32) (handshakeResult, error) {
	d := dec{b: msg}
	n, err := d.listLen()
	if err != nil {
		return handshakeResult{}, fmt.Errorf("%w: %v", errHandshakeCodec, err)
	}
	key, err := d.word()
	if err != nil {
		return handshakeResult{}, fmt.Errorf("%w: %v", errHandshakeCodec, err)
	}
	if key != 0 || n != 2 {
		return handshakeResult{}, fmt.Errorf("%w: codecHandshake (SingPropose) unexpected key (%d, %d)", errHandshakeCodec, key, n)
	}
	h, err := d.head()
	if err != nil || h.major != majMap || h.indef {
		return handshakeResult{}, fmt.Errorf("%w: expected map len", errHandshakeCodec)
	}
	proposed := map[uint16]term{}
	var prev uint16
	have := false
	for range h.arg {
		vt, err := d.term(0)
		if err != nil {
			return handshakeResult{}, fmt.Errorf("%w: %v", errHandshakeCodec, err)
		}
		data, err := d.term(0)
		if err != nil {
			return handshakeResult{}, fmt.Errorf("%w: %v", errHandshakeCodec, err)
		}
		num, ok := v.knownVersion(vt)
		if !ok {
			continue // decodeVersions skips a version it does not recognise
		}
		if have && num <= prev {
			return handshakeResult{}, fmt.Errorf("%w: codecHandshake.Propose: unordered version", errHandshakeCodec)
		}
		prev, have = num, true
		proposed[num] = data
	}
	if d.off != len(d.b) {
		return handshakeResult{}, fmt.Errorf("%w: trailing bytes", errHandshakeCodec)
	}

	var best uint16
	for num := range proposed {
		if num >= v.ntcMin && num <= v.ntcMax && num > best {
			best = num
		}
	}
	if best == 0 {
		return handshakeResult{reply: v.refuseVersionMismatch()}, nil
	}
	remoteMagic, query, derr := decodeNtCVersionData(proposed[best])
	if derr != "" {
		return handshakeResult{reply: refuse(1, best, derr)}, nil
	}
	if remoteMagic != magic {
		return handshakeResult{reply: refuse(2, best, fmt.Sprintf("version data mismatch: %s /= %s",
			showVersionData(magic, false), showVersionData(remoteMagic, query)))}, nil
	}
	if query {
		e := enc{}
		e.array(2)
		e.uint(3)
		v.encodeVersionTable(&e, magic)
		return handshakeResult{reply: e.b}, nil
	}
	e := enc{}
	e.array(3)
	e.uint(1)
	e.uint(uint64(best | ntcVersionBit))
	e.array(2)
	e.uint(uint64(magic))
	e.bool(false) // query local || query remote, both false here
	return handshakeResult{reply: e.b, accepted: true, version: best}, nil
}

// knownVersion decodes a proposed version number the node's codec
// recognises: an integer with bit 15 set whose low bits name a version the
// node's ouroboros-network knows (16 up to its newest).
func (v nodeVersion) knownVersion(t term) (uint16, bool) {
	if t.kind != tInt || t.i < 0 || t.i&ntcVersionBit == 0 || t.i > 0xffff {
		return 0, false
	}
	num := uint16(t.i &^ ntcVersionBit)
	return num, num >= 16 && num <= v.ntcMax
}

// decodeNtCVersionData decodes [magic, query]; on failure it returns the
// codec's error text.
func decodeNtCVersionData(t term) (magic uint32, query bool, errText string) {
	if t.kind == tList && !t.indef && len(t.items) == 2 && t.items[0].kind == tInt && t.items[1].kind == tBool {
		x := t.items[0].i
		if x < 0 || x > 0xffffffff {
			return 0, false, fmt.Sprintf("networkMagic out of bound: %d", x)
		}
		return uint32(x), t.items[1].b, ""
	}
	return 0, false, "unknown encoding: " + t.hsShow(0)
}

func showVersionData(magic uint32, query bool) string {
	q := "False"
	if query {
		q = "True"
	}
	return fmt.Sprintf("NodeToClientVersionData {networkMagic = NetworkMagic {unNetworkMagic = %d}, query = %s}", magic, q)
}

func (v nodeVersion) refuseVersionMismatch() []byte {
	e := enc{}
	e.array(2)
	e.uint(2)
	e.array(2)
	e.uint(0)
	e.array(int(v.ntcMax - v.ntcMin + 1))
	for num := v.ntcMin; num <= v.ntcMax; num++ {
		e.uint(uint64(num | ntcVersionBit))
	}
	return e.b
}

func refuse(reason uint64, version uint16, text string) []byte {
	e := enc{}
	e.array(2)
	e.uint(2)
	e.array(3)
	e.uint(reason)
	e.uint(uint64(version | ntcVersionBit))
	e.text(text)
	return e.b
}

// encodeVersionTable writes the node's versions, ascending, each with the
// node's own version data.
func (v nodeVersion) encodeVersionTable(e *enc, magic uint32) {
	e.mapHead(int(v.ntcMax - v.ntcMin + 1))
	for num := v.ntcMin; num <= v.ntcMax; num++ {
		e.uint(uint64(num | ntcVersionBit))
		e.array(2)
		e.uint(uint64(magic))
		e.bool(false)
	}
}
