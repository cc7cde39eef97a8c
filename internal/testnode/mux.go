package testnode

// Mux framing of the node-to-client bearer, from network-mux
// (IntersectMBO/ouroboros-network, network-mux/src/Network/Mux/Codec.hs,
// encodeSDU/decodeSDU): every segment has an 8-byte header
//
//	timestamp   uint32, big-endian (the sender's clock, microseconds)
//	mode|proto  uint16: bit 15 set when the responder sends, low 15 bits
//	            the mini-protocol number
//	length      uint16, the payload length
//
// followed by the payload. A message longer than the bearer's SDU size is
// cut into several segments (network-mux/src/Network/Mux/Egress.hs,
// processSingleWanton: "chops up the CBOR data into MuxSDUs with at most
// sduSize bytes of data in them"); the socket bearer, which the node uses
// for its unix socket, has SDUSize 12_288
// (network-mux/src/Network/Mux/Bearer.hs, makeSocketBearer').

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// SDUSize is the largest segment payload the node writes on its
// node-to-client socket.
const SDUSize = 12288

const (
	sduHeaderLen  = 8
	responderFlag = 0x8000
)

// Node-to-client mini-protocol numbers (ouroboros-network,
// Ouroboros.Network.NodeToClient: handshake 0, local chain sync 5, local
// tx submission 6, local state query 7, local tx monitor 9).
const (
	protoHandshake  = 0
	protoStateQuery = 7
)

// segment is one received SDU.
type segment struct {
	proto     uint16
	responder bool
	payload   []byte
}

var errShortSDU = errors.New("short SDU")

func readSegment(r io.Reader) (segment, error) {
	var h [sduHeaderLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return segment{}, err
	}
	mp := binary.BigEndian.Uint16(h[4:6])
	n := binary.BigEndian.Uint16(h[6:8])
	if n == 0 {
		// decodeSDU refuses an empty segment ("short SDU").
		return segment{}, errShortSDU
	}
	s := segment{proto: mp &^ responderFlag, responder: mp&responderFlag != 0, payload: make([]byte, n)}
	if _, err := io.ReadFull(r, s.payload); err != nil {
		return segment{}, err
	}
	return s, nil
}

// muxWriter writes whole messages as responder segments of at most SDUSize
// payload bytes each.
type muxWriter struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
}

func (m *muxWriter) write(proto uint16, msg []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for len(msg) > 0 {
		n := min(len(msg), SDUSize)
		buf := make([]byte, sduHeaderLen+n)
		binary.BigEndian.PutUint32(buf[0:4], uint32(time.Since(m.start).Microseconds()))
		binary.BigEndian.PutUint16(buf[4:6], proto|responderFlag)
		binary.BigEndian.PutUint16(buf[6:8], uint16(n))
		copy(buf[sduHeaderLen:], msg[:n])
		if _, err := m.w.Write(buf); err != nil {
			return fmt.Errorf("writing segment: %w", err)
		}
		msg = msg[n:]
	}
	return nil
}
