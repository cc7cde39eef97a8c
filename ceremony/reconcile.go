package ceremony

// Reconciliation: what the vault holds that its log does not record
// (LogGaps), and the entries OpenLog appends, flagged recovered, for what
// an interrupted command left unlogged (see the order of operations in
// log.go).

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kesrotate/kesrotate/auditlog"
)

// LogGap is something in the vault that its log does not record.
type LogGap struct {
	Kind   string // "pool", "binding", "producer", "pin", "removed", "prepared", "abandoned" or "cert"
	Pool   string // pool name (pool, binding, cert)
	Name   string // producer name
	Cert   *JournalEntry
	PoolID string
	Pinned string // "pin": the fingerprint the log pinned
	Seq    int64  // "pin": the entry that pinned it
	// Prepared is the vault's preparation the log lacks ("prepared");
	// Open the log's open one the vault no longer has ("abandoned").
	Prepared *Prepared
	Open     *auditlog.PreparedRecord
}

// Recoverable reports whether 'ceremony seal' records the gap: what an
// interrupted command left behind. A producer file the log did not pin,
// or one that differs from its pin, is not: no command writes one without
// its pin first, so someone put it there.
func (g LogGap) Recoverable() bool { return g.Kind != "producer" && g.Kind != "pin" }

func (g LogGap) String() string {
	switch g.Kind {
	case "cert":
		return fmt.Sprintf("cert #%d of pool %s (KES period %d, cert hash %s) is in the journal but not in the log", g.Cert.Counter, g.Pool, g.Cert.KESPeriod, g.Cert.CertHash)
	case "producer":
		return fmt.Sprintf("%s/%s.kre is not pinned in the log: 'producer add' did not write it", producersDir, g.Name)
	case "pin":
		return fmt.Sprintf("%s/%s.kre is not the enrollment pinned at log entry %d (fingerprint %s): it was replaced", producersDir, g.Name, g.Seq, g.Pinned)
	case "removed":
		return fmt.Sprintf("%s/%s.kre is still there though the log removed its pin: 'producer remove' was interrupted", producersDir, g.Name)
	case "binding":
		return fmt.Sprintf("pool %s has no audit-key binding in the log", g.Pool)
	case "prepared":
		return fmt.Sprintf("pool %s has cert #%d prepared for its hardware wallet, which the log does not record", g.Pool, g.Prepared.Counter)
	case "abandoned":
		return fmt.Sprintf("the log's preparation of cert #%d of pool %s (entry %d) is no longer in the vault: 'rotate --abandon' was interrupted", g.Open.Counter, g.Pool, g.Open.Seq)
	}
	return fmt.Sprintf("pool %s is in the vault but not in the log", g.Pool)
}

// LogGaps compares the vault with entries (its log's, oldest first) and
// lists what the log does not record: pools, their bindings, pinned
// producers and journaled certs. It reads only public files.
func (v *Vault) LogGaps(entries []auditlog.Entry) ([]LogGap, error) {
	idx := &entriesIndex{pools: map[string]bool{}, bound: map[string]bool{}, producers: map[string]pinned{}, removed: map[string]string{}, certs: map[string]int{},
		prepared: map[string]auditlog.PreparedRecord{}}
	for _, e := range entries {
		switch e.Kind {
		case auditlog.KindPoolNew, auditlog.KindPoolImport:
			idx.pools[e.Pool] = true
		case auditlog.KindAuditBinding, auditlog.KindHardwareKey:
			idx.bound[e.Pool] = true
		case auditlog.KindCertPrepared:
			idx.prepared[e.Pool] = auditlog.PreparedRecord{Seq: e.Seq, Pool: e.Pool, Counter: *e.Counter, KESPeriod: *e.KESPeriod, KESVKeyHash: e.KESVKeyHash, SealedTo: e.Detail[DetailSealedTo]}
		case auditlog.KindCertAbandoned:
			delete(idx.prepared, e.Pool)
		case auditlog.KindProducerAdd:
			name := e.Detail[DetailProducer]
			if _, ok := idx.producers[name]; !ok {
				pn := pinned{seq: e.Seq, fp: e.Detail[DetailFingerprnt]}
				for _, f := range e.Files {
					if f.Role == "enrollment" {
						pn.enrollment = f.SHA256
					}
				}
				if e.Pin != nil {
					pn.enrollment = e.Pin.Enrollment
				}
				idx.producers[name] = pn
			}
		case auditlog.KindProducerRemoved:
			name := e.Detail[DetailProducer]
			if pn, ok := idx.producers[name]; ok {
				idx.removed[name] = pn.enrollment
				delete(idx.producers, name)
			}
		case auditlog.KindCertIssued:
			idx.certs[e.CertHash]++
			if q, ok := idx.prepared[e.Pool]; ok && q.Counter == *e.Counter && q.KESPeriod == *e.KESPeriod && q.KESVKeyHash == e.KESVKeyHash {
				delete(idx.prepared, e.Pool)
			}
		}
	}
	return v.logGaps(idx)
}

// logIndex is what LogGaps compares the vault with: the entries of a log
// (ceremony verify), or the log a command has open (reconcile), which
// knows them without reading them again.
type logIndex interface {
	logged(pool string) (created, bound bool)
	pinned(name string) (pinned, bool)
	removedPin(name string) string // the enrollment hash of a pin of that name a producer-removed entry ended, or ""
	takeCert(hash string) bool     // whether the log records it (once per call, for entries)
	// openPrepared is the pool's (hex id) cert-prepared entry no entry
	// ended.
	openPrepared(pool string) (auditlog.PreparedRecord, bool)
}

type pinned struct {
	seq            int64
	fp, enrollment string
}

type entriesIndex struct {
	pools, bound map[string]bool
	producers    map[string]pinned
	removed      map[string]string
	certs        map[string]int
	prepared     map[string]auditlog.PreparedRecord
}

func (x *entriesIndex) openPrepared(pool string) (auditlog.PreparedRecord, bool) {
	r, ok := x.prepared[pool]
	return r, ok
}

func (x *entriesIndex) removedPin(name string) string { return x.removed[name] }

func (x *entriesIndex) logged(pool string) (bool, bool) { return x.pools[pool], x.bound[pool] }
func (x *entriesIndex) pinned(name string) (pinned, bool) {
	p, ok := x.producers[name]
	return p, ok
}
func (x *entriesIndex) takeCert(hash string) bool {
	if x.certs[hash] > 0 {
		x.certs[hash]--
		return true
	}
	return false
}

type liveIndex struct{ l *auditlog.Log }

func (x liveIndex) logged(pool string) (bool, bool) { return x.l.PoolLogged(pool) }
func (x liveIndex) pinned(name string) (pinned, bool) {
	r, ok := x.l.Pin(name)
	return pinned{seq: r.Seq, fp: r.Fingerprint, enrollment: r.Enrollment}, ok
}
func (x liveIndex) takeCert(hash string) bool { return x.l.CertLogged(hash) }
func (x liveIndex) openPrepared(pool string) (auditlog.PreparedRecord, bool) {
	return x.l.Prepared(pool)
}
func (x liveIndex) removedPin(name string) string {
	if r, ok := x.l.RemovedPin(name); ok {
		return r.Enrollment
	}
	return ""
}

func (v *Vault) logGaps(idx logIndex) ([]LogGap, error) {
	var gaps []LogGap
	ps, err := v.Pools()
	if err != nil {
		return nil, err
	}
	var missing []LogGap
	for _, p := range ps {
		created, bound := idx.logged(p.Meta.PoolID)
		if !created {
			gaps = append(gaps, LogGap{Kind: "pool", Pool: p.Meta.Name, PoolID: p.Meta.PoolID})
		}
		if !bound {
			gaps = append(gaps, LogGap{Kind: "binding", Pool: p.Meta.Name, PoolID: p.Meta.PoolID})
		}
		js, err := p.Journal()
		if err != nil {
			return nil, err
		}
		for _, je := range Issued(js) {
			if idx.takeCert(je.CertHash) {
				continue
			}
			je := je
			missing = append(missing, LogGap{Kind: "cert", Pool: p.Meta.Name, PoolID: p.Meta.PoolID, Cert: &je})
		}
		if g, err := preparationGap(p, js, idx); err != nil {
			return nil, err
		} else if g != nil {
			gaps = append(gaps, *g)
		}
	}
	files, err := v.producerFiles()
	if err != nil {
		return nil, err
	}
	for _, name := range sortedKeys(files) {
		pn, ok := idx.pinned(name)
		sum := sha256.Sum256(files[name])
		switch {
		case !ok && idx.removedPin(name) != "" && idx.removedPin(name) == hex.EncodeToString(sum[:]):
			gaps = append(gaps, LogGap{Kind: "removed", Name: name})
		case !ok:
			gaps = append(gaps, LogGap{Kind: "producer", Name: name})
		case pn.enrollment != "" && pn.enrollment != hex.EncodeToString(sum[:]):
			gaps = append(gaps, LogGap{Kind: "pin", Name: name, Pinned: pn.fp, Seq: pn.seq})
		}
	}
	// Certs last (their pools must be bound first), oldest first.
	sort.SliceStable(missing, func(i, j int) bool { return missing[i].Cert.Time.Before(missing[j].Cert.Time) })
	return append(gaps, missing...), nil
}

// reconcile appends the entries LogGaps finds missing, flagged recovered.
func (v *Vault) reconcile(l *auditlog.Log, now time.Time) ([]auditlog.Entry, error) {
	gaps, err := v.logGaps(liveIndex{l})
	if err != nil || len(gaps) == 0 {
		return nil, err
	}
	var out []auditlog.Entry
	for _, g := range gaps {
		var es []auditlog.Entry
		switch g.Kind {
		case "pool", "binding":
			p, err := v.Pool(g.Pool)
			if err != nil {
				return out, err
			}
			if es, err = v.poolEntries(p, g.Kind == "pool", now); err != nil {
				return out, err
			}
		case "producer", "pin":
			continue // not recoverable: see LogGap.Recoverable
		case "prepared":
			e, err := v.recoveredPrepared(g, now)
			if err != nil {
				return out, err
			}
			es = []auditlog.Entry{e}
		case "abandoned":
			p, err := v.Pool(g.Pool)
			if err != nil {
				return out, err
			}
			if _, err := p.shredStagedKES(); err != nil {
				return out, err
			}
			e, err := v.abandonedEntry(p, g.Open.Counter, g.Open.KESPeriod, g.Open.KESVKeyHash, l, now)
			if err != nil {
				return out, err
			}
			es = []auditlog.Entry{e}
		case "removed":
			// An interrupted 'producer remove': logged, file left.
			if err := os.Remove(filepath.Join(v.Dir, producersDir, g.Name+".kre")); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return out, err
			}
			continue
		case "cert":
			e, err := v.recoveredCert(g, now)
			if err != nil {
				return out, err
			}
			// A hardware pool's cert ends its open preparation.
			if q, ok := l.Prepared(g.PoolID); ok && l.HardwarePool(g.PoolID) && q.Counter == g.Cert.Counter && q.KESPeriod == g.Cert.KESPeriod && q.KESVKeyHash == g.Cert.KESVKeyHash {
				e.Detail[auditlog.DetailPrepared] = strconv.FormatInt(q.Seq, 10)
			}
			es = []auditlog.Entry{e}
		}
		for _, e := range es {
			if e.Detail == nil {
				e.Detail = map[string]string{}
			}
			e.Detail[DetailRecovered] = g.Kind
			got, _, err := v.append(l, e)
			if err != nil {
				return out, err
			}
			out = append(out, got)
		}
	}
	return out, nil
}

func (v *Vault) recoveredCert(g LogGap, now time.Time) (auditlog.Entry, error) {
	je := g.Cert
	e, err := v.Audit.entry(auditlog.KindCertIssued, now)
	if err != nil {
		return e, err
	}
	e.Pool, e.Counter, e.KESPeriod = g.PoolID, auditlog.U64(je.Counter), auditlog.U64(je.KESPeriod)
	e.KESVKeyHash, e.CertHash, e.Cert = je.KESVKeyHash, je.CertHash, je.Cert
	if len(je.Overrides) > 0 {
		e.Detail = map[string]string{DetailOverrides: strings.Join(je.Overrides, " ")}
	}
	if oc, err := je.OnChainValue(); err == nil && oc.Known {
		e.OnChainCounter = auditlog.U64(oc.N)
	}
	if je.TipSlot != 0 {
		e.TipSlot = auditlog.U64(je.TipSlot)
	}
	if e.Detail == nil {
		e.Detail = map[string]string{}
	}
	e.Detail[DetailIssuedAt] = je.Time.UTC().Format(time.RFC3339)
	if je.Producer != "" {
		e.Detail[DetailProducer] = je.Producer
	}
	if je.Forced {
		e.Detail[DetailForced] = "true"
	}
	return e, nil
}
