package auditlog

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	"github.com/kesrotate/kesrotate/keys"
)

// Pools whose cold key is on a hardware wallet. The vault never holds such
// a key, so it cannot sign an audit-key binding or producer pins with it;
// the device signs op certs only (through cardano-hw-cli). Three kinds of
// entry record such a pool:
//
//   - hardware-key stands where a cold-key pool has its audit-binding: it
//     names the pool's cold vkey (DetailColdVKey, which must hash to the
//     pool id) and the key's path on the device (DetailPath). A pool is
//     either bound or on a hardware wallet, never both. Its producer pins
//     need no cold-key signature (the audit key vouches for them), but
//     every cert-issued entry of the pool must carry its cert, signed by
//     that cold vkey, as in a format 2 log.
//   - cert-prepared records a rotation prepared up to the signature: the
//     counter, KES period and KES vkey hash the device is to sign, checked
//     by the same counter and period rules as a cert. At most one is open
//     per pool.
//   - the open preparation ends with the cert-issued entry of exactly that
//     cert (DetailPrepared names the cert-prepared entry), or with a
//     cert-abandoned entry naming it (its staged KES key destroyed). A
//     cert-issued entry of a hardware pool without an open preparation of
//     its counter, period and KES key breaks the rules.
const (
	KindHardwareKey   Kind = "hardware-key"
	KindCertPrepared  Kind = "cert-prepared"
	KindCertAbandoned Kind = "cert-abandoned"
)

// Detail keys of the hardware-wallet entries.
const (
	DetailColdVKey = "cold_vkey"      // hardware-key: hex of the pool's 32-byte cold vkey
	DetailPath     = "path"           // hardware-key: the key's path on the device, 1853H/1815H/0H/NH
	DetailPrepared = "prepared_entry" // cert-issued of a hardware pool, cert-abandoned: the cert-prepared entry's seq
	// DetailSealedTo names, space-separated, the producers a bundle is
	// sealed to (bundle-exported), or will be (cert-prepared: the finish
	// seals to exactly these).
	DetailSealedTo = "sealed_to"
)

// preparedCert is a pool's open cert-prepared entry.
type preparedCert struct {
	seq             int64
	counter, period uint64
	kesHash         string
	sealedTo        string // its DetailSealedTo
}

// PreparedRecord is a rotation prepared for a hardware wallet that the
// log has not seen issued or abandoned.
type PreparedRecord struct {
	Seq         int64  `json:"seq"`
	Pool        string `json:"pool"`
	Counter     uint64 `json:"counter"`
	KESPeriod   uint64 `json:"kes_period"`
	KESVKeyHash string `json:"kes_vkey_hash"`
	// SealedTo are the producers the bundle is to be sealed to, as the
	// entry names them (space-separated).
	SealedTo string `json:"sealed_to,omitempty"`
}

func (p *poolState) keyed() bool { return p.bound || p.hardware }

// validateHardware checks the fields the hardware-wallet kinds need.
func (e *Entry) validateHardware() error {
	need := func(ok bool, field string) error {
		if !ok {
			return fmt.Errorf("%s entry without %s", e.Kind, field)
		}
		return nil
	}
	switch e.Kind {
	case KindHardwareKey:
		if err := errors.Join(need(e.Pool != "", "pool"), need(e.Detail[DetailColdVKey] != "", "detail "+DetailColdVKey),
			need(e.Detail[DetailPath] != "", "detail "+DetailPath)); err != nil {
			return err
		}
		if err := checkHex("detail "+DetailColdVKey, e.Detail[DetailColdVKey], 32, false); err != nil {
			return err
		}
		vk, _ := hex.DecodeString(e.Detail[DetailColdVKey])
		if err := checkColdVKey(vk); err != nil {
			return err
		}
		if id := PoolID(vk); hex.EncodeToString(id[:]) != e.Pool {
			return errors.New("hardware-key cold vkey is not the entry's pool's")
		}
		if _, err := keys.ParseHWPath(e.Detail[DetailPath]); err != nil {
			return err
		}
	case KindCertPrepared, KindCertAbandoned:
		err := errors.Join(need(e.Pool != "", "pool"), need(e.Counter != nil, "counter"),
			need(e.KESPeriod != nil, "kes_period"), need(e.KESVKeyHash != "", "kes_vkey_hash"))
		if err == nil && e.Kind == KindCertAbandoned {
			_, perr := preparedSeq(e)
			err = perr
		}
		return err
	}
	if s, ok := e.Detail[DetailPrepared]; ok && s != "" && e.Kind != KindCertIssued && e.Kind != KindCertAbandoned {
		return fmt.Errorf("detail %s in a %s entry", DetailPrepared, e.Kind)
	}
	return nil
}

// preparedSeq reads DetailPrepared.
func preparedSeq(e *Entry) (int64, error) {
	s := e.Detail[DetailPrepared]
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != s {
		return 0, fmt.Errorf("%s entry without a detail %s naming an entry", e.Kind, DetailPrepared)
	}
	return n, nil
}

// checkHardware applies the rules of the hardware-wallet kinds and the
// ones a cert-issued entry of a hardware pool adds.
func (s *semState) checkHardware(e *Entry) *Error {
	bad := func(kind error, format string, a ...any) *Error {
		return fail(kind, e.Seq, "", fmt.Sprintf(format, a...), nil)
	}
	switch e.Kind {
	case KindHardwareKey:
		if p := s.trust(e.Pool); p != nil && p.bound {
			return bad(ErrBinding, "pool %s is bound by its cold key at entry %d; its cold key cannot also be on a hardware wallet", e.Pool, p.bindingSeq)
		}
	case KindCertPrepared:
		p := s.trust(e.Pool)
		if p == nil || !p.hardware {
			return bad(ErrBinding, "cert prepared for pool %s, which no hardware-key entry puts on a hardware wallet", e.Pool)
		}
		if p.prepared != nil {
			return bad(ErrSemantics, "pool %s has cert #%d prepared at entry %d, neither issued nor abandoned", e.Pool, p.prepared.counter, p.prepared.seq)
		}
		return s.counterRule(e, p)
	case KindCertAbandoned:
		p := s.trust(e.Pool)
		if p == nil || !p.hardware {
			return bad(ErrBinding, "cert abandoned for pool %s, which no hardware-key entry puts on a hardware wallet", e.Pool)
		}
		seq, _ := preparedSeq(e)
		if !p.preparedIs(e, seq) {
			return bad(ErrSemantics, "pool %s abandons cert #%d of entry %d, which is not its open preparation", e.Pool, *e.Counter, seq)
		}
	case KindCertIssued:
		p := s.pools[e.Pool]
		if p == nil || !p.hardware {
			return nil
		}
		if e.Cert == "" {
			return bad(ErrForged, "cert-issued entry of pool %s (hardware wallet) without the cert its cold key signed", e.Pool)
		}
		seq, err := preparedSeq(e)
		if err != nil || !p.preparedIs(e, seq) {
			return bad(ErrSemantics, "cert #%d of pool %s (hardware wallet) is not the open preparation (its counter, KES period, KES key and cert-prepared entry)", *e.Counter, e.Pool)
		}
	}
	return nil
}

// preparedIs reports whether e (a cert-issued or cert-abandoned entry
// naming seq) is p's open preparation.
func (p *poolState) preparedIs(e *Entry, seq int64) bool {
	q := p.prepared
	return q != nil && q.seq == seq && q.counter == *e.Counter && q.period == *e.KESPeriod && q.kesHash == e.KESVKeyHash
}

// applyHardware records e's effect on a pool on a hardware wallet, after
// check gave verr.
func (s *semState) applyHardware(e *Entry, verr *Error) {
	switch e.Kind {
	case KindHardwareKey:
		if verr == nil {
			p := s.pool(e.Pool)
			if !p.hardware {
				s.order = append(s.order, e.Pool)
				p.hardware, p.coldVKey, p.bindingSeq = true, e.Detail[DetailColdVKey], e.Seq
			}
		}
	case KindCertPrepared:
		// Recorded even when it broke the counter rules (a forced
		// counter): the action happened; Verify reports it.
		if p := s.pools[e.Pool]; p != nil && p.hardware {
			p.prepared = &preparedCert{seq: e.Seq, counter: *e.Counter, period: *e.KESPeriod, kesHash: e.KESVKeyHash, sealedTo: e.Detail[DetailSealedTo]}
		}
	case KindCertAbandoned, KindCertIssued:
		if p := s.pools[e.Pool]; p != nil && p.hardware && verr == nil {
			if seq, err := preparedSeq(e); err == nil && p.preparedIs(e, seq) {
				p.prepared = nil
			}
		}
	}
}

// openPreparations lists the preparations no entry ended, by pool order.
func (s *semState) openPreparations() []PreparedRecord {
	var out []PreparedRecord
	for _, id := range s.order {
		if p := s.pools[id]; p != nil && p.prepared != nil {
			q := p.prepared
			out = append(out, q.record(id))
		}
	}
	return out
}

// Prepared returns the pool's (hex id) open preparation, if any.
func (l *Log) Prepared(pool string) (PreparedRecord, bool) {
	p := l.sem.pools[pool]
	if p == nil || p.prepared == nil {
		return PreparedRecord{}, false
	}
	return p.prepared.record(pool), true
}

func (q *preparedCert) record(pool string) PreparedRecord {
	return PreparedRecord{Seq: q.seq, Pool: pool, Counter: q.counter, KESPeriod: q.period, KESVKeyHash: q.kesHash, SealedTo: q.sealedTo}
}

// HardwarePool reports whether a hardware-key entry put the pool (hex id)
// on a hardware wallet.
func (l *Log) HardwarePool(pool string) bool {
	p := l.sem.pools[pool]
	return p != nil && p.hardware
}
