package auditlog

import (
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/kesrotate/kesrotate/internal/textsafe"
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
	// ColdSigned is true when the entry carries the cert and the pool's
	// cold key signed it (log format 2); false for format 1 entries,
	// which only the audit key vouches for.
	ColdSigned bool     `json:"cold_signed"`
	Overrides  []string `json:"overrides,omitempty"` // overrides the rotation used
	// HardwareWallet: the pool's cold key is on a hardware wallet, which
	// signed this cert (prepared at a cert-prepared entry).
	HardwareWallet bool `json:"hardware_wallet,omitempty"`
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
	// HardwareWallet: a hardware-key entry (BindingSeq) names the pool's
	// cold vkey and its key is on a hardware wallet; no cold-key signature
	// binds the audit key, the device-signed certs are the evidence.
	HardwareWallet bool `json:"hardware_wallet,omitempty"`
}

// certRun is what the counter and period rules know of a pool's certs.
type certRun struct {
	certs        int
	lastCtr      uint64
	lastPeriod   uint64 // of certs issued without an override
	periodSeq    int64  // the entry that set lastPeriod
	periodSigned bool   // that entry's cert was cold-signed
	// The certs (CBOR hex) of the entries that set lastCtr and
	// lastPeriod: the evidence a saved state carries (state.go).
	ctrCert, periodCert string
}

type poolState struct {
	created    bool // a pool-new or pool-import entry names it
	bound      bool
	coldVKey   string
	bindingSeq int64
	binding    *Binding
	all        certRun // every cert-issued entry (what Verify judges)
	signed     certRun // cold-signed ones only (what Check decides from)
	// unchecked: loaded from a saved state whose cold-key evidence (the
	// binding, the certs of signed) is checked on first use.
	unchecked bool
	// hardware: a hardware-key entry (bindingSeq) set coldVKey: the key
	// is on a hardware wallet (hardware.go). prepared is its open
	// cert-prepared entry.
	hardware bool
	prepared *preparedCert
}

// semState replays the ceremony rules over entries in order.
type semState struct {
	vaultID  string
	auditKey string
	pools    map[string]*poolState
	certs    certSet  // cert hash -> pool
	order    []string // pools in binding order
	issued   []CertRecord
	pins     map[string]PinRecord
	pinOrder []string
	removed  []PinRecord // pins a producer-removed entry ended
	// pinEvidence holds the cold-signed Pin of each signed pin, for the
	// saved state.
	pinEvidence map[string]*Pin

	format      string // the init entry's DetailFormat; "" for format 1
	certsSigned bool   // a cert-issued entry carried its cert: every later one must
	pinsSigned  bool   // a producer-add entry carried a pin: every later one must
	// signedOnly: Check (the log a command appends to) applies the
	// counter and period rules to cold-signed certs only, so that entries
	// the audit key alone vouches for (format 1 ones, or forgeries) can
	// never stop a rotation. Verify judges them all.
	signedOnly bool
	// uncheckedPins: pins loaded from a saved state, their cold-key
	// signatures not checked yet (pin checks them on first use).
	uncheckedPins map[string]*Pin
	// bad is set when saved evidence did not verify: the Log then
	// loads the log in full (state.go).
	bad *Error
}

func newSemState(vaultID, auditKey string) *semState {
	return &semState{vaultID: vaultID, auditKey: auditKey, pools: map[string]*poolState{}, certs: certSet{add: map[string]string{}},
		pins: map[string]PinRecord{}, pinEvidence: map[string]*Pin{}}
}

// overridden reports whether a cert-issued entry records an override of
// the clock or of the snapshot's age.
func overridden(e *Entry) bool {
	for _, o := range strings.Fields(e.Detail[DetailOverrides]) {
		if clockOverrides[o] {
			return true
		}
	}
	return false
}

// coldSigned reports whether e carries a cert the pool's bound cold key
// signed.
func (s *semState) coldSigned(e *Entry, p *poolState) (bool, *Error) {
	bad := func(format string, a ...any) *Error {
		return fail(ErrForged, e.Seq, "", fmt.Sprintf(format, a...), nil)
	}
	if e.Cert == "" {
		if s.format == LogFormat || s.certsSigned {
			return false, bad("cert-issued entry without the cert its pool's cold key signed")
		}
		return false, nil
	}
	c, err := e.cert()
	if err != nil {
		return false, fail(ErrTampered, e.Seq, "", "", err)
	}
	if hex.EncodeToString(c.Cold[:]) != p.coldVKey {
		return false, bad("the cert is signed by another cold key than pool %s's", e.Pool)
	}
	if err := c.CheckSignature(); err != nil {
		return false, bad("the cert's cold key signature does not verify")
	}
	return true, nil
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
			return bad(ErrForeignLog, "init entry is for vault %q, log is vault %q", textsafe.Cut(e.Detail[DetailVaultID], 40), s.vaultID)
		}
		if e.Detail[DetailAuditKey] != s.auditKey {
			return bad(ErrBinding, "init entry records another audit key than the log's")
		}
	case KindAuditBinding:
		s.trust(e.Pool)
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
		if p := s.pools[e.Pool]; p != nil && p.hardware {
			return bad(ErrBinding, "pool %s has its cold key on a hardware wallet (entry %d); it cannot be bound by a cold key in the vault", e.Pool, p.bindingSeq)
		}
	case KindCertIssued:
		p := s.trust(e.Pool)
		if p == nil || !p.keyed() {
			return bad(ErrBinding, "cert issued for pool %s before its audit-key binding", e.Pool)
		}
		if _, verr := s.coldSigned(e, p); verr != nil {
			return verr
		}
		if verr := s.checkHardware(e); verr != nil {
			return verr
		}
		return s.counterRule(e, p)
	case KindHardwareKey, KindCertPrepared, KindCertAbandoned:
		return s.checkHardware(e)
	case KindProducerAdd:
		return s.checkPin(e)
	case KindProducerRemoved:
		name := e.Detail[DetailProducer]
		old, ok := s.pin(name)
		if !ok {
			return bad(ErrSemantics, "producer %q removed but not pinned", textsafe.Cut(name, 40))
		}
		if old.Pool != e.Pool || old.Fingerprint != e.Detail[DetailFingerprint] {
			return bad(ErrSemantics, "producer %q removed with fingerprint %s, but pinned at entry %d to %s", textsafe.Cut(name, 40), textsafe.Clip(e.Detail[DetailFingerprint], 40), old.Seq, old.Fingerprint)
		}
	case KindBundleExported:
		pool, ok := s.certs.get(e.CertHash)
		if !ok {
			return bad(ErrSemantics, "bundle carries cert %s that no earlier cert-issued entry issued", e.CertHash)
		}
		if pool != e.Pool {
			return bad(ErrSemantics, "bundle for pool %s carries a cert issued for pool %s", e.Pool, pool)
		}
	}
	return nil
}

// counterRule applies the counter and KES period rules to a cert-issued
// or cert-prepared entry of p.
func (s *semState) counterRule(e *Entry, p *poolState) *Error {
	bad := func(format string, a ...any) *Error {
		return fail(ErrSemantics, e.Seq, "", fmt.Sprintf(format, a...), nil)
	}
	run := p.all
	if s.signedOnly {
		run = p.signed
	}
	n := *e.Counter
	var m uint64 // no on-chain counter: the chain treats it as 0
	if e.OnChainCounter != nil {
		m = *e.OnChainCounter
	}
	if run.certs > 0 {
		// The same number again or the next; lower only to repair a
		// cert the chain never took (the chain's counter is below the
		// previous cert) with exactly what the chain accepts next.
		recovery := n < run.lastCtr && m < run.lastCtr && (n == m+1 || (e.OnChainCounter == nil && n == 0))
		if n != run.lastCtr && !(run.lastCtr < math.MaxUint64 && n == run.lastCtr+1) && !recovery {
			return bad("pool %s counter %d after counter %d, want %d or %d", e.Pool, n, run.lastCtr, run.lastCtr, run.lastCtr+1)
		}
		if *e.KESPeriod < run.lastPeriod && !overridden(e) {
			by := "a cold-signed cert"
			if !run.periodSigned {
				by = "a cert only the audit key vouches for"
			}
			return bad("pool %s KES period %d after KES period %d (entry %d, %s)", e.Pool, *e.KESPeriod, run.lastPeriod, run.periodSeq, by)
		}
	}
	if n != m && !(m < math.MaxUint64 && n == m+1) {
		return bad("pool %s counter %d against on-chain counter %d, want %d or %d", e.Pool, n, m, m, m+1)
	}
	return nil
}

// apply records e (whether or not it broke a rule) and returns check's
// verdict. Cold-key evidence counts only when it verified.
func (s *semState) apply(e *Entry) *Error {
	verr := s.check(e)
	switch e.Kind {
	case KindInit:
		s.format = e.Detail[DetailFormat]
	case KindPoolNew, KindPoolImport:
		s.pool(e.Pool).created = true
	case KindProducerAdd:
		if verr == nil {
			s.recordPin(e)
		}
	case KindProducerRemoved:
		if verr == nil {
			s.removePin(e)
		}
	case KindAuditBinding:
		if verr == nil {
			p := s.pool(e.Pool)
			if !p.bound {
				s.order = append(s.order, e.Pool)
				b := *e.Binding
				p.bound, p.coldVKey, p.bindingSeq, p.binding = true, e.Binding.ColdVKey, e.Seq, &b
			}
		}
	case KindCertIssued:
		p := s.pool(e.Pool)
		signed := false
		if p.keyed() {
			signed, _ = s.coldSigned(e, p)
		}
		// A cert issued again (the same bytes: a KES key made on the
		// producer, certified twice) adds nothing to what the rules know;
		// an old cert copied into a new entry must not rewind them.
		if _, again := s.certs.get(e.CertHash); !again {
			p.all.add(e, signed)
			if signed {
				p.signed.add(e, signed)
			}
		}
		if signed {
			s.certsSigned = true
		}
		s.certs.put(e.CertHash, e.Pool)
		s.issued = append(s.issued, CertRecord{
			Seq: e.Seq, Time: e.Time, Pool: e.Pool, Counter: *e.Counter, KESPeriod: *e.KESPeriod,
			KESVKeyHash: e.KESVKeyHash, CertHash: e.CertHash, OnChainCounter: e.OnChainCounter,
			ColdSigned: signed, Overrides: strings.Fields(e.Detail[DetailOverrides]), HardwareWallet: p.hardware,
		})
	}
	s.applyHardware(e, verr)
	return verr
}

func (r *certRun) add(e *Entry, signed bool) {
	r.certs++
	r.lastCtr, r.ctrCert = *e.Counter, e.Cert
	if *e.KESPeriod > r.lastPeriod && !overridden(e) {
		r.lastPeriod, r.periodSeq, r.periodSigned, r.periodCert = *e.KESPeriod, e.Seq, signed, e.Cert
	}
}

// checkPin applies the rules of a producer-add entry: a pin the pool's
// bound cold key signed (required from format 2, or after the first
// one), and a name is never pinned to another enrollment.
func (s *semState) checkPin(e *Entry) *Error {
	name := e.Detail[DetailProducer]
	if e.Pin == nil {
		// A pool whose cold key is on a hardware wallet cannot sign pins:
		// the audit key alone vouches for them.
		if p := s.trust(e.Pool); (s.format == LogFormat || s.pinsSigned) && (p == nil || !p.hardware) {
			return fail(ErrForged, e.Seq, "", fmt.Sprintf("producer-add entry for %q without its pool's cold-key pin", textsafe.Cut(name, 40)), nil)
		}
	} else {
		p := s.trust(e.Pool)
		if p == nil || !p.keyed() {
			return fail(ErrBinding, e.Seq, "", fmt.Sprintf("producer pinned for pool %s before its audit-key binding", e.Pool), nil)
		}
		if e.Pin.ColdVKey != p.coldVKey {
			return fail(ErrForged, e.Seq, "", fmt.Sprintf("the pin of %q is signed by another cold key than pool %s's", textsafe.Cut(name, 40), e.Pool), nil)
		}
		if err := e.Pin.verify(s.vaultID); err != nil {
			return fail(ErrForged, e.Seq, "", fmt.Sprintf("producer %q", textsafe.Cut(name, 40)), err)
		}
	}
	if old, ok := s.pin(name); ok {
		if enr := pinEnrollment(e); old.Pool != e.Pool || old.Fingerprint != e.Detail[DetailFingerprint] || (old.Enrollment != "" && enr != "" && old.Enrollment != enr) {
			return fail(ErrSemantics, e.Seq, "", fmt.Sprintf("producer %q was pinned at entry %d to another enrollment; pins are never replaced", textsafe.Cut(name, 40), old.Seq), nil)
		}
	}
	return nil
}

// pinEnrollment is the enrollment file hash a producer-add entry names.
func pinEnrollment(e *Entry) string {
	if e.Pin != nil {
		return e.Pin.Enrollment
	}
	for _, f := range e.Files {
		if f.Role == "enrollment" {
			return f.SHA256
		}
	}
	return ""
}

func (s *semState) recordPin(e *Entry) {
	name := e.Detail[DetailProducer]
	old, ok := s.pin(name)
	if !ok {
		s.pinOrder = append(s.pinOrder, name)
	}
	if ok && old.Signed && e.Pin == nil {
		return
	}
	s.pins[name] = PinRecord{Producer: name, Pool: e.Pool, Fingerprint: e.Detail[DetailFingerprint],
		Enrollment: pinEnrollment(e), Seq: e.Seq, Signed: e.Pin != nil}
	if e.Pin != nil {
		s.pinsSigned = true
		pin := *e.Pin
		s.pinEvidence[name] = &pin
	}
}

// removePin ends a pin: bundles may no longer be sealed to it, and its
// name may be pinned again (to another enrollment, with a new pin).
func (s *semState) removePin(e *Entry) {
	name := e.Detail[DetailProducer]
	rec := s.pins[name]
	rec.Removed = e.Seq
	s.removed = append(s.removed, rec)
	delete(s.pins, name)
	delete(s.pinEvidence, name)
	delete(s.uncheckedPins, name)
	s.pinOrder = slices.DeleteFunc(s.pinOrder, func(n string) bool { return n == name })
}

// pinRecords lists the removed pins in the order they were removed, then
// the current pins in the order they were first made.
func (s *semState) pinRecords() []PinRecord {
	out := make([]PinRecord, 0, len(s.removed)+len(s.pinOrder))
	out = append(out, s.removed...)
	for _, n := range s.pinOrder {
		out = append(out, s.pins[n])
	}
	return out
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
		if p == nil || !p.keyed() {
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
		out = append(out, PoolBinding{Pool: pool, ColdVKey: p.coldVKey, BindingSeq: p.bindingSeq, Checked: checked[pool], HardwareWallet: p.hardware})
	}
	return out, nil
}
