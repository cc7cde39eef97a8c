package producer

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/kesrotate/kesrotate/internal/safefile"
	"github.com/kesrotate/kesrotate/keys"
)

// NewPendingKES generates a KES key on the producer (KES-on-producer mode):
// the skey goes to kes/pending.skey (0600, never leaves this machine) and
// its vkey to kes/pending.vkey, which the next snapshot carries to the
// cold machine. An existing pending key is kept (ErrPendingExists) unless
// replace is set or it is already the installed cert's key (then it is
// stale and replaced).
//
// In kes-agent mode kes-agent generates the key and keeps it staged in its
// memory; only the vkey is written (kesagent.go, newPendingViaAgent).
func (a *Agent) NewPendingKES(r io.Reader, replace bool) (keys.KESVKey, error) {
	if a.KESAgentMode() {
		return a.newPendingViaAgent(context.Background(), replace)
	}
	if r == nil {
		r = rand.Reader
	}
	dir := filepath.Join(a.Dir, KESDir)
	if err := safefile.MkdirSecret(dir); err != nil {
		return keys.KESVKey{}, fmt.Errorf("%w: %w", ErrPermissions, err)
	}
	old, err := a.PendingKES()
	if err != nil && !replace {
		return keys.KESVKey{}, err
	}
	if old != nil {
		vk := old.Public()
		old.Wipe()
		stale := false
		if c, err := a.InstalledCert(); err == nil && c != nil && c.KESVKey == vk {
			stale = true
		}
		if !replace && !stale {
			return keys.KESVKey{}, fmt.Errorf("%w: its vkey rides in the next snapshot", ErrPendingExists)
		}
	}
	k, err := keys.GenerateKESKey(r)
	if err != nil {
		return keys.KESVKey{}, err
	}
	defer k.Wipe()
	if err := a.RemovePendingKES(); err != nil {
		return keys.KESVKey{}, err
	}
	// From here on a failure has dropped the earlier pending key, if any.
	dropped := func(err error) error {
		if old == nil {
			return err
		}
		return fmt.Errorf("%w (%w)", err, ErrPendingDropped)
	}
	env := k.MarshalEnvelope()
	err = safefile.CreateSecret(filepath.Join(dir, PendingKES), env)
	wipe(env)
	if err != nil {
		return keys.KESVKey{}, dropped(err)
	}
	vk := k.Public()
	if err := safefile.Create(filepath.Join(dir, PendingKESVK), vk.MarshalEnvelope(), 0o644); err != nil {
		_ = os.Remove(filepath.Join(dir, PendingKES))
		return keys.KESVKey{}, dropped(err)
	}
	return vk, nil
}

// PendingKES reads the pending KES key, or nil if there is none. It is a
// secret. A pending key file open to group or others is refused.
func (a *Agent) PendingKES() (*keys.KESKey, error) {
	p := filepath.Join(a.Dir, KESDir, PendingKES)
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %04o, want 0600", ErrPermissions, p, fi.Mode().Perm())
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	defer wipe(b)
	k, err := keys.ParseKESKey(b)
	if err != nil {
		return nil, fmt.Errorf("pending KES key: %w", err)
	}
	return k, nil
}

// RemovePendingKES deletes the pending key (after it went into a set).
func (a *Agent) RemovePendingKES() error {
	dir := filepath.Join(a.Dir, KESDir)
	for _, f := range []string{PendingKES, PendingKESVK} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if _, err := os.Stat(dir); err == nil {
		return safefile.SyncDir(dir)
	}
	return nil
}
