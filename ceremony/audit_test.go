package ceremony

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/kesrotate/kesrotate/auditlog"
	"github.com/kesrotate/kesrotate/opcert"
)

// crashAfterJournal issues a cert for p and dies after its journal line,
// before its log entry: the vault holds a cert its log does not record.
func crashAfterJournal(t *testing.T, p *Pool) {
	t.Helper()
	crash := errors.New("crash")
	v := p.Vault()
	v.crash = func(s string) error {
		if s == "after-journal" {
			return crash
		}
		return nil
	}
	defer func() { v.crash = nil }()
	if _, err := p.Issue(IssueRequest{KESPeriod: 1571, OnChain: opcert.None(), Now: t0}); !errors.Is(err, crash) {
		t.Fatalf("got %v, want the crash", err)
	}
}

func TestVerifyLogComparesTheVaultWithItsLog(t *testing.T) {
	v := newVault(t)
	p, err := v.NewPool("alpha", t0)
	if err != nil {
		t.Fatal(err)
	}
	if a, err := VerifyLog(v.LogDir(), v, auditlog.VerifyOptions{}); err != nil || len(a.Gaps) != 0 {
		t.Fatalf("a whole vault: got %v, %v", a.Gaps, err)
	}
	crashAfterJournal(t, p)

	// The log alone is whole: a crash is not tampering.
	if _, err := VerifyLog(v.LogDir(), nil, auditlog.VerifyOptions{}); err != nil {
		t.Errorf("the log alone: %v", err)
	}
	a, err := VerifyLog(v.LogDir(), v, auditlog.VerifyOptions{})
	if !errors.Is(err, ErrUnlogged) || len(a.Gaps) != 1 || a.Gaps[0].Kind != "cert" || a.Report == nil {
		t.Fatalf("got %v, %v, want ErrUnlogged for the journaled cert", a.Gaps, err)
	}

	// A copy of the log elsewhere is not the vault's own log: no gaps.
	cp := filepath.Join(t.TempDir(), "log")
	if err := os.CopyFS(cp, os.DirFS(v.LogDir())); err != nil {
		t.Fatal(err)
	}
	if a, err := VerifyLog(cp, v, auditlog.VerifyOptions{}); err != nil || len(a.Gaps) != 0 {
		t.Errorf("a copy of the log: got %v, %v", a.Gaps, err)
	}
}

func TestSealRecordsWhatACrashLeft(t *testing.T) {
	v := newVault(t)
	p, err := v.NewPool("alpha", t0)
	if err != nil {
		t.Fatal(err)
	}
	crashAfterJournal(t, p)
	before := dirDigest(t, v.Dir)
	res, err := v.Seal(t0, false)
	if !errors.Is(err, ErrUnlogged) || len(res.Unlogged) != 1 || len(res.Recorded) != 0 {
		t.Fatalf("without apply: got %+v, %v, want the cert as unlogged and ErrUnlogged", res, err)
	}
	if dirDigest(t, v.Dir) != before {
		t.Fatal("Seal without apply changed the vault")
	}
	res, err = v.Seal(t0, true)
	if err != nil || len(res.Recorded) != 1 || res.Recorded[0].Detail[DetailRecovered] != "cert" {
		t.Fatalf("with apply: got %+v, %v, want the cert recorded, flagged", res, err)
	}
	if a, err := VerifyLog(v.LogDir(), v, auditlog.VerifyOptions{}); err != nil || len(a.Gaps) != 0 {
		t.Errorf("after the seal: got %v, %v", a.Gaps, err)
	}
}

func TestSealSignsAnInterruptedAppend(t *testing.T) {
	v := newVault(t)
	if _, err := v.NewPool("alpha", t0); err != nil {
		t.Fatal(err)
	}
	e, err := v.Audit.entry(auditlog.KindBackupMade, t0)
	if err != nil {
		t.Fatal(err)
	}
	line := `{"seq":3,"kind":"backup-made","time":"2026-11-21T06:00:00Z","binary_sha256":"` + e.BinarySHA256 + `","version":"unknown"}` + "\n"
	f, err := os.OpenFile(filepath.Join(v.LogDir(), auditlog.FileEntries), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(line)
	f.Close()

	res, err := v.Seal(t0, false)
	if !errors.Is(err, auditlog.ErrUnsealed) || len(res.Unsigned) != 1 || res.Unsigned[0].Seq != 3 || res.Sealed != 0 {
		t.Fatalf("without apply: got %+v, %v, want entry 3 unsigned and ErrUnsealed", res, err)
	}
	res, err = v.Seal(t0, true)
	if err != nil || res.Sealed != 1 {
		t.Fatalf("with apply: got %+v, %v, want 1 entry signed", res, err)
	}
	if _, err := auditlog.Verify(v.LogDir(), auditlog.VerifyOptions{}); err != nil {
		t.Errorf("after the seal: %v", err)
	}
}

// A failure after a cert is journaled says so with a type, not in words:
// an *IssuedError (ErrIssued) naming the cert, Logged when only an output
// failed, not when the log entry did.
func TestIssuedErrors(t *testing.T) {
	none, err := opcert.ParseOnChain("none")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		logged bool
		step   func(v *Vault, out string) error // run after the journal
	}{
		{"log entry", false, func(v *Vault, _ string) error {
			// Someone else appends to the log: the cert-issued entry fails.
			f, err := os.OpenFile(filepath.Join(v.LogDir(), auditlog.FileEntries), os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.WriteString("{}\n")
			return err
		}},
		{"output", true, func(_ *Vault, out string) error {
			// A folder where a file must go, made after the checks.
			return os.Mkdir(filepath.Join(out, "kes.skey"), 0o700)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, pools := benchVault(t, t.TempDir(), 1, t0)
			period, err := v.Network.KESPeriodAt(t0)
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "out")
			v.crash = func(s string) error {
				if s == "after-journal" {
					return c.step(v, out)
				}
				return nil
			}
			_, err = v.RotatePlain(PlainRequest{Pool: pools[0].name, KESPeriod: period, OnChain: none, OutDir: out, Now: t0})
			var ie *IssuedError
			if !errors.Is(err, ErrIssued) || !errors.As(err, &ie) {
				t.Fatalf("got %v, want an *IssuedError", err)
			}
			p, err := v.Pool(pools[0].name)
			if err != nil {
				t.Fatal(err)
			}
			js, err := p.Journal()
			if err != nil {
				t.Fatal(err)
			}
			if last := js[len(js)-1]; ie.Cert.CertHash != last.CertHash || ie.Logged != c.logged {
				t.Errorf("got cert %s, logged %v; want the journal's %s, logged %v", ie.Cert.CertHash, ie.Logged, last.CertHash, c.logged)
			}
		})
	}
}

// The vault's own log deleted is a verification failure (ErrMissingFile),
// reported with the report's shape, not an unreadable path.
func TestVerifyLogOfADeletedLog(t *testing.T) {
	v := newVault(t)
	if err := os.RemoveAll(v.LogDir()); err != nil {
		t.Fatal(err)
	}
	a, err := VerifyLog(v.LogDir(), v, auditlog.VerifyOptions{})
	var ae *auditlog.Error
	if !errors.Is(err, auditlog.ErrMissingFile) || !errors.As(err, &ae) || a == nil || a.Report == nil {
		t.Fatalf("got %v, %+v; want ErrMissingFile with a report", err, a)
	}
}
