package ceremony

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/kesrotate/kesrotate/internal/safefile"
	"github.com/kesrotate/kesrotate/internal/textsafe"
	"github.com/kesrotate/kesrotate/opcert"
)

// Journal entry kinds.
const (
	KindCreated = "created" // the pool entered the vault (new or imported)
	KindIssued  = "issued"  // a cert was issued
)

// JournalEntry is one line of a pool's issuance journal. The journal is the
// source of truth for counters: an entry is made durable before the cert
// and counter files are written, so a crash at any instant leaves a journal
// from which the next issue chooses correctly, and the files are repaired
// from it. It holds no secret.
type JournalEntry struct {
	Seq          int       `json:"seq"`
	Kind         string    `json:"kind"`
	Time         time.Time `json:"time"`
	Origin       string    `json:"origin,omitempty"`
	ImportedNext *uint64   `json:"imported_next,omitempty"` // an imported counter file's next number

	Counter       uint64 `json:"counter"`
	KESPeriod     uint64 `json:"kes_period"`
	KESVKeyHash   string `json:"kes_vkey_hash,omitempty"` // hex blake2b-256 of the KES vkey
	CertHash      string `json:"cert_hash,omitempty"`     // hex SHA-256 of the cert's CBOR
	Cert          string `json:"cert,omitempty"`          // the cert's CBOR in hex (public)
	OnChain       string `json:"onchain,omitempty"`       // the on-chain counter it was based on: "none" or a number
	Forced        bool   `json:"forced,omitempty"`        // --force-counter was used
	KESOnProducer bool   `json:"kes_on_producer,omitempty"`
	Producer      string `json:"producer,omitempty"` // the producer whose snapshot it came from
	// SealedTo are all producers the bundle went to when there were
	// several (a primary and its standbys), Producer first.
	SealedTo []string `json:"sealed_to,omitempty"`
	// WithVRF: the bundle carried the pool's VRF signing key (entries from
	// before this field have none, whether or not it did).
	WithVRF bool   `json:"with_vrf,omitempty"`
	TipSlot uint64 `json:"tip_slot,omitempty"`
	// SnapshotSHA256 is the hex SHA-256 of the signed snapshot the cert
	// came from: a snapshot produces one cert (entries from before this
	// field have none).
	SnapshotSHA256 string `json:"snapshot_sha256,omitempty"`
	// Overrides are the overrides (Override… names) the issue used.
	Overrides []string `json:"overrides,omitempty"`
	// HardwareWallet: the cert was signed on the hardware wallet that
	// holds the pool's cold key, from a preparation (hw.go).
	HardwareWallet bool `json:"hardware_wallet,omitempty"`
}

// HeldBy are the producers that received the cert.
func (e JournalEntry) HeldBy() []string {
	if len(e.SealedTo) > 0 {
		return e.SealedTo
	}
	if e.Producer != "" {
		return []string{e.Producer}
	}
	return nil
}

// Certificate decodes the cert an issued entry journals and checks it
// against the entry's cert hash.
func (e JournalEntry) Certificate() (*opcert.Certificate, error) {
	b, err := hex.DecodeString(e.Cert)
	if err != nil || len(b) == 0 {
		return nil, fmt.Errorf("%w: entry %d: no cert in hex", ErrJournal, e.Seq)
	}
	c, err := opcert.ParseCBOR(b)
	if err != nil || c.Hash() != e.CertHash {
		return nil, fmt.Errorf("%w: entry %d: cert does not match its hash", ErrJournal, e.Seq)
	}
	return c, nil
}

// OnChainValue parses the entry's on-chain counter.
func (e JournalEntry) OnChainValue() (opcert.OnChain, error) { return opcert.ParseOnChain(e.OnChain) }

func (p *Pool) journalPath() string { return filepath.Join(p.Dir, journalFile) }

// Journal reads the pool's journal. A torn last line (a crash during the
// append, before it was acknowledged) is ignored.
func (p *Pool) Journal() ([]JournalEntry, error) {
	b, err := os.ReadFile(p.journalPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return p.parseJournal(b)
}

// parseJournal reads the complete lines of a journal's content.
func (p *Pool) parseJournal(b []byte) ([]JournalEntry, error) {
	if i := bytes.LastIndexByte(b, '\n'); i+1 != len(b) {
		b = b[:i+1]
	}
	var out []JournalEntry
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		var e JournalEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("%w: %s line %d: %w", ErrJournal, p.Meta.Name, len(out)+1, textsafe.JSONError(err))
		}
		if e.Seq != len(out) {
			return nil, fmt.Errorf("%w: %s line %d has seq %d", ErrJournal, p.Meta.Name, len(out)+1, e.Seq)
		}
		if (e.Kind == KindIssued || e.CertHash != "") && !isHash(e.CertHash) {
			return nil, fmt.Errorf("%w: %s line %d: cert_hash %q is not 64 lowercase hex digits", ErrJournal, p.Meta.Name, len(out)+1, textsafe.Clip(e.CertHash, 70))
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

// appendJournal makes e durable as the next line, under an flock of the
// journal: a torn tail left by a crash is cut off first, e gets the next
// sequence number, and when expect ≥ 0 the journal must still hold exactly
// expect entries (the ones the caller decided from), else nothing is
// written and ErrJournalChanged is returned.
func (p *Pool) appendJournal(e JournalEntry, expect int) error {
	path := p.journalPath()
	_, statErr := os.Lstat(path)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	defer f.Close() // releases the lock
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return err
	}
	entries, err := p.parseJournal(b)
	if err != nil {
		return err
	}
	if expect >= 0 && len(entries) != expect {
		return fmt.Errorf("%w: %d entries, %d when it was read", ErrJournalChanged, len(entries), expect)
	}
	end := int64(bytes.LastIndexByte(b, '\n') + 1)
	if end != int64(len(b)) {
		if err := f.Truncate(end); err != nil {
			return err
		}
	}
	e.Seq = len(entries)
	line, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(append(line, '\n'), end); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if errors.Is(statErr, fs.ErrNotExist) {
		return safefile.SyncDir(filepath.Dir(path))
	}
	return nil
}

// History derives what the counter rules need from the journal.
func History(entries []JournalEntry) (opcert.History, error) {
	var h opcert.History
	for _, e := range entries {
		switch e.Kind {
		case KindCreated:
			if e.ImportedNext != nil && *e.ImportedNext > 0 {
				h.Issued = true
				h.MaxIssued = *e.ImportedNext - 1
				h.LastIssued = *e.ImportedNext - 1
			}
		case KindIssued:
			if !h.Issued || e.Counter > h.MaxIssued {
				h.MaxIssued = e.Counter
			}
			h.Issued = true
			h.LastIssued = e.Counter
			o, err := e.OnChainValue()
			if err != nil {
				return h, fmt.Errorf("%w: entry %d: %w", ErrJournal, e.Seq, err)
			}
			if h.Seen.Less(o) {
				h.Seen = o
			}
		}
	}
	return h, nil
}

// Issued lists the certs issued, oldest first.
func Issued(entries []JournalEntry) []JournalEntry {
	var out []JournalEntry
	for _, e := range entries {
		if e.Kind == KindIssued {
			out = append(out, e)
		}
	}
	return out
}

// ProducerCert is the newest cert a producer received from this vault.
type ProducerCert struct {
	Producer  string `json:"producer"`
	Counter   uint64 `json:"counter"`
	KESPeriod uint64 `json:"kes_period"`
	CertHash  string `json:"cert_hash"`
}

// Holdings lists, for every producer a cert of the journal was sealed to,
// the newest cert it received, in the order producers first appear.
func Holdings(entries []JournalEntry) []ProducerCert {
	var out []ProducerCert
	index := map[string]int{}
	for _, e := range Issued(entries) {
		for _, name := range e.HeldBy() {
			pc := ProducerCert{Producer: name, Counter: e.Counter, KESPeriod: e.KESPeriod, CertHash: e.CertHash}
			if i, ok := index[name]; ok {
				out[i] = pc // journal order is issue order: later is newer
				continue
			}
			index[name] = len(out)
			out = append(out, pc)
		}
	}
	return out
}

// isHash reports whether s is a hex SHA-256 as the journal writes it: 64
// lowercase hex digits.
func isHash(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
