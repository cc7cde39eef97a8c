package ceremony

import (
	"archive/tar"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	slip39 "github.com/gavincarr/go-slip39"

	"github.com/kesrotate/kesrotate/auditlog"
	"github.com/kesrotate/kesrotate/internal/vectors"
	"github.com/kesrotate/kesrotate/opcert"
	"github.com/kesrotate/kesrotate/transfer/qr"
)

// slip39Vector is one entry of trezor/python-shamir-mnemonic vectors.json:
// [description, mnemonics, master secret hex ("" = must be rejected), xprv].
type slip39Vector struct {
	Desc      string
	Mnemonics []string
	Secret    string
}

func loadSLIP39(t *testing.T) []slip39Vector {
	t.Helper()
	var raw [][]json.RawMessage
	if err := json.Unmarshal(vectors.Read(t, "slip39/vectors.json"), &raw); err != nil {
		t.Fatal(err)
	}
	var out []slip39Vector
	for _, r := range raw {
		var v slip39Vector
		if len(r) < 3 || json.Unmarshal(r[0], &v.Desc) != nil || json.Unmarshal(r[1], &v.Mnemonics) != nil || json.Unmarshal(r[2], &v.Secret) != nil {
			t.Fatalf("unexpected vector layout: %s", r)
		}
		out = append(out, v)
	}
	if len(out) < 40 {
		t.Fatalf("got %d SLIP-39 vectors, want the full set", len(out))
	}
	return out
}

// TestSLIP39Vectors: every vector of the reference implementation, valid
// ones rebuild their master secret with passphrase TREZOR, invalid ones are
// refused — through CombineShares, the share-file parser included.
func TestSLIP39Vectors(t *testing.T) {
	var valid, invalid int
	for _, v := range loadSLIP39(t) {
		t.Run(v.Desc, func(t *testing.T) {
			var shares []Mnemonic
			for _, m := range v.Mnemonics {
				sm, _, err := ParseShareFile([]byte("# a comment\n" + m + "\n"))
				if err != nil {
					t.Fatalf("ParseShareFile: %v", err)
				}
				shares = append(shares, sm)
			}
			got, err := CombineShares(shares, []byte("TREZOR"))
			if v.Secret == "" {
				invalid++
				if err == nil {
					t.Fatalf("got secret %x, want a refusal", got)
				}
				for _, m := range v.Mnemonics {
					ws := strings.Fields(m)
					for i := 0; i+1 < len(ws); i++ {
						if pair := ws[i] + " " + ws[i+1]; strings.Contains(err.Error(), pair) {
							t.Errorf("error %q repeats share words %q", err, pair)
						}
					}
				}
				return
			}
			valid++
			if err != nil {
				t.Fatalf("CombineShares: %v", err)
			}
			if hex.EncodeToString(got) != v.Secret {
				t.Errorf("secret: got %x, want %s", got, v.Secret)
			}
		})
	}
	if valid == 0 || invalid == 0 {
		t.Errorf("valid %d, invalid %d: want both kinds", valid, invalid)
	}
}

func TestSharesRestoreRotateVerify(t *testing.T) {
	v := newEncryptedVault(t, "pw")
	p, err := v.NewPool("alpha", t0)
	if err != nil {
		t.Fatal(err)
	}
	set, err := p.Shares(3, 5, []byte("slip pass"))
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Shares) != 5 || set.Threshold != 3 {
		t.Fatalf("got %d shares threshold %d, want 5 and 3", len(set.Shares), set.Threshold)
	}
	dir := filepath.Join(t.TempDir(), "shares")
	files, err := set.WriteShares(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 10 {
		t.Fatalf("files: got %v, want a .txt and a .png per share", files)
	}
	for _, f := range files {
		fi, _ := os.Stat(f)
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: got mode %o, want 0600", f, fi.Mode().Perm())
		}
	}
	// The QR holds exactly the words of its .txt file.
	png, _ := os.ReadFile(files[1])
	text, err := qr.DecodeImage(bytes.NewReader(png))
	if err != nil {
		t.Fatal(err)
	}
	txt, _ := os.ReadFile(files[0])
	m0, pid, err := ParseShareFile(txt)
	if err != nil {
		t.Fatal(err)
	}
	if text != m0.Text() {
		t.Errorf("QR content differs from the share file's words")
	}
	if pid != p.Meta.PoolID {
		t.Errorf("pool-id header: got %s, want %s", pid, p.Meta.PoolID)
	}
	if n := len(m0.Words()); n != 33 {
		t.Errorf("words: got %d, want 33 for a 256-bit secret", n)
	}

	// Any 3 of the 5, in a fresh plaintext vault, rebuild the pool; it
	// issues a cert that verifies under the original cold vkey.
	read := func(i int) Mnemonic {
		b, _ := os.ReadFile(files[2*i])
		m, _, err := ParseShareFile(b)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	w := newVault(t)
	q, err := w.RestorePool("alpha", RestoreOptions{Shares: []Mnemonic{read(4), read(0), read(2)}, Passphrase: []byte("slip pass"), PoolID: pid}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if q.Meta.PoolID != p.Meta.PoolID || q.Meta.ColdVKey != p.Meta.ColdVKey {
		t.Fatalf("restored pool %s, want %s", q.Meta.PoolID, p.Meta.PoolID)
	}
	period := w.Network.KESPeriod(180_000_000)
	res, err := q.Issue(IssueRequest{KESPeriod: period, TipSlot: 180_000_000, OnChain: opcert.None(), Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	defer res.KES.Wipe()
	vk, _ := p.ColdVKey()
	if _, err := opcert.Verify(opcert.Inputs{Cert: res.Cert, Network: w.Network, Slot: 180_000_000, Cold: &vk, KES: res.KES}); err != nil {
		t.Errorf("cert from the restored pool: %v", err)
	}

	// Refusals, each leaving the fresh vault unchanged.
	x := newVault(t)
	other, err := x.NewPool("other", t0)
	if err != nil {
		t.Fatal(err)
	}
	otherSet, err := other.Shares(2, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	corrupt := read(1).Words()
	corrupt[10] = map[bool]string{true: "academic", false: "acid"}[corrupt[10] != "academic"]
	before := dirDigest(t, x.Dir)
	for _, tc := range []struct {
		name   string
		shares []Mnemonic
		pass   string
		pid    string
		want   error
	}{
		{"too few", []Mnemonic{read(0), read(1)}, "slip pass", "", ErrTooFewShares},
		{"none", nil, "slip pass", "", ErrTooFewShares},
		{"repeated", []Mnemonic{read(0), read(1), read(0)}, "slip pass", "", ErrShareRepeated},
		{"mixed", []Mnemonic{read(0), read(1), otherSet.Shares[0]}, "slip pass", "", ErrSharesMixed},
		{"corrupted word", []Mnemonic{read(0), NewMnemonic(strings.Join(corrupt, " ")), read(2)}, "slip pass", "", ErrShareInvalid},
		{"truncated", []Mnemonic{read(0), NewMnemonic(strings.Join(read(1).Words()[:32], " ")), read(2)}, "slip pass", "", ErrShareInvalid},
		{"unknown word", []Mnemonic{read(0), NewMnemonic("kesrotate " + strings.Join(read(1).Words()[1:], " ")), read(2)}, "slip pass", "", ErrShareInvalid},
		{"wrong passphrase", []Mnemonic{read(0), read(1), read(2)}, "slip pas", pid, ErrSharePool},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := x.RestorePool("alpha", RestoreOptions{Shares: tc.shares, Passphrase: []byte(tc.pass), PoolID: tc.pid}, t0)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			for _, m := range tc.shares {
				ws := m.Words()
				for i := 0; i+1 < len(ws); i++ {
					if pair := ws[i] + " " + ws[i+1]; strings.Contains(err.Error(), pair) {
						t.Errorf("error %q holds share words %q", err, pair)
					}
				}
			}
			if got := dirDigest(t, x.Dir); got != before {
				t.Errorf("the vault changed")
			}
		})
	}
}

func TestSharesRules(t *testing.T) {
	v := newVault(t)
	p, err := v.NewPool("alpha", t0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ k, n int }{{0, 3}, {4, 3}, {1, 3}, {2, 17}} {
		if _, err := p.Shares(tc.k, tc.n, nil); err == nil {
			t.Errorf("Shares(%d, %d): got no error", tc.k, tc.n)
		}
	}
	if _, err := p.Shares(2, 3, []byte("é")); !errors.Is(err, slip39.ErrInvalidPassphrase) {
		t.Errorf("non-ASCII SLIP-39 passphrase: got %v, want ErrInvalidPassphrase", err)
	}
	set, err := p.Shares(1, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(set.Shares); strings.Contains(got, set.Shares[0].Words()[5]) {
		t.Errorf("printing shares shows words: %s", got)
	}
}

func TestParseShareFile(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		words    int
		pid      string
		ok       bool
	}{
		{"plain words", "Academic acid\nacrobat\n", 3, "", true},
		{"header", "# x\n# pool-id: ABCD\n\tacademic  acid \n", 2, "abcd", true},
		{"empty", "# only a comment\n\n", 0, "", false},
		{"digits", "1. academic\n", 0, "", false},
		{"punctuation", "academic, acid\n", 0, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, pid, err := ParseShareFile([]byte(tc.in))
			if (err == nil) != tc.ok {
				t.Fatalf("err: got %v, want ok=%v", err, tc.ok)
			}
			if err != nil {
				if !errors.Is(err, ErrShareInvalid) {
					t.Errorf("got %v, want ErrShareInvalid", err)
				}
				return
			}
			if len(m.Words()) != tc.words || pid != tc.pid {
				t.Errorf("got %d words, pool id %q; want %d, %q", len(m.Words()), pid, tc.words, tc.pid)
			}
		})
	}
}

func FuzzParseShareFile(f *testing.F) {
	f.Add([]byte("# pool-id: 00\nacademic acid acrobat\n"))
	f.Add([]byte("duckling enlarge academic academic agency result length solution fridge kidney coal piece deal husband erode duke ajar critical decision keyboard"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, _, err := ParseShareFile(b)
		if err != nil {
			return
		}
		_, _ = CombineShares([]Mnemonic{m}, nil)
	})
}

func TestBackupVaultRoundTrip(t *testing.T) {
	v := newEncryptedVault(t, "pw")
	p, err := v.NewPool("alpha", t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Issue(IssueRequest{KESPeriod: v.Network.KESPeriod(180_000_000), TipSlot: 180_000_000, OnChain: opcert.None(), Now: t0}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "stick2")
	res, err := v.Backup(out, nil, t0)
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

	id, _ := age.NewScryptIdentity("pw")
	bad, _ := age.NewScryptIdentity("pv")
	dst := filepath.Join(t.TempDir(), "restored")
	if _, _, err := RestoreVault(ct, dst, bad); !errors.Is(err, ErrWrongPassphrase) {
		t.Errorf("wrong passphrase: got %v, want ErrWrongPassphrase", err)
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
	w.Unlock(passAccess("pw"))
	q, _ := w.Pool("alpha")
	if _, err := q.ColdKey(); err != nil {
		t.Errorf("cold key of the restored vault: %v", err)
	}
	if _, _, err := RestoreVault(ct, dst, id); !errors.Is(err, ErrVaultExists) {
		t.Errorf("restore over a vault: got %v, want ErrVaultExists", err)
	}
}

// TestRestoreVerifiesTheLog: a backup whose log was changed is refused,
// and nothing is left at the destination.
func TestRestoreVerifiesTheLog(t *testing.T) {
	v := newVault(t)
	if _, err := v.NewPool("alpha", t0); err != nil {
		t.Fatal(err)
	}
	archive, _, err := v.archive(t0)
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
		}, ErrBackupVerify},
		{"log removed", func(es []ArchiveEntry) []ArchiveEntry {
			var out []ArchiveEntry
			for _, e := range es {
				if !strings.HasPrefix(e.Name, "log") {
					out = append(out, e)
				}
			}
			return out
		}, ErrBackupVerify},
		{"journal damaged", func(es []ArchiveEntry) []ArchiveEntry {
			for i, e := range es {
				if strings.HasSuffix(e.Name, journalFile) {
					es[i].Data = []byte("{not json}\n{\"seq\":1}\n")
				}
			}
			return es
		}, ErrBackupVerify},
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
	v, err := Init(filepath.Join(f.TempDir(), "vault"), InitOptions{Network: "mainnet", Now: t0, Rand: &detRand{}})
	if err != nil {
		f.Fatal(err)
	}
	if _, err := v.NewPool("alpha", t0); err != nil {
		f.Fatal(err)
	}
	a, _, err := v.archive(t0)
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

func logKinds(t *testing.T, v *Vault) []string {
	t.Helper()
	es, err := auditlog.Entries(v.LogDir())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, string(e.Kind))
	}
	return out
}

// dirDigestRel is dirDigest with root written ROOT, without the lines of
// paths below skip.
func dirDigestRel(t *testing.T, root, skip string) string {
	var keep []string
	for _, l := range strings.Split(strings.ReplaceAll(dirDigest(t, root), root, "ROOT"), "\n") {
		if !strings.Contains(l, skip) {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}
