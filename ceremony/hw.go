package ceremony

// Pools whose cold key is on a hardware wallet (a Ledger with the Cardano
// app, driven by cardano-hw-cli, which the operator runs: kesrotate links
// no USB or process-execution code).
//
// The vault holds the key's signing file (cold.hwsfile: path and extended
// public key), never the key. A rotation is split around the device's
// signature:
//
//   - PrepareRotation does everything Rotate does up to the signature
//     (pins, snapshot, counter, KES period, a fresh KES key kept as a
//     secret of the vault), then writes prepared.json, and into one folder
//     the files 'cardano-hw-cli node issue-op-cert' reads: kes.vkey, a
//     counter file holding the chosen number, the signing file. The
//     ceremony log gets a cert-prepared entry.
//   - FinishRotation takes the cert cardano-hw-cli wrote, holds it against
//     everything prepared (cold key, counter, period, KES key, signature
//     over the 48-byte signable), and only then journals it, logs it with
//     its cert, seals the bundle, and destroys the staged KES key.
//   - AbandonRotation destroys the staged KES key (a cert the device may
//     have signed for it is then worthless) and logs cert-abandoned.
//
// The journal stays the source of truth for counters: a preparation is
// not an issue; cardano-hw-cli's counter file in the folder is only its
// input. Order and crashes: the staged key and prepared.json are written
// before the log's entries, and removed before cert-abandoned is logged;
// OpenLog records what a crash left unlogged (LogGaps: "prepared",
// "abandoned"), as it does for certs.

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kesrotate/kesrotate/auditlog"
	"github.com/kesrotate/kesrotate/internal/safefile"
	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/opcert"
	"github.com/kesrotate/kesrotate/transfer"
)

// Files of a pool whose cold key is on a hardware wallet.
const (
	hwSigningFile = "cold.hwsfile"    // the signing file as it was imported (public)
	preparedFile  = "prepared.json"   // the open preparation (public)
	stagedKESFile = "kes.staged.skey" // its KES key's seed (secret; .age in an encrypted vault)
)

// The files of the folder a preparation writes for cardano-hw-cli.
const (
	HWKESVKeyFile     = "kes.vkey"     // the KES vkey to certify (cardano-cli format)
	HWCounterFile     = "cold.counter" // the chosen number, as cardano-cli's counter file
	HWSigningFileName = "cold.hwsfile" // the pool's signing file, in today's form
	HWSignedCert      = "node.cert"    // where the printed command has cardano-hw-cli write the cert
	hwFolderSuffix    = "-cardano-hw-cli"
)

// Hardware reports whether the pool's cold key is on a hardware wallet.
func (p *Pool) Hardware() bool { return p.Meta.HWPath != "" }

// HWSigningFile returns the pool's signing file, as imported and parsed.
func (p *Pool) HWSigningFile() ([]byte, *keys.HWSigningFile, error) {
	raw, err := os.ReadFile(filepath.Join(p.Dir, hwSigningFile))
	if err != nil {
		return nil, nil, err
	}
	f, err := keys.ParseHWSigningFile(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("%s/%s: %w", p.Meta.Name, hwSigningFile, err)
	}
	if vk := f.ColdVKey(); hex.EncodeToString(vk[:]) != p.Meta.ColdVKey || f.PathString() != p.Meta.HWPath {
		return nil, nil, fmt.Errorf("%s/%s is not the pool's signing file", p.Meta.Name, hwSigningFile)
	}
	return raw, f, nil
}

// HWImport is a pool whose cold key is on a hardware wallet.
type HWImport struct {
	SigningFile []byte // cardano-hw-cli's signing file (node key-gen --hw-signing-file)
	Counter     []byte // its counter file, if certs were issued with it before; nil: none
	VRFSkey     []byte // cardano-cli VRF signing key; nil: the vault holds none
}

// HWImport may carry a VRF signing key: it prints as [REDACTED] for every
// verb, like ImportOptions.
func (HWImport) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(keys.Redacted)) }
func (HWImport) String() string             { return keys.Redacted }
func (HWImport) GoString() string           { return keys.Redacted }

// ImportHWPool adds a running pool whose cold key is on a hardware wallet,
// from cardano-hw-cli's signing file: the cold vkey is the first 32 bytes
// of its extended public key, the path must be a pool cold key's. A
// counter file (cardano-hw-cli's, after its last cert) must be for that
// key; its next number is kept as for ImportPool. Without one the vault
// knows of no cert issued with the key.
func (v *Vault) ImportHWPool(name string, o HWImport, now time.Time) (*Pool, error) {
	f, err := keys.ParseHWSigningFile(o.SigningFile)
	if err != nil {
		return nil, fmt.Errorf("signing file: %w", err)
	}
	key := poolKey{hw: f, hwRaw: o.SigningFile, noCounter: o.Counter == nil}
	counter := keys.Counter{Cold: f.ColdVKey()}
	if o.Counter != nil {
		if counter, err = keys.ParseCounter(o.Counter); err != nil {
			return nil, fmt.Errorf("counter: %w", err)
		}
		if err := counter.CheckCold(f.ColdVKey()); err != nil {
			return nil, err
		}
	}
	var vrfKey *keys.VRFKey
	if o.VRFSkey != nil {
		if vrfKey, err = keys.ParseVRFKey(o.VRFSkey); err != nil {
			return nil, fmt.Errorf("VRF signing key: %w", err)
		}
		defer vrfKey.Wipe()
	}
	return v.addPoolLogged(name, "import", key, vrfKey, counter, now)
}

// NewHWPool adds a new pool whose cold key was just made on a hardware
// wallet ('cardano-hw-cli node key-gen'), with a fresh VRF key: as NewPool,
// but the cold key stays on the device.
func (v *Vault) NewHWPool(name string, signingFile []byte, now time.Time) (*Pool, error) {
	f, err := keys.ParseHWSigningFile(signingFile)
	if err != nil {
		return nil, fmt.Errorf("signing file: %w", err)
	}
	vrfKey, err := keys.GenerateVRFKey(v.Rand)
	if err != nil {
		return nil, err
	}
	defer vrfKey.Wipe()
	return v.addPoolLogged(name, "new", poolKey{hw: f, hwRaw: signingFile}, vrfKey, keys.Counter{Cold: f.ColdVKey()}, now)
}

// hardwareKeyEntry is the pool's hardware-key entry: the cold vkey and
// where the device keeps its key (in place of an audit-key binding, which
// the vault cannot sign).
func (v *Vault) hardwareKeyEntry(p *Pool, now time.Time) (auditlog.Entry, error) {
	raw, f, err := p.HWSigningFile()
	if err != nil {
		return auditlog.Entry{}, err
	}
	e, err := v.Audit.entry(auditlog.KindHardwareKey, now)
	if err != nil {
		return e, err
	}
	vk := f.ColdVKey()
	e.Pool = p.Meta.PoolID
	e.Detail = map[string]string{auditlog.DetailColdVKey: hex.EncodeToString(vk[:]), auditlog.DetailPath: f.PathString()}
	e.Files = []auditlog.FileHash{HashFile("hw-signing-file", hwSigningFile, raw)}
	return e, nil
}

// Prepared is prepared.json: a rotation prepared up to the device's
// signature. It holds nothing secret.
type Prepared struct {
	Counter       uint64 `json:"counter"`
	KESPeriod     uint64 `json:"kes_period"`
	KESVKey       string `json:"kes_vkey"` // hex of the 32-byte KES vkey to certify
	KESOnProducer bool   `json:"kes_on_producer,omitempty"`
	OnChain       string `json:"onchain"`     // "none" or the chain's counter the number was chosen from
	Chosen        uint64 `json:"rules_chose"` // what the rules chose (Counter unless forced)
	Forced        bool   `json:"forced,omitempty"`
	// Refused is why the rules refused, when the counter was forced past
	// a refusal (Chosen then means nothing).
	Refused string `json:"rules_refused,omitempty"`
	// Producers are the producers the bundle is sealed to, the one whose
	// snapshot it was first.
	Producers []string `json:"producers"`
	// Snapshot is the signed snapshot the counter and period came from
	// (public; the cert's log entry and journal name it as Rotate's do).
	Snapshot       []byte    `json:"snapshot"`
	TipSlot        uint64    `json:"tip_slot"`
	TipTime        time.Time `json:"tip_time"`
	SnapshotSHA256 string    `json:"snapshot_sha256"`
	Installed      string    `json:"installed_cert_hash,omitempty"`
	// Overrides are the overrides used (their log names, with values),
	// for the journal and the cert's log entry.
	Overrides map[string]string `json:"overrides,omitempty"`
	WithVRF   bool              `json:"with_vrf,omitempty"`
	VRFFor    []string          `json:"vrf_for,omitempty"`
	Legacy    bool              `json:"legacy_bundle,omitempty"`
	OutDir    string            `json:"out_dir"` // where the bundle goes
	Folder    string            `json:"folder"`  // the files for cardano-hw-cli (absolute)
	// Journal is the number of journal entries the counter was chosen
	// from: the journal holds one more once the cert is journaled.
	Journal int       `json:"journal_entries"`
	Created time.Time `json:"created"`
}

// refusalText is a refusal of the counter rules as prepared.json keeps it.
func refusalText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// refused is the rules' refusal the counter was forced past, or nil.
func (pr *Prepared) refused() error {
	if pr.Refused == "" {
		return nil
	}
	return errors.New(pr.Refused)
}

// kesVKey is the KES vkey to certify.
func (pr *Prepared) kesVKey() (keys.KESVKey, error) {
	var vk keys.KESVKey
	b, err := hex.DecodeString(pr.KESVKey)
	if err != nil || len(b) != len(vk) {
		return vk, fmt.Errorf("%w: %s: kes_vkey", ErrPreparation, preparedFile)
	}
	copy(vk[:], b)
	return vk, nil
}

// Command is the exact cardano-hw-cli command line that signs the
// prepared cert, one argument an element (the paths absolute).
func (pr *Prepared) Command() []string {
	f := func(name string) string { return filepath.Join(pr.Folder, name) }
	return []string{"cardano-hw-cli", "node", "issue-op-cert",
		"--kes-verification-key-file", f(HWKESVKeyFile),
		"--kes-period", strconv.FormatUint(pr.KESPeriod, 10),
		"--operational-certificate-issue-counter-file", f(HWCounterFile),
		"--hw-signing-file", f(HWSigningFileName),
		"--out-file", f(HWSignedCert)}
}

// Window is the prepared cert's validity window on n.
func (pr *Prepared) Window(n opcert.Network) opcert.Window { return n.CertWindow(pr.KESPeriod) }

// Expiry is the instant the prepared cert will stop being valid on n.
func (pr *Prepared) Expiry(n opcert.Network) time.Time { return n.CertExpiry(pr.KESPeriod) }

// SignedCertPath is where the printed command has cardano-hw-cli write
// the cert.
func (pr *Prepared) SignedCertPath() string { return filepath.Join(pr.Folder, HWSignedCert) }

// DeviceScreen is what the Ledger shows before it signs the prepared cert
// (the Cardano app's signOpCert screens), for the operator to compare.
type DeviceScreen struct {
	Path      string `json:"path"`    // m/1853'/1815'/0'/N'
	PoolID    string `json:"pool_id"` // pool1…
	KESVKey   string `json:"kes_vkey"`
	KESPeriod uint64 `json:"kes_period"`
	Counter   uint64 `json:"counter"`
}

// DeviceScreen is what the device must show for this preparation.
func (p *Pool) DeviceScreen(pr *Prepared) (DeviceScreen, error) {
	_, f, err := p.HWSigningFile()
	if err != nil {
		return DeviceScreen{}, err
	}
	vk, err := pr.kesVKey()
	if err != nil {
		return DeviceScreen{}, err
	}
	return DeviceScreen{Path: f.DevicePath(), PoolID: f.ColdVKey().PoolID().Bech32(), KESVKey: vk.Bech32(),
		KESPeriod: pr.KESPeriod, Counter: pr.Counter}, nil
}

// Prepared returns the pool's open preparation, or nil.
func (p *Pool) Prepared() (*Prepared, error) {
	b, err := os.ReadFile(filepath.Join(p.Dir, preparedFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var pr Prepared
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&pr); err != nil {
		return nil, fmt.Errorf("%w: %s/%s is unreadable", ErrPreparation, p.Meta.Name, preparedFile)
	}
	return &pr, nil
}

// journaled reports whether the prepared cert is in the journal already
// (a finish that stopped after the journal): then it must be finished.
func (pr *Prepared) journaled(entries []JournalEntry) (*JournalEntry, bool) {
	if len(entries) != pr.Journal+1 {
		return nil, false
	}
	last := entries[len(entries)-1]
	if last.Kind != KindIssued || last.Counter != pr.Counter || last.KESPeriod != pr.KESPeriod {
		return nil, false
	}
	vk, err := pr.kesVKey()
	if err != nil || last.KESVKeyHash != KESVKeyHash(vk) {
		return nil, false
	}
	return &last, true
}

// issueRequest is the IssueRequest a preparation stands for.
func (pr *Prepared) issueRequest(now time.Time) (IssueRequest, error) {
	oc, err := opcert.ParseOnChain(pr.OnChain)
	if err != nil {
		return IssueRequest{}, err
	}
	req := IssueRequest{KESPeriod: pr.KESPeriod, TipSlot: pr.TipSlot, OnChain: oc, Producer: pr.Producers[0],
		SealedTo: sealedTo(pr.Producers), WithVRF: pr.WithVRF, Now: now,
		Log: IssueLog{Snapshot: pr.Snapshot, TipTime: pr.TipTime, Installed: pr.Installed, Overrides: pr.Overrides}}
	if pr.Forced {
		n := pr.Counter
		req.ForceCounter = &n
	}
	if pr.KESOnProducer {
		vk, err := pr.kesVKey()
		if err != nil {
			return req, err
		}
		req.KESVKey = &vk
	}
	return req, nil
}

// PreparedRotation is a rotation prepared for the device's signature.
type PreparedRotation struct {
	Prepared *Prepared
	Snapshot *transfer.Snapshot
	SealedTo []*Producer
	Pins     []auditlog.PinRecord
	Files    []string // the files written into Prepared.Folder
	Device   DeviceScreen
	// LogEntry is the cert-prepared entry's position in the log.
	LogEntry int64
}

// PrepareRotation rotates a pool whose cold key is on a hardware wallet up
// to the signature. It runs Rotate's checks (pins, snapshot, VRF key,
// bundle folder), chooses the counter by the same rules, makes the KES key
// (unless the snapshot carries one) and keeps it as a secret of the vault,
// writes prepared.json and, into a new folder beside where the bundle will
// go (POOL-N-PERIOD-KESVK-cardano-hw-cli, KESVK the first 8 hex digits of
// the KES vkey), kes.vkey, cold.counter (holding N)
// and cold.hwsfile; then logs the snapshot, the overrides and cert-prepared.
// A refusal, or a failure before the log, leaves nothing behind. A pool
// with a preparation open is refused (ErrPrepared): finish or abandon it.
func (v *Vault) PrepareRotation(req RotateRequest) (_ *PreparedRotation, err error) {
	p, end, err := v.beginRotation(req.Pool)
	if err != nil {
		return nil, err
	}
	defer end(&err)
	if !p.Hardware() {
		return nil, fmt.Errorf("%w: pool %s: rotate signs its cert without a hardware wallet", ErrNotHardware, p.Meta.Name)
	}
	if r, err := p.Retired(); err != nil {
		return nil, err
	} else if r != nil {
		return nil, fmt.Errorf("%w: %s on %s", ErrKeysDestroyed, p.Meta.Name, r.Time.Format(time.RFC3339))
	}
	if pr, err := p.Prepared(); err != nil {
		return nil, err
	} else if pr != nil {
		return nil, fmt.Errorf("%w: cert #%d of pool %s, KES period %d, since %s (files in %s)", ErrPrepared, pr.Counter, p.Meta.Name, pr.KESPeriod,
			pr.Created.UTC().Format(time.RFC3339), pr.Folder)
	}
	// A staged key without prepared.json was never certified (a
	// preparation that stopped before its record): it goes.
	if _, err := p.shredStagedKES(); err != nil {
		return nil, err
	}
	pl, err := v.planRotation(p, req)
	if err != nil {
		return nil, err
	}
	snap := pl.snap
	cc, err := p.chooseCounter(snap.OnChain, req.ForceCounter)
	if err != nil {
		return nil, err
	}
	outDir, err := filepath.Abs(pl.outDir)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOutput, err)
	}
	// cardano-hw-cli writes its cert into the folder with its own umask
	// (group-writable under many), and the vault refuses to open with
	// such a file in it: the folder stays outside.
	if in, err := within(v.Dir, outDir); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOutput, err)
	} else if in {
		return nil, fmt.Errorf("%w: the files for cardano-hw-cli would go into the vault (%s); give an output folder outside it, such as the transfer stick", ErrOutput, outDir)
	}
	_, hw, err := p.HWSigningFile()
	if err != nil {
		return nil, err
	}
	cold, err := p.ColdVKey()
	if err != nil {
		return nil, err
	}
	var kes *keys.KESKey
	var kesVK keys.KESVKey
	if snap.KESVKey != nil {
		kesVK = *snap.KESVKey
	} else {
		if kes, err = keys.GenerateKESKey(v.Rand); err != nil {
			return nil, err
		}
		defer kes.Wipe()
		kesVK = kes.Public()
	}
	// The folder is named for the cert and its KES key: one preparation's.
	folder := filepath.Join(outDir, fmt.Sprintf("%s-%d-%d-%s%s", p.Meta.Name, cc.n, pl.period, hex.EncodeToString(kesVK[:4]), hwFolderSuffix))
	if _, err := os.Lstat(folder); err == nil {
		return nil, fmt.Errorf("%w: %s is there already", ErrOutput, folder)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %w", ErrOutput, err)
	}
	ireq := IssueRequest{KESPeriod: pl.period, TipSlot: snap.TipSlot, OnChain: snap.OnChain, ForceCounter: req.ForceCounter,
		KESVKey: snap.KESVKey, Producer: pl.names[0], SealedTo: sealedTo(pl.names), WithVRF: pl.withVRF, Now: req.Now, Log: rotateLog(req, snap, v.Audit.Clock)}
	pr := &Prepared{Counter: cc.n, KESPeriod: pl.period, KESVKey: hex.EncodeToString(kesVK[:]), KESOnProducer: snap.KESVKey != nil,
		OnChain: snap.OnChain.Text(), Chosen: cc.chosen, Forced: cc.forced, Refused: refusalText(cc.refused), Producers: pl.names, Snapshot: req.Snapshot, TipSlot: snap.TipSlot,
		TipTime: snap.TipTime.UTC().Truncate(time.Second), SnapshotSHA256: transfer.FileHash(req.Snapshot), Installed: ireq.Log.Installed,
		Overrides: ireq.Log.Overrides, WithVRF: pl.withVRF, VRFFor: pl.vrfFor, Legacy: pl.legacy, OutDir: outDir, Folder: folder,
		Journal: len(cc.entries), Created: req.Now.UTC().Truncate(time.Second)}
	folderFiles := []struct {
		name string
		data []byte
	}{
		{HWKESVKeyFile, kesVK.MarshalEnvelope()},
		{HWCounterFile, keys.Counter{Next: cc.n, Cold: cold}.MarshalEnvelope()},
		{HWSigningFileName, hw.Marshal()},
	}
	// The log's entries, checked before anything is written.
	l, _, err := v.OpenLog(req.Now)
	if err != nil {
		return nil, err
	}
	entries, err := p.issueBefore(ireq, pr.journalEntry())
	if err != nil {
		return nil, err
	}
	var hashes []auditlog.FileHash
	for _, f := range folderFiles {
		hashes = append(hashes, HashFile("hw-"+f.name, f.name, f.data))
	}
	pe, err := v.preparedEntry(p, pr, req.Now, hashes...)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if err := l.Check(e); err != nil {
			return nil, err
		}
	}
	if err := l.Check(pe); err != nil && !(cc.forced && errors.Is(err, auditlog.ErrSemantics)) {
		return nil, fmt.Errorf("%w: %w", ErrLogRule, err)
	}

	// The vault first (the staged key, then prepared.json, which makes
	// the preparation), then the folder; any failure so far undoes all.
	var written []string
	defer func() {
		if err != nil && written != nil {
			for _, w := range written {
				_ = os.Remove(w)
			}
			_ = os.Remove(folder) // only if empty
			_ = os.Remove(filepath.Join(p.Dir, preparedFile))
			_, _ = p.shredStagedKES()
		}
	}()
	if kes != nil {
		env, err := kes.MarshalSeedEnvelope()
		if err != nil {
			return nil, err
		}
		err = v.writeSecret(filepath.Join(p.Dir, stagedKESFile), env)
		wipeBytes(env)
		if err != nil {
			return nil, err
		}
	}
	written = []string{}
	b, _ := json.MarshalIndent(pr, "", "  ")
	if err := safefile.Create(filepath.Join(p.Dir, preparedFile), append(b, '\n'), 0o644); err != nil {
		return nil, err
	}
	if err := os.Mkdir(folder, 0o700); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOutput, err)
	}
	for _, f := range folderFiles {
		path := filepath.Join(folder, f.name)
		if err := safefile.Create(path, f.data, 0o644); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrOutput, err)
		}
		written = append(written, path)
	}
	res := &PreparedRotation{Prepared: pr, Snapshot: snap, SealedTo: pl.prods, Pins: pl.pins, Files: written}
	written = nil // kept from here on: the preparation exists
	if err := v.crashPoint("prepared-before-log"); err != nil {
		return nil, err
	}
	for _, e := range entries {
		if _, _, err := v.append(l, e); err != nil {
			return nil, fmt.Errorf("the rotation is prepared but its log entries failed (the next command records them): %w", err)
		}
	}
	got, _, err := v.append(l, pe)
	if err != nil {
		return nil, fmt.Errorf("the rotation is prepared but its log entry failed (the next command records it): %w", err)
	}
	res.LogEntry = got.Seq
	if res.Device, err = p.DeviceScreen(pr); err != nil {
		return nil, err
	}
	return res, nil
}

// journalEntry is what the journal would record of the prepared cert,
// short of the cert (for its log entries).
func (pr *Prepared) journalEntry() JournalEntry {
	var overrides []string
	if req, err := pr.issueRequest(pr.Created); err == nil {
		overrides = req.overrideNames()
	}
	return JournalEntry{Counter: pr.Counter, KESPeriod: pr.KESPeriod, KESVKeyHash: prKESVKeyHash(pr), OnChain: pr.OnChain,
		Forced: pr.Forced, KESOnProducer: pr.KESOnProducer, SnapshotSHA256: pr.SnapshotSHA256, Overrides: overrides}
}

// preparedEntry is the cert-prepared entry of pr; files adds the hashes
// of the folder's files.
func (v *Vault) preparedEntry(p *Pool, pr *Prepared, now time.Time, files ...auditlog.FileHash) (auditlog.Entry, error) {
	ireq, err := pr.issueRequest(now)
	if err != nil {
		return auditlog.Entry{}, err
	}
	je := pr.journalEntry()
	e, err := v.Audit.entry(auditlog.KindCertPrepared, now)
	if err != nil {
		return e, err
	}
	e.Pool, e.Counter, e.KESPeriod, e.KESVKeyHash = p.Meta.PoolID, auditlog.U64(pr.Counter), auditlog.U64(pr.KESPeriod), je.KESVKeyHash
	e.OnChainCounter, e.TipSlot, e.TipTime = onChainPtr(je), auditlog.U64(pr.TipSlot), ireq.tipTime()
	e.Detail = issueDetail(ireq, je, pr.Chosen, pr.refused())
	e.Detail[DetailSealedTo] = strings.Join(pr.Producers, " ")
	e.Files = append([]auditlog.FileHash{HashFile("snapshot", "snapshot", pr.Snapshot)}, files...)
	return e, nil
}

// recoveredPrepared is the cert-prepared entry of a preparation the log
// lacks (an interrupted PrepareRotation).
func (v *Vault) recoveredPrepared(g LogGap, now time.Time) (auditlog.Entry, error) {
	p, err := v.Pool(g.Pool)
	if err != nil {
		return auditlog.Entry{}, err
	}
	e, err := v.preparedEntry(p, g.Prepared, now)
	if err != nil {
		return e, err
	}
	e.Detail[DetailIssuedAt] = g.Prepared.Created.UTC().Format(time.RFC3339)
	return e, nil
}

// preparationGap compares the pool's preparation with the log's open one
// (idx): a preparation the log lacks, or one the log holds open that the
// vault abandoned. A preparation whose cert is journaled is ended by its
// cert (a "cert" gap if the log lacks that).
func preparationGap(p *Pool, js []JournalEntry, idx logIndex) (*LogGap, error) {
	pr, err := p.Prepared()
	if err != nil {
		return nil, err
	}
	open, logged := idx.openPrepared(p.Meta.PoolID)
	if pr != nil {
		if _, done := pr.journaled(js); done {
			return nil, nil
		}
		if logged && open.Counter == pr.Counter && open.KESPeriod == pr.KESPeriod && open.KESVKeyHash == prKESVKeyHash(pr) {
			return nil, nil
		}
		if logged {
			return nil, fmt.Errorf("%w: pool %s: the log's open preparation (entry %d, cert #%d) is not the vault's (cert #%d)", ErrLogRule, p.Meta.Name, open.Seq, open.Counter, pr.Counter)
		}
		return &LogGap{Kind: "prepared", Pool: p.Meta.Name, PoolID: p.Meta.PoolID, Prepared: pr}, nil
	}
	if !logged {
		return nil, nil
	}
	for _, je := range Issued(js) {
		if je.Counter == open.Counter && je.KESPeriod == open.KESPeriod && je.KESVKeyHash == open.KESVKeyHash {
			return nil, nil
		}
	}
	return &LogGap{Kind: "abandoned", Pool: p.Meta.Name, PoolID: p.Meta.PoolID, Open: &open}, nil
}

// within reports whether path is dir or below it, links resolved (both
// exist).
func within(dir, path string) (bool, error) {
	resolve := func(p string) (string, error) {
		p, err := filepath.Abs(p)
		if err != nil {
			return "", err
		}
		return filepath.EvalSymlinks(p)
	}
	d, err := resolve(dir)
	if err != nil {
		return false, err
	}
	p, err := resolve(path)
	if err != nil {
		return false, err
	}
	rel, err := filepath.Rel(d, p)
	if err != nil {
		return false, err
	}
	return rel == "." || (rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))), nil
}

// shredStagedKES destroys the staged KES key, if there is one, and says
// whether there was.
func (p *Pool) shredStagedKES() (destroyed bool, err error) {
	for _, name := range []string{stagedKESFile, stagedKESFile + encSuffix} {
		err := Shred(filepath.Join(p.Dir, name))
		switch {
		case err == nil:
			destroyed = true
		case !errors.Is(err, fs.ErrNotExist):
			return destroyed, fmt.Errorf("destroying %s/%s: %w", p.Meta.Name, name, err)
		}
	}
	return destroyed, nil
}

// removeFolderFiles removes the files a preparation wrote for cardano-hw-cli
// (cold.counter, which cardano-hw-cli advanced, included) and the cert
// cardano-hw-cli wrote there if it certifies the preparation's KES key (it
// is in the vault once finished, and worthless once abandoned), then the
// folder when nothing else is left in it. It returns what stays.
func (pr *Prepared) removeFolderFiles() []string {
	for _, name := range []string{HWKESVKeyFile, HWCounterFile, HWSigningFileName} {
		_ = os.Remove(filepath.Join(pr.Folder, name))
	}
	if b, err := safefile.ReadRegular(pr.SignedCertPath(), transfer.MaxFileSize); err == nil {
		if c, err := opcert.Parse(b); err == nil && hex.EncodeToString(c.KESVKey[:]) == pr.KESVKey {
			_ = os.Remove(pr.SignedCertPath())
		}
	}
	_ = os.Remove(pr.Folder)
	return pr.folderFiles()
}

// folderFiles lists what is in the preparation's folder.
func (pr *Prepared) folderFiles() []string {
	var left []string
	des, _ := os.ReadDir(pr.Folder)
	for _, d := range des {
		left = append(left, filepath.Join(pr.Folder, d.Name()))
	}
	return left
}

// FinishRequest finishes a prepared rotation with the cert the device
// signed.
type FinishRequest struct {
	Pool string
	// SignedCert is the NodeOperationalCertificate file cardano-hw-cli
	// wrote; nil reads it where the printed command has it written
	// (Prepared.SignedCertPath).
	SignedCert []byte
	Now        time.Time
	// QRDir, if set, also gets the bundle's QR frames and the
	// checkpoint's QR code, as RotateRequest.QRDir; it must take them
	// before the cert is journaled (ErrQR).
	QRDir string
}

// FinishResult is a finished rotation: what Rotate returns, what became
// of the staged KES key, and what stayed in the preparation's folder.
// Returned with an error when only the cleanup after the bundle failed:
// the fields then say what that cleanup did not do.
type FinishResult struct {
	*RotateResult
	Prepared *Prepared
	// KESDestroyed: the vault's staged KES key was destroyed, every copy
	// of it (the bundle carries it). False when the vault had none
	// (KESOnProducer) or destroying a copy failed.
	KESDestroyed bool
	// KESOnProducer: the producer made the KES key; the vault never held
	// it, so there was nothing to destroy.
	KESOnProducer bool
	// Cleared: the preparation is gone (prepared.json, and kesrotate's
	// files in its folder, the folder too when Left is empty). False when
	// destroying the staged key or removing prepared.json failed: then
	// nothing of the folder was removed.
	Cleared bool
	// Left are the files that stay in the preparation's folder: those
	// not kesrotate's (Cleared), or all of them (not Cleared).
	Left []string
}

// FinishRotation checks the cert cardano-hw-cli wrote against the
// preparation: the pool's cold vkey, the counter, the KES period, the KES
// vkey, and the cold key's signature over the 48-byte signable, then the
// window and the staged KES key as Rotate's self-check does. Anything else
// is refused (ErrSignedCert, naming what differs) and nothing changes.
// Then, as Rotate: the journal, the cert-issued entry (with the cert), the
// cert and counter files, the bundle; last the staged KES key is destroyed
// and the preparation's files removed (a failure there returns the result
// too, saying what stayed). Run again after a failure past the journal, it
// picks up where that one stopped.
func (v *Vault) FinishRotation(req FinishRequest) (_ *FinishResult, err error) {
	p, end, err := v.beginRotation(req.Pool)
	if err != nil {
		return nil, err
	}
	defer end(&err)
	if !p.Hardware() {
		return nil, fmt.Errorf("%w: pool %s has nothing to sign on one", ErrNotHardware, p.Meta.Name)
	}
	pr, err := p.Prepared()
	if err != nil {
		return nil, err
	}
	if pr == nil {
		return nil, fmt.Errorf("%w: %s", ErrNotPrepared, p.Meta.Name)
	}
	if req.SignedCert == nil {
		if req.SignedCert, err = safefile.ReadRegular(pr.SignedCertPath(), transfer.MaxFileSize); err != nil {
			return nil, fmt.Errorf("the signed cert: %w", err)
		}
	}
	cert, err := opcert.Parse(req.SignedCert)
	if err != nil {
		return nil, fmt.Errorf("the signed cert: %w", err)
	}
	cold, err := p.ColdVKey()
	if err != nil {
		return nil, err
	}
	if err := pr.check(cert, cold, p.Meta.Name); err != nil {
		return nil, err
	}
	var kes *keys.KESKey
	if !pr.KESOnProducer {
		b, err := v.readSecret(filepath.Join(p.Dir, stagedKESFile))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: the staged KES key of cert #%d is gone (an abandon that stopped half way?): abandon the preparation", ErrPreparation, pr.Counter)
		}
		if err != nil {
			return nil, err
		}
		kes, err = keys.ParseKESSeedEnvelope(b)
		wipeBytes(b)
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %w", p.Meta.Name, stagedKESFile, err)
		}
		defer kes.Wipe()
		if kes.Public() != cert.KESVKey {
			return nil, fmt.Errorf("%w: the staged KES key is not the prepared one", ErrPreparation)
		}
	}
	if err := p.selfCheck(cert, cold, kes, pr.TipSlot); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSignedCert, err)
	}
	// The producers are the ones the log's preparation names (prepared.json
	// is not signed), each held against its pin again: one may have been
	// removed since.
	prods, pins, recipients, err := v.sealTargets(p, cold.PoolID(), pr.Producers)
	if err != nil {
		return nil, err
	}
	if err := safefile.PrepareDir(pr.OutDir, 0o700); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOutput, err)
	}
	if err := checkQRDir(req.QRDir); err != nil {
		return nil, err
	}
	ireq, err := pr.issueRequest(req.Now)
	if err != nil {
		return nil, err
	}
	je, err := ireq.issuedEntry(cert, pr.Forced)
	if err != nil {
		return nil, err
	}
	je.HardwareWallet = true
	entries, err := p.Journal()
	if err != nil {
		return nil, err
	}
	prev, done := pr.journaled(entries)
	if done && prev.CertHash != cert.Hash() {
		return nil, fmt.Errorf("%w: cert #%d is journaled already with hash %s, this one is %s", ErrSignedCert, prev.Counter, prev.CertHash[:16], cert.Hash()[:16])
	}
	l, _, err := v.OpenLog(req.Now)
	if err != nil {
		return nil, err
	}
	var ce auditlog.Entry
	if done && l.CertLogged(cert.Hash()) {
		// Journaled and logged by a finish that stopped later.
	} else {
		open, ok := l.Prepared(p.Meta.PoolID)
		if !ok || open.Counter != cert.Counter || open.KESPeriod != cert.KESPeriod || open.KESVKeyHash != je.KESVKeyHash {
			return nil, fmt.Errorf("%w: the ceremony log has no open preparation of cert #%d", ErrLogRule, cert.Counter)
		}
		if open.SealedTo != strings.Join(pr.Producers, " ") {
			return nil, fmt.Errorf("%w: %s names producers %q, the log's preparation (entry %d) %q: it was edited", ErrPreparation, preparedFile, strings.Join(pr.Producers, " "), open.Seq, open.SealedTo)
		}
		if ce, err = p.certIssuedEntry(ireq, je, cert.MarshalEnvelope(), pr.Chosen, pr.refused()); err != nil {
			return nil, err
		}
		ce.Detail[auditlog.DetailPrepared] = strconv.FormatInt(open.Seq, 10)
		ce.Files = append(ce.Files, HashFile("signed-cert", HWSignedCert, req.SignedCert))
		if err := l.Check(ce); err != nil && !(pr.Forced && errors.Is(err, auditlog.ErrSemantics)) {
			return nil, fmt.Errorf("%w: %w", ErrLogRule, err)
		}
	}
	res := &IssueResult{Cert: cert, KES: kes, Chosen: pr.Chosen, Forced: pr.Forced, RulesRefused: pr.refused()}
	if !done {
		if err := v.crashPoint("before-journal"); err != nil {
			return nil, err
		}
		if err := p.appendJournal(je, pr.Journal); err != nil {
			return nil, err
		}
		if err := v.crashPoint("after-journal"); err != nil {
			return nil, issuedNotLogged(je, err)
		}
	}
	if ce.Kind != "" {
		_, c, err := v.append(l, ce)
		if err != nil {
			return nil, issuedNotLogged(je, err)
		}
		res.Checkpoint = c.Note
	} else {
		res.Checkpoint = l.Checkpoint().Note
	}
	// The cert is journaled and logged: every failure from here says so.
	if err := p.Repair(); err != nil {
		return nil, afterIssue(je, err)
	}
	if entries, err = p.Journal(); err != nil {
		return nil, afterIssue(je, err)
	}
	res.Entry = entries[len(entries)-1]
	if res.History, err = History(entries[:len(entries)-1]); err != nil {
		return nil, afterIssue(res.Entry, err)
	}
	sealed, err := v.sealBundle(p, cold.PoolID(), res, prods, recipients, pr.OutDir, pr.Legacy, pr.WithVRF, res.Checkpoint, req.Now)
	if err != nil {
		return nil, afterIssue(res.Entry, err)
	}
	// The snapshot was checked when the rotation was prepared; read again
	// for the result (its signature still verifies: the same pinned key).
	snap, err := transfer.ParseSnapshot(pr.Snapshot, prods[0].Enrollment.SignKey)
	if err != nil {
		return nil, err
	}
	out := &FinishResult{RotateResult: &RotateResult{Issue: res, Snapshot: snap, Producer: prods[0], Pin: pins[0], SealedTo: prods, Pins: pins,
		BundleFile: sealed.file, Bundle: sealed.data, BundleHash: transfer.FileHash(sealed.data), Checkpoint: sealed.checkpoint,
		VRFFor: pr.VRFFor, WithVRF: pr.WithVRF, Warnings: p.sameCounterElsewhere(res, pr.Producers)}, Prepared: pr, KESOnProducer: pr.KESOnProducer}
	// The rotation is done: a QR folder that fails now returns it too.
	qrErr := writeQR(req.QRDir, out.RotateResult)
	// The bundle is out: the staged key and the preparation go.
	destroyed, err := false, v.crashPoint("finished-before-cleanup")
	if err == nil {
		destroyed, err = p.shredStagedKES()
	}
	if err != nil {
		out.Left = pr.folderFiles()
		return out, errors.Join(err, qrErr)
	}
	out.KESDestroyed = destroyed
	if err := os.Remove(filepath.Join(p.Dir, preparedFile)); err != nil {
		out.Left = pr.folderFiles()
		return out, errors.Join(fmt.Errorf("removing %s/%s: %w", p.Meta.Name, preparedFile, err), qrErr)
	}
	out.Cleared = true
	out.Left = pr.removeFolderFiles()
	return out, qrErr
}

// check holds a signed cert against the preparation, saying what differs.
func (pr *Prepared) check(c *opcert.Certificate, cold keys.ColdVKey, pool string) error {
	vk, err := pr.kesVKey()
	if err != nil {
		return err
	}
	switch {
	case c.Cold != cold:
		return fmt.Errorf("%w: it is for pool %s, not %s (%s): cardano-hw-cli was given another pool's counter or signing file", ErrSignedCert, c.PoolID(), pool, cold.PoolID())
	case c.Counter != pr.Counter:
		return fmt.Errorf("%w: it has counter %d, cert #%d was prepared (the journal's number): the counter file cardano-hw-cli read said %d; "+
			"it was another file than %s, or that one after an earlier signature (cardano-hw-cli adds one to it each time it signs)",
			ErrSignedCert, c.Counter, pr.Counter, c.Counter, filepath.Join(pr.Folder, HWCounterFile))
	case c.KESPeriod != pr.KESPeriod:
		return fmt.Errorf("%w: it starts in KES period %d, the prepared cert in %d: cardano-hw-cli was given another --kes-period", ErrSignedCert, c.KESPeriod, pr.KESPeriod)
	case c.KESVKey != vk:
		return fmt.Errorf("%w: it certifies KES key %s, the prepared one is %s: cardano-hw-cli was given another kes.vkey", ErrSignedCert, c.KESVKey.Bech32(), vk.Bech32())
	}
	if err := c.CheckSignature(); err != nil {
		return fmt.Errorf("%w: its signature does not verify with pool %s's cold key: the device that signed holds another key (another device, or another passphrase on it), or the file was changed", ErrSignedCert, pool)
	}
	return nil
}

// Abandoned is what AbandonRotation destroyed, and what stayed.
type Abandoned struct {
	Prepared *Prepared // the preparation given up
	// KESDestroyed: the vault's staged KES key was destroyed, so a cert
	// the device may have signed for it can never make a block.
	KESDestroyed bool
	// KESOnProducer: the producer made the KES key (Prepared.Producers[0])
	// and still holds it as its pending key: a cert the device signed for
	// it can still make a block there until the producer discards it.
	KESOnProducer bool
	// Left are the files that stay in the preparation's folder (not
	// kesrotate's); the folder is removed when there are none.
	Left []string
}

// AbandonRotation ends the pool's open preparation without a cert: the
// staged KES key, if the vault made one, is destroyed (so a cert the
// device may have signed for it can never make a block; a key the producer
// made stays there), prepared.json and the folder's files are removed, and
// a cert-abandoned entry is logged. A preparation whose cert is journaled
// already cannot be abandoned: finish it. The result says what was
// destroyed and what stayed, also when only the log entry failed.
func (v *Vault) AbandonRotation(pool string, now time.Time) (_ *Abandoned, err error) {
	release, err := v.Acquire("rotate")
	if err != nil {
		return nil, err
	}
	defer release()
	defer func() {
		if err != nil {
			v.forgetLog()
		}
	}()
	p, err := v.Pool(pool)
	if err != nil {
		return nil, err
	}
	if !p.Hardware() {
		return nil, fmt.Errorf("%w: pool %s has nothing to sign on one", ErrNotHardware, p.Meta.Name)
	}
	pr, err := p.Prepared()
	if err != nil {
		return nil, err
	}
	if pr == nil {
		return nil, fmt.Errorf("%w: %s", ErrNotPrepared, p.Meta.Name)
	}
	entries, err := p.Journal()
	if err != nil {
		return nil, err
	}
	if je, done := pr.journaled(entries); done {
		return nil, fmt.Errorf("%w: cert #%d (%s) is journaled already; finish it with the signed cert to seal its bundle", ErrPrepared, je.Counter, je.CertHash[:16])
	}
	l, _, err := v.OpenLog(now)
	if err != nil {
		return nil, err
	}
	e, err := v.abandonedEntry(p, pr.Counter, pr.KESPeriod, prKESVKeyHash(pr), l, now)
	if err != nil {
		return nil, err
	}
	if err := l.Check(e); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLogRule, err)
	}
	out := &Abandoned{Prepared: pr, KESOnProducer: pr.KESOnProducer}
	if out.KESDestroyed, err = p.shredStagedKES(); err != nil {
		return nil, err
	}
	if err := os.Remove(filepath.Join(p.Dir, preparedFile)); err != nil {
		return nil, err
	}
	out.Left = pr.removeFolderFiles()
	if err := v.crashPoint("abandoned-before-log"); err != nil {
		return nil, err
	}
	if _, _, err := v.append(l, e); err != nil {
		return out, fmt.Errorf("the preparation is abandoned but its log entry failed (the next command records it): %w", err)
	}
	return out, nil
}

func prKESVKeyHash(pr *Prepared) string {
	vk, err := pr.kesVKey()
	if err != nil {
		return ""
	}
	return KESVKeyHash(vk)
}

// abandonedEntry is the cert-abandoned entry of the log's open
// preparation of p, which must be of that counter, period and KES key.
func (v *Vault) abandonedEntry(p *Pool, counter, period uint64, kesHash string, l *auditlog.Log, now time.Time) (auditlog.Entry, error) {
	open, ok := l.Prepared(p.Meta.PoolID)
	if !ok || open.Counter != counter || open.KESPeriod != period || open.KESVKeyHash != kesHash {
		return auditlog.Entry{}, fmt.Errorf("%w: the ceremony log has no open preparation of cert #%d of pool %s", ErrLogRule, counter, p.Meta.Name)
	}
	e, err := v.Audit.entry(auditlog.KindCertAbandoned, now)
	if err != nil {
		return e, err
	}
	e.Pool, e.Counter, e.KESPeriod, e.KESVKeyHash = p.Meta.PoolID, auditlog.U64(counter), auditlog.U64(period), kesHash
	e.Detail = map[string]string{auditlog.DetailPrepared: strconv.FormatInt(open.Seq, 10), "kes_key": "destroyed"}
	return e, nil
}
