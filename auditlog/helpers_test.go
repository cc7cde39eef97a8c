package auditlog

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/opcert"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func rng(seed byte) *rand.ChaCha8 {
	var s [32]byte
	s[0] = seed
	return rand.NewChaCha8(s)
}

func hash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func coldKey(seed byte) ed25519.PrivateKey {
	var s [32]byte
	s[0], s[1] = seed, 0xc0
	return ed25519.NewKeyFromSeed(s[:])
}

func poolHex(k ed25519.PrivateKey) string {
	id := PoolID(k.Public().(ed25519.PublicKey))
	return hex.EncodeToString(id[:])
}

func base(kind Kind, minutes int) Entry {
	return Entry{Kind: kind, Time: t0.Add(time.Duration(minutes) * time.Minute), Operator: "alice",
		Witnesses: []string{"bob"}, BinarySHA256: hash("binary"), Version: "v0.1.0"}
}

// certHashes are the cert hashes cert made, by cert name (for bundle).
var certHashes = map[string]string{}

// coldOfPool returns the cold key coldKey(seed) of a pool id, for the
// seeds the tests use, or nil.
func coldOfPool(pool string) *keys.ColdKey {
	for seed := 0; seed < 256; seed++ {
		if k := coldKey(byte(seed)); poolHex(k) == pool {
			c, err := keys.NewColdKey(k.Seed())
			if err != nil {
				panic(err)
			}
			return c
		}
	}
	return nil
}

// cert is a cert-issued entry. For a pool of a test cold key it carries a
// real cert that key signed (log format 2); otherwise only hashes.
func cert(pool string, n uint64, onchain *uint64, period uint64, certName string) Entry {
	e := base(KindCertIssued, 10+int(n))
	e.Pool, e.Counter, e.KESPeriod, e.OnChainCounter = pool, U64(n), U64(period), onchain
	kes := sha256.Sum256([]byte("kes" + certName))
	e.KESVKeyHash, e.CertHash = KESVKeyHash(kes[:]), hash(certName)
	if cold := coldOfPool(pool); cold != nil {
		var vk keys.KESVKey
		copy(vk[:], kes[:])
		c := opcert.Issue(cold, vk, n, period)
		b, err := c.MarshalCBOR()
		if err != nil {
			panic(err)
		}
		e.Cert, e.CertHash = hex.EncodeToString(b), c.Hash()
	}
	certHashes[certName] = e.CertHash
	slot := uint64(1000 + n)
	tip := t0.Add(-time.Hour)
	e.TipSlot, e.TipTime = &slot, &tip
	e.Files = []FileHash{{Role: "snapshot", Name: "snap.json", SHA256: hash("snap" + certName)}}
	return e
}

func bundle(pool, certName string) Entry {
	e := base(KindBundleExported, 30)
	e.Pool, e.CertHash, e.BundleHash = pool, certHash(certName), hash("bundle"+certName)
	return e
}

// certHash is the hash of the cert cert made under name (or of the name,
// before any).
func certHash(name string) string {
	if h, ok := certHashes[name]; ok {
		return h
	}
	return hash(name)
}

// fixture is a live log with one bound pool and two rotations.
type fixture struct {
	dir     string
	key     SignerKey
	vkey    string
	vaultID string
	cold    ed25519.PrivateKey
	pool    string
	log     *Log
}

func newVault(t testing.TB, dir string, seed byte) *fixture {
	t.Helper()
	r := rng(seed)
	id, err := NewVaultID(r)
	if err != nil {
		t.Fatal(err)
	}
	key, vkey, err := GenerateKey(r, id)
	if err != nil {
		t.Fatal(err)
	}
	l, _, err := Create(dir, key, base(KindInit, 0))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	cold := coldKey(seed)
	return &fixture{dir: dir, key: key, vkey: vkey, vaultID: id, cold: cold, pool: poolHex(cold), log: l}
}

func (f *fixture) appendT(t testing.TB, e Entry) {
	t.Helper()
	if _, _, err := f.log.Append(e); err != nil {
		t.Fatalf("Append(%s): %v", e.Kind, err)
	}
}

func (f *fixture) bind(t testing.TB) {
	t.Helper()
	b, err := Bind(f.cold, f.vaultID, f.vkey)
	if err != nil {
		t.Fatal(err)
	}
	e, err := b.Entry()
	if err != nil {
		t.Fatal(err)
	}
	be := base(KindAuditBinding, 2)
	e.Time, e.BinarySHA256, e.Version, e.Operator = be.Time, be.BinarySHA256, be.Version, be.Operator
	f.appendT(t, e)
}

// standard builds: init, pool-new, binding, snapshot, cert 0, bundle, cert 1, bundle.
func standard(t testing.TB, seed byte) *fixture {
	t.Helper()
	f := newVault(t, filepath.Join(t.TempDir(), "log"), seed)
	pn := base(KindPoolNew, 1)
	pn.Pool = f.pool
	f.appendT(t, pn)
	f.bind(t)
	sa := base(KindSnapshotAccepted, 3)
	sa.Pool = f.pool
	f.appendT(t, sa)
	f.appendT(t, cert(f.pool, 0, nil, 100, "c0"))
	f.appendT(t, bundle(f.pool, "c0"))
	f.appendT(t, cert(f.pool, 1, U64(0), 130, "c1"))
	f.appendT(t, bundle(f.pool, "c1"))
	return f
}

func (f *fixture) coldVKey() ed25519.PublicKey { return f.cold.Public().(ed25519.PublicKey) }

func (f *fixture) opts() VerifyOptions {
	return VerifyOptions{PoolVKeys: []ed25519.PublicKey{f.coldVKey()}}
}

func readLines(t testing.TB, dir string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, FileEntries))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.SplitAfter(b[:len(b)-1], []byte("\n"))
}

func writeLines(t testing.TB, dir string, lines [][]byte) {
	t.Helper()
	var b []byte
	for _, l := range lines {
		b = append(b, bytes.TrimSuffix(l, []byte("\n"))...)
		b = append(b, '\n')
	}
	if err := os.WriteFile(filepath.Join(dir, FileEntries), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustRead(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// buildFS lays out a complete, validly signed log from entries (which it
// renumbers), without disk I/O: how an attacker holding key would rewrite
// a log, and a fast fixture for fuzzing and benchmarks.
func buildFS(t testing.TB, key SignerKey, entries []Entry) fstest.MapFS {
	t.Helper()
	s, err := key.signer()
	if err != nil {
		t.Fatal(err)
	}
	vkey, err := key.VerifierKey()
	if err != nil {
		t.Fatal(err)
	}
	fsys := fstest.MapFS{FileAuditKey: {Data: []byte(vkey + "\n")}}
	tr := &tree{}
	var data []byte
	var c Checkpoint
	for i := range entries {
		e := entries[i]
		e.Seq = int64(i)
		line, err := marshalEntry(&e)
		if err != nil {
			t.Fatal(err)
		}
		data = append(append(data, line...), '\n')
		if err := tr.add(line); err != nil {
			t.Fatal(err)
		}
		root, err := tr.root(tr.n)
		if err != nil {
			t.Fatal(err)
		}
		c, err = signCheckpoint(Checkpoint{Origin: s.Name(), Size: tr.n, Root: root}, s)
		if err != nil {
			t.Fatal(err)
		}
		fsys[CheckpointFile(tr.n)] = &fstest.MapFile{Data: c.Note}
	}
	fsys[FileEntries] = &fstest.MapFile{Data: data}
	fsys[FileCheckpoint] = &fstest.MapFile{Data: c.Note}
	return fsys
}

// writeFS replaces dir's contents with fsys.
func writeFS(t testing.TB, dir string, fsys fstest.MapFS) {
	t.Helper()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	for name, f := range fsys {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func wantErr(t testing.TB, err, want error) *Error {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got error %v, want %v", err, want)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got %T, want *Error", err)
	}
	return e
}

func wantSeq(t testing.TB, e *Error, seq int64) {
	t.Helper()
	if e.Seq != seq {
		t.Errorf("got seq %d, want %d (%v)", e.Seq, seq, e)
	}
}

var _ = strings.Contains
