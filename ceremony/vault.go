// Package ceremony is the cold side's state and procedures: the vault (the
// folder on the USB stick holding pools, keys, counters and the issuance
// journal) and the rotation that issues a cert from it.
package ceremony

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/kesrotate/kesrotate/auditlog"
	"github.com/kesrotate/kesrotate/internal/safefile"
	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/opcert"
)

// VaultFile is the file that makes a folder a vault, relative to its
// root: its identity, network and secrets mode.
const VaultFile = "vault.json"

// Vault layout, relative to its root.
const (
	genesisFile = "genesis.json"
	poolsDir    = "pools"
	secretDir   = "secret"
	outDir      = "out"

	coldSkeyFile = "cold.skey"
	coldVkeyFile = "cold.vkey"
	counterFile  = "cold.counter"
	vrfSkeyFile  = "vrf.skey"
	vrfVkeyFile  = "vrf.vkey"
	poolFile     = "pool.json"
	journalFile  = "journal.jsonl"
	certsDir     = "certs"

	// VaultVersion is the newest layout this code reads, and what it
	// writes for a passphrase vault: version 2 keeps the vault's own age
	// identity in secret/identity.age, encrypted to the passphrase, and
	// the key files encrypted to that identity (one scrypt per unlock).
	// Other vaults are written as version 1, which older binaries read.
	VaultVersion = 2
)

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// CheckName accepts names made of lower-case letters, digits, '.', '_'
// and '-', starting with a letter or digit: they become folder names.
func CheckName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%w %q: use lower-case letters, digits, '.', '_' and '-' (at most 63)", ErrName, name)
	}
	return nil
}

// Meta is vault.json.
type Meta struct {
	Version int       `json:"version"`
	ID      string    `json:"vault_id"`
	Network string    `json:"network"` // a public network name, or "genesis" (see genesis.json)
	Created time.Time `json:"created"`

	Secrets       *SecretsMeta `json:"secrets,omitempty"`        // encryption at rest (secrets.go); nil: plaintext
	RequireAirgap bool         `json:"require_airgap,omitempty"` // refuse secrets on a networked machine
	// Networked: the vault lives on a networked machine on purpose (a
	// rehearsal or test pool): no air-gap warnings. Never with RequireAirgap.
	Networked bool `json:"networked,omitempty"`
}

// Vault is an open vault.
type Vault struct {
	Dir     string
	Meta    Meta
	Network opcert.Network
	Rand    io.Reader
	Audit   Audit // who acts, recorded in the ceremony log (log.go)

	secrets *secretState  // how secrets are reached (secrets.go)
	lock    *vaultLock    // the vault's lock while a change is under way (lock.go)
	log     *auditlog.Log // the ceremony log this process opened and reconciled (log.go)
	// clockLogged is the clock the log records already (append, or the
	// init entry): Audit.Clock once it is logged.
	clockLogged *ClockOverride

	crash func(step string) error // tests only: called between an action's steps (crashPoint)
}

// InitOptions configure a new vault.
type InitOptions struct {
	Network string // mainnet, preprod or preview; empty if Genesis is set
	Genesis []byte // a shelley genesis file's content
	Now     time.Time
	Rand    io.Reader
	Audit   Audit // who acts, recorded in the ceremony log's init entry

	Encryption    *Encryption // encrypt secret keys at rest (secrets.go); nil: plaintext
	RequireAirgap bool        // refuse to open secrets on a networked machine
	Networked     bool        // a rehearsal or test vault on a networked machine: no air-gap warnings
}

// Init creates a vault in dir (which may exist but must be empty of vault
// files). On error nothing is left behind that a retry would trip on.
func Init(dir string, o InitOptions) (v *Vault, err error) {
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if _, err := os.Stat(filepath.Join(dir, VaultFile)); err == nil {
		return nil, fmt.Errorf("%w: %s", ErrVaultExists, dir)
	}
	var n opcert.Network
	if o.RequireAirgap && o.Networked {
		return nil, errors.New("a vault cannot both require an air gap and be networked")
	}
	meta := Meta{Version: 1, Created: o.Now.UTC().Truncate(time.Second), RequireAirgap: o.RequireAirgap, Networked: o.Networked}
	switch {
	case o.Genesis != nil && o.Network != "":
		return nil, errors.New("give a network name or a genesis file, not both")
	case o.Genesis != nil:
		if n, err = opcert.ParseGenesis(o.Genesis); err != nil {
			return nil, err
		}
		meta.Network = opcert.GenesisName
	default:
		if n, err = opcert.NetworkByName(o.Network); err != nil {
			return nil, err
		}
		meta.Network = n.Name
	}
	id := make([]byte, 16)
	if _, err := io.ReadFull(o.Rand, id); err != nil {
		return nil, fmt.Errorf("reading randomness: %w", err)
	}
	meta.ID = hex.EncodeToString(id)

	existed := true
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		existed = false
	}

	if err := safefile.MkdirSecret(dir); err != nil {
		return nil, err
	}
	_, lockErr := os.Lstat(filepath.Join(dir, LockFile))
	lv := &Vault{Dir: dir}
	release, err := lv.Acquire("init")
	if err != nil {
		return nil, err
	}
	defer release()
	if _, err := os.Stat(filepath.Join(dir, VaultFile)); err == nil { // made while we waited for the lock
		return nil, fmt.Errorf("%w: %s", ErrVaultExists, dir)
	}
	defer func() {
		if err != nil {
			for _, p := range []string{poolsDir, secretDir, outDir, logDir, genesisFile, VaultFile} {
				_ = os.RemoveAll(filepath.Join(dir, p))
			}
			if lockErr != nil {
				_ = os.Remove(filepath.Join(dir, LockFile))
			}
			if !existed {
				_ = os.Remove(dir)
			}
		}
	}()
	for _, d := range []string{poolsDir, secretDir, outDir} {
		if err := safefile.MkdirSecret(filepath.Join(dir, d)); err != nil {
			return nil, err
		}
	}
	if o.Genesis != nil {
		if err := safefile.Create(filepath.Join(dir, genesisFile), o.Genesis, 0o600); err != nil {
			return nil, err
		}
	}
	var r age.Recipient
	if o.Encryption != nil {
		if r, _, err = initSecrets(dir, &meta, o.Encryption); err != nil {
			return nil, err
		}
	}
	if err := createLog(dir, meta, n.Magic, o, r); err != nil {
		return nil, err
	}
	// vault.json last: its presence marks a complete vault.
	b, _ := json.MarshalIndent(meta, "", "  ")
	if err := safefile.Create(filepath.Join(dir, VaultFile), append(b, '\n'), 0o600); err != nil {
		return nil, err
	}
	return &Vault{Dir: dir, Meta: meta, Network: n, Rand: o.Rand, Audit: o.Audit, clockLogged: o.Audit.Clock}, nil
}

// Open opens an existing vault. It refuses a vault that others could
// change or read (checkFiles) before reading anything from it.
func Open(dir string) (*Vault, error) {
	if _, err := os.Lstat(filepath.Join(dir, VaultFile)); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s has no %s", ErrNoVault, dir, VaultFile)
	}
	if err := checkFiles(dir); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(dir, VaultFile))
	if err != nil {
		return nil, err
	}
	var m Meta
	if err := json.Unmarshal(b, &m); err != nil || m.Version == 0 {
		return nil, fmt.Errorf("%w: %s is unreadable", ErrNoVault, VaultFile)
	}
	if m.Version > VaultVersion {
		return nil, fmt.Errorf("vault version %d is newer than this binary understands (%d)", m.Version, VaultVersion)
	}
	if err := checkMeta(m.Secrets); err != nil {
		return nil, err
	}
	v := &Vault{Dir: dir, Meta: m, Rand: rand.Reader}
	v.Network, err = opcert.NetworkOf(m.Network, func() ([]byte, error) { return os.ReadFile(filepath.Join(dir, genesisFile)) })
	if err != nil {
		return nil, err
	}
	return v, nil
}

// secretFile reports whether the vault file at rel (slash-separated,
// relative to the vault) holds a secret: a pool's signing keys, in
// plaintext or encrypted, and everything in secret/.
func secretFile(rel string) bool {
	parts := strings.Split(filepath.ToSlash(rel), "/")
	switch {
	case len(parts) == 2 && parts[0] == secretDir:
		return true
	case len(parts) == 3 && parts[0] == poolsDir:
		for _, f := range secretKeyFiles {
			if parts[2] == f || parts[2] == f+encSuffix {
				return true
			}
		}
	}
	return false
}

// checkFiles walks the vault and refuses what would let another user (or
// whoever put it there) change or read it: folders others may write to,
// files others may write to, secret files others may read, and anything
// but folders and regular files (a link could point a key file or a
// folder anywhere). The vault folder itself may be reached through a
// link (a mount point); nothing inside it may be one.
func checkFiles(dir string) error {
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return err
	}
	fix := "fix with 'chmod -R go-rwx " + dir + "'"
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		mode := fi.Mode()
		switch {
		case mode&fs.ModeSymlink != 0:
			return fmt.Errorf("%w: %s is a link; a vault holds no links (replace it by the file it points to, after checking that file)", ErrUnsafeFile, rel)
		case mode.IsDir():
			if mode.Perm()&0o022 != 0 {
				return fmt.Errorf("%w: folder %s has mode %04o, others may change what is in it; %s", ErrUnsafeFile, rel, mode.Perm(), fix)
			}
			// The log's checkpoint files, one per entry, are not read
			// when the vault opens its log (auditlog.FileState), and
			// 'ceremony verify' refuses any that is not a regular file.
			// In a folder only its owner may enter, their modes do not
			// matter: the walk stays out, so that opening a vault does
			// not grow with its log.
			if filepath.ToSlash(rel) == logDir+"/"+auditlog.DirCheckpoints && mode.Perm()&0o077 == 0 {
				return fs.SkipDir
			}
		case !mode.IsRegular():
			return fmt.Errorf("%w: %s is not a regular file", ErrUnsafeFile, rel)
		case secretFile(rel) && mode.Perm()&0o077 != 0:
			return fmt.Errorf("%w: key file %s has mode %04o, others may read it; %s", ErrUnsafeFile, rel, mode.Perm(), fix)
		case mode.Perm()&0o022 != 0:
			return fmt.Errorf("%w: %s has mode %04o, others may change it; %s", ErrUnsafeFile, rel, mode.Perm(), fix)
		}
		return nil
	})
}

// RestoredMode is the mode a vault file restored from a copy gets (rel is
// its slash-separated path below the vault's root): what the copy says,
// but never more than a new vault gives it (folders 0700, key files 0600,
// other files 0644).
func RestoredMode(rel string, dir bool, archived fs.FileMode) fs.FileMode {
	switch {
	case dir:
		return safefile.SecretDirMode
	case secretFile(rel):
		return safefile.SecretMode
	}
	return archived&0o644 | 0o600
}

// PoolMeta is pools/NAME/pool.json: the public facts of a pool.
type PoolMeta struct {
	Name     string    `json:"name"`
	PoolID   string    `json:"pool_id"`
	ColdVKey string    `json:"cold_vkey"`
	VRFVKey  string    `json:"vrf_vkey,omitempty"`
	Origin   string    `json:"origin"` // "new" or "import"
	Created  time.Time `json:"created"`
	// HWPath is set when the cold key is on a hardware wallet, at that
	// path (1853H/1815H/0H/NH): the vault holds its signing file, never
	// the key (hw.go).
	HWPath string `json:"hw_path,omitempty"`
}

// Pool is a pool in the vault.
type Pool struct {
	v    *Vault
	Dir  string
	Meta PoolMeta
}

// Vault is the vault the pool is in.
func (p *Pool) Vault() *Vault { return p.v }

func (v *Vault) poolDir(name string) string { return filepath.Join(v.Dir, poolsDir, name) }

// NewPool creates a pool with fresh cold and VRF keys and a counter at 0.
func (v *Vault) NewPool(name string, now time.Time) (*Pool, error) {
	cold, err := keys.GenerateColdKey(v.Rand)
	if err != nil {
		return nil, err
	}
	defer cold.Wipe()
	vrfKey, err := keys.GenerateVRFKey(v.Rand)
	if err != nil {
		return nil, err
	}
	defer vrfKey.Wipe()
	return v.addPoolLogged(name, "new", poolKey{cold: cold}, vrfKey, keys.Counter{Next: 0, Cold: cold.Public()}, now)
}

// ImportOptions are cardano-cli files of an existing pool.
type ImportOptions struct {
	ColdSkey []byte
	Counter  []byte
	VRFSkey  []byte // optional
}

// ImportPool adds a pool from cardano-cli files. The counter must belong
// to the cold key; its "next" number is kept, and the journal records that
// certs below it may exist.
func (v *Vault) ImportPool(name string, o ImportOptions, now time.Time) (*Pool, error) {
	cold, err := keys.ParseColdKey(o.ColdSkey)
	if err != nil {
		return nil, fmt.Errorf("cold signing key: %w", err)
	}
	defer cold.Wipe()
	counter, err := keys.ParseCounter(o.Counter)
	if err != nil {
		return nil, fmt.Errorf("counter: %w", err)
	}
	if err := counter.CheckCold(cold.Public()); err != nil {
		return nil, err
	}
	var vrfKey *keys.VRFKey
	if o.VRFSkey != nil {
		if vrfKey, err = keys.ParseVRFKey(o.VRFSkey); err != nil {
			return nil, fmt.Errorf("VRF signing key: %w", err)
		}
		defer vrfKey.Wipe()
	}
	return v.addPoolLogged(name, "import", poolKey{cold: cold}, vrfKey, counter, now)
}

// poolKey is a new pool's cold key: in the vault (cold), or on a hardware
// wallet (hw, and the signing file as it was given). noCounter: an
// imported pool whose counter file was not given (no certs known).
type poolKey struct {
	cold      *keys.ColdKey
	hw        *keys.HWSigningFile
	hwRaw     []byte
	noCounter bool
}

func (k poolKey) public() keys.ColdVKey {
	if k.hw != nil {
		return k.hw.ColdVKey()
	}
	return k.cold.Public()
}

func (v *Vault) addPool(name, origin string, key poolKey, vrfKey *keys.VRFKey, counter keys.Counter, now time.Time) (p *Pool, err error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	// A wrong passphrase or an edited vault.json stops us before the
	// pool's folder exists.
	if err := v.CheckUnlock(); err != nil {
		return nil, err
	}
	id := key.public().PoolID()
	pools, err := v.Pools()
	if err != nil {
		return nil, err
	}
	for _, q := range pools {
		if q.Meta.Name == name {
			return nil, fmt.Errorf("%w: %s", ErrPoolExists, name)
		}
		if q.Meta.PoolID == id.Hex() {
			return nil, fmt.Errorf("%w: pool %s is already in the vault as %q", ErrPoolExists, id, q.Meta.Name)
		}
	}
	dir := v.poolDir(name)
	if err := os.Mkdir(dir, safefile.SecretDirMode); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("%w: %s (a folder of that name is in the vault)", ErrPoolExists, name)
		}
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(dir)
		}
	}()
	if err := safefile.MkdirSecret(filepath.Join(dir, certsDir)); err != nil {
		return nil, err
	}
	vk := key.public()
	meta := PoolMeta{Name: name, PoolID: id.Hex(), ColdVKey: hex.EncodeToString(vk[:]), Origin: origin, Created: now.UTC().Truncate(time.Second)}
	type newFile struct {
		name   string
		data   []byte
		secret bool
	}
	var files []newFile
	if key.hw != nil {
		meta.HWPath = key.hw.PathString()
		files = append(files, newFile{hwSigningFile, key.hwRaw, false})
	} else {
		files = append(files, newFile{coldSkeyFile, key.cold.MarshalEnvelope(), true})
	}
	files = append(files, newFile{coldVkeyFile, vk.MarshalEnvelope(), false}, newFile{counterFile, counter.MarshalEnvelope(), false})
	if vrfKey != nil {
		vvk := vrfKey.Public()
		meta.VRFVKey = hex.EncodeToString(vvk[:])
		files = append(files, newFile{vrfSkeyFile, vrfKey.MarshalEnvelope(), true}, newFile{vrfVkeyFile, vvk.MarshalEnvelope(), false})
	}
	for _, f := range files {
		mode := fs.FileMode(0o644)
		if f.secret {
			mode = safefile.SecretMode
		}
		var err error
		if f.secret {
			err = v.writeSecret(filepath.Join(dir, f.name), f.data)
			wipeBytes(f.data)
		} else {
			err = safefile.Create(filepath.Join(dir, f.name), f.data, mode)
		}
		if err != nil {
			return nil, err
		}
	}
	p = &Pool{v: v, Dir: dir, Meta: meta}
	start := JournalEntry{Kind: KindCreated, Time: meta.Created, Origin: origin}
	if origin == "import" && !key.noCounter {
		n := counter.Next
		start.ImportedNext = &n
	}
	if err := p.appendJournal(start, 0); err != nil {
		return nil, err
	}
	b, _ := json.MarshalIndent(meta, "", "  ")
	if err := safefile.Create(filepath.Join(dir, poolFile), append(b, '\n'), 0o644); err != nil {
		return nil, err
	}
	return p, nil
}

// Pool opens the pool called name.
func (v *Vault) Pool(name string) (*Pool, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	dir := v.poolDir(name)
	b, err := os.ReadFile(filepath.Join(dir, poolFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNoPool, name)
	}
	if err != nil {
		return nil, err
	}
	var m PoolMeta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s/%s: %w", name, poolFile, err)
	}
	return &Pool{v: v, Dir: dir, Meta: m}, nil
}

// Pools lists the vault's pools by name.
func (v *Vault) Pools() ([]*Pool, error) {
	entries, err := os.ReadDir(filepath.Join(v.Dir, poolsDir))
	if err != nil {
		return nil, err
	}
	var out []*Pool
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(v.poolDir(e.Name()), poolFile)); err != nil {
			continue // an unfinished pool folder from a crash: not a pool
		}
		p, err := v.Pool(e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Meta.Name < out[j].Meta.Name })
	return out, nil
}

// OutDir is the default folder for bundles inside the vault.
func (v *Vault) OutDir() string { return filepath.Join(v.Dir, outDir) }

// SecretDir is the vault's folder for secrets other than pool keys.
func (v *Vault) SecretDir() string { return filepath.Join(v.Dir, secretDir) }

// ColdVKey returns the pool's cold verification key.
func (p *Pool) ColdVKey() (keys.ColdVKey, error) {
	b, err := p.readPublic(coldVkeyFile)
	if err != nil {
		return keys.ColdVKey{}, err
	}
	vk, err := keys.ParseColdVKey(b)
	if err != nil {
		return vk, fmt.Errorf("%s/%s: %w", p.Meta.Name, coldVkeyFile, err)
	}
	return vk, nil
}

// readPublic reads one of the pool's public files, which must be there.
func (p *Pool) readPublic(name string) ([]byte, error) {
	b, err := safefile.ReadRegular(filepath.Join(p.Dir, name), 1<<20)
	if err != nil {
		return nil, fmt.Errorf("pool %s: %w", p.Meta.Name, err)
	}
	return b, nil
}

// PoolID returns the pool id.
func (p *Pool) PoolID() (keys.PoolID, error) {
	vk, err := p.ColdVKey()
	if err != nil {
		return keys.PoolID{}, err
	}
	return vk.PoolID(), nil
}

// ColdKey loads the cold signing key and checks it against pool.json. The
// caller must Wipe it. A pool whose key is on a hardware wallet has none
// (ErrHardwareKey).
func (p *Pool) ColdKey() (*keys.ColdKey, error) {
	if p.Hardware() {
		return nil, fmt.Errorf("%w: pool %s (%s on the device)", ErrHardwareKey, p.Meta.Name, p.Meta.HWPath)
	}
	b, err := p.v.readSecret(filepath.Join(p.Dir, coldSkeyFile))
	if err != nil {
		return nil, err
	}
	defer wipeBytes(b)
	k, err := keys.ParseColdKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s/%s: %w", p.Meta.Name, coldSkeyFile, err)
	}
	if vk := k.Public(); hex.EncodeToString(vk[:]) != p.Meta.ColdVKey {
		k.Wipe()
		return nil, fmt.Errorf("%s/%s does not match the pool's cold vkey", p.Meta.Name, coldSkeyFile)
	}
	return k, nil
}

// VRFKey loads the VRF signing key. The caller must Wipe it.
func (p *Pool) VRFKey() (*keys.VRFKey, error) {
	b, err := p.v.readSecret(filepath.Join(p.Dir, vrfSkeyFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNoVRF, p.Meta.Name)
	}
	if err != nil {
		return nil, err
	}
	defer wipeBytes(b)
	return keys.ParseVRFKey(b)
}

// VRFKeyHash is the blake2b-256 hash of the pool's VRF vkey: the
// vrf_keyhash of its registration on chain, which operators compare. The
// vkey is pool.json's, held against vrf.vkey: a damaged one is an error,
// never a wrong hash. A pool without a VRF key has ErrNoVRF.
func (p *Pool) VRFKeyHash() ([32]byte, error) {
	if p.Meta.VRFVKey == "" {
		return [32]byte{}, fmt.Errorf("%w: %s", ErrNoVRF, p.Meta.Name)
	}
	var vk keys.VRFVKey
	b, err := hex.DecodeString(p.Meta.VRFVKey)
	if err != nil || len(b) != len(vk) || hex.EncodeToString(b) != p.Meta.VRFVKey {
		return [32]byte{}, fmt.Errorf("%s/%s: vrf_vkey is not %d bytes of lowercase hex", p.Meta.Name, poolFile, len(vk))
	}
	copy(vk[:], b)
	f, err := p.readPublic(vrfVkeyFile)
	if err != nil {
		return [32]byte{}, err
	}
	if err := p.checkPublic(vrfVkeyFile, f); err != nil {
		return [32]byte{}, err
	}
	return vk.Hash(), nil
}

// ExportPublic writes cold.vkey and vrf.vkey (cardano-cli format) into dir.
// Existing files are not overwritten.
func (p *Pool) ExportPublic(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var written []string
	names := []string{coldVkeyFile}
	if p.Meta.VRFVKey != "" {
		names = append(names, vrfVkeyFile)
	}
	for _, n := range names {
		src, err := p.readPublic(n)
		if err != nil {
			return written, err
		}
		// What is written is what the pool is: a public file that does
		// not match pool.json is refused, not copied.
		if err := p.checkPublic(n, src); err != nil {
			return written, err
		}
		dst := filepath.Join(dir, n)
		if existing, err := os.ReadFile(dst); err == nil && bytes.Equal(existing, src) {
			written = append(written, dst)
			continue
		}
		if err := safefile.Create(dst, src, 0o644); err != nil {
			return written, err
		}
		written = append(written, dst)
	}
	return written, nil
}

func wipeBytes(b []byte) {
	for i := range b {
		b[i] = 0
	}
}

// checkPublic holds a public key file against pool.json.
func (p *Pool) checkPublic(name string, b []byte) error {
	switch name {
	case coldVkeyFile:
		vk, err := keys.ParseColdVKey(b)
		if err != nil {
			return fmt.Errorf("%s/%s: %w", p.Meta.Name, name, err)
		}
		if hex.EncodeToString(vk[:]) != p.Meta.ColdVKey {
			return fmt.Errorf("%s/%s is not the pool's cold vkey (pool.json)", p.Meta.Name, name)
		}
	case vrfVkeyFile:
		vk, err := keys.ParseVRFVKey(b)
		if err != nil {
			return fmt.Errorf("%s/%s: %w", p.Meta.Name, name, err)
		}
		if hex.EncodeToString(vk[:]) != p.Meta.VRFVKey {
			return fmt.Errorf("%s/%s is not the pool's VRF vkey (pool.json)", p.Meta.Name, name)
		}
	}
	return nil
}
