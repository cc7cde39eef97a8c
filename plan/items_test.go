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
