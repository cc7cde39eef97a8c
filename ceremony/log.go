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
	"strconv"
	"sync"
	"time"

	"filippo.io/age"

	"github.com/kesrotate/kesrotate/auditlog"
	"github.com/kesrotate/kesrotate/internal/safefile"
)

// Layout of the ceremony log in the vault.
const (
	logDir       = "log"
	auditKeyFile = "audit.key" // in secretDir
)

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
	// The init entry must be the log's first: a clock the operator set is
	// recorded in it rather than in an override entry before it.
	o.Audit.Clock.record(e.Detail)
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
