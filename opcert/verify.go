package opcert

import (
	"errors"
	"fmt"
	"time"

	"github.com/kesrotate/kesrotate/keys"
)

// Check is one named check of a Report.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// Inputs are what Verify checks a cert against. Only Cert, Network and Slot
// are required.
type Inputs struct {
	Cert    *Certificate
	Network Network
	Slot    uint64 // the chain's current absolute slot
	Cold    *keys.ColdVKey
	KES     *keys.KESKey
	VRF     *keys.VRFKey
	VRFVKey *keys.VRFVKey // an expected VRF key (installed or registered)
	OnChain *OnChain      // the chain's counter for the pool, if known
}

// Report is a kes-period-info-like account of a cert at a slot.
type Report struct {
	PoolID           string    `json:"pool_id"`
	PoolIDBech32     string    `json:"pool_id_bech32"`
	Counter          uint64    `json:"counter"`
	CertHash         string    `json:"cert_hash"`
	Slot             uint64    `json:"slot"`
	CurrentPeriod    uint64    `json:"current_kes_period"`
	StartPeriod      uint64    `json:"cert_start_kes_period"`
	EndPeriod        uint64    `json:"cert_end_kes_period"` // first period the cert is no longer valid in
	RemainingPeriods int64     `json:"remaining_kes_periods"`
	Evolution        int64     `json:"kes_evolution"` // t = current - start, what the node evolves the key to
	Expiry           time.Time `json:"expiry"`
	Checks           []Check   `json:"checks"`
	OK               bool      `json:"ok"`
}

// Verify checks a cert the way the node does at a slot: the cold signature,
// the validity window, the KES key against the cert (fresh, matching, and a
// sign/verify round trip at the evolution the node would use), the VRF key,
// and the counter against the chain when known. It always returns a report;
// the error joins every failed check.
func Verify(in Inputs) (*Report, error) {
	c, n := in.Cert, in.Network
	kp := n.KESPeriod(in.Slot)
	w := c.Window(n)
	r := &Report{
		PoolID: c.PoolID().Hex(), PoolIDBech32: c.PoolID().Bech32(),
		Counter: c.Counter, CertHash: c.Hash(), Slot: in.Slot,
		CurrentPeriod: kp, StartPeriod: w.Start, EndPeriod: w.End,
		RemainingPeriods: int64(w.End) - int64(kp),
		Evolution:        int64(kp) - int64(w.Start),
		Expiry:           c.Expiry(n),
	}
	var errs []error
	add := func(name string, err error, okDetail string) {
		ch := Check{Name: name, OK: err == nil, Detail: okDetail}
		if err != nil {
			ch.Detail = err.Error()
			errs = append(errs, err)
		}
		r.Checks = append(r.Checks, ch)
	}

	add("cold-signature", c.CheckSignature(), "the cold key signed kes_vk ‖ counter ‖ period")
	if in.Cold != nil {
		var err error
		if *in.Cold != c.Cold {
			err = fmt.Errorf("%w: cert is for pool %s, the cold vkey is pool %s", ErrWrongColdKey, c.PoolID(), in.Cold.PoolID())
		}
		add("cold-key", err, "cert names the given cold key")
	}
	add("kes-window", w.Check(kp), fmt.Sprintf("period %d is in %d..%d", kp, w.Start, w.End-1))
	if in.KES != nil {
		var err error
		if in.KES.Public() != c.KESVKey {
			err = errors.New("the KES signing key is not the one the cert certifies")
		}
		add("kes-key", err, "KES skey is fresh and is the cert's hot key")
		if err == nil && w.Contains(kp) {
			add("kes-round-trip", kesRoundTrip(in.KES, c.KESVKey, uint64(r.Evolution)),
				fmt.Sprintf("signed and verified at evolution %d", r.Evolution))
		}
	}
	if in.VRF != nil && in.VRFVKey != nil {
		var err error
		if in.VRF.Public() != *in.VRFVKey {
			err = errors.New("the VRF signing key is not the expected VRF key")
		}
		add("vrf-key", err, "VRF skey matches the expected VRF key")
	} else if in.VRF != nil {
		h := in.VRF.Public().Hash()
		add("vrf-key", nil, fmt.Sprintf("seed and public half agree; key hash %x", h))
	}
	if in.OnChain != nil {
		add("counter", CheckCounter(c.Counter, *in.OnChain), fmt.Sprintf("chain has %s, cert has %d", in.OnChain, c.Counter))
	}
	r.OK = len(errs) == 0
	return r, errors.Join(errs...)
}

// kesRoundTrip signs a probe message with the key evolved to t and checks
// it with the certified verification key.
func kesRoundTrip(k *keys.KESKey, vk keys.KESVKey, t uint64) error {
	msg := []byte("kesrotate KES round trip")
	sig, err := k.Sign(t, msg)
	if err != nil {
		return fmt.Errorf("KES signing at evolution %d: %w", t, err)
	}
	if !vk.Verify(t, msg, sig) {
		return fmt.Errorf("KES signature at evolution %d does not verify", t)
	}
	return nil
}
