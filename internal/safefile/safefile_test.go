package safefile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"testing/iotest"
)

func TestCreateSecretIsExclusiveAnd0600(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "k.skey")
	if err := CreateSecret(p, []byte("one")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("mode: got %04o, want 0600", got)
	}
	err = CreateSecret(p, []byte("two"))
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second create: got %v, want fs.ErrExist", err)
	}
	b, _ := os.ReadFile(p)
	if string(b) != "one" {
		t.Errorf("content after refused overwrite: got %q, want %q", b, "one")
	}
}

func TestReplaceLeavesNoTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state")
	for _, content := range []string{"a", "bb", "ccc"} {
		if err := Replace(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != content {
			t.Errorf("got %q, want %q", b, content)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("folder holds %d entries, want 1 (no temporary files left)", len(entries))
	}
}

func TestAppend(t *testing.T) {
	p := filepath.Join(t.TempDir(), "journal")
	for _, s := range []string{"x\n", "y\n"} {
		if err := Append(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := os.ReadFile(p)
	if string(b) != "x\ny\n" {
		t.Errorf("got %q, want %q", b, "x\ny\n")
	}
}

func TestMkdirSecretRefusesOpenFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := MkdirSecret(dir); err == nil {
		t.Error("MkdirSecret accepted a 0755 folder")
	}
	if err := MkdirSecret(filepath.Join(dir, "..", "fresh")); err != nil {
		t.Errorf("fresh folder: %v", err)
	}
}

func TestReadRegularRefusesWhatNeverEnds(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	small := filepath.Join(dir, "small")
	if err := os.WriteFile(small, []byte("0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		max        int64
		want       error
	}{
		{"fifo", fifo, 1 << 20, ErrNotRegular},
		{"dev-zero", "/dev/zero", 1 << 20, ErrNotRegular},
		{"directory", dir, 1 << 20, ErrNotRegular},
		{"too-large", small, 9, ErrTooLarge},
		{"missing", filepath.Join(dir, "nope"), 1 << 20, fs.ErrNotExist},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := ReadRegular(tc.path, tc.max)
			if !errors.Is(err, tc.want) {
				t.Errorf("got %q, %v; want %v", b, err, tc.want)
			}
		})
	}
	b, err := ReadRegular(small, 10)
	if err != nil || string(b) != "0123456789" {
		t.Errorf("got %q, %v; want the file", b, err)
	}
}

// PrepareDirUndo takes back exactly the folders it made, and only while
// they are empty.
func TestPrepareDirUndo(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "a", "b", "c")
	undo, err := PrepareDirUndo(dir, 0o700)
	if err != nil {
		t.Fatal(err)
	}
	undo()
	if _, err := os.Stat(filepath.Join(root, "a")); !os.IsNotExist(err) {
		t.Errorf("a/ left behind: %v", err)
	}
	if _, err := os.Stat(root); err != nil {
		t.Errorf("the existing folder went too: %v", err)
	}
	// A folder that got a file in the meantime stays, and so do its parents.
	undo, err = PrepareDirUndo(dir, 0o700)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "node.cert"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	undo()
	if _, err := os.Stat(filepath.Join(dir, "node.cert")); err != nil {
		t.Errorf("a written file went: %v", err)
	}
}

// ReadAllWiping reads what io.ReadAll reads, across its buffer growths,
// and gives the reader's error, not a partial result.
func TestReadAllWiping(t *testing.T) {
	for _, n := range []int{0, 1, 1023, 1024, 1025, 5000} {
		want := bytes.Repeat([]byte{0x5a}, n)
		got, err := ReadAllWiping(bytes.NewReader(want))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%d bytes: got %d bytes, %v; want them all", n, len(got), err)
		}
	}
	boom := errors.New("boom")
	got, err := ReadAllWiping(io.MultiReader(bytes.NewReader(make([]byte, 3000)), iotest.ErrReader(boom)))
	if !errors.Is(err, boom) || got != nil {
		t.Errorf("failing reader: got %d bytes, %v; want nil, boom", len(got), err)
	}
}

// TestInputs: a folder stands for the regular files directly inside it,
// by name, without dot files; other paths are kept; a folder of none is
// an error.
func TestInputs(t *testing.T) {
	dir := t.TempDir()
	full := filepath.Join(dir, "full")
	for _, d := range []string{full, filepath.Join(full, "sub"), filepath.Join(dir, "empty"), filepath.Join(dir, "dots")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"full/b", "full/a", "full/.hidden", "full/sub/c", "dots/.x", "file"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(dir, "file"), filepath.Join(full, "link")); err != nil {
		t.Fatal(err)
	}
	j := func(s ...string) []string {
		for i := range s {
			s[i] = filepath.Join(dir, s[i])
		}
		return s
	}
	for _, tc := range []struct {
		name  string
		paths []string
		want  []string
		err   error
	}{
		{"a folder and files", j("file", "full", "missing"), j("file", "full/a", "full/b", "missing"), nil},
		{"an empty folder", j("full", "empty"), nil, ErrEmptyFolder},
		{"only dot files", j("dots"), nil, ErrEmptyFolder},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Inputs(tc.paths)
			if !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
				t.Fatalf("got error %v, want %v", err, tc.err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
