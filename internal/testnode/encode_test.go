package testnode

// The encoders against the node's own bytes: the golden files of
// ouroboros-consensus at the tags the modelled releases build
// (../shared/testvectors/node-to-client/, README there). Each test takes
// the values out of a golden file with an independent CBOR library,
// encodes them with the test node's encoder and compares the bytes.

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/kesrotate/kesrotate/internal/vectors"
)

// goldenTags maps each modelled version to the prefix of its consensus
// tag's golden files.
var goldenTags = map[string]string{
	Version105: "c0.25.1.1",
	Version106: "c0.26.0.3",
	Version110: "c3.0.1.0",
}

func golden(t *testing.T, name string) []byte {
	t.Helper()
	return vectors.Read(t, filepath.Join("node-to-client", name))
}

func mustUnmarshal(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := cbor.Unmarshal(b, v); err != nil {
		t.Fatalf("decoding %x: %v", b, err)
	}
}

func TestPraosStateMatchesGoldenChainDepState(t *testing.T) {
	for _, ver := range Versions {
		t.Run(ver, func(t *testing.T) {
			nv := nodeVersions[ver]
			// The disk golden is the hard-fork telescope of the Cardano
			// chain-dependent state; its last element is the current era,
			// [bound, state], and state is what DebugChainDepState answers.
			var telescope []cbor.RawMessage
			mustUnmarshal(t, golden(t, goldenTags[ver]+"-disk-ChainDepState_Conway"), &telescope)
			var current []cbor.RawMessage
			mustUnmarshal(t, telescope[len(telescope)-1], &current)
			want := []byte(current[1])

			var versioned struct {
				_       struct{} `cbor:",toarray"`
				Version uint64
				Fields  []cbor.RawMessage
			}
			mustUnmarshal(t, want, &versioned)
			if len(versioned.Fields) != nv.praosFields {
				t.Fatalf("got a golden state of %d fields, want the %d the model writes for %s", len(versioned.Fields), nv.praosFields, ver)
			}
			var last []uint64
			mustUnmarshal(t, versioned.Fields[0], &last)
			var counters map[cbor.ByteString]uint64
			mustUnmarshal(t, versioned.Fields[1], &counters)
			nonces := make([]nonce, len(versioned.Fields)-2)
			for i, f := range versioned.Fields[2:] {
				var raw []any
				mustUnmarshal(t, f, &raw)
				if len(raw) == 2 {
					nonces[i] = raw[1].([]byte)
				}
			}
			s := praosState{counters: map[[28]byte]uint64{}}
			if len(last) == 2 {
				s.lastSlot = &last[1]
			}
			for k, v := range counters {
				s.counters[[28]byte([]byte(k))] = v
			}
			s.evolving, s.candidate, s.epoch = nonces[0], nonces[1], nonces[2]
			rest := nonces[3:]
			if nv.praosFields == 8 {
				s.previousEpoch, rest = rest[0], rest[1:]
			}
			s.lab, s.lastEpochBlock = rest[0], rest[1]

			e := enc{}
			encodePraosState(&e, s, nv.praosFields)
			if !bytes.Equal(e.b, want) {
				t.Errorf("got\n%x\nwant\n%x", e.b, want)
			}
		})
	}
}

// genesisGoldens lists the GetGenesisConfig goldens of a version's tag:
// CardanoNodeToClientVersionNN is node-to-client version NN+4.
func genesisGoldens(t *testing.T, ver string) map[uint16]string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(vectors.Dir(t), "node-to-client"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[uint16]string{}
	prefix := goldenTags[ver] + "-v"
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, prefix) || !strings.HasSuffix(name, "-Result_Conway_GenesisConfig") {
			continue
		}
		nn, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(name, prefix), "-Result_Conway_GenesisConfig"))
		if err != nil {
			t.Fatal(err)
		}
		out[uint16(nn+4)] = name
	}
	if len(out) == 0 {
		t.Fatalf("no GetGenesisConfig goldens for %s", ver)
	}
	return out
}

func TestCompactGenesisMatchesGoldens(t *testing.T) {
	for _, ver := range Versions {
		nv := nodeVersions[ver]
		for ntc, name := range genesisGoldens(t, ver) {
			t.Run(name, func(t *testing.T) {
				if ntc < nv.ntcMin || ntc > nv.ntcMax {
					t.Fatalf("golden for NtC %d, which node %s does not offer (%d..%d)", ntc, ver, nv.ntcMin, nv.ntcMax)
				}
				want := golden(t, name)
				var wrapped []cbor.RawMessage // QueryIfCurrent's Right: [result]
				mustUnmarshal(t, want, &wrapped)
				if len(wrapped) != 1 {
					t.Fatalf("got %d elements around the result, want 1", len(wrapped))
				}
				var f []cbor.RawMessage
				mustUnmarshal(t, wrapped[0], &f)
				if len(f) != 15 {
					t.Fatalf("got %d genesis fields, want 15", len(f))
				}
				u := func(i int) uint64 {
					var v uint64
					mustUnmarshal(t, f[i], &v)
					return v
				}
				var start []uint64
				mustUnmarshal(t, f[0], &start)
				var asc []uint64
				mustUnmarshal(t, f[3], &asc)
				g := compactGenesis{
					systemStart:  time.Date(int(start[0]), 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(start[1])-1).Add(time.Duration(start[2] / 1000)),
					networkMagic: uint32(u(1)), networkID: u(2), activeSlotsCoeff: rational{asc[0], asc[1]},
					securityParam: u(4), epochLength: u(5), slotsPerKESPeriod: u(6), maxKESEvolutions: u(7),
					slotLengthMicros: u(8), updateQuorum: u(9), maxLovelaceSupply: u(10),
					genDelegs: f[12], initialFunds: f[13], staking: f[14],
				}
				var pp []cbor.RawMessage
				mustUnmarshal(t, f[11], &pp)
				layout := nv.genesisLayoutFor(ntc)
				wantLen := map[genesisLayout]int{genesisPP18: 18, genesisPP17: 17}[layout]
				if len(pp) != wantLen {
					t.Fatalf("got %d protocol parameters in the golden, want the %d of the layout the model picks for NtC %d", len(pp), wantLen, ntc)
				}
				pu := func(i int) uint64 {
					var v uint64
					mustUnmarshal(t, pp[i], &v)
					return v
				}
				rat := func(i int) rational {
					var tag cbor.Tag
					mustUnmarshal(t, pp[i], &tag)
					r := tag.Content.([]any)
					if tag.Number != 30 {
						t.Fatalf("got tag %d, want 30", tag.Number)
					}
					return rational{r[0].(uint64), r[1].(uint64)}
				}
				p := shelleyPParams{minFeeA: pu(0), minFeeB: pu(1), maxBBSize: pu(2), maxTxSize: pu(3), maxBHSize: pu(4),
					keyDeposit: pu(5), poolDeposit: pu(6), eMax: pu(7), nOpt: pu(8),
					a0: rat(9), rho: rat(10), tau: rat(11), d: rat(12)}
				var ee []any
				mustUnmarshal(t, pp[13], &ee)
				if len(ee) == 2 {
					p.extraEntropy = ee[1].([]byte)
				}
				rest := 14
				if layout == genesisPP18 {
					p.protMajor, p.protMinor = pu(14), pu(15)
					rest = 16
				} else {
					var pv []uint64
					mustUnmarshal(t, pp[14], &pv)
					p.protMajor, p.protMinor = pv[0], pv[1]
					rest = 15
				}
				p.minUTxOValue, p.minPoolCost = pu(rest), pu(rest+1)
				g.pparams = p

				e := enc{}
				e.array(1)
				encodeCompactGenesis(&e, g, layout)
				if !bytes.Equal(e.b, want) {
					t.Errorf("got\n%x\nwant\n%x", e.b, want)
				}
			})
		}
	}
}

// The layout by node-to-client version: 18 parameters up to NtC 20, 17
// after, on the versions that offer more than 20.
func TestGenesisLayoutByVersion(t *testing.T) {
	for _, ver := range Versions {
		nv := nodeVersions[ver]
		for ntc := nv.ntcMin; ntc <= nv.ntcMax; ntc++ {
			want := genesisPP18
			if ntc >= 21 {
				want = genesisPP17
			}
			if got := nv.genesisLayoutFor(ntc); got != want {
				t.Errorf("node %s, NtC %d: got layout %d, want %d", ver, ntc, got, want)
			}
		}
	}
}

func TestEraMismatchMatchesGolden(t *testing.T) {
	// exampleResultEraMismatchShelley (ouroboros-consensus-cardano,
	// unstable-cardano-testlib Test/Consensus/Cardano/Examples.hs): a Byron
	// query on a Shelley ledger. The HFC's encodeEitherMismatch is the same
	// at every modelled tag.
	for nn := 16; nn <= 19; nn++ {
		name := fmt.Sprintf("head-v%d-Result_EraMismatchShelley", nn)
		t.Run(name, func(t *testing.T) {
			e := enc{}
			encodeEraMismatch(&e, 0, "Byron", 1, "Shelley")
			if want := golden(t, name); !bytes.Equal(e.b, want) {
				t.Errorf("got %x, want %x", e.b, want)
			}
		})
	}
}

func TestQueryDecoderReadsGoldenQueries(t *testing.T) {
	nv := nodeVersions[Version110]
	for nn := 16; nn <= 19; nn++ {
		t.Run(fmt.Sprintf("v%d", nn), func(t *testing.T) {
			d := dec{b: golden(t, fmt.Sprintf("head-v%d-Query_Conway_GetGenesisConfig", nn))}
			q, err := nv.decodeBlockQuery(&d)
			if err != nil || d.off != len(d.b) {
				t.Fatalf("got %v (read %d of %d bytes), want GetGenesisConfig", err, d.off, len(d.b))
			}
			if q.block != 0 || q.era != eraConway || q.era0 != shelleyGetGenesisConfig {
				t.Errorf("got %+v, want QueryIfCurrent Conway GetGenesisConfig", q)
			}
			d = dec{b: golden(t, fmt.Sprintf("head-v%d-Query_HardFork", nn))}
			q, err = nv.decodeBlockQuery(&d)
			if err != nil || q.block != 2 || q.hf != 0 {
				t.Errorf("got %+v, %v, want QueryHardFork GetInterpreter", q, err)
			}
		})
	}
}

func TestEncodeUTCTime(t *testing.T) {
	tests := []struct {
		t    time.Time
		want string
	}{
		// The goldens' system start: 2020, day 135, midnight.
		{time.Date(2020, 5, 14, 0, 0, 0, 0, time.UTC), "831907e4188700"},
		// Mainnet's: 2017-09-23T21:44:51Z, day 266, 78291 s into the day.
		{time.Date(2017, 9, 23, 21, 44, 51, 0, time.UTC), "831907e119010a1b0116253fec1c3000"},
	}
	for _, tt := range tests {
		e := enc{}
		encodeUTCTime(&e, tt.t)
		if got := hex.EncodeToString(e.b); got != tt.want {
			t.Errorf("%v: got %s, want %s", tt.t, got, tt.want)
		}
	}
}
