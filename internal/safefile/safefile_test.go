package safefile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
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
