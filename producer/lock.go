package producer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// LockFile is the file in the agent folder that install and rollback
// flock(2) so that two of them never run at once. The kernel drops the
// lock when the process dies, so a crash never leaves it held.
const LockFile = "install.lock"

// Lock is a held agent lock.
type Lock struct{ f *os.File }

// Lock takes the agent's install lock without waiting: it fails with
// ErrLocked when another process (or another Lock in this one) holds it.
func (a *Agent) Lock() (*Lock, error) {
	f, err := os.OpenFile(filepath.Join(a.Dir, LockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, ErrLocked
		}
		return nil, fmt.Errorf("locking %s: %w", LockFile, err)
	}
	return &Lock{f: f}, nil
}

// Unlock releases the lock. It is safe to call more than once.
func (l *Lock) Unlock() {
	if l == nil || l.f == nil {
		return
	}
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	_ = l.f.Close()
	l.f = nil
}
