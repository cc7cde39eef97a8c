package ceremony

import (
	"fmt"

	"github.com/kesrotate/kesrotate/plan"
)

// PlanItems is what the vault knows for 'kesrotate plan': for each pool,
// its newest issued cert with the pool's counter history and the newest
// cert each producer received. A pool that never had a cert issued from
// this vault is named in warnings instead: plan cannot see its node.cert.
func (v *Vault) PlanItems() (items []plan.Item, warnings []string, err error) {
	pools, err := v.Pools()
	if err != nil {
		return nil, nil, err
	}
	for _, p := range pools {
		entries, err := p.Journal()
		if err != nil {
			return nil, nil, fmt.Errorf("pool %s: %w", p.Meta.Name, err)
		}
		issued := Issued(entries)
		if len(issued) == 0 {
			warnings = append(warnings, fmt.Sprintf("pool %s: no cert was issued from this vault; plan its node.cert with --cert", p.Meta.Name))
			continue
		}
		cert, err := issued[len(issued)-1].Certificate()
		if err != nil {
			return nil, nil, fmt.Errorf("pool %s: %w", p.Meta.Name, err)
		}
		h, err := History(entries)
		if err != nil {
			return nil, nil, fmt.Errorf("pool %s: %w", p.Meta.Name, err)
		}
		holdings := []plan.Holding{}
		for _, pc := range Holdings(entries) {
			holdings = append(holdings, plan.Holding{Producer: pc.Producer, Counter: pc.Counter, KESPeriod: pc.KESPeriod, CertHash: pc.CertHash})
		}
		items = append(items, plan.Item{Name: p.Meta.Name, Source: "vault", Pool: cert.PoolID(),
			Counter: cert.Counter, StartPeriod: cert.KESPeriod, CertHash: cert.Hash(), History: &h, Holdings: holdings})
	}
	return items, warnings, nil
}
