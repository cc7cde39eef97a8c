package ceremony

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/kesrotate/kesrotate/auditlog"
	"github.com/kesrotate/kesrotate/internal/safefile"
	"github.com/kesrotate/kesrotate/internal/textsafe"
)

// How a vault keeps the cold and VRF signing keys at rest, as recorded in
// vault.json ("secrets": {"mode": …}). A vault without that object is
// SecretsPlaintext.
const (
	// SecretsPlaintext: cold.skey and vrf.skey in cardano-cli format.
	SecretsPlaintext = "plaintext"
	// SecretsPassphrase: cold.skey.age and vrf.skey.age, age files
	// encrypted with an scrypt passphrase recipient.
	SecretsPassphrase = "passphrase"
	// SecretsRecipient: cold.skey.age and vrf.skey.age encrypted to one
	// age recipient (an X25519 "age1…" key, e.g. standing in for a
	// hardware token); its identity file opens them.
	SecretsRecipient = "recipient"
)

// DefaultWorkFactor is the scrypt work factor (log2 N) of a new vault
// unless its init asks for another: age's own default.
const DefaultWorkFactor = 18

// The scrypt work factors a vault may use. Below MinWorkFactor a guessed
// passphrase is too cheap to try (tests use MinWorkFactor for speed);
// above MaxWorkFactor age refuses to decrypt.
const (
	MinWorkFactor = 10
	MaxWorkFactor = 22
)

// Files of encryption at rest, relative to the vault root or a pool.
const (
	encSuffix = ".age"
	// unlockFile is a small age file encrypted like the keys; opening it
	// checks a passphrase or identity before anything is written or read.
	// A passphrase vault of VaultVersion 2 has identityFile instead.
	unlockFile = "unlock.age"
	// identityFile (passphrase vaults, VaultVersion 2) holds the vault's
	// own age X25519 identity, encrypted to the passphrase with scrypt:
	// the one scrypt of an unlock. Every secret key file is encrypted to
	// that identity's recipient, which is never written in the clear (so
	// that, as with scrypt, only a passphrase holder can make a key file
	// the vault will open).
	identityFile = "identity.age"
	// maxSecretFile bounds what is read from an encrypted secret file.
	maxSecretFile = 1 << 20
)

// SecretsMeta is the "secrets" object of vault.json.
type SecretsMeta struct {
	Mode      string `json:"mode"`
	Recipient string `json:"recipient,omitempty"` // SecretsRecipient: the age recipient
	// WorkFactor (SecretsPassphrase) is informative: vault.json is not
	// signed, so new key files take the work factor of the passphrase-
	// checked unlock file, and a vault.json that disagrees is refused.
	WorkFactor int `json:"scrypt_work_factor,omitempty"`
}

// Encryption chooses how a vault encrypts its secret keys: with a
// passphrase, or to an age recipient.
type Encryption struct {
	Passphrase []byte // scrypt passphrase; the caller wipes it
	Recipient  string // age recipient ("age1…") instead of a passphrase
	WorkFactor int    // scrypt log2 N; 0 means DefaultWorkFactor
}

func (e *Encryption) meta() (*SecretsMeta, error) {
	switch {
	case e.Recipient != "" && len(e.Passphrase) > 0:
		return nil, errors.New("give a passphrase or a recipient, not both")
	case e.Recipient != "":
		if _, err := parseRecipient(e.Recipient); err != nil {
			return nil, err
		}
		return &SecretsMeta{Mode: SecretsRecipient, Recipient: e.Recipient}, nil
	case len(e.Passphrase) > 0:
		if err := CheckNewPassphrase(e.Passphrase); err != nil {
			return nil, err
		}
		wf := e.WorkFactor
		if wf == 0 {
			wf = DefaultWorkFactor
		}
		if wf < MinWorkFactor || wf > MaxWorkFactor {
			return nil, fmt.Errorf("scrypt work factor %d is outside %d..%d", wf, MinWorkFactor, MaxWorkFactor)
		}
		return &SecretsMeta{Mode: SecretsPassphrase, WorkFactor: wf}, nil
	}
	return nil, errors.New("an encrypted vault needs a passphrase or a recipient")
}

func parseRecipient(s string) (age.Recipient, error) {
	rs, err := age.ParseRecipients(strings.NewReader(s))
	if err != nil || len(rs) != 1 {
		return nil, fmt.Errorf("recipient %q is not one age recipient (age1…)", s)
	}
	return rs[0], nil
}

// Access is how the vault reaches its secrets. The library never prompts:
// the caller supplies functions that it calls at most once, when a secret
// is first needed. Before the first secret key is read, decrypted or
// written the vault checks the air gap (Airgap): see guard.
type Access struct {
	// Passphrase returns the vault passphrase. The vault keeps it until
	// Lock and then wipes it.
	Passphrase func() ([]byte, error)
	// Identities return the age identities of a SecretsRecipient vault.
	Identities func() ([]age.Identity, error)

	// Airgap reads what breaks this machine's air gap: one finding per
	// thing (an interface that is up, a default route, a radio), none on
	// an air-gapped machine, an error when the state cannot be read
	// (which counts as not air-gapped: nothing vouches for it). nil skips
	// the check.
	Airgap func() ([]string, error)
	// AllowNetwork: the operator allows a RequireAirgap vault's secrets
	// to be opened on a machine that is not air-gapped. The first secret
	// opened records that in the ceremony log (an override entry,
	// OverrideAllowNetwork, with the vault's Audit).
	AllowNetwork bool
	// Now is the time of that entry; nil is the system clock.
	Now func() (time.Time, error)
	// Warn is told what Airgap found when a secret is opened on a
	// machine that is not air-gapped and nothing says that is intended
	// (the vault does not require an air gap and is not Networked, and
	// AllowNetwork is not set). The secret is opened; the caller shows
	// the warning.
	Warn func(found []string)
}

type secretState struct {
	Access
	guarded    bool // the air gap was checked (and an override recorded) in this unlock
	guarding   bool // recording the override: the secrets that takes are not checked again
	pass       []byte
	ids        []age.Identity
	workFactor int // of the unlock file, once its passphrase opened it
	// audit is the audit signing key, once read (and decrypted) in this
	// unlock: a ceremony of many pools reads it once.
	audit auditlog.SignerKey
	// vaultKey is the vault's X25519 identity (identityFile), once the
	// passphrase opened it.
	vaultKey *age.X25519Identity
}

// Unlock sets how the vault gets at its secrets. Nothing is asked yet.
func (v *Vault) Unlock(a Access) {
	v.Lock()
	v.secrets = &secretState{Access: a}
}

// Lock forgets (and wipes) the passphrase and identities the vault holds.
func (v *Vault) Lock() {
	if v.secrets != nil {
		wipeBytes(v.secrets.pass)
		v.secrets.pass, v.secrets.ids, v.secrets.guarded = nil, nil, false
		v.secrets.audit, v.secrets.vaultKey = auditlog.SignerKey{}, nil
	}
	v.log = nil // its signer is the audit key
}

// SecretsMode is the vault's mode: SecretsPlaintext, SecretsPassphrase or
// SecretsRecipient.
func (v *Vault) SecretsMode() string {
	if v.Meta.Secrets == nil || v.Meta.Secrets.Mode == "" {
		return SecretsPlaintext
	}
	return v.Meta.Secrets.Mode
}

// Encrypted reports whether the vault keeps its secret keys encrypted.
func (v *Vault) Encrypted() bool { return v.SecretsMode() != SecretsPlaintext }

func (v *Vault) state() *secretState {
	if v.secrets == nil {
		v.secrets = &secretState{}
	}
	return v.secrets
}

// guard decides, once per unlock, before the first secret key is read,
// decrypted or written, whether this machine may open the vault's
// secrets: on a machine Access.Airgap finds not air-gapped, a
// RequireAirgap vault refuses (ErrRefused, ErrNotAirgapped) unless
// Access.AllowNetwork, which it records in the log first (an override that
// cannot be logged is not used); any other vault opens them, with a
// warning (Access.Warn) unless it is Networked or AllowNetwork was given.
func (v *Vault) guard() error {
	s := v.state()
	if s.guarded || s.guarding || s.Airgap == nil {
		return nil
	}
	found := AirgapFindings(s.Airgap)
	switch {
	case len(found) == 0:
	case v.Meta.RequireAirgap && !s.AllowNetwork:
		return fmt.Errorf("%w: %w: %s", ErrRefused, ErrNotAirgapped, strings.Join(found, "; "))
	case v.Meta.RequireAirgap:
		s.guarding = true
		err := v.recordAllowNetwork(found)
		s.guarding = false
		if err != nil {
			return fmt.Errorf("%w: the network was allowed, but the ceremony log cannot record it: %w", ErrRefused, err)
		}
	case !s.AllowNetwork && !v.Meta.Networked && s.Warn != nil:
		s.Warn(found)
	}
	s.guarded = true
	return nil
}

// AirgapFindings runs check (an Access.Airgap) and returns what breaks
// the air gap: its findings, or, when the network state cannot be read,
// that, since nothing then vouches for the air gap.
func AirgapFindings(check func() ([]string, error)) []string {
	found, err := check()
	if err != nil {
		return []string{fmt.Sprintf("the network state could not be read (%v)", err)}
	}
	return found
}

// recordAllowNetwork appends the override entry of a RequireAirgap vault
// opened on a machine that is not air-gapped: OverrideAllowNetwork, and
// what was found (DetailAirgap, at most 200 bytes).
func (v *Vault) recordAllowNetwork(found []string) error {
	now := time.Now()
	if v.secrets.Now != nil {
		var err error
		if now, err = v.secrets.Now(); err != nil {
			return err
		}
	}
	_, _, err := v.Record(auditlog.Entry{Kind: auditlog.KindOverride, Time: now,
		Detail: map[string]string{OverrideAllowNetwork: "true", DetailAirgap: textsafe.Clip(strings.Join(found, "; "), 200)}})
	return err
}

// CheckUnlock asks for the passphrase or identity now (if the vault is
// encrypted and has not asked yet) and checks it, so that a command fails
// on a wrong passphrase before it starts work.
func (v *Vault) CheckUnlock() error {
	if !v.Encrypted() {
		return nil
	}
	_, err := v.identities()
	return err
}

// identities returns identities that open the vault's files, asking the
// Access functions once and checking the answer against unlock.age.
func (v *Vault) identities() ([]age.Identity, error) {
	s := v.state()
	if s.ids != nil {
		return s.ids, nil
	}
	var ids []age.Identity
	switch v.SecretsMode() {
	case SecretsPassphrase:
		if s.Passphrase == nil {
			return nil, ErrLocked
		}
		p, err := s.Passphrase()
		if err != nil {
			return nil, err
		}
		id, err := scryptIdentity(p)
		if err != nil {
			wipeBytes(p)
			return nil, err
		}
		// One scrypt: the identity file of a version 2 vault, or the
		// unlock file of an older one (upgraded below).
		checked := unlockFile
		key, wf, err := v.openIdentityFile(id)
		if errors.Is(err, fs.ErrNotExist) {
			wf, err = v.checkUnlockFile(id)
		} else {
			checked = identityFile
		}
		if err != nil {
			wipeBytes(p)
			return nil, err
		}
		// The file's header is authenticated once the passphrase opened
		// it: its work factor is the vault's, not vault.json's.
		if v.Meta.Secrets == nil || v.Meta.Secrets.WorkFactor != wf {
			wipeBytes(p)
			return nil, fmt.Errorf("%w: vault.json gives scrypt work factor %d, the vault's %s/%s was made with %d: vault.json was changed",
				ErrSecretState, v.Meta.Secrets.WorkFactor, secretDir, checked, wf)
		}
		s.pass, s.workFactor, ids = p, wf, []age.Identity{id}
		if key != nil {
			// Key files still encrypted with scrypt (an upgrade that was
			// interrupted) open with the passphrase, one scrypt each.
			s.vaultKey, ids = key, []age.Identity{key, id}
		}
		s.ids = ids
		if err := v.upgradeSecrets(id); err != nil {
			return nil, fmt.Errorf("moving the vault's keys to one scrypt per unlock: %w", err)
		}
		return s.ids, nil
	case SecretsRecipient:
		if s.Identities == nil {
			return nil, ErrLocked
		}
		var err error
		if ids, err = s.Identities(); err != nil {
			return nil, err
		}
		if _, err := v.checkUnlockFile(ids...); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: unknown mode %q", ErrSecretState, v.SecretsMode())
	}
	s.ids = ids
	return ids, nil
}

// PassphraseIdentity is the age identity that opens what passphrase p
// encrypted: a passphrase vault's identity file, a backup of a vault (see
// CopyEncryption). An empty passphrase is refused. The caller wipes p; age
// keeps a copy it cannot wipe.
func PassphraseIdentity(p []byte) (age.Identity, error) {
	id, err := scryptIdentity(p)
	if err != nil {
		return nil, err
	}
	return id, nil
}

func scryptIdentity(p []byte) (*age.ScryptIdentity, error) {
	if len(p) == 0 {
		return nil, errors.New("empty passphrase")
	}
	// age takes the password as a string: that copy cannot be wiped.
	return age.NewScryptIdentity(string(p))
}

// checkUnlockFile opens the unlock file with ids and returns its scrypt
// work factor (0 for a recipient vault).
func (v *Vault) checkUnlockFile(ids ...age.Identity) (int, error) {
	path := filepath.Join(v.Dir, secretDir, unlockFile)
	b, err := decryptFile(path, v.SecretsMode(), ids...)
	if err != nil {
		return 0, err
	}
	defer wipeBytes(b)
	if string(b) != unlockContent(v.Meta.ID) {
		return 0, fmt.Errorf("%w: %s/%s belongs to another vault", ErrSecretState, secretDir, unlockFile)
	}
	if v.SecretsMode() != SecretsPassphrase {
		return 0, nil
	}
	ct, err := safefile.ReadRegular(path, maxSecretFile)
	if err != nil {
		return 0, err
	}
	return scryptLogN(ct)
}

// scryptLogN returns the work factor of an age file encrypted to a scrypt
// passphrase, from its header: the stanza "-> scrypt SALT LOGN". Only
// after the file decrypted with the passphrase is it authentic (the header
// MAC covers it).
func scryptLogN(ct []byte) (int, error) {
	lines := strings.SplitN(string(ct), "\n", 3)
	if len(lines) < 3 || lines[0] != "age-encryption.org/v1" {
		return 0, fmt.Errorf("%w: not an age file", ErrSecretState)
	}
	f := strings.Split(lines[1], " ")
	if len(f) != 4 || f[0] != "->" || f[1] != "scrypt" {
		return 0, fmt.Errorf("%w: the age file is not encrypted to a passphrase", ErrSecretState)
	}
	n, err := strconv.Atoi(f[3])
	if err != nil || strconv.Itoa(n) != f[3] {
		return 0, fmt.Errorf("%w: the age file's scrypt work factor is not a number", ErrSecretState)
	}
	return n, nil
}

// checkMeta refuses a secrets object in vault.json that no vault could
// have been made with (vault.json is not signed: see SecretsMeta).
func checkMeta(m *SecretsMeta) error {
	if m == nil {
		return nil
	}
	switch m.Mode {
	case SecretsPlaintext, SecretsRecipient:
	case SecretsPassphrase:
		if m.WorkFactor < MinWorkFactor || m.WorkFactor > MaxWorkFactor {
			return fmt.Errorf("%w: vault.json gives scrypt work factor %d, outside %d..%d: vault.json was changed",
				ErrSecretState, m.WorkFactor, MinWorkFactor, MaxWorkFactor)
		}
	default:
		return fmt.Errorf("%w: unknown mode %q in vault.json", ErrSecretState, m.Mode)
	}
	return nil
}

func unlockContent(vaultID string) string { return "kesrotate vault " + vaultID + "\n" }

// recipient returns what new secret files are encrypted to.
func (v *Vault) recipient() (age.Recipient, error) {
	m := v.Meta.Secrets
	switch v.SecretsMode() {
	case SecretsRecipient:
		return parseRecipient(m.Recipient)
	case SecretsPassphrase:
		if _, err := v.identities(); err != nil {
			return nil, err
		}
		if v.secrets.vaultKey != nil {
			return v.secrets.vaultKey.Recipient(), nil
		}
		return scryptRecipient(v.secrets.pass, v.secrets.workFactor)
	}
	return nil, fmt.Errorf("%w: unknown mode %q", ErrSecretState, v.SecretsMode())
}

// CopyNeedsEncryption reports whether a copy of the whole vault needs an
// Encryption of its own (CopyEncryption's e): a plaintext vault's copy
// does; an encrypted vault's copy is encrypted like its keys unless the
// caller gives another.
func (v *Vault) CopyNeedsEncryption() bool { return !v.Encrypted() }

// CopyEncryption returns what a copy of the whole vault (a backup) is
// encrypted to, r, the identities that open it, ids, when this process can
// open it to check it (nil when only a recipient's holder can), and how it
// is encrypted, mode (SecretsPassphrase or SecretsRecipient, for the log).
// With e given the copy is encrypted to e; otherwise the way the vault
// encrypts its keys: an encrypted vault's passphrase (the copy opens with
// the passphrase, not with the vault identity it carries) or recipient. A
// plaintext vault's copy needs e.
func (v *Vault) CopyEncryption(e *Encryption) (r age.Recipient, ids []age.Identity, mode string, err error) {
	switch {
	case e != nil:
		m, err := e.meta()
		if err != nil {
			return nil, nil, "", err
		}
		if r, err = encryptionRecipient(e, m); err != nil {
			return nil, nil, "", err
		}
		if m.Mode == SecretsPassphrase {
			id, err := scryptIdentity(e.Passphrase)
			if err != nil {
				return nil, nil, "", err
			}
			ids = []age.Identity{id}
		}
		return r, ids, m.Mode, nil
	case !v.CopyNeedsEncryption():
		if ids, err = v.identities(); err != nil {
			return nil, nil, "", err
		}
		if r, err = v.recipient(); err != nil {
			return nil, nil, "", err
		}
		if v.SecretsMode() == SecretsPassphrase {
			if r, err = scryptRecipient(v.secrets.pass, v.secrets.workFactor); err != nil {
				return nil, nil, "", err
			}
		}
		return r, ids, v.SecretsMode(), nil
	}
	return nil, nil, "", errors.New("a plaintext vault's backup needs a passphrase or a recipient")
}

func scryptRecipient(p []byte, wf int) (age.Recipient, error) {
	if wf < MinWorkFactor || wf > MaxWorkFactor { // SetWorkFactor panics outside 1..30
		return nil, fmt.Errorf("%w: scrypt work factor %d is outside %d..%d", ErrSecretState, wf, MinWorkFactor, MaxWorkFactor)
	}
	r, err := age.NewScryptRecipient(string(p))
	if err != nil {
		return nil, err
	}
	r.SetWorkFactor(wf)
	return r, nil
}

func encryptBytes(data []byte, r age.Recipient) ([]byte, error) {
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, r)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// decryptFile opens an age file; the caller wipes the result.
func decryptFile(path, mode string, ids ...age.Identity) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := age.Decrypt(io.LimitReader(f, maxSecretFile), ids...)
	if err != nil {
		var nm *age.NoIdentityMatchError
		if errors.As(err, &nm) {
			if mode == SecretsPassphrase {
				return nil, ErrWrongPassphrase
			}
			return nil, ErrWrongIdentity
		}
		return nil, fmt.Errorf("%s: %w", filepath.Base(path), textsafe.AgeError(err))
	}
	b, err := safefile.ReadAllWiping(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(path), textsafe.AgeError(err))
	}
	return b, nil
}

// readSecret returns the content of the secret key file at path (a
// cardano-cli envelope), decrypting path.age in an encrypted vault. The
// caller wipes the result. A missing key gives an error wrapping
// fs.ErrNotExist, or ErrKeysDestroyed for a retired pool.
func (v *Vault) readSecret(path string) ([]byte, error) {
	name := filepath.Join(filepath.Base(filepath.Dir(path)), filepath.Base(path))
	if retired, err := exists(filepath.Join(filepath.Dir(path), retiredFile)); err != nil {
		return nil, err
	} else if retired {
		return nil, fmt.Errorf("%w: %s", ErrKeysDestroyed, name)
	}
	enc := path + encSuffix
	hasPlain, err := exists(path)
	if err != nil {
		return nil, err
	}
	hasEnc, err := exists(enc)
	if err != nil {
		return nil, err
	}
	if !hasPlain && !hasEnc {
		return nil, &fs.PathError{Op: "open", Path: path, Err: fs.ErrNotExist}
	}
	if !v.Encrypted() {
		if hasEnc {
			return nil, fmt.Errorf("%w: %s%s in a plaintext vault", ErrSecretState, name, encSuffix)
		}
		if err := v.guard(); err != nil {
			return nil, err
		}
		return os.ReadFile(path)
	}
	if hasPlain {
		return nil, fmt.Errorf("%w: %s (finish with 'vault encrypt')", ErrPlaintextLeft, name)
	}
	if err := v.guard(); err != nil {
		return nil, err
	}
	ids, err := v.identities()
	if err != nil {
		return nil, err
	}
	return decryptFile(enc, v.SecretsMode(), ids...)
}

// writeSecret creates the secret key file at path (plaintext vault) or
// path.age (encrypted vault), exclusively, mode 0600, after the guard
// allowed it. data is not wiped.
func (v *Vault) writeSecret(path string, data []byte) error {
	if err := v.guard(); err != nil {
		return err
	}
	if !v.Encrypted() {
		return safefile.CreateSecret(path, data)
	}
	// Also in recipient mode: whoever writes a key must be able to read
	// it back (the log's audit binding signs with it right away).
	if _, err := v.identities(); err != nil {
		return err
	}
	r, err := v.recipient()
	if err != nil {
		return err
	}
	ct, err := encryptBytes(data, r)
	if err != nil {
		return err
	}
	return safefile.CreateSecret(path+encSuffix, ct)
}

func exists(path string) (bool, error) {
	_, err := os.Lstat(path)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return false, err
}

// initSecrets records the encryption of a new vault in meta and writes
// its unlock file (a recipient vault) or its identity file (a passphrase
// vault, which is then VaultVersion 2) into dir/secret. It returns what
// secrets are encrypted to, and the vault's identity (passphrase vaults).
func initSecrets(dir string, meta *Meta, e *Encryption) (age.Recipient, *age.X25519Identity, error) {
	m, err := e.meta()
	if err != nil {
		return nil, nil, err
	}
	r, err := encryptionRecipient(e, m)
	if err != nil {
		return nil, nil, err
	}
	if m.Mode == SecretsPassphrase {
		key, err := writeIdentityFile(dir, meta.ID, r)
		if err != nil {
			return nil, nil, err
		}
		meta.Secrets, meta.Version = m, VaultVersion
		return key.Recipient(), key, nil
	}
	ct, err := encryptBytes([]byte(unlockContent(meta.ID)), r)
	if err != nil {
		return nil, nil, err
	}
	if err := safefile.CreateSecret(filepath.Join(dir, secretDir, unlockFile), ct); err != nil {
		return nil, nil, err
	}
	meta.Secrets = m
	return r, nil, nil
}

// writeIdentityFile makes the vault's X25519 identity and writes it,
// encrypted to r (the passphrase's scrypt recipient), as identityFile.
func writeIdentityFile(dir, vaultID string, r age.Recipient) (*age.X25519Identity, error) {
	key, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, err
	}
	// An age identity file (a comment line, the key): the stock age
	// tool opens the key files with 'age -d -i identity.age', asking
	// for the passphrase.
	text := []byte("# " + unlockContent(vaultID) + key.String() + "\n")
	ct, err := encryptBytes(text, r)
	wipeBytes(text)
	if err != nil {
		return nil, err
	}
	if err := safefile.CreateSecret(filepath.Join(dir, secretDir, identityFile), ct); err != nil {
		return nil, err
	}
	return key, nil
}

// openIdentityFile opens identityFile with the passphrase's scrypt
// identity (the one scrypt of an unlock) and returns the vault's identity
// and the file's work factor; an error wrapping fs.ErrNotExist for a
// vault that has none.
func (v *Vault) openIdentityFile(id age.Identity) (*age.X25519Identity, int, error) {
	path := filepath.Join(v.Dir, secretDir, identityFile)
	if _, err := os.Lstat(path); err != nil {
		return nil, 0, err
	}
	b, err := decryptFile(path, SecretsPassphrase, id)
	if err != nil {
		return nil, 0, err
	}
	defer wipeBytes(b)
	head, rest, ok := strings.Cut(string(b), "\n")
	if !ok || head+"\n" != "# "+unlockContent(v.Meta.ID) {
		return nil, 0, fmt.Errorf("%w: %s/%s belongs to another vault", ErrSecretState, secretDir, identityFile)
	}
	key, err := age.ParseX25519Identity(strings.TrimSuffix(rest, "\n"))
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %s/%s holds no identity", ErrSecretState, secretDir, identityFile)
	}
	ct, err := safefile.ReadRegular(path, maxSecretFile)
	if err != nil {
		return nil, 0, err
	}
	wf, err := scryptLogN(ct)
	if err != nil {
		return nil, 0, err
	}
	return key, wf, nil
}

// upgradeSecrets brings a passphrase vault to VaultVersion 2: its own
// identity in identityFile, vault.json at version 2, and every key file
// encrypted to the identity instead of with scrypt. An older vault pays
// one scrypt per key file, once; an upgrade stopped at any point leaves
// every key readable (identities try the vault's identity, then the
// passphrase) and is finished at the next unlock. It does nothing while
// another command holds the vault's lock.
func (v *Vault) upgradeSecrets(id *age.ScryptIdentity) error {
	s := v.state()
	var legacy []string
	for _, p := range v.secretKeyPaths() {
		ct, err := safefile.ReadRegular(p, maxSecretFile)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if _, err := scryptLogN(ct); err == nil {
			legacy = append(legacy, p)
		}
	}
	if s.vaultKey != nil && len(legacy) == 0 && v.Meta.Version >= VaultVersion {
		if _, err := os.Lstat(filepath.Join(v.Dir, secretDir, unlockFile)); errors.Is(err, fs.ErrNotExist) {
			return nil
		}
	}
	release, err := v.Acquire("vault upgrade")
	if errors.Is(err, ErrBusy) {
		return nil
	} else if err != nil {
		return err
	}
	defer release()
	if s.vaultKey == nil {
		r, err := scryptRecipient(s.pass, s.workFactor)
		if err != nil {
			return err
		}
		if s.vaultKey, err = writeIdentityFile(v.Dir, v.Meta.ID, r); err != nil {
			return err
		}
		s.ids = []age.Identity{s.vaultKey, id}
	}
	if v.Meta.Version < VaultVersion {
		meta := v.Meta
		meta.Version = VaultVersion
		if err := v.saveMeta(meta); err != nil {
			return err
		}
		v.Meta = meta
	}
	for _, p := range legacy {
		plain, err := decryptFile(p, SecretsPassphrase, id)
		if err != nil {
			return err
		}
		ct, err := encryptBytes(plain, s.vaultKey.Recipient())
		wipeBytes(plain)
		if err != nil {
			return err
		}
		if err := safefile.Replace(p, ct, safefile.SecretMode); err != nil {
			return err
		}
	}
	// The identity file checks the passphrase from now on.
	if err := os.Remove(filepath.Join(v.Dir, secretDir, unlockFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// secretKeyPaths are the encrypted key files of the vault: each pool's
// cold and VRF keys and the audit key.
func (v *Vault) secretKeyPaths() []string {
	out := []string{auditKeyPath(v.Dir) + encSuffix}
	des, _ := os.ReadDir(filepath.Join(v.Dir, poolsDir))
	for _, d := range des {
		if d.IsDir() {
			for _, f := range secretKeyFiles {
				out = append(out, filepath.Join(v.Dir, poolsDir, d.Name(), f+encSuffix))
			}
		}
	}
	return out
}

func encryptionRecipient(e *Encryption, m *SecretsMeta) (age.Recipient, error) {
	if m.Mode == SecretsRecipient {
		return parseRecipient(m.Recipient)
	}
	return scryptRecipient(e.Passphrase, m.WorkFactor)
}

// secretKeyFiles are the secret key files a pool may hold: its cold and
// VRF keys, and the KES key a rotation prepared for a hardware wallet
// keeps until the cert is signed (hw.go).
var secretKeyFiles = []string{coldSkeyFile, vrfSkeyFile, stagedKESFile}

// EncryptResult says what Encrypt did.
type EncryptResult struct {
	Mode      string   // the vault's mode afterwards
	Encrypted []string // pool/file names encrypted now
	Shredded  []string // plaintext files overwritten and removed
}

// Encrypt turns a plaintext vault into an encrypted one, or finishes an
// interrupted run. The mode goes into vault.json first; then each
// plaintext key becomes key.age (created exclusively, read back and
// compared) and only then is the plaintext overwritten and removed. A run
// stopped at any point leaves every key readable from one of its files and
// is finished by running Encrypt again. e is ignored when the vault is
// already encrypted (the Access passphrase or identity is used). The
// secrets-encrypted entry is timed now.
func (v *Vault) Encrypt(e Encryption, now time.Time) (*EncryptResult, error) {
	release, err := v.Acquire("vault encrypt")
	if err != nil {
		return nil, err
	}
	defer release()
	res := &EncryptResult{}
	wasEncrypted := v.Encrypted()
	if !wasEncrypted {
		// Open the log while its audit key is still plaintext: the entry
		// at the end is signed with it, whatever the keys are encrypted
		// to (an age recipient's identity may not be at hand).
		if _, _, err := v.OpenLog(now); err != nil {
			return nil, err
		}
	}
	if !wasEncrypted {
		m, err := e.meta()
		if err != nil {
			return nil, err
		}
		// A leftover unlock or identity file of an attempt that never
		// reached vault.json is not authoritative.
		removeUnlock := func() {
			_ = os.Remove(filepath.Join(v.Dir, secretDir, unlockFile))
			_ = os.Remove(filepath.Join(v.Dir, secretDir, identityFile))
		}
		removeUnlock()
		meta := v.Meta
		_, key, err := initSecrets(v.Dir, &meta, &e)
		if err != nil {
			return nil, err
		}
		if err := v.saveMeta(meta); err != nil {
			removeUnlock()
			return nil, err
		}
		v.Meta = meta
		if m.Mode == SecretsPassphrase {
			// Remember the passphrase just set: no second prompt.
			v.state().pass = bytes.Clone(e.Passphrase)
			id, err := scryptIdentity(e.Passphrase)
			if err != nil {
				return nil, err
			}
			v.state().ids = []age.Identity{key, id}
			v.state().vaultKey = key
			v.state().workFactor = m.WorkFactor
		}
	} else if _, err := v.identities(); err != nil {
		return nil, err
	}
	res.Mode = v.SecretsMode()
	entries, err := os.ReadDir(filepath.Join(v.Dir, poolsDir))
	if err != nil {
		return nil, err
	}
	for _, d := range entries {
		if !d.IsDir() {
			continue
		}
		for _, f := range secretKeyFiles {
			path := filepath.Join(v.Dir, poolsDir, d.Name(), f)
			did, err := v.encryptFile(path)
			if err != nil {
				return res, fmt.Errorf("%s/%s: %w", d.Name(), f, err)
			}
			if did {
				res.Encrypted = append(res.Encrypted, d.Name()+"/"+f)
				res.Shredded = append(res.Shredded, path)
			}
		}
	}
	// The audit key is a secret too (a vault made before this encrypts it
	// here, or when it is next unlocked: see signerKey).
	did, err := v.encryptFile(auditKeyPath(v.Dir))
	if err != nil {
		return res, fmt.Errorf("%s/%s: %w", secretDir, auditKeyFile, err)
	}
	if did {
		res.Encrypted = append(res.Encrypted, secretDir+"/"+auditKeyFile)
		res.Shredded = append(res.Shredded, auditKeyPath(v.Dir))
	}
	if wasEncrypted && len(res.Encrypted) == 0 {
		return res, ErrAlreadyEncrypted
	}
	// The log says that plaintext keys were rewritten and removed: which
	// files (names only), to what mode.
	if _, _, err := v.Record(auditlog.Entry{Kind: auditlog.KindSecretsEncrypted, Time: now,
		Detail: map[string]string{DetailMode: res.Mode, DetailFiles: strings.Join(res.Encrypted, " "),
			DetailFinished: strconv.FormatBool(wasEncrypted)}}); err != nil {
		return res, fmt.Errorf("the keys are encrypted, but the log entry failed (the next command records what is unlogged): %w", err)
	}
	return res, nil
}

// encryptFile moves one plaintext key to its .age file. It reports
// whether there was a plaintext file.
func (v *Vault) encryptFile(path string) (bool, error) {
	plain, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer wipeBytes(plain)
	enc := path + encSuffix
	ids, err := v.identities()
	if err != nil {
		return false, err
	}
	if ok, err := exists(enc); err != nil {
		return false, err
	} else if !ok {
		if err := v.writeSecret(path, plain); err != nil {
			return false, err
		}
	}
	back, err := decryptFile(enc, v.SecretsMode(), ids...)
	if err != nil {
		return false, err
	}
	same := subtle.ConstantTimeCompare(back, plain) == 1
	wipeBytes(back)
	if !same {
		return false, fmt.Errorf("%w: %s%s and %s differ; keep both and compare by hand", ErrSecretState, filepath.Base(path), encSuffix, filepath.Base(path))
	}
	return true, Shred(path)
}

// Shred overwrites a file with zeros, syncs it and removes it. On flash
// media (USB sticks, SSDs) the old blocks may survive in the controller:
// this removes the easy copy, not every copy.
func Shred(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return err
	}
	if !fi.Mode().IsRegular() {
		_ = f.Close()
		return fmt.Errorf("%s is not a regular file", filepath.Base(path))
	}
	zero := make([]byte, 4096)
	for left := fi.Size(); left > 0; {
		n := int64(len(zero))
		if left < n {
			n = left
		}
		if _, err := f.Write(zero[:n]); err != nil {
			_ = f.Close()
			return err
		}
		left -= n
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Remove(path); err != nil {
		return err
	}
	return safefile.SyncDir(filepath.Dir(path))
}

// saveMeta replaces vault.json with meta.
func (v *Vault) saveMeta(meta Meta) error {
	b, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return err
	}
	return safefile.Replace(filepath.Join(v.Dir, VaultFile), append(b, '\n'), safefile.SecretMode)
}

// ExportSecrets writes the pool's secret keys in plaintext cardano-cli
// format (cold.skey, and vrf.skey when the vault has it) into dir, which
// is created 0700; existing files are never overwritten. This takes keys
// out of the vault's protection, so the ceremony log records it: an
// override entry (OverridePlaintext, DetailAction "export-keys",
// DetailFiles the file names) timed now. The log is opened before
// anything is written, and when its entry fails the files written are
// shredded again: no key leaves the vault unlogged.
func (p *Pool) ExportSecrets(dir string, now time.Time) (written []string, err error) {
	release, err := p.v.Acquire("export-keys")
	if err != nil {
		return nil, err
	}
	defer release()
	if _, _, err := p.v.OpenLog(now); err != nil {
		return nil, fmt.Errorf("the export must be logged and the log cannot take it: %w", err)
	}
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
	var names []string
	for _, f := range []string{coldSkeyFile, vrfSkeyFile} {
		if f == coldSkeyFile && p.Hardware() {
			continue // on the device
		}
		b, err := p.v.readSecret(filepath.Join(p.Dir, f))
		if f == vrfSkeyFile && errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return written, err
		}
		dst := filepath.Join(dir, f)
		err = safefile.CreateSecret(dst, b)
		wipeBytes(b)
		if err != nil {
			return written, err
		}
		written = append(written, dst)
		names = append(names, f)
	}
	if _, _, err := p.v.Record(auditlog.Entry{Kind: auditlog.KindOverride, Time: now, Pool: p.Meta.PoolID,
		Detail: map[string]string{OverridePlaintext: "true", DetailAction: ActionExportKeys, DetailFiles: strings.Join(names, " ")}}); err != nil {
		return written, fmt.Errorf("the export's log entry failed, so the files written were shredded again: %w", err)
	}
	return written, nil
}
