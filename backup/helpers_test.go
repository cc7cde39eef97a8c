package backup

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kesrotate/kesrotate/ceremony"
)

var t0 = time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)

// testWorkFactor keeps scrypt fast in tests; vaults record it.
const testWorkFactor = 10

// testPass is a passphrase ceremony.CheckNewPassphrase accepts.
const testPass = "the passphrase"

// detRand is a deterministic randomness source for tests.
type detRand struct{ ctr uint64 }

func (r *detRand) Read(p []byte) (int, error) {
	for i := range p {
		if i%32 == 0 {
			r.ctr++
		}
		h := sha256.Sum256([]byte(fmt.Sprint(r.ctr)))
		p[i] = h[i%32]
	}
	return len(p), nil
}

func newVault(t *testing.T) *ceremony.Vault {
	t.Helper()
	v, err := ceremony.Init(filepath.Join(t.TempDir(), "vault"), ceremony.InitOptions{Network: "mainnet", Now: t0, Rand: &detRand{}})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func passAccess(p string) ceremony.Access {
	return ceremony.Access{Passphrase: func() ([]byte, error) { return []byte(p), nil }}
}

func newEncryptedVault(t *testing.T, pass string) *ceremony.Vault {
	t.Helper()
	v, err := ceremony.Init(filepath.Join(t.TempDir(), "vault"), ceremony.InitOptions{Network: "mainnet", Now: t0, Rand: &detRand{},
		Encryption: &ceremony.Encryption{Passphrase: []byte(pass), WorkFactor: testWorkFactor}})
	if err != nil {
		t.Fatal(err)
	}
	v.Unlock(passAccess(pass))
	return v
}

// dirDigest lists every folder, link and file (with its SHA-256) below
// root, sorted.
func dirDigest(t *testing.T, root string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			lines = append(lines, "d "+path)
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(path)
			lines = append(lines, fmt.Sprintf("l %s %s %v", path, target, err))
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		lines = append(lines, fmt.Sprintf("f %s %x", path, sha256.Sum256(b)))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
