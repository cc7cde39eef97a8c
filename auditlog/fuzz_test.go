package auditlog

import (
	"bytes"
	"fmt"
	"testing"
	"testing/fstest"

	"golang.org/x/mod/sumdb/note"
)

// memLog returns the entries of a log with one bound pool and rotations
// certs, its key and verifier key.
func memLog(tb testing.TB, rotations int) ([]Entry, SignerKey, string) {
	tb.Helper()
	r := rng(42)
	id, err := NewVaultID(r)
	if err != nil {
		tb.Fatal(err)
	}
	key, vkey, err := GenerateKey(r, id)
	if err != nil {
		tb.Fatal(err)
	}
	cold := coldKey(42)
	pool := poolHex(cold)
	init := base(KindInit, 0)
	init.Detail = map[string]string{DetailVaultID: id, DetailAuditKey: vkey}
	b, err := Bind(cold, id, vkey)
	if err != nil {
		tb.Fatal(err)
	}
	be, _ := b.Entry()
	be.Time, be.BinarySHA256, be.Version = init.Time, init.BinarySHA256, init.Version
	entries := []Entry{init, be}
	for i := 0; len(entries) < rotations*2+2; i++ {
		name := fmt.Sprint("c", i)
		entries = append(entries, cert(pool, uint64(i), nil, uint64(i), name), bundle(pool, name))
		if i > 0 {
			entries[len(entries)-2].OnChainCounter = U64(uint64(i - 1))
		}
	}
	return entries, key, vkey
}

func FuzzVerifyEntries(f *testing.F) {
	entries, key, _ := memLog(f, 3)
	fsys := buildFS(f, key, entries)
	good := fsys[FileEntries].Data
	lines := bytes.SplitAfter(good, []byte("\n"))
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add(bytes.Join(lines[:3], nil))
	f.Add(bytes.Join([][]byte{lines[1], lines[0], lines[2]}, nil))
	f.Add([]byte{})
	f.Add([]byte("\n"))
	f.Add([]byte(`{"seq":0}` + "\n"))
	f.Add(append(bytes.Clone(good), good...))
	// The hardware-wallet kinds, for ParseEntry.
	hf := &fixture{cold: coldKey(42), pool: poolHex(coldKey(42))}
	for _, e := range []Entry{hwKey(hf), prepared(hf.pool, 0, nil, 5, "h"), abandoned(hf.pool, 0, 5, "h", 2), finished(hf.pool, 0, nil, 5, "h", 2)} {
		line, err := marshalEntry(&e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(append(line, '\n'))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m := fstest.MapFS{}
		for k, v := range fsys {
			m[k] = v
		}
		m[FileEntries] = &fstest.MapFile{Data: data}
		r, err := VerifyFS(m, VerifyOptions{})
		if err == nil && !bytes.Equal(data, good) {
			t.Fatalf("accepted entries that differ from the signed ones")
		}
		if r == nil {
			t.Fatal("nil report")
		}
		_, _ = ParseEntry(bytes.TrimSuffix(data, []byte("\n")))
	})
}

func FuzzOpenCheckpoint(f *testing.F) {
	entries, key, vkey := memLog(f, 1)
	fsys := buildFS(f, key, entries)
	v, err := note.NewVerifier(vkey)
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range []string{FileCheckpoint, CheckpointFile(1), CheckpointFile(2)} {
		f.Add(fsys[name].Data)
	}
	prod, err := NewEd25519Signer("producer.example", coldKey(1))
	if err != nil {
		f.Fatal(err)
	}
	cs, err := Countersign(fsys[FileCheckpoint].Data, vkey, prod)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(cs)
	f.Add([]byte("kesrotate.vault/x\n1\nAAAA\n\n— x AAAA\n"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		c, verr := openCheckpoint(msg, v, "fuzz")
		if verr == nil && (c.Size < 1 || c.Origin != v.Name()) {
			t.Fatalf("accepted checkpoint %+v", c)
		}
		_, _ = ParseCheckpoint(msg)
		m := fstest.MapFS{}
		for k, f := range fsys {
			m[k] = f
		}
		_, _ = VerifyFS(m, VerifyOptions{Checkpoints: [][]byte{msg}})
	})
}

func BenchmarkVerify10000(b *testing.B) {
	entries, key, _ := memLog(b, 4999)
	if len(entries) != 10000 {
		b.Fatalf("got %d entries, want 10000", len(entries))
	}
	fsys := buildFS(b, key, entries)
	b.ResetTimer()
	for b.Loop() {
		r, err := VerifyFS(fsys, VerifyOptions{})
		if err != nil || r.TreeSize != 10000 {
			b.Fatalf("got %v, size %d", err, r.TreeSize)
		}
	}
}
