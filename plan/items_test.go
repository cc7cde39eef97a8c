package plan

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kesrotate/kesrotate/internal/vectors"
	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/opcert"
)

func TestCertItem(t *testing.T) {
	cold, err := keys.NewColdKey(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	var vk keys.KESVKey
	c := opcert.Issue(cold, vk, 3, 1571)
	it, err := CertItem("node.cert", c)
	if err != nil {
		t.Fatal(err)
	}
	if it.Name != "node.cert" || it.Source != "cert" || it.Pool != c.PoolID() || it.Counter != 3 || it.StartPeriod != 1571 || it.CertHash != c.Hash() {
		t.Errorf("got %+v", it)
	}
	// cardano-cli's golden cert predates the signable of July 2020: its
	// signature fails, and no node accepts it.
	old, err := opcert.Parse(vectors.Read(t, "cardano-cli/operational_certificate"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CertItem("old.cert", old); !errors.Is(err, opcert.ErrBadSignature) {
		t.Errorf("a cert whose signature fails: got %v, want ErrBadSignature", err)
	}
}

func TestStatusItemAndNetwork(t *testing.T) {
	s, id, err := ParseAgentStatus([]byte(goodStatus))
	if err != nil {
		t.Fatal(err)
	}
	it := StatusItem(s, id)
	if it.Source != "agent-status" || it.Pool != id || it.Status == nil || it.Counter != s.CertCounter || it.StartPeriod != s.CertKESPeriod ||
		!strings.HasPrefix(it.Name, "agent:pool1") || !strings.HasSuffix(it.Name, "…") {
		t.Errorf("got %+v", it)
	}
	for _, tc := range []struct {
		magic uint32
		want  string
	}{{764824073, "mainnet"}, {1, "preprod"}, {2, "preview"}, {42, ""}} {
		s.NetworkMagic = tc.magic
		n, ok := s.Network()
		if ok != (tc.want != "") || n.Name != tc.want {
			t.Errorf("magic %d: got %q, %v, want %q", tc.magic, n.Name, ok, tc.want)
		}
	}
}

func TestChooseNetwork(t *testing.T) {
	preprod, preview := opcert.Preprod, opcert.Preview
	st := AgentStatus{NetworkMagic: opcert.Preview.Magic}
	custom := AgentStatus{NetworkMagic: 42}
	for _, tc := range []struct {
		name    string
		c       NetworkChoice
		want    string
		assumed bool
		err     error
	}{
		{"nothing says", NetworkChoice{}, "mainnet", true, nil},
		{"named", NetworkChoice{Named: &preprod}, "preprod", false, nil},
		{"named and the vault agree", NetworkChoice{Named: &preprod, Vault: &preprod}, "preprod", false, nil},
		{"named and the vault disagree", NetworkChoice{Named: &preprod, Vault: &preview}, "", false, ErrNetworkConflict},
		{"the vault's", NetworkChoice{Vault: &preprod, Status: &st}, "preprod", false, nil},
		{"a status's", NetworkChoice{Status: &st}, "preview", false, nil},
		{"a status of another network", NetworkChoice{Status: &custom}, "mainnet", true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ChooseNetwork(tc.c)
			if !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Fatalf("got %v, want %v", err, tc.err)
			}
			if err == nil && (c.Network.Name != tc.want || c.Assumed != tc.assumed) {
				t.Errorf("got %s (assumed %v), want %s (assumed %v)", c.Network.Name, c.Assumed, tc.want, tc.assumed)
			}
		})
	}
}

// TestCheckCert: a cert plainly of another network is refused when the
// network was assumed, judged by the clock and by the slot a verify is
// made at; a chosen network is never second-guessed.
func TestCheckCert(t *testing.T) {
	mainnet, preprod := opcert.Mainnet, opcert.Preprod
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	ppStart, err := preprod.KESPeriodAt(now) // a preprod cert made today
	if err != nil {
		t.Fatal(err)
	}
	mnNow, err := mainnet.SlotAt(now)
	if err != nil {
		t.Fatal(err)
	}
	ppSlot := preprod.PeriodStartSlot(ppStart) + 1000 // the preprod tip today
	then := mainnet.PeriodStart(ppStart)              // when mainnet was in the preprod cert's period
	slot := func(s uint64) *uint64 { return &s }
	assumed, named := Chosen{Network: mainnet, Assumed: true}, Chosen{Network: mainnet}
	for _, tc := range []struct {
		name   string
		c      Chosen
		start  uint64
		now    time.Time
		at     *uint64
		refuse bool
	}{
		{"a preprod cert by the clock", assumed, ppStart, now, nil, true},
		{"a preprod cert at its own chain's tip slot", assumed, ppStart, now, slot(ppSlot), true},
		{"a preprod cert at a mainnet slot, the clock wrong", assumed, ppStart, then, slot(mnNow), true},
		{"a mainnet cert", assumed, mainnet.KESPeriod(mnNow), now, slot(mnNow), false},
		{"a preprod cert on mainnet named", named, ppStart, now, slot(ppSlot), false},
		{"a preprod cert, the clock wrong, no slot", assumed, ppStart, then, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.c.CheckCert(tc.start, tc.now, tc.at)
			var oe *opcert.OtherNetworkError
			if got := errors.As(err, &oe); got != tc.refuse {
				t.Fatalf("got %v, want refused %v", err, tc.refuse)
			}
			if tc.refuse && oe.Likely.Name != "preprod" {
				t.Errorf("got likely %s, want preprod", oe.Likely.Name)
			}
		})
	}
}
