package auditlog

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// exportT exports f's log with a README and returns the package dir.
func exportT(t *testing.T, f *fixture) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "pkg")
	err := Export(f.dir, out, map[string][]byte{"README.md": []byte("# audit package\n"), "bin/kesrotate.sha256": []byte(hash("binary") + "\n")})
	if err != nil {
		t.Fatalf("Export: %v", err)
	}
	return out
}

func packageFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestExportVerifies(t *testing.T) {
	f := standard(t, 1)
	pkg := exportT(t, f)
	opts := f.opts()
	opts.RequireManifest = true
	r, err := Verify(pkg, opts)
	if err != nil {
		t.Fatalf("Verify(package): %v", err)
	}
	if !r.Manifest || len(r.Certs) != 2 {
		t.Errorf("got manifest %v certs %d, want true 2", r.Manifest, len(r.Certs))
	}
	if _, err := Verify(f.dir, VerifyOptions{RequireManifest: true}); !errors.Is(err, ErrMissingFile) {
		t.Errorf("got %v for a live log with RequireManifest, want ErrMissingFile", err)
	}
	if err := Export(f.dir, pkg, nil); !errors.Is(err, ErrExists) {
		t.Errorf("got %v exporting onto an existing dir, want ErrExists", err)
	}
	for _, bad := range []string{"../x", "checkpoints/9.note", "SHA256SUMS", ".hidden", "audit.pub"} {
		if err := Export(f.dir, filepath.Join(t.TempDir(), "p"), map[string][]byte{bad: nil}); err == nil {
			t.Errorf("got nil exporting extra file %q, want an error", bad)
		}
	}
}

// TestByteFlips changes every byte of every file of a package, one at a
// time, and wants each change detected: with the manifest for any file,
// and without it for the files that carry the log itself.
func TestByteFlips(t *testing.T) {
	f := standard(t, 1)
	pkg := exportT(t, f)
	for _, withManifest := range []bool{true, false} {
		for _, name := range packageFiles(t, pkg) {
			if !withManifest && (name == FileManifest || name == "README.md" || strings.HasPrefix(name, "bin/")) {
				continue
			}
			t.Run(map[bool]string{true: "manifest/", false: "nomanifest/"}[withManifest]+name, func(t *testing.T) {
				fsys := loadFS(t, pkg)
				if !withManifest {
					delete(fsys, FileManifest)
				}
				orig := fsys[name].Data
				opts := f.opts()
				opts.RequireManifest = withManifest
				for i := range orig {
					b := bytes.Clone(orig)
					b[i] ^= 0x01
					fsys[name] = &fstest.MapFile{Data: b}
					_, err := VerifyFS(fsys, opts)
					var e *Error
					if !errors.As(err, &e) {
						t.Fatalf("byte %d flipped: got %v, want an *Error", i, err)
					}
				}
			})
		}
	}
}

func loadFS(t *testing.T, dir string) fstest.MapFS {
	t.Helper()
	fsys := fstest.MapFS{}
	for _, name := range packageFiles(t, dir) {
		fsys[name] = &fstest.MapFile{Data: mustRead(t, filepath.Join(dir, filepath.FromSlash(name)))}
	}
	return fsys
}

func TestDeletedFile(t *testing.T) {
	f := standard(t, 1)
	pkg := exportT(t, f)
	for _, name := range packageFiles(t, pkg) {
		t.Run("package/"+name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "pkg")
			if err := os.CopyFS(dir, os.DirFS(pkg)); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(filepath.Join(dir, filepath.FromSlash(name))); err != nil {
				t.Fatal(err)
			}
			e := wantErr(t, verifyDir(dir, f, true), ErrMissingFile)
			if e.File != name {
				t.Errorf("got file %q, want %q", e.File, name)
			}
		})
	}
	for _, name := range []string{FileEntries, FileCheckpoint, FileAuditKey, CheckpointFile(1), CheckpointFile(5), DirCheckpoints} {
		t.Run("live/"+name, func(t *testing.T) {
			g := standard(t, 1)
			if err := os.RemoveAll(filepath.Join(g.dir, filepath.FromSlash(name))); err != nil {
				t.Fatal(err)
			}
			wantErr(t, verifyDir(g.dir, g, false), ErrMissingFile)
		})
	}
}

func verifyDir(dir string, f *fixture, manifest bool) error {
	opts := f.opts()
	opts.RequireManifest = manifest
	_, err := Verify(dir, opts)
	return err
}

// renumber rewrites the seq of each line to its position.
func renumber(t *testing.T, lines [][]byte) [][]byte {
	t.Helper()
	var out [][]byte
	for i, l := range lines {
		e, err := ParseEntry(bytes.TrimSuffix(l, []byte("\n")))
		if err != nil {
			t.Fatal(err)
		}
		e.Seq = int64(i)
		b, err := json.Marshal(&e)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func TestEntriesEdited(t *testing.T) {
	extra := func(t *testing.T) []byte {
		e := base(KindBackupMade, 40)
		e.Seq = 3
		b, err := json.Marshal(&e)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name string
		edit func(t *testing.T, lines [][]byte) [][]byte
		seq  int64
	}{
		{"swap 3 and 4", func(t *testing.T, l [][]byte) [][]byte { l[3], l[4] = l[4], l[3]; return l }, 3},
		{"swap and renumber", func(t *testing.T, l [][]byte) [][]byte { l[3], l[4] = l[4], l[3]; return renumber(t, l) }, 3},
		{"remove 2", func(t *testing.T, l [][]byte) [][]byte { return append(l[:2:2], l[3:]...) }, 2},
		{"remove 2 and renumber", func(t *testing.T, l [][]byte) [][]byte { return renumber(t, append(l[:2:2], l[3:]...)) }, 2},
		{"insert at 3", func(t *testing.T, l [][]byte) [][]byte {
			return append(append(l[:3:3], extra(t)), l[3:]...)
		}, 4},
		{"insert at 3 and renumber", func(t *testing.T, l [][]byte) [][]byte {
			return renumber(t, append(append(l[:3:3], extra(t)), l[3:]...))
		}, 3},
		{"change counter", func(t *testing.T, l [][]byte) [][]byte {
			l[6] = bytes.Replace(l[6], []byte(`"counter":1`), []byte(`"counter":2`), 1)
			return l
		}, 6},
		{"non-canonical spacing", func(t *testing.T, l [][]byte) [][]byte {
			l[5] = bytes.Replace(l[5], []byte(`,"kind"`), []byte(`, "kind"`), 1)
			return l
		}, 5},
		{"duplicate line", func(t *testing.T, l [][]byte) [][]byte { return append(l, l[7]) }, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := standard(t, 1)
			writeLines(t, f.dir, tt.edit(t, readLines(t, f.dir)))
			_, err := Verify(f.dir, f.opts())
			wantSeq(t, wantErr(t, err, ErrTampered), tt.seq)
		})
	}
}

func TestTruncatedTail(t *testing.T) {
	t.Run("entries only", func(t *testing.T) {
		f := standard(t, 1)
		writeLines(t, f.dir, readLines(t, f.dir)[:6])
		_, err := Verify(f.dir, f.opts())
		wantSeq(t, wantErr(t, err, ErrTruncated), 6)
	})
	// The attacker also removes the later checkpoints and restores the
	// older one: only a checkpoint held outside the log reveals it.
	t.Run("entries and checkpoints", func(t *testing.T) {
		f := standard(t, 1)
		held := f.log.Checkpoint().Note
		prod, err := NewEd25519Signer("producer.example", coldKey(99))
		if err != nil {
			t.Fatal(err)
		}
		countersigned, err := Countersign(held, f.vkey, prod)
		if err != nil {
			t.Fatal(err)
		}
		writeLines(t, f.dir, readLines(t, f.dir)[:6])
		for _, n := range []int64{7, 8} {
			if err := os.Remove(filepath.Join(f.dir, filepath.FromSlash(CheckpointFile(n)))); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(f.dir, FileCheckpoint), mustRead(t, filepath.Join(f.dir, filepath.FromSlash(CheckpointFile(6)))), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Verify(f.dir, f.opts()); err != nil {
			t.Fatalf("without an outside checkpoint: got %v, want the cut log to look whole", err)
		}
		for name, cp := range map[string][]byte{"exported": held, "countersigned": countersigned} {
			opts := f.opts()
			opts.Checkpoints = [][]byte{cp}
			_, err := Verify(f.dir, opts)
			e := wantErr(t, err, ErrTruncated)
			wantSeq(t, e, 6)
			if e.File != "extra[0]" {
				t.Errorf("%s: got file %q, want extra[0]", name, e.File)
			}
		}
	})
}

// resigned rewrites f's log as an attacker holding key would.
func resigned(t *testing.T, f *fixture, key SignerKey, edit func([]Entry) []Entry) {
	t.Helper()
	entries, err := Entries(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	writeFS(t, f.dir, buildFS(t, key, edit(entries)))
}

func TestReplacedAuditKey(t *testing.T) {
	newKey := func(t *testing.T, f *fixture) (SignerKey, string) {
		k, v, err := GenerateKey(rng(77), f.vaultID)
		if err != nil {
			t.Fatal(err)
		}
		return k, v
	}
	t.Run("bindings kept", func(t *testing.T) {
		f := standard(t, 1)
		k, v := newKey(t, f)
		resigned(t, f, k, func(es []Entry) []Entry {
			es[0].Detail[DetailAuditKey] = v
			return es
		})
		_, err := Verify(f.dir, f.opts())
		wantSeq(t, wantErr(t, err, ErrBinding), 2)
	})
	t.Run("binding edited", func(t *testing.T) {
		f := standard(t, 1)
		k, v := newKey(t, f)
		resigned(t, f, k, func(es []Entry) []Entry {
			es[0].Detail[DetailAuditKey] = v
			es[2].Binding.AuditKey = v
			return es
		})
		_, err := Verify(f.dir, f.opts())
		wantSeq(t, wantErr(t, err, ErrBinding), 2)
	})
	t.Run("binding removed", func(t *testing.T) {
		f := standard(t, 1)
		k, v := newKey(t, f)
		resigned(t, f, k, func(es []Entry) []Entry {
			es[0].Detail[DetailAuditKey] = v
			return append(es[:2:2], es[3:]...)
		})
		_, err := Verify(f.dir, f.opts())
		wantSeq(t, wantErr(t, err, ErrBinding), 3) // the first cert, now at 3
	})
	t.Run("init left alone", func(t *testing.T) {
		f := standard(t, 1)
		k, _ := newKey(t, f)
		resigned(t, f, k, func(es []Entry) []Entry { return es })
		_, err := Verify(f.dir, f.opts())
		wantSeq(t, wantErr(t, err, ErrBinding), 0)
	})
	t.Run("expected key", func(t *testing.T) {
		f := standard(t, 1)
		k, v := newKey(t, f)
		resigned(t, f, k, func(es []Entry) []Entry { es[0].Detail[DetailAuditKey] = v; return es })
		opts := f.opts()
		opts.AuditKey = f.vkey
		_, err := Verify(f.dir, opts)
		wantErr(t, err, ErrBinding)
	})
	t.Run("old checkpoint held outside", func(t *testing.T) {
		f := standard(t, 1)
		held := f.log.Checkpoint().Note
		k, v := newKey(t, f)
		resigned(t, f, k, func(es []Entry) []Entry { es[0].Detail[DetailAuditKey] = v; return es })
		opts := f.opts()
		opts.Checkpoints = [][]byte{held}
		_, err := Verify(f.dir, opts)
		wantErr(t, err, ErrBadSignature)
	})
}

func TestForeignVault(t *testing.T) {
	t.Run("entries from another vault", func(t *testing.T) {
		a, b := standard(t, 1), standard(t, 2)
		if err := os.WriteFile(filepath.Join(a.dir, FileEntries), mustRead(t, filepath.Join(b.dir, FileEntries)), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Verify(a.dir, a.opts())
		wantSeq(t, wantErr(t, err, ErrForeignLog), 0)
	})
	t.Run("checkpoint from another vault", func(t *testing.T) {
		a, b := standard(t, 1), standard(t, 2)
		opts := a.opts()
		opts.Checkpoints = [][]byte{b.log.Checkpoint().Note}
		_, err := Verify(a.dir, opts)
		wantErr(t, err, ErrForeignLog)
		if err := os.WriteFile(filepath.Join(a.dir, FileCheckpoint), b.log.Checkpoint().Note, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err = Verify(a.dir, a.opts())
		wantErr(t, err, ErrForeignLog)
	})
	t.Run("expected vault id", func(t *testing.T) {
		a, b := standard(t, 1), standard(t, 2)
		_, err := Verify(a.dir, VerifyOptions{VaultID: b.vaultID})
		wantErr(t, err, ErrForeignLog)
		_, err = Verify(a.dir, VerifyOptions{AuditKey: b.vkey})
		wantErr(t, err, ErrForeignLog)
	})
	t.Run("binding copied from another vault", func(t *testing.T) {
		a, b := standard(t, 1), standard(t, 2)
		ab, err := Entries(a.dir)
		if err != nil {
			t.Fatal(err)
		}
		resigned(t, b, b.key, func(es []Entry) []Entry {
			es[2] = ab[2] // a's binding of a's pool
			for i := range es {
				if es[i].Pool == b.pool {
					es[i].Pool, es[i].Cert = a.pool, "" // b's certs name b's pool
				}
			}
			return es
		})
		_, err = Verify(b.dir, a.opts())
		wantSeq(t, wantErr(t, err, ErrForeignLog), 2)
	})
	t.Run("pool not bound in this log", func(t *testing.T) {
		a, b := standard(t, 1), standard(t, 2)
		_, err := Verify(a.dir, b.opts())
		wantErr(t, err, ErrBinding)
		_, err = Verify(a.dir, VerifyOptions{PoolVKeys: []ed25519.PublicKey{make([]byte, 31)}})
		wantErr(t, err, ErrBinding)
	})
}

func TestCertOutsideLog(t *testing.T) {
	// The producer keeps checkpoint 8 (after cert c1 and its bundle). The
	// vault holder, who has the audit key, rewrites entry 6 (cert c1) to
	// hide it and re-signs everything: the log alone looks whole.
	t.Run("producer checkpoint the log cannot prove", func(t *testing.T) {
		f := standard(t, 1)
		prod, err := NewEd25519Signer("producer.example", coldKey(99))
		if err != nil {
			t.Fatal(err)
		}
		held, err := Countersign(f.log.Checkpoint().Note, f.vkey, prod)
		if err != nil {
			t.Fatal(err)
		}
		resigned(t, f, f.key, func(es []Entry) []Entry {
			es[6] = base(KindBackupMade, 20)
			es[7] = base(KindBackupMade, 21)
			return es
		})
		if _, err := Verify(f.dir, f.opts()); err != nil {
			t.Fatalf("rewritten log alone: got %v, want it to look whole", err)
		}
		opts := f.opts()
		opts.Checkpoints = [][]byte{held}
		_, err = Verify(f.dir, opts)
		e := wantErr(t, err, ErrTampered)
		wantSeq(t, e, NoSeq)
		if e.File != "extra[0]" {
			t.Errorf("got file %q, want extra[0]", e.File)
		}
		// Checkpoint 6 predates the rewrite and still proves.
		opts.Checkpoints = [][]byte{mustRead(t, filepath.Join(f.dir, filepath.FromSlash(CheckpointFile(6))))}
		if _, err := Verify(f.dir, opts); err != nil {
			t.Errorf("got %v for a consistent outside checkpoint, want nil", err)
		}
	})
	t.Run("bundle without issued cert", func(t *testing.T) {
		f := standard(t, 1)
		b := bundle(f.pool, "never-issued")
		if err := f.log.Check(b); !errors.Is(err, ErrSemantics) {
			t.Errorf("Check: got %v, want ErrSemantics", err)
		}
		f.appendT(t, b)
		r, err := Verify(f.dir, f.opts())
		wantSeq(t, wantErr(t, err, ErrSemantics), 8)
		if r == nil || len(r.Certs) != 2 {
			t.Errorf("got report %+v, want the 2 certs before the failure", r)
		}
	})
}
