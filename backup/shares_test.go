package backup

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	slip39 "github.com/gavincarr/go-slip39"

	"github.com/kesrotate/kesrotate/auditlog"
	"github.com/kesrotate/kesrotate/ceremony"
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
	v := newEncryptedVault(t, testPass)
	p, err := v.NewPool("alpha", t0)
	if err != nil {
		t.Fatal(err)
	}
	set, err := Split(p, 3, 5, []byte("slip pass"))
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Shares) != 5 || set.Threshold != 3 {
		t.Fatalf("got %d shares threshold %d, want 5 and 3", len(set.Shares), set.Threshold)
	}
	dir := filepath.Join(t.TempDir(), "shares")
	files, err := set.WriteShares(dir, t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 10 {
		t.Fatalf("files: got %v, want a .txt and a .png per share", files)
	}
	// The split is in the log: which pool, how many of how many, whether
	// with a SLIP-39 passphrase.
	es, err := auditlog.Entries(v.LogDir())
	if err != nil {
		t.Fatal(err)
	}
	last := es[len(es)-1]
	want := map[string]string{"scheme": "slip39", "pool": p.Meta.PoolID, "threshold": "3", "shares": "5", "slip39_passphrase": "true"}
	if last.Kind != auditlog.KindBackupMade || !maps.Equal(last.Detail, want) {
		t.Errorf("last log entry: got %s %v, want %s %v", last.Kind, last.Detail, auditlog.KindBackupMade, want)
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
	q, err := RestorePool(w, "alpha", RestoreOptions{Shares: []Mnemonic{read(4), read(0), read(2)}, Passphrase: []byte("slip pass"), PoolID: pid}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if q.Meta.PoolID != p.Meta.PoolID || q.Meta.ColdVKey != p.Meta.ColdVKey {
		t.Fatalf("restored pool %s, want %s", q.Meta.PoolID, p.Meta.PoolID)
	}
	period := w.Network.KESPeriod(180_000_000)
	res, err := q.Issue(ceremony.IssueRequest{KESPeriod: period, TipSlot: 180_000_000, OnChain: opcert.None(), Now: t0})
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
	otherSet, err := Split(other, 2, 3, nil)
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
			_, err := RestorePool(x, "alpha", RestoreOptions{Shares: tc.shares, Passphrase: []byte(tc.pass), PoolID: tc.pid}, t0)
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
		if _, err := Split(p, tc.k, tc.n, nil); err == nil {
			t.Errorf("Shares(%d, %d): got no error", tc.k, tc.n)
		}
	}
	if _, err := Split(p, 2, 3, []byte("é")); !errors.Is(err, slip39.ErrInvalidPassphrase) {
		t.Errorf("non-ASCII SLIP-39 passphrase: got %v, want ErrInvalidPassphrase", err)
	}
	set, err := Split(p, 1, 1, nil)
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

func TestMnemonicRedacted(t *testing.T) {
	m := NewMnemonic("academic acid acrobat")
	for _, f := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		if got := fmt.Sprintf(f, m); got != "[REDACTED]" {
			t.Errorf("%s: got %q, want [REDACTED]", f, got)
		}
	}
	set := ShareSet{Shares: []Mnemonic{m}}
	if got := fmt.Sprintf("%+v", set); strings.Contains(got, "acid") {
		t.Errorf("%%+v of a ShareSet: got %q, want no words", got)
	}
}

func logKinds(t *testing.T, v *ceremony.Vault) []string {
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

// Shares written but not logged: the files stay, and the error says so
// (ErrNotLogged) with the log's reason.
func TestWriteSharesNotLogged(t *testing.T) {
	v := newVault(t)
	p, err := v.NewPool("alpha", t0)
	if err != nil {
		t.Fatal(err)
	}
	set, err := Split(p, 2, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Without its audit key the vault cannot sign a log entry (Lock
	// forgets the key it read).
	if err := os.Remove(filepath.Join(v.Dir, "secret", "audit.key")); err != nil {
		t.Fatal(err)
	}
	v.Lock()
	files, err := set.WriteShares(filepath.Join(t.TempDir(), "shares"), t0)
	if !errors.Is(err, ErrNotLogged) || !errors.Is(err, ceremony.ErrNoLog) {
		t.Fatalf("got %v, want ErrNotLogged and ceremony.ErrNoLog", err)
	}
	if len(files) != 6 {
		t.Fatalf("files: got %v, want the 6 written", files)
	}
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("%s: %v, want it kept", f, err)
		}
	}
}

func TestParseShareFiles(t *testing.T) {
	a := ShareFile{Name: "a.txt", Data: []byte("# pool-id: AAAA\nacademic acid\n")}
	b := ShareFile{Name: "b.txt", Data: []byte("academic acrobat\n")} // names no pool
	c := ShareFile{Name: "c.txt", Data: []byte("# pool-id: cccc\nacademic acid\n")}
	shares, pid, err := ParseShareFiles([]ShareFile{a, b})
	if err != nil || len(shares) != 2 || pid != "aaaa" {
		t.Fatalf("got %d shares, pool %q, %v; want 2 of pool aaaa", len(shares), pid, err)
	}
	if _, _, err := ParseShareFiles([]ShareFile{a, b, c}); !errors.Is(err, ErrSharesMixed) || !strings.Contains(err.Error(), "c.txt names pool cccc") {
		t.Errorf("shares of two pools: got %v, want ErrSharesMixed naming c.txt", err)
	}
	bad := ShareFile{Name: "bad.txt", Data: []byte("1. academic\n")}
	if _, _, err := ParseShareFiles([]ShareFile{a, bad}); !errors.Is(err, ErrShareInvalid) || !strings.HasPrefix(err.Error(), "bad.txt: ") {
		t.Errorf("a damaged file: got %v, want ErrShareInvalid naming bad.txt", err)
	}
}
