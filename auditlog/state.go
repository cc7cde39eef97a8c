package auditlog

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/kesrotate/kesrotate/internal/textsafe"
	"github.com/kesrotate/kesrotate/opcert"
)

// FileState is a cache beside the log, not part of its layout (Export
// leaves it out, Verify never reads it): what Open needs to append, so
// that opening a log costs the same at 10 entries and at 10,000. It holds
// the tree's right edge (the hashes of its complete subtrees), the size
// and length of FileEntries with the hash of its last line, and what the
// ceremony rules know (pools, bindings, counters and periods, pins, cert
// hashes), signed by the audit key.
//
// Open trusts it only when its signature verifies, the tree it holds has
// the root of the latest checkpoint (whose signature Open checks), and
// FileEntries has the recorded length and last line; anything else (no
// state, a crash before it was written, an edit) and Open checks the
// whole log as before and writes it anew. The cold-key evidence of what
// it says about a pool (its binding, the certs behind its counter and
// period) and of each pin is checked when first used: a state can say
// nothing the pool's cold key did not sign. An edit inside FileEntries
// that keeps its length and last line is found by Verify ('ceremony
// verify'), not by Open.
const FileState = "state"

// stateMagic starts the note text that signs a state.
const stateMagic = "kesrotate log state v1 "

type stateFile struct {
	Size     int64           `json:"size"`
	Bytes    int64           `json:"bytes"`     // of FileEntries
	LastLen  int64           `json:"last_len"`  // of its last line, without the newline
	LastHash string          `json:"last_hash"` // tlog record hash of that line, base64
	Edge     []stateHash     `json:"edge"`      // stored hashes of the complete subtrees
	Format   string          `json:"format,omitempty"`
	Certs    string          `json:"certs,omitempty"` // base64 of sorted cert hash ‖ pool id records
	Signed   [2]bool         `json:"signed"`          // certsSigned, pinsSigned
	Pools    []statePool     `json:"pools,omitempty"`
	Order    []string        `json:"order,omitempty"`
	Pins     []PinRecord     `json:"pins,omitempty"`
	PinProof map[string]*Pin `json:"pin_evidence,omitempty"`
	Removed  []PinRecord     `json:"removed,omitempty"` // pins a producer-removed entry ended (no evidence: only reconcile reads them)
}

type stateHash struct {
	Index int64  `json:"i"`
	Hash  string `json:"h"`
}

type statePool struct {
	Pool       string   `json:"pool"`
	Created    bool     `json:"created,omitempty"`
	Bound      bool     `json:"bound,omitempty"`
	ColdVKey   string   `json:"cold_vkey,omitempty"`
	BindingSeq int64    `json:"binding_seq,omitempty"`
	Binding    *Binding `json:"binding,omitempty"`
	Run        stateRun `json:"signed_run"`
	// Hardware: a hardware-key entry (BindingSeq) names ColdVKey;
	// Prepared is the pool's open cert-prepared entry (hardware.go).
	Hardware bool           `json:"hardware,omitempty"`
	Prepared *statePrepared `json:"prepared,omitempty"`
}

type statePrepared struct {
	Seq         int64  `json:"seq"`
	Counter     uint64 `json:"counter"`
	KESPeriod   uint64 `json:"kes_period"`
	KESVKeyHash string `json:"kes_vkey_hash"`
	SealedTo    string `json:"sealed_to,omitempty"`
}

type stateRun struct {
	Certs        int    `json:"certs"`
	LastCtr      uint64 `json:"last_counter"`
	LastPeriod   uint64 `json:"last_period"`
	PeriodSeq    int64  `json:"period_seq"`
	PeriodSigned bool   `json:"period_signed"`
	CtrCert      string `json:"counter_cert,omitempty"`
	PeriodCert   string `json:"period_cert,omitempty"`
}

// certRecord is a cert hash and its pool id, raw.
const certRecord = 32 + PoolIDSize

// certSet maps cert hashes to pools: the records a state loaded (sorted,
// searched in place) and those added since.
type certSet struct {
	sorted []byte
	add    map[string]string
}

func (c *certSet) get(hash string) (string, bool) {
	if p, ok := c.add[hash]; ok {
		return p, true
	}
	h, err := hex.DecodeString(hash)
	if err != nil || len(h) != 32 || len(c.sorted) == 0 {
		return "", false
	}
	n := len(c.sorted) / certRecord
	i := sort.Search(n, func(i int) bool { return bytes.Compare(c.sorted[i*certRecord:i*certRecord+32], h) >= 0 })
	if i < n && bytes.Equal(c.sorted[i*certRecord:i*certRecord+32], h) {
		return hex.EncodeToString(c.sorted[i*certRecord+32 : (i+1)*certRecord]), true
	}
	return "", false
}

func (c *certSet) put(hash, pool string) {
	if c.add == nil {
		c.add = map[string]string{}
	}
	c.add[hash] = pool
}

// records returns every record, sorted by hash; hashes or pools that are
// not hex of their size (a malformed entry's) are left out.
func (c *certSet) records() []byte {
	out := bytes.Clone(c.sorted)
	for h, p := range c.add {
		hb, err1 := hex.DecodeString(h)
		pb, err2 := hex.DecodeString(p)
		if err1 != nil || err2 != nil || len(hb) != 32 || len(pb) != PoolIDSize {
			continue
		}
		out = append(append(out, hb...), pb...)
	}
	recs := make([][]byte, 0, len(out)/certRecord)
	for i := 0; i+certRecord <= len(out); i += certRecord {
		recs = append(recs, out[i:i+certRecord])
	}
	slices.SortFunc(recs, func(a, b []byte) int { return bytes.Compare(a[:32], b[:32]) })
	recs = slices.CompactFunc(recs, func(a, b []byte) bool { return bytes.Equal(a[:32], b[:32]) })
	return bytes.Join(recs, nil)
}

// trust returns the pool's state, first checking the cold-key evidence a
// saved state gave for it. Evidence that does not verify marks the whole
// state bad (s.bad) and the pool unknown; the Log then reloads the log in
// full.
func (s *semState) trust(id string) *poolState {
	p := s.pools[id]
	if p == nil || !p.unchecked {
		return p
	}
	if err := p.checkEvidence(id, s.vaultID, s.auditKey); err != nil {
		s.bad = fail(ErrTampered, NoSeq, FileState, fmt.Sprintf("saved state of pool %s", textsafe.Clip(id, 40)), err)
		return nil
	}
	p.unchecked = false
	return p
}

func (p *poolState) checkEvidence(id, vaultID, auditKey string) error {
	if p.hardware {
		// Its evidence is the key itself: the pool id is its hash.
		vk, err := hex.DecodeString(p.coldVKey)
		if err != nil || p.bound || checkColdVKey(vk) != nil {
			return errors.New("a hardware-wallet pool with a bad cold vkey, or bound as well")
		}
		if pid := PoolID(vk); hex.EncodeToString(pid[:]) != id {
			return errors.New("a hardware-wallet pool's cold vkey is another pool's")
		}
	}
	if p.bound {
		b := p.binding
		if b == nil || b.VaultID != vaultID || b.AuditKey != auditKey || b.ColdVKey != p.coldVKey {
			return errors.New("binding missing or for another vault, audit key or cold key")
		}
		if pool, err := b.Pool(); err != nil || pool != id {
			return errors.New("binding for another pool")
		}
		if err := VerifyBinding(*b, nil); err != nil {
			return err
		}
	}
	r := p.signed
	if r.certs == 0 {
		return nil
	}
	if !p.keyed() {
		return errors.New("cold-signed certs of an unbound pool")
	}
	check := func(certHex string, ok func(counter, period uint64) bool) error {
		b, err := hex.DecodeString(certHex)
		if err != nil || len(certHex) > maxCertHex {
			return errors.New("evidence cert is not hex")
		}
		c, err := opcert.ParseCBOR(b)
		if err != nil {
			return err
		}
		if hex.EncodeToString(c.Cold[:]) != p.coldVKey || c.CheckSignature() != nil || !ok(c.Counter, c.KESPeriod) {
			return errors.New("evidence cert is not the pool's cold-signed cert for its counter or period")
		}
		return nil
	}
	if err := check(r.ctrCert, func(n, _ uint64) bool { return n == r.lastCtr }); err != nil {
		return err
	}
	if r.lastPeriod > 0 {
		if err := check(r.periodCert, func(_, c0 uint64) bool { return c0 == r.lastPeriod }); err != nil {
			return err
		}
	}
	return nil
}

// pin returns the pin of name, first checking the cold-key signature a
// saved state gave for it.
func (s *semState) pin(name string) (PinRecord, bool) {
	r, ok := s.pins[name]
	if !ok {
		return r, false
	}
	if p, pending := s.uncheckedPins[name]; pending {
		if err := s.checkPinEvidence(r, p); err != nil {
			s.bad = fail(ErrTampered, NoSeq, FileState, fmt.Sprintf("saved pin of %q", textsafe.Cut(name, 40)), err)
			return PinRecord{}, false
		}
		delete(s.uncheckedPins, name)
	}
	return r, true
}

func (s *semState) checkPinEvidence(r PinRecord, p *Pin) error {
	if !r.Signed && p == nil {
		// The pin of a pool on a hardware wallet: the audit key that
		// signs the state vouches for it, as for the entry.
		if pool := s.trust(r.Pool); pool == nil || !pool.hardware {
			return errors.New("pin without its cold-key signature")
		}
		return nil
	}
	if p == nil || !r.Signed || p.Producer != r.Producer || p.Fingerprint != r.Fingerprint || p.Enrollment != r.Enrollment {
		return errors.New("pin without its cold-key signature")
	}
	pool := s.trust(r.Pool)
	if pool == nil || !pool.bound || pool.coldVKey != p.ColdVKey {
		return errors.New("pin signed by another key than its pool's bound cold key")
	}
	vk, _ := hex.DecodeString(p.ColdVKey)
	if id := PoolID(vk); hex.EncodeToString(id[:]) != r.Pool {
		return errors.New("pin for another pool")
	}
	return p.verify(s.vaultID)
}

// allPins returns every pin, checked.
func (s *semState) allPins() map[string]PinRecord {
	out := make(map[string]PinRecord, len(s.pins))
	for name := range s.pins {
		if r, ok := s.pin(name); ok {
			out[name] = r
		}
	}
	return out
}

// snapshot is the state of l to save.
func (l *Log) snapshot() (*stateFile, error) {
	last := l.lastLine
	st := &stateFile{Size: l.tree.n, Bytes: l.size, LastLen: int64(len(last)), Format: l.sem.format,
		Signed: [2]bool{l.sem.certsSigned, l.sem.pinsSigned}, Order: l.sem.order, Removed: l.sem.removed}
	h := tlog.RecordHash(last)
	st.LastHash = base64.StdEncoding.EncodeToString(h[:])
	for _, i := range edgeIndexes(l.tree.n) {
		hs, err := l.tree.ReadHashes([]int64{i})
		if err != nil {
			return nil, err
		}
		st.Edge = append(st.Edge, stateHash{Index: i, Hash: base64.StdEncoding.EncodeToString(hs[0][:])})
	}
	if recs := l.sem.certs.records(); len(recs) > 0 {
		st.Certs = base64.StdEncoding.EncodeToString(recs)
	}
	ids := make([]string, 0, len(l.sem.pools))
	for id := range l.sem.pools {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		p := l.sem.pools[id]
		if p.unchecked {
			// Carried over unchanged from the state it was loaded from.
			if l.sem.trust(id) == nil {
				return nil, l.sem.bad
			}
		}
		r := p.signed
		sp := statePool{Pool: id, Created: p.created, Bound: p.bound, ColdVKey: p.coldVKey,
			BindingSeq: p.bindingSeq, Binding: p.binding, Run: stateRun{Certs: r.certs, LastCtr: r.lastCtr,
				LastPeriod: r.lastPeriod, PeriodSeq: r.periodSeq, PeriodSigned: r.periodSigned, CtrCert: r.ctrCert, PeriodCert: r.periodCert},
			Hardware: p.hardware}
		if q := p.prepared; q != nil {
			sp.Prepared = &statePrepared{Seq: q.seq, Counter: q.counter, KESPeriod: q.period, KESVKeyHash: q.kesHash, SealedTo: q.sealedTo}
		}
		st.Pools = append(st.Pools, sp)
	}
	st.PinProof = map[string]*Pin{}
	for _, name := range l.sem.pinOrder {
		r, ok := l.sem.pin(name)
		if !ok {
			return nil, l.sem.bad
		}
		if pool := l.sem.pools[r.Pool]; !r.Signed && (pool == nil || !pool.hardware) {
			return nil, errors.New("a pin without cold-key evidence is not saved")
		}
		st.Pins = append(st.Pins, r)
		p := l.sem.pinEvidence[name]
		if p == nil {
			p = l.sem.uncheckedPins[name]
		}
		st.PinProof[name] = p
	}
	return st, nil
}

// SaveState writes FileState for the log as it is now, if appends or a
// full check changed what it would say. It writes a temporary file and
// renames it, without an fsync: a state lost in a crash is only a slower
// next Open. A log with pins the cold key did not sign (format 1) is not
// saved: its Open stays a full check.
func (l *Log) SaveState() error {
	if !l.stateDirty || l.broken != nil || len(l.lastLine) == 0 {
		return nil
	}
	st, err := l.snapshot()
	if err != nil {
		_ = os.Remove(filepath.Join(l.dir, FileState))
		return err
	}
	body, err := json.Marshal(st)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(body)
	sig, err := note.Sign(&note.Note{Text: stateMagic + hex.EncodeToString(sum[:]) + "\n"}, l.signer)
	if err != nil {
		return err
	}
	data := append(append(body, '\n'), sig...)
	tmp, err := os.CreateTemp(l.dir, "."+FileState+".tmp-*") // safefile.IsTemp: Open removes a leftover
	if err != nil {
		return err
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if werr != nil || cerr != nil {
		_ = os.Remove(tmp.Name())
		return errors.Join(werr, cerr)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(l.dir, FileState)); err != nil {
		_ = os.Remove(tmp.Name())
		return err
	}
	l.stateDirty = false
	return nil
}

// edgeIndexes are the stored-hash indexes of the complete subtrees a
// tree of n records splits into, largest first: what TreeHash(n) and
// StoredHashes(n, …) read.
func edgeIndexes(n int64) []int64 {
	var out []int64
	start := int64(0)
	for level := 62; level >= 0; level-- {
		if n&(1<<level) != 0 {
			out = append(out, tlog.StoredHashIndex(level, start>>level))
			start += 1 << level
		}
	}
	return out
}

// openFast opens the log from FileState, or reports false (and Open
// checks the whole log).
func openFast(dir string, s note.Signer, v note.Verifier, vkey, vaultID string) (*Log, bool) {
	raw, err := os.ReadFile(filepath.Join(dir, FileState))
	if err != nil || len(raw) > 64<<20 {
		return nil, false
	}
	body, sig, ok := bytes.Cut(raw, []byte("\n"))
	if !ok {
		return nil, false
	}
	n, err := note.Open(sig, note.VerifierList(v))
	sum := sha256.Sum256(body)
	if err != nil || n.Text != stateMagic+hex.EncodeToString(sum[:])+"\n" {
		return nil, false
	}
	var st stateFile
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	if d.Decode(&st) != nil || st.Size < 1 || st.LastLen < 1 || st.LastLen >= st.Bytes {
		return nil, false
	}
	// The latest checkpoint, against the tree the state holds.
	msg, err := os.ReadFile(filepath.Join(dir, FileCheckpoint))
	if err != nil {
		return nil, false
	}
	c, verr := openCheckpoint(msg, v, FileCheckpoint)
	if verr != nil || c.Size != st.Size {
		return nil, false
	}
	t := &tree{n: st.Size, sparse: map[int64]tlog.Hash{}}
	for _, h := range st.Edge {
		b, err := base64.StdEncoding.DecodeString(h.Hash)
		if err != nil || len(b) != tlog.HashSize {
			return nil, false
		}
		t.sparse[h.Index] = tlog.Hash(b)
	}
	if root, err := t.root(st.Size); err != nil || root != c.Root {
		return nil, false
	}
	// FileEntries: its length and its last line.
	f, err := os.Open(filepath.Join(dir, FileEntries))
	if err != nil {
		return nil, false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() != st.Bytes {
		return nil, false
	}
	last := make([]byte, st.LastLen+2)
	off := st.Bytes - st.LastLen - 2
	if off < 0 { // the last line is the first
		last, off = last[1:], 0
	}
	if _, err := f.ReadAt(last, off); err != nil && !errors.Is(err, io.EOF) {
		return nil, false
	}
	if off > 0 && last[0] != '\n' || last[len(last)-1] != '\n' {
		return nil, false
	}
	line := last[len(last)-1-int(st.LastLen) : len(last)-1]
	lh := tlog.RecordHash(line)
	if base64.StdEncoding.EncodeToString(lh[:]) != st.LastHash {
		return nil, false
	}
	if e, err := ParseEntry(line); err != nil || e.Seq != st.Size-1 {
		return nil, false
	}
	sem := newSemState(vaultID, vkey)
	sem.signedOnly = true
	sem.format, sem.certsSigned, sem.pinsSigned, sem.order, sem.removed = st.Format, st.Signed[0], st.Signed[1], st.Order, st.Removed
	if st.Certs != "" {
		recs, err := base64.StdEncoding.DecodeString(st.Certs)
		if err != nil || len(recs)%certRecord != 0 {
			return nil, false
		}
		sem.certs.sorted = recs
	}
	for _, p := range st.Pools {
		r := p.Run
		ps := &poolState{created: p.Created, bound: p.Bound, coldVKey: p.ColdVKey, bindingSeq: p.BindingSeq,
			binding: p.Binding, unchecked: true, signed: certRun{certs: r.Certs, lastCtr: r.LastCtr, lastPeriod: r.LastPeriod,
				periodSeq: r.PeriodSeq, periodSigned: r.PeriodSigned, ctrCert: r.CtrCert, periodCert: r.PeriodCert},
			hardware: p.Hardware}
		if q := p.Prepared; q != nil {
			ps.prepared = &preparedCert{seq: q.Seq, counter: q.Counter, period: q.KESPeriod, kesHash: q.KESVKeyHash, sealedTo: q.SealedTo}
		}
		sem.pools[p.Pool] = ps
	}
	sem.uncheckedPins = map[string]*Pin{}
	for _, r := range st.Pins {
		if _, dup := sem.pins[r.Producer]; dup || (!r.Signed && (sem.pools[r.Pool] == nil || !sem.pools[r.Pool].hardware)) {
			return nil, false
		}
		sem.pins[r.Producer] = r
		sem.pinOrder = append(sem.pinOrder, r.Producer)
		sem.uncheckedPins[r.Producer] = st.PinProof[r.Producer]
		sem.pinEvidence[r.Producer] = st.PinProof[r.Producer]
	}
	return &Log{dir: dir, signer: s, vaultID: vaultID, auditKey: vkey, tree: t, sem: sem, latest: c, size: st.Bytes,
		lastLine: bytes.Clone(line)}, true
}
