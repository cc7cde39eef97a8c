package nodequery

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// The node-to-client multiplexer, as network-mux frames it
// (IntersectMBO/ouroboros-network network-mux/src/Network/Mux/Codec.hs and
// Bearer.hs): every segment is an 8-byte header — a 32-bit transmission
// time in microseconds, a 16-bit word whose top bit is the mode (0 from the
// initiator, 1 from the responder) and whose low 15 bits are the
// mini-protocol number, and the 16-bit payload length — then the payload.
// A mini-protocol message is one CBOR data item that may span several
// segments; the node cuts its local-socket messages at 12288 bytes.
const (
	segmentHeaderSize = 8
	// localSDUSize is what network-mux uses on unix sockets; we send no
	// larger segments than the node does.
	localSDUSize  = 12288
	responderFlag = 0x8000

	protocolHandshake       = 0
	protocolLocalStateQuery = 7

	// maxMessageSize bounds one reassembled message. A mainnet op-cert
	// counter map (a few thousand pools) is ~100 KiB; the cap only stops
	// a misbehaving peer from growing memory without end.
	maxMessageSize = 32 << 20
)

var errIncomplete = errors.New("incomplete message")

// mux is one client connection: it sends messages as initiator and
// reassembles the responder's messages per mini-protocol.
type mux struct {
	c       net.Conn
	start   time.Time
	pending map[uint16][]byte // bytes received per protocol, not yet decoded
}

func newMux(c net.Conn) *mux {
	return &mux{c: c, start: time.Now(), pending: make(map[uint16][]byte)}
}

// send writes msg (one encoded CBOR item) for protocol in as many segments
// as it takes.
func (m *mux) send(protocol uint16, msg []byte) error {
	for first := true; first || len(msg) > 0; first = false {
		n := min(len(msg), localSDUSize)
		seg := make([]byte, segmentHeaderSize+n)
		binary.BigEndian.PutUint32(seg[0:4], uint32(time.Since(m.start).Microseconds()))
		binary.BigEndian.PutUint16(seg[4:6], protocol)
		binary.BigEndian.PutUint16(seg[6:8], uint16(n))
		copy(seg[segmentHeaderSize:], msg[:n])
		if _, err := m.c.Write(seg); err != nil {
			return err
		}
		msg = msg[n:]
	}
	return nil
}

// recv returns the next complete message the responder sent for protocol,
// reading segments (and buffering those of other protocols) until one
// whole CBOR item has arrived.
func (m *mux) recv(protocol uint16) (cbor.RawMessage, error) {
	for {
		if msg, err := m.take(protocol); !errors.Is(err, errIncomplete) {
			return msg, err
		}
		var h [segmentHeaderSize]byte
		if _, err := io.ReadFull(m.c, h[:]); err != nil {
			return nil, eofIsClosed(err)
		}
		word := binary.BigEndian.Uint16(h[4:6])
		length := int(binary.BigEndian.Uint16(h[6:8]))
		if word&responderFlag == 0 {
			return nil, fmt.Errorf("the node sent a segment in initiator mode (protocol %d)", word)
		}
		payload := make([]byte, length)
		if _, err := io.ReadFull(m.c, payload); err != nil {
			return nil, eofIsClosed(err)
		}
		p := word &^ responderFlag
		if len(m.pending[p])+length > maxMessageSize {
			return nil, fmt.Errorf("a message of mini-protocol %d exceeds %d bytes", p, maxMessageSize)
		}
		m.pending[p] = append(m.pending[p], payload...)
	}
}

// take splits one complete CBOR item off the protocol's buffer.
func (m *mux) take(protocol uint16) (cbor.RawMessage, error) {
	buf := m.pending[protocol]
	if len(buf) == 0 {
		return nil, errIncomplete
	}
	var raw cbor.RawMessage
	rest, err := decMode.UnmarshalFirst(buf, &raw)
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return nil, errIncomplete
	case err != nil:
		return nil, fmt.Errorf("undecodable message on mini-protocol %d: %w", protocol, err)
	}
	m.pending[protocol] = rest
	return raw, nil
}

func eofIsClosed(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("the node closed the connection")
	}
	return err
}

// decMode decodes what the node sends: no duplicate map keys, bounded
// nesting and lengths.
var decMode = func() cbor.DecMode {
	dm, err := cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		MaxNestedLevels:  64,
		MaxArrayElements: 1 << 20,
		MaxMapPairs:      1 << 20,
		IndefLength:      cbor.IndefLengthAllowed,
		TagsMd:           cbor.TagsAllowed,
		BigIntDec:        cbor.BigIntDecodeValue,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return dm
}()

// encMode writes our messages canonically (map keys sorted, as the node's
// handshake codec requires for the version table).
var encMode = func() cbor.EncMode {
	em, err := cbor.CanonicalEncOptions().EncMode()
	if err != nil {
		panic(err)
	}
	return em
}()
