package ceremony

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/kesrotate/kesrotate/internal/textsafe"
)

// LockFile is the vault's lock, relative to its root: every command that
// changes the vault holds an exclusive flock on it. While held it names
// its holder; it is emptied when released. The kernel releases the lock of
// a process that dies, so a held lock is always a live process. It is not
// vault state: a copy of the vault leaves it out.
const LockFile = "lock"

// vaultLock is the lock a Vault holds, with how many of its calls hold it.
type vaultLock struct {
	f     *os.File
	depth int
}

// Acquire takes the vault's exclusive lock for op, without waiting: a
// vault another process holds gives ErrBusy naming that process and what
// it does. Calls nest: the lock is released when the outermost caller
// calls the release function returned. Every method that changes the
// vault takes it; a caller that changes the vault through several of them
// as one action (the backup package) takes it around them. (Lock, which
// forgets the vault's secrets, is another thing.)
func (v *Vault) Acquire(op string) (release func(), err error) {
	if v.lock != nil {
		v.lock.depth++
		return v.release, nil
	}
	f, err := os.OpenFile(filepath.Join(v.Dir, LockFile), os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking the vault: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder := lockHolder(f)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (%s)", ErrBusy, holder)
		}
		return nil, fmt.Errorf("locking the vault: %w", err)
	}
	note := fmt.Sprintf("pid %d, %s since %s\n", os.Getpid(), op, time.Now().UTC().Format(time.RFC3339))
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(note), 0)
	}
	v.lock = &vaultLock{f: f, depth: 1}
	return v.release, nil
}

func (v *Vault) release() {
	l := v.lock
	if l == nil {
		return
	}
	if l.depth--; l.depth > 0 {
		return
	}
	if v.log != nil && v.crashPoint("before-flush") == nil {
		// The latest checkpoint file, and a cache for the next Open
		// (auditlog.FileState). Every entry and its numbered checkpoint
		// are durable already: failing here only makes the next Open
		// check the whole log and bring the checkpoint file up to date.
		_ = v.log.Flush()
	}
	// The log stays open while the lock is held (a fleet ceremony holds
	// it throughout); the next action opens it again and records what an
	// action that failed left unlogged.
	v.log = nil
	_ = l.f.Truncate(0)
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	_ = l.f.Close()
	v.lock = nil
}

// lockHolder reads who holds the lock, as that process wrote it.
func lockHolder(f *os.File) string {
	b, _ := io.ReadAll(io.LimitReader(f, 200))
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "holder unknown"
	}
	return textsafe.Escape(s)
}
