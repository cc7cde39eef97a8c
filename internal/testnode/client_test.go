package testnode

// A minimal node-to-client client for the tests, written against the
// protocol descriptions (network-mux SDU framing, the handshake and local
// state query codecs) with an independent CBOR library, so that it shares
// no decoder with the test node.

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
)

type ntcClient struct {
	t        *testing.T
	c        net.Conn
	segments map[uint16]int // segments received per protocol
	sizes    []int          // payload sizes of the segments of the last message
	buf      map[uint16][]byte
}

func dialNode(t *testing.T, path string) *ntcClient {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	return &ntcClient{t: t, c: c, segments: map[uint16]int{}, buf: map[uint16][]byte{}}
}

func cborBytes(t *testing.T, v any) []byte {
	t.Helper()
	em, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		t.Fatal(err)
	}
	b, err := em.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// send writes msg as one or more initiator segments.
func (c *ntcClient) send(proto uint16, msg []byte) {
	c.t.Helper()
	for len(msg) > 0 {
		n := min(len(msg), 12288)
		h := make([]byte, 8, 8+n)
		binary.BigEndian.PutUint32(h[0:], 1)
		binary.BigEndian.PutUint16(h[4:], proto)
		binary.BigEndian.PutUint16(h[6:], uint16(n))
		if _, err := c.c.Write(append(h, msg[:n]...)); err != nil {
			c.t.Fatal(err)
		}
		msg = msg[n:]
	}
}

var errClosed = errors.New("connection closed by the node")

// recv reads segments of proto until they hold one complete CBOR item.
func (c *ntcClient) recv(proto uint16) ([]byte, error) {
	c.sizes = nil
	for {
		if b := c.buf[proto]; len(b) > 0 {
			var raw cbor.RawMessage
			rest, err := cbor.UnmarshalFirst(b, &raw)
			if err == nil {
				c.buf[proto] = rest
				return raw, nil
			}
		}
		var h [8]byte
		if _, err := io.ReadFull(c.c, h[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrUnexpectedEOF) || isReset(err) {
				return nil, errClosed
			}
			return nil, err
		}
		mp := binary.BigEndian.Uint16(h[4:])
		if mp&0x8000 == 0 {
			c.t.Fatalf("got a segment without the responder flag: %x", h)
		}
		n := binary.BigEndian.Uint16(h[6:])
		p := make([]byte, n)
		if _, err := io.ReadFull(c.c, p); err != nil {
			return nil, errClosed
		}
		got := mp &^ 0x8000
		c.segments[got]++
		c.sizes = append(c.sizes, int(n))
		c.buf[got] = append(c.buf[got], p...)
	}
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op)
}

// expectClosed asserts that the node closes the connection without a reply.
func (c *ntcClient) expectClosed(proto uint16) {
	c.t.Helper()
	if msg, err := c.recv(proto); !errors.Is(err, errClosed) {
		c.t.Fatalf("got %x, %v, want the connection closed", msg, err)
	}
}

// handshake proposes versions with [magic, query] data and returns the
// reply.
func (c *ntcClient) handshake(magic uint32, query bool, versions ...uint16) []byte {
	c.t.Helper()
	m := map[uint64]any{}
	for _, v := range versions {
		m[uint64(v)|0x8000] = []any{uint64(magic), query}
	}
	c.send(0, cborBytes(c.t, []any{0, m}))
	reply, err := c.recv(0)
	if err != nil {
		c.t.Fatalf("handshake: %v", err)
	}
	return reply
}

// lsq sends one local state query message and returns the reply.
func (c *ntcClient) lsq(msg ...any) []byte {
	c.t.Helper()
	c.send(7, cborBytes(c.t, msg))
	reply, err := c.recv(7)
	if err != nil {
		c.t.Fatalf("local state query %v: %v", msg, err)
	}
	return reply
}

// query acquires nothing: it sends MsgQuery and returns the result payload
// (the message is [4, result]).
func (c *ntcClient) query(q any) cbor.RawMessage {
	c.t.Helper()
	reply := c.lsq(3, q)
	var r struct {
		_      struct{} `cbor:",toarray"`
		Tag    uint64
		Result cbor.RawMessage
	}
	if err := cbor.Unmarshal(reply, &r); err != nil || r.Tag != 4 {
		c.t.Fatalf("got reply %x (%v), want MsgResult", reply, err)
	}
	return r.Result
}

func netDial(path string) (net.Conn, error) {
	c, err := net.Dial("unix", path)
	if err == nil {
		_ = c.Close()
	}
	return c, err
}

// shortSocket is a socket path short enough for sun_path.
func shortSocket(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "tn")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return filepath.Join(dir, "node.socket")
}
