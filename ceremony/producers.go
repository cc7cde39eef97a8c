package ceremony

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kesrotate/kesrotate/internal/safefile"
	"github.com/kesrotate/kesrotate/transfer"
)

const producersDir = "producers"

// ErrNoProducer: no pinned producer of that name.
var ErrNoProducer = errors.New("no such producer")

// ErrProducerExists: a producer of that name is already pinned.
var ErrProducerExists = errors.New("producer already pinned")

// ErrEnrollmentMismatch: an enrollment for another network or for a pool
// the vault does not hold.
var ErrEnrollmentMismatch = errors.New("enrollment does not fit this vault")

// Producer is a pinned producer: the enrollment the operator compared.
type Producer struct {
	Name       string
	Enrollment *transfer.Enrollment
	File       string
}

// AddProducer pins a producer from its enrollment. The enrollment must be
// for the vault's network and one of its pools. Pins are never replaced.
func (v *Vault) AddProducer(name string, enrollment []byte) (*Producer, error) {
	release, err := v.acquire("producer add")
	if err != nil {
		return nil, err
	}
	defer release()
	if err := CheckName(name); err != nil {
		return nil, err
	}
	l, _, err := v.OpenLog(v.Audit.now())
	if err != nil {
		return nil, err
	}
	e, err := transfer.ParseEnrollment(enrollment)
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
	found := false
	for _, p := range pools {
		if p.Meta.PoolID == e.PoolID.Hex() {
			found = true
		}
	}
	if !found {
		return nil, fmt.Errorf("%w: the producer serves pool %s, which is not in this vault", ErrEnrollmentMismatch, e.PoolID)
	}
	existing, err := v.Producers()
	if err != nil {
		return nil, err
	}
	for _, q := range existing {
		if q.Enrollment.Recipient == e.Recipient {
			return nil, fmt.Errorf("%w: the same producer identity is pinned as %q", ErrProducerExists, q.Name)
		}
	}
	dir := filepath.Join(v.Dir, producersDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, name+".kre")
	if err := safefile.Create(path, enrollment, 0o644); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("%w: %s", ErrProducerExists, name)
		}
		return nil, err
	}
	q := &Producer{Name: name, Enrollment: e, File: path}
	return q, v.logProducer(l, q, v.Audit.now())
}

// Producer returns the pinned producer called name.
func (v *Vault) Producer(name string) (*Producer, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	path := filepath.Join(v.Dir, producersDir, name+".kre")
	b, err := os.ReadFile(path)
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
	return &Producer{Name: name, Enrollment: e, File: path}, nil
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
