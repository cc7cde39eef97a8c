package auditlog

import (
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"math"
	"time"
)

// CertRecord is one cert-issued entry as reported by Verify.
type CertRecord struct {
	Seq            int64     `json:"seq"`
	Time           time.Time `json:"time"`
	Pool           string    `json:"pool"`
	Counter        uint64    `json:"counter"`
	KESPeriod      uint64    `json:"kes_period"`
	KESVKeyHash    string    `json:"kes_vkey_hash"`
	CertHash       string    `json:"cert_hash"`
	OnChainCounter *uint64   `json:"onchain_counter,omitempty"`
}

// PoolBinding is a pool whose cold key bound the audit key.
type PoolBinding struct {
	Pool       string `json:"pool"`
	ColdVKey   string `json:"cold_vkey"`
	BindingSeq int64  `json:"binding_seq"`
	// Checked is true when the caller passed this pool's cold vkey in
	// VerifyOptions.PoolVKeys (the binding was checked against a key the
	// auditor trusts, not only the one written in the log).
	Checked bool `json:"checked"`
}

type poolState struct {
	bound      bool
	coldVKey   string
	bindingSeq int64
	certs      int
	lastCtr    uint64
	lastPeriod uint64
}

// semState replays the ceremony rules over entries in order.
type semState struct {
	vaultID  string
	auditKey string
	pools    map[string]*poolState
	certs    map[string]string // cert hash -> pool
	order    []string          // pools in binding order
	issued   []CertRecord
}

func newSemState(vaultID, auditKey string) *semState {
	return &semState{vaultID: vaultID, auditKey: auditKey, pools: map[string]*poolState{}, certs: map[string]string{}}
}

func (s *semState) pool(id string) *poolState {
	p := s.pools[id]
	if p == nil {
		p = &poolState{}
		s.pools[id] = p
	}
	return p
}

// check reports the first rule e breaks given the entries before it,
// without changing s.
func (s *semState) check(e *Entry) *Error {
	bad := func(kind error, format string, a ...any) *Error {
		return fail(kind, e.Seq, "", fmt.Sprintf(format, a...), nil)
	}
	if e.Seq == 0 && e.Kind != KindInit {
		return bad(ErrTampered, "first entry is %s, want %s", e.Kind, KindInit)
	}
	if e.Seq != 0 && e.Kind == KindInit {
		return bad(ErrTampered, "second init entry")
	}
	switch e.Kind {
	case KindInit:
		if e.Detail[DetailVaultID] != s.vaultID {
			return bad(ErrForeignLog, "init entry is for vault %q, log is vault %q", clip(e.Detail[DetailVaultID]), s.vaultID)
		}
		if e.Detail[DetailAuditKey] != s.auditKey {
			return bad(ErrBinding, "init entry records another audit key than the log's")
		}
	case KindAuditBinding:
		b := e.Binding
		if b.VaultID != s.vaultID {
			return bad(ErrForeignLog, "binding is for vault %q, log is vault %q", b.VaultID, s.vaultID)
		}
		if b.AuditKey != s.auditKey {
			return bad(ErrBinding, "binding is for another audit key than the log's")
		}
		if pool, _ := b.Pool(); pool != e.Pool {
			return bad(ErrBinding, "binding cold vkey hashes to pool %s, entry names pool %s", pool, e.Pool)
		}
		if err := VerifyBinding(*b, nil); err != nil {
			return fail(ErrBinding, e.Seq, "", "", err)
		}
		if p := s.pools[e.Pool]; p != nil && p.bound && p.coldVKey != b.ColdVKey {
			return bad(ErrBinding, "pool %s bound twice with different cold vkeys", e.Pool)
		}
	case KindCertIssued:
		p := s.pools[e.Pool]
		if p == nil || !p.bound {
			return bad(ErrBinding, "cert issued for pool %s before its audit-key binding", e.Pool)
		}
		n := *e.Counter
		var m uint64 // no on-chain counter: the chain treats it as 0
		if e.OnChainCounter != nil {
			m = *e.OnChainCounter
		}
		if p.certs > 0 {
			// The same number again or the next; lower only to repair a
			// cert the chain never took (the chain's counter is below the
			// previous cert) with exactly what the chain accepts next.
			recovery := n < p.lastCtr && m < p.lastCtr && (n == m+1 || (e.OnChainCounter == nil && n == 0))
			if n != p.lastCtr && !(p.lastCtr < math.MaxUint64 && n == p.lastCtr+1) && !recovery {
				return bad(ErrSemantics, "pool %s counter %d after counter %d, want %d or %d", e.Pool, n, p.lastCtr, p.lastCtr, p.lastCtr+1)
			}
			if *e.KESPeriod < p.lastPeriod {
				return bad(ErrSemantics, "pool %s KES period %d after KES period %d", e.Pool, *e.KESPeriod, p.lastPeriod)
			}
		}
		if n != m && !(m < math.MaxUint64 && n == m+1) {
			return bad(ErrSemantics, "pool %s counter %d against on-chain counter %d, want %d or %d", e.Pool, n, m, m, m+1)
		}
	case KindBundleExported:
		pool, ok := s.certs[e.CertHash]
		if !ok {
			return bad(ErrSemantics, "bundle carries cert %s that no earlier cert-issued entry issued", e.CertHash)
		}
		if pool != e.Pool {
			return bad(ErrSemantics, "bundle for pool %s carries a cert issued for pool %s", e.Pool, pool)
		}
	}
	return nil
}

// apply records e (whether or not it broke a rule) and returns check's
// verdict.
func (s *semState) apply(e *Entry) *Error {
	verr := s.check(e)
	switch e.Kind {
	case KindAuditBinding:
		if verr == nil {
			p := s.pool(e.Pool)
			if !p.bound {
				s.order = append(s.order, e.Pool)
				p.bound, p.coldVKey, p.bindingSeq = true, e.Binding.ColdVKey, e.Seq
			}
		}
	case KindCertIssued:
		p := s.pool(e.Pool)
		p.certs++
		p.lastCtr = *e.Counter
		if *e.KESPeriod > p.lastPeriod {
			p.lastPeriod = *e.KESPeriod
		}
		s.certs[e.CertHash] = e.Pool
		s.issued = append(s.issued, CertRecord{
			Seq: e.Seq, Time: e.Time, Pool: e.Pool, Counter: *e.Counter, KESPeriod: *e.KESPeriod,
			KESVKeyHash: e.KESVKeyHash, CertHash: e.CertHash, OnChainCounter: e.OnChainCounter,
		})
	}
	return verr
}

// bindings lists bound pools, marking those whose vkey is in vkeys; it
// fails for a vkey without a valid binding.
func (s *semState) bindings(vkeys []ed25519.PublicKey) ([]PoolBinding, *Error) {
	checked := map[string]bool{}
	for _, vk := range vkeys {
		if len(vk) != ed25519.PublicKeySize {
			return nil, fail(ErrBinding, NoSeq, "", fmt.Sprintf("pool vkey is %d bytes, want %d", len(vk), ed25519.PublicKeySize), nil)
		}
		id := PoolID(vk)
		pool := hex.EncodeToString(id[:])
		p := s.pools[pool]
		if p == nil || !p.bound {
			return nil, fail(ErrBinding, NoSeq, "", fmt.Sprintf("no audit-key binding for pool %s in this log", pool), nil)
		}
		if p.coldVKey != hex.EncodeToString(vk) {
			return nil, fail(ErrBinding, p.bindingSeq, "", fmt.Sprintf("pool %s is bound by another cold vkey", pool), nil)
		}
		checked[pool] = true
	}
	out := make([]PoolBinding, 0, len(s.order))
	for _, pool := range s.order {
		p := s.pools[pool]
		out = append(out, PoolBinding{Pool: pool, ColdVKey: p.coldVKey, BindingSeq: p.bindingSeq, Checked: checked[pool]})
	}
	return out, nil
}
