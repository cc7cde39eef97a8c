// Package vectors locates the external test vectors that live beside the
// repository in ../shared/testvectors. They are read in place and never
// copied into the repository.
package vectors

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Dir returns the testvectors folder. If it is missing the test fails when
// CI=true and is skipped elsewhere, with a message naming the folder.
func Dir(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "testvectors")
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		if os.Getenv("CI") == "true" {
			t.Fatalf("test vectors not found at %s (they must sit beside the repository as ../shared/testvectors)", dir)
		}
		t.Skipf("test vectors not found at %s; skipping (CI fails instead)", dir)
	}
	return dir
}

// Read returns the content of a file under the testvectors folder.
func Read(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(Dir(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
