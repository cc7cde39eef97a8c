package nodequery

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/kesrotate/kesrotate/keys"
)

// A peer that speaks the wire format from ouroboros-network's codecs by
// hand, for the cases the test node does not produce: refusals, and a
// result cut into many small segments.

type peer struct {
	t *testing.T
	c net.Conn
}

// readMsg reads initiator segments until one CBOR item is complete.
func (p peer) readMsg(wantProtocol uint16) cbor.RawMessage {
	p.t.Helper()
	var buf []byte
	for {
		var h [8]byte
		if _, err := io.ReadFull(p.c, h[:]); err != nil {
			p.t.Errorf("peer: reading a header: %v", err)
			return nil
		}
		word := binary.BigEndian.Uint16(h[4:6])
		if word&0x8000 != 0 || word != wantProtocol {
			p.t.Errorf("peer: got protocol word %#x, want initiator %d", word, wantProtocol)
		}
		payload := make([]byte, binary.BigEndian.Uint16(h[6:8]))
		if _, err := io.ReadFull(p.c, payload); err != nil {
			p.t.Errorf("peer: reading a payload: %v", err)
			return nil
		}
		buf = append(buf, payload...)
		var raw cbor.RawMessage
		if rest, err := decMode.UnmarshalFirst(buf, &raw); err == nil && len(rest) == 0 {
			return raw
		}
	}
}

// write sends v as responder on protocol in segments of at most size bytes.
func (p peer) write(protocol uint16, v any, size int) {
	p.t.Helper()
	b, err := encMode.Marshal(v)
	if err != nil {
		p.t.Fatal(err)
	}
	for len(b) > 0 {
		n := min(size, len(b))
		h := make([]byte, 8, 8+n)
		binary.BigEndian.PutUint16(h[4:6], protocol|0x8000)
		binary.BigEndian.PutUint16(h[6:8], uint16(n))
		if _, err := p.c.Write(append(h, b[:n]...)); err != nil {
			p.t.Errorf("peer: write: %v", err)
			return
		}
		b = b[n:]
	}
}

func servePeer(t *testing.T, script func(p peer)) string {
	t.Helper()
	path := shortSocket(t)
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { _ = ln.Close(); <-done })
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer func() { _ = c.Close() }()
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		script(peer{t, c})
	}()
	return path
}

func TestHandshakeProposal(t *testing.T) {
	var got map[uint64][]any
	path := servePeer(t, func(p peer) {
		msg := p.readMsg(0)
		var f []cbor.RawMessage
		if err := decMode.Unmarshal(msg, &f); err != nil || len(f) != 2 {
			t.Errorf("proposal is not [0, versions]: %v", err)
			return
		}
		_ = decMode.Unmarshal(f[1], &got)
		// Keys must be in ascending order (the node refuses "unordered
		// version" otherwise): canonical CBOR puts 0x8010 … 0x8017 so.
		p.write(0, []any{2, []any{0, []uint64{0x8010, 0x8011}}}, 12288)
	})
	_, err := Query(context.Background(), path, 764824073, keys.PoolID{})
	if !errors.Is(err, ErrVersion) || !strings.Contains(err.Error(), "versions 16, 17") {
		t.Errorf("got %v, want ErrVersion naming the node's versions 16, 17", err)
	}
	if len(got) != 8 {
		t.Fatalf("got %d proposed versions, want 8 (16–23)", len(got))
	}
	for v := uint64(16); v <= 23; v++ {
		d, ok := got[v|0x8000]
		if !ok || len(d) != 2 || d[0] != uint64(764824073) || d[1] != false {
			t.Errorf("version %d: got data %v, want [764824073, false]", v, d)
		}
	}
}

func TestHandshakeRefusedForAnotherNetwork(t *testing.T) {
	// The node's text: "version data mismatch: " ++ show local ++ " /= "
	// ++ show remote (cardano-diffusion NodeToClient/Version.hs), local
	// being the node's own data.
	text := "version data mismatch: NodeToClientVersionData {networkMagic = NetworkMagic {unNetworkMagic = 1}, query = False}" +
		" /= NodeToClientVersionData {networkMagic = NetworkMagic {unNetworkMagic = 764824073}, query = False}"
	path := servePeer(t, func(p peer) {
		p.readMsg(0)
		p.write(0, []any{2, []any{2, 0x8017, text}}, 12288)
	})
	_, err := Query(context.Background(), path, 764824073, keys.PoolID{})
	var mm *MagicMismatchError
	if !errors.As(err, &mm) || !errors.Is(err, ErrNetworkMismatch) {
		t.Fatalf("got %v, want a *MagicMismatchError", err)
	}
	if mm.Node != 1 || mm.Want != 764824073 {
		t.Errorf("got node magic %d, want %d; got want %d", mm.Node, 1, mm.Want)
	}
	if want := "the node runs network magic 1 (preprod), the agent is set up for magic 764824073 (mainnet)"; !strings.Contains(err.Error(), want) {
		t.Errorf("got %q, want it to say %q", err, want)
	}
}

func TestResultAcrossManySegments(t *testing.T) {
	pool := keys.PoolID{0xaa, 1, 2, 3}
	counters := map[cbor.ByteString]uint64{cbor.ByteString(pool[:]): 41}
	for i := 0; i < 4000; i++ { // a mainnet-sized map: ~130 KiB
		var id [28]byte
		binary.BigEndian.PutUint32(id[:], uint32(i))
		counters[cbor.ByteString(id[:])] = uint64(i)
	}
	nonce := []any{1, make([]byte, 32)}
	state := []any{0, []any{[]any{1, 5000}, counters, nonce, nonce, []any{0}, nonce, nonce}}
	genesis := []any{[]any{2017, 266, uint64(78291) * 1e12}, 764824073, 1, []any{1, 20}, 2160, 432000, 129600, 62, 1000000, 5,
		uint64(45e15), make([]any, 17), map[string]any{}, map[string]any{}, []any{map[string]any{}, map[string]any{}}}
	path := servePeer(t, func(p peer) {
		p.readMsg(0)
		p.write(0, []any{1, 0x8015, []any{764824073, false}}, 12288)
		for _, answer := range []any{
			[]any{1}, // acquired
			[]any{4, []any{160000000, make([]byte, 32)}}, // chain point
			[]any{4, []any{2017, 266, uint64(78291) * 1e12}},
			[]any{4, 6},
			[]any{4, []any{genesis}},
			[]any{4, []any{state}},
		} {
			p.readMsg(7)
			p.write(7, answer, 700) // many small segments
		}
	})
	s, err := Query(context.Background(), path, 764824073, pool)
	if err != nil {
		t.Fatal(err)
	}
	if s.OnChain.N != 41 || !s.OnChain.Known || s.TipSlot != 160000000 || s.PraosFields != 7 || s.NodeToClientVersion != 21 || s.GenesisLayout != "15+17" {
		t.Errorf("got %+v, want counter 41 at slot 160000000, 7 fields, version 21, layout 15+17", s)
	}
}

func TestByronNodeIsSyncing(t *testing.T) {
	path := servePeer(t, func(p peer) {
		p.readMsg(0)
		p.write(0, []any{1, 0x8014, []any{1, false}}, 12288)
		for _, answer := range []any{[]any{1}, []any{4, []any{500, make([]byte, 32)}}, []any{4, []any{2022, 172, 0}}, []any{4, 0}} {
			p.readMsg(7)
			p.write(7, answer, 12288)
		}
	})
	_, err := Query(context.Background(), path, 1, keys.PoolID{})
	if !errors.Is(err, ErrSyncing) || !strings.Contains(err.Error(), "Byron era") {
		t.Errorf("got %v, want ErrSyncing naming the Byron era", err)
	}
}
