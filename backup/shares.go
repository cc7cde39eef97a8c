package backup

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	slip39 "github.com/gavincarr/go-slip39"

	"github.com/kesrotate/kesrotate/ceremony"
	"github.com/kesrotate/kesrotate/internal/safefile"
	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/transfer/qr"
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

	from       *ceremony.Pool // the pool split, whose vault's log records the shares
	passphrase bool           // a SLIP-39 passphrase was used
}

// MaxShares is SLIP-39's limit on shares in a group.
const MaxShares = 16

// Split splits the pool's cold key seed into count SLIP-39 shares, any
// threshold of which rebuild it, and checks that they do. passphrase is
// the optional SLIP-39 passphrase (printable ASCII); with a wrong one the
// shares rebuild a different key, so keep it as safe as the shares. A
// pool whose cold key is on a hardware wallet has none to split
// (ceremony.ErrHardwareKey), nor has an extended key (ErrNoSeed).
// ShareSet.WriteShares writes the shares and records them in the log.
func Split(p *ceremony.Pool, threshold, count int, passphrase []byte) (*ShareSet, error) {
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
	defer clear(seed)
	groups, err := slip39.GenerateMnemonicsWithPassphrase(1, []slip39.MemberGroupParameters{{MemberThreshold: threshold, MemberCount: count}}, seed, passphrase)
	if err != nil {
		if errors.Is(err, slip39.ErrInvalidPassphrase) {
			return nil, fmt.Errorf("SLIP-39 passphrase: %w", err)
		}
		return nil, fmt.Errorf("splitting the seed: %w", err)
	}
	set := &ShareSet{Pool: p.Meta.Name, PoolID: cold.Public().PoolID(), Threshold: threshold, from: p, passphrase: len(passphrase) > 0}
	for _, m := range groups[0] {
		set.Shares = append(set.Shares, NewMnemonic(m))
	}
	// Prove the shares rebuild the seed before anyone relies on them.
	got, err := CombineShares(set.Shares[:threshold], passphrase)
	if err != nil {
		return nil, fmt.Errorf("self-check of the shares: %w", err)
	}
	defer clear(got)
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
// holding the words, NAME-share-I-of-N.png into dir (created 0700), then
// records a backup-made entry (scheme slip39: the pool, the threshold, the
// number of shares, whether a SLIP-39 passphrase was used) in the ceremony
// log of the pool's vault, timed now. Files are created exclusively, mode
// 0600; on error the ones written are removed. If only the log entry
// fails, the files stay and the error wraps ErrNotLogged.
func (s *ShareSet) WriteShares(dir string, now time.Time) ([]string, error) {
	if s.from == nil {
		return nil, errors.New("a share set not made by Split cannot be recorded")
	}
	written, err := s.writeFiles(dir)
	if err != nil {
		return nil, err
	}
	if _, err := s.from.Vault().RecordBackup(now, nil, map[string]string{"scheme": "slip39", "pool": s.from.Meta.PoolID,
		"threshold": strconv.Itoa(s.Threshold), "shares": strconv.Itoa(len(s.Shares)), "slip39_passphrase": strconv.FormatBool(s.passphrase)}); err != nil {
		return written, fmt.Errorf("the shares are written but the %w: %w", ErrNotLogged, err)
	}
	return written, nil
}

// writeFiles writes the share files; on error it removes the ones it
// wrote.
func (s *ShareSet) writeFiles(dir string) (written []string, err error) {
	if err := safefile.MkdirSecret(dir); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			for _, w := range written {
				_ = ceremony.Shred(w)
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

// ShareFile is a share file's content and where it was read (for the
// messages).
type ShareFile struct {
	Name string
	Data []byte
}

// ParseShareFiles reads the share files given for one restore
// (ParseShareFile each) and the pool they name. Files that name different
// pools are refused (ErrSharesMixed): shares of two pools never combine.
func ParseShareFiles(files []ShareFile) (shares []Mnemonic, poolID string, err error) {
	for _, f := range files {
		m, pid, err := ParseShareFile(f.Data)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", f.Name, err)
		}
		if pid != "" {
			if poolID != "" && poolID != pid {
				return nil, "", fmt.Errorf("%w: %s names pool %s, another file names %s", ErrSharesMixed, f.Name, pid, poolID)
			}
			poolID = pid
		}
		shares = append(shares, m)
	}
	return shares, poolID, nil
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

// RestoreOptions carry the shares and key files: they print as [REDACTED]
// for every verb.
func (RestoreOptions) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(keys.Redacted)) }
func (RestoreOptions) String() string             { return keys.Redacted }
func (RestoreOptions) GoString() string           { return keys.Redacted }

// RestorePool rebuilds a pool's cold key from SLIP-39 shares and adds it
// to the vault v as name, an import (with a counter file at NextCounter;
// ceremony.(*Vault).ImportPool logs it). With PoolID set, a key of another
// pool (wrong passphrase, shares of another pool) is refused with
// ErrSharePool and nothing is added.
func RestorePool(v *ceremony.Vault, name string, o RestoreOptions, now time.Time) (*ceremony.Pool, error) {
	release, err := v.Acquire("backup restore")
	if err != nil {
		return nil, err
	}
	defer release()
	seed, err := CombineShares(o.Shares, o.Passphrase)
	if err != nil {
		return nil, err
	}
	defer clear(seed)
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
	defer clear(env)
	return v.ImportPool(name, ceremony.ImportOptions{
		ColdSkey: env,
		Counter:  keys.Counter{Next: o.NextCounter, Cold: cold.Public()}.MarshalEnvelope(),
		VRFSkey:  o.VRFSkey,
	}, now)
}
