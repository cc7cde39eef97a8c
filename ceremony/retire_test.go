package ceremony

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/kesrotate/kesrotate/auditlog"
)

func TestRetireKeys(t *testing.T) {
	for _, encrypted := range []bool{false, true} {
		t.Run(map[bool]string{false: "plaintext", true: "encrypted"}[encrypted], func(t *testing.T) {
			v := newVault(t)
			if encrypted {
				v = newEncryptedVault(t, testPass)
			}
			p, err := v.NewPool("alpha", t0)
			if err != nil {
				t.Fatal(err)
			}
			r, err := p.RetireKeys(t0, RetireOptions{Confirmed: "typed"})
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Destroyed) != 2 || !r.Logged {
				t.Errorf("retirement: got %+v, want two files destroyed and logged", r)
			}
			for _, f := range []string{coldSkeyFile, vrfSkeyFile, coldSkeyFile + encSuffix, vrfSkeyFile + encSuffix} {
				if _, err := os.Stat(filepath.Join(p.Dir, f)); !os.IsNotExist(err) {
					t.Errorf("%s: got %v, want it gone", f, err)
				}
			}
			for _, f := range []string{coldVkeyFile, vrfVkeyFile, journalFile, poolFile} {
				if _, err := os.Stat(filepath.Join(p.Dir, f)); err != nil {
					t.Errorf("public %s: %v, want it kept", f, err)
				}
			}
			if _, err := p.ColdKey(); !errors.Is(err, ErrKeysDestroyed) {
				t.Errorf("ColdKey: got %v, want ErrKeysDestroyed", err)
			}
			if _, err := p.RetireKeys(t0, RetireOptions{}); !errors.Is(err, ErrKeysDestroyed) {
				t.Errorf("second RetireKeys: got %v, want ErrKeysDestroyed", err)
			}
			es, err := auditlog.Entries(v.LogDir())
			if err != nil {
				t.Fatal(err)
			}
			last := es[len(es)-1]
			if last.Kind != auditlog.KindKeysDestroyed || last.Pool != p.Meta.PoolID || last.Detail["confirmed"] != "typed" {
				t.Errorf("last log entry: got %s for %s confirmed %q, want keys-destroyed for %s confirmed \"typed\"", last.Kind, last.Pool, last.Detail["confirmed"], p.Meta.PoolID)
			}
			if _, err := auditlog.Verify(v.LogDir(), auditlog.VerifyOptions{}); err != nil {
				t.Errorf("log after retirement: %v", err)
			}
		})
	}
}

// TestRetireResumes: a run stopped after retired.json (keys still there,
// nothing logged) is finished by the next one.
func TestRetireResumes(t *testing.T) {
	v := newVault(t)
	p, err := v.NewPool("alpha", t0)
	if err != nil {
		t.Fatal(err)
	}
	r := &Retirement{Time: t0, Destroyed: []string{coldSkeyFile, vrfSkeyFile}}
	if err := p.writeRetirement(r, false); err != nil {
		t.Fatal(err)
	}
	if _, err := p.ColdKey(); !errors.Is(err, ErrKeysDestroyed) {
		t.Errorf("ColdKey of a pool being retired: got %v, want ErrKeysDestroyed", err)
	}
	got, err := p.RetireKeys(t0, RetireOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !got.Logged {
		t.Errorf("got %+v, want logged", got)
	}
	if _, err := os.Stat(filepath.Join(p.Dir, coldSkeyFile)); !os.IsNotExist(err) {
		t.Errorf("cold.skey: got %v, want it gone", err)
	}
}
