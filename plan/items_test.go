package plan

import (
	"bytes"
	"errors"
	"strings"
	"testing"

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
			n, assumed, err := ChooseNetwork(tc.c)
			if !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Fatalf("got %v, want %v", err, tc.err)
			}
			if err == nil && (n.Name != tc.want || assumed != tc.assumed) {
				t.Errorf("got %s (assumed %v), want %s (assumed %v)", n.Name, assumed, tc.want, tc.assumed)
			}
		})
	}
}
