package ceremony

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kesrotate/kesrotate/auditlog"
	"github.com/kesrotate/kesrotate/internal/vectors"
	"github.com/kesrotate/kesrotate/opcert"
)

func kinds(t *testing.T, v *Vault) []string {
	t.Helper()
	es, err := auditlog.Entries(v.LogDir())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, string(e.Kind))
	}
	return out
}

func coldVKeys(t *testing.T, ps ...*Pool) []ed25519.PublicKey {
	t.Helper()
	var out []ed25519.PublicKey
	for _, p := range ps {
		vk, err := p.ColdVKey()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ed25519.PublicKey(vk[:]))
	}
	return out
}

func TestLogRecordsEveryAction(t *testing.T) {
	v := newVault(t)
	v.Audit = Audit{Operator: "alice", Witnesses: []string{"bob"}, Version: "v-test"}
	p, err := v.NewPool("alpha", t0)
	if err != nil {
		t.Fatal(err)
	}
	force := uint64(0)
	var certs []string
	for _, req := range []IssueRequest{
		{KESPeriod: 1571, OnChain: opcert.None(), Now: t0},
		{KESPeriod: 1572, OnChain: opcert.Recorded(0), Now: t0, Log: IssueLog{Overrides: map[string]string{OverrideIgnoreClock: "true"}}},
		{KESPeriod: 1572, OnChain: opcert.Recorded(0), Now: t0, ForceCounter: &force},
	} {
		res, err := p.Issue(req)
		if err != nil {
			t.Fatal(err)
		}
		res.KES.Wipe()
		certs = append(certs, res.Entry.CertHash)
		c, err := auditlog.ParseCheckpoint(res.Checkpoint)
		if err != nil {
			t.Fatalf("issue checkpoint: %v", err)
		}
		if n := int64(len(kinds(t, v))); c.Size != n {
			t.Errorf("issue checkpoint size %d, want %d (the cert-issued entry)", c.Size, n)
		}
	}
	if _, err := v.RecordBackup(t0, []auditlog.FileHash{HashFile("backup", "vault.age", []byte("x"))}, map[string]string{"target": "stick-2"}); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(kinds(t, v), " ")
	want := "init pool-new audit-binding cert-issued override cert-issued override cert-issued backup-made"
	if got != want {
		t.Errorf("got kinds %q, want %q", got, want)
	}
	es, _ := auditlog.Entries(v.LogDir())
	for _, e := range es[1:] { // init was made by newVault, before Audit was set
		if e.Operator != "alice" || len(e.Witnesses) != 1 || e.Version != "v-test" || len(e.BinarySHA256) != 64 {
			t.Errorf("entry %d: got operator %q witnesses %v version %q binary %q, want alice [bob] v-test and a hash", e.Seq, e.Operator, e.Witnesses, e.Version, e.BinarySHA256)
		}
	}
	if es[6].Detail[OverrideForceCounter] != "0" || es[7].Detail[DetailForced] != "true" || es[7].Detail[DetailRulesChose] != "1" ||
		es[7].Detail[DetailOverrides] != OverrideForceCounter {
		t.Errorf("forced issue: got override %v and cert detail %v, want the forced counter, forced, the rules' choice and the override's name", es[6].Detail, es[7].Detail)
	}
	if es[4].Detail[OverrideIgnoreClock] != "true" || es[5].Detail[DetailOverrides] != OverrideIgnoreClock {
		t.Errorf("ignored clock: got override %v and cert detail %v, want ignore_clock in both", es[4].Detail, es[5].Detail)
	}

	// Forcing 0 after 1 breaks the counter rule: recorded, and reported.
	r, err := auditlog.Verify(v.LogDir(), auditlog.VerifyOptions{PoolVKeys: coldVKeys(t, p)})
	var ae *auditlog.Error
	if !errors.As(err, &ae) || !errors.Is(err, auditlog.ErrSemantics) || ae.Seq != 7 {
		t.Fatalf("verify: got %v, want a rule violation at entry 7", err)
	}
	if len(r.Certs) != 3 {
		t.Errorf("got %d certs in the report, want 3", len(r.Certs))
	}
	for i, c := range r.Certs {
		if c.CertHash != certs[i] {
			t.Errorf("cert %d: got hash %s, want the journal's %s", i, c.CertHash, certs[i])
		}
	}
}

func TestLogVerifiesAndHoldsNoSecret(t *testing.T) {
	v := newVault(t)
	a, err := v.NewPool("alpha", t0)
	if err != nil {
		t.Fatal(err)
	}
	// An imported pool whose counter says certs 0..4 exist: the next is 5.
	b, err := v.ImportPool("gd", ImportOptions{
		ColdSkey: vectors.Read(t, "cardano-cli/node-cold.skey"),
		Counter:  bytes.Replace(vectors.Read(t, "cardano-cli/genesis_delegate_keys.operational_certificate_counter"), []byte("820058"), []byte("820558"), 1),
	}, t0)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		p  *Pool
		on opcert.OnChain
	}{{a, opcert.None()}, {a, opcert.Recorded(0)}, {b, opcert.Recorded(4)}} {
		res, err := step.p.Issue(IssueRequest{KESPeriod: 1571, OnChain: step.on, Now: t0})
		if err != nil {
			t.Fatal(err)
		}
		res.KES.Wipe()
	}
	r, err := auditlog.Verify(v.LogDir(), auditlog.VerifyOptions{PoolVKeys: coldVKeys(t, a, b), VaultID: v.Meta.ID})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if len(r.Certs) != 3 || len(r.Pools) != 2 || !r.Pools[0].Checked || !r.Pools[1].Checked || r.Certs[2].Counter != 5 {
		t.Errorf("got report %+v, want 3 certs (the last #5) and two checked pools", r)
	}
	if got := strings.Join(kinds(t, v), " "); !strings.Contains(got, "pool-import audit-binding") {
		t.Errorf("got kinds %q, want an import and its binding", got)
	}
	skey := mustRead(t, filepath.Join(a.Dir, coldSkeyFile))
	audit := mustRead(t, auditKeyPath(v.Dir))
	if len(skey) == 0 || len(audit) == 0 {
		t.Fatal("secret files missing")
	}
	_, cbor, _ := strings.Cut(string(skey), `"cborHex": "`)
	cbor, _, _ = strings.Cut(cbor, `"`)
	filepath.WalkDir(v.LogDir(), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data := mustRead(t, p)
		if bytes.Contains(data, []byte(cbor[4:])) || bytes.Contains(data, bytes.TrimSpace(audit)) || bytes.Contains(data, []byte("PRIVATE+KEY")) {
			t.Errorf("%s holds secret key material", p)
		}
		return nil
	})
	if fi, err := os.Stat(auditKeyPath(v.Dir)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("audit key: got %v %v, want mode 0600", fi, err)
	}
}

func TestCrashBeforeTheLogIsRecovered(t *testing.T) {
	v := newVault(t)
	p, err := v.NewPool("alpha", t0)
	if err != nil {
		t.Fatal(err)
	}
	crash := errors.New("crash")
	v.crash = func(s string) error {
		if s == "after-journal" {
			return crash
		}
		return nil
	}
	_, err = p.Issue(IssueRequest{KESPeriod: 1571, OnChain: opcert.None(), Now: t0})
	v.crash = nil
	if !errors.Is(err, crash) {
		t.Fatalf("got %v, want the crash", err)
	}
	es, _ := auditlog.Entries(v.LogDir())
	gaps, err := v.LogGaps(es)
	if err != nil || len(gaps) != 1 || gaps[0].Kind != "cert" || gaps[0].Cert.Counter != 0 {
		t.Fatalf("got gaps %v, %v, want the journaled cert #0", gaps, err)
	}
	if !strings.Contains(gaps[0].String(), "in the journal but not in the log") {
		t.Errorf("got %q", gaps[0])
	}
	// The log alone is whole (a crash is not tampering).
	if _, err := auditlog.Verify(v.LogDir(), auditlog.VerifyOptions{}); err != nil {
		t.Fatalf("verify after the crash: %v", err)
	}
	// The next command records the cert, flagged, then does its own work.
	v2, err := Open(v.Dir)
	if err != nil {
		t.Fatal(err)
	}
	p2, _ := v2.Pool("alpha")
	res, err := p2.Issue(IssueRequest{KESPeriod: 1571, OnChain: opcert.None(), Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	res.KES.Wipe()
	es, _ = auditlog.Entries(v.LogDir())
	if got := strings.Join(kinds(t, v2), " "); got != "init pool-new audit-binding cert-issued cert-issued" {
		t.Errorf("got kinds %q", got)
	}
	if es[3].Detail[DetailRecovered] != "cert" || es[3].Detail[DetailIssuedAt] == "" || es[4].Detail[DetailRecovered] != "" {
		t.Errorf("got details %v and %v, want only the first flagged recovered", es[3].Detail, es[4].Detail)
	}
	if gaps, _ := v2.LogGaps(es); len(gaps) != 0 {
		t.Errorf("got gaps %v after recovery, want none", gaps)
	}
	if _, err := auditlog.Verify(v.LogDir(), auditlog.VerifyOptions{PoolVKeys: coldVKeys(t, p2)}); err != nil {
		t.Errorf("verify after recovery: %v", err)
	}
}

func TestPoolWithoutLogEntriesIsFound(t *testing.T) {
	v := newVault(t)
	if _, err := v.NewPool("alpha", t0); err != nil {
		t.Fatal(err)
	}
	if _, err := v.NewPool("beta", t0); err != nil {
		t.Fatal(err)
	}
	// The log as it was before beta's entries: beta and its binding are
	// gaps, which OpenLog would record (TestCrashBeforeTheLogIsRecovered
	// shows the recording for a cert).
	es, _ := auditlog.Entries(v.LogDir())
	gaps, err := v.LogGaps(es[:3])
	if err != nil {
		t.Fatal(err)
	}
	if len(gaps) != 2 || gaps[0].Kind != "pool" || gaps[1].Kind != "binding" || gaps[0].Pool != "beta" {
		t.Errorf("got gaps %v, want beta's pool and binding", gaps)
	}
	if gaps, _ := v.LogGaps(es); len(gaps) != 0 {
		t.Errorf("got gaps %v for the whole log, want none", gaps)
	}
}

func TestNoLogRefusesActions(t *testing.T) {
	v := newVault(t)
	if err := os.RemoveAll(v.LogDir()); err != nil {
		t.Fatal(err)
	}
	if _, err := v.NewPool("alpha", t0); !errors.Is(err, ErrNoLog) {
		t.Errorf("got %v, want ErrNoLog", err)
	}
	if _, err := os.Stat(v.poolDir("alpha")); err == nil {
		t.Error("the pool was created without a log")
	}
}

func TestUnsealedLogRefusesUntilSealed(t *testing.T) {
	v := newVault(t)
	p, err := v.NewPool("alpha", t0)
	if err != nil {
		t.Fatal(err)
	}
	// An append that died after its line, before its checkpoints.
	e, err := v.Audit.entry(auditlog.KindBackupMade, t0)
	if err != nil {
		t.Fatal(err)
	}
	e.Seq = 3
	line := `{"seq":3,"kind":"backup-made","time":"2026-11-21T06:00:00Z","binary_sha256":"` + e.BinarySHA256 + `","version":"unknown"}` + "\n"
	f, err := os.OpenFile(filepath.Join(v.LogDir(), auditlog.FileEntries), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(line)
	f.Close()
	if _, err := p.Issue(IssueRequest{KESPeriod: 1571, OnChain: opcert.None(), Now: t0}); !errors.Is(err, auditlog.ErrUnsealed) {
		t.Fatalf("got %v, want ErrUnsealed", err)
	}
	if js, _ := p.Journal(); len(Issued(js)) != 0 {
		t.Fatal("a cert was issued while the log could not record it")
	}
	c, err := v.SealLog()
	if err != nil || c.Size != 4 {
		t.Fatalf("seal: got size %d, %v, want 4", c.Size, err)
	}
	res, err := p.Issue(IssueRequest{KESPeriod: 1571, OnChain: opcert.None(), Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	res.KES.Wipe()
}

func TestAuditRedactsNothingSecretAndRecordValidates(t *testing.T) {
	v := newVault(t)
	_, _, err := v.Record(auditlog.Entry{Kind: auditlog.KindBackupMade, Time: t0, Detail: map[string]string{"note": "AGE-SECRET-KEY-1XYZ"}})
	if !errors.Is(err, auditlog.ErrInvalidEntry) {
		t.Errorf("got %v, want ErrInvalidEntry for key-like text", err)
	}
	if _, err := v.RecordKeysDestroyed(t0, "", nil, map[string]string{"how": "shred"}); err != nil {
		t.Errorf("keys destroyed: %v", err)
	}
	if got := strings.Join(kinds(t, v), " "); got != "init keys-destroyed" {
		t.Errorf("got kinds %q, want init keys-destroyed", got)
	}
}

// A counter forced past a refusal of the rules is logged as such: the
// rules chose nothing, and the log says why they refused (issue 15: it
// used to record "0", a number they never chose).
func TestForcedPastARefusalIsLoggedAsARefusal(t *testing.T) {
	v := newVault(t)
	p, err := v.NewPool("alpha", t0)
	if err != nil {
		t.Fatal(err)
	}
	// The chain is ahead of every cert this vault issued: the rules refuse.
	req := IssueRequest{KESPeriod: 1571, OnChain: opcert.Recorded(5), Now: t0}
	if _, err := p.Issue(req); err == nil {
		t.Fatal("the rules did not refuse an on-chain counter ahead of the vault")
	}
	force := uint64(6)
	req.ForceCounter = &force
	res, err := p.Issue(req)
	if err != nil {
		t.Fatal(err)
	}
	res.KES.Wipe()
	if res.RulesRefused == nil || res.Cert.Counter != 6 {
		t.Fatalf("forced issue: refusal %v, counter %d", res.RulesRefused, res.Cert.Counter)
	}
	es, err := auditlog.Entries(v.LogDir())
	if err != nil {
		t.Fatal(err)
	}
	last := es[len(es)-1]
	if last.Kind != auditlog.KindCertIssued || last.Detail[DetailRulesChose] != "refused" ||
		!strings.Contains(last.Detail[DetailRulesRefusal], "ahead") {
		t.Errorf("cert entry detail %v, want rules_chose=refused and the reason", last.Detail)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPoolAddedNotLogged: a pool whose log entries fail after its folder,
// keys and journal are written is in the vault, and the error says so
// (ErrPoolNotLogged, naming it): a caller that read any other error as
// "nothing was added" would tell the operator a new cold key does not
// exist. The next command that opens the log records the pool.
func TestPoolAddedNotLogged(t *testing.T) {
	for _, c := range []struct {
		name string
		// step runs between the pool's files and its log entries.
		step func(v *Vault) (restore func(), err error)
	}{
		{"crash", func(*Vault) (func(), error) { return func() {}, errors.New("crash") }},
		// A log whose entries file cannot be opened: the append itself fails.
		{"log append fails", func(v *Vault) (func(), error) {
			path := filepath.Join(v.LogDir(), auditlog.FileEntries)
			if err := os.Rename(path, path+".away"); err != nil {
				return nil, err
			}
			if err := os.Mkdir(path, 0o700); err != nil {
				return nil, err
			}
			return func() {
				if err := os.Remove(path); err != nil {
					t.Fatal(err)
				}
				if err := os.Rename(path+".away", path); err != nil {
					t.Fatal(err)
				}
			}, nil
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := newVault(t)
			restore := func() {}
			v.crash = func(s string) error {
				if s != "pool-before-log" {
					return nil
				}
				r, err := c.step(v)
				if r != nil {
					restore = r
				}
				return err
			}
			p, err := v.NewPool("alpha", t0)
			v.crash = nil
			restore()
			var pe *PoolNotLoggedError
			if !errors.Is(err, ErrPoolNotLogged) || !errors.As(err, &pe) || pe.Pool != "alpha" {
				t.Fatalf("got %v, want a *PoolNotLoggedError naming alpha", err)
			}
			if p == nil || p.Meta.Name != "alpha" {
				t.Fatalf("got pool %v, want alpha with the error", p)
			}
			if _, err := v.Pool("alpha"); err != nil {
				t.Fatalf("the pool is not in the vault: %v", err)
			}
			if gaps := mustGaps(t, v); len(gaps) == 0 {
				t.Fatal("got no gaps, want the unlogged pool")
			}
			if _, _, err := v.OpenLog(t0); err != nil {
				t.Fatal(err)
			}
			if gaps := mustGaps(t, v); len(gaps) != 0 {
				t.Errorf("gaps after the next command: %v", gaps)
			}
		})
	}
	// Refused before the pool's folder: nothing was added, and the error
	// is not ErrPoolNotLogged.
	v := newVault(t)
	if _, err := v.NewPool("alpha", t0); err != nil {
		t.Fatal(err)
	}
	if _, err := v.NewPool("alpha", t0); !errors.Is(err, ErrPoolExists) || errors.Is(err, ErrPoolNotLogged) {
		t.Errorf("got %v, want ErrPoolExists alone", err)
	}
}
