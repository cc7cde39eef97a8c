package backup

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

	"github.com/kesrotate/kesrotate/auditlog"
	"github.com/kesrotate/kesrotate/ceremony"
	"github.com/kesrotate/kesrotate/internal/safefile"
	"github.com/kesrotate/kesrotate/internal/textsafe"
)

// Vault backups: one age-encrypted tar of the whole vault folder.
const (
	backupSuffix = ".tar.age"
	// MaxSize bounds a vault backup (encrypted and decrypted).
	MaxSize         = 512 << 20
	maxArchiveFiles = 100000
)

// Result describes a written vault backup.
type Result struct {
	File   string
	SHA256 string // of the encrypted file
	Size   int
	Files  int // files in the archive
}

// WriteVault writes an encrypted copy of the whole vault v (keys,
// journals, log, bundles) into dir as one age file, under the vault's lock.
// With e nil it is encrypted the way the vault encrypts its keys (its
// passphrase or recipient; a plaintext vault needs e): see
// ceremony.(*Vault).CopyEncryption. The file is read back, decrypted when
// this process can, and compared before a backup-made entry goes into the
// log. If only that entry fails, the file stays and the error wraps
// ErrNotLogged.
func WriteVault(v *ceremony.Vault, dir string, e *ceremony.Encryption, now time.Time) (*Result, error) {
	return writeVault(v, dir, e, now, nil)
}

// writeVault is WriteVault with a test hook called between its steps; an
// error it returns stops the backup there, as a crash would.
func writeVault(v *ceremony.Vault, dir string, e *ceremony.Encryption, now time.Time, crash func(step string) error) (*Result, error) {
	release, err := v.Acquire("backup vault")
	if err != nil {
		return nil, err
	}
	defer release()
	r, ids, mode, err := v.CopyEncryption(e)
	if err != nil {
		return nil, err
	}
	if _, _, err := v.OpenLog(now); err != nil {
		return nil, err
	}
	archive, n, err := archiveVault(v.Dir, now)
	if err != nil {
		return nil, err
	}
	defer clear(archive)
	if crash != nil {
		if err := crash("backup-archived"); err != nil {
			return nil, err
		}
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
		clear(back)
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
	res := &Result{File: path, SHA256: hex.EncodeToString(sum[:]), Size: len(ct), Files: n}
	if _, err := v.RecordBackup(now, []auditlog.FileHash{ceremony.HashFile("vault-backup", name, ct)},
		map[string]string{"scheme": "age-tar", "encryption": mode, "files": strconv.Itoa(n)}); err != nil {
		return res, fmt.Errorf("the backup is written but its %w: %w", ErrNotLogged, err)
	}
	return res, nil
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

func decryptBytes(ct []byte, ids ...age.Identity) ([]byte, error) {
	r, err := age.Decrypt(io.LimitReader(bytes.NewReader(ct), MaxSize), ids...)
	if err != nil {
		var nm *age.NoIdentityMatchError
		if errors.As(err, &nm) {
			return nil, ceremony.ErrWrongPassphrase
		}
		return nil, fmt.Errorf("%w: %w", ErrArchive, textsafe.AgeError(err))
	}
	b, err := safefile.ReadAllWiping(io.LimitReader(r, MaxSize))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrArchive, textsafe.AgeError(err))
	}
	return b, nil
}

// archiveVault tars the vault folder dir: folders and regular files only,
// sorted, with their permission bits and the given time.
func archiveVault(dir string, now time.Time) ([]byte, int, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." || rel == ceremony.LockFile {
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
			defer clear(b)
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
		clear(buf.Bytes())
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
			return nil, fmt.Errorf("%w: %w", ErrArchive, err)
		}
		name := strings.TrimSuffix(h.Name, "/")
		if name == "" || !fs.ValidPath(name) || path.Clean(name) != name || strings.Contains(name, "\\") || name == ceremony.LockFile {
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
			if h.Size < 0 || total+h.Size > MaxSize {
				return nil, fmt.Errorf("%w: too large", ErrArchive)
			}
			total += h.Size
			if e.Data, err = io.ReadAll(io.LimitReader(tr, h.Size+1)); err != nil {
				return nil, fmt.Errorf("%w: %s: %w", ErrArchive, name, err)
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
	if !seen[ceremony.VaultFile] {
		return nil, fmt.Errorf("%w: no %s", ErrArchive, ceremony.VaultFile)
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
func RestoreVault(backup []byte, dst string, ids ...age.Identity) (*ceremony.Vault, *RestoreReport, error) {
	if entries, err := os.ReadDir(dst); err == nil && len(entries) > 0 {
		return nil, nil, fmt.Errorf("%w: %s is not empty", ceremony.ErrVaultExists, dst)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, err
	}
	plain, err := decryptBytes(backup, ids...)
	if err != nil {
		return nil, nil, err
	}
	defer clear(plain)
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
		mode := ceremony.RestoredMode(e.Name, e.Dir, e.Mode)
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
	if err := safefile.Create(filepath.Join(tmp, ceremony.LockFile), nil, safefile.SecretMode); err != nil {
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
	v, err := ceremony.Open(dst)
	if err != nil {
		return nil, nil, err
	}
	return v, rep, nil
}

// verifyRestored checks an unpacked vault before it is used.
func verifyRestored(dir string) (*RestoreReport, error) {
	v, err := ceremony.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrVerify, err)
	}
	pools, err := v.Pools()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrVerify, err)
	}
	rep := &RestoreReport{}
	var vkeys []ed25519.PublicKey
	for _, p := range pools {
		vk, err := p.ColdVKey()
		if err != nil {
			return nil, fmt.Errorf("%w: pool %s: cold.vkey: %w", ErrVerify, p.Meta.Name, err)
		}
		if hex.EncodeToString(vk[:]) != p.Meta.ColdVKey || vk.PoolID().Hex() != p.Meta.PoolID {
			return nil, fmt.Errorf("%w: pool %s: cold.vkey does not match pool.json", ErrVerify, p.Meta.Name)
		}
		entries, err := p.Journal()
		if err != nil {
			return nil, fmt.Errorf("%w: pool %s: %w", ErrVerify, p.Meta.Name, err)
		}
		if _, err := ceremony.History(entries); err != nil {
			return nil, fmt.Errorf("%w: pool %s: %w", ErrVerify, p.Meta.Name, err)
		}
		rep.Pools = append(rep.Pools, p.Meta.Name)
		vkeys = append(vkeys, ed25519.PublicKey(bytes.Clone(vk[:])))
	}
	if _, err := os.Stat(v.LogDir()); err != nil {
		return nil, fmt.Errorf("%w: %w: %w", ErrVerify, ceremony.ErrNoLog, err)
	}
	lr, err := auditlog.Verify(v.LogDir(), auditlog.VerifyOptions{VaultID: v.Meta.ID, PoolVKeys: vkeys})
	if err != nil {
		return nil, fmt.Errorf("%w: ceremony log: %w", ErrVerify, err)
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
			_ = ceremony.Shred(p)
		}
		return nil
	})
	_ = os.RemoveAll(dir)
}
