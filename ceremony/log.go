package ceremony

// The vault's ceremony log (package auditlog) lives in DIR/log; its audit
// signing key in DIR/secret/audit.key.
//
// Order of operations and crashes. The issuance journal stays the source
// of truth for counters; the log records what happened. Every action first
// opens the log (which refuses a damaged or unsealed log, so nothing
// happens that could not be recorded), then does its work, then appends its
// entry. For a cert the order is: checks, log Check of the cert-issued
// entry, snapshot-accepted and override entries, journal (durable), the
// cert-issued entry, then the cert and counter files. A process that dies
// after the journal and before the cert-issued entry leaves a cert in the
// journal that the log lacks; the same holds for a pool or a pinned
// producer written before its log entries. OpenLog finds each such gap the
// next time any command opens the log and appends the missing entries with
// detail "recovered" (and the time they were recorded), so the log never
// silently misses a cert and Verify never sees a crash as tampering. A
// crash inside one append (line written, checkpoint not) is completed by
// auditlog.Open, or left for 'kesrotate ceremony seal' (SealLog) when the
// line was not covered by a checkpoint: the log then reports
// auditlog.ErrUnsealed, never ErrTampered. A bundle written before its
// bundle-exported entry cannot be recovered (the bundle may live outside
// the vault): the log then shows the cert without a bundle, which is true
// of what the log can prove.

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"filippo.io/age"

	"github.com/kesrotate/kesrotate/auditlog"
	"github.com/kesrotate/kesrotate/internal/safefile"
	"github.com/kesrotate/kesrotate/internal/textsafe"
	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/transfer"
)

// Layout of the ceremony log in the vault.
const (
	logDir       = "log"
	auditKeyFile = "audit.key" // in secretDir
)

// Detail keys the vault writes into log entries.
const (
	DetailRecovered    = "recovered"                // "journal", "pool" or "producer": recorded after an interrupted command
	DetailIssuedAt     = "issued_at"                // recovered certs: the journal's time
	DetailProducer     = auditlog.DetailProducer    // producer name
	DetailSealedTo     = auditlog.DetailSealedTo    // bundle-exported, cert-prepared: every producer the bundle is (to be) sealed to, space-separated
	DetailForced       = "forced"                   // "true" when a forced counter chose the counter
	DetailRulesChose   = "rules_chose"              // the counter the rules chose, when forced ("refused" if they refused)
	DetailRulesRefusal = "rules_refusal"            // why the rules refused, when the counter was forced past a refusal
	DetailKESSource    = "kes_key"                  // "vault" or "producer"
	DetailPeriodFrom   = "period_from"              // "snapshot" or "operator"
	DetailInstalled    = "installed_cert_hash"      // the cert the snapshot reports installed
	DetailOverrides    = auditlog.DetailOverrides   // cert-issued: the overrides used, space-separated
	DetailUpgraded     = "upgraded"                 // producer-add: "pin" when a format 1 pin was signed
	DetailSnapshot     = "snapshot_sha256"          // cert-issued: hex SHA-256 of the snapshot the cert came from
	DetailFingerprnt   = auditlog.DetailFingerprint // producer-add: the enrollment's fingerprint
	DetailMode         = "mode"                     // secrets-encrypted: the vault's secrets mode afterwards
	DetailFiles        = "files"                    // secrets-encrypted: the key files encrypted, space-separated
	DetailFinished     = "finished"                 // secrets-encrypted: "true" when it finished an interrupted run
)

// Override names (auditlog's): how the log records an operator's override
// of a check.
const (
	OverrideAllowStale   = auditlog.OverrideAllowStale
	OverrideMaxAge       = auditlog.OverrideMaxAge
	OverrideIgnoreClock  = auditlog.OverrideIgnoreClock
	OverrideNow          = auditlog.OverrideNow // its value is the time given; DetailSystemTime the machine's
	OverrideForceCounter = auditlog.OverrideForceCounter
	OverridePlaintext    = auditlog.OverridePlaintext
	OverrideAllowNetwork = auditlog.OverrideAllowNetwork

	// DetailSystemTime goes with OverrideNow: the machine's own clock.
	DetailSystemTime = "system_time"
)

// ErrNoLog: the vault has no ceremony log or no audit key (a vault made
// before the log existed, or one whose log was removed).
var ErrNoLog = errors.New("vault has no ceremony log")

// ErrLogRule: the action would put an entry into the log that breaks the
// rules auditlog.Verify checks; nothing was done.
var ErrLogRule = errors.New("the ceremony log would record a rule violation")

// Audit is who performs the vault's actions and with which binary. Every
// ceremony-log entry the vault appends carries it.
type Audit struct {
	Operator     string
	Witnesses    []string
	Version      string // the binary's version; "" records "unknown"
	BinarySHA256 string // hex SHA-256 of the running binary; "" hashes os.Executable()
	// Clock times the entries of actions that take no time argument
	// (AddProducer); nil means time.Now.
	Clock func() time.Time
}

func (a Audit) now() time.Time {
	if a.Clock != nil {
		return a.Clock()
	}
	return time.Now()
}

// IssueLog is what the ceremony log records about an issue beyond the
// cert itself.
type IssueLog struct {
	Snapshot  []byte            // the signed snapshot the period and counter came from (only hashed)
	TipTime   time.Time         // the snapshot's tip time; zero without a snapshot
	Installed string            // cert hash the snapshot reports installed, if any
	Overrides map[string]string // overrides used, by Override… name, e.g. OverrideAllowStale: "true"
}

var binHash struct {
	once sync.Once
	sum  string
	err  error
}

// BinarySHA256 returns the hex SHA-256 of the running executable.
func BinarySHA256() (string, error) {
	binHash.once.Do(func() {
		exe, err := os.Executable()
		if err != nil {
			binHash.err = fmt.Errorf("locate the running binary: %w", err)
			return
		}
		b, err := os.ReadFile(exe)
		if err != nil {
			binHash.err = fmt.Errorf("hash the running binary: %w", err)
			return
		}
		s := sha256.Sum256(b)
		binHash.sum = hex.EncodeToString(s[:])
	})
	return binHash.sum, binHash.err
}

// LogDir is the folder of the vault's ceremony log.
func (v *Vault) LogDir() string { return filepath.Join(v.Dir, logDir) }

func auditKeyPath(vaultDir string) string { return filepath.Join(vaultDir, secretDir, auditKeyFile) }

// HashFile names one input or output file of an action for the log.
func HashFile(role, name string, data []byte) auditlog.FileHash {
	s := sha256.Sum256(data)
	return auditlog.FileHash{Role: role, Name: filepath.Base(name), SHA256: hex.EncodeToString(s[:])}
}

// Validate reports whether a's names and version can go into log entries
// (length, characters, nothing that looks like key material).
func (a Audit) Validate() error {
	e := auditlog.Entry{Kind: auditlog.KindBackupMade, Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Operator: a.Operator, Witnesses: a.Witnesses, BinarySHA256: strings.Repeat("0", 64), Version: a.Version}
	if e.Version == "" {
		e.Version = "unknown"
	}
	if a.BinarySHA256 != "" {
		e.BinarySHA256 = a.BinarySHA256
	}
	if err := e.Validate(); err != nil {
		return fmt.Errorf("operator, witness or version: %w", err)
	}
	return nil
}

// entry starts a log entry of kind at now, carrying a.
func (a Audit) entry(kind auditlog.Kind, now time.Time) (auditlog.Entry, error) {
	sum := a.BinarySHA256
	if sum == "" {
		var err error
		if sum, err = BinarySHA256(); err != nil {
			return auditlog.Entry{}, err
		}
	}
	ver := a.Version
	if ver == "" {
		ver = "unknown"
	}
	return auditlog.Entry{Kind: kind, Time: now.UTC().Truncate(time.Second), Operator: a.Operator,
		Witnesses: slices.Clone(a.Witnesses), BinarySHA256: sum, Version: ver}, nil
}

// createLog makes the audit key and the log of a new vault, with its init
// entry. Init calls it before vault.json exists. With r (an encrypted
// vault) the audit key is kept encrypted to it, like the pools' keys.
func createLog(dir string, meta Meta, magic uint32, o InitOptions, r age.Recipient) error {
	key, _, err := auditlog.GenerateKey(o.Rand, meta.ID)
	if err != nil {
		return err
	}
	e, err := o.Audit.entry(auditlog.KindInit, o.Now)
	if err != nil {
		return err
	}
	e.Detail = map[string]string{"network": meta.Network, "magic": strconv.FormatUint(uint64(magic), 10)}
	if o.Genesis != nil {
		e.Files = []auditlog.FileHash{HashFile("genesis", genesisFile, o.Genesis)}
	}
	if r == nil {
		if err := auditlog.WriteSignerKey(auditKeyPath(dir), key); err != nil {
			return err
		}
	} else {
		text := key.MarshalSecret()
		ct, err := encryptBytes(text, r)
		wipeBytes(text)
		if err != nil {
			return err
		}
		if err := safefile.CreateSecret(auditKeyPath(dir)+encSuffix, ct); err != nil {
			return err
		}
	}
	if _, _, err := auditlog.Create(filepath.Join(dir, logDir), key, e); err != nil {
		return err
	}
	return nil
}

// signerKey reads the vault's audit signing key. In an encrypted vault it
// is kept encrypted like the pools' keys (secret/audit.key.age), so it
// needs the passphrase or identity; a vault made before that keeps it in
// plaintext, and the first time such a vault is unlocked the key is
// encrypted and its plaintext file shredded.
func (v *Vault) signerKey() (auditlog.SignerKey, error) {
	if k := v.state().audit; !k.IsZero() {
		return k, nil
	}
	k, err := v.readSignerKey()
	if err != nil {
		return auditlog.SignerKey{}, err
	}
	v.state().audit = k
	return k, nil
}

func (v *Vault) readSignerKey() (auditlog.SignerKey, error) {
	if _, err := os.Stat(filepath.Join(v.LogDir(), auditlog.FileEntries)); errors.Is(err, fs.ErrNotExist) {
		return auditlog.SignerKey{}, fmt.Errorf("%w: %s is missing", ErrNoLog, filepath.Join(logDir, auditlog.FileEntries))
	}
	path := auditKeyPath(v.Dir)
	hasPlain, err := exists(path)
	if err != nil {
		return auditlog.SignerKey{}, err
	}
	hasEnc, err := exists(path + encSuffix)
	if err != nil {
		return auditlog.SignerKey{}, err
	}
	switch {
	case !hasPlain && !hasEnc:
		return auditlog.SignerKey{}, fmt.Errorf("%w: %s is missing", ErrNoLog, filepath.Join(secretDir, auditKeyFile))
	case !v.Encrypted() && hasEnc:
		return auditlog.SignerKey{}, fmt.Errorf("%w: %s/%s%s in a plaintext vault", ErrSecretState, secretDir, auditKeyFile, encSuffix)
	case !v.Encrypted():
		return auditlog.ReadSignerKey(path)
	}
	if err := v.guard(); err != nil {
		return auditlog.SignerKey{}, err
	}
	if _, err := v.encryptFile(path); err != nil { // a plaintext key left by an older version
		return auditlog.SignerKey{}, fmt.Errorf("encrypting the audit key: %w", err)
	}
	ids, err := v.identities()
	if err != nil {
		return auditlog.SignerKey{}, err
	}
	b, err := decryptFile(path+encSuffix, v.SecretsMode(), ids...)
	if err != nil {
		return auditlog.SignerKey{}, err
	}
	defer wipeBytes(b)
	return auditlog.ParseSignerKey(string(b))
}

// OpenLog opens the vault's ceremony log for appending. It first records,
// flagged with detail "recovered", what an interrupted command left in the
// vault but not in the log (see the comment at the top of this file) and
// returns those entries too. It fails with auditlog.ErrUnsealed when an
// interrupted append left entries without a checkpoint: see SealLog.
//
// The log stays open in v while v holds its lock: a later OpenLog
// returns it as long as it is current (no failed write, no one else
// appended), so a ceremony of many pools under one lock (RotateFleet)
// opens, checks and reconciles the log once. After a failed action, and
// when the lock is released, the vault forgets it (forgetLog), and the
// next OpenLog opens and reconciles again.
func (v *Vault) OpenLog(now time.Time) (*auditlog.Log, []auditlog.Entry, error) {
	release, err := v.Acquire("log")
	if err != nil {
		return nil, nil, err
	}
	defer release()
	if err := v.Audit.Validate(); err != nil {
		return nil, nil, err
	}
	if v.log != nil && v.log.Current() {
		return v.log, nil, nil
	}
	v.log = nil
	key, err := v.signerKey()
	if err != nil {
		return nil, nil, err
	}
	l, err := auditlog.Open(v.LogDir(), key)
	if err != nil {
		return nil, nil, err
	}
	if l.VaultID() != v.Meta.ID {
		return nil, nil, fmt.Errorf("%w: the log is vault %s, this vault is %s", auditlog.ErrForeignLog, l.VaultID(), v.Meta.ID)
	}
	rec, err := v.reconcile(l, now)
	if err != nil {
		return nil, rec, fmt.Errorf("recording what an interrupted command left unlogged: %w", err)
	}
	v.log = l
	return l, rec, nil
}

// logPin returns the pin of the producer called name in the vault's log,
// reading only: from the log v keeps open while it is current, else as
// auditlog.PinOf reads it (checkPin runs before anything is written).
func (v *Vault) logPin(name string) (auditlog.PinRecord, bool, error) {
	if v.log != nil && v.log.Current() {
		r, ok := v.log.Pin(name)
		return r, ok, nil
	}
	return auditlog.PinOf(v.LogDir(), name)
}

// forgetLog drops the log v keeps open: after an action failed half way,
// the next OpenLog opens it again and records what the failure left
// unlogged.
func (v *Vault) forgetLog() { v.log = nil }

// SealLog checkpoints the entries an interrupted append left after the
// log's latest checkpoint (auditlog.Seal) and returns the new checkpoint.
// Run it only after looking at those entries.
func (v *Vault) SealLog() (auditlog.Checkpoint, error) {
	release, err := v.Acquire("ceremony seal")
	if err != nil {
		return auditlog.Checkpoint{}, err
	}
	defer release()
	v.forgetLog()
	key, err := v.signerKey()
	if err != nil {
		return auditlog.Checkpoint{}, err
	}
	return auditlog.Seal(v.LogDir(), key)
}

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
			if err := p.shredStagedKES(); err != nil {
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
			got, _, err := l.Append(e)
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

// poolEntries builds the pool-new/pool-import entry (if withPool) and the
// audit-key binding signed by the pool's cold key, or the hardware-key
// entry of a pool whose key is on a hardware wallet.
func (v *Vault) poolEntries(p *Pool, withPool bool, now time.Time) ([]auditlog.Entry, error) {
	var out []auditlog.Entry
	if withPool {
		kind := auditlog.KindPoolNew
		if p.Meta.Origin == "import" {
			kind = auditlog.KindPoolImport
		}
		e, err := v.Audit.entry(kind, now)
		if err != nil {
			return nil, err
		}
		e.Pool = p.Meta.PoolID
		e.Detail = map[string]string{"name": p.Meta.Name}
		for _, f := range []struct{ role, name string }{{"cold-vkey", coldVkeyFile}, {"counter", counterFile}, {"vrf-vkey", vrfVkeyFile}, {"hw-signing-file", hwSigningFile}} {
			if b, err := os.ReadFile(filepath.Join(p.Dir, f.name)); err == nil {
				e.Files = append(e.Files, HashFile(f.role, f.name, b))
			}
		}
		js, err := p.Journal()
		if err != nil {
			return nil, err
		}
		if len(js) > 0 && js[0].ImportedNext != nil {
			e.Detail["imported_next"] = strconv.FormatUint(*js[0].ImportedNext, 10)
		}
		out = append(out, e)
	}
	if p.Hardware() {
		// No key to bind with: the hardware-key entry names it.
		e, err := v.hardwareKeyEntry(p, now)
		if err != nil {
			return nil, err
		}
		return append(out, e), nil
	}
	cold, err := p.ColdKey()
	if err != nil {
		return nil, err
	}
	defer cold.Wipe()
	b, err := bindEntry(v, cold, now)
	if err != nil {
		return nil, err
	}
	return append(out, b), nil
}

// bindEntry signs the binding of the vault's audit key with cold.
func bindEntry(v *Vault, cold *keys.ColdKey, now time.Time) (auditlog.Entry, error) {
	key, err := v.signerKey()
	if err != nil {
		return auditlog.Entry{}, err
	}
	audit, err := key.VerifierKey()
	if err != nil {
		return auditlog.Entry{}, err
	}
	vk := cold.Public()
	id := vk.PoolID()
	var pid [auditlog.PoolIDSize]byte
	copy(pid[:], id[:])
	sig := cold.Sign(auditlog.BindingMessage(v.Meta.ID, pid, audit))
	b := auditlog.Binding{VaultID: v.Meta.ID, AuditKey: audit, ColdVKey: hex.EncodeToString(vk[:]), Signature: hex.EncodeToString(sig)}
	e, err := b.Entry()
	if err != nil {
		return e, err
	}
	base, err := v.Audit.entry(auditlog.KindAuditBinding, now)
	if err != nil {
		return e, err
	}
	base.Pool, base.Binding = e.Pool, e.Binding
	return base, nil
}

// logPool appends a new pool's entries to l.
func (v *Vault) logPool(l *auditlog.Log, p *Pool, now time.Time) error {
	es, err := v.poolEntries(p, true, now)
	if err != nil {
		return err
	}
	for _, e := range es {
		if _, _, err := l.Append(e); err != nil {
			return fmt.Errorf("pool %s is in the vault but its log entry failed (the next command records it): %w", p.Meta.Name, err)
		}
	}
	return nil
}

func (v *Vault) producerEntry(q *Producer, now time.Time) (auditlog.Entry, error) {
	e, err := v.Audit.entry(auditlog.KindProducerAdd, now)
	if err != nil {
		return e, err
	}
	e.Pool = q.Enrollment.PoolID.Hex()
	e.Detail = map[string]string{DetailProducer: q.Name, DetailFingerprnt: q.Enrollment.Fingerprint()}
	e.Files = []auditlog.FileHash{{Role: "enrollment", Name: q.Name + ".kre", SHA256: q.SHA256}}
	return e, nil
}

// pendingIssue holds the entries of one issue between the checks and the
// journal.
type pendingIssue struct {
	log    *auditlog.Log
	before []auditlog.Entry // snapshot-accepted, override
	cert   auditlog.Entry
}

// prepareIssue opens the log and builds and checks the entries of an
// issue before anything is written. A forced counter may break the log's
// rules (that is what forcing is): the entry is then recorded anyway,
// after an override entry, and Verify will report it.
func (p *Pool) prepareIssue(req IssueRequest, je JournalEntry, certEnvelope []byte, chosen uint64, refused error) (*pendingIssue, error) {
	v := p.v
	l, _, err := v.OpenLog(req.Now)
	if err != nil {
		return nil, err
	}
	pi := &pendingIssue{log: l}
	if pi.before, err = p.issueBefore(req, je); err != nil {
		return nil, err
	}
	e, err := p.certIssuedEntry(req, je, certEnvelope, chosen, refused)
	if err != nil {
		return nil, err
	}
	for _, b := range pi.before {
		if err := l.Check(b); err != nil {
			return nil, err
		}
	}
	if err := l.Check(e); err != nil && !(je.Forced && errors.Is(err, auditlog.ErrSemantics)) {
		return nil, fmt.Errorf("%w: %w", ErrLogRule, err)
	}
	pi.cert = e
	return pi, nil
}

// tipTime is the snapshot's tip time of an issue, for its log entries.
func (req IssueRequest) tipTime() *time.Time {
	if req.Log.TipTime.IsZero() {
		return nil
	}
	t := req.Log.TipTime.UTC().Truncate(time.Second)
	return &t
}

// issueBefore builds the entries that precede an issue's cert: the
// snapshot it came from, the overrides it used.
func (p *Pool) issueBefore(req IssueRequest, je JournalEntry) ([]auditlog.Entry, error) {
	v := p.v
	var out []auditlog.Entry
	if req.Log.Snapshot != nil {
		e, err := v.Audit.entry(auditlog.KindSnapshotAccepted, req.Now)
		if err != nil {
			return nil, err
		}
		e.Pool, e.TipTime, e.TipSlot = p.Meta.PoolID, req.tipTime(), auditlog.U64(req.TipSlot)
		e.Files = []auditlog.FileHash{HashFile("snapshot", "snapshot", req.Log.Snapshot)}
		e.OnChainCounter = onChainPtr(je)
		e.Detail = map[string]string{}
		if req.Producer != "" {
			e.Detail[DetailProducer] = req.Producer
		}
		if req.Log.Installed != "" {
			e.Detail[DetailInstalled] = req.Log.Installed
		}
		out = append(out, e)
	}
	overrides := map[string]string{}
	for k, val := range req.Log.Overrides {
		overrides[k] = val
	}
	if req.ForceCounter != nil {
		overrides[OverrideForceCounter] = strconv.FormatUint(*req.ForceCounter, 10)
	}
	if len(overrides) > 0 {
		e, err := v.Audit.entry(auditlog.KindOverride, req.Now)
		if err != nil {
			return nil, err
		}
		e.Pool, e.Detail = p.Meta.PoolID, overrides
		out = append(out, e)
	}
	return out, nil
}

// certIssuedEntry builds the cert-issued entry of the cert je journals.
func (p *Pool) certIssuedEntry(req IssueRequest, je JournalEntry, certEnvelope []byte, chosen uint64, refused error) (auditlog.Entry, error) {
	e, err := p.v.Audit.entry(auditlog.KindCertIssued, req.Now)
	if err != nil {
		return e, err
	}
	e.Pool, e.Counter, e.KESPeriod = p.Meta.PoolID, auditlog.U64(je.Counter), auditlog.U64(je.KESPeriod)
	e.KESVKeyHash, e.CertHash, e.OnChainCounter = je.KESVKeyHash, je.CertHash, onChainPtr(je)
	e.Cert = je.Cert             // the cold-signed cert: what makes the entry checkable with the pool's cold vkey
	if req.Log.Snapshot != nil { // without a snapshot TipSlot is the period's start, not a chain tip
		e.TipSlot, e.TipTime = auditlog.U64(req.TipSlot), req.tipTime()
	}
	e.Files = []auditlog.FileHash{HashFile("cert", p.CertFile(je), certEnvelope)}
	if req.Log.Snapshot != nil {
		e.Files = append(e.Files, HashFile("snapshot", "snapshot", req.Log.Snapshot))
	}
	e.Detail = issueDetail(req, je, chosen, refused)
	return e, nil
}

// issueDetail is the detail of the cert-issued (or cert-prepared) entry
// of je: where the KES key and the period came from, whose snapshot, what
// the rules chose (or why they refused) when forced, the overrides, the
// snapshot's hash.
func issueDetail(req IssueRequest, je JournalEntry, chosen uint64, refused error) map[string]string {
	d := map[string]string{DetailKESSource: "vault", DetailPeriodFrom: "operator"}
	if je.KESOnProducer {
		d[DetailKESSource] = "producer"
	}
	if req.Log.Snapshot != nil {
		d[DetailPeriodFrom] = "snapshot"
	}
	if req.Producer != "" {
		d[DetailProducer] = req.Producer
	}
	if je.Forced {
		d[DetailForced] = "true"
		// What the rules said: their number, or that they refused (and
		// why), never a number they did not choose.
		if refused != nil {
			d[DetailRulesChose] = "refused"
			d[DetailRulesRefusal] = textsafe.Clip(refused.Error(), 300)
		} else {
			d[DetailRulesChose] = strconv.FormatUint(chosen, 10)
		}
	}
	if len(je.Overrides) > 0 {
		d[DetailOverrides] = strings.Join(je.Overrides, " ")
	}
	if je.SnapshotSHA256 != "" {
		d[DetailSnapshot] = je.SnapshotSHA256
	}
	return d
}

func onChainPtr(je JournalEntry) *uint64 {
	if oc, err := je.OnChainValue(); err == nil && oc.Known {
		return auditlog.U64(oc.N)
	}
	return nil
}

// appendBefore appends the entries that precede the journal write.
func (pi *pendingIssue) appendBefore() error {
	for _, e := range pi.before {
		if _, _, err := pi.log.Append(e); err != nil {
			return err
		}
	}
	return nil
}

// appendCert appends the cert-issued entry and returns the checkpoint
// note that covers it.
func (pi *pendingIssue) appendCert() ([]byte, error) {
	_, c, err := pi.log.Append(pi.cert)
	if err != nil {
		return nil, fmt.Errorf("the cert is journaled but its log entry failed (the next command records it): %w", err)
	}
	return c.Note, nil
}

// logBundle appends the bundle-exported entry and returns the checkpoint
// note that covers it.
func (v *Vault) logBundle(p *Pool, res *IssueResult, bundleFile string, bundle []byte, now time.Time) ([]byte, error) {
	l, _, err := v.OpenLog(now)
	if err != nil {
		return nil, err
	}
	e, err := v.Audit.entry(auditlog.KindBundleExported, now)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(bundle)
	e.Pool, e.CertHash, e.BundleHash = p.Meta.PoolID, res.Entry.CertHash, hex.EncodeToString(sum[:])
	e.Counter, e.KESPeriod = auditlog.U64(res.Entry.Counter), auditlog.U64(res.Entry.KESPeriod)
	e.Files = []auditlog.FileHash{HashFile("bundle", bundleFile, bundle)}
	if res.Entry.Producer != "" {
		e.Detail = map[string]string{DetailProducer: res.Entry.Producer}
	}
	if len(res.Entry.SealedTo) > 0 {
		e.Detail[DetailSealedTo] = strings.Join(res.Entry.SealedTo, " ")
	}
	_, c, err := l.Append(e)
	if err != nil {
		return nil, fmt.Errorf("the bundle is written but its log entry failed: %w", err)
	}
	return c.Note, nil
}

// Record appends e to the vault's log, filling in the operator, witnesses,
// binary hash and version from v.Audit where e leaves them empty, and
// returns the entry as stored and its checkpoint. e.Time must be set. Use
// it for actions outside this package (backups, key destruction); never
// put a secret into e.
func (v *Vault) Record(e auditlog.Entry) (auditlog.Entry, auditlog.Checkpoint, error) {
	release, err := v.Acquire("log")
	if err != nil {
		return auditlog.Entry{}, auditlog.Checkpoint{}, err
	}
	defer release()
	base, err := v.Audit.entry(e.Kind, e.Time)
	if err != nil {
		return auditlog.Entry{}, auditlog.Checkpoint{}, err
	}
	if e.Operator == "" {
		e.Operator = base.Operator
	}
	if e.Witnesses == nil {
		e.Witnesses = base.Witnesses
	}
	if e.BinarySHA256 == "" {
		e.BinarySHA256 = base.BinarySHA256
	}
	if e.Version == "" {
		e.Version = base.Version
	}
	l, _, err := v.OpenLog(e.Time)
	if err != nil {
		return auditlog.Entry{}, auditlog.Checkpoint{}, err
	}
	if err := l.Check(e); err != nil {
		return auditlog.Entry{}, auditlog.Checkpoint{}, err
	}
	return l.Append(e)
}

// RecordBackup appends a backup-made entry: files are what the backup
// wrote (hash encrypted output, never plaintext secrets), detail says
// where and how (e.g. "target", "scheme"). Call it after the backup is
// complete and verified.
func (v *Vault) RecordBackup(now time.Time, files []auditlog.FileHash, detail map[string]string) (auditlog.Entry, error) {
	e, _, err := v.Record(auditlog.Entry{Kind: auditlog.KindBackupMade, Time: now, Files: files, Detail: detail})
	return e, err
}

// RecordKeysDestroyed appends a keys-destroyed entry for pool (pool id
// hex, or "" for vault-wide keys): files name what was destroyed (hash
// public halves or encrypted forms only), detail says how.
func (v *Vault) RecordKeysDestroyed(now time.Time, pool string, files []auditlog.FileHash, detail map[string]string) (auditlog.Entry, error) {
	e, _, err := v.Record(auditlog.Entry{Kind: auditlog.KindKeysDestroyed, Time: now, Pool: pool, Files: files, Detail: detail})
	return e, err
}

// addPoolLogged is addPool between opening the log (which refuses a log
// that cannot take the entry) and appending the pool's entries.
func (v *Vault) addPoolLogged(name, origin string, key poolKey, vrfKey *keys.VRFKey, counter keys.Counter, now time.Time) (_ *Pool, err error) {
	release, err := v.Acquire("pool " + origin)
	if err != nil {
		return nil, err
	}
	defer release()
	defer func() {
		if err != nil {
			v.forgetLog()
		}
	}()
	l, _, err := v.OpenLog(now)
	if err != nil {
		return nil, err
	}
	p, err := v.addPool(name, origin, key, vrfKey, counter, now)
	if err != nil {
		return nil, err
	}
	if err := v.logPool(l, p, now); err != nil {
		return p, err
	}
	return p, nil
}

// ClockOverride describes a clock the operator set (--now) for the log:
// the time given, and the machine's own clock at that moment.
type ClockOverride struct {
	Given  time.Time
	System time.Time
}

// PlainOverrides are the overrides of an issue without a snapshot: a
// period beyond ClockTolerance from the clock (ignoreClock), a clock the
// operator set (clock, if not nil).
func PlainOverrides(ignoreClock bool, clock *ClockOverride) map[string]string {
	out := map[string]string{}
	if ignoreClock {
		out[OverrideIgnoreClock] = "true"
	}
	clock.record(out)
	if len(out) == 0 {
		return nil
	}
	return out
}

func (c *ClockOverride) record(m map[string]string) {
	if c == nil {
		return
	}
	m[OverrideNow] = c.Given.UTC().Format(time.RFC3339)
	m[DetailSystemTime] = c.System.UTC().Format(time.RFC3339)
}

// Overrides are the overrides a rotation's request uses, by Override…
// name: every check the operator relaxed or replaced.
func (req RotateRequest) Overrides() map[string]string {
	out := map[string]string{}
	if req.Policy.AllowStale {
		out[OverrideAllowStale] = "true"
	}
	if req.Policy.MaxAge != 0 && req.Policy.MaxAge != transfer.DefaultMaxAge {
		out[OverrideMaxAge] = req.Policy.MaxAge.String()
	}
	if req.Policy.IgnoreClock {
		out[OverrideIgnoreClock] = "true"
	}
	req.Clock.record(out)
	if len(out) == 0 {
		return nil
	}
	return out
}

// rotateLog is what a rotation's cert-issued and override entries record
// from its request and snapshot.
func rotateLog(req RotateRequest, snap *transfer.Snapshot) IssueLog {
	il := IssueLog{Snapshot: req.Snapshot, TipTime: snap.TipTime}
	if snap.Installed != nil {
		il.Installed = snap.Installed.CertHash
	}
	il.Overrides = req.Overrides()
	return il
}
