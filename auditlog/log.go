package auditlog

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/kesrotate/kesrotate/internal/safefile"

	"golang.org/x/mod/sumdb/note"
)

// Log is an open, writable ceremony log. It is not safe for concurrent use
// by goroutines. Between processes (or Log values), Append is a compare-
// and-swap on the length of FileEntries under an flock of that file: of
// writers that opened the log at the same size, one appends and the others
// get ErrConcurrent, so two entries never share an index. (The vault also
// lets only one command at a time change it.)
type Log struct {
	dir      string
	signer   note.Signer
	vaultID  string
	auditKey string
	tree     *tree
	sem      *semState
	latest   Checkpoint
	size     int64 // bytes of FileEntries this Log has read or written
	broken   error // set when a failed write left the on-disk log ahead of memory
	lastLine []byte
	// stateDirty: FileState does not say what this Log knows (SaveState).
	stateDirty bool
	// ckptBehind: FileCheckpoint is older than latest (Flush).
	ckptBehind bool
}

const (
	dirMode  = 0o700
	fileMode = 0o644
)

// Create makes a new log in dir (which must not exist, or be empty) for
// the vault of key, writes FileAuditKey, and appends the init entry built
// from init (Kind is set to init; Detail gains vault_id and audit_key; the
// caller fills Time, BinarySHA256, Version, Operator, Witnesses, Files).
// The signing key itself is not written: store it with WriteSignerKey
// where the vault keeps its secrets. It returns the log and the init
// entry's checkpoint.
func Create(dir string, key SignerKey, init Entry) (*Log, Checkpoint, error) {
	s, err := key.signer()
	if err != nil {
		return nil, Checkpoint{}, err
	}
	vaultID, err := vaultIDFromOrigin(s.Name())
	if err != nil {
		return nil, Checkpoint{}, fmt.Errorf("create log: %w", err)
	}
	vkey, err := key.VerifierKey()
	if err != nil {
		return nil, Checkpoint{}, err
	}
	if err := os.Mkdir(dir, dirMode); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, Checkpoint{}, fmt.Errorf("create log: %w", err)
	}
	if des, err := os.ReadDir(dir); err != nil {
		return nil, Checkpoint{}, fmt.Errorf("create log: %w", err)
	} else if len(des) > 0 {
		return nil, Checkpoint{}, fmt.Errorf("create log: %w: %s is not empty", ErrExists, dir)
	}
	if err := os.Mkdir(filepath.Join(dir, DirCheckpoints), dirMode); err != nil {
		return nil, Checkpoint{}, fmt.Errorf("create log: %w", err)
	}
	if err := writeNew(filepath.Join(dir, FileAuditKey), []byte(vkey+"\n")); err != nil {
		return nil, Checkpoint{}, fmt.Errorf("create log: %w", err)
	}
	if err := writeNew(filepath.Join(dir, FileEntries), nil); err != nil {
		return nil, Checkpoint{}, fmt.Errorf("create log: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return nil, Checkpoint{}, fmt.Errorf("create log: %w", err)
	}
	l := &Log{dir: dir, signer: s, vaultID: vaultID, auditKey: vkey, tree: &tree{}, sem: newSemState(vaultID, vkey)}
	l.sem.signedOnly = true
	detail := map[string]string{}
	for k, v := range init.Detail {
		detail[k] = v
	}
	for k, v := range map[string]string{DetailVaultID: vaultID, DetailAuditKey: vkey, DetailFormat: LogFormat} {
		if old, ok := detail[k]; ok && old != v {
			return nil, Checkpoint{}, fmt.Errorf("create log: %w: detail %s is set by the log", ErrInvalidEntry, k)
		}
		detail[k] = v
	}
	init.Kind = KindInit
	init.Detail = detail
	_, c, err := l.append(init)
	if err == nil {
		err = l.flushCheckpoint()
	}
	if err != nil {
		return nil, Checkpoint{}, fmt.Errorf("create log: %w", err)
	}
	return l, c, nil
}

// Open opens the log in dir for appending with the vault's audit signing
// key. It runs Verify's structural checks (not the ceremony rules, so a
// recorded violation never locks the vault) and completes an append that
// was interrupted after its checkpoint was written. Entries after the
// latest checkpoint make it fail with ErrUnsealed: see Seal.
func Open(dir string, key SignerKey) (*Log, error) {
	s, err := key.signer()
	if err != nil {
		return nil, err
	}
	vkey, err := key.VerifierKey()
	if err != nil {
		return nil, err
	}
	// A shared lock: no writer is between its line and its checkpoint.
	unlock, err := lockEntries(dir, syscall.LOCK_SH)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	defer unlock()
	// A temporary file in the log's root is a state or checkpoint write
	// that a crash interrupted; one among the checkpoints comes with
	// entries the saved state does not cover, so the full check below
	// removes those.
	_ = safefile.RemoveTemps(dir)
	if v, vaultID, err := parseVerifierKey(vkey); err == nil && readsKey(dir, vkey) {
		if l, ok := openFast(dir, s, v, vkey, vaultID); ok {
			return l, nil
		}
	}
	return openFull(dir, s, vkey)
}

// readsKey reports whether dir's FileAuditKey is vkey (Open's full check
// compares them too).
func readsKey(dir, vkey string) bool {
	b, err := os.ReadFile(filepath.Join(dir, FileAuditKey))
	return err == nil && string(b) == vkey+"\n"
}

// openFull is Open checking the whole log, as Verify does but for the
// ceremony rules; the Log's state is then saved by SaveState.
func openFull(dir string, s note.Signer, vkey string) (*Log, error) {
	removeTemps(dir)
	st, verr := structure(os.DirFS(dir), VerifyOptions{AuditKey: vkey}, false)
	if verr != nil {
		return nil, fmt.Errorf("open log: %w", verr)
	}
	l := &Log{dir: dir, signer: s, vaultID: st.vaultID, auditKey: vkey, tree: st.tree, sem: newSemState(st.vaultID, vkey), latest: st.latest, size: st.complete,
		lastLine: st.lastLine, stateDirty: true}
	l.sem.signedOnly = true
	for i := range st.entries {
		l.sem.apply(&st.entries[i])
	}
	if err := l.repair(st); err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	return l, nil
}

// repair rewrites FileCheckpoint and a missing newest checkpoint file.
func (l *Log) repair(st *state) error {
	if st.fileCkpt.Size < st.latest.Size {
		if err := writeReplace(l.dir, FileCheckpoint, st.latest.Note); err != nil {
			return err
		}
	}
	p := filepath.Join(l.dir, filepath.FromSlash(CheckpointFile(st.latest.Size)))
	if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
		if err := writeReplace(l.dir, CheckpointFile(st.latest.Size), st.latest.Note); err != nil {
			return err
		}
	}
	return nil
}

// Seal checkpoints entries left after the latest checkpoint by an
// interrupted append, after dropping an incomplete last line. Each entry
// must still parse and follow in sequence. Use it only after the operator
// has looked at those entries: it signs whatever complete lines are there.
func Seal(dir string, key SignerKey) (Checkpoint, error) {
	s, err := key.signer()
	if err != nil {
		return Checkpoint{}, err
	}
	vkey, err := key.VerifierKey()
	if err != nil {
		return Checkpoint{}, err
	}
	unlock, err := lockEntries(dir, syscall.LOCK_EX)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("seal log: %w", err)
	}
	defer unlock()
	removeTemps(dir)
	st, verr := structure(os.DirFS(dir), VerifyOptions{AuditKey: vkey}, false)
	if verr == nil {
		return st.latest, nil
	}
	if !errors.Is(verr, ErrUnsealed) {
		return Checkpoint{}, fmt.Errorf("seal log: %w", verr)
	}
	l := &Log{dir: dir, signer: s, vaultID: st.vaultID, auditKey: vkey, tree: st.tree, latest: st.latest}
	if err := l.repair(st); err != nil {
		return Checkpoint{}, fmt.Errorf("seal log: %w", err)
	}
	if st.torn > 0 {
		if err := truncateFile(filepath.Join(dir, FileEntries), st.complete); err != nil {
			return Checkpoint{}, fmt.Errorf("seal log: %w", err)
		}
	}
	for size := st.latest.Size + 1; size <= st.tree.n; size++ {
		if err := l.checkpoint(size); err != nil {
			return Checkpoint{}, fmt.Errorf("seal log: %w", err)
		}
	}
	if err := l.flushCheckpoint(); err != nil {
		return Checkpoint{}, fmt.Errorf("seal log: %w", err)
	}
	return l.latest, nil
}

// VaultID returns the vault id of the log.
func (l *Log) VaultID() string { return l.vaultID }

// AuditKey returns the audit verifier key text (FileAuditKey).
func (l *Log) AuditKey() string { return l.auditKey }

// Size returns the number of entries.
func (l *Log) Size() int64 { return l.tree.n }

// Pins returns the producer pins the log in dir records, by name, as
// Log.Pin does, reading only: after the structural checks Open makes
// against the log's own audit.pub (the caller that then writes opens the
// log with its key, which must match).
func Pins(dir string) (map[string]PinRecord, error) {
	unlock, err := lockEntries(dir, syscall.LOCK_SH)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if b, err := os.ReadFile(filepath.Join(dir, FileAuditKey)); err == nil {
		vkey := strings.TrimSuffix(string(b), "\n")
		if v, vaultID, err := parseVerifierKey(vkey); err == nil {
			if l, ok := openFast(dir, nil, v, vkey, vaultID); ok {
				if pins := l.sem.allPins(); l.sem.bad == nil {
					return pins, nil
				}
			}
		}
	}
	st, verr := structure(os.DirFS(dir), VerifyOptions{}, false)
	if verr != nil {
		return nil, verr
	}
	sem := newSemState(st.vaultID, st.auditKey)
	for i := range st.entries {
		sem.apply(&st.entries[i])
	}
	return sem.pins, nil
}

// Pins returns the producer pins the log records, by name, as Pin does.
func (l *Log) Pins() map[string]PinRecord {
	if pins := l.sem.allPins(); l.sem.bad == nil {
		return pins
	}
	l.reload()
	return maps.Clone(l.sem.pins)
}

// PinOf returns the pin of the producer called name that the log in dir
// records, reading only, as Pins does.
func PinOf(dir, name string) (PinRecord, bool, error) {
	unlock, err := lockEntries(dir, syscall.LOCK_SH)
	if err != nil {
		return PinRecord{}, false, err
	}
	defer unlock()
	if b, err := os.ReadFile(filepath.Join(dir, FileAuditKey)); err == nil {
		vkey := strings.TrimSuffix(string(b), "\n")
		if v, vaultID, err := parseVerifierKey(vkey); err == nil {
			if l, ok := openFast(dir, nil, v, vkey, vaultID); ok {
				if r, ok := l.sem.pin(name); l.sem.bad == nil {
					return r, ok, nil
				}
			}
		}
	}
	unlock()
	pins, err := Pins(dir)
	if err != nil {
		return PinRecord{}, false, err
	}
	r, ok := pins[name]
	return r, ok, nil
}

// Pin returns the pin of the producer called name, as the log's entries
// record it: signed by the pool's cold key (format 2), or (format 1) as
// the audit key alone vouches for it. A pin whose cold-key signature does
// not verify is not returned.
func (l *Log) Pin(name string) (PinRecord, bool) {
	p, ok := l.sem.pin(name)
	if l.sem.bad != nil {
		l.reload()
		p, ok = l.sem.pins[name]
	}
	return p, ok
}

// reload replaces what l knows, loaded from a saved state whose cold-key
// evidence did not verify, by a full check of the log. If that fails, l
// refuses further appends with its error.
func (l *Log) reload() {
	unlock, err := lockEntries(l.dir, syscall.LOCK_SH)
	if err != nil {
		l.broken = err
		return
	}
	defer unlock()
	full, err := openFull(l.dir, l.signer, l.auditKey)
	if err != nil {
		l.broken = err
		l.sem = newSemState(l.vaultID, l.auditKey)
		l.sem.signedOnly = true
		return
	}
	*l = *full
}

// Current reports whether l can go on appending: no earlier write failed
// and no one appended to the log since l last read or wrote it. A caller
// that keeps a Log open between commands of one process asks this before
// reusing it, and opens the log again otherwise.
func (l *Log) Current() bool {
	if l.broken != nil {
		return false
	}
	fi, err := os.Stat(filepath.Join(l.dir, FileEntries))
	return err == nil && fi.Size() == l.size
}

// PoolLogged reports whether a pool-new or pool-import entry names the
// pool (hex id), and whether an audit-binding entry bound it (or, for a
// pool whose cold key is on a hardware wallet, a hardware-key entry named
// its key).
func (l *Log) PoolLogged(pool string) (created, bound bool) {
	p := l.sem.pools[pool]
	if p == nil {
		return false, false
	}
	return p.created, p.keyed()
}

// RemovedPin returns the last pin of that name a producer-removed entry
// ended (the name is not pinned now, or was pinned again since).
func (l *Log) RemovedPin(name string) (PinRecord, bool) {
	for i := len(l.sem.removed) - 1; i >= 0; i-- {
		if l.sem.removed[i].Producer == name {
			return l.sem.removed[i], true
		}
	}
	return PinRecord{}, false
}

// CertLogged reports whether a cert-issued entry records the cert of
// that hash.
func (l *Log) CertLogged(certHash string) bool {
	_, ok := l.sem.certs.get(certHash)
	return ok
}

// Checkpoint returns the latest signed checkpoint (its Note is what leaves
// the machine with a bundle).
func (l *Log) Checkpoint() Checkpoint { return l.latest }

// Check reports whether e would be accepted by Append and would keep the
// log within the ceremony rules that Verify checks (counter and KES period
// rules, certs exported only after being issued, pools bound before their
// first cert). Call it before the action the entry records. The error
// wraps ErrInvalidEntry, ErrSemantics or ErrBinding.
func (l *Log) Check(e Entry) error {
	e, err := l.prepare(e)
	if err != nil {
		return err
	}
	verr := l.sem.check(&e)
	if l.sem.bad != nil {
		l.reload()
		if l.broken != nil {
			return l.broken
		}
		verr = l.sem.check(&e)
	}
	if verr != nil {
		return verr
	}
	return nil
}

// Append writes e as the next entry and a new checkpoint covering it, and
// returns the entry as stored and the checkpoint. Seq is assigned; Time and
// TipTime are stored in UTC at whole seconds. Append does not enforce the
// ceremony rules (an action that happened is recorded even if it broke
// them; Verify will report it): use Check first. It refuses malformed
// entries, init entries, and audit-binding entries whose binding does not
// verify for this vault and audit key.
//
// Crash safety: the line is appended and fsynced, then the checkpoint is
// written to checkpoints/<size>.note by temp file, fsync, rename and an
// fsync of the checkpoints folder: three fsyncs. A crash in between leaves
// a log that Open completes, or that Open refuses with ErrUnsealed.
// FileCheckpoint follows at Flush, once for a run of appends.
func (l *Log) Append(e Entry) (Entry, Checkpoint, error) {
	if e.Kind == KindInit {
		return Entry{}, Checkpoint{}, fmt.Errorf("append: %w: init entries are written by Create", ErrInvalidEntry)
	}
	if e.Kind == KindAuditBinding && e.Binding != nil {
		b := e.Binding
		if b.VaultID != l.vaultID || b.AuditKey != l.auditKey {
			return Entry{}, Checkpoint{}, fmt.Errorf("append: %w: binding is for another vault or audit key", ErrBinding)
		}
		if err := VerifyBinding(*b, nil); err != nil {
			return Entry{}, Checkpoint{}, fmt.Errorf("append: %w", err)
		}
		if pool, _ := b.Pool(); pool != e.Pool {
			return Entry{}, Checkpoint{}, fmt.Errorf("append: %w: entry pool differs from the binding's", ErrBinding)
		}
	}
	return l.append(e)
}

func (l *Log) prepare(e Entry) (Entry, error) {
	e.Seq = l.tree.n
	e.Time = e.Time.UTC().Truncate(time.Second)
	if e.TipTime != nil {
		t := e.TipTime.UTC().Truncate(time.Second)
		e.TipTime = &t
	}
	if err := e.Validate(); err != nil {
		return Entry{}, err
	}
	return e, nil
}

func (l *Log) append(e Entry) (Entry, Checkpoint, error) {
	if l.broken != nil {
		return Entry{}, Checkpoint{}, fmt.Errorf("append: log needs reopening after an earlier failure: %w", l.broken)
	}
	e, err := l.prepare(e)
	if err != nil {
		return Entry{}, Checkpoint{}, fmt.Errorf("append: %w", err)
	}
	line, err := marshalEntry(&e)
	if err != nil {
		return Entry{}, Checkpoint{}, fmt.Errorf("append: %w: %w", ErrInvalidEntry, err)
	}
	if _, err := ParseEntry(line); err != nil { // what we write must verify
		return Entry{}, Checkpoint{}, fmt.Errorf("append: %w: %w", ErrInvalidEntry, err)
	}
	// Line and checkpoint under an exclusive lock of FileEntries, and only
	// if no one appended since this Log last read or wrote it.
	f, err := os.OpenFile(filepath.Join(l.dir, FileEntries), os.O_RDWR, 0)
	if err != nil {
		return Entry{}, Checkpoint{}, fmt.Errorf("append: %w", err)
	}
	defer f.Close() // releases the lock
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return Entry{}, Checkpoint{}, fmt.Errorf("append: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		return Entry{}, Checkpoint{}, fmt.Errorf("append: %w", err)
	}
	if fi.Size() != l.size {
		l.broken = ErrConcurrent
		return Entry{}, Checkpoint{}, fmt.Errorf("append: %w: %d bytes now, %d when opened", ErrConcurrent, fi.Size(), l.size)
	}
	if err := writeLineAt(f, line, l.size); err != nil {
		l.broken = err
		return Entry{}, Checkpoint{}, fmt.Errorf("append: %w", err)
	}
	l.size += int64(len(line)) + 1
	if err := l.tree.add(line); err != nil {
		l.broken = err
		return Entry{}, Checkpoint{}, fmt.Errorf("append: %w", err)
	}
	l.lastLine, l.stateDirty = line, true
	l.sem.apply(&e) // saved evidence that fails here (sem.bad) makes the next Check reload
	if err := l.checkpoint(l.tree.n); err != nil {
		l.broken = err
		return Entry{}, Checkpoint{}, fmt.Errorf("append: %w", err)
	}
	return e, l.latest, nil
}

// checkpoint signs the tree at size and writes checkpoints/<size>.note:
// temporary file, fsync, rename, fsync of the checkpoints folder. The
// latest-checkpoint file FileCheckpoint follows at Flush (a log whose
// FileCheckpoint is older than its newest numbered checkpoint verifies,
// and Open brings it up to date).
func (l *Log) checkpoint(size int64) error {
	root, err := l.tree.root(size)
	if err != nil {
		return err
	}
	c, err := signCheckpoint(Checkpoint{Origin: Origin(l.vaultID), Size: size, Root: root}, l.signer)
	if err != nil {
		return err
	}
	if err := writeReplace(l.dir, CheckpointFile(size), c.Note); err != nil {
		return err
	}
	l.latest, l.ckptBehind = c, true
	return nil
}

// flushCheckpoint writes the latest checkpoint to FileCheckpoint if it
// is behind.
func (l *Log) flushCheckpoint() error {
	if !l.ckptBehind {
		return nil
	}
	if err := writeReplace(l.dir, FileCheckpoint, l.latest.Note); err != nil {
		return err
	}
	l.ckptBehind = false
	return nil
}

// Flush ends a run of appends: it writes the latest checkpoint to
// FileCheckpoint (fsynced) and the log's state for the next Open
// (FileState, a cache: not fsynced). Each Append has already made its
// line and its numbered checkpoint durable; a process that stops before
// Flush leaves a log that verifies, whose next Open brings
// FileCheckpoint up to date.
func (l *Log) Flush() error {
	if l.broken != nil {
		return nil
	}
	if err := l.flushCheckpoint(); err != nil {
		return err
	}
	return l.SaveState()
}

// Entries reads the entries of the log or package in dir, checking only
// that each line is a canonical, well-formed entry in sequence. It returns
// the entries before the first bad line together with an *Error for it.
// Use Verify to trust them.
func Entries(dir string) ([]Entry, error) {
	data, err := os.ReadFile(filepath.Join(dir, FileEntries))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fail(ErrMissingFile, NoSeq, FileEntries, "", nil)
		}
		return nil, fmt.Errorf("read entries: %w", err)
	}
	var out []Entry
	lines := strings.SplitAfter(string(data), "\n")
	for i, l := range lines {
		if l == "" {
			continue
		}
		line, ok := strings.CutSuffix(l, "\n")
		if !ok {
			return out, fail(ErrUnsealed, int64(i), FileEntries, "incomplete last line", nil)
		}
		e, err := ParseEntry([]byte(line))
		if err != nil {
			return out, fail(ErrTampered, int64(i), FileEntries, "", err)
		}
		if e.Seq != int64(i) {
			return out, fail(ErrTampered, int64(i), FileEntries, fmt.Sprintf("seq is %d, want %d", e.Seq, i), nil)
		}
		out = append(out, e)
	}
	return out, nil
}

// LoadCheckpoints reads every "*.note" file in dir (for example a folder
// of checkpoints kept by the agent), sorted by name, for
// VerifyOptions.Checkpoints. It does not verify them.
func LoadCheckpoints(dir string) ([][]byte, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("load checkpoints: %w", err)
	}
	var out [][]byte
	for _, de := range des {
		if !strings.HasSuffix(de.Name(), ".note") || !de.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, de.Name()))
		if err != nil {
			return nil, fmt.Errorf("load checkpoints: %w", err)
		}
		if len(b) > MaxCheckpoint {
			return nil, fmt.Errorf("load checkpoints: %s: %w: larger than %d bytes", de.Name(), ErrMalformed, MaxCheckpoint)
		}
		out = append(out, b)
	}
	return out, nil
}

// writeNew creates a file that must not exist, writes and fsyncs it.
func writeNew(path string, data []byte) error {
	return safefile.Create(path, data, fileMode)
}

// writeReplace atomically replaces dir/rel (temp file beside it, fsync,
// rename, fsync of its folder). The folder's own entry in dir was made
// durable when the log was created.
func writeReplace(dir, rel string, data []byte) error {
	return safefile.Replace(filepath.Join(dir, filepath.FromSlash(rel)), data, fileMode)
}

// writeLineAt writes line and a newline at off and fsyncs f.
func writeLineAt(f *os.File, line []byte, off int64) error {
	buf := make([]byte, 0, len(line)+1)
	buf = append(append(buf, line...), '\n')
	if _, err := f.WriteAt(buf, off); err != nil {
		return err
	}
	return f.Sync()
}

// lockEntries takes an flock (how: syscall.LOCK_SH or LOCK_EX) of dir's
// FileEntries and returns its release. A missing file is not locked (the
// structure check reports it).
func lockEntries(dir string, how int) (func(), error) {
	f, err := os.Open(filepath.Join(dir, FileEntries))
	if errors.Is(err, fs.ErrNotExist) {
		return func() {}, nil
	}
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

func appendLine(path string, line []byte) error {
	buf := make([]byte, 0, len(line)+1)
	return safefile.AppendExisting(path, append(append(buf, line...), '\n'))
}

func truncateFile(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if err := f.Truncate(size); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error { return safefile.SyncDir(dir) }

// removeTemps deletes temp files an interrupted writeReplace left behind.
func removeTemps(dir string) {
	_ = safefile.RemoveTemps(dir)
	_ = safefile.RemoveTemps(filepath.Join(dir, DirCheckpoints))
}
