package ceremony

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kesrotate/kesrotate/auditlog"
	"github.com/kesrotate/kesrotate/internal/safefile"
	"github.com/kesrotate/kesrotate/transfer"
)

const producersDir = "producers"

// Producer is a pinned producer: the enrollment the operator compared.
type Producer struct {
	Name       string
	Enrollment *transfer.Enrollment
	File       string
	SHA256     string // hex SHA-256 of the enrollment file
}

// AddProducerOptions say how a producer is pinned.
type AddProducerOptions struct {
	// Fingerprint is the fingerprint the operator read on the producer
	// ('kesrotate-agent enrollment'), as typed: any case, dashes and
	// spaces optional, 0, 1 and 8 read as O, I and B. The producer is
	// pinned only if it is the enrollment's (ErrFingerprintMismatch).
	// "" pins without comparing; the producer-add entry records which.
	Fingerprint string
	Now         time.Time
}

// AddedProducer is a producer AddProducer pinned.
type AddedProducer struct {
	*Producer
	// Pin is its pin in the ceremony log: the entry, the fingerprint, and
	// whether the pool's cold key signed it (Signed; false for a pool whose
	// cold key is on a hardware wallet: the audit key vouches for it).
	Pin auditlog.PinRecord
	// Compared: the operator's fingerprint was compared with the
	// enrollment's (AddProducerOptions.Fingerprint was given).
	Compared bool
}

// AddProducer pins a producer from its enrollment. The enrollment must
// have the fingerprint the operator read on the producer (unless none is
// given), and be for the vault's network and one of its pools. The pin is
// a signature of that pool's cold key over the enrollment's hash and
// fingerprint, in the producer-add entry of the ceremony log, written
// before the enrollment file: a rotation trusts the file only if it
// matches its pin. The entry records whether the fingerprints were
// compared (DetailCompared). A pin is never replaced in place:
// RemoveProducer ends it, and then the name may be pinned again. The
// entry is timed o.Now.
func (v *Vault) AddProducer(name string, enrollment []byte, o AddProducerOptions) (*AddedProducer, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	e, err := transfer.ParseEnrollment(enrollment)
	if err != nil {
		return nil, err
	}
	compared, err := compareFingerprint(e, o.Fingerprint)
	if err != nil {
		return nil, err
	}
	release, err := v.Acquire("producer add")
	if err != nil {
		return nil, err
	}
	defer release()
	now := o.Now
	l, _, err := v.OpenLog(now)
	if err != nil {
		return nil, err
	}
	if e.Magic != v.Network.Magic {
		return nil, fmt.Errorf("%w: the producer runs network magic %d, the vault is %s (magic %d)", ErrEnrollmentMismatch, e.Magic, v.Network.Name, v.Network.Magic)
	}
	pools, err := v.Pools()
	if err != nil {
		return nil, err
	}
	var pool *Pool
	for _, p := range pools {
		if p.Meta.PoolID == e.PoolID.Hex() {
			pool = p
		}
	}
	if pool == nil {
		return nil, fmt.Errorf("%w: the producer serves pool %s, which is not in this vault", ErrEnrollmentMismatch, e.PoolID)
	}
	files, err := v.producerFiles()
	if err != nil {
		return nil, err
	}
	for other, b := range files {
		if q, err := transfer.ParseEnrollment(b); err == nil && q.Recipient == e.Recipient && other != name {
			return nil, fmt.Errorf("%w: the same producer identity is pinned as %q", ErrProducerExists, other)
		}
	}
	path := filepath.Join(v.Dir, producersDir, name+".kre")
	q := &Producer{Name: name, Enrollment: e, File: path, SHA256: transfer.FileHash(enrollment)}
	if pin, ok := l.Pin(name); ok {
		if pin.Enrollment != q.SHA256 || pin.Fingerprint != e.Fingerprint() {
			return nil, fmt.Errorf("%w: %s, pinned at log entry %d to fingerprint %s", ErrProducerExists, name, pin.Seq, pin.Fingerprint)
		}
		if _, ok := files[name]; ok {
			return nil, fmt.Errorf("%w: %s", ErrProducerExists, name)
		}
		// Pinned in the log, its file not written: an interrupted
		// 'producer add' of this very enrollment. Finish it.
		return &AddedProducer{Producer: q, Pin: pin, Compared: compared}, v.writeEnrollment(q, enrollment)
	}
	if _, ok := files[name]; ok {
		return nil, fmt.Errorf("%w: %s (its file is there, but the log pins no producer of that name: remove %s/%s.kre)", ErrProducerExists, name, producersDir, name)
	}
	entry, err := v.producerEntry(q, now)
	if err != nil {
		return nil, err
	}
	entry.Detail[DetailCompared] = strconv.FormatBool(compared)
	// A cold key on a hardware wallet cannot sign a pin: the audit key
	// vouches for it alone (auditlog: hardware-key pools).
	if !pool.Hardware() {
		cold, err := pool.ColdKey()
		if err != nil {
			return nil, err
		}
		vk := cold.Public()
		pin := auditlog.NewPin(v.Meta.ID, name, e.Fingerprint(), q.SHA256, vk[:], cold.Sign)
		cold.Wipe()
		entry.Pin = &pin
	}
	if err := l.Check(entry); err != nil {
		return nil, err
	}
	got, _, err := v.append(l, entry)
	if err != nil {
		return nil, err
	}
	pin, ok := l.Pin(name)
	if !ok || pin.Seq != got.Seq {
		return nil, fmt.Errorf("%w: the pin of %s did not take", ErrPinMismatch, name)
	}
	return &AddedProducer{Producer: q, Pin: pin, Compared: compared}, v.writeEnrollment(q, enrollment)
}

// compareFingerprint holds the enrollment's fingerprint against the one
// the operator read on the producer (typed: see AddProducerOptions), if
// any. It reports whether they were compared.
func compareFingerprint(e *transfer.Enrollment, typed string) (bool, error) {
	if typed == "" {
		return false, nil
	}
	want, err := transfer.NormalizeFingerprint(typed)
	if err != nil {
		return false, fmt.Errorf("the fingerprint to compare: %w", err)
	}
	if have := e.Fingerprint(); want != have {
		return false, fmt.Errorf("%w: the enrollment is %s, the producer showed %s", ErrFingerprintMismatch, have, want)
	}
	return true, nil
}

// RemoveProducer ends the pin of the producer called name: a
// producer-removed entry in the ceremony log, then its enrollment file is
// deleted. From then on no bundle is sealed to it, and the name may be
// pinned again (a replaced producer: 'producer add' with its new
// enrollment and a new cold-key pin). What it already received stays
// with it. A removal the log records but whose file deletion was
// interrupted is finished the next time the log is opened. The entry is
// timed now.
func (v *Vault) RemoveProducer(name string, now time.Time) (auditlog.PinRecord, error) {
	release, err := v.Acquire("producer remove")
	if err != nil {
		return auditlog.PinRecord{}, err
	}
	defer release()
	if err := CheckName(name); err != nil {
		return auditlog.PinRecord{}, err
	}
	l, _, err := v.OpenLog(now)
	if err != nil {
		return auditlog.PinRecord{}, err
	}
	pin, ok := l.Pin(name)
	if !ok {
		return pin, fmt.Errorf("%w: %s", ErrNoProducer, name)
	}
	e, err := v.Audit.entry(auditlog.KindProducerRemoved, now)
	if err != nil {
		return pin, err
	}
	e.Pool = pin.Pool
	e.Detail = map[string]string{DetailProducer: name, DetailFingerprnt: pin.Fingerprint}
	if pin.Enrollment != "" {
		e.Files = []auditlog.FileHash{{Role: "enrollment", Name: name + ".kre", SHA256: pin.Enrollment}}
	}
	if err := l.Check(e); err != nil {
		return pin, err
	}
	got, _, err := v.append(l, e)
	if err != nil {
		return pin, err
	}
	pin.Removed = got.Seq
	if err := os.Remove(filepath.Join(v.Dir, producersDir, name+".kre")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return pin, fmt.Errorf("the removal is logged but %s/%s.kre could not be deleted (the next command deletes it): %w", producersDir, name, err)
	}
	return pin, nil
}

// writeEnrollment writes a pinned producer's enrollment file.
func (v *Vault) writeEnrollment(q *Producer, enrollment []byte) error {
	if err := os.MkdirAll(filepath.Dir(q.File), 0o700); err != nil {
		return err
	}
	if err := safefile.Create(q.File, enrollment, 0o644); err != nil {
		return fmt.Errorf("the pin is logged but %s/%s.kre could not be written (run 'producer add' again): %w", producersDir, q.Name, err)
	}
	return nil
}

// producerFiles reads every producers/NAME.kre as it is, by name.
func (v *Vault) producerFiles() (map[string][]byte, error) {
	entries, err := os.ReadDir(filepath.Join(v.Dir, producersDir))
	if errors.Is(err, fs.ErrNotExist) {
		return map[string][]byte{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".kre")
		if !ok || e.IsDir() {
			continue
		}
		b, err := safefile.ReadRegular(filepath.Join(v.Dir, producersDir, e.Name()), transfer.MaxFileSize)
		if err != nil {
			return nil, err
		}
		out[name] = b
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// checkPin holds the producer's enrollment file against its pin in the
// vault's log (read only): the same file hash and fingerprint, or
// ErrPinMismatch. It returns the pin.
func (v *Vault) checkPin(q *Producer, p *Pool) (auditlog.PinRecord, error) {
	pin, ok, err := v.logPin(q.Name)
	if err != nil {
		return auditlog.PinRecord{}, err
	}
	switch {
	case !ok:
		return pin, fmt.Errorf("%w: the ceremony log pins no producer %s (%s/%s.kre was not written by 'producer add')", ErrPinMismatch, q.Name, producersDir, q.Name)
	case pin.Pool != p.Meta.PoolID:
		return pin, fmt.Errorf("%w: producer %s was pinned for pool %s, not %s", ErrPinMismatch, q.Name, pin.Pool, p.Meta.PoolID)
	case (pin.Enrollment != "" && pin.Enrollment != q.SHA256) || pin.Fingerprint != q.Enrollment.Fingerprint():
		return pin, fmt.Errorf("%w: %s/%s.kre holds fingerprint %s, the log pinned %s at entry %d: the file was replaced",
			ErrPinMismatch, producersDir, q.Name, q.Enrollment.Fingerprint(), pin.Fingerprint, pin.Seq)
	}
	return pin, nil
}

// signPin signs a format 1 pin (one the audit key alone vouches for, which
// checkPin found to match the file) with the pool's cold key, in a new
// producer-add entry: from then on the cold key vouches for it.
func (v *Vault) signPin(q *Producer, p *Pool, pin auditlog.PinRecord, now time.Time) (auditlog.PinRecord, error) {
	if pin.Signed || p.Hardware() {
		return pin, nil
	}
	l, _, err := v.OpenLog(now)
	if err != nil {
		return pin, err
	}
	cold, err := p.ColdKey()
	if err != nil {
		return pin, err
	}
	defer cold.Wipe()
	e, err := v.producerEntry(q, now)
	if err != nil {
		return pin, err
	}
	vk := cold.Public()
	signed := auditlog.NewPin(v.Meta.ID, q.Name, pin.Fingerprint, q.SHA256, vk[:], cold.Sign)
	e.Pin = &signed
	e.Detail[DetailUpgraded] = "pin"
	if err := l.Check(e); err != nil {
		return pin, err
	}
	if _, _, err := v.append(l, e); err != nil {
		return pin, err
	}
	if pin, ok := l.Pin(q.Name); ok {
		return pin, nil
	}
	return pin, fmt.Errorf("%w: the signed pin of %s did not take", ErrPinMismatch, q.Name)
}

// Producer returns the pinned producer called name.
func (v *Vault) Producer(name string) (*Producer, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	path := filepath.Join(v.Dir, producersDir, name+".kre")
	b, err := safefile.ReadRegular(path, transfer.MaxFileSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNoProducer, name)
	}
	if err != nil {
		return nil, err
	}
	e, err := transfer.ParseEnrollment(b)
	if err != nil {
		return nil, fmt.Errorf("pinned producer %s: %w", name, err)
	}
	return &Producer{Name: name, Enrollment: e, File: path, SHA256: transfer.FileHash(b)}, nil
}

// Producers lists the pinned producers by name.
func (v *Vault) Producers() ([]*Producer, error) {
	entries, err := os.ReadDir(filepath.Join(v.Dir, producersDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Producer
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".kre")
		if !ok || e.IsDir() {
			continue
		}
		p, err := v.Producer(name)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
