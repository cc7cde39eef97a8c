package ceremony

import (
	"time"

	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/opcert"
)

// PoolState is a pool's state as 'pool show' and 'pool list' print it:
// its identity, its keys, its counter, the certs its journal issued, what
// each producer holds, and a rotation waiting for a hardware wallet. It is
// the counterpart of Vault.LogState for one pool.
type PoolState struct {
	Meta   PoolMeta
	PoolID keys.PoolID
	// VRFKeyHash is the hash of the pool's VRF vkey (what its
	// registration carries); nil when the vault holds no VRF key.
	VRFKeyHash *[32]byte
	// CounterNext is the counter file's next number; History what the
	// journal says of the counters (the last issued, the chain's seen).
	CounterNext uint64
	History     opcert.History
	// Certs are the certs issued, oldest first, each with its expiry.
	Certs []CertState
	// Producers: the newest cert each producer received.
	Producers []ProducerCert
	// Prepared is a rotation prepared for the hardware wallet, not
	// finished or abandoned, and what the device will show for it; nil
	// when there is none.
	Prepared *Prepared
	Device   DeviceScreen
}

// CertState is one issued cert of a PoolState.
type CertState struct {
	JournalEntry
	Expiry time.Time // when its KES key can no longer forge
}

// State reads the pool's state. It refuses a damaged pool.json (a VRF key
// hash it cannot compute), a damaged journal or counter file.
func (p *Pool) State() (*PoolState, error) {
	id, err := p.PoolID()
	if err != nil {
		return nil, err
	}
	entries, err := p.Journal()
	if err != nil {
		return nil, err
	}
	h, err := History(entries)
	if err != nil {
		return nil, err
	}
	counter, err := p.Counter()
	if err != nil {
		return nil, err
	}
	s := &PoolState{Meta: p.Meta, PoolID: id, CounterNext: counter.Next, History: h, Certs: []CertState{}, Producers: Holdings(entries)}
	if p.Meta.VRFVKey != "" {
		hash, err := p.VRFKeyHash()
		if err != nil {
			return nil, err
		}
		s.VRFKeyHash = &hash
	}
	if s.Producers == nil {
		s.Producers = []ProducerCert{}
	}
	if s.Prepared, err = p.Prepared(); err != nil {
		return nil, err
	}
	if s.Prepared != nil {
		if s.Device, err = p.DeviceScreen(s.Prepared); err != nil {
			return nil, err
		}
	}
	for _, e := range Issued(entries) {
		s.Certs = append(s.Certs, CertState{JournalEntry: e, Expiry: p.v.Network.CertExpiry(e.KESPeriod)})
	}
	return s, nil
}
