package ceremony

// The entries the vault appends to its ceremony log for each action: who
// acts (Audit), the detail keys, and the entry builders of pools, bindings,
// producers, issues, bundles and backups (the glue between an action and
// auditlog). Reconciling the log with the vault after a crash is in
// reconcile.go; opening and sealing the log in log.go.

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kesrotate/kesrotate/auditlog"
	"github.com/kesrotate/kesrotate/internal/textsafe"
	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/transfer"
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
	DetailCompared     = auditlog.DetailCompared    // producer-add: "true" when the operator's fingerprint was compared with it, "false" when not
	DetailMode         = "mode"                     // secrets-encrypted: the vault's secrets mode afterwards
	DetailFiles        = "files"                    // secrets-encrypted: the key files encrypted; an export-keys override: the files written; space-separated
	DetailAirgap       = "airgap"                   // an allow_network override: what broke the air gap, "; "-separated, at most 200 bytes
	DetailConfirmed    = "confirmed"                // keys-destroyed: how the operator confirmed (RetireOptions.How: ConfirmTyped, ConfirmPassed; "--confirm" in older logs)
	DetailAction       = "action"                   // an override that is an action of its own: what it did (ActionExportKeys)
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

	// ActionExportKeys is the DetailAction of the override entry of
	// (*Pool).ExportSecrets: secret keys written out in plaintext.
	ActionExportKeys = "export-keys"
)

// Audit is who performs the vault's actions and with which binary. Every
// ceremony-log entry the vault appends carries it.
type Audit struct {
	Operator     string
	Witnesses    []string
	Version      string // the binary's version; "" records "unknown"
	BinarySHA256 string // hex SHA-256 of the running binary; "" hashes os.Executable()
	// Clock is the clock the operator set (--now), nil when the times
	// are the machine's. The vault records it once, in an override entry
	// before the first entry it appends (see (*Vault).append), or in the
	// init entry of a new vault; a cert issued under it also lists
	// OverrideNow among its overrides.
	Clock *ClockOverride
}

// IssueLog is what the ceremony log records about an issue beyond the
// cert itself.
type IssueLog struct {
	Snapshot  []byte            // the signed snapshot the period and counter came from (only hashed)
	TipTime   time.Time         // the snapshot's tip time; zero without a snapshot
	Installed string            // cert hash the snapshot reports installed, if any
	Overrides map[string]string // overrides used, by Override… name, e.g. OverrideAllowStale: "true"
}

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
		if _, _, err := v.append(l, e); err != nil {
			return err
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
	v      *Vault
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
	pi := &pendingIssue{v: v, log: l}
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
		if k == OverrideNow || k == DetailSystemTime {
			continue // the clock's own override entry records it (append)
		}
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
		if _, _, err := pi.v.append(pi.log, e); err != nil {
			return err
		}
	}
	return nil
}

// appendCert appends the cert-issued entry and returns the checkpoint
// note that covers it. The caller has journaled the cert: see
// issuedNotLogged.
func (pi *pendingIssue) appendCert() ([]byte, error) {
	_, c, err := pi.v.append(pi.log, pi.cert)
	if err != nil {
		return nil, err
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
	_, c, err := v.append(l, e)
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
	return v.append(l, e)
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
// that cannot take the entry) and appending the pool's entries. Once the
// pool is in the vault every failure is a *PoolNotLoggedError (returned
// with the pool); before, nothing was added.
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
	if err := v.crashPoint("pool-before-log"); err != nil {
		return p, &PoolNotLoggedError{Pool: p.Meta.Name, Err: err}
	}
	if err := v.logPool(l, p, now); err != nil {
		return p, &PoolNotLoggedError{Pool: p.Meta.Name, Err: err}
	}
	return p, nil
}

// ClockOverride describes a clock the operator set (--now) for the log:
// the time given, and the machine's own clock at that moment. It travels
// in Audit.Clock.
type ClockOverride struct {
	Given  time.Time
	System time.Time
}

// append appends e to l. Before the first entry this vault appends, when
// the operator set the clock (Audit.Clock), it appends the override entry
// that records it (OverrideNow, DetailSystemTime; no pool: it is the
// clock of every action of the process), timed like e: whatever the
// action, the log never holds an entry timed by a clock it does not say
// was set. Every append of the vault goes through here.
func (v *Vault) append(l *auditlog.Log, e auditlog.Entry) (auditlog.Entry, auditlog.Checkpoint, error) {
	if c := v.Audit.Clock; c != nil && !c.same(v.clockLogged) {
		ce, err := v.Audit.entry(auditlog.KindOverride, e.Time)
		if err != nil {
			return auditlog.Entry{}, auditlog.Checkpoint{}, err
		}
		ce.Detail = map[string]string{}
		c.record(ce.Detail)
		if _, _, err := l.Append(ce); err != nil {
			return auditlog.Entry{}, auditlog.Checkpoint{}, fmt.Errorf("recording the clock the operator set: %w", err)
		}
		v.clockLogged = c
	}
	return l.Append(e)
}

// same reports whether c and d are the same clock.
func (c *ClockOverride) same(d *ClockOverride) bool {
	return c != nil && d != nil && c.Given.Equal(d.Given) && c.System.Equal(d.System)
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
	if len(out) == 0 {
		return nil
	}
	return out
}

// rotateLog is what a rotation's cert-issued and override entries record
// from its request, its snapshot and the clock the operator set.
func rotateLog(req RotateRequest, snap *transfer.Snapshot, clock *ClockOverride) IssueLog {
	il := IssueLog{Snapshot: req.Snapshot, TipTime: snap.TipTime}
	if snap.Installed != nil {
		il.Installed = snap.Installed.CertHash
	}
	il.Overrides = withClock(req.Overrides(), clock)
	return il
}

// withClock adds the clock the operator set to an issue's overrides: the
// cert-issued entry lists OverrideNow (which exempts its KES period from
// the rule that periods never go back), while the clock's own override
// entry is written once by append.
func withClock(overrides map[string]string, clock *ClockOverride) map[string]string {
	if clock == nil {
		return overrides
	}
	if overrides == nil {
		overrides = map[string]string{}
	}
	clock.record(overrides)
	return overrides
}
