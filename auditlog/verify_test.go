package auditlog

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

func TestVerifyGood(t *testing.T) {
	f := standard(t, 1)
	r, err := Verify(f.dir, f.opts())
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if r.TreeSize != 8 {
		t.Errorf("got tree size %d, want 8", r.TreeSize)
	}
	c := f.log.Checkpoint()
	if r.Root != base64.StdEncoding.EncodeToString(c.Root[:]) || c.Size != 8 {
		t.Errorf("got root %s size %d, want the log's latest checkpoint", r.Root, c.Size)
	}
	if len(r.Checkpoints) != 9 {
		t.Errorf("got %d checkpoints checked, want 9", len(r.Checkpoints))
	}
	if len(r.Certs) != 2 || r.Certs[0].Counter != 0 || r.Certs[1].Counter != 1 ||
		r.Certs[1].KESPeriod != 130 || r.Certs[1].CertHash != certHash("c1") || r.Certs[1].Seq != 6 {
		t.Errorf("got certs %+v, want counters 0 and 1", r.Certs)
	}
	if len(r.Pools) != 1 || r.Pools[0].Pool != f.pool || !r.Pools[0].Checked || r.Pools[0].BindingSeq != 2 {
		t.Errorf("got pools %+v, want %s checked", r.Pools, f.pool)
	}
	if r.VaultID != f.vaultID || r.Origin != "kesrotate.vault/"+f.vaultID || r.AuditKey != f.vkey {
		t.Errorf("got vault %s origin %s, want %s", r.VaultID, r.Origin, f.vaultID)
	}
	// Reopen and continue: the log stays verifiable.
	l, err := Open(f.dir, f.key)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if l.Size() != 8 || l.VaultID() != f.vaultID || l.AuditKey() != f.vkey {
		t.Fatalf("got size %d, want 8", l.Size())
	}
	if _, _, err := l.Append(cert(f.pool, 2, U64(1), 160, "c2")); err != nil {
		t.Fatal(err)
	}
	if r, err := Verify(f.dir, f.opts()); err != nil || len(r.Certs) != 3 {
		t.Fatalf("got %v, %d certs; want 3 certs", err, len(r.Certs))
	}
}

// Verify reports its progress per stage, ending each at its total.
func TestVerifyProgress(t *testing.T) {
	f := standard(t, 1)
	last := map[string][2]int{}
	opts := f.opts()
	opts.Progress = func(stage string, done, total int) { last[stage] = [2]int{done, total} }
	if _, err := Verify(f.dir, opts); err != nil {
		t.Fatal(err)
	}
	for _, stage := range []string{"checkpoint signatures", "entries", "checkpoints against the tree"} {
		got, ok := last[stage]
		if !ok || got[0] != got[1] || got[1] < 8 {
			t.Errorf("stage %q: last report %v, %v", stage, got, ok)
		}
	}
}

// A report prints its lists as lists, empty or not, also when Verify
// stopped early: a reader of 'ceremony verify --json' never meets null.
func TestReportListsAreNeverNull(t *testing.T) {
	f := standard(t, 1)
	good, err := Verify(f.dir, f.opts())
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	failed, err := Verify(t.TempDir(), VerifyOptions{})
	if err == nil {
		t.Fatal("Verify of an empty folder passed")
	}
	for name, r := range map[string]*Report{"verified": good, "failed": failed} {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "null") {
			t.Errorf("%s report: got %s, want no null", name, b)
		}
	}
}
