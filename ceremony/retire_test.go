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
			r, err := p.RetireKeys(t0, RetireOptions{Name: "alpha", How: ConfirmTyped})
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
			if _, err := p.RetireKeys(t0, RetireOptions{Name: "alpha", How: ConfirmPassed}); !errors.Is(err, ErrKeysDestroyed) {
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
	got, err := p.RetireKeys(t0, RetireOptions{Name: "alpha", How: ConfirmPassed})
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

// The destruction is gated in RetireKeys, not by its caller: a name that
// is not the pool's (or no name) destroys nothing and logs nothing; the
// entry records how the name came, by a stable name.
func TestRetireKeysNeedsThePoolsName(t *testing.T) {
	v := newVault(t)
	p, err := v.NewPool("alpha", t0)
	if err != nil {
		t.Fatal(err)
	}
	before, err := auditlog.Entries(v.LogDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []RetireOptions{
		{Name: "beta", How: ConfirmPassed},
		{Name: "", How: ConfirmTyped},
		{Name: "Alpha", How: ConfirmTyped},
		{Name: "alpha ", How: ConfirmTyped},
	} {
		if _, err := p.RetireKeys(t0, o); !errors.Is(err, ErrNotConfirmed) {
			t.Errorf("RetireKeys(%+v): got %v, want ErrNotConfirmed", o, err)
		}
	}
	if _, err := p.RetireKeys(t0, RetireOptions{Name: "alpha", How: "--confirm"}); err == nil || errors.Is(err, ErrNotConfirmed) {
		t.Errorf("RetireKeys with how %q: got %v, want a refusal of the spelling", "--confirm", err)
	}
	if _, err := os.Stat(filepath.Join(p.Dir, coldSkeyFile)); err != nil {
		t.Errorf("cold.skey after refusals: %v, want it kept", err)
	}
	if r, err := p.Retired(); err != nil || r != nil {
		t.Errorf("retired.json after refusals: got %+v, %v, want none", r, err)
	}
	after, err := auditlog.Entries(v.LogDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Errorf("log: %d entries after refusals, want %d", len(after), len(before))
	}
	if _, err := p.RetireKeys(t0, RetireOptions{Name: "alpha", How: ConfirmPassed}); err != nil {
		t.Fatal(err)
	}
	es, err := auditlog.Entries(v.LogDir())
	if err != nil {
		t.Fatal(err)
	}
	if got := es[len(es)-1].Detail[DetailConfirmed]; got != "passed" {
		t.Errorf("keys-destroyed %s: got %q, want %q", DetailConfirmed, got, "passed")
	}
}
