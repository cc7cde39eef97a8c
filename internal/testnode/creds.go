package testnode

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/opcert"
)

// Permission bits of the VRF key file that cardano-node looks at.
const (
	vrfOtherBits fs.FileMode = 0o007
	vrfGroupBits fs.FileMode = 0o070
)

// credentials is one credential set as the node holds it in memory.
type credentials struct {
	kes  *keys.KESKey
	vrf  *keys.VRFKey
	cert *opcert.Certificate
}

func (c *credentials) wipe() {
	if c == nil {
		return
	}
	c.kes.Wipe()
	c.vrf.Wipe()
}

// readCredentials reads and validates the three files as cardano-node does
// when it (re)creates its block forging: every file must exist (else
// ErrMissingCredential), the VRF key file may have no "other" permission
// bit (group bits only produce a warning through warn), each file must
// parse, the KES key must be the cert's hot key, the cold signature must
// hold, the current KES period must be inside the cert's window, and the
// key must sign and verify at evolution current - start (the node evolves
// the fresh key in memory to that evolution).
func readCredentials(cfg *Config, slot uint64, warn func(string)) (*credentials, error) {
	certData, err := readFile(cfg.CertPath, "op cert")
	if err != nil {
		return nil, err
	}
	kesData, err := readFile(cfg.KESKeyPath, "KES signing key")
	if err != nil {
		return nil, err
	}
	defer wipe(kesData)
	vrfInfo, err := os.Stat(cfg.VRFKeyPath)
	if err != nil {
		return nil, missingOr(err, cfg.VRFKeyPath, "VRF signing key")
	}
	if perm := vrfInfo.Mode().Perm(); perm&vrfOtherBits != 0 {
		return nil, fmt.Errorf("%w: %s has mode %04o; remove all \"other\" file permissions", ErrVRFPermissions, cfg.VRFKeyPath, perm)
	} else if perm&vrfGroupBits != 0 {
		warn(fmt.Sprintf("VRF private key file at: %s has \"group\" file permissions. Please remove all \"group\" file permissions.", cfg.VRFKeyPath))
	}
	vrfData, err := readFile(cfg.VRFKeyPath, "VRF signing key")
	if err != nil {
		return nil, err
	}
	defer wipe(vrfData)

	cert, err := opcert.Parse(certData)
	if err != nil {
		return nil, fmt.Errorf("%w: op cert %s: %w", ErrCredentialFile, cfg.CertPath, err)
	}
	kes, err := keys.ParseKESKey(kesData)
	if err != nil {
		return nil, fmt.Errorf("%w: KES signing key %s: %w", ErrCredentialFile, cfg.KESKeyPath, err)
	}
	vrf, err := keys.ParseVRFKey(vrfData)
	if err != nil {
		kes.Wipe()
		return nil, fmt.Errorf("%w: VRF signing key %s: %w", ErrCredentialFile, cfg.VRFKeyPath, err)
	}
	c := &credentials{kes: kes, vrf: vrf, cert: cert}
	if err := c.check(cfg.Network, slot); err != nil {
		c.wipe()
		return nil, err
	}
	return c, nil
}

func (c *credentials) check(n opcert.Network, slot uint64) error {
	if c.kes.Public() != c.cert.KESVKey {
		return fmt.Errorf("%w: the KES signing key's verification key is not the op cert's hot key", ErrKESMismatch)
	}
	if err := c.cert.CheckSignature(); err != nil {
		return fmt.Errorf("%w: %w", ErrCertSignature, err)
	}
	kp := n.KESPeriod(slot)
	if err := c.cert.Window(n).Check(kp); err != nil {
		return fmt.Errorf("%w: %w", ErrKESWindow, err)
	}
	t := kp - c.cert.KESPeriod
	msg := []byte("kesrotate test node forge probe")
	sig, err := c.kes.Sign(t, msg)
	if err != nil {
		return fmt.Errorf("%w: evolution %d: %w", ErrKESEvolution, t, err)
	}
	if !c.cert.KESVKey.Verify(t, msg, sig) {
		return fmt.Errorf("%w: a signature at evolution %d does not verify", ErrKESEvolution, t)
	}
	return nil
}

func readFile(path, what string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, missingOr(err, path, what)
	}
	return b, nil
}

func missingOr(err error, path, what string) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s %s", ErrMissingCredential, what, path)
	}
	return fmt.Errorf("%w: reading %s: %w", ErrCredentialFile, what, err)
}

func wipe(b []byte) {
	for i := range b {
		b[i] = 0
	}
}
