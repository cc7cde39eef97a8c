package opcert

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kesrotate/kesrotate/internal/vectors"
	"github.com/kesrotate/kesrotate/keys"
)

type headerVector struct {
	Slot        uint64 `json:"slot"`
	IssuerVKey  string `json:"issuer_vkey"`
	PoolID      string `json:"pool_id_hex_blake2b224_of_issuer_vkey"`
	SlotsPerKES uint64 `json:"slots_per_kes_period"`
	CurrentKES  uint64 `json:"current_kes_period"`
	Evolution   int64  `json:"kes_evolution_t"`
	KESSig      string `json:"kes_signature_448"`
	HeaderBody  string `json:"header_body_cbor"`
	OpCert      struct {
		HotVKey  string `json:"hot_vkey"`
		Seq      uint64 `json:"sequence_number"`
		Period   uint64 `json:"kes_period"`
		Sigma    string `json:"sigma"`
		Signable string `json:"signable_bytes"`
	} `json:"opcert"`
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMainnetOpCertsVerifyAtTheirSlot(t *testing.T) {
	matches, _ := filepath.Glob(filepath.Join(vectors.Dir(t), "blocks", "*.header.json"))
	if len(matches) < 6 {
		t.Fatalf("found %d header vectors, want 6 (one per era)", len(matches))
	}
	for _, path := range matches {
		t.Run(filepath.Base(path), func(t *testing.T) {
			var v headerVector
			if err := json.Unmarshal(vectors.Read(t, filepath.Join("blocks", filepath.Base(path))), &v); err != nil {
				t.Fatal(err)
			}
			c := &Certificate{Counter: v.OpCert.Seq, KESPeriod: v.OpCert.Period}
			copy(c.KESVKey[:], mustHex(t, v.OpCert.HotVKey))
			copy(c.Sigma[:], mustHex(t, v.OpCert.Sigma))
			copy(c.Cold[:], mustHex(t, v.IssuerVKey))
			if got := hex.EncodeToString(Signable(c.KESVKey, c.Counter, c.KESPeriod)); got != v.OpCert.Signable {
				t.Errorf("signable: got %s, want %s", got, v.OpCert.Signable)
			}
			if got := c.PoolID().Hex(); got != v.PoolID {
				t.Errorf("pool id: got %s, want %s", got, v.PoolID)
			}
			r, err := Verify(Inputs{Cert: c, Network: Mainnet, Slot: v.Slot})
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if r.CurrentPeriod != v.CurrentKES || r.Evolution != v.Evolution {
				t.Errorf("period/evolution: got %d/%d, want %d/%d", r.CurrentPeriod, r.Evolution, v.CurrentKES, v.Evolution)
			}
			// The block's KES signature verifies with the certified hot key
			// at the evolution we computed.
			if !c.KESVKey.Verify(uint64(r.Evolution), mustHex(t, v.HeaderBody), mustHex(t, v.KESSig)) {
				t.Error("block KES signature does not verify at our evolution")
			}
			// Independently of our arithmetic: mainnet slot = unix - 1591566291.
			wantExpiry := time.Unix(int64((v.OpCert.Period+62)*129600)+1591566291, 0).UTC()
			if !r.Expiry.Equal(wantExpiry) {
				t.Errorf("expiry: got %s, want %s", r.Expiry, wantExpiry)
			}
			// The same cert at a slot past its window fails as the node would.
			_, err = Verify(Inputs{Cert: c, Network: Mainnet, Slot: (v.OpCert.Period + 62) * 129600})
			if !errors.Is(err, ErrKESAfterEnd) {
				t.Errorf("at first slot after expiry: got %v, want ErrKESAfterEnd", err)
			}
			_, err = Verify(Inputs{Cert: c, Network: Mainnet, Slot: (v.OpCert.Period+62)*129600 - 1})
			if err != nil {
				t.Errorf("at last valid slot: %v", err)
			}
			c.Counter++
			if err := c.CheckSignature(); !errors.Is(err, ErrBadSignature) {
				t.Errorf("changed counter: got %v, want ErrBadSignature", err)
			}
		})
	}
}

func TestTrapCertFromBefore2020FailsSignature(t *testing.T) {
	data := vectors.Read(t, "cardano-cli/operational_certificate")
	c, err := Parse(data)
	if err != nil {
		t.Fatalf("layout must parse: %v", err)
	}
	if c.Counter != 0 || c.KESPeriod != 1000 {
		t.Errorf("fields: got n=%d c0=%d, want 0 and 1000", c.Counter, c.KESPeriod)
	}
	if err := c.CheckSignature(); !errors.Is(err, ErrBadSignature) {
		t.Errorf("got %v, want ErrBadSignature", err)
	}
	if got, want := strings.TrimSpace(string(c.MarshalEnvelope())), strings.TrimSpace(string(data)); got != want {
		t.Errorf("envelope round trip:\n%s\nwant\n%s", got, want)
	}
}

func TestCredentialSetsVerify(t *testing.T) {
	type set struct{ cert, vrf, kes []byte }
	var sets []set
	var bulk [][]json.RawMessage
	if err := json.Unmarshal(vectors.Read(t, "ouroboros-consensus/bulk-creds-k2.json"), &bulk); err != nil {
		t.Fatal(err)
	}
	for _, b := range bulk {
		sets = append(sets, set{b[0], b[1], b[2]})
	}
	sets = append(sets, set{vectors.Read(t, "dingo-devnet/opcert.cert"), vectors.Read(t, "dingo-devnet/vrf.skey"), vectors.Read(t, "dingo-devnet/kes.skey")})
	geneses := []string{"ouroboros-consensus/shelley-genesis.json", "ouroboros-consensus/shelley-genesis.json", "dingo-devnet/shelley-genesis.json"}
	for i, s := range sets {
		g := vectors.Read(t, geneses[i])
		n, err := ParseGenesis(g)
		if err != nil {
			t.Fatal(err)
		}
		c, err := Parse(s.cert)
		if err != nil {
			t.Fatal(err)
		}
		k, err := keys.ParseKESKey(s.kes)
		if err != nil {
			t.Fatal(err)
		}
		v, err := keys.ParseVRFKey(s.vrf)
		if err != nil {
			t.Fatal(err)
		}
		r, err := Verify(Inputs{Cert: c, Network: n, Slot: n.PeriodStartSlot(c.KESPeriod) + 5, KES: k, VRF: v})
		if err != nil {
			t.Errorf("set %d: %v", i, err)
		}
		if !bytes.Contains(g, []byte(r.PoolID)) {
			t.Errorf("set %d: pool id %s not in the genesis staking pools", i, r.PoolID)
		}
		h := v.Public().Hash()
		if !bytes.Contains(g, []byte(hex.EncodeToString(h[:]))) {
			t.Errorf("set %d: VRF key hash not in the genesis", i)
		}
		if got := strings.TrimSpace(string(c.MarshalEnvelope())); got != strings.TrimSpace(string(s.cert)) {
			t.Errorf("set %d: cert does not write back byte for byte", i)
		}
	}
}

func TestIssueFromCardanoCLIColdKey(t *testing.T) {
	cold, err := keys.ParseColdKey(vectors.Read(t, "cardano-cli/node-cold.skey"))
	if err != nil {
		t.Fatal(err)
	}
	kesKey, err := keys.NewKESKey(bytes.Repeat([]byte{5}, 32))
	if err != nil {
		t.Fatal(err)
	}
	c := Issue(cold, kesKey.Public(), 3, 901)
	back, err := Parse(c.MarshalEnvelope())
	if err != nil {
		t.Fatal(err)
	}
	if *back != *c {
		t.Error("cert changed on envelope round trip")
	}
	if err := back.CheckSignature(); err != nil {
		t.Error(err)
	}
	vk := cold.Public()
	slot := Mainnet.PeriodStartSlot(901 + 61)
	if _, err := Verify(Inputs{Cert: back, Network: Mainnet, Slot: slot, Cold: &vk, KES: kesKey}); err != nil {
		t.Errorf("Verify at evolution 61: %v", err)
	}
	other, _ := keys.NewColdKey(bytes.Repeat([]byte{8}, 32))
	ovk := other.Public()
	if _, err := Verify(Inputs{Cert: back, Network: Mainnet, Slot: slot, Cold: &ovk}); !errors.Is(err, ErrWrongColdKey) {
		t.Errorf("other cold key: got %v, want ErrWrongColdKey", err)
	}
	otherKES, _ := keys.NewKESKey(bytes.Repeat([]byte{6}, 32))
	r, err := Verify(Inputs{Cert: back, Network: Mainnet, Slot: slot, KES: otherKES})
	if err == nil || r.OK {
		t.Error("a KES key the cert does not certify was accepted")
	}
}

func TestParseRejects(t *testing.T) {
	good := vectors.Read(t, "dingo-devnet/opcert.cert")
	e, _ := keys.ParseEnvelope(good)
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"trailing byte", (&keys.Envelope{Type: keys.TypeOperationalCertificate, CBOR: append(bytes.Clone(e.CBOR), 0)}).Marshal(), ErrEncoding},
		{"truncated", (&keys.Envelope{Type: keys.TypeOperationalCertificate, CBOR: e.CBOR[:len(e.CBOR)-1]}).Marshal(), ErrEncoding},
		{"short cold key", (&keys.Envelope{Type: keys.TypeOperationalCertificate, CBOR: append(append(bytes.Clone(e.CBOR[:len(e.CBOR)-34]), 0x58, 0x1f), e.CBOR[len(e.CBOR)-31:]...)}).Marshal(), ErrEncoding},
		{"wrong type", vectors.Read(t, "dingo-devnet/kes.skey"), keys.ErrType},
		{"not json", []byte("82845820"), keys.ErrEnvelope},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse(tc.data); !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestCheckCounter(t *testing.T) {
	for _, tc := range []struct {
		n    uint64
		m    OnChain
		want error
	}{
		{0, None(), nil}, {1, None(), nil}, {2, None(), ErrCounterOverIncremented},
		{5, Recorded(5), nil}, {6, Recorded(5), nil}, {7, Recorded(5), ErrCounterOverIncremented},
		{4, Recorded(5), ErrCounterTooSmall},
	} {
		if err := CheckCounter(tc.n, tc.m); !errors.Is(err, tc.want) {
			t.Errorf("n=%d m=%s: got %v, want %v", tc.n, tc.m, err, tc.want)
		}
	}
}

func TestNextCounter(t *testing.T) {
	issued := func(last, max uint64, seen OnChain) History {
		return History{Issued: true, LastIssued: last, MaxIssued: max, Seen: seen}
	}
	for _, tc := range []struct {
		name    string
		onchain OnChain
		h       History
		want    uint64
		err     error
	}{
		{"never minted, never issued", None(), History{}, 0, nil},
		{"never minted, issued 0 before", None(), issued(0, 0, None()), 0, nil},
		{"never minted, issued 1 by force", None(), issued(1, 1, None()), 1, nil},
		{"never minted, imported counter at 5", None(), issued(4, 4, None()), 0, nil},
		{"chain saw our last cert", Recorded(3), issued(3, 3, Recorded(2)), 4, nil},
		{"last cert never minted: same number again", Recorded(3), issued(4, 4, Recorded(3)), 4, nil},
		{"issued twice without minting stays at m+1", Recorded(3), issued(4, 4, Recorded(3)), 4, nil},
		{"first issue after minting cert 0", Recorded(0), issued(0, 0, None()), 1, nil},
		{"chain ahead of the journal", Recorded(5), issued(3, 3, Recorded(2)), 0, ErrOnChainAhead},
		{"chain has a counter, vault issued none", Recorded(0), History{}, 0, ErrOnChainAhead},
		{"chain went backwards", Recorded(2), issued(4, 4, Recorded(3)), 0, ErrOnChainBackwards},
		{"chain forgot the pool", None(), issued(4, 4, Recorded(3)), 0, ErrOnChainBackwards},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NextCounter(tc.onchain, tc.h)
			if !errors.Is(err, tc.err) || (err == nil && got != tc.want) {
				t.Errorf("got %d, %v; want %d, %v", got, err, tc.want, tc.err)
			}
			if err == nil {
				if cerr := CheckCounter(got, tc.onchain); cerr != nil {
					t.Errorf("chosen counter %d fails the header rule: %v", got, cerr)
				}
			}
		})
	}
}

func TestPeriodsOfThePublicNetworks(t *testing.T) {
	// Independent formulas from the protocol notes: after the Shelley
	// start, slot = unix time - offset.
	offsets := map[string]int64{"mainnet": 1591566291, "preprod": 1655683200, "preview": 1666656000}
	for _, n := range Networks {
		t.Run(n.Name, func(t *testing.T) {
			off := offsets[n.Name]
			for _, unix := range []int64{1700000000, 1767225600, 1800000123} {
				slot, err := n.SlotAt(time.Unix(unix, 0))
				if err != nil {
					t.Fatal(err)
				}
				if want := uint64(unix - off); slot != want {
					t.Errorf("slot at %d: got %d, want %d", unix, slot, want)
				}
				if got := n.SlotTime(slot).Unix(); got != unix {
					t.Errorf("time of slot %d: got %d, want %d", slot, got, unix)
				}
			}
			// Period boundaries: the last second of period p and the first of p+1.
			p := uint64(900)
			start := n.PeriodStart(p + 1)
			if start.Unix() != int64((p+1)*129600)+off {
				t.Errorf("start of period %d: got %d, want %d", p+1, start.Unix(), int64((p+1)*129600)+off)
			}
			if got, _ := n.KESPeriodAt(start.Add(-time.Second)); got != p {
				t.Errorf("one second before the boundary: got %d, want %d", got, p)
			}
			if got, _ := n.KESPeriodAt(start); got != p+1 {
				t.Errorf("at the boundary: got %d, want %d", got, p+1)
			}
			if _, err := n.SlotAt(n.SystemStart.Add(-time.Second)); !errors.Is(err, ErrBeforeSystemStart) {
				t.Errorf("before system start: got %v", err)
			}
		})
	}
	// Byron: mainnet's first slots are 20 seconds long.
	if s, _ := Mainnet.SlotAt(Mainnet.SystemStart.Add(59 * time.Second)); s != 2 {
		t.Errorf("mainnet byron slot after 59 s: got %d, want 2", s)
	}
	if got := Mainnet.ShelleyStart().Unix(); got != 1596059091 {
		t.Errorf("mainnet shelley start: got %d, want 1596059091", got)
	}
	if got := Preprod.ShelleyStart().Unix(); got != 1655769600 {
		t.Errorf("preprod shelley start: got %d, want 1655769600", got)
	}
}

func TestParseGenesis(t *testing.T) {
	n, err := ParseGenesis(vectors.Read(t, "ouroboros-consensus/shelley-genesis.json"))
	if err != nil {
		t.Fatal(err)
	}
	if n.Magic != 42 || n.MaxKESEvolutions != 60 || n.SlotsPerKESPeriod != 129600 || n.SlotLength != time.Second || n.EpochLength != 432000 {
		t.Errorf("got %+v", n)
	}
	if want := time.Date(2022, 6, 16, 8, 4, 19, 0, time.UTC); !n.SystemStart.Equal(want) {
		t.Errorf("system start: got %s, want %s", n.SystemStart, want)
	}
	d, err := ParseGenesis(vectors.Read(t, "dingo-devnet/shelley-genesis.json"))
	if err != nil {
		t.Fatal(err)
	}
	if d.SlotLength != 100*time.Millisecond || d.EpochLength != 5 {
		t.Errorf("dingo slot length and epoch length: got %s and %d, want 100ms and 5", d.SlotLength, d.EpochLength)
	}
	// The public networks' epochs (their genesis files say 432000 and 86400).
	for _, tc := range []struct {
		n    Network
		want uint64
	}{{Mainnet, 432000}, {Preprod, 432000}, {Preview, 86400}} {
		if tc.n.EpochLength != tc.want {
			t.Errorf("%s epoch length: got %d, want %d", tc.n.Name, tc.n.EpochLength, tc.want)
		}
	}
	// 129600 slots of 0.1 s: a period is 3.6 hours.
	if got := d.PeriodStart(2).Sub(d.SystemStart); got != 2*12960*time.Second {
		t.Errorf("dingo period 2 starts after %s, want %s", got, 2*12960*time.Second)
	}
	// A cert's expiry on a 60-evolution network.
	c := &Certificate{KESPeriod: 10}
	if got, want := c.Expiry(n), n.SystemStart.Add(70*129600*time.Second); !got.Equal(want) {
		t.Errorf("expiry: got %s, want %s", got, want)
	}
	for _, bad := range []string{`{}`, `{"networkMagic":1,"slotsPerKESPeriod":0,"maxKESEvolutions":62,"systemStart":"2022-01-01T00:00:00Z","slotLength":1}`, `not json`,
		`{"networkMagic":1,"slotsPerKESPeriod":10,"maxKESEvolutions":62,"systemStart":"2022-01-01T00:00:00Z","slotLength":-1}`,
		`{"networkMagic":1,"slotsPerKESPeriod":10,"maxKESEvolutions":90,"systemStart":"2022-01-01T00:00:00Z","slotLength":1}`} {
		if _, err := ParseGenesis([]byte(bad)); !errors.Is(err, ErrGenesis) {
			t.Errorf("ParseGenesis(%s): got %v, want ErrGenesis", bad, err)
		}
	}
	if _, err := NetworkByName("sanchonet"); !errors.Is(err, ErrUnknownNetwork) {
		t.Errorf("unknown network: got %v", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, p := range []string{"cardano-cli/operational_certificate", "dingo-devnet/opcert.cert"} {
		f.Add(vectors.Read(f, p))
		e, _ := keys.ParseEnvelope(vectors.Read(f, p))
		f.Add(e.CBOR)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, parse := range []func([]byte) (*Certificate, error){Parse, ParseCBOR} {
			c, err := parse(data)
			if err != nil {
				continue
			}
			back, err := Parse(c.MarshalEnvelope())
			if err != nil || *back != *c {
				t.Fatalf("round trip: %v", err)
			}
			_ = c.CheckSignature()
		}
	})
}

func TestNetworkOf(t *testing.T) {
	n, err := NetworkOf("preview", func() ([]byte, error) { t.Fatal("read the genesis of a public network"); return nil, nil })
	if err != nil || n.Name != "preview" {
		t.Errorf("preview: %+v, %v", n, err)
	}
	g, err := NetworkOf(GenesisName, func() ([]byte, error) { return vectors.Read(t, "ouroboros-consensus/shelley-genesis.json"), nil })
	if err != nil || g.Magic != 42 {
		t.Errorf("genesis: %+v, %v", g, err)
	}
	if _, err := NetworkOf("testnet", nil); !errors.Is(err, ErrUnknownNetwork) {
		t.Errorf("unknown: %v", err)
	}
}
