package auditlog_test

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kesrotate/kesrotate/auditlog"
)

// A log is created with its init entry, grows by appends (each with a
// signed checkpoint), and is verified with public keys only; an entry
// edited afterwards is found.
func Example() {
	dir, _ := os.MkdirTemp("", "auditlog-example")
	defer os.RemoveAll(dir)
	log := filepath.Join(dir, "log")

	id, _ := auditlog.NewVaultID(rand.Reader)
	key, _, _ := auditlog.GenerateKey(rand.Reader, id)
	t0 := time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)
	entry := func(k auditlog.Kind, d time.Duration) auditlog.Entry {
		return auditlog.Entry{Kind: k, Time: t0.Add(d), Operator: "alice", BinarySHA256: strings.Repeat("ab", 32), Version: "v1"}
	}
	l, _, err := auditlog.Create(log, key, entry(auditlog.KindInit, 0))
	if err != nil {
		panic(err)
	}
	backup := entry(auditlog.KindBackupMade, time.Minute)
	backup.Detail = map[string]string{"target": "stick-2"}
	if _, ckpt, err := l.Append(backup); err == nil {
		fmt.Println("checkpoint size", ckpt.Size)
	}

	r, err := auditlog.Verify(log, auditlog.VerifyOptions{VaultID: id})
	fmt.Println("entries", len(r.Entries), "verify:", err)

	b, _ := os.ReadFile(filepath.Join(log, auditlog.FileEntries))
	os.WriteFile(filepath.Join(log, auditlog.FileEntries), []byte(strings.Replace(string(b), "stick-2", "stick-3", 1)), 0o600)
	_, err = auditlog.Verify(log, auditlog.VerifyOptions{VaultID: id})
	fmt.Println("after an edit:", err != nil)
	// Output:
	// checkpoint size 2
	// entries 2 verify: <nil>
	// after an edit: true
}
