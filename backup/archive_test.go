package backup

import (
	"archive/tar"
	"bytes"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"filippo.io/age"

	"github.com/kesrotate/kesrotate/auditlog"
	"github.com/kesrotate/kesrotate/ceremony"
	"github.com/kesrotate/kesrotate/opcert"
)

func TestBackupVaultRoundTrip(t *testing.T) {
	v := newEncryptedVault(t, testPass)
	p, err := v.NewPool("alpha", t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Issue(ceremony.IssueRequest{KESPeriod: v.Network.KESPeriod(180_000_000), TipSlot: 180_000_000, OnChain: opcert.None(), Now: t0}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "stick2")
	res, err := WriteVault(v, out, nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := os.ReadFile(res.File)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := p.ColdKey()
	seed := k.Seed()
	k.Wipe()
	for _, needle := range [][]byte{seed, []byte(hex.EncodeToString(seed))} {
		if bytes.Contains(ct, needle) {
			t.Errorf("the backup file holds the seed in the clear")
		}
	}
	if kinds := logKinds(t, v); kinds[len(kinds)-1] != string(auditlog.KindBackupMade) {
		t.Errorf("last log entry: got %s, want backup-made", kinds[len(kinds)-1])
	}

	id, _ := age.NewScryptIdentity(testPass)
	bad, _ := age.NewScryptIdentity("pv")
	dst := filepath.Join(t.TempDir(), "restored")
	if _, _, err := RestoreVault(ct, dst, bad); !errors.Is(err, ceremony.ErrWrongPassphrase) {
		t.Errorf("wrong passphrase: got %v, want ceremony.ErrWrongPassphrase", err)
	}
	flipped := bytes.Clone(ct)
	flipped[len(flipped)-20] ^= 1
	if _, _, err := RestoreVault(flipped, dst, id); err == nil {
		t.Errorf("a changed byte: got no error")
	}
	if _, err := os.Stat(dst); !os.IsNotExist(err) {
		t.Fatalf("after refusals: %s exists (%v)", dst, err)
	}
	w, rep, err := RestoreVault(ct, dst, id)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Certs != 1 || len(rep.Pools) != 1 || rep.LogEntries < 3 {
		t.Errorf("report: got %+v, want 1 pool, 1 cert, the log", rep)
	}
	// The same files, but for the log: the original has the backup-made
	// entry, appended after the archive was sealed.
	if got, want := dirDigestRel(t, dst, "ROOT/log"), dirDigestRel(t, v.Dir, "ROOT/log"); got != want {
		t.Errorf("restored vault differs from the original:\n%s\n----\n%s", got, want)
	}
	if got, want := len(logKinds(t, w)), len(logKinds(t, v))-1; got != want {
		t.Errorf("restored log: got %d entries, want %d", got, want)
	}
	w.Unlock(passAccess(testPass))
	q, _ := w.Pool("alpha")
	if _, err := q.ColdKey(); err != nil {
		t.Errorf("cold key of the restored vault: %v", err)
	}
	if _, _, err := RestoreVault(ct, dst, id); !errors.Is(err, ceremony.ErrVaultExists) {
		t.Errorf("restore over a vault: got %v, want ceremony.ErrVaultExists", err)
	}
}

// TestRestoreVerifiesTheLog: a backup whose log was changed is refused,
// and nothing is left at the destination.
func TestRestoreVerifiesTheLog(t *testing.T) {
	v := newVault(t)
	if _, err := v.NewPool("alpha", t0); err != nil {
		t.Fatal(err)
	}
	archive, _, err := archiveVault(v.Dir, t0)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := ReadArchive(archive)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		change func([]ArchiveEntry) []ArchiveEntry
		want   error
	}{
		{"log entry changed", func(es []ArchiveEntry) []ArchiveEntry {
			for i, e := range es {
				if e.Name == "log/"+auditlog.FileEntries {
					es[i].Data = bytes.Replace(e.Data, []byte(`"kind":"pool-new"`), []byte(`"kind":"pool-import"`), 1)
				}
			}
			return es
		}, ErrVerify},
		{"log removed", func(es []ArchiveEntry) []ArchiveEntry {
			var out []ArchiveEntry
			for _, e := range es {
				if !strings.HasPrefix(e.Name, "log") {
					out = append(out, e)
				}
			}
			return out
		}, ErrVerify},
		{"journal damaged", func(es []ArchiveEntry) []ArchiveEntry {
			for i, e := range es {
				if strings.HasSuffix(e.Name, "journal.jsonl") {
					es[i].Data = []byte("{not json}\n{\"seq\":1}\n")
				}
			}
			return es
		}, ErrVerify},
		{"unchanged", func(es []ArchiveEntry) []ArchiveEntry { return es }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			es := tc.change(cloneEntries(entries))
			id, _ := age.GenerateX25519Identity()
			ct, err := encryptBytes(writeArchive(t, es), id.Recipient())
			if err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(t.TempDir(), "r")
			_, _, err = RestoreVault(ct, dst, id)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if tc.want != nil {
				if _, err := os.Stat(dst); !os.IsNotExist(err) {
					t.Errorf("%s exists after a refusal", dst)
				}
				left, _ := filepath.Glob(filepath.Join(filepath.Dir(dst), ".*"))
				if len(left) > 0 {
					t.Errorf("left behind: %v", left)
				}
			}
		})
	}
}

// restore-vault gives every folder 0700 and every file at most 0644 (keys
// 0600), whatever modes the archive records.
func TestRestoreVaultDoesNotCopyBadModes(t *testing.T) {
	v := newVault(t)
	if _, err := v.NewPool("alpha", t0); err != nil {
		t.Fatal(err)
	}
	archive, _, err := archiveVault(v.Dir, t0)
	if err != nil {
		t.Fatal(err)
	}
	es, err := ReadArchive(archive)
	if err != nil {
		t.Fatal(err)
	}
	for i := range es {
		es[i].Mode = 0o777
		if !es[i].Dir {
			es[i].Mode = 0o666
		}
	}
	id, _ := age.GenerateX25519Identity()
	ct, err := encryptBytes(writeArchive(t, es), id.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "restored")
	if _, _, err := RestoreVault(ct, dst, id); err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(dst, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dst, path)
		want := fs.FileMode(0o644)
		switch {
		case d.IsDir():
			want = 0o700
		case keyFile(rel), rel == ceremony.LockFile:
			want = 0o600
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: got mode %04o, want %04o", rel, got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// keyFile: the vault's key files, which are 0600 (the audit and vault
// keys in secret/, each pool's cold, VRF and staged KES keys, plain or
// .age).
func keyFile(rel string) bool {
	parts := strings.Split(filepath.ToSlash(rel), "/")
	switch {
	case len(parts) == 2 && parts[0] == "secret":
		return true
	case len(parts) == 3 && parts[0] == "pools":
		switch strings.TrimSuffix(parts[2], ".age") {
		case "cold.skey", "vrf.skey", "kes.staged.skey":
			return true
		}
	}
	return false
}

func cloneEntries(es []ArchiveEntry) []ArchiveEntry {
	out := make([]ArchiveEntry, len(es))
	for i, e := range es {
		out[i] = e
		out[i].Data = bytes.Clone(e.Data)
	}
	return out
}

func writeArchive(t testing.TB, es []ArchiveEntry) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range es {
		h := &tar.Header{Name: e.Name, Mode: int64(e.Mode), Typeflag: tar.TypeReg, Size: int64(len(e.Data))}
		if e.Dir {
			h.Typeflag, h.Name, h.Size = tar.TypeDir, e.Name+"/", 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestReadArchiveRefuses(t *testing.T) {
	ok := []ArchiveEntry{{Name: "vault.json", Mode: 0o600, Data: []byte("{}")}}
	hdr := func(h tar.Header, data string) []byte {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		h.Size = int64(len(data))
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		_, _ = tw.Write([]byte(data))
		_ = tw.Close()
		return buf.Bytes()
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"parent", hdr(tar.Header{Name: "../vault.json", Mode: 0o600, Typeflag: tar.TypeReg}, "{}")},
		{"absolute", hdr(tar.Header{Name: "/etc/vault.json", Mode: 0o600, Typeflag: tar.TypeReg}, "{}")},
		{"symlink", hdr(tar.Header{Name: "vault.json", Linkname: "/etc/passwd", Mode: 0o600, Typeflag: tar.TypeSymlink}, "")},
		{"setuid", hdr(tar.Header{Name: "vault.json", Mode: 0o4755, Typeflag: tar.TypeReg}, "{}")},
		{"no vault.json", hdr(tar.Header{Name: "x", Mode: 0o600, Typeflag: tar.TypeReg}, "{}")},
		{"file before folder", writeArchive(t, append(ok, ArchiveEntry{Name: "pools/a", Mode: 0o600}))},
		{"twice", writeArchive(t, append(ok, ok...))},
		{"garbage", []byte("not a tar file at all, just some bytes that go on")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ReadArchive(tc.data); !errors.Is(err, ErrArchive) {
				t.Errorf("got %v, want ErrArchive", err)
			}
		})
	}
	if _, err := ReadArchive(writeArchive(t, ok)); err != nil {
		t.Errorf("minimal archive: %v", err)
	}
}

func FuzzReadArchive(f *testing.F) {
	v, err := ceremony.Init(filepath.Join(f.TempDir(), "vault"), ceremony.InitOptions{Network: "mainnet", Now: t0, Rand: &detRand{}})
	if err != nil {
		f.Fatal(err)
	}
	if _, err := v.NewPool("alpha", t0); err != nil {
		f.Fatal(err)
	}
	a, _, err := archiveVault(v.Dir, t0)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(a)
	f.Add(a[:len(a)/2])
	f.Fuzz(func(t *testing.T, b []byte) {
		es, err := ReadArchive(b)
		if err != nil {
			return
		}
		for _, e := range es {
			if strings.HasPrefix(e.Name, "/") || strings.Contains("/"+e.Name+"/", "/../") || e.Mode&^0o777 != 0 {
				t.Fatalf("accepted %q mode %o", e.Name, e.Mode)
			}
		}
	})
}

// A vault backup holds the vault's lock from before it reads the vault
// until its log entry is in: another writer is refused meanwhile, naming
// it, and runs once the backup is done.
func TestBackupHoldsTheLock(t *testing.T) {
	v := newVault(t)
	if _, err := v.NewPool("alpha", t0); err != nil {
		t.Fatal(err)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	entered, resume := make(chan struct{}), make(chan struct{})
	var resumeOnce sync.Once
	defer resumeOnce.Do(func() { close(resume) })
	done := make(chan error, 1)
	go func() {
		_, err := writeVault(v, filepath.Join(t.TempDir(), "backups"), &ceremony.Encryption{Recipient: id.Recipient().String()}, t0,
			func(step string) error {
				if step == "backup-archived" {
					close(entered)
					<-resume
				}
				return nil
			})
		done <- err
	}()
	select {
	case <-entered:
	case err := <-done:
		t.Fatalf("the backup ended before it archived the vault: %v", err)
	}

	w, err := ceremony.Open(v.Dir)
	if err != nil {
		t.Fatal(err)
	}
	w.Rand = &detRand{ctr: 1 << 20}
	before := dirDigest(t, filepath.Join(v.Dir, "pools"))
	_, err = w.NewPool("beta", t0)
	if !errors.Is(err, ceremony.ErrBusy) {
		t.Fatalf("a second writer: got %v, want ErrBusy", err)
	}
	if !strings.Contains(err.Error(), "backup vault") {
		t.Errorf("got %q, want it to name the backup", err)
	}
	if after := dirDigest(t, filepath.Join(v.Dir, "pools")); after != before {
		t.Error("the refused command changed the pools")
	}
	resumeOnce.Do(func() { close(resume) })
	if err := <-done; err != nil {
		t.Fatalf("backup: %v", err)
	}
	if kinds := logKinds(t, v); kinds[len(kinds)-1] != string(auditlog.KindBackupMade) {
		t.Errorf("last log entry: got %s, want backup-made", kinds[len(kinds)-1])
	}
	if _, err := auditlog.Verify(v.LogDir(), auditlog.VerifyOptions{VaultID: v.Meta.ID}); err != nil {
		t.Errorf("log: %v", err)
	}
	if _, err := w.NewPool("beta", t0); err != nil {
		t.Errorf("after the backup: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(v.Dir, ceremony.LockFile)); err != nil || len(b) != 0 {
		t.Errorf("lock file after release: %q, %v; want it empty", b, err)
	}
}

// The log says how a vault backup is encrypted: an encrypted vault's own
// way (passphrase or recipient, whether or not this process holds an
// identity that opens it), or the passphrase or recipient given.
func TestBackupLogsItsEncryption(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	recipientVault := func() *ceremony.Vault {
		v, err := ceremony.Init(filepath.Join(t.TempDir(), "vault"), ceremony.InitOptions{Network: "mainnet", Now: t0, Rand: &detRand{},
			Encryption: &ceremony.Encryption{Recipient: id.Recipient().String()}})
		if err != nil {
			t.Fatal(err)
		}
		v.Unlock(ceremony.Access{Identities: func() ([]age.Identity, error) { return []age.Identity{id}, nil }})
		return v
	}
	for _, tc := range []struct {
		name  string
		vault func() *ceremony.Vault
		e     *ceremony.Encryption
		want  string
	}{
		{"passphrase vault", func() *ceremony.Vault { return newEncryptedVault(t, testPass) }, nil, ceremony.SecretsPassphrase},
		{"recipient vault, identity held", recipientVault, nil, ceremony.SecretsRecipient},
		{"plaintext vault, passphrase given", func() *ceremony.Vault { return newVault(t) }, &ceremony.Encryption{Passphrase: []byte("a long passphrase"), WorkFactor: testWorkFactor}, ceremony.SecretsPassphrase},
		{"plaintext vault, recipient given", func() *ceremony.Vault { return newVault(t) }, &ceremony.Encryption{Recipient: id.Recipient().String()}, ceremony.SecretsRecipient},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.vault()
			if _, err := WriteVault(v, filepath.Join(t.TempDir(), "stick"), tc.e, t0); err != nil {
				t.Fatal(err)
			}
			es, err := auditlog.Entries(v.LogDir())
			if err != nil {
				t.Fatal(err)
			}
			last := es[len(es)-1]
			if last.Kind != auditlog.KindBackupMade || last.Detail["encryption"] != tc.want {
				t.Errorf("got %s with encryption %q, want backup-made with %q", last.Kind, last.Detail["encryption"], tc.want)
			}
		})
	}
}
