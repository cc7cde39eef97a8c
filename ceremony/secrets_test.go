package ceremony

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/kesrotate/kesrotate/auditlog"
	"github.com/kesrotate/kesrotate/keys"
)

// testWorkFactor keeps scrypt fast in tests; vaults record it.
const testWorkFactor = 10

// testPass is a passphrase CheckNewPassphrase accepts.
const testPass = "the passphrase"

// ageDecrypt opens an age file as the stock tool does.
func ageDecrypt(ct []byte, ids ...age.Identity) ([]byte, error) {
	r, err := age.Decrypt(bytes.NewReader(ct), ids...)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

func passAccess(p string) Access {
	return Access{Passphrase: func() ([]byte, error) { return []byte(p), nil }}
}

func newEncryptedVault(t *testing.T, pass string) *Vault {
	t.Helper()
	v, err := Init(filepath.Join(t.TempDir(), "vault"), InitOptions{Network: "mainnet", Now: t0, Rand: &detRand{},
		Encryption: &Encryption{Passphrase: []byte(pass), WorkFactor: testWorkFactor}})
	if err != nil {
		t.Fatal(err)
	}
	v.Unlock(passAccess(pass))
	return v
}

// scanForSecret fails if any file below root holds secret, raw or as hex
// (either case).
func scanForSecret(t *testing.T, root string, secret []byte) {
	t.Helper()
	needles := [][]byte{secret, []byte(hex.EncodeToString(secret)), []byte(strings.ToUpper(hex.EncodeToString(secret)))}
	n := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		n++
		for _, s := range needles {
			if bytes.Contains(b, s) {
				t.Errorf("%s holds the secret (%d bytes, as %q…)", p, len(s), s[:4])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 5 {
		t.Fatalf("scanned %d files below %s, want a whole vault", n, root)
	}
}

func TestEncryptedVaultHoldsNoPlaintextSeed(t *testing.T) {
	v := newEncryptedVault(t, "correct horse")
	p, err := v.NewPool("alpha", t0)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{coldSkeyFile, vrfSkeyFile} {
		if _, err := os.Stat(filepath.Join(p.Dir, f)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: got %v, want no plaintext file", f, err)
		}
		fi, err := os.Stat(filepath.Join(p.Dir, f+".age"))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s.age: got mode %o, want 0600", f, fi.Mode().Perm())
		}
	}
	cold, err := p.ColdKey()
	if err != nil {
		t.Fatal(err)
	}
	seed := cold.Seed()
	cold.Wipe()
	vrf, err := p.VRFKey()
	if err != nil {
		t.Fatal(err)
	}
	vrfSeed := vrf.Seed()
	vrf.Wipe()
	scanForSecret(t, v.Dir, seed)
	scanForSecret(t, v.Dir, vrfSeed)

	// The files are plain age files: the passphrase opens the vault's
	// identity file (an age identity file), and that identity the keys,
	// as the stock tool does with 'age -d -i secret/identity.age'.
	scrypt, _ := age.NewScryptIdentity("correct horse")
	idFile, err := os.ReadFile(filepath.Join(v.Dir, secretDir, identityFile))
	if err != nil {
		t.Fatal(err)
	}
	idText, err := ageDecrypt(idFile, scrypt)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := age.ParseIdentities(bytes.NewReader(idText))
	if err != nil || len(ids) != 1 {
		t.Fatalf("identity file: %d identities, %v", len(ids), err)
	}
	b, err := os.ReadFile(filepath.Join(p.Dir, coldSkeyFile+".age"))
	if err != nil {
		t.Fatal(err)
	}
	pt, err := ageDecrypt(b, ids[0])
	if err != nil {
		t.Fatalf("age decrypt: %v", err)
	}
	if !bytes.Contains(pt, []byte("StakePoolSigningKey_ed25519")) || !bytes.Contains(pt, []byte(hex.EncodeToString(seed))) {
		t.Errorf("decrypted cold.skey.age: got %q, want the cardano-cli envelope of the seed", pt)
	}
}

func TestWrongPassphraseChangesNothing(t *testing.T) {
	v := newEncryptedVault(t, "the right passphrase")
	if _, err := v.NewPool("alpha", t0); err != nil {
		t.Fatal(err)
	}
	before := dirDigest(t, v.Dir)
	for _, tc := range []struct {
		name string
		a    Access
		want error
	}{
		{"wrong passphrase", passAccess("the wrong passphrase"), ErrWrongPassphrase},
		{"no way to ask", Access{}, ErrLocked},
		{"not air-gapped", Access{Passphrase: passAccess("the right passphrase").Passphrase, Airgap: func() ([]string, error) { return []string{"eth0 is up"}, nil }}, ErrNotAirgapped},
		{"asking fails", Access{Passphrase: func() ([]byte, error) { return nil, fs.ErrPermission }}, fs.ErrPermission},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := Open(v.Dir)
			if err != nil {
				t.Fatal(err)
			}
			w.Meta.RequireAirgap = true // in memory: only the air-gap case tells
			w.Unlock(tc.a)
			p, err := w.Pool("alpha")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.ColdKey(); !errors.Is(err, tc.want) {
				t.Errorf("ColdKey: got %v, want %v", err, tc.want)
			}
			if _, err := w.NewPool("beta", t0); !errors.Is(err, tc.want) {
				t.Errorf("NewPool: got %v, want %v", err, tc.want)
			}
			if got := dirDigest(t, v.Dir); got != before {
				t.Errorf("the vault changed")
			}
		})
	}
}

func TestRecipientVault(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	other, _ := age.GenerateX25519Identity()
	v, err := Init(filepath.Join(t.TempDir(), "vault"), InitOptions{Network: "preprod", Now: t0, Rand: &detRand{},
		Encryption: &Encryption{Recipient: id.Recipient().String()}})
	if err != nil {
		t.Fatal(err)
	}
	if v.SecretsMode() != SecretsRecipient {
		t.Fatalf("mode: got %s, want %s", v.SecretsMode(), SecretsRecipient)
	}
	ids := func(i age.Identity) Access {
		return Access{Identities: func() ([]age.Identity, error) { return []age.Identity{i}, nil }}
	}
	v.Unlock(ids(id))
	p, err := v.NewPool("alpha", t0)
	if err != nil {
		t.Fatal(err)
	}
	w, _ := Open(v.Dir)
	w.Unlock(ids(other))
	q, _ := w.Pool("alpha")
	if _, err := q.ColdKey(); !errors.Is(err, ErrWrongIdentity) {
		t.Errorf("ColdKey with another identity: got %v, want ErrWrongIdentity", err)
	}
	k, err := p.ColdKey()
	if err != nil {
		t.Fatal(err)
	}
	seed := k.Seed()
	k.Wipe()
	scanForSecret(t, v.Dir, seed)
}

func TestEncryptExistingVault(t *testing.T) {
	v := newVault(t)
	p, err := v.NewPool("alpha", t0)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := p.ColdKey()
	seed := k.Seed()
	k.Wipe()
	if _, err := v.Encrypt(Encryption{}, t0); err == nil {
		t.Fatal("Encrypt without passphrase or recipient: got no error")
	}
	res, err := v.Encrypt(Encryption{Passphrase: []byte(testPass), WorkFactor: testWorkFactor}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(res.Encrypted, ","); got != "alpha/cold.skey,alpha/vrf.skey,secret/audit.key" {
		t.Errorf("encrypted: got %s, want alpha/cold.skey,alpha/vrf.skey,secret/audit.key", got)
	}
	scanForSecret(t, v.Dir, seed)

	w, err := Open(v.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if w.SecretsMode() != SecretsPassphrase || w.Meta.Secrets.WorkFactor != testWorkFactor {
		t.Fatalf("vault.json: got %+v, want passphrase mode, work factor %d", w.Meta.Secrets, testWorkFactor)
	}
	w.Unlock(passAccess(testPass))
	q, _ := w.Pool("alpha")
	k, err = q.ColdKey()
	if err != nil {
		t.Fatal(err)
	}
	if got := k.Seed(); !bytes.Equal(got, seed) {
		t.Errorf("seed after encrypt differs")
	}
	k.Wipe()
	if _, err := w.Encrypt(Encryption{}, t0); !errors.Is(err, ErrAlreadyEncrypted) {
		t.Errorf("second Encrypt: got %v, want ErrAlreadyEncrypted", err)
	}

	// An interrupted run: a plaintext copy beside its .age file is refused
	// on read and removed by the next run, after comparing.
	env := []byte("placeholder")
	if err := os.WriteFile(filepath.Join(q.Dir, coldSkeyFile), env, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := q.ColdKey(); !errors.Is(err, ErrPlaintextLeft) {
		t.Errorf("ColdKey with a plaintext leftover: got %v, want ErrPlaintextLeft", err)
	}
	if _, err := w.Encrypt(Encryption{}, t0); !errors.Is(err, ErrSecretState) {
		t.Errorf("Encrypt with a differing leftover: got %v, want ErrSecretState", err)
	}
	k2, err := keysFromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(q.Dir, coldSkeyFile), k2, 0o600); err != nil {
		t.Fatal(err)
	}
	res, err = w.Encrypt(Encryption{}, t0)
	if err != nil {
		t.Fatalf("resuming Encrypt: %v", err)
	}
	if len(res.Shredded) != 1 {
		t.Errorf("shredded: got %v, want the leftover", res.Shredded)
	}
	if _, err := q.ColdKey(); err != nil {
		t.Errorf("ColdKey after resume: %v", err)
	}
}

func TestShred(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "s")
	if err := os.WriteFile(p, bytes.Repeat([]byte{0xaa}, 10000), 0o600); err != nil {
		t.Fatal(err)
	}
	// Keep a handle open: after Shred, the inode's content is zeros.
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := Shred(p); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after Shred: got %v, want the file gone", err)
	}
	b := make([]byte, 10001)
	n, _ := f.ReadAt(b, 0)
	if n != 10000 || !bytes.Equal(b[:n], make([]byte, 10000)) {
		t.Errorf("content after Shred: got %d bytes, want 10000 zero bytes", n)
	}
}

func TestExportSecrets(t *testing.T) {
	v := newEncryptedVault(t, testPass)
	v.Audit = Audit{Operator: "alice", Witnesses: []string{"bob"}, Version: "v-test"}
	p, err := v.NewPool("alpha", t0)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "x")
	files, err := p.ExportSecrets(out, t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 {
		t.Fatalf("files: got %v, want cold.skey and vrf.skey", files)
	}
	b, _ := os.ReadFile(files[0])
	if !bytes.Contains(b, []byte("StakePoolSigningKey_ed25519")) {
		t.Errorf("exported cold.skey: got %q", b)
	}
	// The log records it, with the keys auditors' logs have always had.
	es, err := auditlog.Entries(v.LogDir())
	if err != nil {
		t.Fatal(err)
	}
	last := es[len(es)-1]
	want := map[string]string{"plaintext": "true", "action": "export-keys", "files": "cold.skey vrf.skey"}
	if last.Kind != auditlog.KindOverride || last.Pool != p.Meta.PoolID || last.Operator != "alice" || fmt.Sprint(last.Detail) != fmt.Sprint(want) {
		t.Errorf("log entry: got %s for %s by %q, %v; want override for %s by alice, %v", last.Kind, last.Pool, last.Operator, last.Detail, p.Meta.PoolID, want)
	}
	if _, err := p.ExportSecrets(out, t0); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second export: got %v, want fs.ErrExist", err)
	}
	if n, _ := auditlog.Entries(v.LogDir()); len(n) != len(es) {
		t.Errorf("a refused export was logged: %d entries, want %d", len(n), len(es))
	}
}

// TestExportSecretsUnloggedWritesNothing: a log that cannot take the
// export's entry (here an interrupted append left it unsealed) refuses
// the export before any key is written.
func TestExportSecretsUnloggedWritesNothing(t *testing.T) {
	v := newVault(t)
	p, err := v.NewPool("alpha", t0)
	if err != nil {
		t.Fatal(err)
	}
	e, err := v.Audit.entry(auditlog.KindBackupMade, t0)
	if err != nil {
		t.Fatal(err)
	}
	es, err := auditlog.Entries(v.LogDir())
	if err != nil {
		t.Fatal(err)
	}
	line := fmt.Sprintf(`{"seq":%d,"kind":"backup-made","time":"2026-11-21T06:00:00Z","binary_sha256":"%s","version":"unknown"}`+"\n", len(es), e.BinarySHA256)
	f, err := os.OpenFile(filepath.Join(v.LogDir(), auditlog.FileEntries), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(line); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out := filepath.Join(t.TempDir(), "x")
	files, err := p.ExportSecrets(out, t0)
	if !errors.Is(err, auditlog.ErrUnsealed) || files != nil {
		t.Fatalf("got %v, %v; want ErrUnsealed and no files", files, err)
	}
	if des, err := os.ReadDir(out); err == nil && len(des) > 0 {
		t.Errorf("an unlogged export wrote %d files", len(des))
	}
}

func keysFromSeed(seed []byte) ([]byte, error) {
	k, err := keys.NewColdKey(seed)
	if err != nil {
		return nil, err
	}
	defer k.Wipe()
	return k.MarshalEnvelope(), nil
}

// vault.json is plaintext anyone with the stick can edit; the scrypt work
// factor of new key files must not come from it. A value outside the
// accepted range is refused when the vault opens (31 used to panic after
// creating the pool's folder), and one that differs from what the
// passphrase-checked unlock file was made with is refused before anything
// is written.
func TestScryptWorkFactorIsNotTakenFromVaultJSON(t *testing.T) {
	for _, tc := range []struct {
		name   string
		wf     int
		atOpen bool
	}{
		{"edited-down-to-1", 1, true},
		{"edited-up-to-31", 31, true},
		{"edited-to-another-valid-value", testWorkFactor + 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newEncryptedVault(t, testPass)
			meta := v.Meta
			secrets := *meta.Secrets
			secrets.WorkFactor = tc.wf
			meta.Secrets = &secrets
			if err := v.saveMeta(meta); err != nil {
				t.Fatal(err)
			}
			before := dirDigest(t, v.Dir)
			w, err := Open(v.Dir)
			if tc.atOpen {
				if !errors.Is(err, ErrSecretState) {
					t.Errorf("Open: got %v, want ErrSecretState", err)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				w.Unlock(passAccess(testPass))
				func() {
					defer func() {
						if p := recover(); p != nil {
							t.Errorf("pool new panicked: %v", p)
						}
					}()
					if _, err := w.NewPool("alpha", t0); !errors.Is(err, ErrSecretState) {
						t.Errorf("pool new: got %v, want ErrSecretState", err)
					}
				}()
			}
			if after := dirDigest(t, v.Dir); after != before {
				t.Errorf("the vault changed:\n%s\n----\n%s", before, after)
			}
		})
	}
	t.Run("the-identity-file-keeps-its-factor", func(t *testing.T) {
		// The one scrypt file of a version 2 vault is its identity file;
		// key files are encrypted to the identity (no scrypt of their own).
		v := newEncryptedVault(t, testPass)
		p, err := v.NewPool("alpha", t0)
		if err != nil {
			t.Fatal(err)
		}
		ct, err := os.ReadFile(filepath.Join(v.Dir, secretDir, identityFile))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := scryptLogN(ct); err != nil || got != testWorkFactor {
			t.Errorf("%s: work factor %d, %v; want %d", identityFile, got, err, testWorkFactor)
		}
		for _, f := range []string{coldSkeyFile, vrfSkeyFile} {
			ct, err := os.ReadFile(filepath.Join(p.Dir, f+encSuffix))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(ct, []byte("\n-> X25519 ")) {
				t.Errorf("%s: not encrypted to the vault's identity", f)
			}
		}
	})
	t.Run("init-refuses-out-of-range", func(t *testing.T) {
		for _, wf := range []int{1, MinWorkFactor - 1, MaxWorkFactor + 1, 31} {
			dir := filepath.Join(t.TempDir(), "vault")
			_, err := Init(dir, InitOptions{Network: "mainnet", Now: t0, Rand: &detRand{},
				Encryption: &Encryption{Passphrase: []byte(testPass), WorkFactor: wf}})
			if err == nil {
				t.Errorf("work factor %d: got a vault", wf)
			}
			if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("work factor %d: %s was left behind", wf, dir)
			}
		}
	})
}

// legacyVault turns a new passphrase vault back into what versions before
// the vault identity wrote (version 1): every key file its own scrypt
// file, an unlock file, no identity file.
func legacyVault(t *testing.T, v *Vault, pass string, keep int) {
	t.Helper()
	ids, err := v.identities()
	if err != nil {
		t.Fatal(err)
	}
	r, err := scryptRecipient([]byte(pass), testWorkFactor)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range v.secretKeyPaths() {
		if i < keep {
			continue // left as an interrupted upgrade left it
		}
		ct, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		plain, err := ageDecrypt(ct, ids...)
		if err != nil {
			t.Fatal(err)
		}
		ct, err = encryptBytes(plain, r)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, ct, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if keep == 0 {
		ct, err := encryptBytes([]byte(unlockContent(v.Meta.ID)), r)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(v.Dir, secretDir, unlockFile), ct, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(filepath.Join(v.Dir, secretDir, identityFile)); err != nil {
			t.Fatal(err)
		}
		meta := v.Meta
		meta.Version = 1
		if err := v.saveMeta(meta); err != nil {
			t.Fatal(err)
		}
	}
}

// scryptFiles lists the vault's files that take a scrypt to open.
func scryptFiles(t *testing.T, v *Vault) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(v.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, encSuffix) {
			return err
		}
		ct, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if _, err := scryptLogN(ct); err == nil {
			rel, _ := filepath.Rel(v.Dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestOlderPassphraseVaultIsUpgraded: a version 1 vault (a scrypt per key
// file) is moved to one scrypt per unlock at its first unlock, and one
// whose move was interrupted is finished; the keys stay the same.
func TestOlderPassphraseVaultIsUpgraded(t *testing.T) {
	for _, keep := range []int{0, 2} {
		t.Run(fmt.Sprintf("interrupted-after-%d", keep), func(t *testing.T) {
			v := newEncryptedVault(t, testPass)
			p, err := v.NewPool("alpha", t0)
			if err != nil {
				t.Fatal(err)
			}
			cold, err := p.ColdKey()
			if err != nil {
				t.Fatal(err)
			}
			want := cold.Public()
			cold.Wipe()
			legacyVault(t, v, testPass, keep)
			if got := len(scryptFiles(t, v)); got < 2 {
				t.Fatalf("the legacy vault has %d scrypt files", got)
			}
			w, err := Open(v.Dir)
			if err != nil {
				t.Fatal(err)
			}
			w.Unlock(passAccess(testPass))
			if err := w.CheckUnlock(); err != nil {
				t.Fatal(err)
			}
			if got := scryptFiles(t, w); len(got) != 1 || got[0] != secretDir+"/"+identityFile {
				t.Errorf("after the upgrade the scrypt files are %q, want only %s/%s", got, secretDir, identityFile)
			}
			if w.Meta.Version != VaultVersion {
				t.Errorf("vault version %d, want %d", w.Meta.Version, VaultVersion)
			}
			q, err := w.Pool("alpha")
			if err != nil {
				t.Fatal(err)
			}
			cold, err = q.ColdKey()
			if err != nil {
				t.Fatal(err)
			}
			if cold.Public() != want {
				t.Error("the cold key changed")
			}
			cold.Wipe()
			if _, _, err := w.OpenLog(t0); err != nil {
				t.Fatal(err)
			}
			x, _ := Open(v.Dir)
			x.Unlock(passAccess("the wrong passphrase"))
			if err := x.CheckUnlock(); !errors.Is(err, ErrWrongPassphrase) {
				t.Errorf("wrong passphrase: got %v", err)
			}
		})
	}
}

// TestPassphraseIdentity opens what a backup's passphrase encrypted, and
// refuses an empty passphrase.
func TestPassphraseIdentity(t *testing.T) {
	v := newVault(t)
	r, _, mode, err := v.CopyEncryption(&Encryption{Passphrase: []byte("correct horse battery"), WorkFactor: testWorkFactor})
	if err != nil || mode != SecretsPassphrase {
		t.Fatalf("CopyEncryption: %v, mode %q", err, mode)
	}
	ct, err := encryptBytes([]byte("a vault"), r)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		pass string
		ok   bool
	}{{"correct horse battery", true}, {"wrong horse battery", false}} {
		id, err := PassphraseIdentity([]byte(tc.pass))
		if err != nil {
			t.Fatal(err)
		}
		got, err := ageDecrypt(ct, id)
		if (err == nil) != tc.ok || (tc.ok && string(got) != "a vault") {
			t.Errorf("%q: got %q, %v; want ok %v", tc.pass, got, err, tc.ok)
		}
	}
	if _, err := PassphraseIdentity(nil); err == nil {
		t.Error("an empty passphrase was accepted")
	}
}
