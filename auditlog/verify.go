package auditlog

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/kesrotate/kesrotate/internal/safefile"
	"github.com/kesrotate/kesrotate/internal/textsafe"
	"github.com/kesrotate/kesrotate/opcert"
)

// The on-disk layout of a log directory and of an exported package (both
// are the same; a package adds FileManifest and the caller's extra files).
const (
	FileEntries    = "entries.jsonl" // one canonical JSON entry per line
	FileCheckpoint = "checkpoint"    // latest signed checkpoint note
	DirCheckpoints = "checkpoints"   // every checkpoint issued, "<size>.note"
	FileAuditKey   = "audit.pub"     // audit note verifier key text + "\n"
	FileManifest   = "SHA256SUMS"    // packages only: "<sha256 hex>  <path>\n" per file, sorted
)

// CheckpointFile returns the path of the checkpoint of size n.
func CheckpointFile(n int64) string { return DirCheckpoints + "/" + strconv.FormatInt(n, 10) + ".note" }

// VerifyOptions tells Verify what else the auditor holds.
type VerifyOptions struct {
	// Checkpoints are signed checkpoint notes kept outside the log (by the
	// producer's agent, by an auditor from an earlier export). Each must be
	// signed by the audit key and consistent with the log.
	Checkpoints [][]byte
	// PoolVKeys are raw 32-byte cold vkeys of the pools the auditor cares
	// about; each must have a valid audit-key binding in the log.
	PoolVKeys []ed25519.PublicKey
	// AuditKey, if set, is the audit verifier key text the auditor expects.
	AuditKey string
	// VaultID, if set, is the vault id the auditor expects.
	VaultID string
	// RequireManifest demands FileManifest (an exported package). Without
	// it, a manifest is checked only when present.
	RequireManifest bool
	// Countersigners, if any, must each have countersigned every one of
	// Checkpoints (the producer's agent countersigns the checkpoints it
	// keeps): an outside checkpoint without them is a bad signature.
	Countersigners []note.Verifier
	// Certs are op certs seen in the field; each must have been issued in
	// the log (ErrNotInLog), for a pool the log holds (ErrForeignCert).
	Certs []SeenCert
	// Progress, if set, is called as the work goes on: stage names what
	// is being checked ("checkpoint signatures", "entries", "checkpoints
	// against the tree"), done of total items.
	Progress func(stage string, done, total int)
}

func (o VerifyOptions) progress(stage string, done, total int) {
	if o.Progress != nil && (done%256 == 0 || done == total) {
		o.Progress(stage, done, total)
	}
}

// CheckpointInfo describes one checkpoint Verify checked.
type CheckpointInfo struct {
	File    string   `json:"file"` // path in the directory, or "extra[i]"
	Size    int64    `json:"size"`
	Root    string   `json:"root"`    // base64, as in the note
	Signers []string `json:"signers"` // names on the note's signature lines, audit key first
	Outside bool     `json:"outside"` // held outside the log (VerifyOptions.Checkpoints), not in its folder
}

// Report is what Verify established. On failure it holds what was
// established before the failure.
type Report struct {
	VaultID     string           `json:"vault_id"`
	Origin      string           `json:"origin"`
	AuditKey    string           `json:"audit_key"`
	TreeSize    int64            `json:"tree_size"`
	Root        string           `json:"root"` // base64 RFC 6962 root over all entries
	Manifest    bool             `json:"manifest"`
	Checkpoints []CheckpointInfo `json:"checkpoints"`
	Pools       []PoolBinding    `json:"pools"`
	Certs       []CertRecord     `json:"certs"`
	Producers   []PinRecord      `json:"producers"`
	Format      string           `json:"log_format"` // "2", or "1" for logs before cold-key evidence
	// Prepared are rotations prepared for a hardware wallet that no
	// cert-issued or cert-abandoned entry ended (hardware.go).
	Prepared []PreparedRecord `json:"open_preparations,omitempty"`
	// Entries are the log's entries, as far as they were read (what
	// Entries returns, without reading the file again).
	Entries []Entry `json:"-"`
}

// Verify checks a log directory or an exported package with public keys
// only. The returned error, if any, is an *Error naming the first problem.
func Verify(dir string, opts VerifyOptions) (*Report, error) {
	return VerifyFS(os.DirFS(dir), opts)
}

// VerifyFS is Verify over any file system holding the layout at its root.
func VerifyFS(fsys fs.FS, opts VerifyOptions) (*Report, error) {
	st, verr := structure(fsys, opts, true)
	defer st.report.noNulls()
	st.report.Entries = st.entries
	if verr != nil {
		return st.report, verr
	}
	sem := newSemState(st.vaultID, st.auditKey)
	for i := range st.entries {
		if verr := sem.apply(&st.entries[i]); verr != nil {
			st.report.Certs, st.report.Producers = sem.issued, sem.pinRecords()
			return st.report, verr
		}
	}
	st.report.Certs, st.report.Producers = sem.issued, sem.pinRecords()
	st.report.Prepared = sem.openPreparations()
	st.report.Format = "1"
	if sem.format != "" {
		st.report.Format = sem.format
	}
	pools, verr := sem.bindings(opts.PoolVKeys)
	if verr != nil {
		return st.report, verr
	}
	st.report.Pools = pools
	if verr := checkCountersigned(opts); verr != nil {
		return st.report, verr
	}
	return st.report, checkSeenCerts(st.report, opts.Certs)
}

// SeenCert is an op cert found in the field, and where (a file name) for
// the messages.
type SeenCert struct {
	Name string
	Cert *opcert.Certificate
}

func checkCountersigned(opts VerifyOptions) error {
	if len(opts.Countersigners) == 0 {
		return nil
	}
	for i, msg := range opts.Checkpoints {
		if _, err := note.Open(msg, note.VerifierList(opts.Countersigners...)); err != nil {
			return &Error{Kind: ErrBadSignature, Seq: NoSeq, File: fmt.Sprintf("extra[%d]", i), Reason: "no valid countersignature", Err: err}
		}
	}
	return nil
}

// checkSeenCerts: every cert seen in the field was issued in the log. A
// cert of a pool the log holds nothing of is another vault's, which is a
// different finding from a cert made behind the ceremony's back.
func checkSeenCerts(r *Report, certs []SeenCert) error {
	issued := map[string]bool{}
	for _, c := range r.Certs {
		issued[c.CertHash] = true
	}
	held := map[string]bool{}
	for _, p := range r.Pools {
		held[p.Pool] = true
	}
	for _, c := range r.Certs {
		held[c.Pool] = true
	}
	for _, sc := range certs {
		c := sc.Cert
		if issued[c.Hash()] {
			continue
		}
		if !held[c.PoolID().Hex()] {
			return &Error{Kind: ErrForeignCert, Seq: NoSeq, Reason: fmt.Sprintf("%s is for pool %s", sc.Name, c.PoolID().Bech32())}
		}
		return &Error{Kind: ErrNotInLog, Seq: NoSeq, Reason: fmt.Sprintf("%s (pool %s, counter %d, KES period %d, cert hash %s)", sc.Name, c.PoolID().Hex(), c.Counter, c.KESPeriod, c.Hash())}
	}
	return nil
}

// noNulls makes r's lists empty rather than nil, so that its JSON has a
// list, possibly empty, wherever it documents one.
func (r *Report) noNulls() {
	if r.Checkpoints == nil {
		r.Checkpoints = []CheckpointInfo{}
	}
	for i := range r.Checkpoints {
		if r.Checkpoints[i].Signers == nil {
			r.Checkpoints[i].Signers = []string{}
		}
	}
	if r.Pools == nil {
		r.Pools = []PoolBinding{}
	}
	if r.Certs == nil {
		r.Certs = []CertRecord{}
	}
	if r.Producers == nil {
		r.Producers = []PinRecord{}
	}
}

// state is what the structural checks load.
type state struct {
	report   *Report
	verifier note.Verifier
	vaultID  string
	auditKey string
	entries  []Entry
	tree     *tree
	latest   Checkpoint // largest local checkpoint
	fileCkpt Checkpoint // the FileCheckpoint note
	torn     int64      // bytes of an incomplete last line, 0 if none
	complete int64      // bytes of complete lines
	lastLine []byte     // the last complete line
}

// structure runs every check but the semantic ones. When it fails with
// ErrUnsealed, st is fully loaded (Seal relies on this).
func structure(fsys fs.FS, opts VerifyOptions, checkManifest bool) (*state, *Error) {
	st := &state{report: &Report{}, tree: &tree{}}
	r := st.report

	// The audit key.
	keyText, verr := readFile(fsys, FileAuditKey)
	if verr != nil {
		return st, verr
	}
	text, ok := strings.CutSuffix(string(keyText), "\n")
	if !ok || strings.ContainsAny(text, "\r\n") {
		return st, fail(ErrMalformed, NoSeq, FileAuditKey, "not one line of key text", nil)
	}
	v, vaultID, err := parseVerifierKey(text)
	if err != nil {
		return st, fail(ErrMalformed, NoSeq, FileAuditKey, "", err)
	}
	st.verifier, st.vaultID, st.auditKey = v, vaultID, text
	r.VaultID, r.Origin, r.AuditKey = vaultID, v.Name(), text
	if opts.VaultID != "" && opts.VaultID != vaultID {
		return st, fail(ErrForeignLog, NoSeq, FileAuditKey, fmt.Sprintf("log is vault %s, want %s", vaultID, textsafe.Clip(opts.VaultID, 40)), nil)
	}
	if opts.AuditKey != "" && opts.AuditKey != text {
		if _, wantID, err := parseVerifierKey(opts.AuditKey); err == nil && wantID != vaultID {
			return st, fail(ErrForeignLog, NoSeq, FileAuditKey, fmt.Sprintf("log is vault %s, expected audit key is for vault %s", vaultID, wantID), nil)
		}
		return st, fail(ErrBinding, NoSeq, FileAuditKey, "audit key differs from the expected key", nil)
	}

	// The manifest.
	if checkManifest {
		present, verr := verifyManifest(fsys, opts.RequireManifest)
		if verr != nil {
			return st, verr
		}
		r.Manifest = present
	}

	// Checkpoints kept in the directory.
	var all []checked
	fc, verr := loadCheckpoint(fsys, FileCheckpoint, v)
	if verr != nil {
		return st, verr
	}
	st.fileCkpt = fc
	all = append(all, checked{FileCheckpoint, fc, false})
	sizes := map[int64]bool{}
	des, err := fs.ReadDir(fsys, DirCheckpoints)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return st, fail(ErrMissingFile, NoSeq, DirCheckpoints, "", nil)
		}
		return st, fail(ErrMalformed, NoSeq, DirCheckpoints, "", err)
	}
	var leftover string
	// The numbered checkpoints' signatures are checked together (batch.go);
	// each is parsed and checked otherwise as openCheckpoint does.
	batch := &sigBatch{pub: verifierPublicKey(text)}
	var batched []checked
	for i, de := range des {
		opts.progress("checkpoint signatures", i+1, len(des))
		name := DirCheckpoints + "/" + de.Name()
		if safefile.IsTemp(de.Name()) && de.Type().IsRegular() {
			leftover = name // an interrupted checkpoint write: see below
			continue
		}
		size, ok := checkpointName(de.Name())
		if !ok || !de.Type().IsRegular() {
			return st, fail(ErrTampered, NoSeq, name, "unexpected file among checkpoints", nil)
		}
		msg, verr := readFile(fsys, name)
		if verr != nil {
			return st, verr
		}
		c, n, verr := parseCheckpointUnverified(msg, v, name)
		inBatch := verr == nil && batch.add(n, v)
		if !inBatch {
			// Checked alone: the error says what is wrong with it.
			if c, verr = openCheckpoint(msg, v, name); verr != nil {
				return st, verr
			}
		}
		if c.Size != size {
			return st, fail(ErrTampered, NoSeq, name, fmt.Sprintf("checkpoint of size %d in a file named for size %d", c.Size, size), nil)
		}
		sizes[size] = true
		all = append(all, checked{name, c, false})
		if inBatch {
			batched = append(batched, checked{name, c, false})
		}
	}
	if !batch.verify() {
		for _, c := range batched {
			if _, verr := openCheckpoint(c.c.Note, v, c.name); verr != nil {
				return st, verr
			}
		}
	}
	for _, c := range all {
		if c.c.Size > st.latest.Size {
			st.latest = c.c
		}
	}
	for i, msg := range opts.Checkpoints {
		name := fmt.Sprintf("extra[%d]", i)
		c, verr := openCheckpoint(msg, v, name)
		if verr != nil {
			return st, verr
		}
		all = append(all, checked{name, c, true})
	}

	// Entries.
	data, verr := readFile(fsys, FileEntries)
	if verr != nil {
		return st, verr
	}
	rest := data
	lines := bytes.Count(data, []byte{'\n'})
	for len(rest) > 0 {
		opts.progress("entries", len(st.entries)+1, lines)
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			st.torn = int64(len(rest))
			break
		}
		line := rest[:i]
		rest = rest[i+1:]
		st.complete += int64(i + 1)
		seq := int64(len(st.entries))
		e, err := ParseEntry(line)
		if err != nil {
			return st, fail(ErrTampered, seq, FileEntries, "", err)
		}
		if e.Seq != seq {
			return st, fail(ErrTampered, seq, FileEntries, fmt.Sprintf("seq is %d, want %d", e.Seq, seq), nil)
		}
		if seq == 0 && e.Kind == KindInit && e.Detail[DetailVaultID] != vaultID {
			return st, fail(ErrForeignLog, seq, FileEntries, fmt.Sprintf("init entry is for vault %q, log is vault %s", textsafe.Cut(e.Detail[DetailVaultID], 40), vaultID), nil)
		}
		if err := st.tree.add(line); err != nil {
			return st, fail(ErrMalformed, seq, FileEntries, "", err)
		}
		st.entries = append(st.entries, e)
		st.lastLine = line
	}
	n := st.tree.n
	r.TreeSize = n
	if n == 0 {
		return st, fail(ErrTruncated, 0, FileEntries, "log has no complete entry", nil)
	}
	root, err := st.tree.root(n)
	if err != nil {
		return st, fail(ErrMalformed, NoSeq, FileEntries, "", err)
	}
	r.Root = base64.StdEncoding.EncodeToString(root[:])

	// Every checkpoint, ours and the extra ones, against the tree.
	slices.SortStableFunc(all, func(a, b checked) int { return cmpInt(a.c.Size, b.c.Size) })
	var good int64
	for i, c := range all {
		opts.progress("checkpoints against the tree", i+1, len(all))
		if c.c.Size > n {
			return st, fail(ErrTruncated, n, c.name, fmt.Sprintf("checkpoint covers %d entries, log has %d", c.c.Size, n), nil)
		}
		proof, err := tlog.ProveTree(n, c.c.Size, st.tree)
		if err == nil {
			err = tlog.CheckTree(proof, n, root, c.c.Size, c.c.Root)
		}
		if err != nil {
			if c.extra {
				// The log was rewritten after the holder got this
				// checkpoint; which entry changed cannot be told.
				return st, fail(ErrTampered, NoSeq, c.name, fmt.Sprintf("log does not hold the %d entries this checkpoint signed", c.c.Size), err)
			}
			return st, fail(ErrTampered, good, c.name, fmt.Sprintf("entries %d..%d are not the ones this checkpoint signed", good, c.c.Size-1), err)
		}
		if !c.extra {
			good = c.c.Size
		}
		r.Checkpoints = append(r.Checkpoints, info(c))
	}

	// Every size 1..latest has its checkpoint file; the newest may exist
	// only as FileCheckpoint (an append interrupted between the two).
	for s := int64(1); s <= st.latest.Size; s++ {
		if !sizes[s] && !(s == st.latest.Size && fc.Size == s) {
			return st, fail(ErrMissingFile, s-1, CheckpointFile(s), "", nil)
		}
	}
	if n > st.latest.Size {
		return st, fail(ErrUnsealed, st.latest.Size, FileEntries, fmt.Sprintf("%d entries after the latest checkpoint", n-st.latest.Size), nil)
	}
	if st.torn > 0 {
		return st, fail(ErrUnsealed, n, FileEntries, "incomplete last line", nil)
	}
	if leftover != "" {
		return st, fail(ErrUnsealed, NoSeq, leftover, "an interrupted write left this temporary file", nil)
	}
	return st, nil
}

type checked struct {
	name  string
	c     Checkpoint
	extra bool
}

func info(c checked) CheckpointInfo {
	ci := CheckpointInfo{File: c.name, Size: c.c.Size, Root: base64.StdEncoding.EncodeToString(c.c.Root[:]), Outside: c.extra}
	// Signature lines follow the last blank line.
	if i := bytes.LastIndex(c.c.Note, []byte("\n\n")); i >= 0 {
		for _, l := range strings.Split(strings.TrimSuffix(string(c.c.Note[i+2:]), "\n"), "\n") {
			if name, _, ok := strings.Cut(strings.TrimPrefix(l, "— "), " "); ok {
				ci.Signers = append(ci.Signers, name)
			}
		}
	}
	return ci
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func checkpointName(name string) (int64, bool) {
	num, ok := strings.CutSuffix(name, ".note")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 1 || strconv.FormatInt(n, 10) != num {
		return 0, false
	}
	return n, true
}

func loadCheckpoint(fsys fs.FS, name string, v note.Verifier) (Checkpoint, *Error) {
	msg, verr := readFile(fsys, name)
	if verr != nil {
		return Checkpoint{}, verr
	}
	return openCheckpoint(msg, v, name)
}

func readFile(fsys fs.FS, name string) ([]byte, *Error) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fail(ErrMissingFile, NoSeq, name, "", nil)
		}
		return nil, fail(ErrMalformed, NoSeq, name, "", err)
	}
	return b, nil
}

// verifyManifest checks FileManifest if present (or required): every
// regular file but the manifest is listed, exists and has its hash.
func verifyManifest(fsys fs.FS, required bool) (bool, *Error) {
	m, err := fs.ReadFile(fsys, FileManifest)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if required {
				return false, fail(ErrMissingFile, NoSeq, FileManifest, "", nil)
			}
			return false, nil
		}
		return false, fail(ErrMalformed, NoSeq, FileManifest, "", err)
	}
	listed, err := parseManifest(m)
	if err != nil {
		return true, fail(ErrMalformed, NoSeq, FileManifest, "", err)
	}
	var files []string
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || p == FileManifest {
			return nil
		}
		files = append(files, p)
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s is not a regular file", p)
		}
		return nil
	})
	if err != nil {
		return true, fail(ErrTampered, NoSeq, FileManifest, "", err)
	}
	for _, p := range files {
		if _, ok := listed[p]; !ok {
			return true, fail(ErrTampered, NoSeq, p, "file not in the manifest", nil)
		}
	}
	names := make([]string, 0, len(listed))
	for p := range listed {
		names = append(names, p)
	}
	slices.Sort(names)
	for _, p := range names {
		b, verr := readFile(fsys, p)
		if verr != nil {
			return true, verr
		}
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != listed[p] {
			return true, fail(ErrTampered, NoSeq, p, "SHA-256 differs from the manifest", nil)
		}
	}
	return true, nil
}

// parseManifest reads "<hex>  <path>\n" lines, sorted by path, unique.
func parseManifest(m []byte) (map[string]string, error) {
	out := map[string]string{}
	text, ok := strings.CutSuffix(string(m), "\n")
	if !ok {
		return nil, errors.New("manifest does not end with a newline")
	}
	prev := ""
	for i, l := range strings.Split(text, "\n") {
		sum, p, ok := strings.Cut(l, "  ")
		if !ok || checkHex("sha256", sum, sha256.Size, false) != nil || !fs.ValidPath(p) || p == "." || p == FileManifest {
			return nil, fmt.Errorf("manifest line %d is not \"<sha256>  <path>\"", i+1)
		}
		if i > 0 && p <= prev {
			return nil, fmt.Errorf("manifest line %d out of order", i+1)
		}
		prev = p
		out[path.Clean(p)] = sum
	}
	return out, nil
}

// tree holds the stored hashes of a tlog tree in memory: all of them
// (hashes), or, for a log opened from its saved state, only those of its
// right edge and what appends add (sparse).
type tree struct {
	n      int64
	hashes []tlog.Hash
	sparse map[int64]tlog.Hash
}

func (t *tree) add(line []byte) error {
	hs, err := tlog.StoredHashes(t.n, line, t)
	if err != nil {
		return err
	}
	if t.sparse != nil {
		base := tlog.StoredHashCount(t.n)
		for i, h := range hs {
			t.sparse[base+int64(i)] = h
		}
	} else {
		t.hashes = append(t.hashes, hs...)
	}
	t.n++
	return nil
}

// ReadHashes implements tlog.HashReader.
func (t *tree) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if t.sparse != nil {
			h, ok := t.sparse[x]
			if !ok {
				return nil, fmt.Errorf("hash index %d not held", x)
			}
			out[i] = h
			continue
		}
		if x < 0 || x >= int64(len(t.hashes)) {
			return nil, fmt.Errorf("hash index %d out of range", x)
		}
		out[i] = t.hashes[x]
	}
	return out, nil
}

func (t *tree) root(n int64) (tlog.Hash, error) { return tlog.TreeHash(n, t) }
