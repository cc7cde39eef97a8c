package ceremony

import (
	"archive/tar"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"filippo.io/age"
	slip39 "github.com/gavincarr/go-slip39"

	"github.com/kesrotate/kesrotate/auditlog"
	"github.com/kesrotate/kesrotate/internal/safefile"
	"github.com/kesrotate/kesrotate/internal/textsafe"
	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/transfer/qr"
)

// Errors of backups and restores; test with errors.Is.
var (
	// ErrNoSeed: the cold key is a BIP32 extended key, which has no 32-byte
	// seed to split into SLIP-39 shares.
	ErrNoSeed = errors.New("the cold key has no seed to split (an extended key)")
	// ErrShareInvalid: a share is not a valid SLIP-39 mnemonic.
	ErrShareInvalid = errors.New("not a valid SLIP-39 share")
	// ErrSharesMixed: the shares come from different splits.
	ErrSharesMixed = errors.New("the shares come from different backups")
	// ErrShareRepeated: the same share (or share index) was given twice.
	ErrShareRepeated = errors.New("the same share was given twice")
	// ErrTooFewShares: fewer shares than the threshold.
	ErrTooFewShares = errors.New("too few shares")
	// ErrSharesCorrupt: the shares combine to nothing valid (a damaged
	// share, or shares that do not belong together).
	ErrSharesCorrupt = errors.New("the shares do not combine into a valid secret")
	// ErrSharePool: the restored key is not the pool the share files name
	// (a wrong SLIP-39 passphrase gives another key without any error).
	ErrSharePool = errors.New("the shares rebuild a different pool")
	// ErrArchive: a vault backup archive is malformed.
	ErrArchive = errors.New("malformed vault backup")
	// ErrBackupVerify: a restored vault fails its checks.
	ErrBackupVerify = errors.New("the restored vault fails verification")
)

// Mnemonic is one SLIP-39 share: secret words. It prints as [REDACTED].
type Mnemonic struct{ text string }

// NewMnemonic wraps share words (separated by white space).
func NewMnemonic(words string) Mnemonic {
	return Mnemonic{text: strings.Join(strings.Fields(strings.ToLower(words)), " ")}
}

// Text returns the words separated by single spaces.
func (m Mnemonic) Text() string { return m.text }

// Words returns the words.
func (m Mnemonic) Words() []string { return strings.Fields(m.text) }

func (Mnemonic) String() string                 { return keys.Redacted }
func (Mnemonic) GoString() string               { return keys.Redacted }
func (Mnemonic) Format(f fmt.State, _ rune)     { _, _ = f.Write([]byte(keys.Redacted)) }
func (m Mnemonic) MarshalText() ([]byte, error) { return []byte(keys.Redacted), nil }

// ShareSet is a pool's cold key seed split into SLIP-39 shares (one group).
type ShareSet struct {
	Pool      string
	PoolID    keys.PoolID
	Threshold int
	Shares    []Mnemonic
}

// MaxShares is SLIP-39's limit on shares in a group.
const MaxShares = 16

// Shares splits the pool's cold key seed into count SLIP-39 shares, any
// threshold of which rebuild it. passphrase is the optional SLIP-39
// passphrase (printable ASCII); with a wrong one the shares rebuild a
// different key, so keep it as safe as the shares.
func (p *Pool) Shares(threshold, count int, passphrase []byte) (*ShareSet, error) {
	if count < 1 || count > MaxShares || threshold < 1 || threshold > count {
		return nil, fmt.Errorf("threshold %d of %d shares: want 1 ≤ threshold ≤ shares ≤ %d", threshold, count, MaxShares)
	}
	if threshold == 1 && count > 1 {
		return nil, errors.New("a threshold of 1 with several shares is SLIP-39's forbidden case: each share would be the key itself; use --shares 1 or a threshold of 2 or more")
	}
	cold, err := p.ColdKey()
	if err != nil {
		return nil, err
	}
	defer cold.Wipe()
	seed := cold.Seed()
	if seed == nil {
		return nil, ErrNoSeed
	}
	defer wipeBytes(seed)
	groups, err := slip39.GenerateMnemonicsWithPassphrase(1, []slip39.MemberGroupParameters{{MemberThreshold: threshold, MemberCount: count}}, seed, passphrase)
	if err != nil {
		if errors.Is(err, slip39.ErrInvalidPassphrase) {
			return nil, fmt.Errorf("SLIP-39 passphrase: %w", err)
		}
		return nil, fmt.Errorf("splitting the seed: %w", err)
	}
	set := &ShareSet{Pool: p.Meta.Name, PoolID: cold.Public().PoolID(), Threshold: threshold}
	for _, m := range groups[0] {
		set.Shares = append(set.Shares, NewMnemonic(m))
	}
	// Prove the shares rebuild the seed before anyone relies on them.
	got, err := CombineShares(set.Shares[:threshold], passphrase)
	if err != nil {
		return nil, fmt.Errorf("self-check of the shares: %w", err)
	}
	defer wipeBytes(got)
	if !bytes.Equal(got, seed) {
		return nil, errors.New("self-check of the shares: they do not rebuild the seed")
	}
	return set, nil
}

// Share file layout: '#' comment lines (the header) and the words.
const (
	shareHeaderPoolID = "# pool-id: "
	wordsPerLine      = 11
	maxShareFile      = 64 << 10
)

// ShareFile returns the text of share i (0-based) of the set: a header
// naming the pool and the scheme, then the words, 11 per line.
func (s *ShareSet) ShareFile(i int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# kesrotate SLIP-39 share %d of %d: any %d rebuild the cold key of pool %s\n", i+1, len(s.Shares), s.Threshold, s.Pool)
	fmt.Fprintf(&b, "# pool: %s\n", s.PoolID.Bech32())
	fmt.Fprintf(&b, "%s%s\n", shareHeaderPoolID, s.PoolID.Hex())
	fmt.Fprintf(&b, "# These words are secret. Restore: kesrotate backup restore NAME --share FILE...\n")
	words := s.Shares[i].Words()
	for j := 0; j < len(words); j += wordsPerLine {
		end := min(j+wordsPerLine, len(words))
		b.WriteString(strings.Join(words[j:end], " "))
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

// WriteShares writes each share as NAME-share-I-of-N.txt and, as a QR code
// holding the words, NAME-share-I-of-N.png into dir (created 0700). Files
// are created exclusively, mode 0600; on error the ones written are
// removed.
func (s *ShareSet) WriteShares(dir string) (written []string, err error) {
	if err := safefile.MkdirSecret(dir); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			for _, w := range written {
				_ = Shred(w)
			}
			written = nil
		}
	}()
	for i, m := range s.Shares {
		base := filepath.Join(dir, fmt.Sprintf("%s-share-%d-of-%d", s.Pool, i+1, len(s.Shares)))
		if err := safefile.CreateSecret(base+".txt", s.ShareFile(i)); err != nil {
			return written, err
		}
		written = append(written, base+".txt")
		png, err := qr.EncodePNG(m.Text(), qr.Options{Level: qr.LevelM, ModuleSize: 6})
		if err != nil {
			return written, fmt.Errorf("QR of share %d: %w", i+1, err)
		}
		if err := safefile.CreateSecret(base+".png", png); err != nil {
			return written, err
		}
		written = append(written, base+".png")
	}
	return written, nil
}

// ParseShareFile reads a share file: '#' lines are comments (a
// "# pool-id: HEX" line names the pool, as WriteShares writes it), the
// other lines hold the words. A file holding just the words, as other
// SLIP-39 tools write them, is accepted. The words are checked by
// CombineShares, not here.
func ParseShareFile(data []byte) (m Mnemonic, poolID string, err error) {
	if len(data) > maxShareFile {
		return m, "", fmt.Errorf("%w: file larger than %d bytes", ErrShareInvalid, maxShareFile)
	}
	var words []string
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "#") {
			if rest, ok := strings.CutPrefix(line, strings.TrimSpace(shareHeaderPoolID)); ok {
				poolID = strings.ToLower(strings.TrimSpace(rest))
			}
			continue
		}
		for _, w := range strings.Fields(line) {
			for _, c := range w {
				if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
					return m, "", fmt.Errorf("%w: a word holds characters other than letters", ErrShareInvalid)
				}
			}
			words = append(words, w)
		}
	}
	if len(words) == 0 {
		return m, "", fmt.Errorf("%w: no words", ErrShareInvalid)
	}
	return NewMnemonic(strings.Join(words, " ")), poolID, nil
}

// CombineShares rebuilds the master secret from SLIP-39 shares (any
// groups), refusing clearly: invalid words or checksums (ErrShareInvalid,
// naming the share by its position), shares of different splits
// (ErrSharesMixed), repeats (ErrShareRepeated), too few (ErrTooFewShares)
// and shares that do not fit together (ErrSharesCorrupt). The caller
// wipes the result.
func CombineShares(shares []Mnemonic, passphrase []byte) ([]byte, error) {
	if len(shares) == 0 {
		return nil, fmt.Errorf("%w: no shares given", ErrTooFewShares)
	}
	parsed := make([]slip39.Share, len(shares))
	for i, m := range shares {
		s, err := slip39.ParseShare(m.Text())
		if err != nil {
			return nil, fmt.Errorf("%w: share %d: %s", ErrShareInvalid, i+1, shareErrorText(err))
		}
		parsed[i] = s
	}
	type idx struct{ g, m int }
	seen := map[idx]int{}
	groups := map[int][]int{}
	for i, s := range parsed {
		if s.ShareCommonParameters != parsed[0].ShareCommonParameters {
			return nil, fmt.Errorf("%w: share %d and share 1 differ in identifier or group settings", ErrSharesMixed, i+1)
		}
		k := idx{s.GroupIndex, s.MemberIndex}
		if j, ok := seen[k]; ok {
			if shares[j].Text() == shares[i].Text() {
				return nil, fmt.Errorf("%w: shares %d and %d are the same", ErrShareRepeated, j+1, i+1)
			}
			return nil, fmt.Errorf("%w: shares %d and %d have the same index (member %d of group %d) but differ", ErrShareRepeated, j+1, i+1, s.MemberIndex+1, s.GroupIndex+1)
		}
		seen[k] = i
		if len(groups[s.GroupIndex]) > 0 && parsed[groups[s.GroupIndex][0]].MemberThreshold != s.MemberThreshold {
			return nil, fmt.Errorf("%w: shares %d and %d of group %d have different thresholds", ErrSharesMixed, groups[s.GroupIndex][0]+1, i+1, s.GroupIndex+1)
		}
		groups[s.GroupIndex] = append(groups[s.GroupIndex], i)
	}
	gt := parsed[0].GroupThreshold
	if len(groups) < gt {
		return nil, fmt.Errorf("%w: shares of %d groups given, %d groups are needed", ErrTooFewShares, len(groups), gt)
	}
	for g, members := range groups {
		if t := parsed[members[0]].MemberThreshold; len(members) < t {
			if gt == 1 && parsed[0].GroupCount == 1 {
				return nil, fmt.Errorf("%w: %d given, %d needed", ErrTooFewShares, len(members), t)
			}
			return nil, fmt.Errorf("%w: group %d has %d shares, %d needed", ErrTooFewShares, g+1, len(members), t)
		}
	}
	texts := make([]string, len(shares))
	for i, m := range shares {
		texts[i] = m.Text()
	}
	secret, err := slip39.CombineMnemonicsWithPassphrase(texts, passphrase)
	if err != nil {
		switch {
		case errors.Is(err, slip39.ErrInvalidPassphrase):
			return nil, fmt.Errorf("SLIP-39 passphrase: %w", err)
		case errors.Is(err, slip39.ErrTooFewShares{}):
			return nil, fmt.Errorf("%w: %s", ErrTooFewShares, shareErrorText(err))
		}
		return nil, fmt.Errorf("%w: %s", ErrSharesCorrupt, shareErrorText(err))
	}
	return secret, nil
}

// shareErrorText describes a go-slip39 error without repeating words of
// the share (which are secret).
func shareErrorText(err error) string {
	switch {
	case errors.Is(err, slip39.ErrInvalidMnemonicWord{}):
		return "a word is not in the SLIP-39 word list"
	case errors.Is(err, slip39.ErrInvalidChecksum):
		return "checksum mismatch (a word is wrong or missing)"
	case errors.Is(err, slip39.ErrInvalidPadding{}):
		return "invalid padding"
	case errors.Is(err, slip39.ErrInvalidMnemonic):
		return "wrong number of words"
	case errors.Is(err, slip39.ErrInvalidMnemonicSharedSecretDigest):
		return "the shared-secret digest does not match (a damaged share, or shares of different splits)"
	case errors.Is(err, slip39.ErrInvalidMnemonicIndices):
		return "share indices repeat"
	case errors.Is(err, slip39.ErrInvalidCommonParameters):
		return "the shares differ in identifier or group settings"
	case errors.Is(err, slip39.ErrInvalidMnemonicShareLengths):
		return "the shares have different lengths"
	case errors.Is(err, slip39.ErrTooFewShares{}), errors.Is(err, slip39.ErrTooManyShares{}):
		return "wrong number of shares for the threshold"
	case errors.Is(err, slip39.ErrBadGroupThreshold{}), errors.Is(err, slip39.ErrInvalidGroupThreshold), errors.Is(err, slip39.ErrInvalidThreshold):
		return "invalid threshold"
	case errors.Is(err, slip39.ErrInvalidMasterSecretLength), errors.Is(err, slip39.ErrInvalidEncryptedMasterSecretLength):
		return "invalid secret length"
	case errors.Is(err, slip39.ErrEmptyShareGroup):
		return "empty share group"
	}
	// Other go-slip39 errors carry no share words (checked in the tests).
	return err.Error()
}

// RestoreOptions rebuild a pool from SLIP-39 shares.
type RestoreOptions struct {
	Shares      []Mnemonic
	Passphrase  []byte // the SLIP-39 passphrase, if one was used
	PoolID      string // hex pool id the shares should rebuild ("" = unchecked)
	NextCounter uint64 // the counter file's next number (certs below it may exist)
	VRFSkey     []byte // optional cardano-cli VRF signing key
}

// RestorePool rebuilds a pool's cold key from SLIP-39 shares and adds it
// to the vault as an import (with a counter file at NextCounter). With
// PoolID set, a key of another pool (wrong passphrase, shares of another
// pool) is refused with ErrSharePool and nothing is added.
func (v *Vault) RestorePool(name string, o RestoreOptions, now time.Time) (*Pool, error) {
	release, err := v.acquire("backup restore")
	if err != nil {
		return nil, err
	}
	defer release()
	seed, err := CombineShares(o.Shares, o.Passphrase)
	if err != nil {
		return nil, err
	}
	defer wipeBytes(seed)
	if len(seed) != keys.ColdSeedSize {
		return nil, fmt.Errorf("%w: the shares hold %d bytes, a cold key seed has %d", ErrSharesCorrupt, len(seed), keys.ColdSeedSize)
	}
	cold, err := keys.NewColdKey(seed)
	if err != nil {
		return nil, err
	}
	defer cold.Wipe()
	id := cold.Public().PoolID()
	if o.PoolID != "" && o.PoolID != id.Hex() {
		return nil, fmt.Errorf("%w: the share files name pool %s, the shares rebuild %s (wrong SLIP-39 passphrase?)", ErrSharePool, o.PoolID, id.Hex())
	}
	env := cold.MarshalEnvelope()
	defer wipeBytes(env)
	return v.ImportPool(name, ImportOptions{
		ColdSkey: env,
		Counter:  keys.Counter{Next: o.NextCounter, Cold: cold.Public()}.MarshalEnvelope(),
		VRFSkey:  o.VRFSkey,
	}, now)
}

// Vault backups: one age-encrypted tar of the whole vault folder.
const (
	backupSuffix = ".tar.age"
	// MaxBackupSize bounds a vault backup (encrypted and decrypted).
	MaxBackupSize   = 512 << 20
	maxArchiveFiles = 100000
)

// BackupResult describes a written vault backup.
type BackupResult struct {
	File   string
	SHA256 string // of the encrypted file
	Size   int
	Files  int // files in the archive
}

// Backup writes an encrypted copy of the whole vault (keys, journals, log,
// bundles) into dir as one age file. With e nil it is encrypted the way
// the vault encrypts its keys (its passphrase or recipient; a plaintext
// vault needs e). The file is read back, decrypted and compared before a
// backup-made entry goes into the log.
func (v *Vault) Backup(dir string, e *Encryption, now time.Time) (*BackupResult, error) {
	release, err := v.acquire("backup vault")
	if err != nil {
		return nil, err
	}
	defer release()
	var r age.Recipient
	var ids []age.Identity
	switch {
	case e != nil:
		m, err := e.meta()
		if err != nil {
			return nil, err
		}
		if r, err = encryptionRecipient(e, m); err != nil {
			return nil, err
		}
		if m.Mode == SecretsPassphrase {
			id, err := scryptIdentity(e.Passphrase)
			if err != nil {
				return nil, err
			}
			ids = []age.Identity{id}
		}
	case v.Encrypted():
		if ids, err = v.identities(); err != nil {
			return nil, err
		}
		if r, err = v.recipient(); err != nil {
			return nil, err
		}
		if v.SecretsMode() == SecretsPassphrase {
			// The archive opens with the passphrase, not with the vault
			// identity it carries.
			if r, err = scryptRecipient(v.secrets.pass, v.secrets.workFactor); err != nil {
				return nil, err
			}
		}
	default:
		return nil, errors.New("a plaintext vault's backup needs a passphrase or a recipient")
	}
	if _, _, err := v.OpenLog(now); err != nil {
		return nil, err
	}
	archive, n, err := v.archive(now)
	if err != nil {
		return nil, err
	}
	defer wipeBytes(archive)
	if err := crashPoint("backup-archived"); err != nil {
		return nil, err
	}
	ct, err := encryptBytes(archive, r)
	if err != nil {
		return nil, err
	}
	if ids != nil {
		back, err := decryptBytes(ct, ids...)
		if err != nil {
			return nil, fmt.Errorf("reading the backup back: %w", err)
		}
		same := bytes.Equal(back, archive)
		wipeBytes(back)
		if !same {
			return nil, errors.New("reading the backup back: it differs")
		}
	}
	if err := safefile.MkdirSecret(dir); err != nil {
		return nil, err
	}
	name := fmt.Sprintf("kesrotate-vault-%s%s", now.UTC().Format("20060102T150405Z"), backupSuffix)
	path := filepath.Join(dir, name)
	if err := safefile.CreateSecret(path, ct); err != nil {
		return nil, err
	}
	written, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(written, ct) {
		_ = os.Remove(path)
		return nil, fmt.Errorf("the backup file %s does not read back as written: %v", path, err)
	}
	sum := sha256.Sum256(ct)
	res := &BackupResult{File: path, SHA256: hex.EncodeToString(sum[:]), Size: len(ct), Files: n}
	mode := "recipient"
	if ids != nil {
		mode = "passphrase"
	}
	if _, err := v.RecordBackup(now, []auditlog.FileHash{HashFile("vault-backup", name, ct)},
		map[string]string{"scheme": "age-tar", "encryption": mode, "files": strconv.Itoa(n)}); err != nil {
		return res, fmt.Errorf("the backup is written but its log entry failed: %w", err)
	}
	return res, nil
}

func decryptBytes(ct []byte, ids ...age.Identity) ([]byte, error) {
	r, err := age.Decrypt(io.LimitReader(bytes.NewReader(ct), MaxBackupSize), ids...)
	if err != nil {
		var nm *age.NoIdentityMatchError
		if errors.As(err, &nm) {
			return nil, ErrWrongPassphrase
		}
		return nil, fmt.Errorf("%w: %w", ErrArchive, textsafe.AgeError(err))
	}
	b, err := readAllWiping(io.LimitReader(r, MaxBackupSize))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrArchive, textsafe.AgeError(err))
	}
	return b, nil
}

// archive tars the vault folder: folders and regular files only, sorted,
// with their permission bits and the given time.
func (v *Vault) archive(now time.Time) ([]byte, int, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	n := 0
	err := filepath.WalkDir(v.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(v.Dir, p)
		if err != nil || rel == "." || rel == lockFile {
			return err // the lock names the process holding it: not vault state
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		h := &tar.Header{Name: filepath.ToSlash(rel), Mode: int64(info.Mode().Perm()), ModTime: now.UTC().Truncate(time.Second), Format: tar.FormatPAX}
		switch {
		case d.IsDir():
			h.Typeflag, h.Name = tar.TypeDir, h.Name+"/"
			return tw.WriteHeader(h)
		case info.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			defer wipeBytes(b)
			h.Typeflag, h.Size = tar.TypeReg, int64(len(b))
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			n++
			_, err = tw.Write(b)
			return err
		}
		return fmt.Errorf("%s is neither a folder nor a regular file; a vault holds no links or devices", rel)
	})
	if err != nil {
		wipeBytes(buf.Bytes())
		return nil, 0, err
	}
	if err := tw.Close(); err != nil {
		return nil, 0, err
	}
	return buf.Bytes(), n, nil
}

// ArchiveEntry is one folder or file of a vault backup.
type ArchiveEntry struct {
	Name string // slash-separated, relative, clean
	Dir  bool
	Mode fs.FileMode // permission bits only
	Data []byte
}

// ReadArchive parses a decrypted vault backup strictly: folders and
// regular files only, clean relative names without "..", no duplicates,
// permission bits only, bounded sizes.
func ReadArchive(data []byte) ([]ArchiveEntry, error) {
	tr := tar.NewReader(bytes.NewReader(data))
	var out []ArchiveEntry
	seen := map[string]bool{}
	total := int64(0)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrArchive, err)
		}
		name := strings.TrimSuffix(h.Name, "/")
		if name == "" || !fs.ValidPath(name) || path.Clean(name) != name || strings.Contains(name, "\\") || name == lockFile {
			return nil, fmt.Errorf("%w: bad name %q", ErrArchive, h.Name)
		}
		if seen[name] {
			return nil, fmt.Errorf("%w: %s appears twice", ErrArchive, name)
		}
		seen[name] = true
		if len(out) >= maxArchiveFiles {
			return nil, fmt.Errorf("%w: more than %d entries", ErrArchive, maxArchiveFiles)
		}
		if h.Mode&^0o777 != 0 || h.Mode < 0 {
			return nil, fmt.Errorf("%w: %s has mode %o", ErrArchive, name, h.Mode)
		}
		e := ArchiveEntry{Name: name, Mode: fs.FileMode(h.Mode)}
		switch h.Typeflag {
		case tar.TypeDir:
			e.Dir = true
		case tar.TypeReg:
			if h.Size < 0 || total+h.Size > MaxBackupSize {
				return nil, fmt.Errorf("%w: too large", ErrArchive)
			}
			total += h.Size
			if e.Data, err = io.ReadAll(io.LimitReader(tr, h.Size+1)); err != nil {
				return nil, fmt.Errorf("%w: %s: %v", ErrArchive, name, err)
			}
			if int64(len(e.Data)) != h.Size {
				return nil, fmt.Errorf("%w: %s is truncated", ErrArchive, name)
			}
		default:
			return nil, fmt.Errorf("%w: %s is not a folder or a regular file", ErrArchive, name)
		}
		out = append(out, e)
	}
	// Every file's folders must be in the archive, before it.
	dirs := map[string]bool{}
	for _, e := range out {
		if parent := path.Dir(e.Name); parent != "." && !dirs[parent] {
			return nil, fmt.Errorf("%w: %s comes before its folder", ErrArchive, e.Name)
		}
		if e.Dir {
			dirs[e.Name] = true
		}
	}
	if !seen[vaultFile] {
		return nil, fmt.Errorf("%w: no %s", ErrArchive, vaultFile)
	}
	return out, nil
}

// RestoreReport says what RestoreVault checked.
type RestoreReport struct {
	Files      int
	Pools      []string
	LogEntries int
	Certs      int // certs the log lists
}

// RestoreVault decrypts a vault backup with ids, unpacks it into a
// temporary folder beside dst, verifies it (vault.json, each pool's public
// keys and issuance journal, the ceremony log with auditlog.Verify bound
// to every pool's cold vkey) and only then moves it to dst, which must not
// exist or be an empty folder. A backup that fails anything leaves dst
// untouched.
func RestoreVault(backup []byte, dst string, ids ...age.Identity) (*Vault, *RestoreReport, error) {
	if entries, err := os.ReadDir(dst); err == nil && len(entries) > 0 {
		return nil, nil, fmt.Errorf("%w: %s is not empty", ErrVaultExists, dst)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, err
	}
	plain, err := decryptBytes(backup, ids...)
	if err != nil {
		return nil, nil, err
	}
	defer wipeBytes(plain)
	entries, err := ReadArchive(plain)
	if err != nil {
		return nil, nil, err
	}
	parent := filepath.Dir(filepath.Clean(dst))
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return nil, nil, err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dst)+".restore-")
	if err != nil {
		return nil, nil, err
	}
	done := false
	defer func() {
		if !done {
			shredTree(tmp)
		}
	}()
	for _, e := range entries {
		p := filepath.Join(tmp, filepath.FromSlash(e.Name))
		mode := restoredMode(e.Name, e.Dir, e.Mode)
		if e.Dir {
			if err := os.Mkdir(p, mode); err != nil {
				return nil, nil, err
			}
			if err := os.Chmod(p, mode); err != nil {
				return nil, nil, err
			}
			continue
		}
		if err := safefile.Create(p, e.Data, mode); err != nil {
			return nil, nil, err
		}
	}
	if err := safefile.Create(filepath.Join(tmp, lockFile), nil, safefile.SecretMode); err != nil {
		return nil, nil, err
	}
	rep, err := verifyRestored(tmp)
	if err != nil {
		return nil, nil, err
	}
	rep.Files = 0
	for _, e := range entries {
		if !e.Dir {
			rep.Files++
		}
	}
	_ = os.Remove(dst) // an empty folder, if any
	if err := os.Rename(tmp, dst); err != nil {
		return nil, nil, err
	}
	done = true
	if err := safefile.SyncDir(parent); err != nil {
		return nil, nil, err
	}
	v, err := Open(dst)
	if err != nil {
		return nil, nil, err
	}
	return v, rep, nil
}

// verifyRestored checks an unpacked vault before it is used.
func verifyRestored(dir string) (*RestoreReport, error) {
	v, err := Open(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBackupVerify, err)
	}
	pools, err := v.Pools()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBackupVerify, err)
	}
	rep := &RestoreReport{}
	var vkeys []ed25519.PublicKey
	for _, p := range pools {
		vk, err := p.ColdVKey()
		if err != nil {
			return nil, fmt.Errorf("%w: pool %s: cold.vkey: %w", ErrBackupVerify, p.Meta.Name, err)
		}
		if hex.EncodeToString(vk[:]) != p.Meta.ColdVKey || vk.PoolID().Hex() != p.Meta.PoolID {
			return nil, fmt.Errorf("%w: pool %s: cold.vkey does not match pool.json", ErrBackupVerify, p.Meta.Name)
		}
		entries, err := p.Journal()
		if err != nil {
			return nil, fmt.Errorf("%w: pool %s: %w", ErrBackupVerify, p.Meta.Name, err)
		}
		if _, err := History(entries); err != nil {
			return nil, fmt.Errorf("%w: pool %s: %w", ErrBackupVerify, p.Meta.Name, err)
		}
		rep.Pools = append(rep.Pools, p.Meta.Name)
		vkeys = append(vkeys, ed25519.PublicKey(bytes.Clone(vk[:])))
	}
	if _, err := os.Stat(v.LogDir()); err != nil {
		return nil, fmt.Errorf("%w: %w: %v", ErrBackupVerify, ErrNoLog, err)
	}
	lr, err := auditlog.Verify(v.LogDir(), auditlog.VerifyOptions{VaultID: v.Meta.ID, PoolVKeys: vkeys})
	if err != nil {
		return nil, fmt.Errorf("%w: ceremony log: %w", ErrBackupVerify, err)
	}
	rep.LogEntries = int(lr.TreeSize)
	rep.Certs = len(lr.Certs)
	sort.Strings(rep.Pools)
	return rep, nil
}

// shredTree shreds every regular file below dir and removes it.
func shredTree(dir string) {
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			_ = Shred(p)
		}
		return nil
	})
	_ = os.RemoveAll(dir)
}
