package plan

import (
	"fmt"
	"time"

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
	n, err := opcert.NetworkByMagic(s.NetworkMagic)
	return n, err == nil
}

// NetworkChoice is what may say which network certs and statuses are
// judged on.
type NetworkChoice struct {
	Named  *opcert.Network // the operator named it (--network, --genesis)
	Vault  *opcert.Network // the vault's, when a vault is given
	Status *AgentStatus    // an agent status read, when no vault is given
}

// Chosen is the network certs and statuses are judged on, and whether
// nothing named it (Assumed: mainnet by default).
type Chosen struct {
	Network opcert.Network
	Assumed bool
}

// ChooseNetwork picks the network to plan and verify on: the one named,
// else the vault's, else the public network an agent status was taken on,
// else mainnet, and then assumed: a cert plainly of another network must
// be refused rather than judged (Chosen.CheckCert). A named network the
// vault is not on is refused (ErrNetworkConflict): the vault's certs would
// be judged on the wrong chain.
func ChooseNetwork(c NetworkChoice) (Chosen, error) {
	switch {
	case c.Named != nil && c.Vault != nil && c.Named.Magic != c.Vault.Magic:
		return Chosen{}, fmt.Errorf("%w: the vault is for %s (magic %d), not %s (magic %d)", ErrNetworkConflict, c.Vault.Name, c.Vault.Magic, c.Named.Name, c.Named.Magic)
	case c.Named != nil:
		return Chosen{Network: *c.Named}, nil
	case c.Vault != nil:
		return Chosen{Network: *c.Vault}, nil
	}
	if c.Status != nil {
		if n, ok := c.Status.Network(); ok {
			return Chosen{Network: n}, nil
		}
	}
	return Chosen{Network: opcert.Mainnet, Assumed: true}, nil
}

// CheckCert refuses, with an *opcert.OtherNetworkError, a cert starting at
// KES period start that plainly belongs to another public network than
// the one assumed (opcert.Network.CheckAssumed), judged at now and, when
// the cert is judged at a given slot (at is not nil), at that slot's time
// on the assumed network too: a slot read off another chain's tip makes
// the cert look current there, but the clock still tells the chains
// apart, and a slot of the assumed chain tells apart a cert of another.
// A network that was named, or read from a vault or a status, is never
// second-guessed.
func (c Chosen) CheckCert(start uint64, now time.Time, at *uint64) error {
	if !c.Assumed {
		return nil
	}
	if err := c.Network.CheckAssumed(start, now); err != nil {
		return err
	}
	if at != nil {
		return c.Network.CheckAssumed(start, c.Network.SlotTime(*at))
	}
	return nil
}
