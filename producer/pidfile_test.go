package producer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeProc is a /proc with a boot time and one process of pid 4242 that
// started at started (proc(5): /proc/stat's btime, /proc/PID/stat's
// field 22 in USER_HZ ticks after boot).
func fakeProc(t *testing.T, boot, started time.Time) string {
	t.Helper()
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "stat"), []byte(fmt.Sprintf("cpu  1 2 3 4\nbtime %d\nprocesses 9\n", boot.Unix())), 0o644); err != nil {
		t.Fatal(err)
	}
	ticks := started.Sub(boot) * userHZ / time.Second
	// The command name holds a space and a parenthesis, as a process may
	// name itself.
	fields := []string{"4242", "(cardano) node)", "S", "1", "4242", "4242", "0", "-1", "4194560", "100", "0", "0", "0", "5", "3", "0", "0", "20", "0", "12",
		"0", fmt.Sprint(int64(ticks)), "123456", "789"}
	if err := os.MkdirAll(filepath.Join(root, "4242"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "4242", "stat"), []byte(strings.Join(fields, " ")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestCheckPIDFile(t *testing.T) {
	boot := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	written := boot.Add(5 * time.Hour)
	pidFile := filepath.Join(t.TempDir(), "node.pid")
	if err := os.WriteFile(pidFile, []byte("4242\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(pidFile, written, written); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		started time.Time
		want    string // "" for no error
	}{
		{"the node that wrote it", written.Add(-3 * time.Second), ""},
		{"written as the node started", written.Add(time.Second), ""},
		{"a later process with the same pid", written.Add(time.Minute), "is stale"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkPIDFile(fakeProc(t, boot, tc.started), pidFile, 4242)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("got %v, want no error", err)
			case tc.want != "" && (!errors.Is(err, ErrNodeNotFound) || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("got %v, want ErrNodeNotFound saying %q", err, tc.want)
			}
		})
	}
	if err := checkPIDFile(fakeProc(t, boot, written), pidFile, 4243); !errors.Is(err, ErrNodeNotFound) || !strings.Contains(err.Error(), "not running") {
		t.Errorf("a pid that runs no process: got %v", err)
	}
	// This process, named by a pid file written now, on the real /proc.
	own := filepath.Join(t.TempDir(), "self.pid")
	if err := os.WriteFile(own, []byte(fmt.Sprint(os.Getpid())), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := checkPIDFile(ProcRoot, own, os.Getpid()); err != nil {
		t.Errorf("this process on the real /proc: %v", err)
	}
	// The same file, as if written a day before this process started.
	old := time.Now().Add(-24 * time.Hour)
	if err := os.Chtimes(own, old, old); err != nil {
		t.Fatal(err)
	}
	if err := checkPIDFile(ProcRoot, own, os.Getpid()); !errors.Is(err, ErrNodeNotFound) || !strings.Contains(err.Error(), "is stale") {
		t.Errorf("a pid file older than its process on the real /proc: got %v", err)
	}
}
