package testnode

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

func startSocketNode(t *testing.T, ver string, set func(*Config)) (*Node, *Pool) {
	t.Helper()
	pool := mustPool(t, 1)
	cfg := mustWrite(t, pool, t.TempDir(), mustIssue(t, pool, 10, 3, 98))
	cfg.NodeVersion = ver
	cfg.SocketPath = shortSocket(t)
	if set != nil {
		set(&cfg)
	}
	n, _ := start(t, cfg)
	return n, pool
}

func hexOf(b []byte) string { return hex.EncodeToString(b) }

func versionsCBOR(lo, hi uint16) []any {
	var v []any
	for i := lo; i <= hi; i++ {
		v = append(v, uint64(i)|0x8000)
	}
	return v
}

func TestHandshakeLikeOuroborosNetwork(t *testing.T) {
	magic := network.Magic
	for _, ver := range Versions {
		// node.md: 16–20 on 10.5, 16–22 on 10.6, 16–23 on 10.7 and 11.0.
		nv := map[string]struct{ ntcMin, ntcMax uint16 }{Version105: {16, 20}, Version106: {16, 22}, Version110: {16, 23}}[ver]
		t.Run(ver, func(t *testing.T) {
			n, _ := startSocketNode(t, ver, nil)
			tests := []struct {
				name    string
				propose func(c *ntcClient) []byte
				want    []byte
			}{
				{
					name:    "highest common version of 16..23",
					propose: func(c *ntcClient) []byte { return c.handshake(magic, false, 16, 17, 18, 19, 20, 21, 22, 23) },
					want:    cborBytes(t, []any{1, uint64(nv.ntcMax) | 0x8000, []any{uint64(magic), false}}),
				},
				{
					name:    "client that stops at 20",
					propose: func(c *ntcClient) []byte { return c.handshake(magic, false, 16, 17, 18, 19, 20) },
					want:    cborBytes(t, []any{1, uint64(20) | 0x8000, []any{uint64(magic), false}}),
				},
				{
					name:    "only versions the node does not know: version mismatch with its list",
					propose: func(c *ntcClient) []byte { return c.handshake(magic, false, 13, 14, 15, 24) },
					want:    cborBytes(t, []any{2, []any{0, versionsCBOR(nv.ntcMin, nv.ntcMax)}}),
				},
				{
					name:    "another network: Refused with both version data shown",
					propose: func(c *ntcClient) []byte { return c.handshake(764824073, false, 16, 17, 18, 19, 20) },
					want: cborBytes(t, []any{2, []any{2, uint64(20) | 0x8000, fmt.Sprintf(
						"version data mismatch: NodeToClientVersionData {networkMagic = NetworkMagic {unNetworkMagic = %d}, query = False} /= NodeToClientVersionData {networkMagic = NetworkMagic {unNetworkMagic = 764824073}, query = False}", magic)}}),
				},
				{
					name: "pre-v15 version data (magic only): HandshakeDecodeError",
					propose: func(c *ntcClient) []byte {
						c.send(0, cborBytes(t, []any{0, map[uint64]any{0x8010: uint64(magic)}}))
						r, err := c.recv(0)
						if err != nil {
							t.Fatal(err)
						}
						return r
					},
					want: cborBytes(t, []any{2, []any{1, uint64(16) | 0x8000, fmt.Sprintf("unknown encoding: TInt %d", magic)}}),
				},
				{
					name:    "query mode: the node's version table with its magic",
					propose: func(c *ntcClient) []byte { return c.handshake(magic, true, 16, 17) },
					want: func() []byte {
						m := map[uint64]any{}
						for v := nv.ntcMin; v <= nv.ntcMax; v++ {
							m[uint64(v)|0x8000] = []any{uint64(magic), false}
						}
						return cborBytes(t, []any{3, m})
					}(),
				},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					c := dialNode(t, n.SocketPath())
					if got := tt.propose(c); !bytes.Equal(got, tt.want) {
						t.Errorf("got %s, want %s", diag(got), diag(tt.want))
					}
				})
			}
		})
	}
}

func diag(b []byte) string {
	s, err := cbor.Diagnose(b)
	if err != nil {
		return hexOf(b)
	}
	return s
}

func TestHandshakeCodecFailuresCloseTheConnection(t *testing.T) {
	n, _ := startSocketNode(t, Version110, nil)
	tests := []struct {
		name string
		msg  []byte
	}{
		{"versions out of order", nil}, // written below
		{"not a list", []byte{0x01}},
		{"unknown message key", cborBytes(t, []any{9, map[uint64]any{}})},
		{"accept from the client", cborBytes(t, []any{1, 0x8010, []any{1, false}})},
	}
	// An ordered map cannot be written by the CBOR library; write the
	// out-of-order proposal by hand: {0x8011: [2,false], 0x8010: [2,false]}.
	tests[0].msg = append([]byte{0x82, 0x00, 0xa2}, append(
		append([]byte{0x19, 0x80, 0x11}, 0x82, 0x02, 0xf4),
		append([]byte{0x19, 0x80, 0x10}, 0x82, 0x02, 0xf4)...)...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialNode(t, n.SocketPath())
			c.send(0, tt.msg)
			c.expectClosed(0)
		})
	}
}

// connect handshakes at the node's highest version.
func connect(t *testing.T, n *Node) *ntcClient {
	t.Helper()
	c := dialNode(t, n.SocketPath())
	var r []any
	if err := cbor.Unmarshal(c.handshake(n.cfg.Network.Magic, false, 16, 17, 18, 19, 20, 21, 22, 23), &r); err != nil || r[0] != uint64(1) {
		t.Fatalf("handshake refused: %v %v", r, err)
	}
	return c
}

func connectAt(t *testing.T, n *Node, versions ...uint16) *ntcClient {
	t.Helper()
	c := dialNode(t, n.SocketPath())
	var r []any
	if err := cbor.Unmarshal(c.handshake(n.cfg.Network.Magic, false, versions...), &r); err != nil || r[0] != uint64(1) {
		t.Fatalf("handshake refused: %v %v", r, err)
	}
	return c
}

var (
	msgAcquired = []byte{0x81, 0x01}
	// Queries as cardano-cli and the agent send them.
	qSystemStart  = []any{1}
	qChainBlockNo = []any{2}
	qChainPoint   = []any{3}
	qCurrentEra   = []any{0, []any{2, []any{1}}}
	conwayQuery   = func(q ...any) any { return []any{0, []any{0, []any{6, q}}} }
	qEpochNo      = conwayQuery(1)
	qGenesis      = conwayQuery(11)
	qChainDep     = conwayQuery(13)
	qCBORChainDep = conwayQuery(9, []any{13})
)

func TestQueriesAnswerAsTheNode(t *testing.T) {
	for _, ver := range Versions {
		t.Run(ver, func(t *testing.T) {
			// node.md: 7 fields on 10.5 and 10.6, 8 from 10.7 on.
			wantFields := map[string]int{Version105: 7, Version106: 7, Version110: 8}[ver]
			n, pool := startSocketNode(t, ver, nil)
			n.SetOnChainCounter(pool.ID(), 7)
			c := connect(t, n)
			if got := c.lsq(8); !bytes.Equal(got, msgAcquired) {
				t.Fatalf("acquire: got %x, want MsgAcquired", got)
			}
			wantTip := cborBytes(t, []any{tipSlot, tipHash(tipSlot)})
			if got := c.query(qChainPoint); !bytes.Equal(got, wantTip) {
				t.Errorf("GetChainPoint: got %s, want %s", diag(got), diag(wantTip))
			}
			if got, want := c.query(qChainBlockNo), cborBytes(t, []any{1, tipSlot / 20}); !bytes.Equal(got, want) {
				t.Errorf("GetChainBlockNo: got %s, want %s", diag(got), diag(want))
			}
			// Preview's system start 2022-10-25T00:00:00Z: day 298.
			if got, want := c.query(qSystemStart), cborBytes(t, []any{2022, 298, 0}); !bytes.Equal(got, want) {
				t.Errorf("GetSystemStart: got %s, want %s", diag(got), diag(want))
			}
			if got, want := c.query(qCurrentEra), cborBytes(t, 6); !bytes.Equal(got, want) {
				t.Errorf("GetCurrentEra: got %s, want %s", diag(got), diag(want))
			}
			// Preview: 86400-slot epochs from slot 0.
			if got, want := c.query(qEpochNo), cborBytes(t, []any{tipSlot / 86400}); !bytes.Equal(got, want) {
				t.Errorf("GetEpochNo: got %s, want %s", diag(got), diag(want))
			}

			var wrapped []cbor.RawMessage
			if err := cbor.Unmarshal(c.query(qChainDep), &wrapped); err != nil || len(wrapped) != 1 {
				t.Fatalf("DebugChainDepState: got %v %v, want [state]", wrapped, err)
			}
			var st struct {
				_       struct{} `cbor:",toarray"`
				Version uint64
				Fields  []cbor.RawMessage
			}
			if err := cbor.Unmarshal(wrapped[0], &st); err != nil {
				t.Fatal(err)
			}
			if len(st.Fields) != wantFields {
				t.Errorf("got a Praos state of %d fields, want %d", len(st.Fields), wantFields)
			}
			var counters map[cbor.ByteString]uint64
			if err := cbor.Unmarshal(st.Fields[1], &counters); err != nil {
				t.Fatal(err)
			}
			id := pool.ID()
			if got := counters[cbor.ByteString(id[:])]; got != 7 || len(counters) != 1 {
				t.Errorf("got counters %v, want only the pool at 7", counters)
			}

			// GetCBOR of it, as cardano-cli query kes-period-info sends it:
			// [tag 24 (bytes of the state)].
			var wrappedCBOR []cbor.Tag
			if err := cbor.Unmarshal(c.query(qCBORChainDep), &wrappedCBOR); err != nil || len(wrappedCBOR) != 1 || wrappedCBOR[0].Number != 24 {
				t.Fatalf("GetCBOR DebugChainDepState: got %v %v, want [24(bytes)]", wrappedCBOR, err)
			}
			if !bytes.Equal(wrappedCBOR[0].Content.([]byte), wrapped[0]) {
				t.Errorf("GetCBOR: got %x, want the state's bytes %x", wrappedCBOR[0].Content, wrapped[0])
			}

			// A query for another era: the era mismatch, the query's era first.
			got := c.query([]any{0, []any{0, []any{5, []any{1}}}})
			if want := cborBytes(t, []any{[]any{5, "Babbage"}, []any{6, "Conway"}}); !bytes.Equal(got, want) {
				t.Errorf("Babbage query on a Conway ledger: got %s, want %s", diag(got), diag(want))
			}
		})
	}
}

// lsqRelease sends MsgRelease, which has no reply; the next acquire shows
// the protocol went back to idle.
func TestReleaseReacquireAndDone(t *testing.T) {
	n, _ := startSocketNode(t, Version110, nil)
	c := connect(t, n)
	if got := c.lsq(8); !bytes.Equal(got, msgAcquired) {
		t.Fatalf("got %x, want MsgAcquired", got)
	}
	n.SetTipSlot(tipSlot + 50)
	// The acquired state stays at the old tip until a reacquire.
	if got, want := c.query(qChainPoint), cborBytes(t, []any{tipSlot, tipHash(tipSlot)}); !bytes.Equal(got, want) {
		t.Errorf("before reacquire: got %s, want %s", diag(got), diag(want))
	}
	if got := c.lsq(9); !bytes.Equal(got, msgAcquired) {
		t.Fatalf("reacquire: got %x, want MsgAcquired", got)
	}
	if got, want := c.query(qChainPoint), cborBytes(t, []any{tipSlot + 50, tipHash(tipSlot + 50)}); !bytes.Equal(got, want) {
		t.Errorf("after reacquire: got %s, want %s", diag(got), diag(want))
	}
	c.send(7, cborBytes(t, []any{5})) // release
	if got := c.lsq(10); !bytes.Equal(got, msgAcquired) {
		t.Fatalf("acquire immutable tip: got %x, want MsgAcquired", got)
	}
	imm := tipSlot + 50 - 432*20 // preview: k 432, f 1/20
	if got, want := c.query(qChainPoint), cborBytes(t, []any{imm, tipHash(imm)}); !bytes.Equal(got, want) {
		t.Errorf("immutable tip: got %s, want %s", diag(got), diag(want))
	}
	c.send(7, cborBytes(t, []any{5}))
	c.send(7, cborBytes(t, []any{7})) // done
	c.send(7, cborBytes(t, []any{8})) // nothing is allowed after done
	c.expectClosed(7)
}

func TestAcquireSpecificPoints(t *testing.T) {
	n, _ := startSocketNode(t, Version110, nil)
	tests := []struct {
		name  string
		point any
		want  []byte
	}{
		{"the tip", []any{tipSlot, tipHash(tipSlot)}, msgAcquired},
		{"a recent block", []any{tipSlot - 100, tipHash(tipSlot - 100)}, msgAcquired},
		{"a hash that is not on the chain", []any{tipSlot, make([]byte, 32)}, []byte{0x82, 0x02, 0x01}},
		{"a hash of another length", []any{tipSlot, []byte{1, 2, 3}}, []byte{0x82, 0x02, 0x01}},
		{"after the tip", []any{tipSlot + 1, tipHash(tipSlot + 1)}, []byte{0x82, 0x02, 0x01}},
		{"before the immutable tip", []any{tipSlot - 432*20 - 1, tipHash(tipSlot - 432*20 - 1)}, []byte{0x82, 0x02, 0x00}},
		{"origin", []any{}, []byte{0x82, 0x02, 0x00}},
		{"an unknown hash before the immutable tip is too old, not off the chain", []any{tipSlot - 432*20 - 1, make([]byte, 32)}, []byte{0x82, 0x02, 0x00}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := connect(t, n)
			if got := c.lsq(0, tt.point); !bytes.Equal(got, tt.want) {
				t.Errorf("got %x, want %x", got, tt.want)
			}
			if !bytes.Equal(tt.want, msgAcquired) {
				// A failure goes back to idle: a query now is out of place.
				c.send(7, cborBytes(t, []any{3, qChainPoint}))
				c.expectClosed(7)
			}
		})
	}
}

func TestQueriesTheModelDoesNotHoldCloseTheConnection(t *testing.T) {
	n, _ := startSocketNode(t, Version110, nil)
	tests := []struct {
		name string
		msg  []any
	}{
		{"query before acquire", []any{3, qChainPoint}},
		{"unknown top-level query", []any{3, []any{9}}},
		{"unknown Shelley query tag", []any{3, conwayQuery(99)}},
		{"a real query the model does not answer (GetStakePools)", []any{3, conwayQuery(16)}},
		{"GetInterpreter", []any{3, []any{0, []any{2, []any{0}}}}},
		{"an era index beyond the node's", []any{3, []any{0, []any{0, []any{9, []any{1}}}}}},
		{"unknown message", []any{42}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := connect(t, n)
			if tt.name != "query before acquire" {
				if got := c.lsq(8); !bytes.Equal(got, msgAcquired) {
					t.Fatalf("got %x, want MsgAcquired", got)
				}
			}
			c.send(7, cborBytes(t, tt.msg))
			c.expectClosed(7)
		})
	}
}

func TestByronLedgerAnswersEraMismatch(t *testing.T) {
	for _, ver := range Versions {
		t.Run(ver, func(t *testing.T) {
			n, _ := startSocketNode(t, ver, func(c *Config) { c.Era = "Byron"; c.TipSlot = 1000 })
			c := connect(t, n)
			c.lsq(8)
			want := cborBytes(t, []any{[]any{6, "Conway"}, []any{0, "Byron"}})
			for _, q := range []any{qEpochNo, qGenesis, qChainDep, qCBORChainDep} {
				if got := c.query(q); !bytes.Equal(got, want) {
					t.Errorf("%v: got %s, want %s", q, diag(got), diag(want))
				}
			}
			if got, want := c.query(qCurrentEra), cborBytes(t, 0); !bytes.Equal(got, want) {
				t.Errorf("GetCurrentEra: got %s, want %s", diag(got), diag(want))
			}
		})
	}
}

// A mainnet-sized counters map spans several segments of at most 12288
// bytes, and a client that reassembles them reads every pool.
func TestLargeAnswerSpansSegments(t *testing.T) {
	n, pool := startSocketNode(t, Version106, func(c *Config) { c.FillerPools = 3000 })
	n.SetOnChainCounter(pool.ID(), 11)
	c := connect(t, n)
	c.lsq(8)
	res := c.query(qCBORChainDep)
	if len(c.sizes) < 8 {
		t.Errorf("got the answer in %d segments, want it to span many", len(c.sizes))
	}
	for i, s := range c.sizes {
		if s > 12288 || (i < len(c.sizes)-1 && s != 12288) {
			t.Errorf("segment %d: got %d payload bytes, want full segments of 12288 and a shorter last one", i, s)
		}
	}
	var wrapped []cbor.Tag
	if err := cbor.Unmarshal(res, &wrapped); err != nil {
		t.Fatal(err)
	}
	var st struct {
		_       struct{} `cbor:",toarray"`
		Version uint64
		Fields  []cbor.RawMessage
	}
	if err := cbor.Unmarshal(wrapped[0].Content.([]byte), &st); err != nil {
		t.Fatal(err)
	}
	var counters map[cbor.ByteString]uint64
	if err := cbor.Unmarshal(st.Fields[1], &counters); err != nil {
		t.Fatal(err)
	}
	id := pool.ID()
	if len(counters) != 3001 || counters[cbor.ByteString(id[:])] != 11 {
		t.Errorf("got %d pools (ours at %d), want 3001 with ours at 11", len(counters), counters[cbor.ByteString(id[:])])
	}
}

// GetGenesisConfig's layout follows the negotiated version.
func TestGenesisConfigLayoutFollowsTheNegotiatedVersion(t *testing.T) {
	tests := []struct {
		ver      string
		propose  []uint16
		wantPP   int
		wantHigh uint16
	}{
		{Version105, []uint16{16, 17, 18, 19, 20, 21, 22, 23}, 18, 20},
		{Version106, []uint16{16, 17, 18, 19, 20}, 18, 20},
		{Version106, []uint16{16, 17, 18, 19, 20, 21, 22, 23}, 17, 22},
		{Version110, []uint16{16, 17, 18, 19, 20, 21, 22, 23}, 17, 23},
		{Version110, []uint16{16, 17}, 18, 17},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s-ntc%d", tt.ver, tt.wantHigh), func(t *testing.T) {
			n, _ := startSocketNode(t, tt.ver, nil)
			c := connectAt(t, n, tt.propose...)
			c.lsq(8)
			var wrapped [][]cbor.RawMessage
			if err := cbor.Unmarshal(c.query(qGenesis), &wrapped); err != nil || len(wrapped) != 1 || len(wrapped[0]) != 15 {
				t.Fatalf("got %v, %v, want [15 genesis fields]", wrapped, err)
			}
			var pp []cbor.RawMessage
			if err := cbor.Unmarshal(wrapped[0][11], &pp); err != nil {
				t.Fatal(err)
			}
			if len(pp) != tt.wantPP {
				t.Errorf("got %d protocol parameters, want %d", len(pp), tt.wantPP)
			}
			var kes [2]uint64
			for i, f := range []int{6, 7} {
				if err := cbor.Unmarshal(wrapped[0][f], &kes[i]); err != nil {
					t.Fatal(err)
				}
			}
			if kes != [2]uint64{network.SlotsPerKESPeriod, network.MaxKESEvolutions} {
				t.Errorf("got slotsPerKESPeriod, maxKESEvolutions %v, want %d, %d", kes, network.SlotsPerKESPeriod, network.MaxKESEvolutions)
			}
		})
	}
}

func TestReplayingNodeHasNoSocket(t *testing.T) {
	n, _ := startSocketNode(t, Version110, func(c *Config) { c.Replaying = true })
	if _, err := netDial(n.SocketPath()); err == nil {
		t.Fatal("got a connection to a replaying node, want none")
	}
	if err := n.FinishReplay(); err != nil {
		t.Fatal(err)
	}
	c := connect(t, n)
	if got := c.lsq(8); !bytes.Equal(got, msgAcquired) {
		t.Errorf("got %x, want MsgAcquired", got)
	}
}
