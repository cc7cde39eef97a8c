// Package safefile writes files the way key material and state must be
// written: secrets are created exclusively with mode 0600 and never
// overwritten, and replaced state goes through a temporary file in the same
// folder, fsync, rename and a folder fsync, so a crash leaves either the old
// or the new file, never a torn one.
package safefile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// SecretMode and SecretDirMode are the permissions of secret files and of the
// folders that hold them.
const (
	SecretMode    fs.FileMode = 0o600
	SecretDirMode fs.FileMode = 0o700
)

// ErrExists reports that a file that must be created fresh already exists.
var ErrExists = fs.ErrExist

// Create writes data to a new file at path with the given mode. It fails with
// an error wrapping fs.ErrExist if anything is already there. The data is
// fsynced, and so is the parent folder; on any error the file is removed.
func Create(path string, data []byte, mode fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if err := fill(f, data, mode); err != nil {
		_ = os.Remove(path)
		return err
	}
	return SyncDir(filepath.Dir(path))
}

// CreateNoDirSync is Create without the fsync of the parent folder: for a
// batch of new files whose caller syncs the folder once, after the last
// (SyncDir), before it reports them written.
func CreateNoDirSync(path string, data []byte, mode fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if err := fill(f, data, mode); err != nil {
		_ = os.Remove(path)
		return err
	}
	return nil
}

// fill sets the exact mode (the umask may have narrowed it), writes data,
// fsyncs and closes f; on error f is closed and the caller removes it.
func fill(f *os.File, data []byte, mode fs.FileMode) error {
	err := f.Chmod(mode)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// CreateSecret is Create with mode 0600.
func CreateSecret(path string, data []byte) error {
	return Create(path, data, SecretMode)
}

// Replace atomically replaces (or creates) path with data: a temporary file
// in the same folder is written, fsynced and renamed over path, then the
// folder is fsynced. Readers see the old content or the new, never a mix.
func Replace(path string, data []byte, mode fs.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+tempInfix+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if err := fill(f, data, mode); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return SyncDir(dir)
}

// tempInfix marks Replace's temporary files: ".NAME.tmp-RANDOM".
const tempInfix = ".tmp-"

// IsTemp reports whether name (a base name) is one of Replace's temporary
// files.
func IsTemp(name string) bool {
	return strings.HasPrefix(name, ".") && strings.Contains(name, tempInfix)
}

// RemoveTemps deletes the temporary files an interrupted Replace left in
// dir. It is safe while no Replace into dir is running.
func RemoveTemps(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		n := e.Name()
		if IsTemp(n) && e.Type().IsRegular() {
			if err := os.Remove(filepath.Join(dir, n)); err != nil {
				return err
			}
		}
	}
	return nil
}

// Append appends data to path (creating it with mode if needed) and fsyncs
// it before returning. It is used for append-only journals.
func Append(path string, data []byte, mode fs.FileMode) (err error) {
	_, statErr := os.Stat(path)
	created := errors.Is(statErr, fs.ErrNotExist)
	return appendFile(path, data, os.O_CREATE, mode, created)
}

// AppendExisting appends data to path, which must exist, in one write,
// and fsyncs it before returning.
func AppendExisting(path string, data []byte) error {
	return appendFile(path, data, 0, 0, false)
}

func appendFile(path string, data []byte, flag int, mode fs.FileMode, created bool) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|flag, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if created {
		return SyncDir(filepath.Dir(path))
	}
	return nil
}

// MkdirSecret creates dir (and missing parents) with mode 0700 and checks
// that an existing dir is not open to group or others.
func MkdirSecret(dir string) error {
	if err := os.MkdirAll(dir, SecretDirMode); err != nil {
		return err
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("folder %s has mode %04o, want 0700", dir, fi.Mode().Perm())
	}
	return nil
}

// SyncDir fsyncs a folder so that a rename or create in it is durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}

// ErrNotRegular reports an input path that is not a regular file: a FIFO
// would block a reader forever and a device such as /dev/zero never ends.
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge reports an input file larger than its reader accepts.
var ErrTooLarge = errors.New("file too large")

// ReadRegular reads the regular file at path, at most max bytes. It opens
// without blocking (a FIFO would otherwise wait for a writer), refuses
// anything but a regular file with ErrNotRegular, and a file larger than
// max (or one that grows past it while read) with ErrTooLarge. Errors name
// the path but never its content.
func ReadRegular(path string, max int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w", path, ErrNotRegular)
	}
	if fi.Size() > max {
		return nil, fmt.Errorf("%s is %d bytes, more than %d: %w", path, fi.Size(), max, ErrTooLarge)
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s grew past %d bytes while read: %w", path, max, ErrTooLarge)
	}
	return b, nil
}

// ErrEmptyFolder reports a folder given as input that holds no input file.
var ErrEmptyFolder = errors.New("the folder holds no file")

// Inputs is the one rule of which files a folder given as input stands
// for: each folder among paths is replaced by the regular files directly
// inside it, by name, leaving out dot files and anything else (folders,
// links, FIFOs); any other path is kept as given, for its reader to judge.
// A folder that holds no input file is an error wrapping ErrEmptyFolder.
// Errors name the folder.
func Inputs(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil || !fi.IsDir() {
			out = append(out, p)
			continue
		}
		des, err := os.ReadDir(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		n := len(out)
		for _, de := range des {
			if de.Type().IsRegular() && !strings.HasPrefix(de.Name(), ".") {
				out = append(out, filepath.Join(p, de.Name()))
			}
		}
		if len(out) == n {
			return nil, fmt.Errorf("%s: %w", p, ErrEmptyFolder)
		}
	}
	return out, nil
}

// ReadAllWiping is io.ReadAll for secrets: it zeroes the buffers it
// outgrows, and what it read when it fails.
func ReadAllWiping(r io.Reader) ([]byte, error) {
	b := make([]byte, 0, 1024)
	for {
		if len(b) == cap(b) {
			nb := make([]byte, len(b), 2*cap(b))
			copy(nb, b)
			clear(b)
			b = nb
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if errors.Is(err, io.EOF) {
			return b, nil
		}
		if err != nil {
			clear(b)
			return nil, err
		}
	}
}

// PrepareDir makes sure dir exists (creating it with mode if need be) and
// that a file can be created in it, by creating and removing one: a
// command checks every output before it does anything that cannot be
// undone.
func PrepareDir(dir string, mode fs.FileMode) error {
	if err := os.MkdirAll(dir, mode); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".kesrotate-probe-*")
	if err != nil {
		return err
	}
	name := f.Name()
	_ = f.Close()
	return os.Remove(name)
}

// PrepareDirUndo is PrepareDir that also returns how to take back the
// folders it created, for a command that is refused after the check:
// undo removes them, deepest first, as long as they are still empty.
func PrepareDirUndo(dir string, mode fs.FileMode) (undo func(), err error) {
	var created []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil || filepath.Dir(d) == d {
			break
		}
		created = append(created, d)
	}
	undo = func() {
		for _, d := range created {
			if os.Remove(d) != nil {
				return
			}
		}
	}
	if err := PrepareDir(dir, mode); err != nil {
		undo()
		return func() {}, err
	}
	return undo, nil
}
