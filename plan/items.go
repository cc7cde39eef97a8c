package plan

import (
	"fmt"

	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/opcert"
)

// CertItem is an op cert file to plan (name is where it was read). A cert
// whose cold-key signature does not verify is refused: the node rejects
// every block made with it, so there is nothing to plan, only a cert to
// replace now.
func CertItem(name string, c *opcert.Certificate) (Item, error) {
	if err := c.CheckSignature(); err != nil {
		return Item{}, err
	}
	return Item{Name: name, Source: "cert", Pool: c.PoolID(), Counter: c.Counter, StartPeriod: c.KESPeriod, CertHash: c.Hash()}, nil
}

// StatusItem is an agent's status to plan, for pool id (ParseAgentStatus
// returns both). It is named after the pool, shortened.
func StatusItem(s AgentStatus, id keys.PoolID) Item {
	return Item{Name: fmt.Sprintf("agent:%s…", id.Bech32()[:16]), Source: "agent-status", Pool: id,
		Counter: s.CertCounter, StartPeriod: s.CertKESPeriod, Status: &s}
}

// Network is the public network the status was taken on, by its magic;
// false for any other network (whose genesis must be given).
func (s AgentStatus) Network() (opcert.Network, bool) {
	for _, n := range opcert.Networks {
		if n.Magic == s.NetworkMagic {
			return n, true
		}
	}
	return opcert.Network{}, false
}
