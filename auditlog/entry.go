package auditlog

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/kesrotate/kesrotate/internal/textsafe"
)

// Kind names the action an entry records.
type Kind string

// The kinds of entries. Verify rejects any other kind.
const (
	KindInit             Kind = "init"
	KindPoolNew          Kind = "pool-new"
	KindPoolImport       Kind = "pool-import"
	KindProducerAdd      Kind = "producer-add"
	KindProducerRemoved  Kind = "producer-removed"
	KindSnapshotAccepted Kind = "snapshot-accepted"
	KindCertIssued       Kind = "cert-issued"
	KindBundleExported   Kind = "bundle-exported"
	KindBackupMade       Kind = "backup-made"
	KindKeysDestroyed    Kind = "keys-destroyed"
	KindOverride         Kind = "override"
	KindSecretsEncrypted Kind = "secrets-encrypted"
	KindAuditBinding     Kind = "audit-binding"
)

var kinds = map[Kind]bool{
	KindInit: true, KindPoolNew: true, KindPoolImport: true, KindProducerAdd: true, KindProducerRemoved: true,
	KindSnapshotAccepted: true, KindCertIssued: true, KindBundleExported: true,
	KindBackupMade: true, KindKeysDestroyed: true, KindOverride: true, KindAuditBinding: true, KindSecretsEncrypted: true,
	KindHardwareKey: true, KindCertPrepared: true, KindCertAbandoned: true, // hardware.go
}

// Detail keys the package itself writes into an init entry.
const (
	DetailVaultID  = "vault_id"
	DetailAuditKey = "audit_key"
)

// FileHash records one input or output file of an action.
type FileHash struct {
	Role   string `json:"role"`   // e.g. "snapshot", "cert", "bundle", "cold-vkey"
	Name   string `json:"name"`   // file name as the operator gave it (no directories needed)
	SHA256 string `json:"sha256"` // lowercase hex of SHA-256 over the file bytes
}

// Entry is one line of the log. It is stored as the canonical JSON that
// encoding/json produces for this struct (fields in declaration order,
// empty optional fields omitted, map keys sorted), one object per line.
//
// No field is meant for, or can usefully carry, key material: hashes are
// fixed-size hex digests, public keys appear only inside Binding, and the
// free-text fields (names, versions, Detail) are length-limited and reject
// text that looks like a signing key encoding. Never put a secret in Detail.
//
// Hashes are lowercase hex of 32 bytes, pool ids lowercase hex of 28 bytes
// (blake2b-224 of the cold vkey). Which hash function produced CertHash,
// KESVKeyHash and BundleHash is the caller's convention; Verify only
// compares them.
type Entry struct {
	Seq            int64             `json:"seq"`                       // 0-based position; Append assigns it
	Kind           Kind              `json:"kind"`                      // what happened
	Time           time.Time         `json:"time"`                      // cold-machine clock, UTC, whole seconds
	TipTime        *time.Time        `json:"tip_time,omitempty"`        // chain tip time from the snapshot, UTC, whole seconds
	TipSlot        *uint64           `json:"tip_slot,omitempty"`        // chain tip absolute slot from the snapshot
	Operator       string            `json:"operator,omitempty"`        // operator name
	Witnesses      []string          `json:"witnesses,omitempty"`       // witness names
	BinarySHA256   string            `json:"binary_sha256"`             // SHA-256 of the running binary
	Version        string            `json:"version"`                   // version of the running binary
	Files          []FileHash        `json:"files,omitempty"`           // inputs and outputs
	Pool           string            `json:"pool,omitempty"`            // pool id hex
	Counter        *uint64           `json:"counter,omitempty"`         // op-cert issue counter
	KESPeriod      *uint64           `json:"kes_period,omitempty"`      // op-cert start KES period
	KESVKeyHash    string            `json:"kes_vkey_hash,omitempty"`   // hash of the KES vkey
	CertHash       string            `json:"cert_hash,omitempty"`       // hash of the op cert
	Cert           string            `json:"cert,omitempty"`            // cert-issued, format 2: the op cert's CBOR in hex (signed by the cold key)
	BundleHash     string            `json:"bundle_hash,omitempty"`     // hash of the bundle file
	OnChainCounter *uint64           `json:"onchain_counter,omitempty"` // chain's counter the cert was based on; absent: none recorded (never minted)
	Binding        *Binding          `json:"binding,omitempty"`         // only in audit-binding entries
	Pin            *Pin              `json:"pin,omitempty"`             // producer-add, format 2: the pool's cold key pins the enrollment
	Detail         map[string]string `json:"detail,omitempty"`          // free detail, e.g. override flags
}

// U64 returns a pointer to v, for the optional numeric fields of Entry.
func U64(v uint64) *uint64 { return &v }

// Limits on free text in entries.
const (
	maxText      = 256
	maxFiles     = 64
	maxDetail    = 32
	maxWitnesses = 16
	// MaxLine is the longest entry line Verify accepts, in bytes.
	MaxLine = 64 << 10
)

// marshalEntry returns the canonical line bytes (without newline).
func marshalEntry(e *Entry) ([]byte, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	if len(b) > MaxLine {
		return nil, fmt.Errorf("entry is %d bytes, limit %d", len(b), MaxLine)
	}
	return b, nil
}

// parseEntry decodes one line and checks that it is canonical.
func parseEntry(line []byte) (Entry, error) {
	var e Entry
	if len(line) > MaxLine {
		return e, fmt.Errorf("line is %d bytes, limit %d", len(line), MaxLine)
	}
	d := json.NewDecoder(bytes.NewReader(line))
	d.DisallowUnknownFields()
	if err := d.Decode(&e); err != nil {
		return Entry{}, fmt.Errorf("not an entry: %w", err)
	}
	if _, err := d.Token(); err != io.EOF {
		return Entry{}, fmt.Errorf("trailing data after the entry")
	}
	again, err := json.Marshal(&e)
	if err != nil {
		return Entry{}, fmt.Errorf("entry does not re-encode: %w", err)
	}
	if !bytes.Equal(again, line) {
		return Entry{}, fmt.Errorf("entry is not in canonical form")
	}
	return e, nil
}

// ParseEntry decodes one log line (without its newline) and checks that it
// is canonical and well-formed. It accepts text that new entries may no
// longer hold (format characters such as bidirectional overrides, which
// older versions let through) so that old logs keep verifying: show such
// text escaped.
func ParseEntry(line []byte) (Entry, error) {
	e, err := parseEntry(line)
	if err != nil {
		return Entry{}, err
	}
	if err := e.validate(false); err != nil {
		return Entry{}, err
	}
	return e, nil
}

// Validate reports whether e is well-formed for its kind, as a new entry:
// its text holds no control or format characters (textsafe.Clean). Seq is
// not checked. Append calls it; callers may call it before an action.
func (e *Entry) Validate() error {
	if err := e.validate(true); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidEntry, err)
	}
	return nil
}

func (e *Entry) validate(strict bool) error {
	checkText := func(name, s string, empty bool) error { return checkText(name, s, empty, strict) }
	if e.Seq < 0 {
		return fmt.Errorf("negative seq")
	}
	if !kinds[e.Kind] {
		return fmt.Errorf("unknown kind %q", textsafe.Cut(string(e.Kind), 40))
	}
	if err := checkTime("time", e.Time); err != nil {
		return err
	}
	if e.TipTime != nil {
		if err := checkTime("tip_time", *e.TipTime); err != nil {
			return err
		}
	}
	if err := checkText("operator", e.Operator, true); err != nil {
		return err
	}
	if len(e.Witnesses) > maxWitnesses {
		return fmt.Errorf("more than %d witnesses", maxWitnesses)
	}
	for _, w := range e.Witnesses {
		if err := checkText("witness", w, false); err != nil {
			return err
		}
	}
	if err := checkHex("binary_sha256", e.BinarySHA256, 32, false); err != nil {
		return err
	}
	if err := checkText("version", e.Version, false); err != nil {
		return err
	}
	if len(e.Files) > maxFiles {
		return fmt.Errorf("more than %d files", maxFiles)
	}
	for _, f := range e.Files {
		if err := checkText("file role", f.Role, false); err != nil {
			return err
		}
		if err := checkText("file name", f.Name, false); err != nil {
			return err
		}
		if err := checkHex("file sha256", f.SHA256, 32, false); err != nil {
			return err
		}
	}
	if err := checkHex("pool", e.Pool, PoolIDSize, true); err != nil {
		return err
	}
	for _, h := range []struct{ name, v string }{
		{"kes_vkey_hash", e.KESVKeyHash}, {"cert_hash", e.CertHash}, {"bundle_hash", e.BundleHash},
	} {
		if err := checkHex(h.name, h.v, 32, true); err != nil {
			return err
		}
	}
	if len(e.Detail) > maxDetail {
		return fmt.Errorf("more than %d detail items", maxDetail)
	}
	for k, v := range e.Detail {
		if err := checkText("detail key", k, false); err != nil {
			return err
		}
		if err := checkText("detail "+textsafe.Clip(k, 40), v, true); err != nil {
			return err
		}
	}
	if e.Binding != nil && e.Kind != KindAuditBinding {
		return fmt.Errorf("binding in a %s entry", e.Kind)
	}
	if e.Cert != "" && e.Kind != KindCertIssued {
		return fmt.Errorf("cert in a %s entry", e.Kind)
	}
	if e.Pin != nil && e.Kind != KindProducerAdd {
		return fmt.Errorf("pin in a %s entry", e.Kind)
	}
	need := func(ok bool, field string) error {
		if !ok {
			return fmt.Errorf("%s entry without %s", e.Kind, field)
		}
		return nil
	}
	var errs []error
	switch e.Kind {
	case KindInit:
		errs = append(errs, need(e.Detail[DetailVaultID] != "", "detail "+DetailVaultID),
			need(e.Detail[DetailAuditKey] != "", "detail "+DetailAuditKey))
	case KindPoolNew, KindPoolImport:
		errs = append(errs, need(e.Pool != "", "pool"))
	case KindCertIssued:
		errs = append(errs, need(e.Pool != "", "pool"), need(e.Counter != nil, "counter"),
			need(e.KESPeriod != nil, "kes_period"), need(e.KESVKeyHash != "", "kes_vkey_hash"),
			need(e.CertHash != "", "cert_hash"))
	case KindBundleExported:
		errs = append(errs, need(e.Pool != "", "pool"), need(e.CertHash != "", "cert_hash"),
			need(e.BundleHash != "", "bundle_hash"))
	case KindAuditBinding:
		errs = append(errs, need(e.Pool != "", "pool"), need(e.Binding != nil, "binding"))
	case KindProducerRemoved:
		errs = append(errs, need(e.Pool != "", "pool"), need(e.Detail[DetailProducer] != "", "detail "+DetailProducer),
			need(e.Detail[DetailFingerprint] != "", "detail "+DetailFingerprint))
	}
	if c, ok := e.Detail[DetailCompared]; ok && (e.Kind != KindProducerAdd || (c != "true" && c != "false")) {
		errs = append(errs, fmt.Errorf("detail %s %q in a %s entry (want true or false, in producer-add)", DetailCompared, textsafe.Clip(c, 40), e.Kind))
	}
	errs = append(errs, e.validateHardware())
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	if e.Binding != nil {
		if err := e.Binding.validate(); err != nil {
			return err
		}
	}
	if e.Cert != "" {
		if _, err := e.cert(); err != nil {
			return err
		}
	}
	if e.Pin != nil {
		if err := e.Pin.validate(); err != nil {
			return err
		}
		if e.Detail[DetailProducer] != e.Pin.Producer || e.Detail[DetailFingerprint] != e.Pin.Fingerprint {
			return errors.New("pin names another producer or fingerprint than the entry")
		}
		for _, f := range e.Files {
			if f.Role == "enrollment" && f.SHA256 != e.Pin.Enrollment {
				return errors.New("pin names another enrollment file than the entry")
			}
		}
		vk, _ := hex.DecodeString(e.Pin.ColdVKey)
		if id := PoolID(vk); hex.EncodeToString(id[:]) != e.Pool {
			return errors.New("pin's cold vkey is not the entry's pool's")
		}
	}
	return nil
}

func checkTime(name string, t time.Time) error {
	if t.IsZero() {
		return fmt.Errorf("%s missing", name)
	}
	if t.Location() != time.UTC || t.Nanosecond() != 0 {
		return fmt.Errorf("%s is not UTC at whole seconds", name)
	}
	if t.Year() < 2000 || t.Year() > 9999 {
		return fmt.Errorf("%s out of range", name)
	}
	return nil
}

// secretMarkers are substrings of key encodings that must never be logged.
var secretMarkers = []string{"private+key", "signingkey", "signing key", "age-secret-key"}

func checkText(name, s string, empty, strict bool) error {
	if s == "" {
		if empty {
			return nil
		}
		return fmt.Errorf("%s is empty", name)
	}
	if len(s) > maxText {
		return fmt.Errorf("%s longer than %d bytes", name, maxText)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not UTF-8", name)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("%s contains a control character", name)
		}
	}
	if strict && !textsafe.Clean(s) {
		return fmt.Errorf("%s contains a formatting character (such as a bidirectional override)", name)
	}
	low := strings.ToLower(s)
	for _, m := range secretMarkers {
		if strings.Contains(low, m) {
			return fmt.Errorf("%s looks like key material", name)
		}
	}
	return nil
}

func checkHex(name, s string, size int, empty bool) error {
	if s == "" {
		if empty {
			return nil
		}
		return fmt.Errorf("%s missing", name)
	}
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != size || s != hex.EncodeToString(b) {
		return fmt.Errorf("%s is not %d bytes of lowercase hex", name, size)
	}
	return nil
}
