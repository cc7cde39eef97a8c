package testnode

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/kesrotate/kesrotate/internal/safefile"
	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/opcert"
)

// File names WriteSet uses, as in most operators' setups.
const (
	KESKeyFile = "kes.skey"
	VRFKeyFile = "vrf.skey"
	CertFile   = "node.cert"
)

// Pool is a generated stake pool for tests: its cold and VRF keys come
// from fixed seeds, so runs are reproducible.
type Pool struct {
	Cold *keys.ColdKey
	VRF  *keys.VRFKey
}

// NewPool derives a pool from one seed byte.
func NewPool(seed byte) (*Pool, error) {
	cold, err := keys.NewColdKey(fill(seed, 'c'))
	if err != nil {
		return nil, err
	}
	vrf, err := keys.NewVRFKey(fill(seed, 'v'))
	if err != nil {
		return nil, err
	}
	return &Pool{Cold: cold, VRF: vrf}, nil
}

// ID is the pool id.
func (p *Pool) ID() keys.PoolID { return p.Cold.Public().PoolID() }

// Set is a credential set: a fresh KES key and the cert for it.
type Set struct {
	KES  *keys.KESKey
	Cert *opcert.Certificate
}

// Issue makes a KES key from kesSeed and a cert numbered counter starting
// at kesPeriod.
func (p *Pool) Issue(kesSeed byte, counter, kesPeriod uint64) (*Set, error) {
	kes, err := keys.NewKESKey(fill(kesSeed, 'k'))
	if err != nil {
		return nil, err
	}
	return &Set{KES: kes, Cert: opcert.Issue(p.Cold, kes.Public(), counter, kesPeriod)}, nil
}

// WriteSet writes the set and the pool's VRF key into dir as kes.skey,
// vrf.skey (both 0600) and node.cert (0644), each replaced atomically.
// It returns a Config with those three paths filled in.
func (p *Pool) WriteSet(dir string, s *Set) (Config, error) {
	cfg := Config{
		KESKeyPath: filepath.Join(dir, KESKeyFile),
		VRFKeyPath: filepath.Join(dir, VRFKeyFile),
		CertPath:   filepath.Join(dir, CertFile),
	}
	files := []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{cfg.KESKeyPath, s.KES.MarshalEnvelope(), safefile.SecretMode},
		{cfg.VRFKeyPath, p.VRF.MarshalEnvelope(), safefile.SecretMode},
		{cfg.CertPath, s.Cert.MarshalEnvelope(), 0o644},
	}
	for _, f := range files {
		if err := safefile.Replace(f.path, f.data, f.mode); err != nil {
			return Config{}, fmt.Errorf("writing %s: %w", f.path, err)
		}
	}
	return cfg, nil
}

func fill(seed, tag byte) []byte {
	b := make([]byte, 32)
	for i := range b {
		b[i] = seed ^ tag ^ byte(i)
	}
	return b
}
